/*  zmr_u64set: a set of 64-bit numbers (the chunk ids a reducer has applied). */
#ifndef ZMR_U64SET_H
#define ZMR_U64SET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _zmr_u64set_t zmr_u64set_t;

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

//  True if value is in the set.
bool
    zmr_u64set_contains (zmr_u64set_t *self, uint64_t value);

//  Number of values held.
size_t
    zmr_u64set_size (zmr_u64set_t *self);

//  Copies every value into out (room for zmr_u64set_size values), in no
//  particular order. Returns the number copied.
size_t
    zmr_u64set_values (zmr_u64set_t *self, uint64_t *out);

#endif
