/*  zmr_journal: the ventilator's ledger on disk, so that a ventilator
    killed mid-job and started again with the same journal resumes: it knows
    the job id, where every chunk issued was cut, and which chunks every
    reducer has already applied; only the rest is issued again. A header
    record names the job and its input; then one record per chunk cut and
    one per chunk completed (and one per window written and per chunk
    quarantined). A stream would grow it for ever: from time to
    time it is written anew, the prefix of chunks complete summed up in one
    record, beside it and renamed over it. */
#ifndef ZMR_JOURNAL_H
#define ZMR_JOURNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "zmr_job.h"

typedef struct _zmr_journal_t zmr_journal_t;

typedef struct {
    uint64_t job;            //  Job id (0 in a request: take the journal's)
    uint32_t reducers;       //  R
    uint64_t chunk_size;     //  Chunks are cut the same way on resume
    uint64_t input_bytes;    //  Sum of the input sizes
    uint32_t inputs;         //  Number of inputs
    uint32_t job_kind;       //  The job run (zmr_job.h): a journal is
    uint32_t reduce;         //  resumed only by the same definition
    char digest[ZMR_DIGEST_HEX];
    char label[ZMR_JOB_LABEL_MAX];  //  For the refusal's message
    uint32_t event_format;   //  Event time (zmr_evtime.h; 0: ingest time,
    uint64_t window_ms;      //  the rest 0): the format, W, E and the
    uint64_t every_ms;       //  lateness. A journal is resumed only with
    uint64_t lateness_ms;    //  the same (a version 2 journal: ingest time)
} zmr_journal_header_t;

typedef struct {
    uint32_t input;          //  Index of the input
    uint64_t offset;         //  Where the chunk starts in it
    uint64_t len;            //  Its length in bytes
} zmr_journal_cut_t;

//  What a journal written anew says of the chunks before its first cut.
typedef struct {
    uint64_t chunks;         //  Chunks 0 .. chunks - 1 are all complete
    uint64_t words;          //  Their words
    uint64_t too_long;       //  Their words over --max-word, left out
    uint64_t bytes;          //  Their bytes
    uint32_t input;          //  Where chunk `chunks` starts: its input
    uint64_t offset;         //  ... and the offset in it
    uint64_t pairs;          //  Pairs in their batches
    //  Event time: what the chunks summed up leave to the rest
    uint64_t event_max;      //  The largest time in them (M before chunk
                             //  `chunks`; ZMR_EVTIME_UNKNOWN: none)
    uint64_t late;           //  Their late lines
    uint64_t untimed;        //  ... and lines without a time
    const uint64_t *panes;   //  Panes with a line on time not closed yet,
    size_t npanes;           //  ascending (read: owned by the journal;
                             //  written: the caller's)
} zmr_journal_summary_t;

//  Opens the journal at path. A new or empty journal gets header; an
//  existing one must match header (job, when given, R, chunk size, inputs,
//  the job's kind, digest and reduce, and its event time) and be of this
//  format's version (3, event time) or of version 2 (read as ingest time;
//  one before jobs is refused, saying so), and its completed chunks are
//  loaded; header->job is set to the journal's
//  job (a new journal takes header->job, or a random one if it is 0).
//  Returns NULL with a one-line reason in errbuf otherwise.
zmr_journal_t *
    zmr_journal_open (const char *path, zmr_journal_header_t *header,
                      char *errbuf, size_t errlen);

//  Closes the journal; accepts NULL.
void
    zmr_journal_destroy (zmr_journal_t **self_p);

//  Records that chunk is complete with words words counted and too_long
//  left out (over --max-word), and pairs pairs in its batches. Returns 0
//  or -1.
int
    zmr_journal_done (zmr_journal_t *self, uint64_t chunk, uint64_t words,
                      uint32_t too_long, uint64_t pairs);

//  Records where chunk was cut, before it goes out. Returns 0 or -1.
int
    zmr_journal_cut (zmr_journal_t *self, uint64_t chunk, const zmr_journal_cut_t *cut);

//  zmr_journal_cut, with the chunk's stamp (when its text came in, ms since
//  the epoch; it names the chunk's window): a chunk cut again after a
//  restart keeps it. Returns 0 or -1.
int
    zmr_journal_cut_stamped (zmr_journal_t *self, uint64_t chunk,
                             const zmr_journal_cut_t *cut, uint64_t stamp);

//  The stamps of the cuts found at open, as zmr_journal_cuts (0: a cut
//  recorded without one, by zmr_journal_cut or a zmr from before).
const uint64_t *
    zmr_journal_stamps (zmr_journal_t *self);

//  Records that chunk was quarantined (a ventilator started again lists it
//  and does not try it again). Returns 0 or -1.
int
    zmr_journal_quarantined (zmr_journal_t *self, uint64_t chunk);

//  Whether chunk was quarantined, found at open or recorded since.
bool
    zmr_journal_was_quarantined (zmr_journal_t *self, uint64_t chunk);

//  Records that the sink wrote the window starting at window (ms since the
//  epoch), the closed-th window written: windows close in order, so the
//  last such record says which are written. window ZMR_WINDOW_END (event
//  time: the side records left at the end) is the last. Returns 0 or -1.
int
    zmr_journal_window_stored (zmr_journal_t *self, uint64_t window, uint64_t closed);

//  The start of the last window written, found at open or recorded since,
//  + 1 (0: none); *closed (may be NULL) gets how many were written.
uint64_t
    zmr_journal_windows_stored (zmr_journal_t *self, uint64_t *closed);

//  Whether the window ZMR_WINDOW_END was written (found at open or recorded
//  since).
bool
    zmr_journal_end_stored (zmr_journal_t *self);

//  The cuts found at open, chunk summary.chunks + i at [i]; *ncuts gets
//  their number.
const zmr_journal_cut_t *
    zmr_journal_cuts (zmr_journal_t *self, size_t *ncuts);

//  The summary found at open (all zero, chunks 0, when there was none).
const zmr_journal_summary_t *
    zmr_journal_summary (zmr_journal_t *self);

//  Records appended since the journal was opened or last written anew.
uint64_t
    zmr_journal_records (zmr_journal_t *self);

//  Starts writing the journal anew beside it: the header, then summary (and
//  the last window written, if any); the
//  cut and done records that follow go to the new file, chunk summary->
//  chunks on, until zmr_journal_rewrite_end. Returns 0, or -1 (errno) with
//  the journal as it was (EOVERFLOW: more panes than a reader takes, 2^24).
int
    zmr_journal_rewrite_begin (zmr_journal_t *self, const zmr_journal_summary_t *summary);

//  With ok, puts the new journal in place of the old (fsync, rename, fsync
//  of the directory) and returns 0; records go on being appended to it.
//  Without ok, or when that fails (-1, errno), the new file is removed and
//  the old journal, whole, goes on.
int
    zmr_journal_rewrite_end (zmr_journal_t *self, bool ok);

//  Whether the journal held a job at open (this is a restart).
bool
    zmr_journal_resumed (zmr_journal_t *self);

//  Whether chunk was complete before; sets *words, *too_long and *pairs
//  (may be NULL) then.
bool
    zmr_journal_was_done (zmr_journal_t *self, uint64_t chunk, uint64_t *words,
                          uint32_t *too_long, uint64_t *pairs);

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
