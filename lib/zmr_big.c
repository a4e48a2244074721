/*  zmr_big: large zeroed arrays, on huge pages from 2 MiB on. */
#include "zmr_big.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define S_HUGE ((size_t) 2 << 20)

void *
zmr_big_alloc (size_t size)
{
    if (size < S_HUGE)
        return calloc (1, size? size: 1);
    size_t rounded = (size + S_HUGE - 1) & ~(S_HUGE - 1);
    uint8_t *raw = (uint8_t *) mmap (NULL, rounded + S_HUGE, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uint8_t *aligned = (uint8_t *) (((uintptr_t) raw + S_HUGE - 1) & ~(uintptr_t) (S_HUGE - 1));
    if (aligned > raw)
        munmap (raw, (size_t) (aligned - raw));
    if (aligned < raw + S_HUGE)
        munmap (aligned + rounded, (size_t) (raw + S_HUGE - aligned));
    madvise (aligned, rounded, MADV_HUGEPAGE);
    return aligned;
}

void
zmr_big_free (void *ptr, size_t size)
{
    if (!ptr)
        return;
    if (size < S_HUGE)
        free (ptr);
    else
        munmap (ptr, (size + S_HUGE - 1) & ~(S_HUGE - 1));
}

void *
zmr_big_grow (void *ptr, size_t old_size, size_t new_size)
{
    if (new_size < S_HUGE)
        return realloc (ptr, new_size);
    void *grown = zmr_big_alloc (new_size);
    if (grown) {
        memcpy (grown, ptr, old_size);
        zmr_big_free (ptr, old_size);
    }
    return grown;
}
