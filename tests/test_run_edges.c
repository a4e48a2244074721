/*  test_run_edges: zmr run's edges: outputs that reach stdout exactly once, outputs that are inputs, typed input, lasting failures that are not retried, nothing left behind (issue 13). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "harness.h"

static void s_teardown (void);
static const char *s_tmux_socket;           //  The tmux server to kill, if any

TestSuite (test_run_edges, .init = h_setup, .fini = s_teardown, .timeout = 120);

//  ---------------------------------------------------------------------
//  Helpers

//  The lines of a file, counted, and whether any holds needle.
static int
s_lines (const char *path)
{
    int n = h_count_lines (path);
    cr_assert (n >= 0, "cannot read %s", path);
    return n;
}

static bool
s_contains (const char *path, const char *needle)
{
    size_t len;
    char *text = h_read (path, &len);
    cr_assert_not_null (text, "cannot read %s", path);
    bool found = strstr (text, needle) != NULL;
    h_release (text);
    return found;
}

//  The pid of the child of parent whose command name is comm, or 0.
static pid_t
s_child_named (pid_t parent, const char *comm)
{
    pid_t kids[64];
    size_t n = h_children_of (parent, kids, 64);
    for (size_t i = 0; i < n; i++) {
        char path[64], name[64] = "";
        snprintf (path, sizeof path, "/proc/%d/comm", (int) kids[i]);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        if (fgets (name, sizeof name, file))
            name[strcspn (name, "\n")] = 0;
        fclose (file);
        if (!strcmp (name, comm))
            return kids[i];
    }
    return 0;
}

//  Entries of dir whose name starts with prefix.
static int
s_count_entries (const char *dir, const char *prefix)
{
    DIR *handle = opendir (dir);
    cr_assert_not_null (handle, "cannot open %s", dir);
    int n = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)))
        n += !strncmp (entry->d_name, prefix, strlen (prefix));
    closedir (handle);
    return n;
}

//  A private TMPDIR for zmr run, so that its zmr-* directories can be
//  counted (and no other test's are seen).
static const char *
s_tmpdir (const char *name)
{
    char *dir = h_path (name);
    cr_assert_eq (mkdir (dir, 0700), 0, "mkdir %s: %s", dir, strerror (errno));
    return dir;
}

//  Reads fd to its end (bounded by timeout_ms) into the file at path.
static void
s_drain (int fd, const char *path, int timeout_ms)
{
    FILE *out = fopen (path, "w");
    cr_assert_not_null (out);
    int64_t deadline = h_now_ms () + timeout_ms;
    char buf[65536];
    while (true) {
        int64_t left = deadline - h_now_ms ();
        cr_assert (left > 0, "stdout did not end within %d ms", timeout_ms);
        struct pollfd in = { fd, POLLIN, 0 };
        if (poll (&in, 1, (int) (left < 1000? left: 1000)) <= 0)
            continue;
        ssize_t n = read (fd, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        cr_assert (n > 0, "read: %s", strerror (errno));
        cr_assert_eq (fwrite (buf, 1, (size_t) n, out), (size_t) n);
    }
    fclose (out);
}

//  Runs a python3 script written to the test's directory; returns its
//  exit code.
static int
s_python (const char *name, const char *script, const char *const *args, int timeout_ms)
{
    const char *path = h_write (name, script, strlen (script));
    const char *argv[8] = { path };
    size_t n = 1;
    while (args && *args && n < 7)
        argv[n++] = *args++;
    argv[n] = NULL;
    pid_t pid = h_spawnv ("/usr/bin/python3", argv, NULL);
    return h_exit_code (h_wait (pid, timeout_ms, name));
}

//  ---------------------------------------------------------------------
//  Item 1: stdout gets the result exactly once, whatever the sink does.

//  stdout is a pipe nobody reads at first: the result (the KJV's is well
//  over a pipe's 64 KiB) fills it, and the writer blocks in the middle.
//  Then the sink is killed with SIGKILL, if it is still there (it was the
//  writer, and a sink started again wrote it all again, the first lines
//  twice, exit 0). Then everything is read: exactly the reference, once.
Test (test_run_edges, stdout_gets_the_result_once_when_the_sink_is_killed_while_it_is_written)
{
    char *fifo = h_fifo ("stdout");
    int rd = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    cr_assert (rd >= 0, "open %s: %s", fifo, strerror (errno));
    h_io_t io = { .stdout_path = fifo };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-m", "2", "-r", "2", h_kjv (),
                          NULL);
    //  Wait until the pipe is full: the writer blocks there.
    int64_t deadline = h_now_ms () + 90000;
    int queued = 0;
    while (h_now_ms () < deadline) {
        cr_assert_eq (ioctl (rd, FIONREAD, &queued), 0);
        if (queued >= 60000)
            break;
        h_sleep_ms (20);
    }
    cr_assert (queued >= 60000, "the result never filled stdout's pipe (%d bytes)", queued);
    h_sleep_ms (200);
    pid_t sink = s_child_named (zmr, "zmr-sink");
    if (sink)
        kill (sink, SIGKILL);
    //  Let a sink started again write what it would write, then read all.
    h_sleep_ms (1000);
    fcntl (rd, F_SETFL, 0);
    char *got = h_path ("got.tsv");
    s_drain (rd, got, 90000);
    close (rd);
    int code = h_exit_code (h_wait (zmr, 60000, "zmr run"));
    h_assert_kjv_result (got);
    cr_assert_eq (code, 0, "zmr run exited %d", code);
}

//  With --follow, the sink's lines come through zmr run in whole lines: a
//  sink killed with SIGKILL mid-stream tears no line, and the last line
//  of each word is its final count.
Test (test_run_edges, follow_lines_stay_whole_when_the_sink_is_killed)
{
    char *fifo = h_fifo ("stdout");
    int rd = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    cr_assert (rd >= 0);
    h_io_t io = { .stdout_path = fifo };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "--follow", "-m", "2",
                          h_kjv (), NULL);
    int64_t deadline = h_now_ms () + 90000;
    int queued = 0;
    while (h_now_ms () < deadline) {
        cr_assert_eq (ioctl (rd, FIONREAD, &queued), 0);
        if (queued >= 32768)
            break;
        h_sleep_ms (20);
    }
    //  (Written a page at a time, as POLLOUT allows: the pipe holds less.)
    cr_assert (queued >= 32768, "--follow never filled stdout's pipe (%d bytes)", queued);
    pid_t sink = s_child_named (zmr, "zmr-sink");
    if (sink)
        kill (sink, SIGKILL);
    fcntl (rd, F_SETFL, 0);
    char *got = h_path ("follow.tsv");
    s_drain (rd, got, 90000);
    close (rd);
    int code = h_exit_code (h_wait (zmr, 60000, "zmr run --follow"));
    cr_assert_eq (code, 0, "zmr run --follow exited %d", code);
    //  The last line of each word, in result order, with awk and sort.
    char *last = h_path ("last.tsv");
    h_io_t sh = { .stdout_path = last };
    int rc = h_run (&sh, 60000, "/bin/sh", "-c",
                    h_strf ("export LC_ALL=C; tac '%s' | awk -F'\\t' 'NF != 2 || $2 !~ /^[0-9]+$/ "
                            "{ print \"torn: \" $0 > \"/dev/stderr\"; exit 1 } !seen[$1]++' | "
                            "sort -t '\t' -k2,2nr -k1,1", got), NULL);
    cr_assert_eq (rc, 0, "a --follow line is not 'word<TAB>count' (see the log)");
    h_assert_kjv_result (last);
}

//  ---------------------------------------------------------------------
//  Item 4: an output that is an input is refused.

Test (test_run_edges, an_output_that_is_an_input_or_another_output_is_refused)
{
    const char *input = h_write ("in.txt", "a b a\n", 6);
    const char *cases[][4] = {
        { "-o", input, input, "--output" },
        { "--receipt", input, input, "--receipt" },
        { "--snapshot", input, input, "--snapshot" },
        { "-o", h_strf ("%s/../%s/in.txt", h_dir (), strrchr (h_dir (), '/') + 1), input,
          "--output" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = h_path (h_strf ("err-%zu", i));
        h_io_t io = { .stderr_path = err };
        int code = h_run (&io, 30000, "zmr", "run", "--no-progress", cases[i][0], cases[i][1],
                          cases[i][2], NULL);
        cr_assert_eq (code, 2, "%s %s %s: exit %d, not 2", cases[i][0], cases[i][1],
                      cases[i][2], code);
        cr_assert_eq (s_lines (err), 1, "%s: not one line on stderr", cases[i][0]);
        cr_assert (s_contains (err, cases[i][3]), "the line does not name %s", cases[i][3]);
    }
    size_t len;
    char *text = h_read (input, &len);
    cr_assert (len == 6 && !memcmp (text, "a b a\n", 6), "the input was changed");
    //  Standard input redirected from the output file.
    char *err = h_path ("err-stdin");
    h_io_t io = { .stdin_path = input, .stderr_path = err };
    cr_assert_eq (h_run (&io, 30000, "zmr", "run", "--no-progress", "-o", input, NULL), 2);
    //  Two outputs naming one file, which does not exist yet.
    char *both = h_path ("both.out");
    io = (h_io_t) { .stderr_path = err };
    int code = h_run (&io, 30000, "zmr", "run", "--no-progress", "-o", both, "--receipt",
                      both, input, NULL);
    cr_assert_eq (code, 2, "-o X --receipt X: exit %d, not 2", code);
    cr_assert_eq (s_lines (err), 1);
    cr_assert (access (both, F_OK) != 0, "the job ran");
}

//  ---------------------------------------------------------------------
//  Item 5: typed input, in a real pty.

static const char *s_pty_script =
"import fcntl, os, pty, select, struct, sys, termios, time\n"
"zmr, out, log = sys.argv[1], sys.argv[2], sys.argv[3]\n"
"pid, fd = pty.fork()\n"
"if pid == 0:\n"
"    os.execv(zmr, [zmr, 'run', '--dead-ms', '300', '-o', out])\n"
"fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))\n"
"seen = b''\n"
"def slurp(seconds):\n"
"    global seen\n"
"    end = time.time() + seconds\n"
"    while time.time() < end:\n"
"        r, _, _ = select.select([fd], [], [], 0.05)\n"
"        if r:\n"
"            try:\n"
"                data = os.read(fd, 4096)\n"
"            except OSError:\n"
"                return False\n"
"            if not data:\n"
"                return False\n"
"            seen += data\n"
"    return True\n"
"slurp(0.5)\n"
"for line in [b'the quick brown fox\\n', b'jumps over the lazy dog\\n', b'the end\\n']:\n"
"    os.write(fd, line)\n"
"    slurp(1.5)\n"
"slurp(2.5)\n"                       //  Idle: far over 2 x --dead-ms
"os.write(fd, b'\\x04')\n"
"end = time.time() + 60\n"
"while time.time() < end and slurp(0.5):\n"
"    pass\n"
"_, status = os.waitpid(pid, 0)\n"
"open(log, 'wb').write(seen)\n"
"sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') else status >> 8)\n";

Test (test_run_edges, typed_input_is_counted_and_ctrl_d_ends_it)
{
    char *out = h_path ("typed.tsv"), *log = h_path ("pty.log");
    const char *args[] = { ZMR_BIN_DIR "/zmr", out, log, NULL };
    int code = s_python ("type_in_pty.py", s_pty_script, args, 100000);
    cr_assert_eq (code, 0, "zmr run on a terminal exited %d (pty log: %s)", code, log);
    cr_assert (!s_contains (log, "frozen"), "waiting for typed input looked frozen");
    cr_assert (!s_contains (log, "again"), "a role was started again");
    //  The bar is off by default on typed input: it would be drawn over it.
    cr_assert (!s_contains (log, "B/s"), "a progress bar was drawn where text is typed");
    const char *typed = "the quick brown fox\njumps over the lazy dog\nthe end\n";
    h_counts_t ref;
    h_reference_file (h_write ("typed.txt", typed, strlen (typed)), &ref);
    h_assert_result (out, &ref);
    h_counts_free (&ref);
}

//  ---------------------------------------------------------------------
//  Item 7: lasting failures, before the job or as a closed stdout.

//  | head -1: one line out, then the reader is gone. zmr run ends quietly,
//  141 as a filter ended by SIGPIPE, without retrying anything.
Test (test_run_edges, a_closed_stdout_ends_the_job_quietly_with_141)
{
    //  The result, then --follow's running totals.
    const char *modes[] = { "", "--follow" };
    for (int m = 0; m < 2; m++) {
        char *out = h_path (h_strf ("head-%d.out", m)), *err = h_path (h_strf ("run-%d.err", m));
        char *code_file = h_path (h_strf ("code-%d", m));
        h_io_t io = { .stdout_path = out };
        int rc = h_run (&io, 100000, "/bin/bash", "-c",
                        h_strf ("'%s/zmr' run --no-progress %s '%s' 2>'%s' | head -1; "
                                "echo ${PIPESTATUS[0]} > '%s'", ZMR_BIN_DIR, modes[m], h_kjv (),
                                err, code_file), NULL);
        cr_assert_eq (rc, 0);
        cr_assert_eq (s_lines (out), 1, "%s: head -1 did not get one line", modes[m]);
        cr_assert (m || s_contains (out, "the\t"), "the first line is not the most frequent word");
        size_t len;
        char *err_text = h_read (err, &len);
        cr_assert_eq (len, 0, "zmr run %s wrote on stderr: %s", modes[m], err_text);
        char *code = h_read (code_file, &len);
        cr_assert_eq (atoi (code), 141, "zmr run %s exited %s, not 141", modes[m], code);
    }
}

//  Outputs that cannot be written and endpoints that cannot be bound are
//  refused before the job starts: exit 2, one line naming the option.
//  (The tests run as root, whom a read-only directory does not stop: the
//  parents here fail for root too.)
Test (test_run_edges, outputs_that_cannot_be_used_are_refused_before_the_job)
{
    const char *input = h_write ("in.txt", "a b a\n", 6);
    const char *file = h_write ("plain", "x", 1);
    int port_fd = socket (AF_INET, SOCK_STREAM, 0);
    cr_assert (port_fd >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (0x7f000001) };
    socklen_t alen = sizeof addr;
    cr_assert_eq (bind (port_fd, (struct sockaddr *) &addr, sizeof addr), 0);
    cr_assert_eq (listen (port_fd, 1), 0);
    cr_assert_eq (getsockname (port_fd, (struct sockaddr *) &addr, &alen), 0);
    int port = ntohs (addr.sin_port);
    const char *cases[][3] = {
        { "-o", "/proc/zmr-x", "--output" },
        { "-o", h_strf ("%s/out.tsv", file), "--output" },
        { "-o", h_strf ("%s/missing/out.tsv", h_dir ()), "--output" },
        { "-o", h_dir (), "--output" },
        { "--receipt", "/proc/zmr-x", "--receipt" },
        { "--snapshot", h_strf ("%s/r.json", file), "--snapshot" },
        { "--publish", h_strf ("tcp://127.0.0.1:%d", port), "--publish" },
        { "--status", h_strf ("tcp://127.0.0.1:%d", port), "--status" },
        { "--publish", h_strf ("ipc://%s/missing/pub", h_dir ()), "--publish" },
        { "--expose", h_strf ("tcp://127.0.0.1:%d", port - 2), "--expose" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = h_path (h_strf ("err-%zu", i));
        h_io_t io = { .stderr_path = err };
        int code = h_run (&io, 30000, "zmr", "run", "--no-progress", cases[i][0], cases[i][1],
                          input, NULL);
        cr_assert_eq (code, 2, "%s %s: exit %d, not 2", cases[i][0], cases[i][1], code);
        cr_assert_eq (s_lines (err), 1, "%s %s: not one line on stderr", cases[i][0],
                      cases[i][1]);
        cr_assert (s_contains (err, cases[i][2]), "%s %s: the line does not name %s",
                   cases[i][0], cases[i][1], cases[i][2]);
    }
    close (port_fd);
    //  A closed stdout or stdin: the result would go into whatever file
    //  zmr run opens next, or the input would be empty.
    const char *closed[][2] = {
        { h_strf ("'%s/zmr' run --no-progress '%s' >&-", ZMR_BIN_DIR, input), "output" },
        { h_strf ("'%s/zmr' run --no-progress --follow -o '%s' '%s' >&-", ZMR_BIN_DIR,
                  h_path ("f.out"), input), "output" },
        { h_strf ("'%s/zmr' run --no-progress -o '%s' <&-", ZMR_BIN_DIR, h_path ("s.out")),
          "input" },
    };
    for (int i = 0; i < 3; i++) {
        char *err = h_path (h_strf ("closed-%d.err", i));
        h_io_t io = { .stderr_path = err };
        int code = h_run (&io, 30000, "/bin/sh", "-c", closed[i][0], NULL);
        cr_assert_eq (code, 2, "%s: exit %d, not 2", closed[i][0], code);
        cr_assert_eq (s_lines (err), 1, "%s: not one line on stderr", closed[i][0]);
        cr_assert (s_contains (err, closed[i][1]), "%s: the line does not say %s",
                   closed[i][0], closed[i][1]);
    }
}

//  ---------------------------------------------------------------------
//  Item 8: nothing left behind.

//  A 24 MB input (the KJV, several times), SIGINT at moments spread over
//  0..300 ms after the start, as `timeout -s INT` sends it: to zmr run,
//  then to its process group (zmr run gets it twice).
Test (test_run_edges, sigint_at_any_moment_leaves_no_directory_and_no_process, .timeout = 300)
{
    const char *tmp = s_tmpdir ("tmp");
    const char *env[] = { h_strf ("TMPDIR=%s", tmp), NULL };
    const char *inputs[6];
    for (int i = 0; i < 6; i++)
        inputs[i] = h_kjv ();
    for (int t = 0; t < 12; t++) {
        int delay = t * 25;
        char *err = h_path (h_strf ("err-%d", t));
        h_io_t io = { .env = env, .stdout_path = h_path ("out"), .stderr_path = err };
        pid_t zmr = h_spawnl (&io, "/usr/bin/timeout", "-s", "INT",
                              h_strf ("%d.%03d", delay / 1000, delay % 1000 + 1),
                              ZMR_BIN_DIR "/zmr", "run", "--no-progress", inputs[0], inputs[1],
                              inputs[2], inputs[3], inputs[4], inputs[5], NULL);
        h_wait (zmr, 60000, "timeout zmr run");
        //  Every process zmr run started is gone (they come back to this
        //  test, a subreaper, if orphaned: none may be left).
        pid_t left[8];
        int64_t deadline = h_now_ms () + 10000;
        size_t n;
        while ((n = h_children_of (getpid (), left, 8)) > 0 && h_now_ms () < deadline) {
            for (size_t i = 0; i < n; i++)
                waitpid (left[i], NULL, WNOHANG);
            h_sleep_ms (20);
        }
        cr_assert_eq (n, 0, "SIGINT after %d ms: a process was left (pid %d)", delay,
                      n? (int) left[0]: 0);
        cr_assert_eq (s_count_entries (tmp, "zmr-"), 0,
                      "SIGINT after %d ms left a zmr-* directory in %s", delay, tmp);
    }
}

//  kill -9 of zmr run leaves its directory (nothing can remove it then);
//  the next zmr run sweeps it: its owner is dead, its lock is free.
Test (test_run_edges, a_killed_runs_directory_is_removed_by_the_next_run)
{
    const char *tmp = s_tmpdir ("tmp");
    const char *env[] = { h_strf ("TMPDIR=%s", tmp), NULL };
    char *fifo = h_fifo ("in");
    h_feed_start (fifo, NULL, 0, 0, 0);         //  Held open: the job waits
    h_io_t io = { .env = env, .stdin_path = fifo };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", NULL);
    int64_t deadline = h_now_ms () + 30000;
    while (s_count_entries (tmp, "zmr-") == 0 && h_now_ms () < deadline)
        h_sleep_ms (20);
    cr_assert_eq (s_count_entries (tmp, "zmr-"), 1, "zmr run made no directory");
    //  A live run's directory is not swept.
    const char *input = h_write ("in.txt", "a b a\n", 6);
    h_io_t io2 = { .env = env };
    cr_assert_eq (h_run (&io2, 60000, "zmr", "run", "--no-progress", "-o", h_path ("o1"),
                         input, NULL), 0);
    cr_assert_eq (s_count_entries (tmp, "zmr-"), 1, "a live run's directory was removed");
    kill (zmr, SIGKILL);
    h_wait (zmr, 10000, "zmr run after SIGKILL");
    h_feed_stop ();
    //  Its children die with it (SIGTERM from the kernel); wait for them.
    pid_t left[8];
    deadline = h_now_ms () + 20000;
    size_t n;
    while ((n = h_children_of (getpid (), left, 8)) > 0 && h_now_ms () < deadline) {
        for (size_t i = 0; i < n; i++)
            waitpid (left[i], NULL, WNOHANG);
        h_sleep_ms (20);
    }
    cr_assert_eq (s_count_entries (tmp, "zmr-"), 1, "the killed run left no directory");
    cr_assert_eq (h_run (&io2, 60000, "zmr", "run", "--no-progress", "-o", h_path ("o2"),
                         input, NULL), 0);
    cr_assert_eq (s_count_entries (tmp, "zmr-"), 0, "the killed run's directory is still there");
}

//  --status ipc://... and --publish ipc://...: their socket files are gone
//  after the run.
Test (test_run_edges, ipc_socket_files_of_status_and_publish_are_gone_after_a_run)
{
    const char *input = h_write ("in.txt", "a b a\n", 6);
    char *status = h_path ("st"), *publish = h_path ("pub");
    int code = h_run (NULL, 60000, "zmr", "run", "--no-progress", "-o", h_path ("out"),
                      h_strf ("--status=ipc://%s", status),
                      h_strf ("--publish=ipc://%s", publish), input, NULL);
    cr_assert_eq (code, 0);
    cr_assert (access (status, F_OK) != 0, "%s is still there", status);
    cr_assert (access (publish, F_OK) != 0, "%s is still there", publish);
}

//  ---------------------------------------------------------------------
//  Item 10: the progress bar on a real terminal of 80 columns (tmux).

static void
s_tmux_kill (void)
{
    if (s_tmux_socket)
        h_run (NULL, 10000, "/usr/bin/tmux", "-L", s_tmux_socket, "kill-server", NULL);
    s_tmux_socket = NULL;
}

//  The tmux server is killed also when a test fails.
static void
s_teardown (void)
{
    s_tmux_kill ();
    h_teardown ();
}

//  Runs command in a detached 80x24 tmux; waits for it to write done_file;
//  returns the screen and its history.
static char *
s_tmux (const char *command, const char *done_file)
{
    s_tmux_socket = h_strf ("zmr-L-%d", (int) getpid ());
    int rc = h_run (NULL, 20000, "/usr/bin/tmux", "-L", s_tmux_socket, "-f", "/dev/null",
                    "new-session", "-d", "-x", "80", "-y", "24",
                    h_strf ("%s; echo $? > '%s'; sleep 60", command, done_file), NULL);
    cr_assert_eq (rc, 0, "tmux did not start");
    int64_t deadline = h_now_ms () + 100000;
    while (access (done_file, F_OK) && h_now_ms () < deadline)
        h_sleep_ms (50);
    cr_assert (access (done_file, F_OK) == 0, "the command in tmux did not end");
    h_sleep_ms (300);
    char *screen = h_path ("screen.txt");
    h_io_t io = { .stdout_path = screen };
    rc = h_run (&io, 20000, "/usr/bin/tmux", "-L", s_tmux_socket, "capture-pane", "-p", "-J",
                "-S", "-", NULL);
    cr_assert_eq (rc, 0);
    s_tmux_kill ();
    return screen;
}

Test (test_run_edges, the_progress_bar_fits_80_columns_on_one_line)
{
    const char *inputs = h_strf ("'%s' '%s' '%s'", h_kjv (), h_kjv (), h_kjv ());
    char *done = h_path ("done");
    char *screen = s_tmux (h_strf ("'%s/zmr' run --progress -m 2 -o '%s' %s", ZMR_BIN_DIR,
                                   h_path ("out.tsv"), inputs), done);
    size_t len;
    char *text = h_read (screen, &len);
    cr_assert_not_null (text);
    int bars = 0;
    for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
        //  -J joins wrapped lines: one over 80 columns wrapped.
        cr_assert (strlen (line) <= 80, "a line of %zu columns: %s", strlen (line), line);
        bars += strstr (line, "B/s") != NULL;
    }
    cr_assert_eq (bars, 1, "%d lines of bar, not one (screen in %s)", bars, screen);
    text = h_read (screen, &len);
    char *bar = strstr (text, "B/s");
    cr_assert_not_null (bar);
    //  The final bar's rate is not zero: the digit before "B/s" (after any
    //  unit letter) is not a lone 0.
    const char *p = bar;
    while (p > text && (p[-1] == 'K' || p[-1] == 'M' || p[-1] == 'G' || p[-1] == 'i'
                        || p[-1] == ' '))
        p--;
    cr_assert (p > text && p[-1] >= '0' && p[-1] <= '9', "no rate before B/s: %s", text);
    const char *q = p;
    while (q > text && ((q[-1] >= '0' && q[-1] <= '9') || q[-1] == '.'))
        q--;
    cr_assert (strtod (q, NULL) > 0, "the final bar's rate is zero: %.*s", (int) (bar - q + 3), q);
}

//  --follow on the same terminal: the bar is taken off before lines are
//  written, so no result line has bar text glued to it.
Test (test_run_edges, follow_lines_on_the_bars_terminal_carry_no_bar)
{
    char *done = h_path ("done");
    char *screen = s_tmux (h_strf ("'%s/zmr' run --progress --follow --follow-ms 20 -m 2 '%s'",
                                   ZMR_BIN_DIR, h_kjv_slice ("slice.txt", 400000)), done);
    size_t len;
    char *text = h_read (screen, &len);
    cr_assert_not_null (text);
    int lines = 0, bars = 0;
    for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
        cr_assert (strlen (line) <= 80, "a line of %zu columns: %s", strlen (line), line);
        bool bar = strstr (line, "B/s") != NULL;
        bars += bar;
        if (!bar && strchr (line, '\t'))
            lines++;
        cr_assert (!bar || !strchr (line, '\t'), "a result line with the bar glued: %s",
                   line);
    }
    cr_assert (bars <= 1, "%d lines of bar", bars);
}

//  ---------------------------------------------------------------------
//  Item 12: one failure, one line.

//  A word over the limit (64 MiB of one word): the ventilator fails the job
//  and says why; nobody repeats it.
Test (test_run_edges, a_failed_job_says_why_in_one_line, .timeout = 240)
{
    char *big = h_path ("word.txt");
    int fd = open (big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert (fd >= 0);
    char *buf = h_alloc (1 << 20);
    memset (buf, 'x', 1 << 20);
    for (int i = 0; i < 65; i++)
        cr_assert_eq (write (fd, buf, 1 << 20), 1 << 20);
    close (fd);
    h_release (buf);
    char *err = h_path ("run.err");
    h_io_t io = { .stderr_path = err };
    int code = h_run (&io, 200000, "zmr", "run", "--no-progress", "-o", h_path ("out"), big,
                      NULL);
    cr_assert_eq (code, 1, "exit %d, not 1", code);
    int lines = s_lines (err);
    cr_assert_eq (lines, 1, "%d lines on stderr for one failure (see %s)", lines, err);
}

//  ---------------------------------------------------------------------
//  Item 15: the help says the ports --expose uses; 128 + the signal.

Test (test_run_edges, expose_uses_the_ports_its_help_says)
{
    char *help = h_path ("help.txt");
    h_io_t hio = { .stdout_path = help };
    cr_assert_eq (h_run (&hio, 10000, "zmr", "run", "--help", NULL), 0);
    size_t len;
    char *text = h_read (help, &len);
    char *plus = strstr (text, "PORT+");
    cr_assert_not_null (plus, "the help names no PORT+N+R");
    int said = atoi (plus + 5);
    cr_assert (strstr (plus, "+R"), "the help's range does not end in +R");
    int port = h_free_port ();
    int reducers = 2;
    char *fifo = h_fifo ("in");
    h_feed_start (fifo, NULL, 0, 0, 0);
    h_io_t io = { .stdin_path = fifo };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-r", "2", "-m", "1",
                          h_strf ("--expose=tcp://127.0.0.1:%d", port), NULL);
    //  Which ports of PORT .. PORT+20 listen, from /proc/net/tcp.
    int highest = -1, count = 0;
    int64_t deadline = h_now_ms () + 30000;
    while (h_now_ms () < deadline) {
        highest = -1;
        count = 0;
        FILE *tcp = fopen ("/proc/net/tcp", "r");
        cr_assert_not_null (tcp);
        char line[512];
        while (fgets (line, sizeof line, tcp)) {
            unsigned local_port, state;
            if (sscanf (line, " %*d: %*x:%x %*x:%*x %x", &local_port, &state) == 2
            &&  state == 0x0A && (int) local_port >= port && (int) local_port <= port + 20) {
                count++;
                if ((int) local_port - port > highest)
                    highest = (int) local_port - port;
            }
        }
        fclose (tcp);
        if (count == 4 + reducers)
            break;
        h_sleep_ms (50);
    }
    cr_assert_eq (count, 4 + reducers, "%d ports listen, not 4 + R", count);
    cr_assert_eq (highest, said + reducers, "the last port is PORT+%d, the help says PORT+%d+R",
                  highest, said);
    kill (zmr, SIGTERM);
    h_wait (zmr, 30000, "zmr run");
    h_feed_stop ();
}

Test (test_run_edges, a_stop_signal_gives_128_plus_it)
{
    int signals[] = { SIGINT, SIGTERM, SIGHUP };
    for (int i = 0; i < 3; i++) {
        char *fifo = h_fifo (h_strf ("in-%d", i));
        h_feed_start (fifo, NULL, 0, 0, 0);
        h_io_t io = { .stdin_path = fifo };
        pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", NULL);
        //  Until its children run: the job is under way.
        int64_t deadline = h_now_ms () + 30000;
        while (!s_child_named (zmr, "zmr-sink") && h_now_ms () < deadline)
            h_sleep_ms (20);
        kill (zmr, signals[i]);
        int code = h_exit_code (h_wait (zmr, 30000, "zmr run after a signal"));
        cr_assert_eq (code, 128 + signals[i], "%s: exit %d, not %d", strsignal (signals[i]),
                      code, 128 + signals[i]);
        h_feed_stop ();
    }
}

//  ---------------------------------------------------------------------
//  Item 16: --force, for the part files of an earlier run.

Test (test_run_edges, parts_of_an_earlier_run_are_refused_or_replaced_with_force)
{
    const char *input = h_write ("in.txt", "a b a c\n", 8);
    char *parts = h_path ("parts");
    cr_assert_eq (h_run (NULL, 60000, "zmr", "run", "--no-progress", "-r", "3", "-o",
                         h_path ("o1"), "--parts", parts, input, NULL), 0);
    char *err = h_path ("err");
    h_io_t io = { .stderr_path = err };
    int code = h_run (&io, 60000, "zmr", "run", "--no-progress", "-r", "1", "-o", h_path ("o2"),
                      "--parts", parts, input, NULL);
    cr_assert_eq (code, 2, "a --parts directory of an earlier run: exit %d, not 2", code);
    cr_assert_eq (s_lines (err), 1);
    cr_assert (s_contains (err, "--parts"));
    code = h_run (&io, 60000, "zmr", "run", "--no-progress", "-r", "1", "-o", h_path ("o3"),
                  "--parts", parts, "--force", input, NULL);
    cr_assert_eq (code, 0, "--force: exit %d", code);
    cr_assert (access (h_strf ("%s/part-00000", parts), F_OK) == 0);
    cr_assert (access (h_strf ("%s/part-00001", parts), F_OK) != 0,
               "part-00001 of the earlier run is still there");
    char *help = h_path ("help.txt");
    h_io_t hio = { .stdout_path = help };
    cr_assert_eq (h_run (&hio, 10000, "zmr", "run", "--help", NULL), 0);
    cr_assert (s_contains (help, "--force"), "--help does not tell --force");
}

//  The same for a role started by hand: a ventilator stopped by SIGTERM
//  leaves none of the socket files it bound (libzmq leaves them: the role
//  removes its own at exit).
Test (test_run_edges, a_hand_started_role_removes_its_ipc_socket_files)
{
    const char *input = h_write ("in.txt", "a b a\n", 6);
    char *control = h_path ("c"), *chunks = h_path ("ch"), *status = h_path ("st");
    pid_t vent = h_spawnl (NULL, "zmr-ventilator", h_strf ("--control=ipc://%s", control),
                           h_strf ("--chunks=ipc://%s", chunks),
                           h_strf ("--status=ipc://%s", status), "--reducers", "1", "--",
                           input, NULL);
    int64_t deadline = h_now_ms () + 30000;
    while ((access (control, F_OK) || access (chunks, F_OK) || access (status, F_OK))
           && h_now_ms () < deadline)
        h_sleep_ms (20);
    cr_assert (access (status, F_OK) == 0, "the ventilator bound nothing");
    kill (vent, SIGTERM);
    h_wait (vent, 30000, "the ventilator after SIGTERM");
    const char *files[] = { control, chunks, status };
    for (int i = 0; i < 3; i++)
        cr_assert (access (files[i], F_OK) != 0, "%s is still there", files[i]);
}

//  --follow into a reader that pauses for many times --dead-ms: the sink,
//  held back by a full pipe, is not frozen; nothing is killed or started
//  again, and the last line of each word is its final count.
Test (test_run_edges, a_slow_follow_reader_holds_the_sink_back_without_killing_it)
{
    char *fifo = h_fifo ("stdout");
    int rd = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    cr_assert (rd >= 0);
    char *err = h_path ("run.err");
    h_io_t io = { .stdout_path = fifo, .stderr_path = err };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "--follow", "--dead-ms", "2000",
                          "-m", "2", h_kjv (), NULL);
    int64_t deadline = h_now_ms () + 90000;
    int queued = 0;
    while (h_now_ms () < deadline) {
        cr_assert_eq (ioctl (rd, FIONREAD, &queued), 0);
        if (queued >= 32768)
            break;
        h_sleep_ms (20);
    }
    cr_assert (queued >= 32768, "--follow never filled stdout's pipe (%d bytes)", queued);
    h_sleep_ms (12000);                         //  3 x the frozen limit
    fcntl (rd, F_SETFL, 0);
    char *got = h_path ("follow.tsv");
    s_drain (rd, got, 90000);
    close (rd);
    int code = h_exit_code (h_wait (zmr, 60000, "zmr run --follow"));
    cr_assert_eq (code, 0, "zmr run --follow exited %d (see %s)", code, err);
    //  (On a machine loaded enough, another role may be silent for 2 x
    //  --dead-ms and be restarted, which is what --dead-ms asks; the sink
    //  held back by its reader must never be.)
    cr_assert (!s_contains (err, "sink 0 (pid"), "the held-back sink was taken for frozen");
    cr_assert (!s_contains (err, "the sink ") && !s_contains (err, "sink 0 left"),
               "the held-back sink was started again");
    char *last = h_path ("last.tsv");
    h_io_t sh = { .stdout_path = last };
    int rc = h_run (&sh, 60000, "/bin/sh", "-c",
                    h_strf ("export LC_ALL=C; tac '%s' | awk -F'\\t' '!seen[$1]++' | "
                            "sort -t '\t' -k2,2nr -k1,1", got), NULL);
    cr_assert_eq (rc, 0);
    h_assert_kjv_result (last);
}

//  ---------------------------------------------------------------------
//  The sink's lasting failures (the contract with zmr-sink): exit 1 means
//  a restart cannot cure it (the sink said why), so zmr run fails the job
//  at once, without a second line; a sink that fails after the job is
//  done (its receipt) fails it too.

//  Waits until the sink has written its first snapshot: it is past its
//  checks at start.
static void
s_wait_snapshot (const char *snapshot)
{
    int64_t deadline = h_now_ms () + 60000;
    while (access (snapshot, F_OK) && h_now_ms () < deadline)
        h_sleep_ms (20);
    cr_assert (access (snapshot, F_OK) == 0, "the sink wrote no snapshot");
}

Test (test_run_edges, a_sink_that_cannot_write_its_outputs_fails_the_job_at_once)
{
    //  During the job: the snapshot's directory is gone.
    char *dir = h_path ("snaps");
    cr_assert_eq (mkdir (dir, 0700), 0);
    char *fifo = h_fifo ("in");
    h_feed_start (fifo, h_kjv (), 4096, 20, 64 << 20);
    char *err = h_path ("snap.err");
    h_io_t io = { .stdin_path = fifo, .stderr_path = err };
    char *snapshot = h_strf ("%s/snap.tsv", dir);
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-o", h_path ("out1"),
                          "--snapshot", snapshot, NULL);
    s_wait_snapshot (snapshot);
    h_run (NULL, 10000, "/bin/rm", "-rf", dir, NULL);
    int code = h_exit_code (h_wait (zmr, 60000, "zmr run whose snapshot cannot be written"));
    h_feed_stop ();
    cr_assert_eq (code, 1, "exit %d, not 1", code);
    cr_assert_eq (s_lines (err), 1, "not one line on stderr (see %s)", err);
    cr_assert (s_contains (err, "--snapshot"), "the line does not name --snapshot");
    //  After the job: the receipt's directory is gone when it is written.
    dir = h_path ("receipts");
    cr_assert_eq (mkdir (dir, 0700), 0);
    fifo = h_fifo ("in2");
    h_feed_start (fifo, h_kjv (), 4096, 20, 64 << 20);
    err = h_path ("receipt.err");
    io = (h_io_t) { .stdin_path = fifo, .stderr_path = err };
    snapshot = h_path ("snap2.tsv");
    zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-o", h_path ("out2"), "--receipt",
                    h_strf ("%s/r.json", dir), "--snapshot", snapshot, NULL);
    s_wait_snapshot (snapshot);
    h_run (NULL, 10000, "/bin/rm", "-rf", dir, NULL);
    h_feed_stop ();
    code = h_exit_code (h_wait (zmr, 60000, "zmr run whose receipt cannot be written"));
    cr_assert_eq (code, 1, "exit %d, not 1: the receipt was asked for and not written", code);
    cr_assert_eq (s_lines (err), 1, "not one line on stderr (see %s)", err);
    cr_assert (s_contains (err, "--receipt"), "the line does not name --receipt");
    //  A sink started again (after a kill -9) whose check at start refuses
    //  (exit 2: the receipt's directory is gone): not started again.
    dir = h_path ("receipts3");
    cr_assert_eq (mkdir (dir, 0700), 0);
    fifo = h_fifo ("in3");
    h_feed_start (fifo, h_kjv (), 4096, 20, 64 << 20);
    err = h_path ("restart.err");
    io = (h_io_t) { .stdin_path = fifo, .stderr_path = err };
    snapshot = h_path ("snap3.tsv");
    zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-o", h_path ("out3"), "--receipt",
                    h_strf ("%s/r.json", dir), "--snapshot", snapshot, NULL);
    s_wait_snapshot (snapshot);
    h_run (NULL, 10000, "/bin/rm", "-rf", dir, NULL);
    pid_t sink = s_child_named (zmr, "zmr-sink");
    cr_assert (sink > 0);
    kill (sink, SIGKILL);
    code = h_exit_code (h_wait (zmr, 60000, "zmr run whose sink cannot start again"));
    h_feed_stop ();
    cr_assert_eq (code, 1, "exit %d, not 1", code);
    cr_assert (!s_contains (err, "crashed"), "the sink's refusal was retried (see %s)", err);
    cr_assert_eq (s_lines (err), 2, "not two lines (the restart, the refusal; see %s)", err);
}
