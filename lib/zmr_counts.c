/*  zmr_counts: the word -> count table every role spends its time in.
    Entries sit in a dense array in insertion order; a power-of-two index of
    uint32 entry numbers (0 = empty) is probed linearly and kept at most half
    full; words are copied into large arena blocks, so an insert costs one
    memcpy and no malloc. */
#include "zmr_counts.h"
#include "zmr_tokenize.h"
#include "zmr_big.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ZMR_COUNTS_BLOCK    (1u << 20)  //  Arena block for ordinary words
#define ZMR_COUNTS_LARGE    (ZMR_COUNTS_BLOCK / 4)  //  Words this long get a block of their own
#define ZMR_COUNTS_SLOTS    1024        //  Initial index size (a power of two)
#define ZMR_COUNTS_ENTRIES  512         //  Initial entries capacity

typedef struct _s_block_t s_block_t;
struct _s_block_t {
    s_block_t *next;            //  Next block in its list
    size_t capacity;            //  Bytes in data
    size_t used;                //  Bytes of data holding words
    char data [];               //  Words, each followed by a NUL byte
};

struct _zmr_counts_t {
    zmr_entry_t *entries;       //  Dense, insertion order
    size_t size;                //  Entries in use
    size_t capacity;            //  Entries allocated
    uint32_t *index;            //  Entry number + 1 per slot, 0 = empty
    size_t mask;                //  Index slots - 1 (slots is a power of two)
    uint64_t total;             //  Sum of all counts
    s_block_t *blocks;          //  Arena blocks in use, head is the current one
    s_block_t *spare;           //  Blocks emptied by clear, for reuse
    size_t arena_bytes;         //  Capacity of all blocks in both lists
    uint32_t round;             //  Current round, 0 when rounds are unused
    uint32_t *touched;          //  Entries touched in the round
    size_t ntouched;            //  Entries in touched
    size_t touched_size;        //  Allocated entries of touched
};


//  --------------------------------------------------------------------------
//  The hash: a wyhash-style multiply-and-fold over 8-byte reads. Words are
//  mostly short, so lengths up to 16 take one multiply and no loop.

#define S_K0  0xa0761d6478bd642full
#define S_K1  0xe7037ed1a0b428dbull
#define S_K2  0x8ebc6af09c88c6e3ull
#define S_K3  0x589965cc75374cc3ull

static inline uint64_t
s_fold (uint64_t a, uint64_t b)
{
    __uint128_t product = (__uint128_t) a * b;
    return (uint64_t) product ^ (uint64_t) (product >> 64);
}

static inline uint64_t
s_read64 (const uint8_t *p)
{
    uint64_t value;
    memcpy (&value, p, 8);
    return value;
}

static inline uint64_t
s_read32 (const uint8_t *p)
{
    uint32_t value;
    memcpy (&value, p, 4);
    return value;
}

static inline uint64_t
s_hash (const void *word, size_t len)
{
    const uint8_t *p = (const uint8_t *) word;
    uint64_t a, b;
    if (len <= 16) {
        //  Most words: one multiply over two reads that cover every byte.
        if (len >= 4) {
            //  Two overlapping 4-byte reads from each end cover 4..16 bytes
            size_t step = (len >> 3) << 2;
            a = (s_read32 (p) << 32) | s_read32 (p + step);
            b = (s_read32 (p + len - 4) << 32) | s_read32 (p + len - 4 - step);
        }
        else
        if (len > 0) {
            a = ((uint64_t) p [0] << 16) | ((uint64_t) p [len >> 1] << 8) | p [len - 1];
            b = 0;
        }
        else
            a = b = 0;
        return s_fold (a ^ S_K0 ^ len, b ^ S_K1);
    }
    uint64_t seed = S_K0 ^ s_fold (len ^ S_K1, S_K0);
    size_t left = len;
    if (left > 48) {
        //  Three independent lanes let the multiplies overlap
        uint64_t seed1 = seed, seed2 = seed;
        do {
            seed  = s_fold (s_read64 (p)      ^ S_K1, s_read64 (p + 8)  ^ seed);
            seed1 = s_fold (s_read64 (p + 16) ^ S_K2, s_read64 (p + 24) ^ seed1);
            seed2 = s_fold (s_read64 (p + 32) ^ S_K3, s_read64 (p + 40) ^ seed2);
            p += 48;
            left -= 48;
        } while (left > 48);
        seed ^= seed1 ^ seed2;
    }
    while (left > 16) {
        seed = s_fold (s_read64 (p) ^ S_K1, s_read64 (p + 8) ^ seed);
        p += 16;
        left -= 16;
    }
    //  The last 16 bytes, overlapping what the loop already took
    a = s_read64 (p + left - 16);
    b = s_read64 (p + left - 8);
    return s_fold (S_K1 ^ len, s_fold (a ^ S_K1, b ^ seed));
}

//  Whether stored[0 .. len) equals word[0 .. len): short words with a few
//  overlapping loads (never reading past either), long ones with memcmp.
static inline bool
s_same (const char *stored, const void *word, size_t len)
{
    const uint8_t *x = (const uint8_t *) stored;
    const uint8_t *y = (const uint8_t *) word;
    if (len >= 8 && len <= 16)
        return s_read64 (x) == s_read64 (y)
            && s_read64 (x + len - 8) == s_read64 (y + len - 8);
    if (len >= 4 && len < 8)
        return s_read32 (x) == s_read32 (y)
            && s_read32 (x + len - 4) == s_read32 (y + len - 4);
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

//  Returns a block with room for need bytes, from the spare list or new,
//  or NULL on out-of-memory. The block is not yet linked into blocks.
static s_block_t *
s_block_take (zmr_counts_t *self, size_t need, size_t capacity)
{
    for (s_block_t **link = &self->spare; *link; link = &(*link)->next) {
        s_block_t *block = *link;
        if (block->capacity >= need) {
            *link = block->next;
            block->next = NULL;
            block->used = 0;
            return block;
        }
    }
    s_block_t *block = (s_block_t *) zmr_big_alloc (sizeof (s_block_t) + capacity);
    if (!block)
        return NULL;
    block->next = NULL;
    block->capacity = capacity;
    block->used = 0;
    self->arena_bytes += capacity;
    return block;
}

//  Copies word into the arena, followed by a NUL byte. Returns the copy,
//  or NULL on out-of-memory with the arena as it was.
static const char *
s_arena_copy (zmr_counts_t *self, const void *word, size_t len)
{
    size_t need = len + 1;
    s_block_t *block = self->blocks;
    if (!block || block->capacity - block->used < need) {
        if (need >= ZMR_COUNTS_LARGE) {
            //  A long word gets its own block, linked behind the current
            //  one so that the room left there is still used
            block = s_block_take (self, need, need);
            if (!block)
                return NULL;
            if (self->blocks) {
                block->next = self->blocks->next;
                self->blocks->next = block;
            }
            else
                self->blocks = block;
        }
        else {
            block = s_block_take (self, need, ZMR_COUNTS_BLOCK);
            if (!block)
                return NULL;
            block->next = self->blocks;
            self->blocks = block;
        }
    }
    char *copy = block->data + block->used;
    if (len)
        memcpy (copy, word, len);
    copy [len] = 0;
    block->used += need;
    return copy;
}


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

static void
s_blocks_free (s_block_t *block)
{
    while (block) {
        s_block_t *next = block->next;
        zmr_big_free (block, sizeof (s_block_t) + block->capacity);
        block = next;
    }
}

void
zmr_counts_destroy (zmr_counts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_counts_t *self = *self_p;
    s_blocks_free (self->spare);
    s_blocks_free (self->blocks);
    zmr_big_free (self->index, (self->mask + 1) * sizeof (uint32_t));
    zmr_big_free (self->entries, self->capacity * sizeof (zmr_entry_t));
    free (self->touched);
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
    const char *copy = s_arena_copy (self, word, len);
    if (!copy)
        return NULL;

    zmr_entry_t *entry = &self->entries [self->size];
    entry->word = copy;
    entry->len = (uint32_t) len;
    entry->aux = 0;
    entry->count = delta;
    entry->hash = (uint32_t) hash;
    entry->round = 0;
    self->size++;
    self->index [slot] = (uint32_t) self->size;
    return entry;
}

//  zmr_counts_add with the word's hash already known.
static inline zmr_entry_t *
s_add_hashed (zmr_counts_t *self, const void *word, size_t len, uint64_t hash,
              uint64_t delta, bool *is_new)
{
    size_t slot = s_probe (self, word, len, hash);
    uint32_t ref = self->index [slot];
    if (ref) {
        zmr_entry_t *entry = &self->entries [ref - 1];
        entry->count += delta;
        self->total += delta;
        if (is_new)
            *is_new = false;
        return entry;
    }
    zmr_entry_t *entry = s_insert (self, word, len, hash, slot, delta);
    if (entry) {
        self->total += delta;
        if (is_new)
            *is_new = true;
    }
    return entry;
}

zmr_entry_t *
zmr_counts_add (zmr_counts_t *self, const void *word, size_t len,
                uint64_t delta, bool *is_new)
{
    assert (self);
    assert (word || len == 0);
    assert (len <= UINT32_MAX);
    return s_add_hashed (self, word, len, s_hash (word, len), delta, is_new);
}

int
zmr_counts_add_pairs (zmr_counts_t *self, const zmr_pair_t *pairs, size_t n)
{
    assert (self);
    assert (pairs || n == 0);
    //  As in s_add_text_batched: index slots, then entries, then the adds.
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
                               pairs [i].count, NULL))
                return -1;
    }
    return 0;
}

//  Lists entry number as touched in the round. Returns 0 or -1.
static int
s_touch (zmr_counts_t *self, size_t number)
{
    if (self->ntouched == self->touched_size) {
        size_t size = self->touched_size? self->touched_size * 2: 4096;
        uint32_t *touched = (uint32_t *) realloc (self->touched, size * sizeof (uint32_t));
        if (!touched)
            return -1;
        self->touched = touched;
        self->touched_size = size;
    }
    self->touched [self->ntouched++] = (uint32_t) number;
    return 0;
}

//  Words of a batch in zmr_counts_add_text: hashed, their slots prefetched.
typedef struct {
    const char *word;
    size_t len;
    uint64_t hash;
} s_pending_t;

#define S_SMALL_INDEX (1u << 16)    //  Index slots below which no batching

//  Counts one word of zmr_counts_add_text. Returns 0 or -1.
static inline __attribute__ ((always_inline)) int
s_count_word (zmr_counts_t *self, const char *word, size_t len, uint64_t hash,
              uint32_t round, zmr_counts_new_fn *on_new, void *arg)
{
    size_t slot = s_probe (self, word, len, hash);
    uint32_t ref = self->index [slot];
    zmr_entry_t *entry;
    if (ref)
        entry = &self->entries [ref - 1];
    else {
        entry = s_insert (self, word, len, hash, slot, 0);
        if (!entry || (on_new && on_new (entry, arg)))
            return -1;
    }
    if (entry->round != round) {
        //  First time in this round: its count restarts.
        if (s_touch (self, (size_t) (entry - self->entries)))
            return -1;
        entry->round = round;
        entry->count = 0;
    }
    entry->count++;
    return 0;
}

//  zmr_counts_add_text word by word, for a table that stays in cache.
static int
s_add_text_direct (zmr_counts_t *self, zmr_words_t *scan, zmr_counts_new_fn *on_new,
                   void *arg, uint64_t *counted)
{
    uint32_t round = self->round;
    const char *word;
    size_t word_len;
    uint64_t words = 0;         //  Not *counted: it would alias the counts
    int rc = 0;
    while (zmr_words_next (scan, &word, &word_len)) {
        if (s_count_word (self, word, word_len, s_hash (word, word_len), round, on_new, arg)) {
            rc = -1;
            break;
        }
        words++;
    }
    *counted = words;
    return rc;
}

//  zmr_counts_add_text in batches, for a large table. A word costs two
//  dependent cache misses when probed at once (its index slot, then its
//  entry); here the slots of a batch are prefetched first, then their
//  entries, then the words are counted, so the misses overlap. Prefetches
//  are hints only: counting probes afresh, so inserts and growth within a
//  batch are harmless.
static int
s_add_text_batched (zmr_counts_t *self, zmr_words_t *scan, zmr_counts_new_fn *on_new,
                    void *arg, uint64_t *counted)
{
    uint32_t round = self->round;
    s_pending_t batch [ZMR_COUNTS_BATCH];
    uint64_t words = 0;
    int rc = 0;
    bool more = true;
    while (more && rc == 0) {
        size_t n = 0;
        while (n < ZMR_COUNTS_BATCH
           && (more = zmr_words_next (scan, &batch [n].word, &batch [n].len))) {
            batch [n].hash = s_hash (batch [n].word, batch [n].len);
            __builtin_prefetch (&self->index [(uint32_t) batch [n].hash & self->mask]);
            n++;
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t ref = self->index [(uint32_t) batch [i].hash & self->mask];
            if (ref)
                __builtin_prefetch (&self->entries [ref - 1]);
        }
        for (size_t i = 0; i < n; i++) {
            if (s_count_word (self, batch [i].word, batch [i].len, batch [i].hash, round,
                              on_new, arg)) {
                rc = -1;
                break;
            }
            words++;
        }
    }
    *counted = words;
    return rc;
}

int
zmr_counts_add_text (zmr_counts_t *self, const char *text, size_t len,
                     zmr_counts_new_fn *on_new, void *arg, uint64_t *words)
{
    assert (self);
    assert (text || len == 0);
    zmr_words_t scan;
    zmr_words_init (&scan, text, len);
    uint64_t counted = 0;
    //  Measured on 100 MB, one thread, best of 5: batches take Zipf text
    //  (339k distinct words) from 463-577 ms to 341-378, and the KJV (29k)
    //  from 288-310 to 388; so they start where the index outgrows the
    //  cache.
    int rc = self->mask < S_SMALL_INDEX
           ? s_add_text_direct (self, &scan, on_new, arg, &counted)
           : s_add_text_batched (self, &scan, on_new, arg, &counted);
    self->total += counted;
    *words = counted;
    return rc;
}

void
zmr_counts_next_round (zmr_counts_t *self)
{
    assert (self);
    self->round++;
    if (self->round == 0) {
        //  Wrapped after 2^32 rounds: no entry may look touched.
        for (size_t i = 0; i < self->size; i++)
            self->entries [i].round = 0;
        self->round = 1;
    }
    self->ntouched = 0;
}

const uint32_t *
zmr_counts_touched (zmr_counts_t *self, size_t *count)
{
    assert (self);
    *count = self->ntouched;
    return self->touched;
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
    self->ntouched = 0;
    //  Every block goes to the spare list, to be refilled by later adds
    while (self->blocks) {
        s_block_t *block = self->blocks;
        self->blocks = block->next;
        block->next = self->spare;
        self->spare = block;
    }
}

size_t
zmr_counts_memory (zmr_counts_t *self)
{
    assert (self);
    return self->capacity * sizeof (zmr_entry_t)
         + (self->mask + 1) * sizeof (uint32_t)
         + self->arena_bytes;
}

int
zmr_entry_compare (const void *a, const void *b)
{
    const zmr_entry_t *left = (const zmr_entry_t *) a;
    const zmr_entry_t *right = (const zmr_entry_t *) b;
    if (left->count != right->count)
        return left->count > right->count ? -1 : 1;
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
    uint64_t count;             //  The entry's count
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

static void
    s_keys_merge (s_sort_key_t *keys, s_sort_key_t *spare, size_t n, size_t half);

//  Sorts keys[0 .. n) with spare[0 .. n) as room to merge in.
static void
s_keys_sort (s_sort_key_t *keys, s_sort_key_t *spare, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            s_sort_key_t key = keys [i];
            size_t at = i;
            for (; at > 0 && s_key_before (&key, &keys [at - 1]); at--)
                keys [at] = keys [at - 1];
            keys [at] = key;
        }
        return;
    }
    size_t half = n / 2;
    s_keys_sort (keys, spare, half);
    s_keys_sort (keys + half, spare + half, n - half);
    s_keys_merge (keys, spare, n, half);
}

//  Merges the sorted keys[0 .. half) and keys[half .. n) with spare[0 .. n)
//  as room.
static void
s_keys_merge (s_sort_key_t *keys, s_sort_key_t *spare, size_t n, size_t half)
{
    if (!s_key_before (&keys [half], &keys [half - 1]))
        return;                 //  In order already
    memcpy (spare, keys, n * sizeof *keys);
    size_t left = 0, right = half, out = 0;
    while (left < half && right < n)
        keys [out++] = s_key_before (&spare [right], &spare [left])
                     ? spare [right++]: spare [left++];
    while (left < half)
        keys [out++] = spare [left++];
    while (right < n)
        keys [out++] = spare [right++];
}

//  One half of a parallel sort.
typedef struct {
    s_sort_key_t *keys;
    s_sort_key_t *spare;
    size_t n;
} s_sort_half_t;

static void *
s_sort_half (void *arg)
{
    s_sort_half_t *half = (s_sort_half_t *) arg;
    s_keys_sort (half->keys, half->spare, half->n);
    return NULL;
}

//  s_keys_sort, the second half on a thread of its own when there are many
//  keys: the sink sorts once, at the end of the job, when every other
//  process has done its work and a core is free.
static void
s_keys_sort_parallel (s_sort_key_t *keys, s_sort_key_t *spare, size_t n)
{
    size_t half = n / 2;
    s_sort_half_t second = { keys + half, spare + half, n - half };
    pthread_t thread;
    if (n < S_SORT_PARALLEL || pthread_create (&thread, NULL, s_sort_half, &second)) {
        s_keys_sort (keys, spare, n);
        return;
    }
    s_keys_sort (keys, spare, half);
    pthread_join (thread, NULL);
    s_keys_merge (keys, spare, n, half);
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
    for (size_t i = 0; i < count; i++) {
        uint8_t bytes [8] = { 0 };
        memcpy (bytes, copy [i].word, copy [i].len < 8? copy [i].len: 8);
        uint64_t prefix = 0;
        for (int b = 0; b < 8; b++)
            prefix = (prefix << 8) | bytes [b];
        keys [i] = (s_sort_key_t) { copy [i].count, prefix, &copy [i] };
    }
    s_keys_sort_parallel (keys, keys + count, count);
    for (size_t i = 0; i < count; i++)
        entries [i] = *keys [i].entry;
    zmr_big_free (copy, copy_size);
    zmr_big_free (keys, keys_size);
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
