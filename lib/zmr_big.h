/*  zmr_big: large zeroed arrays for the tables (index, entries, slots, sort
    keys). From 2 MiB on they are mapped apart, 2 MiB-aligned and marked
    MADV_HUGEPAGE, so one page fault maps 2 MiB and not 4 KiB: on the VMs
    zmr is measured on a fault costs tens of microseconds, and a table of
    339k words took some 30,000 of them. From 64 KiB on they are mapped
    apart too, so that a table outgrown is given back to the system at once
    (from malloc it left a resident hole in the heap: 1.9 MiB in a mapper of
    the KJV), and grown by mremap, without a copy. Smaller ones come from
    calloc. */
#ifndef ZMR_BIG_H
#define ZMR_BIG_H
#include <stddef.h>

//  Returns size zeroed bytes, the caller's (free with zmr_big_free and the
//  same size), or NULL on out-of-memory.
void *
    zmr_big_alloc (size_t size);

//  Frees what zmr_big_alloc (size) returned; accepts NULL.
void
    zmr_big_free (void *ptr, size_t size);

//  Moves old_size bytes of ptr (from zmr_big_alloc (old_size)) into a new
//  array of new_size, freeing ptr. Returns it, or NULL (ptr untouched) on
//  out-of-memory. Bytes past old_size are zero only from 64 KiB on.
void *
    zmr_big_grow (void *ptr, size_t old_size, size_t new_size);

#endif
