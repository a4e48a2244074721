/*  test_result_pairs: the pairs the reducers applied reach the sink's DONE
    and receipt exactly (issue 16 part 2: RESULT's and DONE's pair_count,
    the ventilator's end check). A mapper sends, for each chunk, each of its
    distinct words once, to one partition; a file smaller than a chunk is
    one chunk (a chunk never spans two inputs), so the pairs of a job on
    such files are the sum over the files of their distinct words, which
    sort -u counts here. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

TestSuite (result_pairs, .init = h_setup, .fini = h_teardown, .timeout = 120);

//  Distinct words of a file, by tr | sort -u | wc -l.
static uint64_t
s_distinct (const char *path)
{
    const char *out = h_path ("distinct");
    h_io_t io = { .stdout_path = out };
    cr_assert_eq (h_run (&io, 30000, "/bin/sh", "-c",
                         h_strf ("LC_ALL=C tr -s ' \\t\\n\\v\\f\\r' '\\n' < '%s' | sed '/^$/d' "
                                 "| sort -u | wc -l", path), NULL), 0);
    size_t len;
    char *text = h_read (out, &len);
    cr_assert_not_null (text);
    return strtoull (text, NULL, 10);
}

//  The receipt's "pair_count", or -1 if it has none.
static long long
s_receipt_pairs (const char *receipt)
{
    size_t len;
    char *text = h_read (receipt, &len);
    cr_assert_not_null (text, "no receipt");
    const char *at = strstr (text, "\"pair_count\": ");
    return at? strtoll (at + strlen ("\"pair_count\": "), NULL, 10): -1;
}

Test (result_pairs, the_receipt_says_the_pairs_the_reducers_applied)
{
    //  Two files under a chunk each, sharing some words: the pairs are
    //  counted per chunk, not per word of the result.
    size_t len;
    char *kjv = h_read (h_kjv (), &len);
    cr_assert_not_null (kjv);
    char *one = h_write ("one.txt", kjv, 9000);
    char *two = h_write ("two.txt", kjv + 4500, 9000);
    h_release (kjv);
    uint64_t expected = s_distinct (one) + s_distinct (two);
    const char *receipt = h_path ("receipt.json");
    h_io_t io = { .stdout_path = h_path ("run.out") };
    int code = h_run (&io, 60000, "zmr", "run", "--no-progress", "-r", "3", "--chunk-size",
                      "16K", "--receipt", receipt, "-o", h_path ("result"), one, two, NULL);
    cr_assert_eq (code, 0, "zmr run exited %d", code);
    long long pairs = s_receipt_pairs (receipt);
    cr_assert_eq (pairs, (long long) expected, "the receipt says %lld pairs, sort -u %llu",
                  pairs, (unsigned long long) expected);
}
