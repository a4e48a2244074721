/*  test_tokenize: the word semantics of docs/design.md. Only the six ASCII
    whitespace bytes separate words; every other byte, NUL and non-ASCII
    included, belongs to a word. */
#include <criterion/criterion.h>
#include <string.h>

#include "zmr_tokenize.h"

//  Splits buf into words and joins them with '|' into out. Returns the count.
static size_t
s_split (const char *buf, size_t len, char *out, size_t outlen)
{
    size_t pos = 0, words = 0, used = 0;
    const char *word;
    size_t word_len;
    out [0] = 0;
    while (zmr_tokenize_next (buf, len, &pos, &word, &word_len)) {
        cr_assert (word >= buf && word + word_len <= buf + len);
        cr_assert_gt (word_len, 0, "a word is never empty");
        cr_assert_lt (used + word_len + 2, outlen);
        if (words++)
            out [used++] = '|';
        memcpy (out + used, word, word_len);
        used += word_len;
        out [used] = 0;
    }
    cr_assert_eq (pos, len, "no word left means pos == len");
    return words;
}

Test (tokenize, space_table_marks_exactly_the_six_ascii_whitespace_bytes)
{
    for (int byte = 0; byte < 256; byte++) {
        bool expected = byte == ' ' || byte == '\t' || byte == '\n'
                     || byte == '\v' || byte == '\f' || byte == '\r';
        cr_assert_eq (zmr_is_space ((uint8_t) byte), expected, "byte 0x%02x", byte);
        cr_assert_eq (zmr_space_table [byte] != 0, expected, "byte 0x%02x", byte);
    }
}

Test (tokenize, each_of_the_six_whitespace_bytes_separates_words)
{
    const char seps [] = " \t\n\v\f\r";
    for (size_t at = 0; at < 6; at++) {
        char buf [] = "ab?cd";
        buf [2] = seps [at];
        char out [32];
        cr_assert_eq (s_split (buf, 5, out, sizeof (out)), 2, "separator 0x%02x", seps [at]);
        cr_assert_str_eq (out, "ab|cd");
    }
}

Test (tokenize, other_bytes_do_not_separate_words)
{
    //  NUL, the ASCII separators 0x1c-0x1f, DEL, NEL (0x85), NBSP (0xa0),
    //  0x80 and 0xff: all are word bytes
    const uint8_t others [] = { 0x00, 0x1c, 0x1d, 0x1e, 0x1f, 0x7f, 0x80, 0x85, 0xa0, 0xff };
    for (size_t at = 0; at < sizeof (others); at++) {
        char buf [] = "ab?cd";
        buf [2] = (char) others [at];
        size_t pos = 0;
        const char *word;
        size_t word_len;
        cr_assert (zmr_tokenize_next (buf, 5, &pos, &word, &word_len));
        cr_assert_eq (word, buf, "byte 0x%02x", others [at]);
        cr_assert_eq (word_len, 5, "byte 0x%02x must not split", others [at]);
        cr_assert_not (zmr_tokenize_next (buf, 5, &pos, &word, &word_len));
        cr_assert_eq (zmr_tokenize_count (buf, 5), 1);
    }
}

Test (tokenize, every_byte_outside_the_six_is_a_word_byte)
{
    for (int byte = 0; byte < 256; byte++) {
        char buf [3] = { ' ', (char) byte, ' ' };
        bool space = strchr (" \t\n\v\f\r", byte) != NULL && byte != 0;
        cr_assert_eq (zmr_tokenize_count (buf, 3), space ? 0 : 1, "byte 0x%02x", byte);
    }
}

Test (tokenize, leading_trailing_and_repeated_whitespace_make_no_empty_words)
{
    const char *text = " \t\r\n hello  \v\f world \n\n";
    char out [64];
    cr_assert_eq (s_split (text, strlen (text), out, sizeof (out)), 2);
    cr_assert_str_eq (out, "hello|world");
    cr_assert_eq (zmr_tokenize_count (text, strlen (text)), 2);
}

Test (tokenize, words_are_views_into_the_buffer)
{
    const char *text = "  one two";
    size_t pos = 0;
    const char *word;
    size_t word_len;
    cr_assert (zmr_tokenize_next (text, 9, &pos, &word, &word_len));
    cr_assert_eq (word, text + 2);
    cr_assert_eq (word_len, 3);
    cr_assert_eq (pos, 5, "pos moves just past the word");
    cr_assert (zmr_tokenize_next (text, 9, &pos, &word, &word_len));
    cr_assert_eq (word, text + 6);
    cr_assert_eq (word_len, 3);
    cr_assert_eq (pos, 9);
    cr_assert_not (zmr_tokenize_next (text, 9, &pos, &word, &word_len));
}

Test (tokenize, empty_and_all_space_buffers_have_no_words)
{
    size_t pos = 0;
    const char *word;
    size_t word_len;
    cr_assert_not (zmr_tokenize_next ("", 0, &pos, &word, &word_len));
    cr_assert_eq (pos, 0);
    cr_assert_eq (zmr_tokenize_count ("", 0), 0);
    cr_assert_eq (zmr_tokenize_count (" \t\n\v\f\r", 6), 0);
    pos = 0;
    cr_assert_not (zmr_tokenize_next (" \t\n\v\f\r", 6, &pos, &word, &word_len));
    cr_assert_eq (pos, 6, "pos ends at len when no word is left");
}

Test (tokenize, length_bounds_the_buffer_not_nul)
{
    const char text [] = "ab\0cd ef\0";
    char out [32];
    cr_assert_eq (s_split (text, 3, out, sizeof (out)), 1);
    cr_assert_eq (memcmp (out, "ab\0", 3), 0, "the NUL is part of the word");
    cr_assert_eq (zmr_tokenize_count (text, sizeof (text) - 1), 2);
    cr_assert_eq (zmr_tokenize_count (text, 5), 1);
    cr_assert_eq (zmr_tokenize_count (text, 7), 2);
}

Test (tokenize, count_agrees_with_next)
{
    const char *texts [] = {
        "a", " a", "a ", " a ", "a b", "a  b  c", "\n\nx\ty\rz\n", "\xc3\xa9t\xc3\xa9 caf\xc3\xa9",
        "one two three four five six seven eight nine ten"
    };
    size_t expected [] = { 1, 1, 1, 1, 2, 3, 3, 2, 10 };
    for (size_t at = 0; at < sizeof (texts) / sizeof (texts [0]); at++) {
        char out [128];
        size_t len = strlen (texts [at]);
        cr_assert_eq (zmr_tokenize_count (texts [at], len), expected [at], "'%s'", texts [at]);
        cr_assert_eq (s_split (texts [at], len, out, sizeof (out)), expected [at], "'%s'", texts [at]);
    }
}

Test (tokenize, last_cut_is_just_past_the_last_whitespace)
{
    cr_assert_eq (zmr_tokenize_last_cut ("", 0), 0);
    cr_assert_eq (zmr_tokenize_last_cut ("abc", 3), 0, "no whitespace means 0");
    cr_assert_eq (zmr_tokenize_last_cut ("ab\0\x85\xa0", 5), 0);
    cr_assert_eq (zmr_tokenize_last_cut (" abc", 4), 1);
    cr_assert_eq (zmr_tokenize_last_cut ("abc ", 4), 4);
    cr_assert_eq (zmr_tokenize_last_cut ("ab cd\tef", 8), 6);
    cr_assert_eq (zmr_tokenize_last_cut ("ab cd\tef", 5), 3, "only buf[0 .. len) counts");
    const char seps [] = " \t\n\v\f\r";
    for (size_t at = 0; at < 6; at++) {
        char buf [] = "xx?yy";
        buf [2] = seps [at];
        cr_assert_eq (zmr_tokenize_last_cut (buf, 5), 3, "separator 0x%02x", seps [at]);
    }
}

Test (tokenize, cutting_at_last_cut_never_splits_a_word)
{
    const char *text = "the quick  brown\tfox jumps\nover the lazy dog";
    size_t len = strlen (text);
    size_t whole = zmr_tokenize_count (text, len);
    for (size_t prefix = 0; prefix <= len; prefix++) {
        size_t cut = zmr_tokenize_last_cut (text, prefix);
        cr_assert_leq (cut, prefix);
        cr_assert_eq (zmr_tokenize_count (text, cut) + zmr_tokenize_count (text + cut, len - cut),
                      whole, "cut at %zu splits a word", cut);
    }
}

//  zmr_words_next must give exactly the words of the plain byte-by-byte
//  scan, for every length around the 64-byte blocks and every mix of
//  whitespace, long words and odd bytes.
Test (tokenize, block_scanner_gives_the_same_words_as_the_byte_scan)
{
    static const char alphabet[] = { ' ', '\t', '\n', '\v', '\f', '\r', 'a', 'b',
                                     '\0', (char) 0x85, (char) 0xa0, (char) 0xff,
                                     0x08, 0x0e, 0x1f, 0x21 };
    uint64_t x = 0x2545F4914F6CDD1Dull;
    char buf[700];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t) (round % 700);
        //  Some rounds have long words: few whitespace bytes.
        int sparse = round % 3 == 0;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            unsigned pick = (unsigned) (x % 16);
            if (sparse && pick < 6 && (x >> 20) % 16)
                pick += 6;
            buf[i] = alphabet[pick];
        }
        zmr_words_t words;
        zmr_words_init (&words, buf, len);
        size_t pos = 0;
        const char *a, *b;
        size_t alen, blen;
        while (true) {
            bool more_a = zmr_tokenize_next (buf, len, &pos, &a, &alen);
            bool more_b = zmr_words_next (&words, &b, &blen);
            cr_assert_eq (more_a, more_b, "round %d: word count differs", round);
            if (!more_a)
                break;
            cr_assert_eq (a, b, "round %d: word at %td vs %td", round, a - buf, b - buf);
            cr_assert_eq (alen, blen, "round %d: length %zu vs %zu", round, alen, blen);
        }
    }
}

Test (tokenize, block_scanner_handles_a_word_across_many_blocks)
{
    size_t len = 1000;
    char *buf = malloc (len);
    memset (buf, 'x', len);
    buf[0] = ' ';
    buf[999] = '\n';
    zmr_words_t words;
    zmr_words_init (&words, buf, len);
    const char *word;
    size_t word_len;
    cr_assert (zmr_words_next (&words, &word, &word_len));
    cr_assert_eq (word, buf + 1);
    cr_assert_eq (word_len, 998);
    cr_assert_not (zmr_words_next (&words, &word, &word_len));
    free (buf);
}
