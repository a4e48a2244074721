/*  test_output_order: the sink writes signed values (issue 16 part 2) in
    the one result order, largest value first, ties in byte order of the
    key (a shorter key before a longer one it prefixes), in every output
    that lists keys: the result (-o and standard output share the writer),
    the part files (--parts; windows share their writer), the running
    totals' sorted list (--snapshot) and top list (LIVESTAT), and the
    receipt that scripts/verify-receipt checks the result against.

    The reference is python3's sorted() over the pairs as this test printed
    them (printf's %lld, not the sink's own digits), key (-value, key
    bytes): no code of zmr orders or formats the expected lines. The values
    are what min and max jobs give: negative, 0, the extremes, and many
    ties. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"
#include "zmr.h"
#include "zmr_live.h"
#include "zmr_result.h"

TestSuite (output_order, .init = h_setup, .fini = h_teardown, .timeout = 120);

#define S_REDUCERS 3
#define S_KEYS     20000

//  python3: each file named on the command line, 'key<TAB>value' lines,
//  sorted by (-value, key bytes) into the file named after it + ".sorted";
//  with --top K, only the first K lines.
static const char *s_sorter =
    "import sys\n"
    "args = sys.argv[1:]\n"
    "top = None\n"
    "if args[0] == '--top':\n"
    "    top = int(args[1]); args = args[2:]\n"
    "for path in args:\n"
    "    pairs = [line.rsplit(b'\\t', 1) for line in open(path, 'rb').read().split(b'\\n')[:-1]]\n"
    "    pairs = sorted(pairs, key=lambda p: (-int(p[1]), p[0]))[:top]\n"
    "    open(path + '.sorted', 'wb').write(b''.join(k + b'\\t' + v + b'\\n' for k, v in pairs))\n";

//  Runs command; returns its exit status (-1: it did not exit).
static int
s_run (const char *command)
{
    int status = system (command);
    return status != -1 && WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  Sorts the files (paths separated by spaces) with python3 (top: 0 all).
static void
s_python_sort (const char *paths, int top)
{
    char *script = h_write ("sort.py", s_sorter, strlen (s_sorter));
    const char *command = top? h_strf ("python3 '%s' --top %d %s", script, top, paths)
                             : h_strf ("python3 '%s' %s", script, paths);
    cr_assert_eq (s_run (command), 0, "python3 failed: %s", command);
}

static void
s_assert_same_file (const char *actual, const char *expected)
{
    size_t alen, elen;
    char *a = h_read (actual, &alen);
    char *e = h_read (expected, &elen);
    cr_assert_not_null (a, "cannot read %s", actual);
    cr_assert_not_null (e, "cannot read %s", expected);
    size_t at = 0;
    while (at < alen && at < elen && a[at] == e[at])
        at++;
    size_t line = 1;
    for (size_t i = 0; i < at; i++)
        line += a[i] == '\n';
    cr_assert (alen == elen && at == alen, "%s differs from python3's sorted() at line %zu "
               "(%zu and %zu bytes)", actual, line, alen, elen);
}

static uint64_t s_state = 20261207;

static uint64_t
s_random (void)
{
    s_state = s_state * 6364136223846793005ull + 1442695040888963407ull;
    return s_state >> 11;
}

//  A value as min and max jobs give them: mostly small ones of both signs
//  (ties), some 0, some large, the extremes.
static int64_t
s_value (void)
{
    switch (s_random () % 10) {
        case 0: return INT64_MIN + (int64_t) (s_random () % 3);
        case 1: return INT64_MAX - (int64_t) (s_random () % 3);
        case 2: return 0;
        case 3: return (int64_t) (s_random () % (1ull << 40)) - (1ll << 39);
        default: return (int64_t) (s_random () % 41) - 20;
    }
}

//  A key: 1 to 12 bytes of any value but TAB and LF (NUL and bytes over
//  127 too), or a prefix of the previous key, so that the tie rule meets
//  a shorter key before a longer one.
static size_t
s_key (char *key, const char *previous, size_t previous_len)
{
    if (previous_len > 1 && s_random () % 8 == 0) {
        size_t len = 1 + s_random () % (previous_len - 1);
        memcpy (key, previous, len);
        return len;
    }
    size_t len = 1 + s_random () % 12;
    for (size_t i = 0; i < len; i++) {
        char c;
        do
            c = (char) (s_random () % 4? 'a' + s_random () % 26: s_random () % 256);
        while (c == '\t' || c == '\n');
        key[i] = c;
    }
    return len;
}

Test (output_order, signed_values_are_written_in_the_result_order_everywhere)
{
    zmr_counts_t *partitions[S_REDUCERS];
    FILE *refs[S_REDUCERS + 1];
    for (int p = 0; p < S_REDUCERS; p++) {
        partitions[p] = zmr_counts_new ();
        cr_assert_not_null (partitions[p]);
        //  Each partition of a min job, as the sink makes them
        zmr_counts_set_reduce (partitions[p], ZMR_REDUCE_MIN);
        refs[p] = fopen (h_path (h_strf ("ref-%d", p)), "wb");
        cr_assert_not_null (refs[p]);
    }
    refs[S_REDUCERS] = fopen (h_path ("ref"), "wb");
    cr_assert_not_null (refs[S_REDUCERS]);
    zmr_live_t *live = zmr_live_new (S_REDUCERS);
    cr_assert_not_null (live);
    char key[16], previous[16];
    size_t previous_len = 0;
    for (int i = 0; i < S_KEYS; i++) {
        size_t len = s_key (key, previous, previous_len);
        memcpy (previous, key, len);
        previous_len = len;
        int p = (int) (s_random () % S_REDUCERS);
        bool taken = false;
        for (int q = 0; q < S_REDUCERS; q++)
            taken |= zmr_counts_lookup (partitions[q], key, len) != NULL;
        if (taken)
            continue;           //  A key is in one partition, once
        int64_t value = s_value ();
        bool is_new;
        cr_assert_not_null (zmr_counts_add (partitions[p], key, len, (uint64_t) value, &is_new));
        cr_assert (is_new);
        cr_assert_eq (zmr_live_set (live, key, (uint32_t) len, (uint64_t) value), 0);
        for (int f = 0; f < 2; f++) {
            FILE *ref = refs[f? S_REDUCERS: p];
            cr_assert_eq (fwrite (key, 1, len, ref), len);
            fprintf (ref, "\t%lld\n", (long long) value);
        }
    }
    for (int f = 0; f <= S_REDUCERS; f++)
        cr_assert_eq (fclose (refs[f]), 0);

    //  The result and the parts, as the sink writes them, and the receipt
    const char *parts = h_path ("parts");
    cr_assert_eq (mkdir (parts, 0700), 0);
    zmr_sink_config_t config = { .output = h_path ("result"), .parts_dir = parts,
                                 .receipt = h_path ("receipt") };
    uint64_t digest, words, distinct;
    zmr_result_sum_t sum;
    cr_assert_eq (zmr_result_write (&config, partitions, S_REDUCERS, &digest, &words,
                                    &distinct, &sum), 0);
    zmr_status_t final;
    memset (&final, 0, sizeof final);
    zmr_status_reset (&final);
    zmr_result_job_t job = { 0x1d, ZMR_JOB_COMMAND, ZMR_REDUCE_MIN, "awk \"{print $1}\"", 77 };
    cr_assert_eq (zmr_result_write_receipt (config.receipt, &job, &final, &sum, distinct,
                                            digest), 0);
    zmr_status_reset (&final);

    //  The running totals' sorted list (--snapshot) and top list
    size_t nsorted;
    zmr_entry_t *sorted = zmr_live_sorted (live, &nsorted);
    cr_assert_not_null (sorted);
    FILE *snapshot = fopen (h_path ("snapshot"), "wb");
    cr_assert_eq (zmr_result_write_entries (snapshot, sorted, NULL, nsorted, NULL), 0);
    cr_assert_eq (fclose (snapshot), 0);
    free (sorted);
    zmr_entry_t top[ZMR_TOP_MAX];
    size_t ntop = zmr_live_top (live, top, ZMR_TOP_MAX);
    cr_assert_eq (ntop, ZMR_TOP_MAX);
    FILE *top_file = fopen (h_path ("top"), "wb");
    cr_assert_eq (zmr_result_write_entries (top_file, top, NULL, ntop, NULL), 0);
    cr_assert_eq (fclose (top_file), 0);

    char *all = h_strf ("'%s'", h_path ("ref"));
    for (int p = 0; p < S_REDUCERS; p++)
        all = h_strf ("%s '%s'", all, h_path (h_strf ("ref-%d", p)));
    s_python_sort (all, 0);
    s_assert_same_file (config.output, h_path ("ref.sorted"));
    s_assert_same_file (h_path ("snapshot"), h_path ("ref.sorted"));
    for (int p = 0; p < S_REDUCERS; p++)
        s_assert_same_file (h_strf ("%s/part-%05d", parts, p),
                            h_path (h_strf ("ref-%d.sorted", p)));
    cr_assert_eq (rename (h_path ("ref"), h_path ("ref-top")), 0);
    s_python_sort (h_strf ("'%s'", h_path ("ref-top")), ZMR_TOP_MAX);
    s_assert_same_file (h_path ("top"), h_path ("ref-top.sorted"));

    //  The receipt says the job and matches the result, by the checker
    //  users run (its sum of the values is Python's, exact)
    size_t len;
    char *receipt = h_read (config.receipt, &len);
    cr_assert_not_null (strstr (receipt, "\"reduce\": \"min\""), "%s", receipt);
    cr_assert_not_null (strstr (receipt, "\"job_kind\": \"command\""), "%s", receipt);
    cr_assert_not_null (strstr (receipt, "\"label\": \"awk \\\"{print $1}\\\"\""), "%s",
                        receipt);
    cr_assert_not_null (strstr (receipt, "\"pair_count\": 77,"), "%s", receipt);
    cr_assert_eq (s_run (h_strf ("python3 '%s/scripts/verify-receipt' '%s' '%s' >'%s' 2>&1",
                                 ZMR_SOURCE_DIR, config.output, config.receipt,
                                 h_path ("verdict"))), 0,
                  "verify-receipt: %s", h_read (h_path ("verdict"), &len));
    cr_assert_eq (s_run (h_strf ("python3 '%s/scripts/verify-receipt' '%s' '%s' >'%s' 2>&1",
                                 ZMR_SOURCE_DIR, parts, config.receipt,
                                 h_path ("verdict"))), 0,
                  "verify-receipt of the parts: %s", h_read (h_path ("verdict"), &len));
    zmr_live_destroy (&live);
    for (int p = 0; p < S_REDUCERS; p++)
        zmr_counts_destroy (&partitions[p]);
}

//  A running total that is 0 from the start is a change to show, not
//  "absent": --follow and --publish must list the key.
Test (output_order, a_new_running_total_of_zero_is_a_change)
{
    zmr_live_t *live = zmr_live_new (1);
    cr_assert_not_null (live);
    cr_assert_eq (zmr_live_set (live, "zero", 4, 0), 0);
    cr_assert_eq (zmr_live_set (live, "minus", 5, (uint64_t) -3), 0);
    cr_assert_eq (zmr_live_changed (live), 2, "%zu changed keys, not 2",
                  zmr_live_changed (live));
    zmr_live_destroy (&live);
}
