/*  zmr_u64set: a set of 64-bit numbers by open addressing with linear
    probing, kept at most half full. Slot value 0 marks an empty slot, so the
    number 0 itself is held by a flag beside the table. */
#include "zmr_u64set.h"

#include <assert.h>
#include <stdlib.h>

#define ZMR_U64SET_SLOTS 64         //  Initial slots (a power of two)

struct _zmr_u64set_t {
    uint64_t *slots;                //  Values, 0 = empty slot
    size_t mask;                    //  Slots - 1
    size_t used;                    //  Non-zero values in slots
    bool has_zero;                  //  Whether 0 is in the set
};

//  Chunk ids are often consecutive; the splitmix64 finalizer spreads them
//  over the whole table.
static inline size_t
s_hash (uint64_t value)
{
    value ^= value >> 30;
    value *= 0xbf58476d1ce4e5b9ull;
    value ^= value >> 27;
    value *= 0x94d049bb133111ebull;
    value ^= value >> 31;
    return (size_t) value;
}

//  Returns the slot holding value, or the empty slot where it would go.
static size_t
s_probe (const uint64_t *slots, size_t mask, uint64_t value)
{
    size_t slot = s_hash (value) & mask;
    while (slots [slot] != 0 && slots [slot] != value)
        slot = (slot + 1) & mask;
    return slot;
}

zmr_u64set_t *
zmr_u64set_new (void)
{
    zmr_u64set_t *self = (zmr_u64set_t *) calloc (1, sizeof (*self));
    if (!self)
        return NULL;
    self->slots = (uint64_t *) calloc (ZMR_U64SET_SLOTS, sizeof (uint64_t));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->mask = ZMR_U64SET_SLOTS - 1;
    return self;
}

void
zmr_u64set_destroy (zmr_u64set_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_u64set_t *self = *self_p;
    free (self->slots);
    free (self);
    *self_p = NULL;
}

//  Doubles the table. Returns 0, or -1 on out-of-memory with the set as it was.
static int
s_grow (zmr_u64set_t *self)
{
    size_t count = (self->mask + 1) * 2;
    uint64_t *slots = (uint64_t *) calloc (count, sizeof (uint64_t));
    if (!slots)
        return -1;
    size_t mask = count - 1;
    for (size_t slot = 0; slot <= self->mask; slot++)
        if (self->slots [slot])
            slots [s_probe (slots, mask, self->slots [slot])] = self->slots [slot];
    free (self->slots);
    self->slots = slots;
    self->mask = mask;
    return 0;
}

int
zmr_u64set_insert (zmr_u64set_t *self, uint64_t value)
{
    assert (self);
    if (value == 0) {
        if (self->has_zero)
            return 0;
        self->has_zero = true;
        return 1;
    }
    size_t slot = s_probe (self->slots, self->mask, value);
    if (self->slots [slot] == value)
        return 0;
    if ((self->used + 1) * 2 > self->mask + 1) {
        if (s_grow (self))
            return -1;
        slot = s_probe (self->slots, self->mask, value);
    }
    self->slots [slot] = value;
    self->used++;
    return 1;
}

bool
zmr_u64set_contains (zmr_u64set_t *self, uint64_t value)
{
    assert (self);
    if (value == 0)
        return self->has_zero;
    return self->slots [s_probe (self->slots, self->mask, value)] == value;
}

size_t
zmr_u64set_size (zmr_u64set_t *self)
{
    assert (self);
    return self->used + (self->has_zero ? 1 : 0);
}

size_t
zmr_u64set_values (zmr_u64set_t *self, uint64_t *out)
{
    assert (self);
    size_t n = 0;
    if (self->has_zero)
        out [n++] = 0;
    for (size_t slot = 0; slot <= self->mask; slot++)
        if (self->slots [slot])
            out [n++] = self->slots [slot];
    return n;
}
