/*  zmr_tokenize: the word semantics of docs/design.md, and nothing else.
    A word is a maximal run of bytes that are not ASCII whitespace (space,
    \t, \n, \v, \f, \r). Bytes are kept as they are (NUL and invalid UTF-8
    included); no locale is consulted. */
#ifndef ZMR_TOKENIZE_H
#define ZMR_TOKENIZE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

//  The fast way through a buffer's words: whitespace is found 64 bytes at a
//  time as a bit mask (SSE2 where there is SSE2), and the words are read off
//  the mask. Same words as zmr_tokenize_next, in the same order.
typedef struct {
    const uint8_t *buf;      //  The text
    size_t len;              //  Its length
    size_t block;            //  Offset of the current 64-byte block
    uint64_t space;          //  Whitespace bits of that block (past len: 1)
    uint64_t starts;         //  Word starts in that block not yet returned
} zmr_words_t;

//  Number of words in buf[0 .. len).
size_t
    zmr_tokenize_count (const char *buf, size_t len);

//  Index just past the last whitespace byte of buf[0 .. len), or 0 when buf
//  holds no whitespace. A chunk cut there never splits a word.
size_t
    zmr_tokenize_last_cut (const char *buf, size_t len);

//  The scanner is inline: it runs once per word on the hot path, and its
//  state then lives in registers.

//  Whitespace bits of p[0 .. 64): bit i is 1 when p[i] is whitespace. Bits
//  at and past avail (when avail < 64) are 1, so no word starts there and
//  a word that reaches the end of the buffer ends there.
static inline uint64_t
zmr_space_mask (const uint8_t *p, size_t avail)
{
    uint64_t mask = 0;
#ifdef __SSE2__
    if (avail >= 64) {
        //  Whitespace is ' ' or a byte in 9..13: (byte - 9) as unsigned < 5.
        const __m128i space = _mm_set1_epi8 (' ');
        const __m128i nine = _mm_set1_epi8 (9);
        const __m128i four = _mm_set1_epi8 (4);
        for (int i = 0; i < 4; i++) {
            __m128i v = _mm_loadu_si128 ((const __m128i *) (p + 16 * i));
            __m128i low = _mm_sub_epi8 (v, nine);
            __m128i is_low = _mm_cmpeq_epi8 (_mm_min_epu8 (low, four), low);
            __m128i is_space = _mm_or_si128 (is_low, _mm_cmpeq_epi8 (v, space));
            mask |= (uint64_t) (uint16_t) _mm_movemask_epi8 (is_space) << (16 * i);
        }
        return mask;
    }
#endif
    size_t n = avail < 64? avail: 64;
    for (size_t i = 0; i < n; i++)
        mask |= (uint64_t) zmr_space_table[p[i]] << i;
    if (n < 64)
        mask |= ~0ull << n;
    return mask;
}

//  Starts reading the words of buf[0 .. len).
static inline void
zmr_words_init (zmr_words_t *self, const char *buf, size_t len)
{
    self->buf = (const uint8_t *) buf;
    self->len = len;
    self->block = 0;
    if (len == 0) {
        self->space = ~0ull;
        self->starts = 0;
        return;
    }
    self->space = zmr_space_mask (self->buf, len);
    //  A word starts at a non-space byte after a space (or at the start).
    self->starts = ~self->space & ((self->space << 1) | 1);
}

//  Sets the next word (a view into buf) and returns true, or returns false
//  when no word is left.
static inline bool
zmr_words_next (zmr_words_t *self, const char **word, size_t *word_len)
{
    while (self->starts == 0) {
        uint64_t carry = self->space >> 63;
        if (self->len - self->block <= 64)
            return false;
        self->block += 64;
        self->space = zmr_space_mask (self->buf + self->block, self->len - self->block);
        self->starts = ~self->space & ((self->space << 1) | carry);
    }
    unsigned bit = (unsigned) __builtin_ctzll (self->starts);
    self->starts &= self->starts - 1;
    size_t start = self->block + bit;
    //  The word ends at the first space after its start: in this block, or
    //  in a later one (a long word; later blocks are scanned again when the
    //  walk gets there, and give no start inside the word).
    uint64_t after = self->space & (~0ull << bit);
    size_t end;
    if (after)
        end = self->block + (size_t) __builtin_ctzll (after);
    else {
        end = self->len;
        for (size_t at = self->block + 64; at < self->len; at += 64) {
            uint64_t mask = zmr_space_mask (self->buf + at, self->len - at);
            if (mask) {
                end = at + (size_t) __builtin_ctzll (mask);
                break;
            }
        }
        if (end > self->len)
            end = self->len;
    }
    *word = (const char *) self->buf + start;
    *word_len = end - start;
    return true;
}

#endif
