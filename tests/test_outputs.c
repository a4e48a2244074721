/*  test_outputs: the sink's outputs: part directories, snapshots and receipts that are whole, refused or failed, never silently missing (issue 13). */
#define _GNU_SOURCE             //  F_GETPIPE_SZ
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
        { "/proc/zmr-outputs-test.tsv", "cannot write '/proc/zmr-outputs-test.tsv': No such" },
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
    //  Through a symbolic link: beside the file it names
    cr_assert_eq (mkdir (h_path ("real"), 0777), 0);
    s_touch (h_path ("real/snap.tsv"), "");
    s_touch (h_strf ("%s/real/snap.tsv.tmp-%d", h_dir (), (int) dead), "torn");
    cr_assert_eq (symlink (h_path ("real/snap.tsv"), h_path ("link.tsv")), 0);
    cr_assert_eq (zmr_output_sweep (h_path ("link.tsv")), 1);
    cr_assert_str_eq (s_listing (h_path ("real")), "snap.tsv");
}

//  ---------------------------------------------------------------------
//  A job started by hand, the sink as the test wants it

typedef struct {
    char *control;                  //  The ventilator's control endpoint
    pid_t ventilator, sink;
    char *sink_out, *sink_err;      //  The sink's stdout and stderr files
} s_job_t;

//  Starts a ventilator over input (R reducers, one mapper; with live,
//  running totals every 10 ms), the reducers, a mapper, and the sink with
//  sink_args (NULL-terminated). With wrap (NULL-terminated), the sink is
//  started through it: wrap[0] with wrap[1..], then the sink's path and
//  arguments. Endpoints are named after tag, so jobs of one test differ.
static void
s_job_start (s_job_t *job, const char *tag, const char *input, int reducers, bool live,
             const char *const *sink_args, const char *const *wrap)
{
    memset (job, 0, sizeof *job);
    job->control = h_strf ("ipc://%s/%s-c", h_dir (), tag);
    h_io_t ventilator_io = { .stderr_path = h_path (h_strf ("%s-ventilator.err", tag)) };
    job->ventilator = h_spawnl (&ventilator_io, "zmr-ventilator",
                                h_strf ("--reducers=%d", reducers),
                                h_strf ("--control=%s", job->control),
                                h_strf ("--chunks=ipc://%s/%s-k", h_dir (), tag),
                                h_strf ("--status=ipc://%s/%s-s", h_dir (), tag),
                                "--chunk-size=64K", live? "--live-ms=10": "--dead-ms=3000",
                                "--", input, NULL);
    for (int p = 0; p < reducers; p++)
        h_spawnl (NULL, "zmr-reducer", "-p", h_strf ("%d", p),
                  h_strf ("--bind=ipc://%s/%s-r%d", h_dir (), tag, p), job->control, NULL);
    const char *args[64];
    size_t n = 0;
    const char *program = "zmr-sink";
    if (wrap) {
        program = wrap[0];
        for (size_t i = 1; wrap[i]; i++)
            args[n++] = wrap[i];
        args[n++] = ZMR_BIN_DIR "/zmr-sink";
    }
    for (size_t i = 0; sink_args[i]; i++)
        args[n++] = sink_args[i];
    args[n++] = h_strf ("--bind=ipc://%s/%s-sink", h_dir (), tag);
    args[n++] = job->control;
    args[n] = NULL;
    cr_assert (n < 64);
    job->sink_out = h_path (h_strf ("%s-sink.out", tag));
    job->sink_err = h_path (h_strf ("%s-sink.err", tag));
    h_io_t sink_io = { .stdout_path = job->sink_out, .stderr_path = job->sink_err };
    job->sink = h_spawnv (program, args, &sink_io);
    h_spawnl (NULL, "zmr-mapper", job->control, NULL);
}

//  The sink's stderr, for messages.
static const char *
s_err (const s_job_t *job)
{
    size_t len;
    const char *text = h_read (job->sink_err, &len);
    return text? text: "(none)";
}

//  Runs a sink that must refuse to start: exit 2, exactly one line on
//  stderr, which holds each of says (NULL-terminated). Returns the line.
//  No ventilator runs: a sink that did not refuse waits for one, gives up
//  after --wait-ms and exits 1.
static const char *
s_sink_refuses (const char *const *sink_args, const char *const *says)
{
    const char *args[32];
    size_t n = 0;
    for (size_t i = 0; sink_args[i]; i++)
        args[n++] = sink_args[i];
    args[n++] = "--wait-ms=3000";
    args[n++] = h_strf ("--bind=ipc://%s/refused-sink", h_dir ());
    args[n++] = h_strf ("ipc://%s/nobody", h_dir ());
    args[n] = NULL;
    const char *err = h_path ("refused.err");
    h_io_t io = { .stderr_path = err };
    pid_t pid = h_spawnv ("zmr-sink", args, &io);
    int code = h_exit_code (h_wait (pid, 60000, "a sink that should refuse"));
    size_t len;
    const char *text = h_read (err, &len);
    cr_assert_eq (code, 2, "exit %d, stderr: %s", code, text);
    cr_assert_eq (h_count_lines (err), 1, "not one line: %s", text);
    for (size_t i = 0; says[i]; i++)
        cr_assert (strstr (text, says[i]), "'%s' not said: %s", says[i], text);
    return text;
}

//  The part files of dir merged into one file in result order, by sort(1).
static const char *
s_merged_parts (const char *dir)
{
    const char *merged = h_path ("merged.tsv");
    char *command = h_strf ("cat %s/part-* | LC_ALL=C sort -t '\t' -k2,2nr -k1,1 > %s",
                            dir, merged);
    cr_assert_eq (system (command), 0, "%s", command);
    return merged;
}

//  Whether the whole file is the same as text.
static bool
s_same (const char *path, const char *text)
{
    size_t len;
    const char *got = h_read (path, &len);
    return got && len == strlen (text) && !memcmp (got, text, len);
}

//  ---------------------------------------------------------------------
//  Item 2: a part directory holds one run's parts, whole, and _SUCCESS

Test (test_outputs, a_hand_started_sink_refuses_an_earlier_runs_parts_and_replaces_them_with_force)
{
    const char *input = h_kjv_slice ("in.txt", 300000);
    h_counts_t ref;
    h_reference_file (input, &ref);
    const char *dir = h_path ("parts");
    s_job_t job;
    //  -r 3: three parts and the marker
    s_job_start (&job, "a", input, 3, false,
                 (const char *[]) { "--parts", dir, "-o", h_path ("a.tsv"), NULL }, NULL);
    cr_assert_eq (h_exit_code (h_wait (job.sink, 120000, "the sink of -r 3")), 0, "%s",
                  s_err (&job));
    cr_assert_eq (h_exit_code (h_wait (job.ventilator, 60000, "the ventilator")), 0);
    cr_assert_str_eq (s_listing (dir), "_SUCCESS part-00000 part-00001 part-00002");
    h_assert_result (s_merged_parts (dir), &ref);
    struct stat info;
    cr_assert (stat (h_strf ("%s/_SUCCESS", dir), &info) == 0 && info.st_size == 0);
    const char *part1 = h_read (h_strf ("%s/part-00001", dir), &(size_t) { 0 });

    //  -r 1 into the same directory: refused at start, nothing touched
    s_sink_refuses ((const char *[]) { "--parts", dir, NULL },
                    (const char *[]) { "--parts", dir, "--force", NULL });
    cr_assert_str_eq (s_listing (dir), "_SUCCESS part-00000 part-00001 part-00002");
    cr_assert (s_same (h_strf ("%s/part-00001", dir), part1));

    //  With --force: exactly this run's part and the marker
    s_job_start (&job, "b", input, 1, false,
                 (const char *[]) { "--parts", dir, "--force", "-o", h_path ("b.tsv"), NULL },
                 NULL);
    cr_assert_eq (h_exit_code (h_wait (job.sink, 120000, "the sink of -r 1")), 0, "%s",
                  s_err (&job));
    cr_assert_eq (h_exit_code (h_wait (job.ventilator, 60000, "the ventilator")), 0);
    cr_assert_str_eq (s_listing (dir), "_SUCCESS part-00000");
    h_assert_result (h_strf ("%s/part-00000", dir), &ref);
}

//  A sink's --force keeps a --window-dir that holds window files only: a
//  sink started again (zmr run starts it with --force) must not remove the
//  windows it wrote (issue 17, item 4; a window that comes again is checked
//  against its file). A directory with other outputs of ours is cleared.
Test (test_outputs, a_window_directory_of_an_earlier_run_is_refused_and_kept_with_force)
{
    const char *dir = h_path ("windows");
    cr_assert_eq (mkdir (dir, 0777), 0);
    h_write ("windows/window-1700000000000.tsv", "old\t1\n", 6);
    s_sink_refuses ((const char *[]) { "--window-dir", dir, NULL },
                    (const char *[]) { "--window-dir", dir, "--force", NULL });
    cr_assert_str_eq (s_listing (dir), "window-1700000000000.tsv");
    //  With --force the window stays (here: no job, so the sink gives up
    //  after --wait-ms)
    h_io_t io = { .stderr_path = h_path ("force.err") };
    h_run (&io, 60000, "zmr-sink", "--window-dir", dir, "--force", "--wait-ms=500",
           h_strf ("--bind=ipc://%s/w-sink", h_dir ()), h_strf ("ipc://%s/nobody", h_dir ()),
           NULL);
    cr_assert_str_eq (s_listing (dir), "window-1700000000000.tsv");
    //  With another output of ours beside it, --force clears it all
    h_write ("windows/part-00000", "old\t1\n", 6);
    h_run (&io, 60000, "zmr-sink", "--window-dir", dir, "--force", "--wait-ms=500",
           h_strf ("--bind=ipc://%s/w-sink", h_dir ()), h_strf ("ipc://%s/nobody", h_dir ()),
           NULL);
    cr_assert_str_eq (s_listing (dir), "");
}

//  ---------------------------------------------------------------------
//  Item 3 and 7: an output that cannot be written is said at once, in one
//  line, before the sink joins; one that fails later ends the sink, exit 1

Test (test_outputs, a_sink_refuses_at_start_an_output_that_cannot_be_written)
{
    //  Places that fail for root too: a regular file as a parent
    //  (ENOTDIR), a missing directory, /proc, a directory
    const char *file = h_write ("plain", "x", 1);
    const char *enotdir = h_strf ("%s/out.tsv", file);
    const char *missing = h_path ("missing/out.tsv");
    s_sink_refuses ((const char *[]) { "--receipt", enotdir, NULL },
                    (const char *[]) { "--receipt", enotdir, NULL });
    s_sink_refuses ((const char *[]) { "--snapshot", "/proc/zmr-snapshot.tsv", NULL },
                    (const char *[]) { "--snapshot", "/proc/zmr-snapshot.tsv", NULL });
    s_sink_refuses ((const char *[]) { "-o", missing, NULL },
                    (const char *[]) { "--output", missing, "does not exist", NULL });
    s_sink_refuses ((const char *[]) { "-o", h_dir (), NULL },
                    (const char *[]) { "--output", "is a directory", NULL });
    s_sink_refuses ((const char *[]) { "--parts", enotdir, NULL },
                    (const char *[]) { "--parts", enotdir, NULL });
    s_sink_refuses ((const char *[]) { "-o", h_path ("same"), "--receipt", h_path ("same"),
                                       NULL },
                    (const char *[]) { "--output", "--receipt", "same file", NULL });
    //  One file under two names
    h_write ("result.tsv", "a\t1\n", 4);
    s_sink_refuses ((const char *[]) { "-o", h_path ("result.tsv"), "--snapshot",
                                       h_strf ("%s/./result.tsv", h_dir ()), NULL },
                    (const char *[]) { "--output", "--snapshot", "same file", NULL });
    //  Nothing made: no directory, no temporary file
    const char *listing = s_listing (h_dir ());
    cr_assert (!strstr (listing, "missing") && !strstr (listing, "same")
               && !strstr (listing, ".tmp-"), "%s", listing);
}

Test (test_outputs, a_sink_refuses_at_start_a_publish_endpoint_in_use)
{
    int port = h_free_port ();
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    cr_assert (fd >= 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    cr_assert_eq (bind (fd, (struct sockaddr *) &address, sizeof address), 0);
    cr_assert_eq (listen (fd, 1), 0);
    const char *endpoint = h_strf ("tcp://127.0.0.1:%d", port);
    s_sink_refuses ((const char *[]) { "--publish", endpoint, NULL },
                    (const char *[]) { endpoint, NULL });
    close (fd);
}

//  The sink started in a mount namespace of its own, with a tmpfs of size
//  at dir: a full disk that is gone when the sink is (no unmount to
//  forget, even when the test fails). Skips the test where mounting is not
//  allowed.
static const char *const *
s_full_disk (const char *dir, const char *size)
{
    cr_assert_eq (mkdir (dir, 0777), 0);
    h_io_t quiet = { .stderr_path = h_path ("unshare.err") };
    if (h_run (&quiet, 30000, "/usr/bin/unshare", "-m", "sh", "-c",
               h_strf ("mount -t tmpfs -o size=%s zmr-test '%s'", size, dir), NULL) != 0)
        cr_skip_test ("cannot mount a tmpfs in a mount namespace here");
    const char **wrap = h_alloc (8 * sizeof *wrap);
    wrap[0] = "/usr/bin/unshare";
    wrap[1] = "-m";
    wrap[2] = "sh";
    wrap[3] = "-c";
    wrap[4] = h_strf ("mount -t tmpfs -o size=%s zmr-test '%s' && exec \"$@\"", size, dir);
    wrap[5] = "sh";
    wrap[6] = NULL;
    return wrap;
}

Test (test_outputs, a_snapshot_that_cannot_be_written_during_the_job_fails_the_sink_in_one_line)
{
    const char *disk = h_path ("disk");
    const char *const *wrap = s_full_disk (disk, "16k");
    const char *snapshot = h_strf ("%s/snap.tsv", disk);
    s_job_t job;
    s_job_start (&job, "a", h_kjv (), 1, true,
                 (const char *[]) { "--snapshot", snapshot, "--snapshot-ms=50",
                                    "-o", h_path ("out.tsv"), NULL }, wrap);
    int code = h_exit_code (h_wait (job.sink, 120000, "the sink"));
    cr_assert_eq (code, 1, "exit %d: %s", code, s_err (&job));
    cr_assert_eq (h_count_lines (job.sink_err), 1, "not one line: %s", s_err (&job));
    cr_assert (strstr (s_err (&job), "--snapshot") && strstr (s_err (&job), snapshot)
               && strstr (s_err (&job), "No space left"), "%s", s_err (&job));
}

Test (test_outputs, a_receipt_that_cannot_be_written_at_the_end_fails_the_sink_in_one_line)
{
    const char *disk = h_path ("disk");
    const char *const *wrap = s_full_disk (disk, "4k");
    //  The disk is full by the end: the result fills it (the start's check
    //  of the receipt, one byte, still fits)
    const char *input = h_kjv_slice ("in.txt", 400000);
    const char *receipt = h_strf ("%s/receipt.json", disk);
    s_job_t job;
    s_job_start (&job, "a", input, 2, false,
                 (const char *[]) { "--receipt", receipt, "--parts", h_strf ("%s/p", disk),
                                    NULL }, wrap);
    int code = h_exit_code (h_wait (job.sink, 120000, "the sink"));
    cr_assert_eq (code, 1, "exit %d: %s", code, s_err (&job));
    cr_assert_eq (h_count_lines (job.sink_err), 1, "not one line: %s", s_err (&job));
    cr_assert (strstr (s_err (&job), "No space left"), "%s", s_err (&job));
}

//  A hand-started sink writing to a pipe whose reader left (| head -1):
//  quiet, exit 141 like a filter killed by SIGPIPE. args: the sink's.
static void
s_sink_into_head (const char *const *sink_args, bool live)
{
    const char *script = h_strf (
        "\"$@\" 2> %s | head -1 > %s; echo ${PIPESTATUS[0]} > %s",
        h_path ("sink.err"), h_path ("head.out"), h_path ("code"));
    const char *wrap[] = { "/bin/bash", "-c", script, "bash", NULL };
    s_job_t job;
    s_job_start (&job, "a", h_kjv (), 2, live, sink_args, wrap);
    cr_assert_eq (h_exit_code (h_wait (job.sink, 120000, "the sink into head -1")), 0);
    size_t len;
    const char *code = h_read (h_path ("code"), &len);
    const char *err = h_read (h_path ("sink.err"), &len);
    cr_assert (code && !strcmp (code, "141\n"), "exit %s, stderr: %s", code, err);
    cr_assert_eq (len, 0, "said something: %s", err);
    cr_assert_eq (h_count_lines (h_path ("head.out")), 1);
}

Test (test_outputs, a_sink_whose_standard_output_is_closed_ends_quietly_as_a_filter)
{
    s_sink_into_head ((const char *[]) { NULL }, false);
}

Test (test_outputs, a_sink_following_into_a_closed_standard_output_ends_quietly_as_a_filter)
{
    s_sink_into_head ((const char *[]) { "--follow", NULL }, true);
}

//  ---------------------------------------------------------------------
//  Siblings: outputs that are not regular files, temporary files left by a
//  sink that was killed, -o over an existing file

Test (test_outputs, a_result_to_a_named_pipe_is_written_into_it_not_renamed_over_it)
{
    const char *input = h_kjv_slice ("in.txt", 200000);
    h_counts_t ref;
    h_reference_file (input, &ref);
    const char *fifo = h_fifo ("out.fifo");
    const char *got = h_path ("got.tsv");
    h_io_t cat_io = { .stdin_path = fifo, .stdout_path = got };
    pid_t cat = h_spawnl (&cat_io, "/bin/cat", NULL);
    s_job_t job;
    s_job_start (&job, "a", input, 2, false, (const char *[]) { "-o", fifo, NULL }, NULL);
    cr_assert_eq (h_exit_code (h_wait (job.sink, 120000, "the sink")), 0, "%s", s_err (&job));
    cr_assert_eq (h_exit_code (h_wait (cat, 30000, "the reader of the FIFO")), 0);
    struct stat info;
    cr_assert (stat (fifo, &info) == 0 && S_ISFIFO (info.st_mode), "the FIFO was replaced");
    h_assert_result (got, &ref);
}

Test (test_outputs, a_sink_started_again_removes_what_a_killed_sink_left_and_replaces_the_output)
{
    const char *input = h_kjv_slice ("in.txt", 200000);
    h_counts_t ref;
    h_reference_file (input, &ref);
    const char *out = h_path ("out.tsv");
    const char *snap = h_path ("snap.tsv");
    const char *receipt = h_path ("receipt.json");
    pid_t dead = s_dead_pid ();
    //  What a sink killed mid-write leaves, and an old result to replace
    h_write ("out.tsv", "stale\t1\n", 8);
    h_write (h_strf ("out.tsv.tmp-%d", (int) dead), "torn", 4);
    h_write (h_strf ("snap.tsv.tmp-%d", (int) dead), "torn", 4);
    h_write (h_strf ("receipt.json.tmp-%d", (int) dead), "torn", 4);
    s_job_t job;
    s_job_start (&job, "a", input, 2, true,
                 (const char *[]) { "-o", out, "--snapshot", snap, "--receipt", receipt, NULL },
                 NULL);
    cr_assert_eq (h_exit_code (h_wait (job.sink, 120000, "the sink")), 0, "%s", s_err (&job));
    h_assert_result (out, &ref);
    h_assert_result (snap, &ref);
    const char *listing = s_listing (h_dir ());
    cr_assert (!strstr (listing, ".tmp-"), "left: %s", listing);
}

Test (test_outputs, zmr_run_refuses_an_earlier_runs_parts_and_replaces_them_with_force)
{
    const char *input = h_kjv_slice ("in.txt", 300000);
    h_counts_t ref;
    h_reference_file (input, &ref);
    const char *dir = h_path ("parts");
    const char *err = h_path ("run.err");
    h_io_t io = { .stdout_path = h_path ("run.out"), .stderr_path = err };
    size_t len;
    int code = h_run (&io, 120000, "zmr", "run", "-m", "1", "-r", "3", "--parts", dir, input,
                      NULL);
    cr_assert_eq (code, 0, "-r 3: exit %d: %s", code, h_read (err, &len));
    cr_assert_str_eq (s_listing (dir), "_SUCCESS part-00000 part-00001 part-00002");
    h_assert_result (s_merged_parts (dir), &ref);
    const char *part1 = h_read (h_strf ("%s/part-00001", dir), &len);

    code = h_run (&io, 120000, "zmr", "run", "-m", "1", "-r", "1", "--parts", dir, input, NULL);
    const char *said = h_read (err, &len);
    cr_assert_eq (code, 2, "-r 1 into the same directory: exit %d: %s", code, said);
    cr_assert_eq (h_count_lines (err), 1, "not one line: %s", said);
    cr_assert (strstr (said, "--parts") && strstr (said, dir) && strstr (said, "--force"),
               "%s", said);
    cr_assert_str_eq (s_listing (dir), "_SUCCESS part-00000 part-00001 part-00002");
    cr_assert (s_same (h_strf ("%s/part-00001", dir), part1));

    code = h_run (&io, 120000, "zmr", "run", "-m", "1", "-r", "1", "--force", "--parts", dir,
                  input, NULL);
    cr_assert_eq (code, 0, "-r 1 --force: exit %d: %s", code, h_read (err, &len));
    cr_assert_str_eq (s_listing (dir), "_SUCCESS part-00000");
    h_assert_result (h_strf ("%s/part-00000", dir), &ref);
}

Test (test_outputs, a_result_to_a_symbolic_link_is_written_through_it)
{
    const char *input = h_kjv_slice ("in.txt", 200000);
    h_counts_t ref;
    h_reference_file (input, &ref);
    cr_assert_eq (mkdir (h_path ("real"), 0777), 0);
    const char *real = h_write ("real/counts.tsv", "old\t1\n", 6);
    const char *link = h_path ("counts.tsv");
    cr_assert_eq (symlink (real, link), 0);
    s_job_t job;
    s_job_start (&job, "a", input, 2, false, (const char *[]) { "-o", link, NULL }, NULL);
    cr_assert_eq (h_exit_code (h_wait (job.sink, 120000, "the sink")), 0, "%s", s_err (&job));
    struct stat info;
    cr_assert (lstat (link, &info) == 0 && S_ISLNK (info.st_mode), "the link was replaced");
    h_assert_result (real, &ref);
    cr_assert_str_eq (s_listing (h_path ("real")), "counts.tsv");
}

Test (test_outputs, the_sinks_help_says_force_and_what_an_existing_output_gets)
{
    const char *out = h_path ("help.txt");
    h_io_t io = { .stdout_path = out };
    cr_assert_eq (h_run (&io, 30000, "zmr-sink", "--help", NULL), 0);
    size_t len;
    const char *help = h_read (out, &len);
    cr_assert (help && strstr (help, "--force") && strstr (help, "_SUCCESS")
               && strstr (help, "replacing any") && strstr (help, "141"), "%s", help);
}

//  Whether pid is blocked in write(2) (from /proc/PID/syscall: "1 ...").
static bool
s_in_write (pid_t pid)
{
    size_t len;
    const char *text = h_read (h_strf ("/proc/%d/syscall", (int) pid), &len);
    return text && !strncmp (text, "1 ", 2);
}

Test (test_outputs, a_sink_stopped_while_its_reader_does_not_read_ends_quietly)
{
    //  --follow into a pipe that is not read: the sink blocks in write; a
    //  stop signal then interrupts the write (EINTR). That is a stop, not
    //  a failure to report: no line, 128 + SIGTERM (the output is not
    //  whole, so not 0), and no write at exit blocking it for ever.
    const char *fifo = h_fifo ("follow.fifo");
    int reader = open (fifo, O_RDONLY | O_NONBLOCK);
    cr_assert (reader >= 0);
    const char *wrap[] = { "/bin/sh", "-c", h_strf ("exec \"$@\" > '%s'", fifo), "sh", NULL };
    s_job_t job;
    s_job_start (&job, "a", h_kjv (), 2, true, (const char *[]) { "--follow", NULL }, wrap);
    int capacity = fcntl (reader, F_GETPIPE_SZ);
    int64_t deadline = h_now_ms () + 90000;
    int queued = 0, seen = 0;
    while (h_now_ms () < deadline && seen < 5) {
        ioctl (reader, FIONREAD, &queued);
        //  (A pipe takes writes by pages: one may block with a page free)
        seen = queued > capacity / 2 && s_in_write (job.sink)? seen + 1: 0;
        h_sleep_ms (50);
    }
    cr_assert_eq (seen, 5, "the sink did not fill the pipe and block in write (%d of %d "
                  "bytes queued): %s", queued, capacity, s_err (&job));
    cr_assert_eq (kill (job.sink, SIGTERM), 0);
    int code = h_exit_code (h_wait (job.sink, 60000, "the stopped sink"));
    cr_assert_eq (code, 128 + SIGTERM, "exit %d: %s", code, s_err (&job));
    size_t len;
    const char *err = h_read (job.sink_err, &len);
    cr_assert_eq (len, 0, "said something: %s", err);
    close (reader);
}
