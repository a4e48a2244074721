/*  zmr_arena: where the word tables keep their words. Large blocks taken in
    turn, so storing a word costs one copy and no malloc; a long word gets
    a block of its own. Cleared, the blocks are kept for reuse. A value on
    the stack or in a table's struct: _init / _destroy. */
#ifndef ZMR_ARENA_H
#define ZMR_ARENA_H
#include <stddef.h>

typedef struct _zmr_arena_block_t zmr_arena_block_t;

typedef struct {
    zmr_arena_block_t *blocks;  //  In use; the head is the one being filled
    zmr_arena_block_t *spare;   //  Emptied by clear, for reuse
    size_t bytes;               //  Capacity of all blocks in both lists
} zmr_arena_t;

//  An empty arena.
void
    zmr_arena_init (zmr_arena_t *self);

//  Frees every block; the arena is empty again.
void
    zmr_arena_destroy (zmr_arena_t *self);

//  Copies word[0 .. len) into the arena, followed by a NUL byte. Returns
//  the copy (valid until clear or destroy), or NULL on out-of-memory.
const char *
    zmr_arena_copy (zmr_arena_t *self, const void *word, size_t len);

//  Forgets every word, keeping the blocks for later copies.
void
    zmr_arena_clear (zmr_arena_t *self);

//  Bytes the arena holds.
size_t
    zmr_arena_memory (const zmr_arena_t *self);

#endif
