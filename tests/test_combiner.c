/*  test_combiner: the mapper's combiner table, as the mapper uses it: count a
    chunk's words in a round, walk the round's touched slots, keep a partition
    in each slot for the table's life, look up, clear. Counts are checked
    against a naive reference that shares no code with zmr_tokenize. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zmr_combiner.h"

//  --------------------------------------------------------------------------
//  The reference: split on the six ASCII whitespace bytes with a plain byte
//  loop, sort the words with qsort + memcmp, count the runs.

typedef struct {
    const char *word;           //  A view into the text
    size_t len;                 //  Its length
} s_ref_word_t;

typedef struct {
    s_ref_word_t *words;        //  Every word, sorted
    size_t nwords;              //  Their number
    s_ref_word_t *distinct;     //  Each distinct word once, sorted
    uint32_t *counts;           //  The count of each distinct word
    size_t ndistinct;           //  Their number
} s_ref_t;

static int
s_is_blank (unsigned char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\n'
        || byte == '\v' || byte == '\f' || byte == '\r';
}

static int
s_bytes_cmp (const char *x, size_t xlen, const char *y, size_t ylen)
{
    int diff = memcmp (x, y, xlen < ylen? xlen: ylen);
    if (diff)
        return diff;
    return xlen < ylen? -1: xlen > ylen;
}

static int
s_ref_word_cmp (const void *a, const void *b)
{
    const s_ref_word_t *x = (const s_ref_word_t *) a;
    const s_ref_word_t *y = (const s_ref_word_t *) b;
    return s_bytes_cmp (x->word, x->len, y->word, y->len);
}

static void
s_ref_build (s_ref_t *ref, const char *text, size_t len)
{
    memset (ref, 0, sizeof *ref);
    size_t cap = len / 2 + 1;
    ref->words = (s_ref_word_t *) malloc (cap * sizeof *ref->words);
    cr_assert_not_null (ref->words);
    size_t at = 0;
    while (at < len) {
        if (s_is_blank ((unsigned char) text [at])) {
            at++;
            continue;
        }
        size_t start = at;
        while (at < len && !s_is_blank ((unsigned char) text [at]))
            at++;
        ref->words [ref->nwords].word = text + start;
        ref->words [ref->nwords].len = at - start;
        ref->nwords++;
    }
    qsort (ref->words, ref->nwords, sizeof *ref->words, s_ref_word_cmp);
    ref->distinct = (s_ref_word_t *) malloc ((ref->nwords + 1) * sizeof *ref->distinct);
    ref->counts = (uint32_t *) malloc ((ref->nwords + 1) * sizeof *ref->counts);
    cr_assert (ref->distinct && ref->counts);
    for (size_t i = 0; i < ref->nwords; i++) {
        if (i && s_ref_word_cmp (&ref->words [i - 1], &ref->words [i]) == 0)
            ref->counts [ref->ndistinct - 1]++;
        else {
            ref->distinct [ref->ndistinct] = ref->words [i];
            ref->counts [ref->ndistinct++] = 1;
        }
    }
}

static void
s_ref_destroy (s_ref_t *ref)
{
    free (ref->words);
    free (ref->distinct);
    free (ref->counts);
    memset (ref, 0, sizeof *ref);
}

//  Whether slot is distinct word i of ref with its count, head included.
static int
s_slot_is (const zmr_combined_t *slot, const s_ref_t *ref, size_t i)
{
    const s_ref_word_t *want = &ref->distinct [i];
    uint64_t head = 0;
    memcpy (&head, want->word, want->len < 8? want->len: 8);
    return slot->len == want->len && memcmp (slot->word, want->word, want->len) == 0
        && slot->count == ref->counts [i] && slot->head == head;
}

static int
s_slot_cmp (const void *a, const void *b)
{
    const zmr_combined_t *x = *(zmr_combined_t *const *) a;
    const zmr_combined_t *y = *(zmr_combined_t *const *) b;
    return s_bytes_cmp (x->word, x->len, y->word, y->len);
}

static int
s_pointer_cmp (const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) *(void *const *) a;
    uintptr_t y = (uintptr_t) *(void *const *) b;
    return x < y? -1: x > y;
}

//  Checks that the round just counted from text matches the reference: the
//  touched slots are exactly its distinct words, each listed once, with the
//  round's counts, and a lookup of each word finds that same slot.
static void
s_check_round (zmr_combiner_t *table, const s_ref_t *ref, uint64_t words, const char *what)
{
    if (words != ref->nwords)
        cr_assert_fail ("%s: *words is %llu, the reference found %zu", what,
                        (unsigned long long) words, ref->nwords);
    size_t ntouched = 99;
    zmr_combined_t **touched = zmr_combiner_touched (table, &ntouched);
    if (ntouched != ref->ndistinct)
        cr_assert_fail ("%s: %zu touched slots, %zu distinct words", what, ntouched,
                        ref->ndistinct);
    if (ntouched == 0)
        return;
    zmr_combined_t **sorted = (zmr_combined_t **) malloc (ntouched * sizeof *sorted);
    cr_assert_not_null (sorted);
    memcpy (sorted, touched, ntouched * sizeof *sorted);
    qsort (sorted, ntouched, sizeof *sorted, s_pointer_cmp);
    for (size_t i = 1; i < ntouched; i++)
        if (sorted [i] == sorted [i - 1])
            cr_assert_fail ("%s: a slot is listed twice among the touched", what);
    qsort (sorted, ntouched, sizeof *sorted, s_slot_cmp);
    for (size_t i = 0; i < ntouched; i++) {
        if (!s_slot_is (sorted [i], ref, i))
            cr_assert_fail ("%s: touched slot %zu (len %u, count %u) is not distinct word "
                            "%zu (len %zu, count %u)", what, i, sorted [i]->len,
                            sorted [i]->count, i, ref->distinct [i].len, ref->counts [i]);
        zmr_combined_t *found = zmr_combiner_lookup (table, ref->distinct [i].word,
                                                     ref->distinct [i].len);
        if (found != sorted [i])
            cr_assert_fail ("%s: lookup of distinct word %zu finds another slot", what, i);
    }
    free (sorted);
}

//  Counts text in a new round of table and checks the round against the
//  reference.
static void
s_count_and_check (zmr_combiner_t *table, const char *text, size_t len, const char *what)
{
    s_ref_t ref;
    s_ref_build (&ref, text, len);
    uint64_t words = 12345;
    cr_assert_eq (zmr_combiner_count (table, text, len, NULL, NULL, &words), 0, "%s", what);
    s_check_round (table, &ref, words, what);
    s_ref_destroy (&ref);
}

//  A copy of bytes in a buffer of exactly their size, so that ASan catches a
//  read past the text's end.
static char *
s_exact (const char *bytes, size_t len)
{
    char *copy = (char *) malloc (len? len: 1);
    cr_assert_not_null (copy);
    memcpy (copy, bytes, len);
    return copy;
}

//  Counts bytes[0 .. len) from an exact-size buffer in a fresh table.
static void
s_fresh_check (const char *bytes, size_t len, const char *what)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    cr_assert_not_null (table);
    char *text = s_exact (bytes, len);
    s_count_and_check (table, text, len, what);
    free (text);
    zmr_combiner_destroy (&table);
}

#define S_LIT(literal) literal, sizeof (literal) - 1


//  --------------------------------------------------------------------------
//  Generated texts: a growable buffer and a deterministic generator.

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} s_buf_t;

static void
s_put (s_buf_t *buf, const void *bytes, size_t len)
{
    if (buf->len + len > buf->cap) {
        buf->cap = (buf->len + len) * 2 + 64;
        buf->data = (char *) realloc (buf->data, buf->cap);
        cr_assert_not_null (buf->data);
    }
    memcpy (buf->data + buf->len, bytes, len);
    buf->len += len;
}

static uint64_t
s_rand (uint64_t *state)
{
    //  xorshift64*
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545f4914f6cdd1dull;
}

static const char s_blanks [] = " \t\n\v\f\r";

static void
s_put_blanks (s_buf_t *buf, uint64_t *state, size_t most)
{
    size_t n = 1 + s_rand (state) % most;
    for (size_t i = 0; i < n; i++)
        s_put (buf, &s_blanks [s_rand (state) % 6], 1);
}

//  A random byte that is not whitespace: NUL, control bytes and bytes from
//  0x80 up included.
static char
s_word_byte (uint64_t *state)
{
    unsigned char byte = (unsigned char) s_rand (state);
    return s_is_blank (byte)? (char) 0x80: (char) byte;
}

static const char s_base [] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";

//  Word k of a vocabulary of nearby words: random bytes, or a prefix of one
//  base word (words that differ only in length), or that prefix with its last
//  byte changed (words that differ only after byte 8 or 16), or with NUL bytes
//  appended. Lengths 1..40.
static size_t
s_vocab_word (char *out, uint64_t *state)
{
    size_t len = 1 + s_rand (state) % 40;
    switch (s_rand (state) % 4) {
        case 0:
            for (size_t i = 0; i < len; i++)
                out [i] = s_word_byte (state);
            return len;
        case 1:
            memcpy (out, s_base, len);
            return len;
        case 2:
            memcpy (out, s_base, len);
            out [len - 1] = (char) ("\0\x80\xffZ" [s_rand (state) % 4]);
            return len;
        default: {
            size_t nuls = 1 + s_rand (state) % 3;
            if (len + nuls > 40)
                len = 40 - nuls;
            memcpy (out, s_base, len);
            memset (out + len, 0, nuls);
            return len + nuls;
        }
    }
}

//  A text of about nwords words drawn from a vocabulary of nvocab words, with
//  runs of mixed whitespace, leading and trailing whitespace sometimes (when
//  not, the last word ends at the text's end). Returns an exact-size buffer.
static char *
s_random_text (uint64_t seed, size_t nwords, size_t nvocab, size_t *len)
{
    uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
    char (*vocab) [41] = (char (*) [41]) malloc (nvocab * sizeof *vocab);
    size_t *lens = (size_t *) malloc (nvocab * sizeof *lens);
    cr_assert (vocab && lens);
    for (size_t k = 0; k < nvocab; k++)
        lens [k] = s_vocab_word (vocab [k], &state);
    s_buf_t buf = { 0 };
    if (s_rand (&state) % 2)
        s_put_blanks (&buf, &state, 3);
    for (size_t i = 0; i < nwords; i++) {
        if (i)
            s_put_blanks (&buf, &state, 3);
        size_t k = s_rand (&state) % nvocab;
        s_put (&buf, vocab [k], lens [k]);
    }
    if (s_rand (&state) % 2)
        s_put_blanks (&buf, &state, 3);
    char *text = s_exact (buf.data, buf.len);
    *len = buf.len;
    free (buf.data);
    free (vocab);
    free (lens);
    return text;
}

//  Distinct word number n, 8 to 20 bytes long
static size_t
s_word (char *buf, size_t n)
{
    return (size_t) sprintf (buf, "w%zx.%zu", n * 2654435761u, n);
}


//  --------------------------------------------------------------------------
//  on_new callbacks

typedef struct {
    size_t calls;               //  Calls so far
    size_t stop_at;             //  Say stop on this call (from 1; 0: never)
    s_buf_t seen;               //  Each word offered: its length, then its bytes
    int bad_slot;               //  A slot came with count or part not 0
} s_recorder_t;

//  Records the word, numbers its slot's part from 1, says stop if asked.
static int
s_record (zmr_combined_t *slot, void *arg)
{
    s_recorder_t *self = (s_recorder_t *) arg;
    self->calls++;
    if (slot->count != 0 || slot->part != 0)
        self->bad_slot = 1;
    uint32_t len = slot->len;
    s_put (&self->seen, &len, sizeof len);
    s_put (&self->seen, slot->word, len);
    if (self->stop_at && self->calls == self->stop_at)
        return -1;
    slot->part = (uint32_t) self->calls;
    return 0;
}

//  Fails when some word was offered to on_new twice.
static void
s_assert_offered_once (s_recorder_t *rec)
{
    s_ref_word_t *offered = (s_ref_word_t *) malloc ((rec->calls + 1) * sizeof *offered);
    cr_assert_not_null (offered);
    size_t n = 0;
    for (size_t at = 0; at < rec->seen.len; n++) {
        uint32_t len;
        memcpy (&len, rec->seen.data + at, sizeof len);
        offered [n].word = rec->seen.data + at + sizeof len;
        offered [n].len = len;
        at += sizeof len + len;
    }
    cr_assert_eq (n, rec->calls);
    qsort (offered, n, sizeof *offered, s_ref_word_cmp);
    for (size_t i = 1; i < n; i++)
        if (s_ref_word_cmp (&offered [i - 1], &offered [i]) == 0)
            cr_assert_fail ("a word of length %zu was offered to on_new twice", offered [i].len);
    free (offered);
}


//  --------------------------------------------------------------------------
//  Counting agrees with the reference

Test (combiner, a_new_table_is_empty, .timeout = 10)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    cr_assert_not_null (table);
    cr_assert_eq (zmr_combiner_size (table), 0);
    size_t ntouched = 99;
    zmr_combiner_touched (table, &ntouched);
    cr_assert_eq (ntouched, 0, "no round yet, nothing touched");
    cr_assert_null (zmr_combiner_lookup (table, "word", 4));
    zmr_combiner_destroy (&table);
    cr_assert_null (table, "destroy nulls the caller's pointer");
}

Test (combiner, destroy_accepts_null_and_a_null_table, .timeout = 10)
{
    //  As the header says: "accepts NULL and *self_p == NULL"
    zmr_combiner_t *table = NULL;
    zmr_combiner_destroy (&table);
    zmr_combiner_destroy (NULL);
}

Test (combiner, counts_of_handmade_texts_match_the_reference, .timeout = 20)
{
    s_fresh_check ("", 0, "empty text");
    s_fresh_check (S_LIT (" \t\n\v\f\r  \n"), "whitespace only");
    s_fresh_check (S_LIT ("x"), "one byte");
    s_fresh_check (S_LIT ("nowhitespaceatallinthistextwhichislong"), "no whitespace");
    s_fresh_check (S_LIT ("   lead and  trail \t\n"), "leading, trailing, multiple");
    s_fresh_check (S_LIT ("a\tb\nc\vd\fe\rf g a\tb\nc"), "every kind of whitespace");
    s_fresh_check (S_LIT ("\x1c\x1f \x85 \xa0 \x00 \x7f \x1c\x1f \x08 \x0e"),
                   "bytes next to whitespace are word bytes");
    s_fresh_check (S_LIT ("caf\xc3\xa9 \xff\xfe \x80 caf\xc3\xa9 \xff\xfe\xfd \x80\x80"),
                   "bytes from 0x80");
    s_fresh_check (S_LIT ("abcdefgh abcdefgh\0 abcdefgh\0\0 abcdefgh abcdefg abcdefgh\0"),
                   "differ only in length, by NUL bytes");
    s_fresh_check (S_LIT ("\0 \0\0 \0\0\0 \0 a\0 a a\0b a\0c a\0b"), "NUL bytes");
    s_fresh_check (S_LIT ("abcdefghX abcdefghY abcdefghX abcdefgh abcdefghXY"),
                   "differ only after byte 8");
    s_fresh_check (S_LIT ("0123456789abcdefX 0123456789abcdefY 0123456789abcdef "
                          "0123456789abcdefX 0123456789abcde 0123456789abcdeZ"),
                   "differ only after byte 16");
    s_fresh_check (S_LIT ("0123456789abcdefghijklmnopqrstuvwxyzABCD "
                          "0123456789abcdefghijklmnopqrstuvwxyzABCE "
                          "1123456789abcdefghijklmnopqrstuvwxyzABCD "
                          "0123456789abcdefghijklmnopqrstuvwxyzABCD"),
                   "40-byte words that differ in their first or last byte");
    s_fresh_check (S_LIT ("the end is at the buffer end"), "last word at the end");
    s_fresh_check (S_LIT ("a b c d e f g"), "one-byte last word at the end");
    s_fresh_check (S_LIT ("short abcdefg"), "7-byte last word at the end");
    s_fresh_check (S_LIT ("short abcdefghi"), "9-byte last word at the end");
}

Test (combiner, counts_of_words_of_every_length_up_to_40_match_the_reference, .timeout = 20)
{
    //  Each length, each word ending exactly at the text's end once: heads of
    //  short words must not be read past it
    for (size_t len = 1; len <= 40; len++) {
        char what [64];
        sprintf (what, "a word of %zu bytes alone", len);
        s_fresh_check (s_base, len, what);
        s_buf_t buf = { 0 };
        for (size_t other = 1; other <= 40; other++) {
            s_put (&buf, s_base, other);
            s_put (&buf, " ", 1);
        }
        s_put (&buf, s_base, len);
        sprintf (what, "every length, then %zu bytes at the end", len);
        s_fresh_check (buf.data, buf.len, what);
        free (buf.data);
    }
}

Test (combiner, words_that_differ_only_between_their_head_and_last_8_bytes_are_distinct,
      .timeout = 20)
{
    //  Same length, same first 8 and last 8 bytes: only the middle tells
    //  them apart. Thousands of them, so they meet in the probe sequences,
    //  each twice (the second time after the table grew).
    uint64_t state = 42;
    const size_t lens [] = { 17, 24, 40 };
    for (size_t l = 0; l < 3; l++) {
        size_t len = lens [l];
        s_buf_t buf = { 0 };
        char word [64];
        memcpy (word, s_base, len);
        for (size_t pass = 0; pass < 2; pass++) {
            uint64_t replay = state;
            for (size_t n = 0; n < 3000; n++) {
                for (size_t at = 8; at < len - 8; at++)
                    word [at] = s_word_byte (&replay);
                s_put (&buf, word, len);
                s_put (&buf, " ", 1);
            }
        }
        char what [64];
        sprintf (what, "%zu-byte words that differ in the middle", len);
        char *text = s_exact (buf.data, buf.len);
        s_fresh_check (text, buf.len, what);
        free (text);
        free (buf.data);
        state += 7;
    }
}

Test (combiner, counts_of_random_texts_match_the_reference, .timeout = 30)
{
    for (uint64_t seed = 1; seed <= 60; seed++) {
        size_t len;
        size_t nwords = seed % 10 == 0? 20000: 1 + (size_t) (seed * 37 % 800);
        size_t nvocab = seed % 3 == 0? 5: seed % 3 == 1? 60: 2000;
        char *text = s_random_text (seed, nwords, nvocab, &len);
        char what [64];
        sprintf (what, "random text %llu", (unsigned long long) seed);
        s_fresh_check (text, len, what);
        free (text);
    }
}

Test (combiner, a_word_longer_than_an_arena_block_is_counted_whole, .timeout = 20)
{
    //  Words of 1.5 MiB and 3 MiB (the arena's blocks are 1 MiB, and a word
    //  over 256 KiB gets its own): the same word twice, one that differs only
    //  in its last byte, one a byte shorter, the last at the text's end
    const size_t big = 3u << 19;
    s_buf_t buf = { 0 };
    char *word = (char *) malloc (2 * big);
    cr_assert_not_null (word);
    for (size_t at = 0; at < 2 * big; at++)
        word [at] = (char) ('a' + at % 26);
    s_put (&buf, S_LIT ("before "));
    s_put (&buf, word, big);
    s_put (&buf, S_LIT (" small "));
    s_put (&buf, word, big);
    s_put (&buf, S_LIT ("\n"));
    word [big - 1] = '!';
    s_put (&buf, word, big);
    word [big - 1] = 'a' + (big - 1) % 26;
    s_put (&buf, S_LIT (" small "));
    s_put (&buf, word, big - 1);
    s_put (&buf, S_LIT (" "));
    s_put (&buf, word, 2 * big);
    s_put (&buf, S_LIT (" after "));
    s_put (&buf, word, big);

    zmr_combiner_t *table = zmr_combiner_new ();
    char *text = s_exact (buf.data, buf.len);
    s_count_and_check (table, text, buf.len, "long words");
    zmr_combined_t *slot = zmr_combiner_lookup (table, word, big);
    cr_assert_not_null (slot);
    cr_assert_eq (slot->count, 3);
    cr_assert_eq (slot->len, big);
    cr_assert_eq (memcmp (slot->word, word, big), 0);
    cr_assert_eq (zmr_combiner_lookup (table, word, 2 * big)->count, 1);
    cr_assert_eq (zmr_combiner_lookup (table, "small", 5)->count, 2);
    cr_assert_eq (zmr_combiner_size (table), 7);
    //  Small words after long ones still go to the arena right
    s_count_and_check (table, S_LIT ("before small after more words here"), "after long words");
    cr_assert_eq (memcmp (zmr_combiner_lookup (table, word, big)->word, word, big), 0);
    free (text);
    free (word);
    free (buf.data);
    zmr_combiner_destroy (&table);
}

Test (combiner, words_reports_the_number_of_words_counted, .timeout = 10)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    uint64_t words = 99;
    cr_assert_eq (zmr_combiner_count (table, " a  b a\n", 8, NULL, NULL, &words), 0);
    cr_assert_eq (words, 3);
    cr_assert_eq (zmr_combiner_count (table, "", 0, NULL, NULL, &words), 0);
    cr_assert_eq (words, 0);
    cr_assert_eq (zmr_combiner_count (table, NULL, 0, NULL, NULL, &words), 0);
    cr_assert_eq (words, 0);
    cr_assert_eq (zmr_combiner_count (table, "  \t ", 4, NULL, NULL, &words), 0);
    cr_assert_eq (words, 0);
    zmr_combiner_destroy (&table);
}


//  --------------------------------------------------------------------------
//  Rounds

Test (combiner, a_round_lists_only_its_own_words_with_its_own_counts, .timeout = 10)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    uint64_t words;
    cr_assert_eq (zmr_combiner_count (table, S_LIT ("apple pear apple fig"), NULL, NULL, &words), 0);
    cr_assert_eq (zmr_combiner_lookup (table, "apple", 5)->count, 2);
    cr_assert_eq (zmr_combiner_count (table, S_LIT ("pear pear kiwi"), NULL, NULL, &words), 0);
    cr_assert_eq (words, 3);
    size_t ntouched;
    zmr_combined_t **touched = zmr_combiner_touched (table, &ntouched);
    cr_assert_eq (ntouched, 2, "pear and kiwi, not apple or fig");
    bool pear = false, kiwi = false;
    for (size_t i = 0; i < ntouched; i++) {
        if (touched [i]->len == 4 && memcmp (touched [i]->word, "pear", 4) == 0) {
            cr_assert_eq (touched [i]->count, 2, "this round's count, not 3");
            pear = true;
        }
        if (touched [i]->len == 4 && memcmp (touched [i]->word, "kiwi", 4) == 0) {
            cr_assert_eq (touched [i]->count, 1);
            kiwi = true;
        }
    }
    cr_assert (pear && kiwi);
    //  Earlier rounds' words stay in the table
    cr_assert_not_null (zmr_combiner_lookup (table, "apple", 5));
    cr_assert_not_null (zmr_combiner_lookup (table, "fig", 3));
    cr_assert_eq (zmr_combiner_size (table), 4);
    //  An empty round touches nothing
    cr_assert_eq (zmr_combiner_count (table, "", 0, NULL, NULL, &words), 0);
    zmr_combiner_touched (table, &ntouched);
    cr_assert_eq (ntouched, 0);
    zmr_combiner_destroy (&table);
}

Test (combiner, every_round_of_one_table_matches_the_reference_for_its_text_alone,
      .timeout = 30)
{
    //  Rounds over overlapping vocabularies (the same seed family for the
    //  vocabulary makes words recur across rounds)
    zmr_combiner_t *table = zmr_combiner_new ();
    for (uint64_t round = 1; round <= 40; round++) {
        size_t len;
        uint64_t seed = round % 4 + 1;
        char *text = s_random_text (seed * 1000 + round % 2, 1 + round * 97 % 3000,
                                    round % 5 == 0? 7: 500, &len);
        char what [64];
        sprintf (what, "round %llu", (unsigned long long) round);
        s_count_and_check (table, text, len, what);
        free (text);
    }
    zmr_combiner_destroy (&table);
}

Test (combiner, part_set_by_on_new_is_kept_across_rounds, .timeout = 30)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    s_recorder_t rec = { 0 };
    char buf [64];
    //  Round r holds words r*3000 .. r*3000 + 10000: each overlaps the last
    for (size_t round = 0; round < 8; round++) {
        s_buf_t text = { 0 };
        for (size_t n = round * 3000; n < round * 3000 + 10000; n++) {
            s_put (&text, buf, s_word (buf, n));
            s_put (&text, " ", 1);
        }
        uint64_t words;
        cr_assert_eq (zmr_combiner_count (table, text.data, text.len, s_record, &rec, &words), 0);
        cr_assert_eq (words, 10000);
        free (text.data);
        size_t seen = round * 3000 + 10000;
        cr_assert_eq (rec.calls, seen, "on_new once for each word new to the table");
        cr_assert_eq (zmr_combiner_size (table), seen);
        //  The part given to word n was n + 1: kept through rounds and growth
        for (size_t n = 0; n < seen; n++) {
            zmr_combined_t *slot = zmr_combiner_lookup (table, buf, s_word (buf, n));
            if (!slot || slot->part != n + 1)
                cr_assert_fail ("round %zu: word %zu lost its part", round, n);
        }
    }
    cr_assert_not (rec.bad_slot, "on_new gets a slot with count 0 and part 0");
    s_assert_offered_once (&rec);
    free (rec.seen.data);
    zmr_combiner_destroy (&table);
}


//  --------------------------------------------------------------------------
//  on_new

Test (combiner, on_new_is_called_once_per_distinct_word_until_clear, .timeout = 30)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    s_recorder_t rec = { 0 };
    for (uint64_t round = 1; round <= 20; round++) {
        size_t len;
        char *text = s_random_text (round % 3 + 7, 2000, 800, &len);
        uint64_t words;
        cr_assert_eq (zmr_combiner_count (table, text, len, s_record, &rec, &words), 0);
        free (text);
    }
    cr_assert_eq (rec.calls, zmr_combiner_size (table));
    s_assert_offered_once (&rec);
    cr_assert_not (rec.bad_slot);
    size_t before = rec.calls;
    cr_assert_gt (before, 500);

    //  After clear every word is new again, and its slot starts from part 0
    zmr_combiner_clear (table);
    rec.calls = 0;
    rec.seen.len = 0;
    size_t len;
    char *text = s_random_text (7, 2000, 800, &len);
    s_ref_t ref;
    s_ref_build (&ref, text, len);
    uint64_t words;
    cr_assert_eq (zmr_combiner_count (table, text, len, s_record, &rec, &words), 0);
    s_check_round (table, &ref, words, "after clear");
    cr_assert_eq (rec.calls, ref.ndistinct);
    cr_assert_not (rec.bad_slot, "clear forgets what the caller kept in the slots");
    s_assert_offered_once (&rec);
    s_ref_destroy (&ref);
    free (text);
    free (rec.seen.data);
    zmr_combiner_destroy (&table);
}

Test (combiner, on_new_saying_stop_fails_the_count_after_the_words_before, .timeout = 10)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    s_recorder_t rec = { .stop_at = 3 };
    uint64_t words = 99;
    //  on_new's third call is for "three"
    int rc = zmr_combiner_count (table, S_LIT ("one two one three four"), s_record, &rec, &words);
    cr_assert_eq (rc, -1);
    cr_assert_eq (rec.calls, 3, "no word after the stop is offered");
    cr_assert_eq (words, 3, "one two one were counted");
    size_t ntouched;
    zmr_combined_t **touched = zmr_combiner_touched (table, &ntouched);
    cr_assert_eq (ntouched, 2, "the round holds the words before the stop");
    for (size_t i = 0; i < ntouched; i++) {
        bool one = touched [i]->len == 3 && memcmp (touched [i]->word, "one", 3) == 0;
        bool two = touched [i]->len == 3 && memcmp (touched [i]->word, "two", 3) == 0;
        cr_assert (one || two);
        cr_assert_eq (touched [i]->count, one? 2: 1);
    }
    cr_assert_null (zmr_combiner_lookup (table, "four", 4));
    free (rec.seen.data);
    zmr_combiner_destroy (&table);
}

Test (combiner, a_word_whose_on_new_said_stop_is_offered_to_on_new_again, .timeout = 10)
{
    //  on_new refused the word, so its slot never got what on_new keeps
    //  there (the mapper: its partition). The next round must not count it
    //  without asking on_new again.
    zmr_combiner_t *table = zmr_combiner_new ();
    s_recorder_t rec = { .stop_at = 2 };
    uint64_t words;
    cr_assert_eq (zmr_combiner_count (table, S_LIT ("one two"), s_record, &rec, &words), -1);
    cr_assert_eq (rec.calls, 2);
    rec.stop_at = 0;
    cr_assert_eq (zmr_combiner_count (table, S_LIT ("one two"), s_record, &rec, &words), 0);
    zmr_combined_t *two = zmr_combiner_lookup (table, "two", 3);
    uint32_t part = two? two->part: 0;
    free (rec.seen.data);
    zmr_combiner_destroy (&table);
    cr_assert_eq (words, 2);
    cr_assert_eq (rec.calls, 3, "on_new is asked about \"two\" again, %zu calls in all",
                  rec.calls);
    cr_assert_eq (part, 3, "\"two\" has the part on_new gave it, not %u", part);
}


//  --------------------------------------------------------------------------
//  Growth

Test (combiner, the_touched_list_is_exact_after_the_table_grows_within_one_round,
      .timeout = 60)
{
    //  200k distinct words in one round: 4096 slots at most half full grow
    //  seven times. Word n appears n % 3 + 1 times, its repeats after every
    //  word's first time (so they are counted after the growth).
    const size_t distinct = 200000;
    char buf [64];
    s_buf_t text = { 0 };
    for (size_t pass = 0; pass < 3; pass++)
        for (size_t n = 0; n < distinct; n++)
            if (n % 3 >= pass) {
                s_put (&text, buf, s_word (buf, n));
                s_put (&text, pass == 1? "\n": " ", 1);
            }
    zmr_combiner_t *table = zmr_combiner_new ();
    s_recorder_t rec = { 0 };
    s_ref_t ref;
    s_ref_build (&ref, text.data, text.len);
    cr_assert_eq (ref.ndistinct, distinct);
    uint64_t words;
    cr_assert_eq (zmr_combiner_count (table, text.data, text.len, s_record, &rec, &words), 0);
    s_check_round (table, &ref, words, "one round of 200k distinct words");
    cr_assert_eq (zmr_combiner_size (table), distinct);
    cr_assert_eq (rec.calls, distinct);
    for (size_t n = 0; n < distinct; n++) {
        zmr_combined_t *slot = zmr_combiner_lookup (table, buf, s_word (buf, n));
        if (!slot || slot->part != n + 1 || slot->count != n % 3 + 1)
            cr_assert_fail ("word %zu: wrong part or count after growth", n);
    }
    s_ref_destroy (&ref);
    free (text.data);

    //  A second round: half old words, half new ones, growing again
    text.data = NULL;
    text.len = text.cap = 0;
    for (size_t n = distinct / 2; n < distinct * 5 / 2; n++) {
        s_put (&text, buf, s_word (buf, n));
        s_put (&text, "\t", 1);
    }
    s_ref_build (&ref, text.data, text.len);
    cr_assert_eq (zmr_combiner_count (table, text.data, text.len, s_record, &rec, &words), 0);
    s_check_round (table, &ref, words, "a second round that grows the table again");
    cr_assert_eq (zmr_combiner_size (table), distinct * 5 / 2);
    cr_assert_eq (rec.calls, distinct * 5 / 2);
    for (size_t n = 0; n < distinct * 5 / 2; n++) {
        zmr_combined_t *slot = zmr_combiner_lookup (table, buf, s_word (buf, n));
        if (!slot || slot->part != n + 1)
            cr_assert_fail ("word %zu: wrong part after the second growth", n);
    }
    s_ref_destroy (&ref);
    free (text.data);
    free (rec.seen.data);
    zmr_combiner_destroy (&table);
}


//  --------------------------------------------------------------------------
//  Lookup, size, clear

Test (combiner, lookup_finds_counted_words_and_only_them, .timeout = 10)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    uint64_t words;
    const char text [] = "abc abcdefgh abcdefgh\0 0123456789abcdefX 0123456789abcdefghijK \x80\xff";
    cr_assert_eq (zmr_combiner_count (table, S_LIT (text), NULL, NULL, &words), 0);
    cr_assert_eq (words, 6);
    cr_assert_eq (zmr_combiner_size (table), 6, "size counts distinct words");
    cr_assert_not_null (zmr_combiner_lookup (table, "abc", 3));
    cr_assert_not_null (zmr_combiner_lookup (table, "abcdefgh", 8));
    cr_assert_not_null (zmr_combiner_lookup (table, "abcdefgh\0", 9));
    cr_assert_not_null (zmr_combiner_lookup (table, "0123456789abcdefX", 17));
    cr_assert_not_null (zmr_combiner_lookup (table, "0123456789abcdefghijK", 21));
    cr_assert_not_null (zmr_combiner_lookup (table, "\x80\xff", 2));
    //  Absent: prefixes, extensions, NUL-extended, one byte changed past 8 or 16
    cr_assert_null (zmr_combiner_lookup (table, "ab", 2));
    cr_assert_null (zmr_combiner_lookup (table, "abc\0", 4));
    cr_assert_null (zmr_combiner_lookup (table, "abcd", 4));
    cr_assert_null (zmr_combiner_lookup (table, "abcdefg", 7));
    cr_assert_null (zmr_combiner_lookup (table, "abcdefgh\0\0", 10));
    cr_assert_null (zmr_combiner_lookup (table, "abcdefghi", 9));
    cr_assert_null (zmr_combiner_lookup (table, "0123456789abcdefY", 17));
    cr_assert_null (zmr_combiner_lookup (table, "0123456789abcdef", 16));
    cr_assert_null (zmr_combiner_lookup (table, "0123456789abcdefghijL", 21));
    cr_assert_null (zmr_combiner_lookup (table, "1123456789abcdefghijK", 21));
    cr_assert_null (zmr_combiner_lookup (table, "\x80", 1));
    cr_assert_null (zmr_combiner_lookup (table, "", 0));
    cr_assert_null (zmr_combiner_lookup (table, "a b", 3));
    //  A lookup reads no byte past the word it is given
    char *exact = s_exact ("abc", 3);
    cr_assert_not_null (zmr_combiner_lookup (table, exact, 3));
    free (exact);
    exact = s_exact ("abcdefgh\0", 9);
    cr_assert_not_null (zmr_combiner_lookup (table, exact, 9));
    free (exact);
    //  Words are copied into the table, not borrowed from the text
    char mutable [] = "mutable words";
    cr_assert_eq (zmr_combiner_count (table, S_LIT (mutable), NULL, NULL, &words), 0);
    memcpy (mutable, "changed", 7);
    cr_assert_not_null (zmr_combiner_lookup (table, "mutable", 7));
    cr_assert_null (zmr_combiner_lookup (table, "changed", 7));
    cr_assert_eq (zmr_combiner_size (table), 8);
    zmr_combiner_destroy (&table);
}

Test (combiner, clear_empties_the_table_and_counting_resumes, .timeout = 30)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    char buf [64];
    //  Enough words to grow the table, and a long word in the arena
    s_buf_t text = { 0 };
    for (size_t n = 0; n < 20000; n++) {
        s_put (&text, buf, s_word (buf, n));
        s_put (&text, " ", 1);
    }
    size_t long_len = 600000;
    char *long_word = (char *) malloc (3 * long_len);
    for (size_t at = 0; at < 3 * long_len; at++)
        long_word [at] = (char) ('A' + at % 23);
    s_put (&text, long_word, long_len);
    uint64_t words;
    cr_assert_eq (zmr_combiner_count (table, text.data, text.len, NULL, NULL, &words), 0);
    cr_assert_eq (zmr_combiner_size (table), 20001);

    zmr_combiner_clear (table);
    cr_assert_eq (zmr_combiner_size (table), 0);
    size_t ntouched = 99;
    zmr_combiner_touched (table, &ntouched);
    cr_assert_eq (ntouched, 0);
    for (size_t n = 0; n < 20000; n++)
        if (zmr_combiner_lookup (table, buf, s_word (buf, n)))
            cr_assert_fail ("word %zu still found after clear", n);
    cr_assert_null (zmr_combiner_lookup (table, long_word, long_len));

    //  Counting again reuses the memory; words must come out right, short
    //  and long ones (longer than any block kept), and on_new is asked again
    for (int again = 0; again < 3; again++) {
        s_recorder_t rec = { 0 };
        s_buf_t next = { 0 };
        for (size_t n = 10000; n < 30000; n++) {
            s_put (&next, buf, s_word (buf, n));
            s_put (&next, "\n", 1);
        }
        s_put (&next, long_word, long_len * (size_t) (again + 1));
        s_put (&next, " tail ", 6);
        s_put (&next, long_word + 1, long_len / 2);
        char *exact = s_exact (next.data, next.len);
        s_ref_t ref;
        s_ref_build (&ref, exact, next.len);
        cr_assert_eq (zmr_combiner_count (table, exact, next.len, s_record, &rec, &words), 0);
        s_check_round (table, &ref, words, "after clear");
        cr_assert_eq (rec.calls, ref.ndistinct, "on_new is called again after clear");
        cr_assert_eq (zmr_combiner_size (table), ref.ndistinct);
        cr_assert_null (zmr_combiner_lookup (table, buf, s_word (buf, 5)));
        s_ref_destroy (&ref);
        free (exact);
        free (next.data);
        free (rec.seen.data);
        zmr_combiner_clear (table);
        cr_assert_eq (zmr_combiner_size (table), 0);
    }
    free (long_word);
    free (text.data);
    zmr_combiner_destroy (&table);
}

Test (combiner, a_text_over_4_gib_is_refused_unread, .timeout = 10)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    uint64_t words = 99;
    cr_assert_eq (zmr_combiner_count (table, S_LIT ("a b a"), NULL, NULL, &words), 0);
    static const char one [1] = { 'x' };
    cr_assert_eq (zmr_combiner_count (table, one, (size_t) 5 << 30, NULL, NULL, &words), -1);
    cr_assert_eq (words, 0);
    size_t ntouched = 99;
    zmr_combiner_touched (table, &ntouched);
    cr_assert_eq (ntouched, 0, "the refused round touched nothing");
    cr_assert_eq (zmr_combiner_size (table), 2);
    s_count_and_check (table, S_LIT ("b c"), "after a refused text");
    zmr_combiner_destroy (&table);
}

//  A round may take its text in pieces, each cut after a whitespace byte
//  (the mapper reads a chunk by reference so): the round then holds the
//  counts of the whole text, as the reference counts it.
Test (combiner, a_round_counted_in_pieces_holds_the_counts_of_the_whole_text, .timeout = 30)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    for (uint64_t seed = 1; seed <= 20; seed++) {
        size_t len;
        char *text = s_random_text (seed, 3000, seed % 2? 50: 5000, &len);
        s_ref_t ref;
        s_ref_build (&ref, text, len);
        zmr_combiner_round (table);
        uint64_t words = 0;
        size_t from = 0;
        uint64_t state = seed;
        while (from < len) {
            //  A piece of random length, then on to just past a whitespace
            size_t to = from + 1 + (size_t) (s_rand (&state) % 997);
            if (to > len)
                to = len;
            while (to < len && !s_is_blank ((unsigned char) text [to - 1]))
                to++;
            char *piece = s_exact (text + from, to - from);
            uint64_t counted;
            cr_assert_eq (zmr_combiner_add (table, piece, to - from, NULL, NULL, &counted), 0);
            words += counted;
            free (piece);
            from = to;
        }
        char what [64];
        sprintf (what, "random text %llu in pieces", (unsigned long long) seed);
        s_check_round (table, &ref, words, what);
        s_ref_destroy (&ref);
        free (text);
    }
    zmr_combiner_destroy (&table);
}

//  Release forgets every word like clear and gives the memory back; the
//  table then counts as a new one.
Test (combiner, release_gives_memory_back_and_counting_resumes, .timeout = 30)
{
    zmr_combiner_t *table = zmr_combiner_new ();
    size_t fresh = zmr_combiner_memory (table);
    size_t len;
    char *text = s_random_text (7, 200000, 100000, &len);
    uint64_t words;
    cr_assert_eq (zmr_combiner_count (table, text, len, NULL, NULL, &words), 0);
    cr_assert_gt (zmr_combiner_memory (table), 4 * fresh, "the table did not grow");
    cr_assert_eq (zmr_combiner_release (table), 0);
    cr_assert_eq (zmr_combiner_size (table), 0);
    cr_assert_leq (zmr_combiner_memory (table), fresh, "memory kept after release");
    size_t ntouched = 9;
    zmr_combiner_touched (table, &ntouched);
    cr_assert_eq (ntouched, 0);
    s_recorder_t rec = { 0 };
    s_ref_t ref;
    s_ref_build (&ref, text, len);
    cr_assert_eq (zmr_combiner_count (table, text, len, s_record, &rec, &words), 0);
    s_check_round (table, &ref, words, "after release");
    cr_assert_eq (rec.calls, ref.ndistinct, "on_new is asked again after release");
    s_ref_destroy (&ref);
    free (rec.seen.data);
    free (text);
    zmr_combiner_destroy (&table);
}
