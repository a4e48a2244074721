/*  zmr_hash: the pieces the word tables hash with (zmr_counts, zmr_combiner):
    a wyhash-style multiply-and-fold over unaligned little-endian loads. */
#ifndef ZMR_HASH_H
#define ZMR_HASH_H
#include <stdint.h>
#include <string.h>

#define ZMR_HASH_K0  0xa0761d6478bd642full
#define ZMR_HASH_K1  0xe7037ed1a0b428dbull
#define ZMR_HASH_K2  0x8ebc6af09c88c6e3ull
#define ZMR_HASH_K3  0x589965cc75374cc3ull

//  The 128-bit product of a and b, its halves xor-ed.
static inline uint64_t
zmr_hash_fold (uint64_t a, uint64_t b)
{
    __uint128_t product = (__uint128_t) a * b;
    return (uint64_t) product ^ (uint64_t) (product >> 64);
}

//  8 bytes at p, any alignment.
static inline uint64_t
zmr_hash_load64 (const void *p)
{
    uint64_t value;
    memcpy (&value, p, 8);
    return value;
}

//  4 bytes at p, any alignment.
static inline uint64_t
zmr_hash_load32 (const void *p)
{
    uint32_t value;
    memcpy (&value, p, 4);
    return value;
}

#endif
