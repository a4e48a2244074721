/*  zmr_counts: a word -> count table for the reducers and the sink (the
    mapper has its own, zmr_combiner). Open addressing over a dense array of
    entries; the words live in an arena owned by the table, so adding a word
    costs one copy and no malloc. */
#ifndef ZMR_COUNTS_H
#define ZMR_COUNTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *word;    //  In the table's arena, followed by a NUL byte
    uint32_t len;        //  Word length in bytes (the NUL is not counted)
    uint32_t aux;        //  Free for the caller (the journal keeps words left out)
    uint64_t count;      //  The value: occurrences for the word count, else
                         //  a signed 64-bit integer's bits (zmr_job.h)
    uint32_t hash;       //  The table's hash of the word (a prefilter)
} zmr_entry_t;

typedef struct _zmr_counts_t zmr_counts_t;

//  Creates an empty table. Returns NULL on out-of-memory.
zmr_counts_t *
    zmr_counts_new (void);

//  Destroys the table and its arena; accepts NULL and *self_p == NULL.
void
    zmr_counts_destroy (zmr_counts_t **self_p);

//  How the table merges a value into a word's (zmr_reduce_t; new tables
//  sum). Set before the first add.
void
    zmr_counts_set_reduce (zmr_counts_t *self, int reduce);

//  Merges delta into the count of word[0 .. len) by the table's reduce,
//  inserting the word with count delta (and aux 0) when absent; *is_new
//  (may be NULL) tells which. Returns the entry, borrowed and valid until
//  the next add or clear; NULL with errno ENOMEM on out-of-memory, or
//  EOVERFLOW when a sum would pass 64 signed bits, leaving the table as it
//  was.
zmr_entry_t *
    zmr_counts_add (zmr_counts_t *self, const void *word, size_t len,
                    uint64_t delta, bool *is_new);

//  A word and a count to add, for zmr_counts_add_pairs.
typedef struct {
    const char *word;    //  Not terminated
    size_t len;          //  At most UINT32_MAX
    uint64_t count;
} zmr_pair_t;

//  Pairs per batch that zmr_counts_add_pairs (and the text scan) overlap
#define ZMR_COUNTS_BATCH 16

//  zmr_counts_add of each pair in order (counts to the word; is_new not
//  told), with the table's cache misses overlapped across the pairs: the
//  way to merge many pairs into a large table. Returns 0, or -1 with errno
//  as zmr_counts_add (the pairs before the failing one are merged).
int
    zmr_counts_add_pairs (zmr_counts_t *self, const zmr_pair_t *pairs, size_t n);

//  Returns the entry of word, borrowed, or NULL when absent.
zmr_entry_t *
    zmr_counts_lookup (zmr_counts_t *self, const void *word, size_t len);

//  Number of distinct words.
size_t
    zmr_counts_size (zmr_counts_t *self);

//  Sum of all counts (of signed values, their sum modulo 2^64).
uint64_t
    zmr_counts_total (zmr_counts_t *self);

//  Entries as a dense array of zmr_counts_size() elements, in insertion
//  order; borrowed, valid until the next add or clear.
zmr_entry_t *
    zmr_counts_entries (zmr_counts_t *self);

//  Empties the table, keeping its memory for reuse.
void
    zmr_counts_clear (zmr_counts_t *self);

//  Bytes held by the table (entries, index and arena).
size_t
    zmr_counts_memory (zmr_counts_t *self);

//  A copy of the table's entries sorted in result order (free() it; the
//  words are borrowed, valid until the next add or clear); *count is set
//  to their number. NULL on out-of-memory.
zmr_entry_t *
    zmr_counts_sorted (zmr_counts_t *self, size_t *count);

//  Result order of docs/design.md: higher count (as a signed 64-bit
//  integer) first, ties in bytewise order of
//  the word (a shorter word before a longer one it prefixes). For qsort over
//  an array of zmr_entry_t.
int
    zmr_entry_compare (const void *a, const void *b);

//  Bytewise order of the keys alone (a shorter key before a longer one it
//  prefixes), the tie order above. For qsort over zmr_entry_t.
int
    zmr_entry_key_compare (const void *a, const void *b);

//  Sorts entries in place in result order. Sort a copy of a table's
//  entries, not the table's own array: the index would point at the wrong
//  entries afterwards.
void
    zmr_entries_sort (zmr_entry_t *entries, size_t count);

//  The entries of nruns arrays (runs[r], counts[r] entries each), as
//  pointers in result order, without copying one entry: what the sink
//  writes its result from. *total is set to their number. Returns the
//  array (free() it), or NULL on out-of-memory.
const zmr_entry_t **
    zmr_entries_order (const zmr_entry_t *const *runs, const size_t *counts, size_t nruns,
                       size_t *total);

#endif
