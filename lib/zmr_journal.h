/*  zmr_journal: the ventilator's ledger on disk, so that a ventilator
    killed mid-job and started again with the same journal resumes: it knows
    the job id, where every chunk issued was cut, and which chunks every
    reducer has already applied; only the rest is issued again. A header
    record names the job and its input; then one record per chunk cut and
    one per chunk completed. */
#ifndef ZMR_JOURNAL_H
#define ZMR_JOURNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _zmr_journal_t zmr_journal_t;

typedef struct {
    uint64_t job;            //  Job id (0 in a request: take the journal's)
    uint32_t reducers;       //  R
    uint64_t chunk_size;     //  Chunks are cut the same way on resume
    uint64_t input_bytes;    //  Sum of the input sizes
    uint32_t inputs;         //  Number of inputs
} zmr_journal_header_t;

typedef struct {
    uint32_t input;          //  Index of the input
    uint64_t offset;         //  Where the chunk starts in it
    uint64_t len;            //  Its length in bytes
} zmr_journal_cut_t;

//  Opens the journal at path. A new or empty journal gets header; an
//  existing one must match header (job, when given, R, chunk size, inputs)
//  and its completed chunks are loaded; header->job is set to the journal's
//  job (a new journal takes header->job, or a random one if it is 0).
//  Returns NULL with a one-line reason in errbuf otherwise.
zmr_journal_t *
    zmr_journal_open (const char *path, zmr_journal_header_t *header,
                      char *errbuf, size_t errlen);

//  Closes the journal; accepts NULL.
void
    zmr_journal_destroy (zmr_journal_t **self_p);

//  Records that chunk is complete with words words counted and too_long
//  left out (over --max-word). Returns 0 or -1.
int
    zmr_journal_done (zmr_journal_t *self, uint64_t chunk, uint64_t words, uint32_t too_long);

//  Records where chunk was cut, before it goes out. Returns 0 or -1.
int
    zmr_journal_cut (zmr_journal_t *self, uint64_t chunk, const zmr_journal_cut_t *cut);

//  The cuts found at open, chunk i at [i]; *ncuts gets their number.
const zmr_journal_cut_t *
    zmr_journal_cuts (zmr_journal_t *self, size_t *ncuts);

//  Whether the journal held a job at open (this is a restart).
bool
    zmr_journal_resumed (zmr_journal_t *self);

//  Whether chunk was complete before; sets *words and *too_long then.
bool
    zmr_journal_was_done (zmr_journal_t *self, uint64_t chunk, uint64_t *words,
                          uint32_t *too_long);

//  Completed chunks loaded at open.
size_t
    zmr_journal_loaded (zmr_journal_t *self);

//  fsyncs the journal. Returns 0 or -1.
int
    zmr_journal_sync (zmr_journal_t *self);

//  Deletes the journal file (the job is over) and closes it.
void
    zmr_journal_remove (zmr_journal_t **self_p);

#endif
