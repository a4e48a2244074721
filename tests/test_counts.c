/*  test_counts: the word -> count table, as the mapper, reducer and sink use
    it: add, look up, walk in insertion order, sort into result order, clear. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zmr_counts.h"
#include "zmr_job.h"
#include "zmr_tokenize.h"

Test (counts, add_inserts_then_increments)
{
    zmr_counts_t *counts = zmr_counts_new ();
    cr_assert_not_null (counts);
    cr_assert_eq (zmr_counts_size (counts), 0);
    cr_assert_eq (zmr_counts_total (counts), 0);
    cr_assert_null (zmr_counts_lookup (counts, "hello", 5));

    bool is_new = false;
    zmr_entry_t *entry = zmr_counts_add (counts, "hello", 5, 1, &is_new);
    cr_assert_not_null (entry);
    cr_assert (is_new);
    cr_assert_eq (entry->len, 5);
    cr_assert_eq (entry->count, 1);
    cr_assert_eq (entry->aux, 0);
    cr_assert_eq (memcmp (entry->word, "hello", 6), 0, "word is copied and NUL-terminated");
    entry->aux = 42;

    entry = zmr_counts_add (counts, "hello", 5, 3, &is_new);
    cr_assert_not (is_new);
    cr_assert_eq (entry->count, 4);
    cr_assert_eq (entry->aux, 42, "aux belongs to the caller and is kept");
    cr_assert_not_null (zmr_counts_add (counts, "world", 5, 2, NULL));

    cr_assert_eq (zmr_counts_size (counts), 2);
    cr_assert_eq (zmr_counts_total (counts), 6);
    cr_assert_eq (zmr_counts_lookup (counts, "hello", 5)->count, 4);
    cr_assert_eq (zmr_counts_lookup (counts, "world", 5)->count, 2);
    cr_assert_null (zmr_counts_lookup (counts, "hell", 4), "a prefix is another word");
    cr_assert_null (zmr_counts_lookup (counts, "hello!", 6));
    zmr_counts_destroy (&counts);
    cr_assert_null (counts);
    zmr_counts_destroy (&counts);
    zmr_counts_destroy (NULL);
}

Test (counts, words_are_copied_not_borrowed)
{
    zmr_counts_t *counts = zmr_counts_new ();
    char word [] = "mutable";
    zmr_counts_add (counts, word, 7, 1, NULL);
    memcpy (word, "changed", 7);
    cr_assert_not_null (zmr_counts_lookup (counts, "mutable", 7));
    cr_assert_null (zmr_counts_lookup (counts, "changed", 7));
    zmr_counts_destroy (&counts);
}

Test (counts, entries_are_dense_in_insertion_order)
{
    zmr_counts_t *counts = zmr_counts_new ();
    const char *words [] = { "delta", "alpha", "charlie", "bravo" };
    for (int round = 0; round < 3; round++)
        for (int at = 0; at < 4; at++)
            zmr_counts_add (counts, words [at], strlen (words [at]), (uint64_t) at + 1, NULL);
    zmr_entry_t *entries = zmr_counts_entries (counts);
    cr_assert_eq (zmr_counts_size (counts), 4);
    for (int at = 0; at < 4; at++) {
        cr_assert_str_eq (entries [at].word, words [at]);
        cr_assert_eq (entries [at].count, 3 * ((uint64_t) at + 1));
        cr_assert_eq (zmr_counts_lookup (counts, words [at], strlen (words [at])), &entries [at]);
    }
    cr_assert_eq (zmr_counts_total (counts), 3 * (1 + 2 + 3 + 4));
    zmr_counts_destroy (&counts);
}

Test (counts, empty_word_and_words_with_nul_bytes_are_distinct_words)
{
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_counts_add (counts, "", 0, 1, NULL);
    zmr_counts_add (counts, "a\0b", 3, 2, NULL);
    zmr_counts_add (counts, "a\0c", 3, 3, NULL);
    zmr_counts_add (counts, "a", 1, 4, NULL);
    zmr_counts_add (counts, "\0", 1, 5, NULL);
    zmr_counts_add (counts, "\0\0", 2, 6, NULL);
    cr_assert_eq (zmr_counts_size (counts), 6);
    cr_assert_eq (zmr_counts_lookup (counts, "", 0)->count, 1);
    cr_assert_eq (zmr_counts_lookup (counts, "a\0b", 3)->count, 2);
    cr_assert_eq (zmr_counts_lookup (counts, "a\0c", 3)->count, 3);
    cr_assert_eq (zmr_counts_lookup (counts, "a", 1)->count, 4);
    cr_assert_eq (zmr_counts_lookup (counts, "\0", 1)->count, 5);
    cr_assert_eq (zmr_counts_lookup (counts, "\0\0", 2)->count, 6);
    cr_assert_null (zmr_counts_lookup (counts, "\0\0\0", 3));
    zmr_entry_t *entry = zmr_counts_lookup (counts, "a\0c", 3);
    cr_assert_eq (entry->len, 3);
    cr_assert_eq (memcmp (entry->word, "a\0c\0", 4), 0);
    zmr_counts_destroy (&counts);
}

//  Word number n as text; distinct for every n
static size_t
s_word (char *buf, size_t n)
{
    return (size_t) sprintf (buf, "w%zx.%zu", n * 2654435761u, n);
}

Test (counts, a_million_distinct_words_survive_every_rehash)
{
    zmr_counts_t *counts = zmr_counts_new ();
    const size_t words = 1000000;
    char buf [64];
    for (size_t n = 0; n < words; n++) {
        bool is_new = false;
        size_t len = s_word (buf, n);
        zmr_entry_t *entry = zmr_counts_add (counts, buf, len, n % 7 + 1, &is_new);
        cr_assert_not_null (entry);
        if (!is_new)
            cr_assert_fail ("word %zu reported as present", n);
    }
    //  Every third word a second time
    for (size_t n = 0; n < words; n += 3) {
        size_t len = s_word (buf, n);
        bool is_new = true;
        zmr_counts_add (counts, buf, len, 100, &is_new);
        if (is_new)
            cr_assert_fail ("word %zu lost after growth", n);
    }
    cr_assert_eq (zmr_counts_size (counts), words);
    uint64_t total = 0;
    zmr_entry_t *entries = zmr_counts_entries (counts);
    for (size_t n = 0; n < words; n++) {
        size_t len = s_word (buf, n);
        uint64_t expected = n % 7 + 1 + (n % 3 == 0 ? 100 : 0);
        total += expected;
        zmr_entry_t *entry = zmr_counts_lookup (counts, buf, len);
        if (!entry || entry->count != expected || entry != &entries [n]
        ||  entry->len != len || memcmp (entry->word, buf, len + 1) != 0)
            cr_assert_fail ("word %zu: wrong entry after growth", n);
    }
    cr_assert_eq (zmr_counts_total (counts), total);
    cr_assert_null (zmr_counts_lookup (counts, "w-absent", 8));
    //  Index at most half full, words once in the arena: memory stays modest
    cr_assert_lt (zmr_counts_memory (counts), 128u << 20);
    zmr_counts_destroy (&counts);
}

Test (counts, every_word_is_found_right_after_each_growth)
{
    //  A later rehash would hide an index slot lost during an earlier one,
    //  so look every word up just after each power of two
    zmr_counts_t *counts = zmr_counts_new ();
    char buf [64];
    for (size_t n = 0; n < 70000; n++) {
        zmr_counts_add (counts, buf, s_word (buf, n), n + 1, NULL);
        bool power = (n & (n - 1)) == 0;
        bool after_power = n > 1 && ((n - 1) & (n - 2)) == 0;
        if (!power && !after_power)
            continue;
        for (size_t k = 0; k <= n; k++) {
            zmr_entry_t *entry = zmr_counts_lookup (counts, buf, s_word (buf, k));
            if (!entry || entry->count != k + 1)
                cr_assert_fail ("word %zu lost after adding word %zu", k, n);
        }
    }
    zmr_counts_destroy (&counts);
}

Test (counts, a_five_mebibyte_word_is_stored_whole)
{
    zmr_counts_t *counts = zmr_counts_new ();
    size_t len = 5u << 20;
    char *big = (char *) malloc (len);
    cr_assert_not_null (big);
    for (size_t at = 0; at < len; at++)
        big [at] = (char) ('a' + at % 26);
    zmr_counts_add (counts, "before", 6, 1, NULL);
    zmr_entry_t *entry = zmr_counts_add (counts, big, len, 1, NULL);
    cr_assert_not_null (entry);
    cr_assert_eq (entry->len, len);
    cr_assert_eq (memcmp (entry->word, big, len), 0);
    cr_assert_eq (entry->word [len], 0, "followed by a NUL byte");
    zmr_counts_add (counts, "after", 5, 1, NULL);
    cr_assert_eq (zmr_counts_add (counts, big, len, 2, NULL)->count, 3);
    //  The same word but for its last byte is another word
    big [len - 1] ^= 1;
    cr_assert_null (zmr_counts_lookup (counts, big, len));
    cr_assert_null (zmr_counts_lookup (counts, big, len - 1));
    cr_assert_eq (zmr_counts_size (counts), 3);
    cr_assert_str_eq (zmr_counts_lookup (counts, "before", 6)->word, "before");
    cr_assert_str_eq (zmr_counts_lookup (counts, "after", 5)->word, "after");
    cr_assert_geq (zmr_counts_memory (counts), len);
    free (big);
    zmr_counts_destroy (&counts);
}

Test (counts, hash_tells_apart_words_of_every_length)
{
    //  Words of lengths 0..200 that differ in one byte each are all distinct
    zmr_counts_t *counts = zmr_counts_new ();
    char buf [256];
    size_t expected = 0;
    for (size_t len = 0; len <= 200; len++) {
        memset (buf, 'q', len);
        zmr_counts_add (counts, buf, len, 1, NULL);
        expected++;
        for (size_t at = 0; at < len; at++) {
            buf [at] = 'r';
            bool is_new = false;
            zmr_counts_add (counts, buf, len, 1, &is_new);
            cr_assert (is_new, "len %zu, byte %zu", len, at);
            expected++;
            buf [at] = 'q';
        }
    }
    cr_assert_eq (zmr_counts_size (counts), expected);
    zmr_entry_t *entries = zmr_counts_entries (counts);
    size_t equal_hashes = 0;
    for (size_t at = 1; at < expected; at++)
        equal_hashes += entries [at].hash == entries [at - 1].hash;
    cr_assert_eq (equal_hashes, 0, "neighbouring words share a 32-bit hash");
    zmr_counts_destroy (&counts);
}

Test (counts, clear_empties_and_keeps_memory)
{
    zmr_counts_t *counts = zmr_counts_new ();
    char buf [64];
    for (size_t n = 0; n < 50000; n++)
        zmr_counts_add (counts, buf, s_word (buf, n), 1, NULL);
    size_t memory = zmr_counts_memory (counts);
    zmr_counts_clear (counts);
    cr_assert_eq (zmr_counts_size (counts), 0);
    cr_assert_eq (zmr_counts_total (counts), 0);
    cr_assert_null (zmr_counts_lookup (counts, buf, s_word (buf, 7)));
    cr_assert_eq (zmr_counts_memory (counts), memory, "clear keeps its memory");

    //  Reuse: the same words again are new, and the arena is refilled not grown
    for (size_t n = 0; n < 50000; n++) {
        bool is_new = false;
        zmr_counts_add (counts, buf, s_word (buf, n), 2, &is_new);
        if (!is_new)
            cr_assert_fail ("word %zu survived clear", n);
    }
    cr_assert_eq (zmr_counts_size (counts), 50000);
    cr_assert_eq (zmr_counts_total (counts), 100000);
    cr_assert_eq (zmr_counts_lookup (counts, buf, s_word (buf, 49999))->count, 2);
    cr_assert_eq (zmr_counts_memory (counts), memory, "reuse needs no new memory");
    zmr_counts_clear (counts);
    zmr_counts_add (counts, "x", 1, 1, NULL);
    cr_assert_eq (zmr_counts_entries (counts) [0].count, 1);
    cr_assert_str_eq (zmr_counts_entries (counts) [0].word, "x");
    zmr_counts_destroy (&counts);
}

static zmr_entry_t
s_entry (const char *word, size_t len, uint64_t count)
{
    zmr_entry_t entry = { .word = word, .len = (uint32_t) len, .count = count };
    return entry;
}

Test (counts, compare_orders_by_count_then_bytes)
{
    zmr_entry_t a = s_entry ("a", 1, 5), ab = s_entry ("ab", 2, 5), b = s_entry ("b", 1, 9);
    cr_assert_lt (zmr_entry_compare (&b, &a), 0, "higher count first");
    cr_assert_gt (zmr_entry_compare (&a, &b), 0);
    cr_assert_lt (zmr_entry_compare (&a, &ab), 0, "a prefix before the longer word");
    cr_assert_gt (zmr_entry_compare (&ab, &a), 0);
    cr_assert_eq (zmr_entry_compare (&a, &a), 0);
    zmr_entry_t high = s_entry ("\xc3\xa9", 2, 5), z = s_entry ("z", 1, 5);
    cr_assert_gt (zmr_entry_compare (&high, &z), 0, "bytes compare unsigned");
    zmr_entry_t nul = s_entry ("a\0", 2, 5);
    cr_assert_lt (zmr_entry_compare (&a, &nul), 0, "'a' before 'a\\0'");
    cr_assert_lt (zmr_entry_compare (&nul, &ab), 0, "'a\\0' before 'ab'");
    zmr_entry_t huge = s_entry ("a", 1, INT64_MAX), least = s_entry ("a", 1, (uint64_t) INT64_MIN);
    cr_assert_lt (zmr_entry_compare (&huge, &least), 0, "no overflow in count order");
    cr_assert_gt (zmr_entry_compare (&least, &huge), 0);
    zmr_entry_t minus = s_entry ("a", 1, (uint64_t) -1), one = s_entry ("a", 1, 1);
    cr_assert_gt (zmr_entry_compare (&minus, &one), 0, "counts are signed: -1 after 1");
}

Test (counts, sort_gives_the_result_order)
{
    zmr_counts_t *counts = zmr_counts_new ();
    struct { const char *word; uint64_t count; } input [] = {
        { "b", 2 }, { "ab", 3 }, { "\xc3\xa9t\xc3\xa9", 3 }, { "a", 3 }, { "Z", 3 },
        { "zebra", 7 }, { "B", 2 }, { "~", 3 }, { "\x7f", 3 }, { "\x80", 3 }, { "aa", 3 },
    };
    size_t n = sizeof (input) / sizeof (input [0]);
    for (size_t at = 0; at < n; at++)
        zmr_counts_add (counts, input [at].word, strlen (input [at].word), input [at].count, NULL);
    zmr_entry_t *entries = zmr_counts_entries (counts);
    zmr_entries_sort (entries, zmr_counts_size (counts));
    const char *expected [] = {
        "zebra", "Z", "a", "aa", "ab", "~", "\x7f", "\x80", "\xc3\xa9t\xc3\xa9", "B", "b"
    };
    for (size_t at = 0; at < n; at++)
        cr_assert_str_eq (entries [at].word, expected [at], "position %zu", at);
    zmr_entries_sort (entries, 0);
    zmr_entries_sort (NULL, 0);
    size_t none = 1;
    const zmr_entry_t **order = zmr_entries_order (NULL, NULL, 0, &none);
    cr_assert (order && none == 0, "no runs: an empty order");
    free (order);
    zmr_counts_destroy (&counts);
}

Test (counts, sort_agrees_with_a_pairwise_check_on_many_entries)
{
    zmr_counts_t *counts = zmr_counts_new ();
    char buf [16];
    unsigned int seed = 12345;
    for (int at = 0; at < 20000; at++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = 1 + (seed >> 16) % 4;
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            buf [k] = (char) ("aAz\x01\xff" [(seed >> 16) % 5]);
        }
        zmr_counts_add (counts, buf, len, 1, NULL);
    }
    size_t size = zmr_counts_size (counts);
    zmr_entry_t *entries = zmr_counts_entries (counts);
    zmr_entries_sort (entries, size);
    for (size_t at = 1; at < size; at++) {
        const zmr_entry_t *prev = &entries [at - 1], *next = &entries [at];
        cr_assert_geq (prev->count, next->count);
        if (prev->count == next->count) {
            size_t common = prev->len < next->len ? prev->len : next->len;
            int order = memcmp (prev->word, next->word, common);
            cr_assert (order < 0 || (order == 0 && prev->len < next->len),
                       "entries %zu and %zu out of order", at - 1, at);
        }
    }
    zmr_counts_destroy (&counts);
}

//  A word made from an id ("w" and the id in base 36, some words long);
//  returns its length.
static size_t
s_id_word (uint32_t id, char *out)
{
    size_t n = 0;
    out[n++] = 'w';
    do {
        out[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[id % 36];
        id /= 36;
    } while (id);
    if (n % 5 == 0) {
        memset (out + n, '_', 20);          //  Some words past 16 bytes
        n += 20;
    }
    return n;
}

//  Large tables take the batched path (prefetching slots and entries):
//  the counts must be those of an array indexed by word id, duplicates
//  within one batch included.
Test (counts, large_tables_merge_pairs_exactly_in_batches)
{
    enum { IDS = 150000 };
    //  add_pairs: every id with a count, in three passes, as a reducer would
    zmr_counts_t *counts = zmr_counts_new ();
    char (*words)[32] = malloc ((size_t) IDS * 32);
    zmr_pair_t *pairs = malloc (IDS * sizeof *pairs);
    for (uint32_t id = 0; id < IDS; id++) {
        pairs[id].word = words[id];
        pairs[id].len = s_id_word (id, words[id]);
        pairs[id].count = id % 4 + 1;
    }
    for (int pass = 0; pass < 3; pass++)
        cr_assert_eq (zmr_counts_add_pairs (counts, pairs, IDS), 0);
    //  Within one batch: the same word many times
    zmr_pair_t same[40];
    for (int k = 0; k < 40; k++)
        same[k] = pairs[7];
    cr_assert_eq (zmr_counts_add_pairs (counts, same, 40), 0);
    cr_assert_eq (zmr_counts_size (counts), IDS);
    for (uint32_t id = 0; id < IDS; id++) {
        zmr_entry_t *entry = zmr_counts_lookup (counts, pairs[id].word, pairs[id].len);
        cr_assert_not_null (entry);
        uint64_t want = 3 * (uint64_t) (id % 4 + 1) + (id == 7? 40 * (uint64_t) (7 % 4 + 1): 0);
        cr_assert_eq (entry->count, want, "id %u", id);
    }
    zmr_counts_destroy (&counts);
    free (pairs);
    free (words);
}

//  Sorts a copy of the table's entries and checks the result order of
//  docs/design.md pair by pair (bytewise with memcmp, not with the comparator
//  under test), and that the sort lost or doubled no entry.
static void
s_assert_sorts_in_result_order (zmr_counts_t *counts)
{
    size_t size = zmr_counts_size (counts);
    uint64_t total = zmr_counts_total (counts);
    zmr_entry_t *entries = malloc (size * sizeof *entries);
    memcpy (entries, zmr_counts_entries (counts), size * sizeof *entries);
    zmr_entries_sort (entries, size);
    uint64_t sum = 0;
    for (size_t at = 0; at < size; at++) {
        sum += entries [at].count;
        cr_assert_eq (zmr_counts_lookup (counts, entries [at].word, entries [at].len)->count,
                      entries [at].count, "entry %zu is not one of the table's", at);
        if (at == 0)
            continue;
        const zmr_entry_t *prev = &entries [at - 1], *next = &entries [at];
        cr_assert_geq (prev->count, next->count);
        if (prev->count == next->count) {
            size_t common = prev->len < next->len ? prev->len : next->len;
            int order = memcmp (prev->word, next->word, common);
            cr_assert (order < 0 || (order == 0 && prev->len < next->len),
                       "entries %zu and %zu out of order", at - 1, at);
        }
    }
    cr_assert_eq (sum, total, "entries lost or doubled by the sort");
    //  The same entries as three uneven runs, put in order by pointer (the
    //  sink's way): the very sequence checked above, entry by entry (the
    //  order is total: no two entries have the same word).
    const zmr_entry_t *table = zmr_counts_entries (counts);
    const zmr_entry_t *runs [3] = { table, table + size / 7, table + size / 2 };
    size_t lens [3] = { size / 7, size / 2 - size / 7, size - size / 2 };
    size_t ordered = 0;
    const zmr_entry_t **order = zmr_entries_order (runs, lens, 3, &ordered);
    cr_assert_not_null (order);
    cr_assert_eq (ordered, size);
    for (size_t at = 0; at < size; at++)
        cr_assert (order [at]->len == entries [at].len && order [at]->count == entries [at].count
                   && !memcmp (order [at]->word, entries [at].word, entries [at].len),
                   "by pointer, entry %zu differs from the sorted copy", at);
    free (order);
    free (entries);
}

//  Words that the first 8 bytes cannot tell apart (long common prefixes,
//  NUL bytes where padding would be, the empty word, bytes above 0x7f):
//  the sort must still give result order, checked pair by pair, and keep
//  every entry.
Test (counts, sort_orders_words_alike_in_their_first_eight_bytes)
{
    zmr_counts_t *counts = zmr_counts_new ();
    char buf [32];
    unsigned int seed = 777;
    static const char *const heads [] = { "", "ab", "ab\0", "commonpr", "commonprefix", "\xff\xff" };
    static const size_t head_lens [] = { 0, 2, 3, 8, 12, 2 };
    for (int at = 0; at < 30000; at++) {
        seed = seed * 1103515245u + 12345u;
        size_t head = (seed >> 16) % 6;
        memcpy (buf, heads [head], head_lens [head]);
        size_t len = head_lens [head];
        seed = seed * 1103515245u + 12345u;
        size_t tail = (seed >> 16) % 6;
        for (size_t k = 0; k < tail; k++) {
            seed = seed * 1103515245u + 12345u;
            buf [len++] = (char) ("a\0z\x80" [(seed >> 16) % 4]);
        }
        zmr_counts_add (counts, buf, len, 1 + (seed >> 20) % 3, NULL);
    }
    s_assert_sorts_in_result_order (counts);
    zmr_counts_destroy (&counts);
}

//  From 64Ki entries two threads sort, each a half, then the halves merge.
Test (counts, a_sort_of_300_thousand_entries_is_in_result_order)
{
    zmr_counts_t *counts = zmr_counts_new ();
    char buf [24];
    unsigned int seed = 777;
    for (int at = 0; at < 300000; at++) {
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        size_t want = 1 + (seed >> 16) % 14;
        while (len < want) {
            seed = seed * 1103515245u + 12345u;
            buf [len++] = (char) ("ab\0z\x80" "e" [(seed >> 16) % 6]);
        }
        //  Skewed counts, as text has: many ties among the rare words
        seed = seed * 1103515245u + 12345u;
        uint64_t count = (seed >> 16) % 8 == 0? 1 + (seed >> 8) % 5000: 1 + (seed >> 20) % 3;
        zmr_counts_add (counts, buf, len, count, NULL);
    }
    cr_assert_gt (zmr_counts_size (counts), 100000, "too few distinct words to sort in two");
    s_assert_sorts_in_result_order (counts);
    zmr_counts_destroy (&counts);
}

//  --------------------------------------------------------------------------
//  Reduces other than the word count's sum, and signed values

Test (counts, a_new_table_sums_and_min_max_keep_the_least_or_most)
{
    const int64_t values [] = { 5, -3, 12, -40, 0, 7 };
    const int reduces [] = { ZMR_REDUCE_SUM, ZMR_REDUCE_MIN, ZMR_REDUCE_MAX };
    const int64_t want [] = { -19, -40, 12 };
    for (int r = 0; r < 3; r++) {
        zmr_counts_t *counts = zmr_counts_new ();
        if (r > 0)
            zmr_counts_set_reduce (counts, reduces [r]);
        for (size_t at = 0; at < sizeof values / sizeof *values; at++) {
            bool is_new = false;
            zmr_entry_t *entry = zmr_counts_add (counts, "key", 3, (uint64_t) values [at], &is_new);
            cr_assert_not_null (entry);
            cr_assert_eq (is_new, at == 0);
        }
        //  A second key through the batched merge
        zmr_pair_t pairs [6];
        for (size_t at = 0; at < 6; at++)
            pairs [at] = (zmr_pair_t) { "other", 5, (uint64_t) values [5 - at] };
        cr_assert_eq (zmr_counts_add_pairs (counts, pairs, 6), 0);
        cr_assert_eq ((int64_t) zmr_counts_lookup (counts, "key", 3)->count, want [r],
                      "%s", zmr_reduce_name (reduces [r]));
        cr_assert_eq ((int64_t) zmr_counts_lookup (counts, "other", 5)->count, want [r],
                      "%s in pairs", zmr_reduce_name (reduces [r]));
        cr_assert_eq ((int64_t) zmr_counts_total (counts), 2 * want [r],
                      "the total is the sum of the values");
        zmr_counts_destroy (&counts);
    }
}

//  Adding value to a table holding start for "k" by reduce fails with
//  EOVERFLOW and leaves the entry and the total as they were.
static void
s_expect_overflow (int64_t start, int64_t value)
{
    zmr_counts_t *counts = zmr_counts_new ();
    cr_assert_not_null (zmr_counts_add (counts, "k", 1, (uint64_t) start, NULL));
    cr_assert_not_null (zmr_counts_add (counts, "j", 1, 3, NULL));
    uint64_t total = zmr_counts_total (counts);
    errno = 0;
    cr_assert_null (zmr_counts_add (counts, "k", 1, (uint64_t) value, NULL),
                    "%lld + %lld accepted", (long long) start, (long long) value);
    cr_assert_eq (errno, EOVERFLOW);
    cr_assert_eq ((int64_t) zmr_counts_lookup (counts, "k", 1)->count, start);
    cr_assert_eq (zmr_counts_total (counts), total);

    //  In a batch, the pairs before the failing one are merged
    zmr_pair_t pairs [] = { { "j", 1, 4 }, { "k", 1, (uint64_t) value }, { "j", 1, 100 } };
    errno = 0;
    cr_assert_eq (zmr_counts_add_pairs (counts, pairs, 3), -1);
    cr_assert_eq (errno, EOVERFLOW);
    cr_assert_eq ((int64_t) zmr_counts_lookup (counts, "k", 1)->count, start);
    cr_assert_eq (zmr_counts_lookup (counts, "j", 1)->count, 7);
    zmr_counts_destroy (&counts);
}

Test (counts, a_sum_past_64_signed_bits_fails_leaving_the_entry)
{
    s_expect_overflow (INT64_MAX, 1);
    s_expect_overflow (INT64_MAX - 5, 6);
    s_expect_overflow (1, INT64_MAX);
    s_expect_overflow (INT64_MIN, -1);
    s_expect_overflow (-2, INT64_MIN + 1);
    s_expect_overflow (INT64_MIN, INT64_MIN);

    //  Up to the limits is fine, both ways
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_counts_add (counts, "k", 1, (uint64_t) (INT64_MAX - 1), NULL);
    cr_assert_not_null (zmr_counts_add (counts, "k", 1, 1, NULL));
    cr_assert_eq ((int64_t) zmr_counts_lookup (counts, "k", 1)->count, INT64_MAX);
    cr_assert_not_null (zmr_counts_add (counts, "k", 1, (uint64_t) INT64_MIN, NULL));
    cr_assert_eq ((int64_t) zmr_counts_lookup (counts, "k", 1)->count, -1);
    cr_assert_not_null (zmr_counts_add (counts, "k", 1, (uint64_t) INT64_MIN + 1, NULL));
    cr_assert_eq ((int64_t) zmr_counts_lookup (counts, "k", 1)->count, INT64_MIN);

    //  min and max never overflow
    zmr_counts_set_reduce (counts, ZMR_REDUCE_MAX);
    zmr_counts_clear (counts);
    zmr_counts_add (counts, "k", 1, (uint64_t) INT64_MAX, NULL);
    cr_assert_not_null (zmr_counts_add (counts, "k", 1, (uint64_t) INT64_MAX, NULL));
    cr_assert_eq ((int64_t) zmr_counts_lookup (counts, "k", 1)->count, INT64_MAX);
    zmr_counts_destroy (&counts);
}

static char s_tmp [64];             //  A temporary directory for python3's files

static void
s_tmp_remove (void)
{
    if (!*s_tmp)
        return;
    char path [128];
    snprintf (path, sizeof path, "%s/entries", s_tmp);
    unlink (path);
    rmdir (s_tmp);
    *s_tmp = 0;
}

//  Every sort of the table's entries (zmr_counts_sorted, zmr_entries_sort,
//  zmr_entries_order over runs, qsort with zmr_entry_compare) against
//  python3's sorted() by (-value, key bytes) over signed values.
Test (counts, signed_values_sort_as_python_sorts_them, .fini = s_tmp_remove)
{
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_counts_set_reduce (counts, ZMR_REDUCE_MAX);
    static const int64_t specials [] = {
        INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX, -1000, 1000
    };
    unsigned int seed = 16;
    char buf [16];
    //  Over the 64Ki entries from which the sort is parallel
    for (int at = 0; at < 90000; at++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % 6;
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            buf [k] = (char) ("ab\0z\x80\xff" [(seed >> 16) % 6]);
        }
        if (at % 4) {
            //  Mostly distinct keys, the rest repeat and merge
            buf [len++] = (char) (at >> 16);
            buf [len++] = (char) (at >> 8);
            buf [len++] = (char) at;
        }
        seed = seed * 1103515245u + 12345u;
        int64_t value;
        switch ((seed >> 16) % 3) {
            case 0:  value = specials [(seed >> 18) % 9]; break;
            case 1:  value = (int64_t) ((seed >> 16) % 21) - 10; break;
            default: value = (int64_t) (((uint64_t) seed << 31) ^ (seed * 2654435761u));
        }
        cr_assert_not_null (zmr_counts_add (counts, buf, len, (uint64_t) value, NULL));
    }
    size_t size = zmr_counts_size (counts);
    cr_assert_gt (size, 65536);

    //  python3 reads "hex-key value" lines and prints them sorted
    strcpy (s_tmp, "/tmp/zmr-test-counts-XXXXXX");
    cr_assert_not_null (mkdtemp (s_tmp));
    char path [128];
    snprintf (path, sizeof path, "%s/entries", s_tmp);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    const zmr_entry_t *table = zmr_counts_entries (counts);
    for (size_t at = 0; at < size; at++) {
        fputc ('x', file);
        for (uint32_t k = 0; k < table [at].len; k++)
            fprintf (file, "%02x", (unsigned char) table [at].word [k]);
        fprintf (file, " %lld\n", (long long) (int64_t) table [at].count);
    }
    cr_assert_eq (fclose (file), 0);
    char command [512];
    snprintf (command, sizeof command,
              "python3 -c 'import sys\n"
              "rows = [(bytes.fromhex(h[1:]), int(v)) for h, v in map(str.split, open(sys.argv[1]))]\n"
              "for k, v in sorted(rows, key=lambda r: (-r[1], r[0])): print(\"x\" + k.hex(), v)' %s",
              path);
    FILE *python = popen (command, "r");
    cr_assert_not_null (python);
    char **want_keys = calloc (size, sizeof *want_keys);
    int64_t *want_values = calloc (size, sizeof *want_values);
    char line [128];
    size_t lines = 0;
    while (fgets (line, sizeof line, python)) {
        cr_assert_lt (lines, size, "python3 printed too many lines");
        char *space = strchr (line, ' ');
        cr_assert_not_null (space);
        *space = 0;
        want_keys [lines] = strdup (line + 1);
        want_values [lines] = strtoll (space + 1, NULL, 10);
        lines++;
    }
    cr_assert_eq (pclose (python), 0, "python3 failed");
    cr_assert_eq (lines, size);

    zmr_entry_t *sorted_copy = zmr_counts_sorted (counts, &lines);
    cr_assert_not_null (sorted_copy);
    zmr_entry_t *by_qsort = malloc (size * sizeof *by_qsort);
    memcpy (by_qsort, table, size * sizeof *by_qsort);
    qsort (by_qsort, size, sizeof *by_qsort, zmr_entry_compare);
    const zmr_entry_t *runs [3] = { table, table + size / 5, table + size / 2 };
    size_t lens [3] = { size / 5, size / 2 - size / 5, size - size / 2 };
    size_t ordered = 0;
    const zmr_entry_t **order = zmr_entries_order (runs, lens, 3, &ordered);
    cr_assert_not_null (order);
    cr_assert_eq (ordered, size);
    const char *names [] = { "zmr_counts_sorted", "qsort", "zmr_entries_order" };
    char hex [40];
    for (size_t at = 0; at < size; at++) {
        const zmr_entry_t *got [3] = { &sorted_copy [at], &by_qsort [at], order [at] };
        for (int way = 0; way < 3; way++) {
            for (uint32_t k = 0; k < got [way]->len; k++)
                sprintf (hex + 2 * k, "%02x", (unsigned char) got [way]->word [k]);
            hex [2 * got [way]->len] = 0;
            if (strcmp (hex, want_keys [at]) || (int64_t) got [way]->count != want_values [at])
                cr_assert_fail ("%s: entry %zu is %s %lld, python3 says %s %lld", names [way],
                                at, hex, (long long) got [way]->count, want_keys [at],
                                (long long) want_values [at]);
        }
    }
    for (size_t at = 0; at < size; at++)
        free (want_keys [at]);
    free (want_keys);
    free (want_values);
    free (order);
    free (by_qsort);
    free (sorted_copy);
    zmr_counts_destroy (&counts);
}
