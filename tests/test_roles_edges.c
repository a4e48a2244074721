/*  test_roles_edges: hand-started roles at their edges: waiting for input, state of another job, CURVE handshakes that fail, one line per failure (issue 13). */
#include <criterion/criterion.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "zmr_chunker.h"

TestSuite (test_roles_edges, .init = h_setup, .fini = h_teardown, .timeout = 240);

//  ---------------------------------------------------------------------
//  Helpers

//  Occurrences of needle in the file at path (0 if it cannot be read).
static int
s_count_in (const char *path, const char *needle)
{
    size_t len;
    char *text = h_read (path, &len);
    if (!text)
        return 0;
    int n = 0;
    for (const char *at = text; (at = strstr (at, needle)) != NULL; at += strlen (needle))
        n++;
    h_release (text);
    return n;
}

//  Occurrences of needle over every stderr file the harness wrote in the
//  test's directory (log-NNN-PROGRAM.err) and the named ones in extra.
static int
s_count_in_logs (const char *needle, const char *const *extra)
{
    char *list = h_path ("logs.txt");
    int code = h_run (&(h_io_t) { .stdout_path = list }, 30000, "/bin/sh", "-c",
                      h_strf ("ls -1 %s/*.err", h_dir ()), NULL);
    cr_assert_eq (code, 0, "cannot list the logs");
    size_t len;
    char *names = h_read (list, &len);
    cr_assert_not_null (names);
    int n = 0;
    for (char *line = strtok (names, "\n"); line; line = strtok (NULL, "\n"))
        n += s_count_in (line, needle);
    for (size_t i = 0; extra && extra[i]; i++)
        n += s_count_in (extra[i], needle);
    return n;
}

//  The file's text, or "" (for messages).
static const char *
s_text (const char *path)
{
    size_t len;
    char *text = h_read (path, &len);
    return text? text: "";
}

//  Asks the job at status for one update (zmr-monitor --json --once),
//  again until pred holds or timeout_ms passes. True with *out if it did.
static bool
s_status_poll (const char *status, h_status_pred_t pred, void *arg, int timeout_ms,
               h_status_t *out)
{
    int64_t deadline = h_now_ms () + timeout_ms;
    memset (out, 0, sizeof *out);
    for (int round = 0; h_now_ms () < deadline && round < 1000; round++) {
        char *json = h_path (h_strf ("once-%d.json", round));
        int code = h_run (&(h_io_t) { .stdout_path = json }, 20000, "zmr-monitor",
                          "--json", "--once", "--wait-ms=3000", status, NULL);
        if (code == 0 && h_status_last (json, out) == 0 && (!pred || pred (out, arg)))
            return true;
        h_sleep_ms (200);
    }
    return false;
}

//  A status of a job that maps and waits for its input.
static bool
s_waiting_for_input (const h_status_t *status, void *arg)
{
    (void) arg;
    return !strcmp (status->phase, "mapping") && strstr (status->reason, "waiting for input");
}

//  Starts a reducer for partition p with the given extra option (or NULL),
//  bound at ipc DIR/rP.
static pid_t
s_reducer (const h_io_t *io, const char *control, int p, const char *state, const char *extra)
{
    const char *bind = h_strf ("--bind=ipc://%s/r%d", h_dir (), p);
    if (state && extra)
        return h_spawnl (io, "zmr-reducer", "-p", h_strf ("%d", p), bind,
                         h_strf ("--state=%s", state), extra, control, NULL);
    if (state)
        return h_spawnl (io, "zmr-reducer", "-p", h_strf ("%d", p), bind,
                         h_strf ("--state=%s", state), control, NULL);
    return h_spawnl (io, "zmr-reducer", "-p", h_strf ("%d", p), bind, control, NULL);
}

//  ---------------------------------------------------------------------
//  Item 5: waiting for input is not being frozen

//  A FIFO whose writer comes 10 s later (ten times --dead-ms): zmr run
//  waits for it, publishing its status meanwhile; nothing is "frozen".
Test (test_roles_edges, zmr_run_waits_for_a_fifo_writer_that_comes_late)
{
    char *fifo = h_fifo ("late.fifo");
    char *text = h_kjv_slice ("text.txt", 300000);
    char *out = h_path ("out.txt"), *err = h_path ("run.err");
    pid_t zmr = h_spawnl (&(h_io_t) { .stderr_path = err }, "zmr", "run", "--no-progress",
                          "--dead-ms", "1000", "-m", "1", "-r", "1", "-o", out, fifo, NULL);
    pid_t writer = h_spawnl (NULL, "/bin/sh", "-c",
                             h_strf ("sleep 10; cat '%s' > '%s'", text, fifo), NULL);
    int code = h_exit_code (h_wait (zmr, 120000, "zmr run on a FIFO written late"));
    h_wait (writer, 10000, "the FIFO's writer");
    cr_assert_eq (code, 0, "zmr run exited %d: %s", code, s_text (err));
    cr_assert_eq (s_count_in (err, "frozen"), 0, "stderr: %s", s_text (err));
    h_counts_t ref;
    h_reference_file (text, &ref);
    h_assert_result (out, &ref);
}

//  A tcp:// input whose server is slow to take the connection: its
//  accept queue is full (a listen backlog of 0 and one connection of the
//  test's own in it), so the kernel drops the ventilator's SYNs and its
//  connect waits for a retransmission, seconds. Waiting for the server is
//  not being frozen: with --dead-ms 300 nothing is "frozen", and once the
//  server takes the connection the text is counted exactly.
Test (test_roles_edges, zmr_run_waits_for_a_tcp_server_slow_to_accept)
{
    int server = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert (server >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (0x7f000001) };
    socklen_t alen = sizeof addr;
    cr_assert_eq (bind (server, (struct sockaddr *) &addr, sizeof addr), 0);
    cr_assert_eq (listen (server, 0), 0);
    cr_assert_eq (getsockname (server, (struct sockaddr *) &addr, &alen), 0);
    int filler = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq (connect (filler, (struct sockaddr *) &addr, sizeof addr), 0);
    char *text = h_kjv_slice ("text.txt", 300000);
    char *out = h_path ("out.txt"), *err = h_path ("run.err");
    pid_t zmr = h_spawnl (&(h_io_t) { .stderr_path = err }, "zmr", "run", "--no-progress",
                          "--dead-ms", "300", "-m", "1", "-r", "1", "-o", out,
                          h_strf ("tcp://127.0.0.1:%d", ntohs (addr.sin_port)), NULL);
    //  Far over 2 x --dead-ms with the connect waiting; then the queue is
    //  emptied and the ventilator's next SYN gets through.
    h_sleep_ms (2500);
    int first = accept (server, NULL, NULL);
    cr_assert (first >= 0);
    close (first);
    close (filler);
    struct pollfd item = { .fd = server, .events = POLLIN };
    cr_assert_eq (poll (&item, 1, 60000), 1, "the ventilator never connected");
    int peer = accept (server, NULL, NULL);
    cr_assert (peer >= 0);
    size_t len;
    char *bytes = h_read (text, &len);
    for (size_t at = 0; at < len; ) {
        ssize_t sent = write (peer, bytes + at, len - at);
        cr_assert (sent > 0, "writing the text: %s", strerror (errno));
        at += (size_t) sent;
    }
    close (peer);
    close (server);
    int code = h_exit_code (h_wait (zmr, 120000, "zmr run on a slow TCP server"));
    cr_assert_eq (code, 0, "zmr run exited %d: %s", code, s_text (err));
    cr_assert_eq (s_count_in (err, "frozen"), 0, "stderr: %s", s_text (err));
    h_counts_t ref;
    h_reference_file (text, &ref);
    h_assert_result (out, &ref);
}

//  A tcp:// input nobody listens on fails the job in one line that says
//  so, connecting or not.
Test (test_roles_edges, a_tcp_input_nobody_listens_on_fails_saying_so)
{
    int port = h_free_port ();
    char *err = h_path ("run.err");
    int code = h_run (&(h_io_t) { .stderr_path = err }, 120000, "zmr", "run", "--no-progress",
                      "-m", "1", "-r", "1", h_strf ("tcp://127.0.0.1:%d", port), NULL);
    cr_assert_eq (code, 1, "zmr run exited %d: %s", code, s_text (err));
    cr_assert_eq (h_count_lines (err), 1, "stderr: %s", s_text (err));
    cr_assert (s_count_in (err, "cannot connect to") == 1, "stderr: %s", s_text (err));
}

//  A hand-started ventilator whose input is a FIFO with no writer keeps
//  its status going ("waiting for input"), and Ctrl-C stops it quietly.
Test (test_roles_edges, a_ventilator_on_a_fifo_without_writer_publishes_and_stops_on_sigint)
{
    char *fifo = h_fifo ("nobody.fifo");
    const char *control = h_strf ("ipc://%s/c", h_dir ());
    const char *status = h_strf ("ipc://%s/s", h_dir ());
    char *verr = h_path ("ventilator.err");
    pid_t ventilator = h_spawnl (&(h_io_t) { .stderr_path = verr }, "zmr-ventilator",
                                 "-r", "1", h_strf ("--control=%s", control),
                                 h_strf ("--chunks=ipc://%s/k", h_dir ()),
                                 h_strf ("--status=%s", status), fifo, NULL);
    s_reducer (NULL, control, 0, NULL, NULL);
    h_spawnl (NULL, "zmr-sink", "-o", h_path ("out.txt"),
              h_strf ("--bind=ipc://%s/sink", h_dir ()), control, NULL);
    h_spawnl (NULL, "zmr-mapper", control, NULL);
    h_status_t got;
    bool waiting = s_status_poll (status, s_waiting_for_input, NULL, 60000, &got);
    cr_assert (waiting, "no status 'waiting for input' from a ventilator waiting for its "
               "FIFO's writer (last: phase '%s', reason '%s'); stderr: %s", got.phase,
               got.reason, s_text (verr));
    //  And again later: it is not a last gasp.
    h_sleep_ms (1500);
    cr_assert (s_status_poll (status, s_waiting_for_input, NULL, 30000, &got),
               "the status stopped (last: phase '%s', reason '%s')", got.phase, got.reason);
    cr_assert_eq (kill (ventilator, SIGINT), 0);
    int code = h_exit_code (h_wait (ventilator, 30000, "the ventilator after SIGINT"));
    cr_assert_eq (code, 130, "exit %d after SIGINT; stderr: %s", code, s_text (verr));
    cr_assert_eq (s_count_in (verr, "Interrupted system call"), 0, "stderr: %s", s_text (verr));
    cr_assert_eq (s_count_in (verr, "job failed"), 0, "stderr: %s", s_text (verr));
}

//  ---------------------------------------------------------------------
//  Item 12: one failure, one line; a word is at most 64 MiB

#define S_MIB64 (64u << 20)

//  Writes "PREFIX" + a word of n 'w' bytes + "SUFFIX" to name; its path.
static char *
s_long_word_file (const char *name, const char *prefix, size_t n, const char *suffix)
{
    char *path = h_path (name);
    FILE *file = fopen (path, "wb");
    cr_assert_not_null (file);
    fputs (prefix, file);
    char block[65536];
    memset (block, 'w', sizeof block);
    for (size_t left = n; left > 0;) {
        size_t piece = left < sizeof block? left: sizeof block;
        cr_assert_eq (fwrite (block, 1, piece, file), piece);
        left -= piece;
    }
    fputs (suffix, file);
    cr_assert_eq (fclose (file), 0);
    return path;
}

//  A word of exactly 64 MiB, with whitespace after it, is counted. (A
//  mapper is silent while it takes in one word: under a sanitizer, on a
//  loaded machine, that is seconds, so --dead-ms is generous here.)
Test (test_roles_edges, a_word_of_64_mib_is_counted)
{
    char *input = s_long_word_file ("big.txt", "x ", S_MIB64, "\ny x\n");
    char *out = h_path ("out.txt"), *err = h_path ("run.err");
    int code = h_run (&(h_io_t) { .stderr_path = err }, 180000, "zmr", "run",
                      "--no-progress", "--dead-ms", "30000", "-m", "1", "-r", "1",
                      "-o", out, input, NULL);
    cr_assert_eq (code, 0, "a 64 MiB word: exit %d: %s", code, s_text (err));
    h_counts_t ref;
    h_reference_file (input, &ref);
    h_assert_result (out, &ref);
}

//  A word of 64 MiB + 1 fails the job with one line naming the file, the
//  offset and the limit, said by the ventilator alone (the other roles
//  hear the failed FINISH and stay quiet about it without -v).
Test (test_roles_edges, a_word_over_64_mib_fails_with_one_line)
{
    char *input = s_long_word_file ("big.txt", "ab ", S_MIB64 + 1, "\n");
    const char *control = h_strf ("ipc://%s/c", h_dir ());
    char *verr = h_path ("ventilator.err");
    pid_t ventilator = h_spawnl (&(h_io_t) { .stderr_path = verr }, "zmr-ventilator",
                                 "-r", "2", h_strf ("--control=%s", control),
                                 h_strf ("--chunks=ipc://%s/k", h_dir ()),
                                 h_strf ("--status=ipc://%s/s", h_dir ()), input, NULL);
    pid_t reducers[2];
    for (int p = 0; p < 2; p++)
        reducers[p] = s_reducer (NULL, control, p, NULL, NULL);
    pid_t sink = h_spawnl (NULL, "zmr-sink", "-o", h_path ("out.txt"),
                           h_strf ("--bind=ipc://%s/sink", h_dir ()), control, NULL);
    pid_t mapper = h_spawnl (NULL, "zmr-mapper", "--once", control, NULL);
    int code = h_exit_code (h_wait (ventilator, 120000, "the ventilator"));
    cr_assert_eq (code, 1, "exit %d: %s", code, s_text (verr));
    h_wait (sink, 30000, "the sink");
    h_wait (mapper, 30000, "the mapper");
    for (int p = 0; p < 2; p++)
        h_wait (reducers[p], 30000, "a reducer");
    const char *text = s_text (verr);
    cr_assert (strstr (text, "word longer than 67108864 bytes") && strstr (text, input)
               && strstr (text, "offset 3"), "ventilator: %s", text);
    int lines = s_count_in_logs ("word longer than", NULL);
    cr_assert_eq (lines, 1, "the failure was said %d times", lines);
}

//  Cutting a long word does not hold the ventilator's loop (item 5's
//  sibling): a non-blocking chunker returns 2 ("call again") now and then
//  while it looks for the end of a 20 MiB word, from a file by reference
//  or read into memory, and its chunks still cover the input exactly, each
//  ending at whitespace or at the end.
Test (test_roles_edges, a_long_word_gives_the_ventilators_loop_a_turn)
{
    size_t word = 20u << 20;
    char *input = s_long_word_file ("long.txt", "ab ", word, " cd\n");
    size_t size;
    char *text = h_read (input, &size);
    cr_assert_not_null (text);
    for (int mode = 0; mode < 4; mode++) {
        bool nonblocking = mode & 1, by_reference = mode & 2;
        char error[512] = "";
        const char *paths[] = { input };
        zmr_chunker_t *chunker = zmr_chunker_new (paths, 1, 1u << 20, S_MIB64, error,
                                                  sizeof error);
        cr_assert_not_null (chunker, "%s", error);
        zmr_chunker_set_nonblocking (chunker, nonblocking);
        zmr_chunker_set_by_reference (chunker, by_reference);
        size_t at = 0, turns = 0;
        int rc;
        for (int calls = 0; calls < 10000; calls++) {
            zmr_chunk_t chunk;
            rc = zmr_chunker_next (chunker, &chunk);
            if (rc == 2) {
                turns++;
                continue;
            }
            if (rc != 1)
                break;
            cr_assert_eq (chunk.offset, at, "mode %d: a chunk at %llu, not %zu", mode,
                          (unsigned long long) chunk.offset, at);
            cr_assert (chunk.len > 0 && at + chunk.len <= size, "mode %d", mode);
            cr_assert (!chunk.data || memcmp (chunk.data, text + at, chunk.len) == 0,
                       "mode %d: a chunk's bytes differ from the file's", mode);
            at += chunk.len;
            cr_assert (at == size || strchr (" \n", text[at - 1]),
                       "mode %d: a chunk ends mid-word at %zu", mode, at);
            free (chunk.data);
        }
        cr_assert_eq (rc, 0, "mode %d: %s", mode, zmr_chunker_error (chunker));
        cr_assert_eq (at, size, "mode %d: the chunks cover %zu of %zu bytes", mode, at, size);
        if (nonblocking)
            cr_assert_geq (turns, 1, "mode %d: the whole word in one call", mode);
        else
            cr_assert_eq (turns, 0, "mode %d: a blocking chunker returned 2", mode);
        zmr_chunker_destroy (&chunker);
    }
}

//  ---------------------------------------------------------------------
//  Item 14: --max-word says what it left out

Test (test_roles_edges, max_word_says_how_many_words_it_left_out)
{
    char *text = h_kjv_slice ("text.txt", 200000);
    char *out = h_path ("out.txt"), *err = h_path ("run.err");
    int code = h_run (&(h_io_t) { .stderr_path = err }, 120000, "zmr", "run",
                      "--no-progress", "-m", "2", "-r", "2", "--max-word", "7",
                      "-o", out, text, NULL);
    cr_assert_eq (code, 0, "exit %d: %s", code, s_text (err));
    //  The reference: the words of at most 7 bytes, and how many were not.
    char *kept = h_path ("kept.txt"), *count = h_path ("left.txt");
    const char *split = h_strf ("LC_ALL=C tr -s ' \\t\\n\\v\\f\\r' '\\n' < '%s' | sed '/^$/d'",
                                text);
    cr_assert_eq (h_run (NULL, 60000, "/bin/sh", "-c",
                         h_strf ("%s | LC_ALL=C awk 'length($0) <= 7' > '%s'", split, kept),
                         NULL), 0);
    cr_assert_eq (h_run (NULL, 60000, "/bin/sh", "-c",
                         h_strf ("%s | LC_ALL=C awk 'length($0) > 7' | wc -l > '%s'",
                                 split, count), NULL), 0);
    long left = strtol (s_text (count), NULL, 10);
    cr_assert_gt (left, 0, "the text has no word over 7 bytes?");
    h_counts_t ref;
    h_reference_file (kept, &ref);
    h_assert_result (out, &ref);
    const char *line = h_strf ("left out %ld words longer than 7 bytes (--max-word)", left);
    cr_assert_eq (s_count_in (err, line), 1, "expected '%s' once on stderr: %s", line,
                  s_text (err));
    cr_assert_eq (s_count_in (err, "left out"), 1, "stderr: %s", s_text (err));
}

//  ---------------------------------------------------------------------
//  Item 15: option names and help that say what they do

Test (test_roles_edges, the_ventilator_names_chunks_in_flight_in_flight)
{
    char *out = h_path ("help.txt");
    cr_assert_eq (h_run (&(h_io_t) { .stdout_path = out }, 10000, "zmr-ventilator", "--help",
                         NULL), 0);
    cr_assert (strstr (s_text (out), "--in-flight=N"), "help: %s", s_text (out));
    cr_assert_null (strstr (s_text (out), "--window="), "help: %s", s_text (out));
    //  The old name is refused, not taken for --window-ms.
    char *err = h_path ("old.err");
    int code = h_run (&(h_io_t) { .stderr_path = err }, 10000, "zmr-ventilator",
                      "--window", "16", "--control", h_strf ("ipc://%s/c", h_dir ()),
                      "--chunks", h_strf ("ipc://%s/k", h_dir ()),
                      "--status", h_strf ("ipc://%s/s", h_dir ()), "/dev/null", NULL);
    cr_assert_eq (code, 2, "--window 16 exited %d: %s", code, s_text (err));
    cr_assert (strstr (s_text (err), "--in-flight"), "stderr: %s", s_text (err));
    //  And the new one works: a job with at most one chunk in flight.
    char *text = h_kjv_slice ("text.txt", 100000);
    const char *control = h_strf ("ipc://%s/c2", h_dir ());
    pid_t ventilator = h_spawnl (NULL, "zmr-ventilator", "-r", "1", "--in-flight", "1",
                                 "--chunk-size", "8K", h_strf ("--control=%s", control),
                                 h_strf ("--chunks=ipc://%s/k2", h_dir ()),
                                 h_strf ("--status=ipc://%s/s2", h_dir ()), text, NULL);
    s_reducer (NULL, control, 0, NULL, NULL);
    char *result = h_path ("out.txt");
    pid_t sink = h_spawnl (NULL, "zmr-sink", "-o", result,
                           h_strf ("--bind=ipc://%s/sink", h_dir ()), control, NULL);
    h_spawnl (NULL, "zmr-mapper", control, NULL);
    cr_assert_eq (h_exit_code (h_wait (ventilator, 60000, "the ventilator")), 0);
    cr_assert_eq (h_exit_code (h_wait (sink, 30000, "the sink")), 0);
    h_counts_t ref;
    h_reference_file (text, &ref);
    h_assert_result (result, &ref);
}

//  A mapper connects and binds nothing: its --require-curve is about
//  connecting, and does refuse a bare tcp:// beyond loopback.
Test (test_roles_edges, a_mappers_require_curve_is_about_connecting)
{
    char *out = h_path ("help.txt");
    cr_assert_eq (h_run (&(h_io_t) { .stdout_path = out }, 10000, "zmr-mapper", "--help",
                         NULL), 0);
    const char *help = strstr (s_text (out), "--require-curve");
    cr_assert_not_null (help, "help: %s", s_text (out));
    cr_assert (strstr (help, "refuse to connect"), "help: %s", help);
    cr_assert_null (strstr (help, "bind"), "help: %s", help);
    char *err = h_path ("mapper.err");
    int code = h_run (&(h_io_t) { .stderr_path = err }, 30000, "zmr-mapper", "--require-curve",
                      "--wait-ms", "3000", "tcp://192.0.2.1:5550", NULL);
    cr_assert_eq (code, 1, "exit %d: %s", code, s_text (err));
    cr_assert (strstr (s_text (err), "refusing to connect to tcp://192.0.2.1:5550 without CURVE"),
               "stderr: %s", s_text (err));
}

//  ---------------------------------------------------------------------
//  Item 6: hand-started roles with state of another job, and roles that
//  wait, say so

//  A hand-started job as README's recipe has it (two reducers sharing one
//  --state, a sink, a mapper), over ipc:// endpoints named with tag.
//  Waits for it to end and checks the result; returns the sink's output.
static void
s_recipe (const char *tag, const char *input, const char *state)
{
    const char *control = h_strf ("ipc://%s/c%s", h_dir (), tag);
    pid_t ventilator = h_spawnl (NULL, "zmr-ventilator", "-r", "2",
                                 h_strf ("--control=%s", control),
                                 h_strf ("--chunks=ipc://%s/k%s", h_dir (), tag),
                                 h_strf ("--status=ipc://%s/s%s", h_dir (), tag),
                                 "--chunk-size=16K", input, NULL);
    pid_t reducers[2];
    for (int p = 0; p < 2; p++)
        reducers[p] = h_spawnl (NULL, "zmr-reducer", "-p", h_strf ("%d", p),
                                h_strf ("--bind=ipc://%s/r%d%s", h_dir (), p, tag),
                                h_strf ("--state=%s", state), control, NULL);
    char *out = h_path (h_strf ("counts%s.tsv", tag));
    pid_t sink = h_spawnl (NULL, "zmr-sink", "-o", out,
                           h_strf ("--bind=ipc://%s/sink%s", h_dir (), tag), control, NULL);
    h_spawnl (NULL, "zmr-mapper", control, NULL);
    cr_assert_eq (h_exit_code (h_wait (ventilator, 90000, "the recipe's ventilator")), 0);
    cr_assert_eq (h_exit_code (h_wait (sink, 30000, "the recipe's sink")), 0);
    for (int p = 0; p < 2; p++)
        cr_assert_eq (h_exit_code (h_wait (reducers[p], 30000, "a recipe's reducer")), 0);
    h_counts_t ref;
    h_reference_file (input, &ref);
    h_assert_result (out, &ref);
}

//  README's "Running the roles by hand", twice in the same directory: the
//  second run must not find the first one's reducer state in its way.
Test (test_roles_edges, the_hand_started_recipe_runs_twice_in_one_directory)
{
    char *text = h_kjv_slice ("text.txt", 200000);
    char *state = h_path ("st");
    s_recipe ("1", text, state);
    //  A finished job's state is gone, not left to trap the next one.
    struct stat st;
    cr_assert (stat (h_strf ("%s/partition-0.snap", state), &st) && errno == ENOENT,
               "partition 0's snapshot outlived its finished job");
    cr_assert (stat (h_strf ("%s/partition-0.log", state), &st) && errno == ENOENT,
               "partition 0's log outlived its finished job");
    s_recipe ("2", text, state);
}

//  Leaves partition 0 of job 111 in state: a reducer that applied some of
//  a stream, stopped by SIGTERM (which checkpoints).
static void
s_state_of_job_111 (const char *state)
{
    char *fifo = h_fifo ("stream.fifo");
    char *text = h_kjv_slice ("stream.txt", 100000);
    h_feed_start_held (fifo, text, 4096, 0, 100000, 30000);
    const char *control = h_strf ("ipc://%s/c1", h_dir ());
    const char *status = h_strf ("ipc://%s/s1", h_dir ());
    h_spawnl (NULL, "zmr-ventilator", "-r", "1", "--job=111", h_strf ("--control=%s", control),
              h_strf ("--chunks=ipc://%s/k1", h_dir ()), h_strf ("--status=%s", status),
              "--chunk-size=4K", fifo, NULL);
    pid_t reducer = h_spawnl (NULL, "zmr-reducer", "-p", "0",
                              h_strf ("--bind=ipc://%s/r01", h_dir ()),
                              h_strf ("--state=%s", state), control, NULL);
    h_spawnl (NULL, "zmr-sink", "-o", h_path ("out1.txt"),
              h_strf ("--bind=ipc://%s/sink1", h_dir ()), control, NULL);
    h_spawnl (NULL, "zmr-mapper", control, NULL);
    h_status_t got;
    bool some = false;
    for (int64_t deadline = h_now_ms () + 60000; !some && h_now_ms () < deadline;)
        some = s_status_poll (status, NULL, NULL, 30000, &got) && got.chunks_done > 0;
    cr_assert (some, "job 111 applied no chunk in 60 s");
    cr_assert_eq (kill (reducer, SIGTERM), 0);
    cr_assert_eq (h_exit_code (h_wait (reducer, 30000, "job 111's reducer")), 0);
    h_feed_stop ();
}

//  A reducer whose --state holds another job's partition says so in one
//  line and exits 1; with --discard-state it drops it and joins.
Test (test_roles_edges, a_reducer_with_another_jobs_state_says_so_or_discards_it)
{
    char *state = h_path ("st");
    s_state_of_job_111 (state);
    char *text = h_kjv_slice ("text.txt", 100000);
    const char *control = h_strf ("ipc://%s/c2", h_dir ());
    char *verr = h_path ("ventilator2.err");
    pid_t ventilator = h_spawnl (&(h_io_t) { .stderr_path = verr }, "zmr-ventilator",
                                 "-r", "1", "--job=222", h_strf ("--control=%s", control),
                                 h_strf ("--chunks=ipc://%s/k2", h_dir ()),
                                 h_strf ("--status=ipc://%s/s2", h_dir ()), text, NULL);
    char *rerr = h_path ("reducer2.err");
    pid_t reducer = h_spawnl (&(h_io_t) { .stderr_path = rerr }, "zmr-reducer", "-p", "0",
                              h_strf ("--bind=ipc://%s/r02", h_dir ()),
                              h_strf ("--state=%s", state), control, NULL);
    int code = h_exit_code (h_wait (reducer, 30000, "a reducer holding job 111's state"));
    cr_assert_eq (code, 1, "exit %d: %s", code, s_text (rerr));
    const char *said = s_text (rerr);
    cr_assert (strstr (said, h_strf ("--state %s holds partition 0 of job 000000000000006f, "
                                     "but the ventilator at %s runs job 00000000000000de",
                                     state, control))
               && strstr (said, "--discard-state"), "reducer: %s", said);
    cr_assert_eq (h_count_lines (rerr), 1, "more than one line: %s", said);
    //  The ventilator says who came with which job, and what to do.
    cr_assert (strstr (s_text (verr), "HELLO for job 000000000000006f"), "ventilator: %s",
               s_text (verr));
    //  Told to, it drops that state and the job completes exact.
    char *rerr2 = h_path ("reducer3.err");
    pid_t again = h_spawnl (&(h_io_t) { .stderr_path = rerr2 }, "zmr-reducer", "-p", "0",
                            h_strf ("--bind=ipc://%s/r03", h_dir ()),
                            h_strf ("--state=%s", state), "--discard-state", control, NULL);
    char *out = h_path ("out2.txt");
    pid_t sink = h_spawnl (NULL, "zmr-sink", "-o", out,
                           h_strf ("--bind=ipc://%s/sink2", h_dir ()), control, NULL);
    h_spawnl (NULL, "zmr-mapper", control, NULL);
    code = h_exit_code (h_wait (ventilator, 60000, "job 222's ventilator"));
    cr_assert_eq (code, 0, "exit %d: %s", code, s_text (verr));
    cr_assert_eq (h_exit_code (h_wait (sink, 30000, "job 222's sink")), 0);
    cr_assert_eq (h_exit_code (h_wait (again, 30000, "the reducer with --discard-state")), 0,
                  "%s", s_text (rerr2));
    cr_assert (strstr (s_text (rerr2), "dropping partition 0 of job 000000000000006f"),
               "reducer: %s", s_text (rerr2));
    h_counts_t ref;
    h_reference_file (text, &ref);
    h_assert_result (out, &ref);
}

//  Polls the file until it holds needle; true if it did within timeout_ms.
static bool
s_wait_for_text (const char *path, const char *needle, int timeout_ms)
{
    int64_t deadline = h_now_ms () + timeout_ms;
    while (h_now_ms () < deadline) {
        if (s_count_in (path, needle) > 0)
            return true;
        h_sleep_ms (100);
    }
    return false;
}

//  Roles started by hand that wait say what for, within seconds: a
//  ventilator without its reducers and sink, a mapper with no ventilator,
//  a second reducer for a partition that is served.
Test (test_roles_edges, hand_started_roles_that_wait_say_so)
{
    char *mapper_err = h_path ("mapper.err");
    h_spawnl (&(h_io_t) { .stderr_path = mapper_err }, "zmr-mapper",
              h_strf ("ipc://%s/nobody", h_dir ()), NULL);
    char *fifo = h_fifo ("in.fifo");
    const char *control = h_strf ("ipc://%s/c", h_dir ());
    char *verr = h_path ("ventilator.err");
    h_spawnl (&(h_io_t) { .stderr_path = verr }, "zmr-ventilator", "-r", "2",
              h_strf ("--control=%s", control), h_strf ("--chunks=ipc://%s/k", h_dir ()),
              h_strf ("--status=ipc://%s/s", h_dir ()), fifo, NULL);
    s_reducer (NULL, control, 0, NULL, NULL);
    cr_assert (s_wait_for_text (verr, "waiting for reducer 1 and the sink", 30000),
               "ventilator: %s", s_text (verr));
    cr_assert (s_wait_for_text (mapper_err, h_strf ("no answer from the ventilator at "
                                                    "ipc://%s/nobody", h_dir ()), 30000),
               "mapper: %s", s_text (mapper_err));
    char *second = h_path ("second.err");
    h_spawnl (&(h_io_t) { .stderr_path = second }, "zmr-reducer", "-p", "0",
              h_strf ("--bind=ipc://%s/r0b", h_dir ()), control, NULL);
    cr_assert (s_wait_for_text (second, "partition 0 is already served by", 30000),
               "second reducer: %s", s_text (second));
    cr_assert (strstr (s_text (second), "still trying"), "%s", s_text (second));
}

//  ---------------------------------------------------------------------
//  Item 9: CURVE handshakes that fail back off, and say why

//  A TCP relay in python3 (independent of zmr): listens on 127.0.0.1:from,
//  passes each connection on to 127.0.0.1:to, and writes how many it
//  accepted to count after each. Returns once it listens.
static void
s_relay (int from, int to, const char *count)
{
    const char *script = h_strf ("%s/relay.py", h_dir ());
    const char *code =
        "import socket, sys, threading\n"
        "src, dst, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]\n"
        "listener = socket.socket()\n"
        "listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "listener.bind(('127.0.0.1', src))\n"
        "listener.listen(256)\n"
        "open(out + '.up', 'w').close()\n"
        "def pump(a, b):\n"
        "    try:\n"
        "        while True:\n"
        "            data = a.recv(65536)\n"
        "            if not data:\n"
        "                break\n"
        "            b.sendall(data)\n"
        "    except OSError:\n"
        "        pass\n"
        "    for s in (a, b):\n"
        "        try:\n"
        "            s.shutdown(socket.SHUT_RDWR)\n"
        "        except OSError:\n"
        "            pass\n"
        "accepted = 0\n"
        "while True:\n"
        "    client, _ = listener.accept()\n"
        "    accepted += 1\n"
        "    with open(out + '.tmp', 'w') as f:\n"
        "        f.write('%d\\n' % accepted)\n"
        "    import os\n"
        "    os.replace(out + '.tmp', out)\n"
        "    try:\n"
        "        server = socket.create_connection(('127.0.0.1', dst))\n"
        "    except OSError:\n"
        "        client.close()\n"
        "        continue\n"
        "    threading.Thread(target=pump, args=(client, server), daemon=True).start()\n"
        "    threading.Thread(target=pump, args=(server, client), daemon=True).start()\n";
    h_write ("relay.py", code, strlen (code));
    h_spawnl (NULL, "/usr/bin/env", "python3", script, h_strf ("%d", from), h_strf ("%d", to),
              count, NULL);
    int64_t deadline = h_now_ms () + 30000;
    struct stat st;
    while (stat (h_strf ("%s.up", count), &st) && h_now_ms () < deadline)
        h_sleep_ms (20);
    cr_assert (h_now_ms () < deadline, "the relay did not start");
}

//  Connections the relay accepted so far.
static long
s_accepted (const char *count)
{
    size_t len;
    char *text = h_read (count, &len);
    long n = text? strtol (text, NULL, 10): 0;
    if (text)
        h_release (text);
    return n;
}

//  A CURVE ventilator on loopback tcp, allowing allow/; returns its
//  control port.
static int
s_curve_ventilator (void)
{
    const char *certs = h_dir ();
    mkdir (h_path ("allow"), 0700);
    const char *names[] = { "ventilator", "mapper", "stranger" };
    for (int i = 0; i < 3; i++)
        cr_assert_eq (h_run (NULL, 30000, "zmr", "keygen", h_strf ("%s/%s", certs, names[i]),
                             NULL), 0);
    cr_assert_eq (h_run (NULL, 30000, "/bin/cp", h_strf ("%s/mapper.cert", certs),
                         h_path ("allow/"), NULL), 0);
    int port = h_free_port ();
    h_spawnl (&(h_io_t) { .stderr_path = h_path ("ventilator.err") }, "zmr-ventilator",
              "-r", "1", h_strf ("--control=tcp://127.0.0.1:%d", port),
              h_strf ("--chunks=ipc://%s/k", h_dir ()), h_strf ("--status=ipc://%s/s", h_dir ()),
              "--curve-cert", h_strf ("%s/ventilator.cert_secret", certs),
              "--curve-allow", h_path ("allow"), "/dev/null", NULL);
    return port;
}

//  Waits 3 s from the relay's first connection and returns how many it
//  accepted by then.
static long
s_attempts_in_3s (const char *count)
{
    int64_t deadline = h_now_ms () + 60000;
    while (s_accepted (count) == 0 && h_now_ms () < deadline)
        h_sleep_ms (10);
    cr_assert_gt (s_accepted (count), 0, "no connection reached the relay in 60 s");
    h_sleep_ms (3000);
    return s_accepted (count);
}

//  A mapper with the wrong --curve-server: it backs off (not hundreds of
//  handshakes a second) and says that the server key is the likely cause.
Test (test_roles_edges, a_mapper_with_the_wrong_server_key_backs_off_and_says_why)
{
    int port = s_curve_ventilator ();
    int relay = h_free_port ();
    char *count = h_path ("accepted");
    s_relay (relay, port, count);
    char *err = h_path ("mapper.err");
    h_spawnl (&(h_io_t) { .stderr_path = err }, "zmr-mapper",
              "--curve-cert", h_path ("mapper.cert_secret"),
              "--curve-server", h_path ("stranger.cert"),
              h_strf ("tcp://127.0.0.1:%d", relay), NULL);
    long attempts = s_attempts_in_3s (count);
    cr_assert_lt (attempts, 30, "%ld connections in 3 s: no back-off", attempts);
    cr_assert (strstr (s_text (err), "--curve-server is not this ventilator's public "
                                     "certificate"), "mapper: %s", s_text (err));
    cr_assert_null (strstr (s_text (err), "--curve-allow directory?"), "%s", s_text (err));
    cr_assert_leq (s_count_in (err, "failed without a reason"), 1, "not rate-limited: %s",
                   s_text (err));
}

//  A mapper without a certificate facing a CURVE job is told so (and
//  backs off as well).
Test (test_roles_edges, a_mapper_without_a_certificate_is_told_the_job_speaks_curve)
{
    int port = s_curve_ventilator ();
    int relay = h_free_port ();
    char *count = h_path ("accepted");
    s_relay (relay, port, count);
    char *err = h_path ("mapper.err");
    h_spawnl (&(h_io_t) { .stderr_path = err }, "zmr-mapper",
              h_strf ("tcp://127.0.0.1:%d", relay), NULL);
    long attempts = s_attempts_in_3s (count);
    cr_assert_lt (attempts, 30, "%ld connections in 3 s: no back-off", attempts);
    cr_assert (strstr (s_text (err), "speaks CURVE and this process does not")
               && strstr (s_text (err), "give --curve-cert and --curve-server"),
               "mapper: %s", s_text (err));
}

//  A mapper whose key is not allowed is told that, not something else.
Test (test_roles_edges, a_mapper_whose_key_is_not_allowed_is_told_so)
{
    int port = s_curve_ventilator ();
    char *err = h_path ("mapper.err");
    h_spawnl (&(h_io_t) { .stderr_path = err }, "zmr-mapper",
              "--curve-cert", h_path ("stranger.cert_secret"),
              "--curve-server", h_path ("ventilator.cert"),
              h_strf ("tcp://127.0.0.1:%d", port), NULL);
    cr_assert (s_wait_for_text (err, "is not in the ventilator's --curve-allow directory",
                                30000), "mapper: %s", s_text (err));
}
