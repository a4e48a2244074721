/*  zmr_result: the sink's result writer (the lines of a job, the part
    files, the receipt). Functions of no state; each says why it failed in
    one line, except where an exit code says the failure was quiet. */
#ifndef ZMR_RESULT_H
#define ZMR_RESULT_H
#include "zmr_sink.h"
#include <stdio.h>

//  The exact sum of a result's values, for the receipt: up to 2^32 keys of
//  signed 64-bit values need 96 bits.
typedef __int128 zmr_result_sum_t;

//  What the receipt says of the job.
typedef struct {
    uint64_t id;             //  The job id
    int kind;                //  zmr_job_kind_t
    int reduce;              //  zmr_reduce_t
    const char *label;       //  For people: "words", the command, the plugin
    uint64_t pair_count;     //  Pairs the partitions applied (DONE's)
} zmr_result_job_t;

//  The exit code of a write that failed with error when it is no failure
//  to report (141: the reader of a pipe left; 128 + the signal: SIGINT or
//  SIGTERM interrupted it), else 0.
int
    zmr_result_quiet_code (int error);

//  Drops what standard output still buffers, so that exit does not try to
//  write it into a pipe nobody reads.
void
    zmr_result_drop_stdout (void);

//  The exit code of a write that failed with errno: quiet, or 1.
int
    zmr_result_write_failed (void);

//  Writes count entries in result order to out, each a line 'key<TAB>value'
//  (the value signed, in decimal): entries[0 ..), or with order the entries
//  it points at. Adds their digest (the receipt's: the sum modulo 2^64 of
//  the first 8 bytes of each line's SHA-256) to *digest if not NULL.
//  Returns 0, or -1 on a write error (errno).
int
    zmr_result_write_entries (FILE *out, const zmr_entry_t *entries,
                              const zmr_entry_t *const *order, size_t count,
                              uint64_t *digest);

//  Opens a temporary name beside path (named by option in messages), or
//  path itself when it is a device or a pipe (temp ""); target gets the
//  file written (a symbolic link's target). Returns NULL after saying why.
FILE *
    zmr_result_temp_open (const char *option, const char *path, char *target, char *temp,
                          size_t size);

//  Flushes (with sync, fsyncs), closes out and renames temp to path; rc -1
//  says the writing failed already. Returns 0, or -1 with errno set.
int
    zmr_result_temp_commit (FILE *out, const char *temp, const char *path, int rc,
                            const char *option, bool sync);

//  Writes entries to path (named by option), whole or not at all.
int
    zmr_result_write_file (const char *option, const char *path, const zmr_entry_t *entries,
                           const zmr_entry_t *const *order, size_t count, uint64_t *digest);

//  Writes the result of the reducers partitions where config asks (and the
//  part files, then their _SUCCESS), its digest into *digest when a
//  receipt is asked for, the sum of its values modulo 2^64 (the word
//  count's words) and exactly, and its distinct keys. Returns the exit
//  code: 0 written, 1 failed (said why), 141 standard output closed.
int
    zmr_result_write (const zmr_sink_config_t *config, zmr_counts_t *const *partitions,
                      uint32_t reducers, uint64_t *digest, uint64_t *words,
                      uint64_t *distinct, zmr_result_sum_t *sum);

//  Writes the receipt (JSON) of job to path, whole or not at all: f is the
//  job's state at FINISH, sum the exact sum of the result's values.
//  Returns 0, or -1 (said why).
int
    zmr_result_write_receipt (const char *path, const zmr_result_job_t *job,
                              const zmr_status_t *f, const zmr_result_sum_t *sum,
                              uint64_t distinct, uint64_t digest);

#endif
