/*  test_outputs: the sink's outputs: part directories, snapshots and receipts that are whole, refused or failed, never silently missing (issue 13). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "zmr_output.h"

TestSuite (test_outputs, .init = h_setup, .fini = h_teardown, .timeout = 120);

//  ---------------------------------------------------------------------
//  Helpers

//  The names in dir, sorted, joined by spaces ("" when empty; "?" when it
//  cannot be read). Lives until the teardown.
static const char *
s_listing (const char *dir)
{
    DIR *listing = opendir (dir);
    if (!listing)
        return "?";
    char *names[256];
    size_t n = 0;
    struct dirent *entry;
    while ((entry = readdir (listing)) && n < 256)
        if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, ".."))
            names[n++] = h_strf ("%s", entry->d_name);
    closedir (listing);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp (names[j - 1], names[j]) > 0; j--) {
            char *swap = names[j];
            names[j] = names[j - 1];
            names[j - 1] = swap;
        }
    char *out = h_strf ("%s", "");
    for (size_t i = 0; i < n; i++)
        out = h_strf ("%s%s%s", out, i? " ": "", names[i]);
    return out;
}

static void
s_touch (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    cr_assert (file, "cannot make %s", path);
    fputs (text, file);
    fclose (file);
}

//  A pid that was a process's and is no longer (a child, reaped).
static pid_t
s_dead_pid (void)
{
    pid_t pid = fork ();
    cr_assert (pid >= 0);
    if (pid == 0)
        _exit (0);
    int status;
    waitpid (pid, &status, 0);
    return pid;
}

//  ---------------------------------------------------------------------
//  zmr_output: the checks themselves

Test (test_outputs, check_file_accepts_a_writable_place_and_leaves_nothing_there)
{
    const char *dir = h_path ("out");
    cr_assert_eq (mkdir (dir, 0777), 0);
    char err[512] = "";
    cr_assert_eq (zmr_output_check_file ("--output", h_strf ("%s/counts.tsv", dir), err,
                                         sizeof err), 0, "%s", err);
    cr_assert_str_eq (s_listing (dir), "");
    //  An existing file is checked, not touched (it is replaced by the job)
    s_touch (h_strf ("%s/counts.tsv", dir), "old\t1\n");
    cr_assert_eq (zmr_output_check_file ("--output", h_strf ("%s/counts.tsv", dir), err,
                                         sizeof err), 0, "%s", err);
    cr_assert_str_eq (s_listing (dir), "counts.tsv");
    size_t len;
    cr_assert_str_eq (h_read (h_strf ("%s/counts.tsv", dir), &len), "old\t1\n");
    //  A device is written in place: writable is enough
    cr_assert_eq (zmr_output_check_file ("--output", "/dev/null", err, sizeof err), 0, "%s",
                  err);
}

Test (test_outputs, check_file_refuses_what_cannot_be_written_even_by_root)
{
    char err[512];
    const char *file = h_write ("plain", "x", 1);
    struct { const char *path, *says; } cases[] = {
        { h_dir (), "is a directory" },
        { h_strf ("%s/counts.tsv", file), "is not a directory" },          //  ENOTDIR
        { h_path ("missing/counts.tsv"), "does not exist" },
        { "/proc/zmr-outputs-test.tsv", "cannot write '/proc/zmr-outputs-test.tsv'" },
        { "", "empty" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        cr_assert_eq (zmr_output_check_file ("--receipt", cases[i].path, err, sizeof err), -1,
                      "accepted '%s'", cases[i].path);
        cr_assert (!strncmp (err, "--receipt: ", 11), "does not name the option: %s", err);
        cr_assert (strstr (err, cases[i].says), "'%s': %s", cases[i].path, err);
        cr_assert (!strchr (err, '\n'), "more than one line: %s", err);
    }
    cr_assert_str_eq (s_listing (h_dir ()), "plain");
}

Test (test_outputs, check_dir_makes_a_missing_directory_and_refuses_an_earlier_runs_files)
{
    char err[512] = "";
    const char *dir = h_path ("a/b/parts");
    cr_assert_eq (zmr_output_check_dir ("--parts", dir, false, err, sizeof err), 0, "%s", err);
    struct stat info;
    cr_assert (stat (dir, &info) == 0 && S_ISDIR (info.st_mode));
    cr_assert_str_eq (s_listing (dir), "");
    //  An earlier run's parts: refused without --force, left as they are
    s_touch (h_strf ("%s/part-00000", dir), "a\t1\n");
    s_touch (h_strf ("%s/part-00002", dir), "b\t1\n");
    s_touch (h_strf ("%s/_SUCCESS", dir), "");
    cr_assert_eq (zmr_output_check_dir ("--parts", dir, false, err, sizeof err), -1);
    cr_assert (!strncmp (err, "--parts: ", 9) && strstr (err, dir) && strstr (err, "--force"),
               "%s", err);
    cr_assert_str_eq (s_listing (dir), "_SUCCESS part-00000 part-00002");
    //  With --force what zmr wrote goes (temporary files of ours too)
    s_touch (h_strf ("%s/part-00001.tmp-%d", dir, (int) s_dead_pid ()), "c");
    s_touch (h_strf ("%s/window-1700000000000.tsv", dir), "d\t1\n");
    cr_assert_eq (zmr_output_check_dir ("--parts", dir, true, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq (s_listing (dir), "");
}

Test (test_outputs, check_dir_with_force_touches_nothing_when_a_file_is_not_ours)
{
    char err[512] = "";
    const char *dir = h_path ("windows");
    cr_assert_eq (mkdir (dir, 0777), 0);
    s_touch (h_strf ("%s/window-1.tsv", dir), "a\t1\n");
    s_touch (h_strf ("%s/notes.txt", dir), "mine\n");
    cr_assert_eq (zmr_output_check_dir ("--window-dir", dir, true, err, sizeof err), -1);
    cr_assert (!strncmp (err, "--window-dir: ", 14) && strstr (err, "notes.txt"), "%s", err);
    cr_assert_str_eq (s_listing (dir), "notes.txt window-1.tsv");
}

Test (test_outputs, check_dir_refuses_a_file_and_an_unmakeable_directory)
{
    char err[512] = "";
    const char *file = h_write ("plain", "x", 1);
    cr_assert_eq (zmr_output_check_dir ("--parts", file, false, err, sizeof err), -1);
    cr_assert (!strncmp (err, "--parts: ", 9) && strstr (err, "not a directory"), "%s", err);
    cr_assert_eq (zmr_output_check_dir ("--parts", h_strf ("%s/sub", file), false, err,
                                        sizeof err), -1);
    cr_assert (!strncmp (err, "--parts: ", 9) && strstr (err, "cannot create"), "%s", err);
    cr_assert_eq (zmr_output_check_dir ("--parts", "/proc/zmr-parts", true, err, sizeof err),
                  -1);
    cr_assert (!strncmp (err, "--parts: ", 9), "%s", err);
}

Test (test_outputs, sweep_removes_the_temporary_files_of_dead_writers_only)
{
    const char *out = h_path ("snap.tsv");
    pid_t dead = s_dead_pid ();
    s_touch (h_strf ("%s.tmp-%d", out, (int) dead), "torn");
    s_touch (h_strf ("%s.tmp-%d", out, (int) getpid ()), "being written");
    s_touch (h_strf ("%s.tmp-x", out), "not ours");
    s_touch (h_path ("other.tsv.tmp-1"), "another output's");
    cr_assert_eq (zmr_output_sweep (out), 1);
    cr_assert_str_eq (s_listing (h_dir ()),
                      h_strf ("other.tsv.tmp-1 snap.tsv.tmp-%d snap.tsv.tmp-x", (int) getpid ()));
}
