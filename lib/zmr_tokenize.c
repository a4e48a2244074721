/*  zmr_tokenize: splits bytes into words at the six ASCII whitespace bytes.
    A table lookup per byte keeps it independent of the locale and of the
    signedness of char. */
#include "zmr_tokenize.h"

#include <assert.h>

const uint8_t zmr_space_table[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1
};

bool
zmr_tokenize_next (const char *buf, size_t len, size_t *pos,
                   const char **word, size_t *word_len)
{
    assert (pos && *pos <= len);
    assert (word && word_len);
    const uint8_t *bytes = (const uint8_t *) buf;
    size_t at = *pos;
    while (at < len && zmr_space_table [bytes [at]])
        at++;
    if (at == len) {
        *pos = len;
        return false;
    }
    size_t start = at;
    while (at < len && !zmr_space_table [bytes [at]])
        at++;
    *word = buf + start;
    *word_len = at - start;
    *pos = at;
    return true;
}

size_t
zmr_tokenize_count (const char *buf, size_t len)
{
    //  A word starts wherever a non-space byte follows a space (or the start)
    const uint8_t *bytes = (const uint8_t *) buf;
    size_t words = 0;
    uint8_t prev_space = 1;
    for (size_t at = 0; at < len; at++) {
        uint8_t space = zmr_space_table [bytes [at]];
        words += prev_space & !space;
        prev_space = space;
    }
    return words;
}

size_t
zmr_tokenize_last_cut (const char *buf, size_t len)
{
    const uint8_t *bytes = (const uint8_t *) buf;
    for (size_t at = len; at > 0; at--)
        if (zmr_space_table [bytes [at - 1]])
            return at;
    return 0;
}

