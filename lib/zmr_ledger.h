/*  zmr_ledger: the chunk ledger, the heart of "nothing lost, nothing
    doubled" (docs/design.md, property 3; docs/protocol.md, "Exactly once").

    One entry per chunk from the moment it is cut until all R reducers have
    ACKed it. An entry moves QUEUED -> ISSUED (pushed) -> TAKEN (a mapper
    said TAKE) -> MAPPED (the mapper sent its batches) -> DONE (R ACKs).
    Anything short of DONE goes back to QUEUED, attempt + 1, when the
    evidence says it may be lost: its holder died or left, it sat ISSUED
    (while a mapper was idle) or MAPPED too long: dead_ms for its first
    issue, 2 x dead_ms for its second, 4 x from its third. A re-issue can only
    cost duplicate work, which the reducers drop; it can never lose or double
    a count. A chunk's words count once, from its first MAPPED, when it is
    DONE, and so do the pairs its batches hold (the end-of-job check of
    every job: the sink's DONE says how many pairs the reducers applied);
    a chunk that killed poison_limit mappers, or failed in their hands
    (FAILED), is quarantined.

    The ledger knows no socket, file or clock: the ventilator passes the
    time in, asks it what to issue, tells it what it heard, and does the
    sending and the journaling itself. */
#ifndef ZMR_LEDGER_H
#define ZMR_LEDGER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "zmr_evtime.h"
#include "zmr_journal.h"
#include "zmr_status.h"

typedef struct _zmr_ledger_t zmr_ledger_t;

typedef enum {
    ZMR_LEDGER_QUEUED,          //  In line to be issued
    ZMR_LEDGER_ISSUED,          //  Pushed to the mappers, not taken yet
    ZMR_LEDGER_TAKEN,           //  A mapper said TAKE: it maps it
    ZMR_LEDGER_MAPPED,          //  Its mapper sent its batches (MAPPED)
    ZMR_LEDGER_DONE             //  Every reducer ACKed it (or quarantined)
} zmr_ledger_state_t;

//  One chunk's entry. Read-only for callers: the ledger's methods move it.
typedef struct {
    char *data;              //  The chunk's bytes until counted, or NULL
                             //  (by reference) (owned by the ledger)
    size_t len;              //  Length of the chunk
    uint32_t input;          //  Index of its input
    uint64_t offset;         //  Offset in its input
    uint8_t state;           //  zmr_ledger_state_t
    uint32_t attempt;        //  Issues so far, minus one
    int64_t since;           //  When it entered its state
    uint32_t holder;         //  The mapper (caller's number, > 0) holding it, or 0
    uint32_t acks;           //  Partitions that ACKed it
    uint8_t *acked;          //  R flags until DONE (owned)
    uint64_t words;          //  Words in the chunk, from its first MAPPED
    uint32_t too_long;       //  ... and words over --max-word, left out
    uint64_t pairs;          //  Pairs in its batches, from its first MAPPED
    bool has_words;          //  A MAPPED told words (and pairs)
    bool counted;            //  Done and its words added to the total
    uint32_t crashes;        //  Mappers that died holding it, or failed
                             //  mapping it (FAILED)
    uint64_t stamp;          //  When its text came in (ms since the epoch)
    bool recount;            //  Done, words unknown: queued to be mapped again
    bool quarantined;        //  Given up on: DONE without words
    uint64_t event_max;      //  Event time: the largest time before the
                             //  chunk (ZMR_EVTIME_UNKNOWN: none, or
                             //  ingest time), the same on every issue
    uint32_t late;           //  Event time: its late lines
    uint32_t untimed;        //  ... and its lines without a time
} zmr_ledger_entry_t;

//  The ledger's running totals (the job's status shows them).
typedef struct {
    uint64_t chunks_read;        //  Chunks cut
    uint64_t bytes_read;         //  Bytes cut into chunks
    uint64_t chunks_issued;      //  Issues, re-issues included
    uint64_t chunks_reissued;    //  Re-issues
    uint64_t chunks_done;        //  Chunks applied at every reducer
    uint64_t bytes_done;         //  Bytes in those
    uint64_t in_flight;          //  Cut and not done
    uint64_t words;              //  Words in done chunks, each counted once
    uint64_t words_too_long;     //  ... and words over --max-word, left out
    uint64_t pairs;              //  Pairs in done chunks' batches, each
                                 //  chunk counted once: what the sink's
                                 //  DONE must say the reducers applied
    uint64_t chunks_quarantined; //  Chunks that kept killing mappers
} zmr_ledger_counts_t;

//  What an ACK did (flags): the chunk became DONE; its words were added
//  to the total now (the caller journals it as complete).
#define ZMR_LEDGER_DONE_NOW     1
#define ZMR_LEDGER_COUNTED_NOW  2

//  Creates an empty ledger for a job of reducers partitions (1 to
//  ZMR_MAX_REDUCERS): a chunk is re-issued after dead_ms (more for a chunk
//  already re-issued: zmr_ledger_expire) of evidence it may be lost and
//  quarantined after poison_limit mapper deaths. inputs names
//  the inputs for the quarantine list (borrowed: it must outlive the
//  ledger). Returns NULL on out-of-memory.
zmr_ledger_t *
    zmr_ledger_new (uint32_t reducers, uint32_t dead_ms, uint32_t poison_limit,
                    const char *const *inputs);

//  Destroys the ledger and every chunk's bytes; accepts NULL.
void
    zmr_ledger_destroy (zmr_ledger_t **self_p);

//  Starts the ledger after summary->chunks chunks that a journal says are
//  done and counted (they are forgotten: below the base). Only on a new
//  ledger.
void
    zmr_ledger_resume (zmr_ledger_t *self, const zmr_journal_summary_t *summary);

//  Appends the next chunk cut, queued to be issued. Takes ownership of data
//  (NULL for a chunk by reference), also on failure. Its stamp is raised to
//  the previous chunk's if below (windows close in chunk order). Returns its
//  id, or -1 on out-of-memory (ledger unchanged).
int64_t
    zmr_ledger_add (zmr_ledger_t *self, char *data, size_t len, uint32_t input,
                    uint64_t offset, uint64_t stamp);

//  Appends the next chunk cut, which a journal says every reducer applied
//  before a restart, with its words and pairs: DONE and counted, never
//  issued. Returns its id, or -1 on out-of-memory (ledger unchanged).
int64_t
    zmr_ledger_add_done (zmr_ledger_t *self, size_t len, uint32_t input,
                         uint64_t offset, uint64_t stamp, uint64_t words,
                         uint32_t too_long, uint64_t pairs);

//  Appends the next chunk cut, which a journal says was quarantined before
//  a restart: quarantined again at once (listed, never issued). Returns its
//  id, or -1 on out-of-memory.
int64_t
    zmr_ledger_add_quarantined (zmr_ledger_t *self, size_t len, uint32_t input,
                                uint64_t offset, uint64_t stamp);

//  Event time: chunk id (held) was scanned: the largest time before it,
//  and its late and untimed lines (summed into what a journal written anew
//  says of the chunks it sums up).
void
    zmr_ledger_set_event (zmr_ledger_t *self, uint64_t id, uint64_t event_max,
                          uint32_t late, uint32_t untimed);

//  The chunk to issue next, its id in *id, or NULL when none is in line.
//  Entries queued twice and handled meanwhile are dropped from the line.
const zmr_ledger_entry_t *
    zmr_ledger_next (zmr_ledger_t *self, uint64_t *id);

//  The chunk zmr_ledger_next returned went out at now: it leaves the line.
void
    zmr_ledger_issued (zmr_ledger_t *self, uint64_t id, int64_t now);

//  A mapper (holder, > 0) said TAKE for chunk id at now. Ignored for a
//  chunk not held or MAPPED or DONE already.
void
    zmr_ledger_take (zmr_ledger_t *self, uint64_t id, uint32_t holder, int64_t now);

//  A mapper (holder, 0 if unknown) said MAPPED for chunk id with its words
//  and the pairs it sent in its batches. The first MAPPED's are the
//  chunk's; a later one's are ignored (a map is deterministic: a re-issue
//  sends the same pairs, which the reducers drop). Returns -1 for a chunk
//  not held (not cut, or forgotten), 1 if the chunk's words and pairs were
//  added to the totals now (journal it), else 0.
int
    zmr_ledger_mapped (zmr_ledger_t *self, uint64_t id, uint32_t holder,
                       uint64_t words, uint32_t too_long, uint64_t pairs,
                       int64_t now);

//  A mapper (holder, 0 if unknown) said FAILED for chunk id: its map failed
//  there (the command exited non-zero, printed a bad line, hung or died)
//  and no batch of it was sent. Counted like a death of its holder on it:
//  the chunk goes back in line, or is quarantined at poison_limit. why is
//  for the log. Returns 1 if the chunk was in a mapper's hands (issued or
//  taken: this attempt failed), 0 if the FAILED is stale (the chunk is
//  mapped, done or in line again already), -1 on out-of-memory.
int
    zmr_ledger_map_failed (zmr_ledger_t *self, uint64_t id, uint32_t holder,
                           const char *why);

//  Reducer partition (< R) ACKed chunk id at now. A duplicate ACK, or one
//  for a chunk not held or DONE, does nothing. Returns ZMR_LEDGER_DONE_NOW
//  and ZMR_LEDGER_COUNTED_NOW flags, 0 if neither.
int
    zmr_ledger_ack (zmr_ledger_t *self, uint64_t id, uint32_t partition, int64_t now);

//  Mapper holder is gone (died: declared dead; else: said BYE). What it
//  took or mapped goes back in line, and so does every chunk issued and not
//  taken (it may sit in the lost queue). A chunk it died holding counts a
//  crash; at poison_limit crashes it is quarantined instead. Returns 0, or
//  -1 on out-of-memory.
int
    zmr_ledger_mapper_gone (zmr_ledger_t *self, uint32_t holder, const char *why,
                            bool died);

//  Reducer partition came back as a new process: chunks MAPPED and not
//  ACKed by it go out again (batches to the old process may be lost).
//  Returns 0, or -1 on out-of-memory.
int
    zmr_ledger_partition_back (zmr_ledger_t *self, uint32_t partition);

//  True if mapper holder has TAKEn a chunk it has not MAPPED yet.
bool
    zmr_ledger_holds (zmr_ledger_t *self, uint32_t holder);

//  Leases that ran out at now: a chunk ISSUED while a mapper is idle
//  (idle: the caller knows), or MAPPED without its R ACKs, for dead_ms on
//  its first issue, 2 x dead_ms on its second and 4 x from its third, goes
//  out again. Returns 0, or -1 on out-of-memory.
int
    zmr_ledger_expire (zmr_ledger_t *self, int64_t now, bool idle);

//  Chunks DONE for dead_ms with their words unknown (their mapper died
//  between its batches and its MAPPED) are mapped again, only to learn
//  their words and pairs. Returns 0, or -1 on out-of-memory.
int
    zmr_ledger_recount (zmr_ledger_t *self, int64_t now);

//  The first chunk whose text may still be needed: not done, or done
//  without its words.
uint64_t
    zmr_ledger_first_needed (zmr_ledger_t *self);

//  Forgets the prefix of chunks done, counted and below keep (the
//  caller's own lower bound, e.g. the first chunk of an open window),
//  once it is 1024 chunks long; the last chunk cut always stays.
void
    zmr_ledger_compact (zmr_ledger_t *self, uint64_t keep);

//  The entry of chunk id, or NULL if it is not held (not cut yet, or
//  forgotten). Borrowed: valid until the ledger next changes.
const zmr_ledger_entry_t *
    zmr_ledger_entry (zmr_ledger_t *self, uint64_t id);

//  Chunks cut so far (the next chunk's id).
uint64_t
    zmr_ledger_cut (zmr_ledger_t *self);

//  The first chunk held: those below are done, counted and forgotten.
uint64_t
    zmr_ledger_base (zmr_ledger_t *self);

//  Every chunk below this one is DONE.
uint64_t
    zmr_ledger_first_open (zmr_ledger_t *self);

//  Chunks in line to be issued (some may turn out handled already).
size_t
    zmr_ledger_queued (zmr_ledger_t *self);

//  Chunks ISSUED and not taken.
size_t
    zmr_ledger_waiting (zmr_ledger_t *self);

//  DONE chunks whose words are not known yet.
size_t
    zmr_ledger_uncounted (zmr_ledger_t *self);

//  Chunks partition has ACKed (those below the base included).
uint64_t
    zmr_ledger_acks_by (zmr_ledger_t *self, uint32_t partition);

//  The lowest chunk ever quarantined, or UINT64_MAX.
uint64_t
    zmr_ledger_first_quarantined (zmr_ledger_t *self);

//  Sums of the chunks below the base (chunks = the base).
const zmr_journal_summary_t *
    zmr_ledger_forgotten (zmr_ledger_t *self);

//  The running totals.
const zmr_ledger_counts_t *
    zmr_ledger_counts (zmr_ledger_t *self);

//  Their ids, in the same order (borrowed), for the journal.
const uint64_t *
    zmr_ledger_quarantine_ids (zmr_ledger_t *self);

//  The chunks quarantined, counts->chunks_quarantined of them (borrowed).
const zmr_quarantine_t *
    zmr_ledger_quarantine (zmr_ledger_t *self);

#endif
