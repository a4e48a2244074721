/*  zmr_evmap: the map of one chunk of an event-time word count (issue 17
    item 3; the rule is lib/zmr_evtime.h). zmr_evtime_scan walks the
    chunk's lines from the M before it (CHUNK.event_max); each record's
    words (the line without its time's token, split as the word count
    splits, --max-word as the word count's) go to a run of its pane when the
    line is on time, else to the totals-only run, with the line's side key
    (value 1) in the side run. A word's values merge within a run. Per
    reducer, one BATCH: its runs (panes by start, then totals, then side)
    and their pairs in that order; a word goes to SHA-1(word) mod R, a side
    key to SHA-1(key) mod R.

    The plain word count does not come here: its hot path is the mapper's
    combiner (zmr_combiner). */
#ifndef ZMR_EVMAP_H
#define ZMR_EVMAP_H
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include "zmr_msg.h"

typedef struct _zmr_evmap_t zmr_evmap_t;

//  A map for R reducers. NULL on out-of-memory (or no SHA-1).
zmr_evmap_t *
    zmr_evmap_new (uint32_t reducers);

//  Destroys the map; accepts NULL and *self_p == NULL.
void
    zmr_evmap_destroy (zmr_evmap_t **self_p);

//  Called every 256 records while a chunk is mapped (a heartbeat is due).
typedef void (zmr_evmap_tick_fn) (void *arg);

//  Maps a chunk's text data[0 .. len) (whole lines) under the event
//  settings, the job's --max-word (0: any) and the chunk's event_max,
//  replacing what the map held. Returns 0, or -1 out of memory.
int
    zmr_evmap_chunk (zmr_evmap_t *self, const zmr_event_spec_t *event,
                     uint64_t max_word, uint64_t chunk, uint64_t event_max,
                     const char *data, size_t len, zmr_evmap_tick_fn *tick,
                     void *arg);

//  The chunk's counts: word occurrences counted (MAPPED words), those
//  left out for --max-word, side records, and pairs in all batches (MAPPED
//  pair_count, side keys included).
typedef struct {
    uint64_t words;
    uint64_t too_long;
    uint64_t side;
    uint64_t pairs;
} zmr_evmap_stats_t;

void
    zmr_evmap_stats (zmr_evmap_t *self, zmr_evmap_stats_t *stats);

//  The most bytes partition p's BATCH takes (to check against the job's
//  --max-message before anything is sent).
size_t
    zmr_evmap_batch_max (zmr_evmap_t *self, uint32_t p);

//  Packs partition p's BATCH into buf (pk packs into it), room made first.
//  Returns 0, or -1 out of memory.
int
    zmr_evmap_pack (zmr_evmap_t *self, uint32_t p, msgpack_sbuffer *buf,
                    msgpack_packer *pk, uint64_t job, uint64_t chunk, uint64_t stamp);

//  Gives back the memory a large chunk left (between chunks).
void
    zmr_evmap_release (zmr_evmap_t *self);

#endif
