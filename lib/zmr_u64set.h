/*  zmr_u64set: a set of 64-bit numbers (the chunk ids a reducer has applied),
    held as ranges of consecutive values, so that its memory grows with the
    number of gaps between the values, not with the number of values. */
#ifndef ZMR_U64SET_H
#define ZMR_U64SET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _zmr_u64set_t zmr_u64set_t;

//  A run of consecutive values, both ends included (so that UINT64_MAX can
//  be a member like any other).
typedef struct {
    uint64_t first;                 //  Smallest value of the run
    uint64_t last;                  //  Largest value of the run, >= first
} zmr_u64range_t;

//  Creates an empty set, or NULL on out-of-memory.
zmr_u64set_t *
    zmr_u64set_new (void);

//  Destroys the set; accepts NULL and *self_p == NULL.
void
    zmr_u64set_destroy (zmr_u64set_t **self_p);

//  Inserts value. Returns 1 if it was new, 0 if already present, -1 on
//  out-of-memory (set unchanged).
int
    zmr_u64set_insert (zmr_u64set_t *self, uint64_t value);

//  Inserts every value from first to last, both included (first <= last).
//  Values already present are fine. Returns 0, or -1 on out-of-memory (set
//  unchanged).
int
    zmr_u64set_insert_range (zmr_u64set_t *self, uint64_t first, uint64_t last);

//  True if value is in the set.
bool
    zmr_u64set_contains (zmr_u64set_t *self, uint64_t value);

//  Number of values held (not of ranges); SIZE_MAX if that does not fit.
size_t
    zmr_u64set_size (zmr_u64set_t *self);

//  The set as ranges in increasing order, disjoint and never adjacent (a
//  gap of at least one value between two ranges); *count gets their number.
//  Borrowed: valid until the set next changes.
const zmr_u64range_t *
    zmr_u64set_ranges (zmr_u64set_t *self, size_t *count);

#endif
