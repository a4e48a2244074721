/*  zmr_evmap: an event-time word count's chunk, mapped into runs per
    reducer (zmr_evmap.h). One table holds the chunk's pairs, each keyed by
    its run (a kind byte and the pane, 8 bytes big-endian) before the
    word's or the side key's bytes: a word's values merge within its run,
    and the table's keys sorted bytewise are the runs in batch order. */
#define _GNU_SOURCE
#include "zmr_evmap.h"
#include "zmr_counts.h"
#include "zmr_evtime.h"
#include "zmr_partition.h"
#include "zmr_tokenize.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG       9           //  Run kind (1 byte) and pane (8 BE)
#define S_RUN_MAX   19          //  A run packed: uint32, uint64, uint32
#define S_TICK      256         //  Records between ticks

struct _zmr_evmap_t {
    uint32_t reducers;
    zmr_partitioner_t *partitioner;
    zmr_counts_t *table;        //  The chunk's pairs, keyed by run + bytes
    char *key;                  //  A key being built
    size_t key_cap;
    const zmr_entry_t **sorted; //  The table's entries by partition, then key
    size_t sorted_cap;
    zmr_run_t *runs;            //  Every partition's runs, in turn
    size_t runs_cap;
    size_t *first;              //  Per partition: its first entry in sorted,
    size_t *count;              //  ... its entries,
    size_t *run_first;          //  ... its first run,
    size_t *nruns;              //  ... its runs,
    size_t *bytes;              //  ... the most its BATCH takes
    //  The chunk in hand
    const zmr_event_spec_t *event;
    uint64_t max_word, chunk, bucket;
    zmr_evmap_tick_fn *tick;
    void *arg;
    uint64_t records;
    zmr_evmap_stats_t stats;
};

zmr_evmap_t *
zmr_evmap_new (uint32_t reducers)
{
    zmr_evmap_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->reducers = reducers;
    self->partitioner = zmr_partitioner_new (reducers);
    self->table = zmr_counts_new ();
    self->first = calloc (reducers, sizeof *self->first);
    self->count = calloc (reducers, sizeof *self->count);
    self->run_first = calloc (reducers, sizeof *self->run_first);
    self->nruns = calloc (reducers, sizeof *self->nruns);
    self->bytes = calloc (reducers, sizeof *self->bytes);
    if (!self->partitioner || !self->table || !self->first || !self->count
    ||  !self->run_first || !self->nruns || !self->bytes)
        zmr_evmap_destroy (&self);
    return self;
}

void
zmr_evmap_destroy (zmr_evmap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_evmap_t *self = *self_p;
    zmr_partitioner_destroy (&self->partitioner);
    zmr_counts_destroy (&self->table);
    free (self->key);
    free (self->sorted);
    free (self->runs);
    free (self->first);
    free (self->count);
    free (self->run_first);
    free (self->nruns);
    free (self->bytes);
    free (self);
    *self_p = NULL;
}

//  Adds 1 to key[S_TAG .. S_TAG + len) in the run tagged in key[0 ..
//  S_TAG); a new key gets its partition, by SHA-1 of its bytes (the tag
//  is not part of it). Returns 0 or -1.
static int
s_add (zmr_evmap_t *self, size_t len)
{
    bool is_new;
    zmr_entry_t *entry = zmr_counts_add (self->table, self->key, S_TAG + len, 1, &is_new);
    if (!entry)
        return -1;
    if (is_new)
        entry->aux = zmr_partitioner_of (self->partitioner, self->key + S_TAG, len);
    return 0;
}

static void
s_tag (char *key, int kind, uint64_t pane)
{
    key[0] = (char) kind;
    for (int i = 8; i >= 1; i--, pane >>= 8)
        key[i] = (char) (pane & 0xFF);
}

//  The words of text[0 .. len) into the run tagged in key. Returns 0 or -1.
static int
s_words (zmr_evmap_t *self, const char *text, size_t len)
{
    uint64_t max_word = self->max_word? self->max_word: UINT64_MAX;
    zmr_words_t scan;
    zmr_words_init (&scan, text, len);
    const char *word;
    size_t word_len;
    while (zmr_words_next (&scan, &word, &word_len)) {
        if (word_len > max_word) {
            self->stats.too_long++;
            continue;
        }
        memcpy (self->key + S_TAG, word, word_len);
        if (s_add (self, word_len))
            return -1;
        self->stats.words++;
    }
    return 0;
}

//  zmr_evtime_scan's call, per record
static int
s_record (const zmr_evline_t *line, void *arg)
{
    zmr_evmap_t *self = (zmr_evmap_t *) arg;
    bool on_time = line->kind == ZMR_LINE_ON_TIME;
    s_tag (self->key, on_time? ZMR_RUN_PANE: ZMR_RUN_TOTALS, on_time? line->pane: 0);
    //  The words on both sides of the time's token, apart
    size_t after = line->tok + line->tok_len;
    if (s_words (self, line->line, line->tok)
    ||  s_words (self, line->line + after, line->len - after))
        return -1;
    if (!on_time) {
        s_tag (self->key, ZMR_RUN_SIDE, 0);
        size_t len = zmr_evtime_side_key (self->key + S_TAG, self->bucket, self->chunk, line);
        if (s_add (self, len))
            return -1;
        self->stats.side++;
    }
    if (++self->records % S_TICK == 0 && self->tick)
        self->tick (self->arg);
    return 0;
}

//  By partition, then key bytes (run kind, pane, bytes: the batch's order)
static int
s_compare (const void *a, const void *b)
{
    const zmr_entry_t *x = *(const zmr_entry_t *const *) a;
    const zmr_entry_t *y = *(const zmr_entry_t *const *) b;
    if (x->aux != y->aux)
        return x->aux < y->aux? -1: 1;
    size_t n = x->len < y->len? x->len: y->len;
    int rc = memcmp (x->word, y->word, n);
    return rc? rc: (x->len > y->len) - (x->len < y->len);
}

static uint64_t
s_pane_of (const char *key)
{
    uint64_t pane = 0;
    for (int i = 1; i <= 8; i++)
        pane = pane << 8 | (uint8_t) key[i];
    return pane;
}

//  The sorted entries, cut into partitions and runs.
static int
s_runs (zmr_evmap_t *self)
{
    size_t n = zmr_counts_size (self->table);
    zmr_entry_t *entries = zmr_counts_entries (self->table);
    if (n > self->sorted_cap) {
        const zmr_entry_t **sorted = realloc (self->sorted, n * sizeof *sorted);
        zmr_run_t *runs = realloc (self->runs, n * sizeof *runs);
        if (sorted)
            self->sorted = sorted;
        if (runs)
            self->runs = runs;
        if (!sorted || !runs)
            return -1;
        self->sorted_cap = self->runs_cap = n;
    }
    for (size_t i = 0; i < n; i++)
        self->sorted[i] = &entries[i];
    qsort (self->sorted, n, sizeof *self->sorted, s_compare);
    uint32_t R = self->reducers;
    memset (self->count, 0, R * sizeof *self->count);
    memset (self->nruns, 0, R * sizeof *self->nruns);
    for (uint32_t p = 0; p < R; p++)
        self->bytes[p] = ZMR_MSG_HEADER_MAX + 5;   //  The runs' array header
    size_t nruns = 0;
    for (size_t i = 0; i < n; i++) {
        const zmr_entry_t *e = self->sorted[i];
        uint32_t p = e->aux;
        if (self->count[p] == 0) {
            self->first[p] = i;
            self->run_first[p] = nruns;
        }
        self->count[p]++;
        self->bytes[p] += ZMR_MSG_PAIR_MAX (e->len - S_TAG);
        if (i == self->first[p] || memcmp (self->sorted[i - 1]->word, e->word, S_TAG)) {
            int kind = (uint8_t) e->word[0];
            self->runs[nruns++] = (zmr_run_t) {
                .kind = (uint32_t) kind,
                .pane = kind == ZMR_RUN_PANE? s_pane_of (e->word): 0, .n = 0 };
            self->nruns[p]++;
            self->bytes[p] += S_RUN_MAX;
        }
        self->runs[nruns - 1].n++;
    }
    self->stats.pairs = n;
    return 0;
}

int
zmr_evmap_chunk (zmr_evmap_t *self, const zmr_event_spec_t *event, uint64_t max_word,
                 uint64_t chunk, uint64_t event_max, const char *data, size_t len,
                 zmr_evmap_tick_fn *tick, void *arg)
{
    zmr_counts_clear (self->table);
    memset (&self->stats, 0, sizeof self->stats);
    memset (self->count, 0, self->reducers * sizeof *self->count);
    memset (self->nruns, 0, self->reducers * sizeof *self->nruns);
    //  A key: the tag, then a word (at most the chunk) or a side key
    size_t need = S_TAG + (len > ZMR_SIDE_HEADER + ZMR_SIDE_LINE_MAX
                          ? len: ZMR_SIDE_HEADER + ZMR_SIDE_LINE_MAX);
    if (need > self->key_cap) {
        char *key = realloc (self->key, need);
        if (!key)
            return -1;
        self->key = key;
        self->key_cap = need;
    }
    self->event = event;
    self->max_word = max_word;
    self->chunk = chunk;
    self->bucket = zmr_evtime_bucket (event_max, event->lateness_ms, event->window_ms,
                                      event->every_ms);
    self->tick = tick;
    self->arg = arg;
    self->records = 0;
    uint64_t max = event_max;
    if (zmr_evtime_scan ((int) event->format, event->lateness_ms, event->every_ms, data, len,
                         &max, s_record, self))
        return -1;
    return s_runs (self);
}

void
zmr_evmap_stats (zmr_evmap_t *self, zmr_evmap_stats_t *stats)
{
    *stats = self->stats;
}

size_t
zmr_evmap_batch_max (zmr_evmap_t *self, uint32_t p)
{
    return self->count[p]? self->bytes[p]: ZMR_MSG_HEADER_MAX + 5;
}

int
zmr_evmap_pack (zmr_evmap_t *self, uint32_t p, msgpack_sbuffer *buf, msgpack_packer *pk,
                uint64_t job, uint64_t chunk, uint64_t stamp)
{
    if (zmr_msg_reserve (buf, zmr_evmap_batch_max (self, p)))
        return -1;
    size_t n = self->count[p];
    zmr_msg_begin_batch (pk, job, chunk, p, self->reducers, stamp,
                         n? self->runs + self->run_first[p]: NULL,
                         n? (uint32_t) self->nruns[p]: 0, (uint32_t) n);
    for (size_t i = 0; i < n; i++) {
        const zmr_entry_t *e = self->sorted[self->first[p] + i];
        zmr_msg_put_pair (buf, e->word + S_TAG, e->len - S_TAG, e->count);
    }
    return 0;
}

void
zmr_evmap_release (zmr_evmap_t *self)
{
    zmr_counts_t *fresh = zmr_counts_new ();
    if (fresh) {
        zmr_counts_destroy (&self->table);
        self->table = fresh;
    }
    free (self->key);
    free (self->sorted);
    free (self->runs);
    self->key = NULL;
    self->sorted = NULL;
    self->runs = NULL;
    self->key_cap = self->sorted_cap = self->runs_cap = 0;
    self->stats.pairs = 0;
    memset (self->count, 0, self->reducers * sizeof *self->count);
}
