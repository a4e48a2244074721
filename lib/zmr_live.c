/*  zmr_live: running totals in one word table (a word comes from one
    partition only, so its latest total is simply set), a list of the
    entries changed since the last drain (an entry's aux marks it), and two
    rings: chunks waiting for their last partition, by chunk id, and the
    latency samples of the recent past. For coalescing per word, when each
    word was last given (by entry index), and the oldest of those among
    the changed words. Both rings are bounded: a chunk
    that waits while 64 Ki newer ones pass, or a sample older than 64 Ki
    newer ones, is forgotten. */
#include "zmr_live.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_RING 65536u               //  Chunks waiting, and samples kept

typedef struct {
    uint64_t chunk_1;               //  Chunk id + 1, 0: free
    uint64_t stamp;                 //  When its text came in
    uint32_t seen;                  //  Partitions that listed it
} s_waiting_t;

typedef struct {
    uint64_t at;                    //  When it was taken (ms since the epoch)
    uint64_t latency;               //  ms
} s_sample_t;

struct _zmr_live_t {
    uint32_t reducers;              //  R
    zmr_counts_t *totals;           //  Word -> latest total
    uint64_t words;                 //  Sum of the totals
    uint64_t updates;               //  UPDATEs applied
    uint32_t *changed;              //  Entries changed since the last drain
    size_t nchanged, changed_cap;
    int64_t *given;                 //  By entry: when last given + 1, 0: never
    size_t given_cap;
    int64_t oldest;                 //  Smallest given of a changed word,
                                    //  INT64_MAX: none changed
    s_waiting_t *waiting;           //  S_RING, by chunk id modulo
    s_sample_t *samples;            //  S_RING, a ring
    size_t nsamples;                //  Samples taken (the ring keeps S_RING)
};

zmr_live_t *
zmr_live_new (uint32_t reducers)
{
    assert (reducers >= 1);
    zmr_live_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->reducers = reducers;
    self->oldest = INT64_MAX;
    self->totals = zmr_counts_new ();
    self->waiting = calloc (S_RING, sizeof *self->waiting);
    self->samples = calloc (S_RING, sizeof *self->samples);
    if (!self->totals || !self->waiting || !self->samples)
        zmr_live_destroy (&self);
    return self;
}

void
zmr_live_destroy (zmr_live_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_live_t *self = *self_p;
    zmr_counts_destroy (&self->totals);
    free (self->changed);
    free (self->given);
    free (self->waiting);
    free (self->samples);
    free (self);
    *self_p = NULL;
}

int
zmr_live_set (zmr_live_t *self, const char *word, uint32_t len, uint64_t total)
{
    if (self->nchanged == self->changed_cap) {
        size_t cap = self->changed_cap? self->changed_cap * 2: 1024;
        uint32_t *changed = realloc (self->changed, cap * sizeof *changed);
        if (!changed)
            return -1;
        self->changed = changed;
        self->changed_cap = cap;
    }
    //  (The table sums: adding 0 inserts a key with 0, or changes nothing.)
    bool is_new;
    zmr_entry_t *entry = zmr_counts_add (self->totals, word, len, 0, &is_new);
    if (!entry)
        return -1;
    size_t index = (size_t) (entry - zmr_counts_entries (self->totals));
    if (index >= self->given_cap) {
        size_t cap = self->given_cap? self->given_cap * 2: 1024;
        while (cap <= index)
            cap *= 2;
        int64_t *given = realloc (self->given, cap * sizeof *given);
        if (!given)
            return -1;
        memset (given + self->given_cap, 0, (cap - self->given_cap) * sizeof *given);
        self->given = given;
        self->given_cap = cap;
    }
    //  A new key is a change even at 0 (a min or max job's value may be 0).
    if (entry->count == total && !is_new)
        return 0;
    self->words += total - entry->count;
    entry->count = total;
    if (!entry->aux) {
        entry->aux = 1;
        self->changed[self->nchanged++] = (uint32_t) index;
        if (self->given[index] < self->oldest)
            self->oldest = self->given[index];
    }
    return 0;
}

//  One partition listed chunk; the last of the R gives a sample.
static void
s_chunk (zmr_live_t *self, uint64_t chunk, uint64_t stamp, uint64_t now_ms)
{
    s_waiting_t *slot = &self->waiting[chunk % S_RING];
    if (slot->chunk_1 != chunk + 1) {
        slot->chunk_1 = chunk + 1;
        slot->stamp = stamp;
        slot->seen = 0;
    }
    if (++slot->seen < self->reducers)
        return;
    slot->chunk_1 = 0;
    s_sample_t *sample = &self->samples[self->nsamples++ % S_RING];
    sample->at = now_ms;
    sample->latency = now_ms > stamp? now_ms - stamp: 0;
}

int
zmr_live_update (zmr_live_t *self, zmr_msg_t *msg, uint64_t now_ms)
{
    assert (msg->type == ZMR_UPDATE && msg->partition < self->reducers);
    const char *word;
    uint32_t len;
    uint64_t total;
    while (zmr_msg_next_pair (msg, &word, &len, &total))
        if (zmr_live_set (self, word, len, total))
            return -1;
    uint64_t chunk, stamp;
    while (zmr_msg_next_chunk (msg, &chunk, &stamp))
        s_chunk (self, chunk, stamp, now_ms);
    self->updates++;
    return 0;
}

int
zmr_live_drain (zmr_live_t *self, zmr_live_fn *fn, void *arg)
{
    zmr_entry_t *entries = zmr_counts_entries (self->totals);
    size_t i = 0;
    int rc = 0;
    for (; i < self->nchanged; i++) {
        zmr_entry_t *entry = &entries[self->changed[i]];
        if (fn (entry->word, entry->len, entry->count, arg)) {
            rc = -1;
            break;
        }
        entry->aux = 0;
    }
    memmove (self->changed, self->changed + i, (self->nchanged - i) * sizeof *self->changed);
    self->nchanged -= i;
    if (!self->nchanged)
        self->oldest = INT64_MAX;
    return rc;
}

int64_t
zmr_live_due (zmr_live_t *self, int64_t interval_ms)
{
    if (self->oldest == INT64_MAX)
        return INT64_MAX;
    if (self->oldest == 0)
        return INT64_MIN;       //  A word never given
    return self->oldest - 1 + interval_ms;
}

int
zmr_live_drain_due (zmr_live_t *self, int64_t now_ms, int64_t interval_ms,
                    zmr_live_fn *fn, void *arg)
{
    zmr_entry_t *entries = zmr_counts_entries (self->totals);
    size_t kept = 0, i = 0;
    int64_t oldest = INT64_MAX;
    int rc = 0;
    //  One pass: the due words go out, the others close ranks in order.
    for (; i < self->nchanged; i++) {
        uint32_t index = self->changed[i];
        int64_t given = self->given[index];
        if (given && given - 1 + interval_ms > now_ms) {
            self->changed[kept++] = index;
            if (given < oldest)
                oldest = given;
            continue;
        }
        zmr_entry_t *entry = &entries[index];
        if (fn (entry->word, entry->len, entry->count, arg)) {
            rc = -1;
            break;
        }
        entry->aux = 0;
        self->given[index] = now_ms + 1;
    }
    //  Stopped: the words not reached stay changed, as they were.
    for (; i < self->nchanged; i++) {
        self->changed[kept++] = self->changed[i];
        if (self->given[self->changed[i]] < oldest)
            oldest = self->given[self->changed[i]];
    }
    self->nchanged = kept;
    self->oldest = oldest;
    return rc;
}

size_t
zmr_live_changed (zmr_live_t *self)
{
    return self->nchanged;
}

static int
s_compare_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

void
zmr_live_latency (zmr_live_t *self, uint64_t now_ms, uint64_t window_ms,
                  uint64_t *p50, uint64_t *p99, uint64_t *samples)
{
    *p50 = *p99 = *samples = 0;
    size_t kept = self->nsamples < S_RING? self->nsamples: S_RING;
    uint64_t *recent = malloc ((kept? kept: 1) * sizeof *recent);
    if (!recent)
        return;
    size_t n = 0;
    for (size_t i = 0; i < kept; i++) {
        s_sample_t *sample = &self->samples[i];
        if (sample->at + window_ms >= now_ms)
            recent[n++] = sample->latency;
    }
    if (n) {
        qsort (recent, n, sizeof *recent, s_compare_u64);
        //  Nearest rank: the smallest value with at least p% at or below it.
        *p50 = recent[(n * 50 + 99) / 100 - 1];
        *p99 = recent[(n * 99 + 99) / 100 - 1];
        *samples = n;
    }
    free (recent);
}

size_t
zmr_live_top (zmr_live_t *self, zmr_entry_t *out, size_t k)
{
    size_t size = zmr_counts_size (self->totals);
    zmr_entry_t *entries = zmr_counts_entries (self->totals);
    size_t n = 0;
    for (size_t i = 0; i < size && k; i++) {
        zmr_entry_t *entry = &entries[i];
        if (n == k && zmr_entry_compare (entry, &out[n - 1]) >= 0)
            continue;
        //  Insert in order; the last one falls off when full.
        size_t at = n < k? n: k - 1;
        while (at > 0 && zmr_entry_compare (entry, &out[at - 1]) < 0) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = *entry;
        if (n < k)
            n++;
    }
    return n;
}

zmr_entry_t *
zmr_live_sorted (zmr_live_t *self, size_t *count)
{
    return zmr_counts_sorted (self->totals, count);
}

uint64_t
zmr_live_words (zmr_live_t *self)
{
    return self->words;
}

uint64_t
zmr_live_updates (zmr_live_t *self)
{
    return self->updates;
}
