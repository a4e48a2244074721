/*  zmr_partition: which reducer owns a word (docs/design.md, property 2).
    p = SHA-1(word's bytes), read as one 160-bit big-endian unsigned integer,
    modulo R. */
#ifndef ZMR_PARTITION_H
#define ZMR_PARTITION_H
#include <stddef.h>
#include <stdint.h>

typedef struct _zmr_partitioner_t zmr_partitioner_t;

//  Creates a partitioner for R reducers (1 <= R <= ZMR_MAX_REDUCERS). It keeps
//  one fetched SHA-1 and one EVP context and reuses them for every word.
//  Returns NULL if OpenSSL cannot provide SHA-1.
zmr_partitioner_t *
    zmr_partitioner_new (uint32_t reducers);

//  Destroys the partitioner; accepts NULL and *self_p == NULL.
void
    zmr_partitioner_destroy (zmr_partitioner_t **self_p);

//  Partition of word[0 .. len) in 0 .. R-1.
uint32_t
    zmr_partitioner_of (zmr_partitioner_t *self, const void *word, size_t len);

//  The 160-bit big-endian number in digest, modulo reducers (>= 1).
uint32_t
    zmr_partition_mod (const uint8_t digest[20], uint32_t reducers);

//  One-shot convenience (creates a context per call: for tests and tools,
//  not for the hot path). Returns the partition of word under R reducers.
uint32_t
    zmr_partition_of (const void *word, size_t len, uint32_t reducers);

#endif
