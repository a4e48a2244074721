/*  test_terminal: what a person sees on a terminal: the progress bar and
    zmr-monitor at 80 columns in a real terminal (tmux), and
    scripts/verify-receipt (issue 13). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite (test_terminal, .init = h_setup, .fini = h_teardown, .timeout = 240);

//  The source tree: scripts/ lives there, beside tests/.
#ifdef ZMR_SOURCE_DIR
#   define S_SOURCE_DIR ZMR_SOURCE_DIR
#else
static const char *
s_source_dir (void)
{
    const char *file = __FILE__;
    const char *tail = strstr (file, "tests/test_terminal.c");
    cr_assert (tail && file[0] == '/', "cannot find the source tree from %s", file);
    return h_strf ("%.*s", (int) (tail - file), file);
}
#   define S_SOURCE_DIR s_source_dir ()
#endif

typedef struct {
    int code;                   //  Exit code
    char *out;                  //  Standard output (lives until teardown)
    char *err;                  //  Standard error
    int err_lines;              //  Lines on standard error
} s_result_t;

static int s_seq;

//  Runs /bin/sh -c command, 60 s at most, with its output kept.
static s_result_t
s_sh (const char *command)
{
    int seq = ++s_seq;
    char *out = h_path (h_strf ("sh-%d.out", seq));
    char *err = h_path (h_strf ("sh-%d.err", seq));
    h_io_t io = { .stdout_path = out, .stderr_path = err };
    s_result_t r;
    r.code = h_run (&io, 60000, "/bin/sh", "-c", command, NULL);
    size_t len;
    r.out = h_read (out, &len);
    r.err = h_read (err, &len);
    cr_assert (r.out && r.err);
    r.err_lines = h_count_lines (err);
    return r;
}

//  ---------------------------------------------------------------------
//  scripts/verify-receipt (item 13)

static s_result_t
s_verify (const char *result, const char *receipt)
{
    return s_sh (h_strf ("python3 '%s/scripts/verify-receipt' %s %s", S_SOURCE_DIR,
                         result, receipt));
}

//  What every failure of the script must look like: code, one line on
//  stderr holding what, no traceback.
static void
s_assert_one_line (s_result_t r, int code, const char *what, const char *about)
{
    cr_assert_eq (r.code, code, "%s: exit %d, not %d (stderr: %s)", about, r.code, code, r.err);
    cr_assert_eq (r.err_lines, 1, "%s: %d lines on stderr, not one:\n%s", about, r.err_lines,
                  r.err);
    cr_assert_null (strstr (r.err, "Traceback"), "%s: a traceback:\n%s", about, r.err);
    cr_assert_not_null (strstr (r.err, what), "%s: '%s' not said: %s", about, what, r.err);
}

//  A small job's result and receipt: words with many tied counts, so that
//  the order of ties matters.
static void
s_small_job (char **result, char **receipt)
{
    size_t size = 1 << 16, len = 0;
    char *text = h_alloc (size);
    for (int i = 0; i < 400; i++)
        for (int k = 0; k <= i % 5; k++)
            len += (size_t) snprintf (text + len, size - len, "w%03d%s", i,
                                      (i + k) % 9? " ": "\n");
    char *input = h_write ("small.txt", text, len);
    *result = h_path ("small.tsv");
    *receipt = h_path ("small.json");
    int code = h_run (NULL, 120000, "zmr", "run", "--no-progress", "-o", *result,
                      "--receipt", *receipt, input, NULL);
    cr_assert_eq (code, 0, "zmr run exited %d", code);
}

Test (test_terminal, verify_receipt_checks_a_good_result_and_says_the_order_was_checked)
{
    char *result, *receipt;
    s_small_job (&result, &receipt);
    s_result_t r = s_verify (result, receipt);
    cr_assert_eq (r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert_eq (r.err[0], 0, "stderr: %s", r.err);
    cr_assert_not_null (strstr (r.out, "OK: 1200 words, 400 distinct"), "%s", r.out);
    cr_assert_not_null (strstr (r.out, "order checked"), "%s", r.out);
}

Test (test_terminal, verify_receipt_refuses_a_result_out_of_order)
{
    char *result, *receipt;
    s_small_job (&result, &receipt);
    //  The same lines, so the same words, distinct words and digest (a sum):
    //  only the order tells. Reversed: counts go up. Then only the first two
    //  words of one count swapped: a tie out of byte order.
    char *reversed = h_path ("reversed.tsv");
    char *swapped = h_path ("swapped.tsv");
    s_result_t r = s_sh (h_strf ("tac '%s' > '%s' && awk -F'\\t' "
                                 "'$2 == 3 && !done { if (held) { print; print held; "
                                 "done = 1; next } held = $0; next } { print }' '%s' > '%s'",
                                 result, reversed, result, swapped));
    cr_assert_eq (r.code, 0, "%s", r.err);
    cr_assert_eq (h_count_lines (swapped), 400);
    s_assert_one_line (s_verify (reversed, receipt), 1, "reversed.tsv:2: out of order",
                       "reversed");
    s_assert_one_line (s_verify (swapped, receipt), 1, "out of order", "a tie swapped");
}

Test (test_terminal, verify_receipt_says_each_problem_in_one_line)
{
    char *result, *receipt;
    s_small_job (&result, &receipt);
    char *missing = h_path ("missing.tsv");
    s_assert_one_line (s_verify (missing, receipt), 1, "missing.tsv: No such file",
                       "a missing result");
    s_assert_one_line (s_verify (result, h_path ("missing.json")), 1,
                       "missing.json: No such file", "a missing receipt");
    const char bad_json[] = "{\"words\": 1200,\n\"distinct\": \n}\n";
    s_assert_one_line (s_verify (result, h_write ("bad.json", bad_json, sizeof bad_json - 1)),
                       1, "bad.json:3: not a receipt", "a malformed receipt");
    const char no_digest[] = "{\"words\": 1200, \"distinct\": 400}\n";
    s_assert_one_line (s_verify (result, h_write ("nodigest.json", no_digest,
                                                  sizeof no_digest - 1)),
                       1, "nodigest.json: not a receipt", "a receipt without digest");
    const char no_tab[] = "the\t5\nof 4\n";
    s_assert_one_line (s_verify (h_write ("notab.tsv", no_tab, sizeof no_tab - 1), receipt),
                       1, "notab.tsv:2: expected 'word<TAB>count'", "a line without tab");
    const char no_count[] = "the\t5\nof\t4\nand\tmany\n";
    s_assert_one_line (s_verify (h_write ("nocount.tsv", no_count, sizeof no_count - 1),
                                 receipt),
                       1, "nocount.tsv:3: count", "a count that is not a number");
    //  A count changed by one: in order still, but the totals and digest
    //  differ from the receipt.
    s_result_t r = s_sh (h_strf ("sed '1s/\\t\\([0-9]*\\)$/\\t9\\1/' '%s' > '%s'", result,
                                 h_path ("changed.tsv")));
    cr_assert_eq (r.code, 0, "%s", r.err);
    s_assert_one_line (s_verify (h_path ("changed.tsv"), receipt), 1, "digest: receipt",
                       "a changed count");
    s_assert_one_line (s_verify (result, ""), 2, "usage", "one argument");
}
