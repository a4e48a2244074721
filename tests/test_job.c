/*  test_job: a job's definition from its options, its digest, its label,
    and the allow list a mapper checks a job against. Digests are checked
    against sha256sum run through /bin/sh, an independent reference. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zmr_job.h"

static char s_dir [64];             //  This test's temporary directory

static void
s_setup (void)
{
    strcpy (s_dir, "/tmp/zmr-test-job-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    DIR *dir = opendir (s_dir);
    if (!dir)
        return;
    struct dirent *item;
    char path [512];
    while ((item = readdir (dir))) {
        if (strcmp (item->d_name, ".") == 0 || strcmp (item->d_name, "..") == 0)
            continue;
        snprintf (path, sizeof (path), "%s/%s", s_dir, item->d_name);
        if (unlink (path))
            rmdir (path);
    }
    closedir (dir);
    rmdir (s_dir);
}

TestSuite (job, .init = s_setup, .fini = s_teardown);

//  Runs script through /bin/sh with $ZMR_ARG set to arg; returns the
//  digest sha256sum prints, in hex.
static void
s_sh_digest (const char *script, const char *arg, char hex [ZMR_DIGEST_HEX])
{
    cr_assert_eq (setenv ("ZMR_ARG", arg, 1), 0);
    FILE *out = popen (script, "r");
    cr_assert_not_null (out);
    char line [256] = "";
    size_t got = fread (line, 1, sizeof line - 1, out);
    cr_assert_eq (pclose (out), 0, "%s failed", script);
    cr_assert_eq (got, ZMR_DIGEST_HEX - 1 + 4, "%s printed %zu bytes", script, got);
    cr_assert_eq (strcmp (line + ZMR_DIGEST_HEX - 1, "  -\n"), 0);
    memcpy (hex, line, ZMR_DIGEST_HEX - 1);
    hex [ZMR_DIGEST_HEX - 1] = 0;
    unsetenv ("ZMR_ARG");
}

//  Writes data into the test directory; returns its path, the caller's to free.
static char *
s_write (const char *name, const void *data, size_t len)
{
    char *path = (char *) malloc (512);
    cr_assert_not_null (path);
    snprintf (path, 512, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "wb");
    cr_assert_not_null (file);
    if (len)
        cr_assert_eq (fwrite (data, 1, len, file), len);
    cr_assert_eq (fclose (file), 0);
    return path;
}

Test (job, the_word_count_is_the_job_when_none_is_named)
{
    zmr_job_t job;
    zmr_job_words (&job);
    cr_assert_eq (job.kind, ZMR_JOB_WORDS);
    cr_assert_eq (job.reduce, ZMR_REDUCE_SUM);
    cr_assert_str_eq (job.spec, "");
    cr_assert_str_eq (job.label, "words");
    char want [ZMR_DIGEST_HEX];
    s_sh_digest ("printf words | sha256sum", "", want);
    cr_assert_str_eq (job.digest, want);
    cr_assert_eq (zmr_job_cut (&job), ZMR_CUT_WORDS);

    zmr_job_t defined;
    char err [256] = "";
    cr_assert_eq (zmr_job_define (&defined, NULL, NULL, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq (memcmp (&defined, &job, sizeof job), 0);
    cr_assert_eq (zmr_job_define (&defined, NULL, NULL, "sum", err, sizeof err), 0, "%s", err);
    cr_assert_eq (memcmp (&defined, &job, sizeof job), 0);
}

Test (job, a_command_digest_is_sha256_of_command_nul_and_its_text)
{
    const char *commands [] = {
        "awk '{print $1}'",
        "cut -f2 | tr 'a-z' 'A-Z'",
        "printf '%s\\n' \"a b\" # 100% \\ back",
        "x",
        "multi\nline\tcommand\n",
        "grep -o 'caf\xc3\xa9' | sort",
    };
    for (size_t at = 0; at < sizeof commands / sizeof *commands; at++) {
        zmr_job_t job;
        char err [256] = "";
        cr_assert_eq (zmr_job_define (&job, commands [at], NULL, "max", err, sizeof err), 0,
                      "%s", err);
        cr_assert_eq (job.kind, ZMR_JOB_COMMAND);
        cr_assert_eq (job.reduce, ZMR_REDUCE_MAX);
        cr_assert_str_eq (job.spec, commands [at]);
        char want [ZMR_DIGEST_HEX];
        s_sh_digest ("printf 'command\\0%s' \"$ZMR_ARG\" | sha256sum", commands [at], want);
        cr_assert_str_eq (job.digest, want, "digest of %s", commands [at]);
        cr_assert_eq (zmr_job_cut (&job), ZMR_CUT_LINES);

        //  The reduce is not part of the digest
        zmr_job_t summed;
        cr_assert_eq (zmr_job_define (&summed, commands [at], NULL, NULL, err, sizeof err), 0);
        cr_assert_str_eq (summed.digest, job.digest);
        cr_assert_eq (summed.reduce, ZMR_REDUCE_SUM);
    }
}

Test (job, a_plugin_digest_is_sha256_of_plugin_nul_and_the_file_bytes)
{
    //  Over several read pieces, with NUL and every other byte in it
    size_t len = 300000;
    unsigned char *bytes = malloc (len);
    cr_assert_not_null (bytes);
    srand (16);
    for (size_t i = 0; i < len; i++)
        bytes [i] = (unsigned char) (rand () >> 7);
    char *path = s_write ("libplug.so", bytes, len);
    zmr_job_t job;
    char err [256] = "";
    cr_assert_eq (zmr_job_define (&job, NULL, path, "min", err, sizeof err), 0, "%s", err);
    cr_assert_eq (job.kind, ZMR_JOB_PLUGIN);
    cr_assert_eq (job.reduce, ZMR_REDUCE_MIN);
    cr_assert_str_eq (job.spec, path);
    cr_assert_str_eq (job.label, "libplug.so");
    cr_assert_eq (zmr_job_cut (&job), ZMR_CUT_LINES);
    char want [ZMR_DIGEST_HEX];
    s_sh_digest ("{ printf 'plugin\\0'; cat \"$ZMR_ARG\"; } | sha256sum", path, want);
    cr_assert_str_eq (job.digest, want);

    //  An empty file, and a plugin named without a directory
    char *empty = s_write ("empty.so", "", 0);
    cr_assert_eq (zmr_job_define (&job, NULL, empty, NULL, err, sizeof err), 0, "%s", err);
    s_sh_digest ("printf 'plugin\\0' | sha256sum", "", want);
    cr_assert_str_eq (job.digest, want);
    cr_assert_eq (chdir (s_dir), 0);
    cr_assert_eq (zmr_job_define (&job, NULL, "empty.so", NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq (job.label, "empty.so");
    cr_assert_str_eq (job.digest, want);
    cr_assert_eq (chdir ("/"), 0);

    //  Never more than the size at open: a /proc file says 0 bytes and
    //  reads many, and only its 0 bytes count
    cr_assert_eq (zmr_job_define (&job, NULL, "/proc/self/status", NULL, err, sizeof err), 0,
                  "%s", err);
    cr_assert_str_eq (job.digest, want);
    free (empty);
    free (path);
    free (bytes);
}

Test (job, labels_fit_and_never_split_a_character)
{
    //  131 bytes: "ab" then 43 three-byte characters, so the cut at byte
    //  127 falls inside one: it backs up to that character's start
    char command [256] = "ab";
    for (int i = 0; i < 43; i++)
        strcat (command, "\xe2\x82\xac");
    cr_assert_eq (strlen (command), 131);
    zmr_job_t job;
    char err [256] = "";
    cr_assert_eq (zmr_job_define (&job, command, NULL, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq (job.spec, command, "the command itself is whole");
    cr_assert_eq (strlen (job.label), 2 + 3 * 41);
    cr_assert_eq (strncmp (job.label, command, strlen (job.label)), 0);

    //  A short one is whole; line ends do not reach the logs
    cr_assert_eq (zmr_job_define (&job, "awk '{print $1}'", NULL, NULL, err, sizeof err), 0);
    cr_assert_str_eq (job.label, "awk '{print $1}'");
    cr_assert_eq (zmr_job_define (&job, "tr a b\nsort", NULL, NULL, err, sizeof err), 0);
    cr_assert_str_eq (job.label, "tr a b sort");
    cr_assert_str_eq (job.spec, "tr a b\nsort");

    //  ASCII cut at exactly ZMR_JOB_LABEL_MAX - 1 bytes
    char plain [300];
    memset (plain, 'x', sizeof plain - 1);
    plain [sizeof plain - 1] = 0;
    cr_assert_eq (zmr_job_define (&job, plain, NULL, NULL, err, sizeof err), 0);
    cr_assert_eq (strlen (job.label), ZMR_JOB_LABEL_MAX - 1);
}

//  zmr_job_define fails with exactly want, leaving the job as it was.
static void
s_expect_error (const char *command, const char *plugin, const char *reduce, const char *want)
{
    zmr_job_t job, before;
    zmr_job_words (&job);
    job.reduce = 77;
    before = job;
    char err [512] = "";
    cr_assert_eq (zmr_job_define (&job, command, plugin, reduce, err, sizeof err), -1,
                  "accepted, expected: %s", want);
    cr_assert_str_eq (err, want);
    cr_assert_eq (memcmp (&job, &before, sizeof job), 0, "the job changed on %s", want);
}

Test (job, every_bad_option_is_one_line_naming_it)
{
    char *plugin = s_write ("lib.so", "ELF", 3);
    s_expect_error ("cat", plugin, NULL, "--map and --plugin cannot go together");
    s_expect_error ("", NULL, NULL, "--map: empty command");
    s_expect_error ("cat", NULL, "avg", "--reduce: 'avg' is not sum, min or max");
    s_expect_error (NULL, NULL, "", "--reduce: '' is not sum, min or max");
    s_expect_error (NULL, NULL, "MAX", "--reduce: 'MAX' is not sum, min or max");
    s_expect_error (NULL, NULL, "max", "--reduce max needs --map or --plugin (the word count sums)");
    s_expect_error (NULL, NULL, "min", "--reduce min needs --map or --plugin (the word count sums)");

    char missing [600];
    snprintf (missing, sizeof missing, "%s/missing.so", s_dir);
    char want [700];
    snprintf (want, sizeof want, "--plugin %s: cannot read: No such file or directory", missing);
    s_expect_error (NULL, missing, NULL, want);
    snprintf (want, sizeof want, "--plugin %s: cannot read: not a regular file", s_dir);
    s_expect_error (NULL, s_dir, NULL, want);
    s_expect_error (NULL, "", NULL, "--plugin: empty path");

    //  A file over 256 MiB is refused before a byte is read (sparse: no disk)
    char big [600];
    snprintf (big, sizeof big, "%s/big.so", s_dir);
    int fd = open (big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq (fd, 0);
    cr_assert_eq (ftruncate (fd, (256 << 20) + 1), 0);
    close (fd);
    snprintf (want, sizeof want, "--plugin %s: cannot read: larger than 256 MiB", big);
    s_expect_error (NULL, big, NULL, want);

    //  A command of ZMR_JOB_SPEC_MAX bytes does not fit; one less does
    char *command = malloc (ZMR_JOB_SPEC_MAX + 1);
    memset (command, 'y', ZMR_JOB_SPEC_MAX);
    command [ZMR_JOB_SPEC_MAX] = 0;
    s_expect_error (command, NULL, NULL, "--map: command longer than 4095 bytes");
    command [ZMR_JOB_SPEC_MAX - 1] = 0;
    zmr_job_t job;
    char err [256];
    cr_assert_eq (zmr_job_define (&job, command, NULL, NULL, err, sizeof err), 0, "%s", err);
    free (command);
    free (plugin);
}

Test (job, names_and_parse_agree)
{
    cr_assert_str_eq (zmr_job_kind_name (ZMR_JOB_WORDS), "words");
    cr_assert_str_eq (zmr_job_kind_name (ZMR_JOB_COMMAND), "command");
    cr_assert_str_eq (zmr_job_kind_name (ZMR_JOB_PLUGIN), "plugin");
    cr_assert_null (zmr_job_kind_name (3));
    cr_assert_null (zmr_job_kind_name (-1));
    cr_assert_str_eq (zmr_reduce_name (ZMR_REDUCE_SUM), "sum");
    cr_assert_str_eq (zmr_reduce_name (ZMR_REDUCE_MIN), "min");
    cr_assert_str_eq (zmr_reduce_name (ZMR_REDUCE_MAX), "max");
    cr_assert_null (zmr_reduce_name (3));
    cr_assert_null (zmr_reduce_name (-1));
    for (int reduce = 0; reduce < 3; reduce++)
        cr_assert_eq (zmr_reduce_parse (zmr_reduce_name (reduce)), reduce);
    cr_assert_eq (zmr_reduce_parse ("sum "), -1);
    cr_assert_eq (zmr_reduce_parse (""), -1);
    cr_assert_eq (zmr_reduce_parse (NULL), -1);
}

Test (job, merge_sums_and_keeps_the_least_or_most)
{
    int64_t value = 5;
    cr_assert_eq (zmr_reduce_merge (ZMR_REDUCE_SUM, &value, -7), 0);
    cr_assert_eq (value, -2);
    cr_assert_eq (zmr_reduce_merge (ZMR_REDUCE_MIN, &value, -9), 0);
    cr_assert_eq (value, -9);
    cr_assert_eq (zmr_reduce_merge (ZMR_REDUCE_MIN, &value, 3), 0);
    cr_assert_eq (value, -9);
    cr_assert_eq (zmr_reduce_merge (ZMR_REDUCE_MAX, &value, -10), 0);
    cr_assert_eq (value, -9);
    cr_assert_eq (zmr_reduce_merge (ZMR_REDUCE_MAX, &value, INT64_MAX), 0);
    cr_assert_eq (value, INT64_MAX);
    cr_assert_eq (zmr_reduce_merge (ZMR_REDUCE_SUM, &value, 1), -1);
    cr_assert_eq (value, INT64_MAX, "an overflowing sum leaves the value");
    value = INT64_MIN;
    cr_assert_eq (zmr_reduce_merge (ZMR_REDUCE_SUM, &value, -1), -1);
    cr_assert_eq (value, INT64_MIN);
}

Test (job, the_allow_list_finds_by_kind_and_digest)
{
    zmr_job_allow_t *allow = zmr_job_allow_new ();
    cr_assert_not_null (allow);
    zmr_job_t words;
    zmr_job_words (&words);

    //  The word count always, and nothing else yet
    const zmr_job_t *found = zmr_job_allow_find (allow, ZMR_JOB_WORDS, words.digest);
    cr_assert_not_null (found);
    cr_assert_eq (found->kind, ZMR_JOB_WORDS);
    zmr_job_t command;
    char err [512] = "";
    cr_assert_eq (zmr_job_define (&command, "sort -u", NULL, "max", err, sizeof err), 0);
    cr_assert_null (zmr_job_allow_find (allow, ZMR_JOB_COMMAND, command.digest));

    char *bytes = s_write ("libx.so", "\x7f" "ELF plugin", 11);
    zmr_job_t plugin;
    cr_assert_eq (zmr_job_define (&plugin, NULL, bytes, NULL, err, sizeof err), 0, "%s", err);

    cr_assert_eq (zmr_job_allow_add (allow, "sort -u", NULL, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 6; i++) {
        //  Enough to grow the list
        char other [32];
        snprintf (other, sizeof other, "cat # %d", i);
        cr_assert_eq (zmr_job_allow_add (allow, other, NULL, err, sizeof err), 0, "%s", err);
    }
    cr_assert_eq (zmr_job_allow_add (allow, NULL, bytes, err, sizeof err), 0, "%s", err);

    found = zmr_job_allow_find (allow, ZMR_JOB_COMMAND, command.digest);
    cr_assert_not_null (found);
    cr_assert_str_eq (found->spec, "sort -u", "the spec is the mapper's own");
    found = zmr_job_allow_find (allow, ZMR_JOB_PLUGIN, plugin.digest);
    cr_assert_not_null (found);
    cr_assert_str_eq (found->spec, bytes);
    cr_assert_not_null (zmr_job_allow_find (allow, ZMR_JOB_WORDS, words.digest));

    //  A wrong digest, a wrong kind, no digest: refused
    char wrong [ZMR_DIGEST_HEX];
    strcpy (wrong, command.digest);
    wrong [10] = wrong [10] == '0'? '1': '0';
    cr_assert_null (zmr_job_allow_find (allow, ZMR_JOB_COMMAND, wrong));
    cr_assert_null (zmr_job_allow_find (allow, ZMR_JOB_COMMAND, ""));
    cr_assert_null (zmr_job_allow_find (allow, ZMR_JOB_COMMAND, NULL));
    cr_assert_null (zmr_job_allow_find (allow, ZMR_JOB_PLUGIN, command.digest));
    cr_assert_null (zmr_job_allow_find (allow, ZMR_JOB_WORDS, command.digest));
    cr_assert_null (zmr_job_allow_find (allow, ZMR_JOB_COMMAND, plugin.digest));
    cr_assert_null (zmr_job_allow_find (allow, ZMR_JOB_COMMAND, words.digest));
    cr_assert_null (zmr_job_allow_find (allow, 9, command.digest));

    //  A plugin changed after it was allowed is another definition
    FILE *file = fopen (bytes, "ab");
    fputs ("patched", file);
    fclose (file);
    zmr_job_t changed;
    cr_assert_eq (zmr_job_define (&changed, NULL, bytes, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_null (zmr_job_allow_find (allow, ZMR_JOB_PLUGIN, changed.digest));

    //  A bad definition is refused with its reason, the list unchanged
    cr_assert_eq (zmr_job_allow_add (allow, "", NULL, err, sizeof err), -1);
    cr_assert_str_eq (err, "--map: empty command");
    cr_assert_eq (zmr_job_allow_add (allow, "a", bytes, err, sizeof err), -1);
    cr_assert_str_eq (err, "--map and --plugin cannot go together");

    zmr_job_allow_destroy (&allow);
    cr_assert_null (allow);
    zmr_job_allow_destroy (&allow);
    zmr_job_allow_destroy (NULL);
    free (bytes);
}
