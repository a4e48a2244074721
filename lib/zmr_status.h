/*  zmr_status: the job's state as the ventilator publishes it (STATUS of
    docs/protocol.md) and as monitors read it: one struct, its encoder, its
    bounded decoder and its JSON form, all driven by one table of fields. */
#ifndef ZMR_STATUS_H
#define ZMR_STATUS_H
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "zmr_msg.h"

#define ZMR_STATUS_MAX_WORKERS 4096   //  Workers listed in one status

typedef struct {
    uint64_t id;             //  The ventilator's number for this worker
    char role[16];           //  "mapper", "reducer", "sink"
    char name[ZMR_NAME_MAX]; //  host:pid as the worker gave it
    char state[16];          //  "alive", "dead", "left", "refused" (a
                             //  mapper that will not run this job)
    uint64_t partition;      //  Reducers: the partition served
    uint64_t chunks;         //  Chunks mapped / batches applied / parts stored
    uint64_t words;          //  Words handled
    uint64_t bytes;          //  Bytes mapped
    uint64_t duplicates;     //  Duplicate batches dropped
    uint64_t malformed;      //  Frames dropped
    uint64_t distinct;       //  Distinct words held
    uint64_t last_seen_ms;   //  Milliseconds since last heard from
} zmr_worker_status_t;

#define ZMR_STATUS_MAX_QUARANTINE 1024  //  Quarantined chunks listed

typedef struct {
    char file[256];          //  Input the chunk came from
    uint64_t offset;         //  Its offset in that input
    uint64_t length;         //  Its length
} zmr_quarantine_t;

#define ZMR_TOP_WORD 64     //  Bytes kept of a top word, with its NUL

typedef struct {
    char word[ZMR_TOP_WORD]; //  The key, cut to fit (at a UTF-8 boundary)
    int64_t count;           //  Its running value (signed: a job's values
                             //  may be negative)
} zmr_top_t;

typedef struct {
    uint64_t job;            //  Job id
    uint64_t seq;            //  Publication number
    char phase[16];          //  waiting, mapping, flushing, done, failed
    char reason[ZMR_REASON_MAX];  //  Failure, or what the job waits for
    uint64_t reducers;       //  R
    uint64_t elapsed_ms;     //  Since the ventilator started
    uint64_t input_bytes;    //  Input size when known, else 0
    bool input_known;        //  input_bytes is the whole input
    bool input_eof;          //  All input has been read
    uint64_t bytes_read;     //  Bytes cut into chunks
    uint64_t bytes_done;     //  Bytes in completed chunks
    uint64_t chunks_read;    //  Chunks cut
    uint64_t chunks_issued;  //  Issues, re-issues included
    uint64_t chunks_done;    //  Chunks applied at every reducer
    uint64_t chunks_reissued;    //  Re-issues
    uint64_t in_flight;      //  Issued, not done
    uint64_t words;          //  Words in completed chunks
    uint64_t words_too_long; //  ... and words over --max-word, left out
    uint64_t bytes_per_s;    //  Rate over the last second
    uint64_t words_per_s;    //  Rate over the last second
    uint64_t mappers_alive;  //  Mappers heard from recently
    uint64_t malformed;      //  Frames dropped by the ventilator
    uint64_t duplicates;     //  Duplicate batches dropped by reducers
    uint64_t chunks_quarantined; //  Chunks that kept killing mappers
    uint64_t inputs;         //  Input files (stdin counts as one)
    bool backpressured;      //  Input waits: the pipeline is full
    uint64_t backpressure_ms;//  Time it has waited so far (sampled at each
                             //  status: the spans that began backpressured)
    uint64_t latency_p50_ms; //  Running totals: from text in to count
    uint64_t latency_p99_ms; //  visible at the sink, over the last minute
    uint64_t latency_samples;//  Chunks those are over
    uint64_t window_ms;      //  Tumbling window length (0: none)
    uint64_t windows_closed; //  Windows written by the sink
    uint64_t last_window_start_ms; //  The last one's start (ms since the epoch)
    uint64_t last_window_words;    //  and its words
    uint64_t mappers_refused;      //  Mappers that refused the job (REFUSE)
    uint64_t late_records;   //  Event time: lines later than the watermark
    uint64_t untimed_records;//  ... and lines without a time (both: late.tsv)
    char event_time[16];     //  Event time: the format's name ("": ingest
                             //  time; then absent from the map)
    bool has_watermark;      //  watermark_ms is known (absent otherwise)
    uint64_t watermark_ms;   //  Event time: the largest time cut - lateness
    char job_label[ZMR_JOB_LABEL_MAX];  //  The job ("job" in STATUS): "words",
                                        //  the command, the plugin's name
    char job_kind[16];             //  "words", "command", "plugin"
    char reduce[8];                //  "sum", "min", "max"
    uint32_t ntop;           //  Entries in top
    zmr_top_t top[ZMR_TOP_MAX];   //  Most frequent words so far (--live-ms)
    uint32_t nquarantine;    //  Entries in quarantine
    zmr_quarantine_t *quarantine; //  Owned array (malloc), or NULL
    uint32_t nworkers;       //  Entries in workers
    zmr_worker_status_t *workers; //  Owned array (malloc), or NULL
} zmr_status_t;

//  Packs status as one STATUS message.
void
    zmr_status_pack (msgpack_packer *pk, const zmr_status_t *status);

//  Packs FINISH: the job is over (ok: done), why not if not, and its
//  final state (for the sink's receipt).
void
    zmr_status_pack_finish (msgpack_packer *pk, const zmr_status_t *status,
                            bool ok, const char *reason);

//  Decodes the state map of a decoded STATUS or FINISH message into *status (which
//  must be zeroed or reset; it then owns its workers array). Unknown keys are
//  skipped. Returns 0, or -1 with a static reason in *why.
int
    zmr_status_decode (zmr_msg_t *msg, zmr_status_t *status, const char **why);

//  Makes *copy (zeroed or reset) a deep copy of status (its own workers and
//  quarantine arrays). Returns 0, or -1 out of memory (*copy then reset).
int
    zmr_status_copy (zmr_status_t *copy, const zmr_status_t *status);

//  Frees the workers and quarantine arrays and zeroes *status.
void
    zmr_status_reset (zmr_status_t *status);

//  Writes the quarantined chunks as a JSON array (for the status and the
//  receipt).
void
    zmr_status_write_quarantine (const zmr_status_t *status, FILE *out);

//  Writes status as one line of JSON (no trailing newline).
void
    zmr_status_write_json (const zmr_status_t *status, FILE *out);

//  Writes a one-line progress bar for status (no newline, no escape codes):
//  percentage, bytes done (of the input's size), a rate (the status's, or
//  when that is 0 the average so far), an ETA when the size is known, the
//  phase, words, a bar, mappers, chunks. With width > 0 the line is exactly
//  width columns: padded with spaces, so it does not jump; on a narrow
//  terminal the pieces go from the end of that list (the bar before the
//  numbers before it). With width <= 0, everything at its natural length
//  (for logs). For the monitor and for zmr run on a terminal.
void
    zmr_status_write_progress (const zmr_status_t *status, FILE *out, int width);

//  Sets top's word to word[0 .. len), cut to fit at a UTF-8 boundary, NUL
//  bytes shown as '?'.
void
    zmr_status_set_word (zmr_top_t *top, const char *word, size_t len);

//  Formats value with a k, M, G or T suffix into buf; returns buf.
const char *
    zmr_human (uint64_t value, char *buf, size_t size);

#endif
