/*  zmr_u64set: a set of 64-bit numbers as a sorted array of ranges.

    Chunk ids are numbered 0, 1, 2, ... and a reducer applies them nearly in
    order, so the ids it holds are a few long runs with a few holes (chunks
    still in flight, or quarantined). The set keeps the runs, not the ids:
    an array of inclusive ranges [first, last], sorted, disjoint and never
    adjacent (two ranges one value apart are merged into one). Memory is 16
    bytes per run, whatever the runs' lengths. Lookups are a binary search;
    an insert extends, joins or opens a range, and only opening one (a new
    hole) moves the tail of the array, which is short in the common case of
    ids that arrive near the end.

    Ranges include both ends so that UINT64_MAX needs no special case. The
    number of values is kept modulo 2^64: it can reach 2^64 only for the
    one range [0, UINT64_MAX], told from the empty set by its range. */
#include "zmr_u64set.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_MIN_CAP 8                 //  Ranges allocated at the first insert

struct _zmr_u64set_t {
    zmr_u64range_t *ranges;         //  Sorted, disjoint, non-adjacent
    size_t count;                   //  Ranges in use
    size_t cap;                     //  Ranges allocated
    uint64_t values;                //  Values held, modulo 2^64
};

zmr_u64set_t *
zmr_u64set_new (void)
{
    return (zmr_u64set_t *) calloc (1, sizeof (zmr_u64set_t));
}

void
zmr_u64set_destroy (zmr_u64set_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_u64set_t *self = *self_p;
    free (self->ranges);
    free (self);
    *self_p = NULL;
}

//  Index of the first range whose last value is >= value, or count.
static size_t
s_first_ending_at_or_after (const zmr_u64set_t *self, uint64_t value)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->ranges [mid].last < value)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

//  Index of the first range whose first value is > value, or count.
static size_t
s_first_starting_after (const zmr_u64set_t *self, uint64_t value)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->ranges [mid].first <= value)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

//  Number of values in range, modulo 2^64 ([0, UINT64_MAX] gives 0).
static inline uint64_t
s_length (zmr_u64range_t range)
{
    return range.last - range.first + 1;
}

//  Makes room for one more range. Returns 0, or -1 with the set unchanged.
static int
s_reserve (zmr_u64set_t *self)
{
    if (self->count < self->cap)
        return 0;
    if (self->cap > SIZE_MAX / 2 / sizeof (zmr_u64range_t))
        return -1;
    size_t cap = self->cap? self->cap * 2: S_MIN_CAP;
    zmr_u64range_t *ranges = (zmr_u64range_t *) realloc (self->ranges,
                                                         cap * sizeof (zmr_u64range_t));
    if (!ranges)
        return -1;
    self->ranges = ranges;
    self->cap = cap;
    return 0;
}

//  Gives memory back once holes have closed, so the array follows the
//  number of holes now, not the most there ever were.
static void
s_shrink (zmr_u64set_t *self)
{
    if (self->cap <= S_MIN_CAP || self->count > self->cap / 4)
        return;
    size_t cap = self->cap / 2;
    zmr_u64range_t *ranges = (zmr_u64range_t *) realloc (self->ranges,
                                                         cap * sizeof (zmr_u64range_t));
    if (ranges) {                   //  Else keep the larger array
        self->ranges = ranges;
        self->cap = cap;
    }
}

int
zmr_u64set_insert_range (zmr_u64set_t *self, uint64_t first, uint64_t last)
{
    assert (self);
    assert (first <= last);
    //  Ranges [at, end) overlap or touch [first, last]; the ones before end
    //  before first - 1, the ones after start after last + 1.
    size_t at = s_first_ending_at_or_after (self, first? first - 1: 0);
    size_t end = last == UINT64_MAX? self->count: s_first_starting_after (self, last + 1);
    zmr_u64range_t range = { first, last };
    if (at == end) {
        if (s_reserve (self))
            return -1;
        memmove (self->ranges + at + 1, self->ranges + at,
                 (self->count - at) * sizeof (zmr_u64range_t));
        self->ranges [at] = range;
        self->count++;
        self->values += s_length (range);
        return 0;
    }
    uint64_t merged = 0;
    for (size_t i = at; i < end; i++)
        merged += s_length (self->ranges [i]);
    if (self->ranges [at].first < range.first)
        range.first = self->ranges [at].first;
    if (self->ranges [end - 1].last > range.last)
        range.last = self->ranges [end - 1].last;
    self->ranges [at] = range;
    memmove (self->ranges + at + 1, self->ranges + end,
             (self->count - end) * sizeof (zmr_u64range_t));
    self->count -= end - at - 1;
    self->values += s_length (range) - merged;
    s_shrink (self);
    return 0;
}

int
zmr_u64set_insert (zmr_u64set_t *self, uint64_t value)
{
    assert (self);
    if (zmr_u64set_contains (self, value))
        return 0;
    return zmr_u64set_insert_range (self, value, value)? -1: 1;
}

bool
zmr_u64set_contains (zmr_u64set_t *self, uint64_t value)
{
    assert (self);
    size_t at = s_first_ending_at_or_after (self, value);
    return at < self->count && self->ranges [at].first <= value;
}

size_t
zmr_u64set_size (zmr_u64set_t *self)
{
    assert (self);
    if (self->count > 0 && self->values == 0)
        return SIZE_MAX;            //  All 2^64 values
#if SIZE_MAX < UINT64_MAX
    if (self->values > SIZE_MAX)
        return SIZE_MAX;
#endif
    return (size_t) self->values;
}

const zmr_u64range_t *
zmr_u64set_ranges (zmr_u64set_t *self, size_t *count)
{
    assert (self);
    assert (count);
    *count = self->count;
    return self->ranges;
}
