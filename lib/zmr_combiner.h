/*  zmr_combiner: a mapper's in-memory combiner and partition cache in one
    table, built for the mapper's hot loop. A chunk is one round: counting a
    chunk's text restarts the count of each word it touches and lists the
    word among the round's touched slots; a slot keeps its word's partition
    (or whatever the caller stores in `part`) for the table's life. */
#ifndef ZMR_COMBINER_H
#define ZMR_COMBINER_H
#include <stddef.h>
#include <stdint.h>

//  One word of the table: 32 bytes, so a word found in its first slot
//  costs one cache line. Borrowed from the table: valid until the next
//  round or clear.
typedef struct {
    uint64_t head;       //  The word's first 8 bytes, zero-padded
    const char *word;    //  Its bytes, in the table's arena (not terminated)
    uint32_t len;        //  Its length in bytes
    uint32_t count;      //  Occurrences in the slot's round
    uint32_t round;      //  The round that last touched it (0: none)
    uint32_t part;       //  The caller's (the mapper keeps the partition)
} zmr_combined_t;

typedef struct _zmr_combiner_t zmr_combiner_t;

//  Creates an empty table. Returns NULL on out-of-memory.
zmr_combiner_t *
    zmr_combiner_new (void);

//  Destroys the table and its arena; accepts NULL and *self_p == NULL.
void
    zmr_combiner_destroy (zmr_combiner_t **self_p);

//  Called for each word new to the table before it is put in, with the
//  slot it will have (count 0, part 0; its word a view of the text, valid
//  for the call): set part here. Returns 0, or -1 to stop the round and
//  leave the word out of the table (it is offered again when next met).
typedef int (zmr_combiner_new_fn) (zmr_combined_t *slot, void *arg);

//  Starts a new round: no slot is touched in it yet.
void
    zmr_combiner_round (zmr_combiner_t *self);

//  Counts every word of text[0 .. len) (the words of zmr_tokenize) in the
//  current round, calling on_new (may be NULL) for each word new to the
//  table; a round may take its text in pieces cut at whitespace. Reads no
//  byte outside text. Sets *words to the words counted. Returns 0, or -1 on
//  out-of-memory, when the round's words would pass 4 Gi (a count could
//  overflow), or when on_new said stop (the words before that one are in).
int
    zmr_combiner_add (zmr_combiner_t *self, const char *text, size_t len,
                      zmr_combiner_new_fn *on_new, void *arg, uint64_t *words);

//  zmr_combiner_round, then zmr_combiner_add: a round of one text.
int
    zmr_combiner_count (zmr_combiner_t *self, const char *text, size_t len,
                        zmr_combiner_new_fn *on_new, void *arg, uint64_t *words);

//  The slots the current round touched, each once, in no particular order;
//  *count is set to their number. Borrowed, valid until the next round.
zmr_combined_t **
    zmr_combiner_touched (zmr_combiner_t *self, size_t *count);

//  Returns the slot of word[0 .. len), or NULL when the table lacks it.
zmr_combined_t *
    zmr_combiner_lookup (zmr_combiner_t *self, const char *word, size_t len);

//  Returns the number of distinct words in the table.
size_t
    zmr_combiner_size (zmr_combiner_t *self);

//  Forgets every word (and what the caller kept in their slots), keeping
//  the memory already allocated for reuse.
void
    zmr_combiner_clear (zmr_combiner_t *self);

//  Forgets every word like clear, and gives the memory back: the table is
//  as new. Returns 0, or -1 on out-of-memory (the table then only cleared).
int
    zmr_combiner_release (zmr_combiner_t *self);

//  Bytes the table holds now (slots, arena, touched list).
size_t
    zmr_combiner_memory (zmr_combiner_t *self);

#endif
