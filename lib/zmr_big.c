/*  zmr_big: large zeroed arrays, mapped apart from 64 KiB on, on huge
    pages from 2 MiB on. */
#define _GNU_SOURCE
#include "zmr_big.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define S_APART ((size_t) 64 << 10)
#define S_HUGE  ((size_t) 2 << 20)
#define S_PAGE  ((size_t) 4 << 10)

//  The bytes a mapping of size takes: whole pages, or whole huge pages.
static size_t
s_mapped (size_t size)
{
    size_t unit = size < S_HUGE? S_PAGE: S_HUGE;
    return (size + unit - 1) & ~(unit - 1);
}

void *
zmr_big_alloc (size_t size)
{
    if (size < S_APART)
        return calloc (1, size? size: 1);
    size_t rounded = s_mapped (size);
    if (size < S_HUGE) {
        void *ptr = mmap (NULL, rounded, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return ptr == MAP_FAILED? NULL: ptr;
    }
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
    if (size < S_APART)
        free (ptr);
    else
        munmap (ptr, s_mapped (size));
}

void *
zmr_big_grow (void *ptr, size_t old_size, size_t new_size)
{
    if (new_size < S_APART)
        return realloc (ptr, new_size);
    if (old_size >= S_APART && new_size < S_HUGE) {
        //  The kernel moves the pages: no copy, and the new ones are zero
        void *grown = mremap (ptr, s_mapped (old_size), s_mapped (new_size), MREMAP_MAYMOVE);
        return grown == MAP_FAILED? NULL: grown;
    }
    void *grown = zmr_big_alloc (new_size);
    if (grown) {
        memcpy (grown, ptr, old_size);
        zmr_big_free (ptr, old_size);
    }
    return grown;
}
