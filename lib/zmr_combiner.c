/*  zmr_combiner: the mapper's combiner table. One open-addressing array of
    32-byte slots, probed linearly and kept at most half full; a slot holds
    the word's first 8 bytes, so most lookups settle inside the one cache
    line they land on, without following the pointer to the word's bytes.
    Words are hashed and their slots prefetched in batches before they are
    counted, so the cache misses of a large vocabulary overlap. Measured
    against zmr_counts (index of entry numbers, then entries, then bytes:
    three dependent loads a word) in the commit that brought it. */
#include "zmr_combiner.h"
#include "zmr_tokenize.h"
#include "zmr_hash.h"
#include "zmr_arena.h"
#include "zmr_big.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_SLOTS_MIN     4096            //  Initial slots (a power of two)
#define S_BATCH         16              //  Words hashed and prefetched together

struct _zmr_combiner_t {
    zmr_combined_t *slots;      //  mask + 1 slots; word == NULL: empty
    size_t mask;                //  Slots - 1
    size_t size;                //  Slots in use
    uint32_t round;             //  The current round (from 1)
    uint64_t round_bytes;       //  Text counted in the round
    zmr_combined_t **touched;   //  Slots touched in the round
    size_t ntouched;            //  Entries of touched in use
    size_t touched_cap;         //  Entries of touched allocated
    zmr_arena_t arena;          //  The words
};


//  --------------------------------------------------------------------------
//  Hashing and comparing: 8-byte loads, never outside the word itself, but
//  for the head of a short word, which is read whole only when the text
//  goes on for 8 more bytes.


//  The first min(len, 8) bytes of p, zero-padded; end is where the readable
//  bytes stop.
static inline uint64_t
s_head (const char *p, size_t len, const char *end)
{
    if (len >= 8)
        return zmr_hash_load64 (p);
    uint64_t value = 0;
    if (__builtin_expect (end - p >= 8, 1))
        value = zmr_hash_load64 (p);
    else
        memcpy (&value, p, len);
    //  Little-endian: the word's bytes are the low ones
    return len? value & (~0ull >> (64 - 8 * len)): 0;
}

static inline uint64_t
s_hash (const char *p, size_t len, uint64_t head)
{
    if (__builtin_expect (len <= 8, 1))
        return zmr_hash_fold (head ^ ZMR_HASH_K0, len ^ ZMR_HASH_K1);
    uint64_t hash = zmr_hash_fold (head ^ ZMR_HASH_K0, len ^ ZMR_HASH_K1);
    size_t at = 8;
    for (; at + 8 < len; at += 8)
        hash = zmr_hash_fold (hash ^ zmr_hash_load64 (p + at) ^ ZMR_HASH_K2, ZMR_HASH_K1);
    //  The last 8 bytes, overlapping what the loop took
    return zmr_hash_fold (hash ^ zmr_hash_load64 (p + len - 8) ^ ZMR_HASH_K2, ZMR_HASH_K0);
}

//  Whether two words of the same length len > 8 and the same head match.
static inline bool
s_same_tail (const char *x, const char *y, size_t len)
{
    if (len <= 16)
        return zmr_hash_load64 (x + len - 8) == zmr_hash_load64 (y + len - 8);
    return memcmp (x + 8, y + 8, len - 8) == 0;
}


//  --------------------------------------------------------------------------

zmr_combiner_t *
zmr_combiner_new (void)
{
    zmr_combiner_t *self = (zmr_combiner_t *) calloc (1, sizeof (zmr_combiner_t));
    if (!self)
        return NULL;
    zmr_arena_init (&self->arena);
    self->slots = (zmr_combined_t *) zmr_big_alloc (S_SLOTS_MIN * sizeof (zmr_combined_t));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->mask = S_SLOTS_MIN - 1;
    return self;
}

void
zmr_combiner_destroy (zmr_combiner_t **self_p)
{
    zmr_combiner_t *self = self_p? *self_p: NULL;
    if (!self)
        return;
    zmr_arena_destroy (&self->arena);
    free (self->touched);
    zmr_big_free (self->slots, (self->mask + 1) * sizeof (zmr_combined_t));
    free (self);
    *self_p = NULL;
}

//  Doubles the slots and lists the round's touched slots anew (their order
//  changes). Returns 0, or -1 on out-of-memory, leaving the table as it was.
static int
s_grow (zmr_combiner_t *self)
{
    size_t slots = (self->mask + 1) * 2;
    zmr_combined_t *grown = (zmr_combined_t *) zmr_big_alloc (slots * sizeof (zmr_combined_t));
    if (!grown)
        return -1;
    size_t mask = slots - 1;
    self->ntouched = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        zmr_combined_t *old = &self->slots [i];
        if (!old->word)
            continue;
        size_t at = s_hash (old->word, old->len, old->head) & mask;
        while (grown [at].word)
            at = (at + 1) & mask;
        grown [at] = *old;
        //  The touched list had room for every touched slot, and still has
        if (old->round == self->round)
            self->touched [self->ntouched++] = &grown [at];
    }
    zmr_big_free (self->slots, (self->mask + 1) * sizeof (zmr_combined_t));
    self->slots = grown;
    self->mask = mask;
    return 0;
}

//  The slot of a word: where it is, or the empty one where it would go.
static inline zmr_combined_t *
s_probe (zmr_combiner_t *self, const char *word, size_t len, uint64_t head, uint64_t hash)
{
    size_t at = hash & self->mask;
    for (;;) {
        zmr_combined_t *slot = &self->slots [at];
        if (!slot->word
        || (slot->head == head && slot->len == len
            && (len <= 8 || s_same_tail (slot->word, word, len))))
            return slot;
        at = (at + 1) & self->mask;
    }
}

//  Puts a new word in its empty slot, once on_new agreed. Returns the slot
//  (moved if the table grew), or NULL on out-of-memory or when on_new said
//  stop, leaving the table without the word.
static __attribute__ ((noinline)) zmr_combined_t *
s_insert (zmr_combiner_t *self, zmr_combined_t *slot, const char *word, size_t len,
          uint64_t head, uint64_t hash, zmr_combiner_new_fn *on_new, void *arg)
{
    zmr_combined_t fresh = { .head = head, .word = word, .len = (uint32_t) len };
    if (on_new && on_new (&fresh, arg))
        return NULL;
    fresh.word = zmr_arena_copy (&self->arena, word, len);
    if (!fresh.word)
        return NULL;
    *slot = fresh;
    self->size++;
    if (self->size > (self->mask + 1) / 2) {
        if (s_grow (self)) {
            //  Take the word out again: nothing was put in after it, so no
            //  word's probe passes through its slot
            memset (slot, 0, sizeof *slot);
            self->size--;
            return NULL;
        }
        slot = s_probe (self, word, len, head, hash);
    }
    return slot;
}

//  Counts one word whose slot may be prefetched already. Returns 0 or -1.
static inline int
s_count (zmr_combiner_t *self, const char *word, size_t len, uint64_t head, uint64_t hash,
         zmr_combiner_new_fn *on_new, void *arg)
{
    zmr_combined_t *slot = s_probe (self, word, len, head, hash);
    if (__builtin_expect (!slot->word, 0)) {
        slot = s_insert (self, slot, word, len, head, hash, on_new, arg);
        if (!slot)
            return -1;
    }
    if (slot->round != self->round) {
        //  First time in this round: its count restarts
        if (self->ntouched == self->touched_cap) {
            size_t cap = self->touched_cap? self->touched_cap * 2: 4096;
            zmr_combined_t **touched = (zmr_combined_t **)
                realloc (self->touched, cap * sizeof *touched);
            if (!touched)
                return -1;
            self->touched = touched;
            self->touched_cap = cap;
        }
        self->touched [self->ntouched++] = slot;
        slot->round = self->round;
        slot->count = 0;
    }
    slot->count++;
    return 0;
}

//  A word of a batch: hashed, its slot prefetched.
typedef struct {
    const char *word;
    size_t len;
    uint64_t head;
    uint64_t hash;
} s_pending_t;

void
zmr_combiner_round (zmr_combiner_t *self)
{
    assert (self);
    self->round++;
    if (self->round == 0) {
        //  Wrapped after 2^32 rounds: no slot may look touched
        for (size_t i = 0; i <= self->mask; i++)
            self->slots [i].round = 0;
        self->round = 1;
    }
    self->ntouched = 0;
    self->round_bytes = 0;
}

int
zmr_combiner_count (zmr_combiner_t *self, const char *text, size_t len,
                    zmr_combiner_new_fn *on_new, void *arg, uint64_t *words)
{
    zmr_combiner_round (self);
    return zmr_combiner_add (self, text, len, on_new, arg, words);
}

int
zmr_combiner_add (zmr_combiner_t *self, const char *text, size_t len,
                  zmr_combiner_new_fn *on_new, void *arg, uint64_t *words)
{
    assert (self);
    assert (text || len == 0);
    assert (words);
    *words = 0;
    //  A round of 4 GiB of text or less has fewer than 2^32 words: no count
    //  can overflow its 32 bits
    if (len > UINT32_MAX || self->round_bytes + len > UINT32_MAX)
        return -1;
    self->round_bytes += len;
    const char *end = text + len;
    zmr_words_t scan;
    zmr_words_init (&scan, text, len);
    s_pending_t batch [S_BATCH];
    uint64_t counted = 0;
    bool more = true;
    while (more) {
        size_t n = 0;
        while (n < S_BATCH && (more = zmr_words_next (&scan, &batch [n].word, &batch [n].len))) {
            s_pending_t *it = &batch [n++];
            it->head = s_head (it->word, it->len, end);
            it->hash = s_hash (it->word, it->len, it->head);
            __builtin_prefetch (&self->slots [it->hash & self->mask]);
        }
        for (size_t i = 0; i < n; i++) {
            if (s_count (self, batch [i].word, batch [i].len, batch [i].head, batch [i].hash,
                         on_new, arg)) {
                *words = counted;
                return -1;
            }
            counted++;
        }
    }
    *words = counted;
    return 0;
}

zmr_combined_t **
zmr_combiner_touched (zmr_combiner_t *self, size_t *count)
{
    assert (self);
    assert (count);
    *count = self->ntouched;
    return self->touched;
}

zmr_combined_t *
zmr_combiner_lookup (zmr_combiner_t *self, const char *word, size_t len)
{
    assert (self);
    assert (word || len == 0);
    if (len > UINT32_MAX)
        return NULL;
    uint64_t head = s_head (word, len, word + len);
    zmr_combined_t *slot = s_probe (self, word, len, head, s_hash (word, len, head));
    return slot->word? slot: NULL;
}

size_t
zmr_combiner_size (zmr_combiner_t *self)
{
    assert (self);
    return self->size;
}

int
zmr_combiner_release (zmr_combiner_t *self)
{
    assert (self);
    zmr_combiner_clear (self);
    zmr_arena_destroy (&self->arena);
    free (self->touched);
    self->touched = NULL;
    self->touched_cap = 0;
    if (self->mask + 1 == S_SLOTS_MIN)
        return 0;
    zmr_combined_t *slots = (zmr_combined_t *)
        zmr_big_alloc (S_SLOTS_MIN * sizeof (zmr_combined_t));
    if (!slots)
        return -1;
    zmr_big_free (self->slots, (self->mask + 1) * sizeof (zmr_combined_t));
    self->slots = slots;
    self->mask = S_SLOTS_MIN - 1;
    return 0;
}

size_t
zmr_combiner_memory (zmr_combiner_t *self)
{
    assert (self);
    size_t bytes = (self->mask + 1) * sizeof (zmr_combined_t)
                 + self->touched_cap * sizeof (zmr_combined_t *);
    return bytes + zmr_arena_memory (&self->arena);
}

void
zmr_combiner_clear (zmr_combiner_t *self)
{
    assert (self);
    memset (self->slots, 0, (self->mask + 1) * sizeof (zmr_combined_t));
    self->size = 0;
    self->ntouched = 0;
    zmr_arena_clear (&self->arena);
}
