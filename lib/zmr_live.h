/*  zmr_live: the sink's running totals while a job runs. Reducers send
    UPDATEs with the current total of each word that changed in their
    partition and the chunks they applied since the last one, stamped with
    the time their text came in; this table keeps the latest total of every
    word, which words changed since they were last drained (for --follow
    and the PUB of totals), and how late each chunk's counts became visible
    here: when the R-th listing of it came (each partition lists a chunk
    once, in the UPDATE after it applied it; a listing repeated by a
    restarted reducer would make that sample early). */
#ifndef ZMR_LIVE_H
#define ZMR_LIVE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "zmr_counts.h"
#include "zmr_msg.h"

typedef struct _zmr_live_t zmr_live_t;

//  Creates the running totals of a job of R partitions. Returns NULL on
//  out-of-memory.
zmr_live_t *
    zmr_live_new (uint32_t reducers);

//  Destroys it; accepts NULL and *self_p == NULL.
void
    zmr_live_destroy (zmr_live_t **self_p);

//  Applies a decoded UPDATE (whose partition is below R): sets each word's
//  total and marks it changed, then takes its chunks; a chunk listed by
//  every partition gives a latency sample, now_ms minus its stamp (both ms
//  since the epoch). Returns 0, or -1 on out-of-memory.
int
    zmr_live_update (zmr_live_t *self, zmr_msg_t *msg, uint64_t now_ms);

//  Totals are values of the job (a signed 64-bit integer's bits: zmr_job.h).

//  Sets one word's total (marking it changed if it is new): the final
//  result squares the running totals with what the partitions hold.
//  Returns 0, or -1 on out-of-memory.
int
    zmr_live_set (zmr_live_t *self, const char *word, uint32_t len, uint64_t total);

//  Called for each changed word by zmr_live_drain. Returns 0, or -1 to
//  stop (the words not yet given stay changed).
typedef int (zmr_live_fn) (const char *word, uint32_t len, uint64_t total, void *arg);

//  Gives each word changed since the last drain once, with its total, in
//  the order they first changed. Returns 0, or -1 when fn said stop.
int
    zmr_live_drain (zmr_live_t *self, zmr_live_fn *fn, void *arg);

//  Words changed and not drained yet.
size_t
    zmr_live_changed (zmr_live_t *self);

//  Coalescing per word, for views that must show a change at once when
//  they can and still not repeat a busy word more often than every
//  interval_ms: a changed word is due at once if it was never given by
//  zmr_live_drain_due or was given interval_ms or more before, else when
//  that much has passed since. Times are the caller's monotonic ms.
//  Returns when the first changed word is due (INT64_MIN: one is due
//  whenever asked, INT64_MAX: none changed).
int64_t
    zmr_live_due (zmr_live_t *self, int64_t interval_ms);

//  Gives each changed word that is due at now_ms once, with its total, in
//  the order they first changed, and notes now_ms as its last time given;
//  the others stay changed (zmr_live_due says when they are due). Returns
//  0, or -1 when fn said stop.
int
    zmr_live_drain_due (zmr_live_t *self, int64_t now_ms, int64_t interval_ms,
                        zmr_live_fn *fn, void *arg);

//  Latency over the samples of the last window_ms before now_ms: the 50th
//  and 99th percentiles (nearest rank) and how many samples there are (all
//  0 when none).
void
    zmr_live_latency (zmr_live_t *self, uint64_t now_ms, uint64_t window_ms,
                      uint64_t *p50, uint64_t *p99, uint64_t *samples);

//  The k first words in result order (docs/design.md: largest value first,
//  signed) into out, which holds k entries; borrowed words, valid until the
//  next update. Returns how many (at most k).
size_t
    zmr_live_top (zmr_live_t *self, zmr_entry_t *out, size_t k);

//  Every word with its total, sorted in result order, as a new array
//  (free() it); its words are borrowed as for top. NULL on out-of-memory.
zmr_entry_t *
    zmr_live_sorted (zmr_live_t *self, size_t *count);

//  Sum of the totals modulo 2^64: the word count's words counted so far.
uint64_t
    zmr_live_words (zmr_live_t *self);

//  Updates applied so far (a snapshot is due only when this moved).
uint64_t
    zmr_live_updates (zmr_live_t *self);

#endif
