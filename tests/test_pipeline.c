/*  test_pipeline: `zmr run` counts exactly (docs/design.md property 1) and
    partitions by SHA-1 mod R (property 2). Every result is compared with
    the reference pipeline of docs/design.md, run by /bin/sh, and its order is
    checked: most frequent first, ties in byte order. The partition of a
    word is computed here with OpenSSL's EVP SHA-1 and BIGNUM, not with
    zmr's partitioner. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

//  Bounds sized for a loaded machine under ASan+UBSan (issue 13): a test
//  that passes takes a fraction of them.
TestSuite (pipeline, .init = h_setup, .fini = h_teardown, .timeout = 280);

#define S_RUN_TIMEOUT 180000

static int s_runs;                  //  For unique output names

//  Starts `zmr run --no-progress OPTIONS... [-o OUT] FILES...` with TMPDIR
//  in the test's directory. With out NULL the result goes to stdout_path.
static pid_t
s_start_run (const char *const *options, const char *out, const char *const *files,
             size_t nfiles, const char *stdin_path, const char *stdout_path)
{
    const char *args[64];
    size_t n = 0;
    args[n++] = "run";
    args[n++] = "--no-progress";
    for (size_t i = 0; options && options[i]; i++)
        args[n++] = options[i];
    if (out) {
        args[n++] = "-o";
        args[n++] = out;
    }
    for (size_t i = 0; i < nfiles; i++)
        args[n++] = files[i];
    args[n] = NULL;
    const char *env[] = { h_strf ("TMPDIR=%s", h_dir ()), NULL };
    h_io_t io = { .stdin_path = stdin_path, .stdout_path = stdout_path, .env = env };
    return h_spawnv ("zmr", args, &io);
}

//  Runs zmr on files with options and -o; asserts exit 0, nothing on
//  stdout, and a result equal to ref. Returns the result's path.
static char *
s_run_against (const char *const *files, size_t nfiles, const char *const *options,
               const h_counts_t *ref)
{
    int run = ++s_runs;
    char *out = h_path (h_strf ("result-%d.txt", run));
    char *stdout_path = h_path (h_strf ("stdout-%d.txt", run));
    char *stderr_path = h_path (h_strf ("stderr-%d.txt", run));
    const char *args[64];
    size_t n = 0;
    args[n++] = "run";
    args[n++] = "--no-progress";
    for (size_t i = 0; options && options[i]; i++)
        args[n++] = options[i];
    args[n++] = "-o";
    args[n++] = out;
    for (size_t i = 0; i < nfiles; i++)
        args[n++] = files[i];
    args[n] = NULL;
    const char *env[] = { h_strf ("TMPDIR=%s", h_dir ()), NULL };
    h_io_t io = { .stdout_path = stdout_path, .stderr_path = stderr_path, .env = env };
    pid_t pid = h_spawnv ("zmr", args, &io);
    int code = h_exit_code (h_wait (pid, S_RUN_TIMEOUT, "zmr run"));
    size_t len = 0;
    char *err = h_read (stderr_path, &len);
    cr_assert_eq (code, 0, "zmr run exited with %d: %s", code, err? err: "");
    h_release (err);
    cr_assert_eq (h_count_lines (stdout_path), 0, "zmr run -o wrote to stdout too");
    h_assert_result (out, ref);
    return out;
}

//  The reference of files, then s_run_against.
static char *
s_run_exact (const char *const *files, size_t nfiles, const char *const *options)
{
    h_counts_t ref;
    h_reference (files, nfiles, &ref);
    char *out = s_run_against (files, nfiles, options, &ref);
    h_counts_free (&ref);
    return out;
}

//  The partition of a word by docs/design.md's rule, computed with OpenSSL:
//  SHA-1 of its bytes as a 160-bit big-endian number, modulo R.
static unsigned long
s_partition (const unsigned char *word, size_t len, unsigned long reducers)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    cr_assert_eq (EVP_Digest (word, len, digest, &size, EVP_sha1 (), NULL), 1);
    cr_assert_eq (size, 20u);
    BIGNUM *number = BN_bin2bn (digest, (int) size, NULL);
    cr_assert_not_null (number);
    BN_ULONG rest = BN_mod_word (number, (BN_ULONG) reducers);
    BN_free (number);
    cr_assert_neq (rest, (BN_ULONG) -1);
    return (unsigned long) rest;
}

Test (pipeline, independent_partition_matches_the_design_vectors)
{
    //  docs/design.md's vectors for R = 2, and a few computed with Python's
    //  hashlib: int.from_bytes(sha1(w).digest(), 'big') % R.
    cr_assert_eq (s_partition ((const unsigned char *) "Everyone", 8, 2), 1);
    cr_assert_eq (s_partition ((const unsigned char *) "Hello", 5, 2), 0);
    cr_assert_eq (s_partition ((const unsigned char *) "Welcome", 7, 2), 0);
    cr_assert_eq (s_partition ((const unsigned char *) "the", 3, 7), 4);
    cr_assert_eq (s_partition ((const unsigned char *) "the", 3, 251), 8);
    cr_assert_eq (s_partition ((const unsigned char *) "MapReduce", 9, 251), 25);
    cr_assert_eq (s_partition ((const unsigned char *) "a\0b", 3, 256), 184);
    cr_assert_eq (s_partition ((const unsigned char *) "caf\xc3\xa9", 5, 3), 2);
}

Test (pipeline, counts_real_text_exactly, .timeout = 280)
{
    h_counts_t ref;
    h_kjv_reference (&ref);
    const char *files[] = { h_kjv () };
    const char *options[] = { "-m", "2", "-r", "3", "--chunk-size", "64K", NULL };
    s_run_against (files, 1, options, &ref);

    //  All defaults, result on stdout.
    char *stdout_path = h_path ("stdout-defaults.txt");
    pid_t pid = s_start_run (NULL, NULL, files, 1, NULL, stdout_path);
    int code = h_exit_code (h_wait (pid, S_RUN_TIMEOUT, "zmr run"));
    cr_assert_eq (code, 0, "zmr run with default options exited with %d", code);
    h_assert_result (stdout_path, &ref);
    h_counts_free (&ref);
}

Test (pipeline, counts_nothing_in_an_empty_file, .timeout = 280)
{
    const char *files[] = { h_write ("empty.txt", "", 0) };
    char *out = s_run_exact (files, 1, NULL);
    cr_assert_eq (h_count_lines (out), 0);
}

Test (pipeline, counts_nothing_in_whitespace_only_input, .timeout = 280)
{
    static const char text[] = " \t\n\v\f\r  \n\n\r\n\t\t \f\v   \n";
    const char *files[] = { h_write ("blank.txt", text, sizeof text - 1) };
    const char *options[] = { "--chunk-size", "3", NULL };
    char *out = s_run_exact (files, 1, options);
    cr_assert_eq (h_count_lines (out), 0);
}

Test (pipeline, counts_the_last_word_without_a_trailing_newline, .timeout = 280)
{
    static const char text[] = "alpha beta\ngamma beta";
    const char *files[] = { h_write ("no-newline.txt", text, sizeof text - 1) };
    char *out = s_run_exact (files, 1, NULL);
    const char *small[] = { "--chunk-size", "4", "-r", "3", NULL };
    s_run_exact (files, 1, small);
    size_t len;
    char *result = h_read (out, &len);
    cr_assert_str_eq (result, "beta\t2\nalpha\t1\ngamma\t1\n");
    h_release (result);
}

Test (pipeline, treats_crlf_line_ends_as_whitespace, .timeout = 280)
{
    static const char text[] = "one\r\ntwo\r\n\r\none two\r\nthree\r\n\r\n";
    const char *files[] = { h_write ("crlf.txt", text, sizeof text - 1) };
    char *out = s_run_exact (files, 1, NULL);
    size_t len;
    char *result = h_read (out, &len);
    cr_assert_str_eq (result, "one\t2\ntwo\t2\nthree\t1\n");
    h_release (result);
}

Test (pipeline, splits_words_at_every_ascii_whitespace_byte, .timeout = 280)
{
    static const char text[] = "a\tb\vc\fd\re f\t\tg\v\v\fa b\f\rc \t\v\f\r\nd";
    const char *files[] = { h_write ("spaces.txt", text, sizeof text - 1) };
    char *out = s_run_exact (files, 1, NULL);
    const char *small[] = { "--chunk-size", "2", "-m", "3", NULL };
    s_run_exact (files, 1, small);
    size_t len;
    char *result = h_read (out, &len);
    cr_assert_str_eq (result, "a\t2\nb\t2\nc\t2\nd\t2\ne\t1\nf\t1\ng\t1\n");
    h_release (result);
}

Test (pipeline, keeps_nul_bytes_and_invalid_utf8_inside_words, .timeout = 280)
{
    //  Hand-made words: NUL inside and alone, bytes >= 0x80 that are not
    //  UTF-8 (a lone continuation byte, an overlong '/', a surrogate, 0xff),
    //  the non-ASCII "spaces" NEL (0x85) and NBSP (0xa0), which are not
    //  whitespace here, and valid UTF-8; then 64 KiB of pseudo-random bytes.
    static const char words[] =
        "nul\0inside \0 \0\0 \x80 \xc0\xaf \xed\xa0\x80 \xff\xfe \xff\xfe\n"
        "a\x85" "b a\xa0" "b caf\xc3\xa9 caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \0\n";
    size_t random_len = 64 * 1024;
    size_t len = sizeof words - 1 + random_len;
    unsigned char *data = h_alloc (len);
    memcpy (data, words, sizeof words - 1);
    uint32_t x = 2463534242u;
    for (size_t i = sizeof words - 1; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (unsigned char) (x >> 24);
    }
    const char *files[] = { h_write ("binary.bin", data, len) };
    h_release (data);
    const char *options[] = { "--chunk-size", "1K", "-m", "3", "-r", "4", NULL };
    char *out = s_run_exact (files, 1, options);

    //  And the hand-made words are there as they are, NUL included.
    h_counts_t got;
    char err[512];
    cr_assert_eq (h_parse_result (out, &got, err, sizeof err), 0, "%s", err);
    bool found_nul_word = false, found_invalid = false;
    for (size_t i = 0; i < got.n; i++) {
        if (got.pairs[i].len == 10 && !memcmp (got.pairs[i].word, "nul\0inside", 10))
            found_nul_word = true;
        if (got.pairs[i].len == 2 && !memcmp (got.pairs[i].word, "\xff\xfe", 2)
        &&  got.pairs[i].count >= 2)
            found_invalid = true;
    }
    h_counts_free (&got);
    cr_assert (found_nul_word, "the word 'nul\\0inside' is not in the result");
    cr_assert (found_invalid, "the word '\\xff\\xfe' is not counted twice in the result");
}

Test (pipeline, counts_a_4_mib_word_whole_with_64k_chunks, .timeout = 280)
{
    size_t word_len = 4u << 20;
    char *word = h_alloc (word_len);
    for (size_t i = 0; i < word_len; i++)
        word[i] = (char) ('a' + (i * 7 + i / 26) % 26);
    char *path = h_path ("long-word.txt");
    FILE *file = fopen (path, "wb");
    cr_assert_not_null (file);
    fputs ("before the long word ", file);
    fwrite (word, 1, word_len, file);
    fputs (" after it\nand again\n", file);
    fwrite (word, 1, word_len, file);
    fputs ("\nthe end", file);
    cr_assert_eq (fclose (file), 0);
    const char *files[] = { path };
    const char *options[] = { "--chunk-size", "64K", "-m", "2", "-r", "2", NULL };
    char *out = s_run_exact (files, 1, options);

    h_counts_t got;
    char err[512];
    cr_assert_eq (h_parse_result (out, &got, err, sizeof err), 0, "%s", err);
    bool found = false;
    for (size_t i = 0; i < got.n; i++)
        if (got.pairs[i].len == word_len && !memcmp (got.pairs[i].word, word, word_len)) {
            cr_assert_eq (got.pairs[i].count, 2);
            found = true;
        }
    h_counts_free (&got);
    h_release (word);
    cr_assert (found, "the 4 MiB word is not in the result");
}

Test (pipeline, never_joins_words_across_files, .timeout = 280)
{
    const char *files[] = {
        h_write ("f1.txt", "abc", 3),
        h_write ("f2.txt", "def\n", 4),
        h_write ("f3.txt", "", 0),
        h_write ("f4.txt", "abc", 3),
        h_write ("f5.txt", "ghi", 3),
    };
    char *out = s_run_exact (files, 5, NULL);
    size_t len;
    char *result = h_read (out, &len);
    cr_assert_str_eq (result, "abc\t2\ndef\t1\nghi\t1\n");
    h_release (result);
    //  The same with a chunk per byte and several reducers.
    const char *options[] = { "--chunk-size", "1", "-m", "3", "-r", "3", NULL };
    s_run_exact (files, 5, options);
}

Test (pipeline, reads_standard_input_when_no_file_is_given, .timeout = 280)
{
    char *slice = h_kjv_slice ("slice.txt", 200000);
    h_counts_t ref;
    h_reference_file (slice, &ref);
    char *stdout_path = h_path ("stdout.txt");
    const char *options[] = { "-m", "2", "--chunk-size", "8K", NULL };
    pid_t pid = s_start_run (options, NULL, NULL, 0, slice, stdout_path);
    int code = h_exit_code (h_wait (pid, S_RUN_TIMEOUT, "zmr run"));
    cr_assert_eq (code, 0, "zmr run on standard input exited with %d", code);
    h_assert_result (stdout_path, &ref);
    h_counts_free (&ref);
}

Test (pipeline, reads_standard_input_given_as_dash, .timeout = 280)
{
    char *slice = h_kjv_slice ("slice.txt", 100000);
    const char *first = h_write ("first.txt", "tail", 4);
    const char *last = h_write ("last.txt", "head of the last file\n", 22);
    const char *inputs[] = { first, slice, last };
    h_counts_t ref;
    h_reference (inputs, 3, &ref);
    char *out = h_path ("out.txt");
    const char *options[] = { "-r", "3", "--chunk-size", "8K", NULL };
    const char *files[] = { first, "-", last };
    pid_t pid = s_start_run (options, out, files, 3, slice, NULL);
    int code = h_exit_code (h_wait (pid, S_RUN_TIMEOUT, "zmr run"));
    cr_assert_eq (code, 0, "zmr run with '-' exited with %d", code);
    h_assert_result (out, &ref);
    h_counts_free (&ref);
}

//  Every -m in 1..8 with every -r in 1..8, on 300 KB of real text in 8K
//  chunks: one test per mapper count, four runs at a time.
static void
s_every_reducer_count (int mappers)
{
    char *slice = h_kjv_slice ("slice.txt", 300000);
    h_counts_t ref;
    h_reference_file (slice, &ref);
    char *m = h_strf ("%d", mappers);
    for (int first = 1; first <= 8; first += 4) {
        pid_t pids[4];
        char *outs[4], *errs[4];
        for (int i = 0; i < 4; i++) {
            int r = first + i;
            outs[i] = h_path (h_strf ("m%s-r%d.txt", m, r));
            errs[i] = h_path (h_strf ("m%s-r%d.err", m, r));
            const char *args[] = { "run", "--no-progress", "-m", m, "-r", h_strf ("%d", r),
                                   "--chunk-size", "8K", "-o", outs[i], slice, NULL };
            const char *env[] = { h_strf ("TMPDIR=%s", h_dir ()), NULL };
            h_io_t io = { .stderr_path = errs[i], .env = env };
            pids[i] = h_spawnv ("zmr", args, &io);
        }
        for (int i = 0; i < 4; i++) {
            int r = first + i;
            int code = h_exit_code (h_wait (pids[i], S_RUN_TIMEOUT, "zmr run"));
            size_t len;
            char *err = h_read (errs[i], &len);
            cr_assert_eq (code, 0, "zmr run -m %s -r %d exited with %d: %s", m, r, code,
                          err? err: "");
            h_release (err);
            char why[1024];
            cr_assert_eq (h_check_result (outs[i], &ref, why, sizeof why), 0,
                          "zmr run -m %s -r %d: %s", m, r, why);
        }
    }
    h_counts_free (&ref);
}

Test (pipeline, exact_with_1_mapper_for_every_reducer_count, .timeout = 280)
{
    s_every_reducer_count (1);
}

Test (pipeline, exact_with_2_mappers_for_every_reducer_count, .timeout = 280)
{
    s_every_reducer_count (2);
}

Test (pipeline, exact_with_3_mappers_for_every_reducer_count, .timeout = 280)
{
    s_every_reducer_count (3);
}

Test (pipeline, exact_with_4_mappers_for_every_reducer_count, .timeout = 280)
{
    s_every_reducer_count (4);
}

Test (pipeline, exact_with_5_mappers_for_every_reducer_count, .timeout = 280)
{
    s_every_reducer_count (5);
}

Test (pipeline, exact_with_6_mappers_for_every_reducer_count, .timeout = 280)
{
    s_every_reducer_count (6);
}

Test (pipeline, exact_with_7_mappers_for_every_reducer_count, .timeout = 280)
{
    s_every_reducer_count (7);
}

Test (pipeline, exact_with_8_mappers_for_every_reducer_count, .timeout = 280)
{
    s_every_reducer_count (8);
}

//  Checks that DIR/part-0000p holds the words of partition p of R, in
//  result order; adds them to all.
static void
s_check_part (const char *dir, unsigned long p, unsigned long reducers, h_counts_t *part)
{
    char *path = h_strf ("%s/part-%05lu", dir, p);
    char err[1024];
    cr_assert_eq (h_parse_result (path, part, err, sizeof err), 0, "%s", err);
    for (size_t i = 0; i < part->n; i++) {
        unsigned long q = s_partition (part->pairs[i].word, part->pairs[i].len, reducers);
        cr_assert_eq (q, p, "%s holds %s, whose partition is %lu of %lu", path,
                      h_show (part->pairs[i].word, part->pairs[i].len), q, reducers);
    }
}

static void
s_check_parts (unsigned long reducers, const char *input, const h_counts_t *ref,
               const char *chunk_size)
{
    char *dir = h_path (h_strf ("parts-%lu", reducers));
    const char *files[] = { input };
    const char *options[] = { "-m", "2", "-r", h_strf ("%lu", reducers), "--chunk-size",
                              chunk_size, "--parts", dir, NULL };
    s_run_against (files, 1, options, ref);

    h_counts_t *parts = h_alloc (reducers * sizeof *parts);
    size_t total = 0;
    for (unsigned long p = 0; p < reducers; p++) {
        s_check_part (dir, p, reducers, &parts[p]);
        total += parts[p].n;
    }
    //  Nothing else in the directory.
    DIR *handle = opendir (dir);
    cr_assert_not_null (handle);
    struct dirent *entry;
    size_t entries = 0;
    bool marked = false;
    while ((entry = readdir (handle))) {
        if (!strcmp (entry->d_name, ".") || !strcmp (entry->d_name, ".."))
            continue;
        //  The empty marker of a complete set of parts (issue 13, item 2)
        if (!strcmp (entry->d_name, "_SUCCESS")) {
            struct stat marker;
            cr_assert (stat (h_strf ("%s/_SUCCESS", dir), &marker) == 0
                       && marker.st_size == 0, "_SUCCESS in %s is not empty", dir);
            marked = true;
            continue;
        }
        entries++;
        unsigned long p;
        char tail;
        cr_assert (sscanf (entry->d_name, "part-%05lu%c", &p, &tail) == 1 && p < reducers
                   && strlen (entry->d_name) == 10,
                   "unexpected file %s in %s", entry->d_name, dir);
    }
    closedir (handle);
    cr_assert_eq (entries, reducers, "%zu files in %s, %lu expected", entries, dir, reducers);
    cr_assert (marked, "no _SUCCESS in %s", dir);

    //  Their union is the whole result, no word in two parts.
    h_counts_t all = { .pairs = h_alloc ((total + 1) * sizeof (h_pair_t)), .n = 0 };
    for (unsigned long p = 0; p < reducers; p++) {
        memcpy (all.pairs + all.n, parts[p].pairs, parts[p].n * sizeof (h_pair_t));
        all.n += parts[p].n;
    }
    char err[1024];
    cr_assert_eq (h_counts_compare (&all, ref, err, sizeof err), 0,
                  "the union of the parts differs from the reference: %s", err);
    h_counts_free (&all);
    for (unsigned long p = 0; p < reducers; p++)
        h_counts_free (&parts[p]);
    h_release (parts);
}

Test (pipeline, parts_hold_exactly_the_words_of_their_partition, .timeout = 280)
{
    h_counts_t ref;
    h_kjv_reference (&ref);
    s_check_parts (5, h_kjv (), &ref, "256K");
    h_counts_free (&ref);
    char *slice = h_kjv_slice ("slice.txt", 150000);
    h_reference_file (slice, &ref);
    s_check_parts (1, slice, &ref, "8K");
    s_check_parts (8, slice, &ref, "8K");
    h_counts_free (&ref);
}

Test (pipeline, writes_the_result_to_the_output_file_only, .timeout = 280)
{
    char *slice = h_kjv_slice ("slice.txt", 50000);
    h_counts_t ref;
    h_reference_file (slice, &ref);
    char *out = h_path ("result.txt");
    char *stdout_path = h_path ("stdout.txt");
    const char *files[] = { slice };
    pid_t pid = s_start_run (NULL, out, files, 1, NULL, stdout_path);
    int code = h_exit_code (h_wait (pid, S_RUN_TIMEOUT, "zmr run"));
    cr_assert_eq (code, 0, "zmr run -o exited with %d", code);
    cr_assert_eq (h_count_lines (stdout_path), 0, "zmr run -o wrote to stdout");
    h_assert_result (out, &ref);
    //  Only the result and zmr's own files: no temporary left beside it,
    //  and no private directory left in TMPDIR.
    DIR *handle = opendir (h_dir ());
    cr_assert_not_null (handle);
    struct dirent *entry;
    while ((entry = readdir (handle)))
        cr_assert (strncmp (entry->d_name, "result.txt.", 11) && strncmp (entry->d_name, "zmr-", 4),
                   "%s was left in %s", entry->d_name, h_dir ());
    closedir (handle);
    h_counts_free (&ref);
}

//  --max-word N: a word of more than N bytes is left out of the result and
//  counted in words_too_long; a word of N bytes is counted. The long words
//  (65 bytes to ~200 KB, some longer than a chunk) sit among the KJV's and
//  the reference is the same text without them.
Test (pipeline, words_over_max_word_are_left_out_and_counted, .timeout = 280)
{
    size_t kjv_len;
    char *kjv = h_read (h_kjv (), &kjv_len);
    cr_assert_not_null (kjv);
    char *input = h_path ("with-long.txt"), *kept = h_path ("without-long.txt");
    FILE *in = fopen (input, "wb"), *ref_text = fopen (kept, "wb");
    cr_assert (in && ref_text);
    size_t at = 0, inserted = 0;
    for (size_t piece = 0; at < kjv_len; piece++) {
        size_t end = at + 20000 < kjv_len? at + 20000: kjv_len;
        while (end < kjv_len && kjv[end] != '\n')
            end++;
        fwrite (kjv + at, 1, end - at, in);
        fwrite (kjv + at, 1, end - at, ref_text);
        at = end;
        //  Exactly 64 bytes: counted.
        char edge[80];
        snprintf (edge, sizeof edge, " edge%060zu ", piece % 7);
        fputs (edge, in);
        fputs (edge, ref_text);
        //  Longer: left out.
        size_t long_len = 65 + (piece * 9973) % 200000;
        for (size_t i = 0; i < long_len; i++)
            fputc ('a' + (int) ((i + piece) % 26), in);
        fputc ('\n', in);
        inserted++;
    }
    cr_assert_eq (fclose (in), 0);
    cr_assert_eq (fclose (ref_text), 0);
    h_release (kjv);
    h_counts_t ref;
    h_reference_file (kept, &ref);
    const char *files[] = { input };
    char *receipt = h_path ("receipt.json");
    const char *options[] = { "--max-word", "64", "--chunk-size", "16K", "-m", "2", "-r", "2",
                              "--receipt", receipt, NULL };
    s_run_against (files, 1, options, &ref);
    h_counts_free (&ref);
    size_t len;
    char *text = h_read (receipt, &len);
    cr_assert_not_null (text);
    char *expect = h_strf ("\"words_too_long\": %zu,", inserted);
    cr_assert (strstr (text, expect), "the receipt does not say %s", expect);
    h_release (text);
}

//  --max-message: every process of the job takes no message over the
//  limit, so the job cuts its chunks to fit (a BATCH is at most twice its
//  chunk); it stays exact; a chunk size that cannot fit is a usage error
//  and a word that cannot fit fails the job, saying where.
Test (pipeline, a_job_under_max_message_is_exact_and_says_what_does_not_fit, .timeout = 280)
{
    const char *files[] = { h_kjv () };
    const char *options[] = { "--max-message", "1M", "-m", "2", "-r", "3", NULL };
    s_run_exact (files, 1, options);

    char *err = h_path ("too-big.err");
    h_io_t io = { .stderr_path = err };
    int code = h_run (&io, 120000, "zmr", "run", "--max-message", "1M", "--chunk-size", "1M",
                      h_kjv (), NULL);
    cr_assert_eq (code, 2, "an unfitting --chunk-size exited %d", code);
    size_t len;
    char *text = h_read (err, &len);
    cr_assert (text && strstr (text, "does not fit --max-message"), "stderr: %s", text);
    h_release (text);

    char *path = h_path ("word.txt");
    FILE *file = fopen (path, "wb");
    cr_assert_not_null (file);
    fputs ("a short start ", file);
    for (int i = 0; i < 600000; i++)
        fputc ('w', file);
    fputs (" end\n", file);
    cr_assert_eq (fclose (file), 0);
    const char *env[] = { h_strf ("TMPDIR=%s", h_dir ()), NULL };
    h_io_t wio = { .stderr_path = err, .env = env };
    code = h_run (&wio, 120000, "zmr", "run", "--no-progress", "--max-message", "1M", "-o",
                  h_path ("word-out.txt"), path, NULL);
    cr_assert_eq (code, 1, "a word over the chunk limit exited %d", code);
    text = h_read (err, &len);
    cr_assert (text && strstr (text, "word longer than") && strstr (text, "offset 14"),
               "stderr: %s", text);
    h_release (text);
}

//  A worker whose --max-message is below what the job sends says so and
//  leaves at once, rather than lose its messages one by one; the job goes
//  on with the others.
Test (pipeline, a_mapper_whose_limit_is_below_the_jobs_refuses_to_join, .timeout = 280)
{
    h_job_t job;
    //  A mapper that comes after the job has ended waits for the next one:
    //  the text comes on standard input, held at half until the second
    //  mapper is done, so that the job is still there for it, however slow
    //  it is to start (a slow first mapper was not enough under load).
    size_t kjv_len;
    h_release (h_read (h_kjv (), &kjv_len));
    char *fifo = h_fifo ("input");
    h_feed_start_held (fifo, h_kjv (), 65536, 0, kjv_len, kjv_len / 2);
    h_job_opts_t opts = { .mappers = 1, .stdin_path = fifo };
    h_job_start (&job, "-", &opts);
    char *err = h_path ("small-mapper.err");
    h_io_t io = { .stderr_path = err };
    int code = h_run (&io, 120000, "zmr-mapper", "--max-message", "1M", job.control, NULL);
    cr_assert_eq (code, 1, "the mapper exited %d", code);
    size_t len;
    char *text = h_read (err, &len);
    cr_assert (text && strstr (text, "over this process's --max-message 1048576"),
               "stderr: %s", text);
    h_release (text);
    h_feed_limit (UINT64_MAX);
    h_status_t final;
    h_job_wait_done (&job, S_RUN_TIMEOUT, &final);
    h_assert_kjv_result (job.output);
}
