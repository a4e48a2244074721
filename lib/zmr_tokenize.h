/*  zmr_tokenize: the word semantics of DESIGN.md, and nothing else.
    A word is a maximal run of bytes that are not ASCII whitespace (space,
    \t, \n, \v, \f, \r). Bytes are kept as they are (NUL and invalid UTF-8
    included); no locale is consulted. */
#ifndef ZMR_TOKENIZE_H
#define ZMR_TOKENIZE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  1 for the six ASCII whitespace bytes, 0 for every other byte.
extern const uint8_t zmr_space_table[256];

static inline bool
zmr_is_space (uint8_t byte)
{
    return zmr_space_table[byte] != 0;
}

//  Finds the next word in buf[*pos .. len). On a word, sets *word (a view
//  into buf, not NUL-terminated) and *word_len, moves *pos past the word and
//  returns true. Returns false when no word is left (then *pos == len).
bool
    zmr_tokenize_next (const char *buf, size_t len, size_t *pos,
                       const char **word, size_t *word_len);

//  Number of words in buf[0 .. len).
size_t
    zmr_tokenize_count (const char *buf, size_t len);

//  Index just past the last whitespace byte of buf[0 .. len), or 0 when buf
//  holds no whitespace. A chunk cut there never splits a word.
size_t
    zmr_tokenize_last_cut (const char *buf, size_t len);

#endif
