/*  zmr_arena: words copied into large blocks. */
#include "zmr_arena.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_BLOCK (1u << 20)          //  Block for ordinary words
#define S_LARGE (S_BLOCK / 4)       //  Words this long get a block of their own

struct _zmr_arena_block_t {
    zmr_arena_block_t *next;    //  Next block in its list
    size_t capacity;            //  Bytes in data
    size_t used;                //  Bytes of data holding words
    char data [];               //  Words, each followed by a NUL byte
};

void
zmr_arena_init (zmr_arena_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
}

static void
s_blocks_free (zmr_arena_block_t *block)
{
    while (block) {
        zmr_arena_block_t *next = block->next;
        free (block);
        block = next;
    }
}

void
zmr_arena_destroy (zmr_arena_t *self)
{
    assert (self);
    s_blocks_free (self->spare);
    s_blocks_free (self->blocks);
    zmr_arena_init (self);
}

//  Returns a block with room for need bytes, from the spare list or new
//  (capacity bytes), or NULL on out-of-memory. Not linked into blocks yet.
static zmr_arena_block_t *
s_block_take (zmr_arena_t *self, size_t need, size_t capacity)
{
    for (zmr_arena_block_t **link = &self->spare; *link; link = &(*link)->next) {
        zmr_arena_block_t *block = *link;
        if (block->capacity >= need) {
            *link = block->next;
            block->next = NULL;
            block->used = 0;
            return block;
        }
    }
    //  malloc, not calloc: a block's pages are touched only as words fill
    //  it (zeroed, a 1 MiB block was 1 MiB resident in every table, for the
    //  KJV's 29k words 0.8 MB of nothing, in each of five processes)
    zmr_arena_block_t *block = (zmr_arena_block_t *)
        malloc (sizeof (zmr_arena_block_t) + capacity);
    if (!block)
        return NULL;
    block->next = NULL;
    block->capacity = capacity;
    block->used = 0;
    self->bytes += capacity;
    return block;
}

const char *
zmr_arena_copy (zmr_arena_t *self, const void *word, size_t len)
{
    assert (self);
    assert (word || len == 0);
    size_t need = len + 1;
    zmr_arena_block_t *block = self->blocks;
    if (!block || block->capacity - block->used < need) {
        if (need >= S_LARGE) {
            //  A long word gets its own block, linked behind the current
            //  one so that the room left there is still used
            block = s_block_take (self, need, need);
            if (!block)
                return NULL;
            if (self->blocks) {
                block->next = self->blocks->next;
                self->blocks->next = block;
            }
            else
                self->blocks = block;
        }
        else {
            block = s_block_take (self, need, S_BLOCK);
            if (!block)
                return NULL;
            block->next = self->blocks;
            self->blocks = block;
        }
    }
    char *copy = block->data + block->used;
    if (len)
        memcpy (copy, word, len);
    copy [len] = 0;
    block->used += need;
    return copy;
}

void
zmr_arena_clear (zmr_arena_t *self)
{
    assert (self);
    while (self->blocks) {
        zmr_arena_block_t *block = self->blocks;
        self->blocks = block->next;
        block->next = self->spare;
        self->spare = block;
    }
}

size_t
zmr_arena_memory (const zmr_arena_t *self)
{
    assert (self);
    return self->bytes;
}
