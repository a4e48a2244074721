/*  zmr_counts: the word -> count table every role spends its time in.
    Entries sit in a dense array in insertion order; a power-of-two index of
    uint32 entry numbers (0 = empty) is probed linearly and kept at most half
    full; words are copied into large arena blocks, so an insert costs one
    memcpy and no malloc. */
#include "zmr_counts.h"
#include "zmr_hash.h"
#include "zmr_arena.h"
#include "zmr_big.h"
#include "zmr_job.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ZMR_COUNTS_SLOTS    1024        //  Initial index size (a power of two)
#define ZMR_COUNTS_ENTRIES  512         //  Initial entries capacity

struct _zmr_counts_t {
    zmr_entry_t *entries;       //  Dense, insertion order
    size_t size;                //  Entries in use
    size_t capacity;            //  Entries allocated
    uint32_t *index;            //  Entry number + 1 per slot, 0 = empty
    size_t mask;                //  Index slots - 1 (slots is a power of two)
    uint64_t total;             //  Sum of all counts (modulo 2^64)
    int reduce;                 //  zmr_reduce_t: how a value merges
    zmr_arena_t arena;          //  The words
};


//  --------------------------------------------------------------------------
//  The hash: a wyhash-style multiply-and-fold over 8-byte reads. Words are
//  mostly short, so lengths up to 16 take one multiply and no loop.

static inline __attribute__ ((always_inline)) uint64_t
s_hash (const void *word, size_t len)
{
    const uint8_t *p = (const uint8_t *) word;
    uint64_t a, b;
    if (len <= 16) {
        //  Most words: one multiply over two reads that cover every byte.
        if (len >= 4) {
            //  Two overlapping 4-byte reads from each end cover 4..16 bytes
            size_t step = (len >> 3) << 2;
            a = (zmr_hash_load32 (p) << 32) | zmr_hash_load32 (p + step);
            b = (zmr_hash_load32 (p + len - 4) << 32) | zmr_hash_load32 (p + len - 4 - step);
        }
        else
        if (len > 0) {
            a = ((uint64_t) p [0] << 16) | ((uint64_t) p [len >> 1] << 8) | p [len - 1];
            b = 0;
        }
        else
            a = b = 0;
        return zmr_hash_fold (a ^ ZMR_HASH_K0 ^ len, b ^ ZMR_HASH_K1);
    }
    uint64_t seed = ZMR_HASH_K0 ^ zmr_hash_fold (len ^ ZMR_HASH_K1, ZMR_HASH_K0);
    size_t left = len;
    if (left > 48) {
        //  Three independent lanes let the multiplies overlap
        uint64_t seed1 = seed, seed2 = seed;
        do {
            seed  = zmr_hash_fold (zmr_hash_load64 (p) ^ ZMR_HASH_K1,
                                   zmr_hash_load64 (p + 8) ^ seed);
            seed1 = zmr_hash_fold (zmr_hash_load64 (p + 16) ^ ZMR_HASH_K2,
                                   zmr_hash_load64 (p + 24) ^ seed1);
            seed2 = zmr_hash_fold (zmr_hash_load64 (p + 32) ^ ZMR_HASH_K3,
                                   zmr_hash_load64 (p + 40) ^ seed2);
            p += 48;
            left -= 48;
        } while (left > 48);
        seed ^= seed1 ^ seed2;
    }
    while (left > 16) {
        seed = zmr_hash_fold (zmr_hash_load64 (p) ^ ZMR_HASH_K1, zmr_hash_load64 (p + 8) ^ seed);
        p += 16;
        left -= 16;
    }
    //  The last 16 bytes, overlapping what the loop already took
    a = zmr_hash_load64 (p + left - 16);
    b = zmr_hash_load64 (p + left - 8);
    return zmr_hash_fold (ZMR_HASH_K1 ^ len, zmr_hash_fold (a ^ ZMR_HASH_K1, b ^ seed));
}

//  Whether stored[0 .. len) equals word[0 .. len): short words with a few
//  overlapping loads (never reading past either), long ones with memcmp.
static inline bool
s_same (const char *stored, const void *word, size_t len)
{
    const uint8_t *x = (const uint8_t *) stored;
    const uint8_t *y = (const uint8_t *) word;
    if (len >= 8 && len <= 16)
        return zmr_hash_load64 (x) == zmr_hash_load64 (y)
            && zmr_hash_load64 (x + len - 8) == zmr_hash_load64 (y + len - 8);
    if (len >= 4 && len < 8)
        return zmr_hash_load32 (x) == zmr_hash_load32 (y)
            && zmr_hash_load32 (x + len - 4) == zmr_hash_load32 (y + len - 4);
    if (len < 4) {
        for (size_t i = 0; i < len; i++)
            if (x [i] != y [i])
                return false;
        return true;
    }
    return memcmp (x, y, len) == 0;
}




//  --------------------------------------------------------------------------
//  The arena



//  --------------------------------------------------------------------------
//  The index

//  Returns the slot holding word, or the empty slot where it would go.
static inline size_t
s_probe (zmr_counts_t *self, const void *word, size_t len, uint64_t hash)
{
    //  The home slot comes from the 32 bits an entry keeps, so that growing
    //  the index finds the same home.
    size_t slot = (size_t) (uint32_t) hash & self->mask;
    while (true) {
        uint32_t ref = self->index [slot];
        if (ref == 0)
            return slot;
        zmr_entry_t *entry = &self->entries [ref - 1];
        if (entry->hash == (uint32_t) hash && entry->len == len
        &&  s_same (entry->word, word, len))
            return slot;
        slot = (slot + 1) & self->mask;
    }
}

//  Doubles the index. Returns 0, or -1 on out-of-memory with the old index
//  still in place.
static int
s_index_grow (zmr_counts_t *self)
{
    size_t slots = (self->mask + 1) * 2;
    uint32_t *index = (uint32_t *) zmr_big_alloc (slots * sizeof (uint32_t));
    if (!index)
        return -1;
    size_t mask = slots - 1;
    for (size_t number = 0; number < self->size; number++) {
        size_t slot = (size_t) self->entries [number].hash & mask;
        while (index [slot])
            slot = (slot + 1) & mask;
        index [slot] = (uint32_t) (number + 1);
    }
    zmr_big_free (self->index, (self->mask + 1) * sizeof (uint32_t));
    self->index = index;
    self->mask = mask;
    return 0;
}


//  --------------------------------------------------------------------------

zmr_counts_t *
zmr_counts_new (void)
{
    zmr_counts_t *self = (zmr_counts_t *) calloc (1, sizeof (*self));
    if (!self)
        return NULL;
    zmr_arena_init (&self->arena);
    self->entries = (zmr_entry_t *) zmr_big_alloc (ZMR_COUNTS_ENTRIES * sizeof (zmr_entry_t));
    self->index = (uint32_t *) zmr_big_alloc (ZMR_COUNTS_SLOTS * sizeof (uint32_t));
    if (!self->entries || !self->index) {
        zmr_counts_destroy (&self);
        return NULL;
    }
    self->capacity = ZMR_COUNTS_ENTRIES;
    self->mask = ZMR_COUNTS_SLOTS - 1;
    return self;
}

void
zmr_counts_destroy (zmr_counts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_counts_t *self = *self_p;
    zmr_arena_destroy (&self->arena);
    zmr_big_free (self->index, (self->mask + 1) * sizeof (uint32_t));
    zmr_big_free (self->entries, self->capacity * sizeof (zmr_entry_t));
    free (self);
    *self_p = NULL;
}

//  Inserts a word known to be absent, probed to slot. Out of line: the hot
//  loops only come here for new words.
static __attribute__ ((noinline)) zmr_entry_t *
s_insert (zmr_counts_t *self, const void *word, size_t len, uint64_t hash,
          size_t slot, uint64_t delta)
{
    //  Entry numbers are stored + 1 in a uint32, so 0 can mean empty
    if (self->size >= UINT32_MAX - 1)
        return NULL;

    //  Grow everything that can fail before changing anything visible
    if (self->size == self->capacity) {
        size_t capacity = self->capacity * 2;
        zmr_entry_t *entries = (zmr_entry_t *) zmr_big_grow (
            self->entries, self->capacity * sizeof (zmr_entry_t),
            capacity * sizeof (zmr_entry_t));
        if (!entries)
            return NULL;
        self->entries = entries;
        self->capacity = capacity;
    }
    if ((self->size + 1) * 2 > self->mask + 1) {
        if (s_index_grow (self))
            return NULL;
        slot = s_probe (self, word, len, hash);
    }
    const char *copy = zmr_arena_copy (&self->arena, word, len);
    if (!copy)
        return NULL;

    zmr_entry_t *entry = &self->entries [self->size];
    entry->word = copy;
    entry->len = (uint32_t) len;
    entry->aux = 0;
    entry->count = delta;
    entry->hash = (uint32_t) hash;
    self->size++;
    self->index [slot] = (uint32_t) self->size;
    return entry;
}

//  Merges value into an entry by a reduce other than sum. Out of line:
//  the word count's sum is the hot path.
static __attribute__ ((noinline)) void
s_merge_other (zmr_counts_t *self, zmr_entry_t *entry, uint64_t value)
{
    int64_t merged = (int64_t) entry->count;
    zmr_reduce_merge (self->reduce, &merged, (int64_t) value);
    //  The total stays the sum of the values (as bits, modulo 2^64)
    self->total += (uint64_t) merged - entry->count;
    entry->count = (uint64_t) merged;
}

//  zmr_counts_add with the word's hash already known; summing tells that
//  the table's reduce is sum, a constant where this is inlined, so that the
//  word count's loops carry no test of the reduce.
static inline __attribute__ ((always_inline)) zmr_entry_t *
s_add_hashed (zmr_counts_t *self, const void *word, size_t len, uint64_t hash,
              uint64_t delta, bool *is_new, bool summing)
{
    size_t slot = s_probe (self, word, len, hash);
    uint32_t ref = self->index [slot];
    if (ref) {
        zmr_entry_t *entry = &self->entries [ref - 1];
        if (summing) {
            //  Counts are signed 64-bit values: a sum past them fails
            int64_t sum;
            if (__builtin_add_overflow ((int64_t) entry->count, (int64_t) delta, &sum)) {
                errno = EOVERFLOW;
                return NULL;
            }
            entry->count = (uint64_t) sum;
            self->total += delta;
        }
        else
            s_merge_other (self, entry, delta);
        if (is_new)
            *is_new = false;
        return entry;
    }
    zmr_entry_t *entry = s_insert (self, word, len, hash, slot, delta);
    if (!entry) {
        errno = ENOMEM;
        return NULL;
    }
    self->total += delta;
    if (is_new)
        *is_new = true;
    return entry;
}

void
zmr_counts_set_reduce (zmr_counts_t *self, int reduce)
{
    assert (self);
    assert (zmr_reduce_name (reduce));
    self->reduce = reduce;
}

zmr_entry_t *
zmr_counts_add (zmr_counts_t *self, const void *word, size_t len,
                uint64_t delta, bool *is_new)
{
    assert (self);
    assert (word || len == 0);
    assert (len <= UINT32_MAX);
    if (self->reduce == ZMR_REDUCE_SUM)
        return s_add_hashed (self, word, len, s_hash (word, len), delta, is_new, true);
    return s_add_hashed (self, word, len, s_hash (word, len), delta, is_new, false);
}

//  zmr_counts_add_pairs, its loop made once per value of summing.
static inline __attribute__ ((always_inline)) int
s_add_pairs (zmr_counts_t *self, const zmr_pair_t *pairs, size_t n, bool summing)
{
    //  A pair costs two dependent misses in a large table (index slot,
    //  then entry): a batch's slots are prefetched, then its entries, then
    //  the pairs are added, so the misses overlap.
    uint64_t hashes [ZMR_COUNTS_BATCH];
    for (size_t from = 0; from < n; from += ZMR_COUNTS_BATCH) {
        size_t to = n - from < ZMR_COUNTS_BATCH? n: from + ZMR_COUNTS_BATCH;
        for (size_t i = from; i < to; i++) {
            assert (pairs [i].len <= UINT32_MAX);
            hashes [i - from] = s_hash (pairs [i].word, pairs [i].len);
            __builtin_prefetch (&self->index [(uint32_t) hashes [i - from] & self->mask]);
        }
        for (size_t i = from; i < to; i++) {
            uint32_t ref = self->index [(uint32_t) hashes [i - from] & self->mask];
            if (ref)
                __builtin_prefetch (&self->entries [ref - 1]);
        }
        for (size_t i = from; i < to; i++)
            if (!s_add_hashed (self, pairs [i].word, pairs [i].len, hashes [i - from],
                               pairs [i].count, NULL, summing))
                return -1;
    }
    return 0;
}

int
zmr_counts_add_pairs (zmr_counts_t *self, const zmr_pair_t *pairs, size_t n)
{
    assert (self);
    assert (pairs || n == 0);
    if (self->reduce == ZMR_REDUCE_SUM)
        return s_add_pairs (self, pairs, n, true);
    return s_add_pairs (self, pairs, n, false);
}

zmr_entry_t *
zmr_counts_lookup (zmr_counts_t *self, const void *word, size_t len)
{
    assert (self);
    assert (word || len == 0);
    if (len > UINT32_MAX)
        return NULL;
    uint32_t ref = self->index [s_probe (self, word, len, s_hash (word, len))];
    return ref ? &self->entries [ref - 1] : NULL;
}

size_t
zmr_counts_size (zmr_counts_t *self)
{
    assert (self);
    return self->size;
}

uint64_t
zmr_counts_total (zmr_counts_t *self)
{
    assert (self);
    return self->total;
}

zmr_entry_t *
zmr_counts_entries (zmr_counts_t *self)
{
    assert (self);
    return self->entries;
}

void
zmr_counts_clear (zmr_counts_t *self)
{
    assert (self);
    memset (self->index, 0, (self->mask + 1) * sizeof (uint32_t));
    self->size = 0;
    self->total = 0;
    zmr_arena_clear (&self->arena);
}

size_t
zmr_counts_memory (zmr_counts_t *self)
{
    assert (self);
    return self->capacity * sizeof (zmr_entry_t)
         + (self->mask + 1) * sizeof (uint32_t)
         + zmr_arena_memory (&self->arena);
}

int
zmr_entry_compare (const void *a, const void *b)
{
    const zmr_entry_t *left = (const zmr_entry_t *) a;
    const zmr_entry_t *right = (const zmr_entry_t *) b;
    //  Values are signed: -1 sorts after 0, not as the largest count
    int64_t left_count = (int64_t) left->count;
    int64_t right_count = (int64_t) right->count;
    if (left_count != right_count)
        return left_count > right_count ? -1 : 1;
    return zmr_entry_key_compare (a, b);
}

int
zmr_entry_key_compare (const void *a, const void *b)
{
    const zmr_entry_t *left = (const zmr_entry_t *) a;
    const zmr_entry_t *right = (const zmr_entry_t *) b;
    uint32_t common = left->len < right->len ? left->len : right->len;
    //  memcmp compares as unsigned char, so bytes above 0x7f sort last
    int order = memcmp (left->word, right->word, common);
    if (order)
        return order;
    return (left->len > right->len) - (left->len < right->len);
}

//  The sort sorts keys, not entries: a key holds the count and the word's
//  first 8 bytes big-endian, so most comparisons are two integer compares
//  that never leave the key array (qsort's comparator follows each word's
//  pointer into the arena, a cache miss, and is an indirect call). Equal
//  keys fall back to zmr_entry_compare. Measured on the Zipf bench's 339k
//  words in the commit that brought it.
#define S_SORT_PARALLEL (64u << 10)     //  Keys from which two threads sort

typedef struct {
    int64_t count;              //  The entry's count, signed
    uint64_t prefix;            //  Its word's first 8 bytes, big-endian, zero-padded
    const zmr_entry_t *entry;   //  The entry itself
} s_sort_key_t;

static inline bool
s_key_before (const s_sort_key_t *a, const s_sort_key_t *b)
{
    if (a->count != b->count)
        return a->count > b->count;
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix;
    return zmr_entry_compare (a->entry, b->entry) < 0;
}

//  Insertion sort of keys[0 .. n), for the short runs the merges start from.
static void
s_keys_insertion (s_sort_key_t *keys, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        s_sort_key_t key = keys [i];
        size_t at = i;
        for (; at > 0 && s_key_before (&key, &keys [at - 1]); at--)
            keys [at] = keys [at - 1];
        keys [at] = key;
    }
}

//  Merges the sorted a[0 .. na) and b[0 .. nb) into out.
static void
s_keys_merge (const s_sort_key_t *a, size_t na, const s_sort_key_t *b, size_t nb,
              s_sort_key_t *out)
{
    size_t i = 0, j = 0;
    while (i < na && j < nb)
        *out++ = s_key_before (&b [j], &a [i])? b [j++]: a [i++];
    memcpy (out, a + i, (na - i) * sizeof *a);
    memcpy (out + na - i, b + j, (nb - j) * sizeof *b);
}

//  Sorts keys[0 .. n), the result into out[0 .. n) (into) or back into
//  keys (!into), the other array used as room. The merge sort goes back and
//  forth between the two instead of merging into spare room and copying
//  back: half the memory traffic (the keys of 339k words are 8 MB).
static void
s_keys_sort (s_sort_key_t *keys, s_sort_key_t *out, size_t n, bool into)
{
    if (n <= 16) {
        if (into && n)
            memcpy (out, keys, n * sizeof *keys);
        s_keys_insertion (into? out: keys, n);
        return;
    }
    size_t half = n / 2;
    //  Each half lands where this level's merge reads it from
    s_keys_sort (keys, out, half, !into);
    s_keys_sort (keys + half, out + half, n - half, !into);
    if (into)
        s_keys_merge (keys, half, keys + half, n - half, out);
    else
        s_keys_merge (out, half, out + half, n - half, keys);
}

//  One half of a parallel sort.
typedef struct {
    s_sort_key_t *keys;
    s_sort_key_t *out;
    size_t n;
} s_sort_half_t;

static void *
s_sort_half (void *arg)
{
    s_sort_half_t *half = (s_sort_half_t *) arg;
    s_keys_sort (half->keys, half->out, half->n, true);
    return NULL;
}

//  Sorts keys[0 .. n), using spare[0 .. n), the second half on a thread of
//  its own when there are many keys: the sink sorts once, at the end of
//  the job, when every other process has done its work and a core is free.
//  Returns where the sorted keys are: keys or spare.
static s_sort_key_t *
s_keys_sort_parallel (s_sort_key_t *keys, s_sort_key_t *spare, size_t n)
{
    size_t half = n / 2;
    s_sort_half_t second = { keys + half, spare + half, n - half };
    pthread_t thread;
    if (n < S_SORT_PARALLEL || pthread_create (&thread, NULL, s_sort_half, &second)) {
        s_keys_sort (keys, spare, n, true);
        return spare;
    }
    s_keys_sort (keys, spare, half, true);
    pthread_join (thread, NULL);
    s_keys_merge (spare, half, spare + half, n - half, keys);
    return keys;
}

//  The sort key of an entry.
static inline s_sort_key_t
s_key_of (const zmr_entry_t *entry)
{
    uint8_t bytes [8] = { 0 };
    memcpy (bytes, entry->word, entry->len < 8? entry->len: 8);
    uint64_t prefix = 0;
    for (int b = 0; b < 8; b++)
        prefix = (prefix << 8) | bytes [b];
    return (s_sort_key_t) { (int64_t) entry->count, prefix, entry };
}

void
zmr_entries_sort (zmr_entry_t *entries, size_t count)
{
    assert (entries || count == 0);
    if (count < 2)
        return;
    //  Fresh memory: on huge pages when large, or faulting it in would
    //  cost as much as the sort
    size_t keys_size = 2 * count * sizeof (s_sort_key_t);
    size_t copy_size = count * sizeof (zmr_entry_t);
    s_sort_key_t *keys = (s_sort_key_t *) zmr_big_alloc (keys_size);
    zmr_entry_t *copy = (zmr_entry_t *) zmr_big_alloc (copy_size);
    if (!keys || !copy) {
        //  No room for keys: the slow sort needs none
        zmr_big_free (keys, keys_size);
        zmr_big_free (copy, copy_size);
        qsort (entries, count, sizeof (zmr_entry_t), zmr_entry_compare);
        return;
    }
    memcpy (copy, entries, count * sizeof *copy);
    for (size_t i = 0; i < count; i++)
        keys [i] = s_key_of (&copy [i]);
    const s_sort_key_t *sorted = s_keys_sort_parallel (keys, keys + count, count);
    for (size_t i = 0; i < count; i++)
        entries [i] = *sorted [i].entry;
    zmr_big_free (copy, copy_size);
    zmr_big_free (keys, keys_size);
}

const zmr_entry_t **
zmr_entries_order (const zmr_entry_t *const *runs, const size_t *counts, size_t nruns,
                   size_t *total)
{
    assert (total);
    assert (runs || nruns == 0);
    size_t count = 0;
    for (size_t r = 0; r < nruns; r++)
        count += counts [r];
    *total = count;
    const zmr_entry_t **order = malloc ((count? count: 1) * sizeof *order);
    size_t keys_size = 2 * count * sizeof (s_sort_key_t);
    s_sort_key_t *keys = count? (s_sort_key_t *) zmr_big_alloc (keys_size): NULL;
    if (!order || (count && !keys)) {
        free (order);
        zmr_big_free (keys, keys_size);
        return NULL;
    }
    if (count == 0)
        return order;
    size_t at = 0;
    for (size_t r = 0; r < nruns; r++)
        for (size_t i = 0; i < counts [r]; i++)
            keys [at++] = s_key_of (&runs [r][i]);
    const s_sort_key_t *sorted = s_keys_sort_parallel (keys, keys + count, count);
    for (size_t i = 0; i < count; i++)
        order [i] = sorted [i].entry;
    zmr_big_free (keys, keys_size);
    return order;
}

zmr_entry_t *
zmr_counts_sorted (zmr_counts_t *self, size_t *count)
{
    *count = zmr_counts_size (self);
    zmr_entry_t *copy = malloc ((*count? *count: 1) * sizeof *copy);
    if (copy) {
        memcpy (copy, zmr_counts_entries (self), *count * sizeof *copy);
        zmr_entries_sort (copy, *count);
    }
    return copy;
}
