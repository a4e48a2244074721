/*  test_terminal: what a person reads (issue 13): zmr-monitor at 80
    columns in a real terminal (tmux), scripts/verify-receipt's verdicts,
    and the errors of a --config file. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static void s_teardown (void);

TestSuite (test_terminal, .init = h_setup, .fini = s_teardown, .timeout = 240);

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
//  A terminal: a tmux server of the test's own (its socket in the test's
//  directory), one session of 80 x 30, killed at the end, failed or not.

static bool s_tmux_up;

static const char *
s_tmux_command (const char *args)
{
    return h_strf ("env -u TMUX tmux -S '%s/tmux.sock' %s", h_dir (), args);
}

static void
s_teardown (void)
{
    if (s_tmux_up) {
        h_io_t io = { 0 };
        h_run (&io, 10000, "/bin/sh", "-c", s_tmux_command ("kill-server"), NULL);
        s_tmux_up = false;
    }
    h_teardown ();
}

//  Runs command in a fresh 80 x 30 terminal; the pane stays when it ends.
static void
s_tmux_start (const char *command)
{
    s_tmux_up = true;
    s_result_t r = s_sh (s_tmux_command (h_strf ("new-session -d -x 80 -y 30 "
                                                 "\"%s; sleep 600\"", command)));
    cr_assert_eq (r.code, 0, "tmux: %s", r.err);
}

//  What the terminal shows, wrapped lines joined (so that a line wider
//  than the terminal shows as one long line).
static char *
s_screen (void)
{
    s_result_t r = s_sh (s_tmux_command ("capture-pane -p -J"));
    cr_assert_eq (r.code, 0, "tmux capture-pane: %s", r.err);
    return r.out;
}

//  Columns of the widest line of a screen (UTF-8: one per character).
static int
s_widest (const char *screen, char *line_out, size_t size)
{
    int widest = 0, col = 0;
    const char *start = screen;
    for (const char *p = screen; ; p++) {
        if (*p == '\n' || !*p) {
            if (col > widest) {
                widest = col;
                snprintf (line_out, size, "%.*s", (int) (p - start), start);
            }
            if (!*p)
                break;
            col = 0;
            start = p + 1;
        }
        else
        if (((unsigned char) *p & 0xC0) != 0x80)
            col++;
    }
    return widest;
}

//  Polls the screen until it holds every one of the texts (NULL-ended),
//  for up to timeout_ms; returns the screen that did, or fails the test.
static char *
s_screen_wait (int timeout_ms, const char *what, ...)
{
    int64_t deadline = h_now_ms () + timeout_ms;
    char *screen = NULL;
    while (true) {
        screen = s_screen ();
        bool all = true;
        va_list args;
        va_start (args, what);
        for (const char *text = what; text; text = va_arg (args, const char *))
            if (!strstr (screen, text))
                all = false;
        va_end (args);
        if (all)
            return screen;
        cr_assert (h_now_ms () < deadline, "the terminal never showed '%s' (and the rest) "
                   "in %d ms; it shows:\n%s", what, timeout_ms, screen);
        h_sleep_ms (200);
    }
}

//  ---------------------------------------------------------------------
//  zmr-monitor on a terminal (item 11)

Test (test_terminal, monitor_says_what_it_waits_for_before_a_job)
{
    const char *endpoint = h_strf ("ipc://%s/status", h_dir ());
    s_tmux_start (h_strf ("%s/zmr-monitor %s", ZMR_BIN_DIR, endpoint));
    //  What it waits for, and that no job is there yet: not a blank screen.
    char *screen = s_screen_wait (30000, "waiting for the status at", endpoint,
                                  "no job has published there yet", NULL);
    char line[256];
    int widest = s_widest (screen, line, sizeof line);
    cr_assert_leq (widest, 80, "a line of %d columns: '%s'", widest, line);
    //  Narrowed to 40 columns (SIGWINCH): redrawn to fit, each line cut, so
    //  every row starts as the view's lines do (tmux's reflow of the old
    //  80-column lines would start rows in the middle of a sentence).
    s_result_t r = s_sh (s_tmux_command ("resize-window -x 40 -y 30"));
    cr_assert_eq (r.code, 0, "tmux resize-window: %s", r.err);
    int64_t deadline = h_now_ms () + 30000;
    while (true) {
        r = s_sh (s_tmux_command ("capture-pane -p"));
        cr_assert_eq (r.code, 0, "tmux capture-pane: %s", r.err);
        bool redrawn = strstr (r.out, "zmr-monitor: waiting") != NULL;
        for (const char *row = r.out; redrawn && *row; ) {
            redrawn = *row == '\n' || !strncmp (row, "  ", 2)
                   || !strncmp (row, "zmr-monitor: ", 13);
            const char *next = strchr (row, '\n');
            row = next? next + 1: row + strlen (row);
        }
        if (redrawn)
            break;
        cr_assert (h_now_ms () < deadline, "not redrawn at 40 columns:\n%s", r.out);
        h_sleep_ms (200);
    }
}

//  Sends sig to every zmr-mapper child of zmr run; returns how many.
static int
s_signal_mappers (pid_t zmr, int sig)
{
    pid_t children[64];
    size_t n = h_children_of (zmr, children, 64);
    int sent = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *comm = h_read (h_strf ("/proc/%d/comm", (int) children[i]), &len);
        if (comm && !strncmp (comm, "zmr-mapper", 10) && kill (children[i], sig) == 0)
            sent++;
    }
    return sent;
}

Test (test_terminal, monitor_fits_80_columns_and_raises_no_alarm_for_a_batch_job)
{
    const char *endpoint = h_strf ("ipc://%s/status", h_dir ());
    s_tmux_start (h_strf ("%s/zmr-monitor %s", ZMR_BIN_DIR, endpoint));
    //  A batch job of many chunks: the ventilator has more chunks than the
    //  mappers have room for (what the old view called BACKPRESSURED) for
    //  as long as it maps. Once the monitor shows it mapping, its mappers
    //  are stopped (and --dead-ms keeps them from being declared dead), so
    //  it maps for as long as the test looks, however fast the machine.
    const char *env[] = { h_strf ("TMPDIR=%s", h_dir ()), NULL };
    h_io_t io = { .env = env };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-m", "2", "-r", "2",
                          "--chunk-size", "16K", "--map-cost", "3000", "--dead-ms", "600000",
                          "--status", endpoint, "-o", h_path ("out.tsv"), h_kjv (), NULL);
    //  Three screens of the job while it maps: each line fits, no alarm.
    int seen = 0, stopped = 0;
    int64_t deadline = h_now_ms () + 180000;
    while (seen < 3) {
        char *screen = s_screen ();
        cr_assert (h_running (zmr), "the job ended before the monitor was seen 3 times "
                   "(%d):\n%s", seen, screen);
        cr_assert (h_now_ms () < deadline, "the monitor did not show the job mapping 3 times "
                   "in 180 s (%d); it shows:\n%s", seen, screen);
        if (strstr (screen, "  mapping  ") && strstr (screen, "mapper ")) {
            if (!stopped)
                stopped = s_signal_mappers (zmr, SIGSTOP);
            seen++;
            char line[256];
            int widest = s_widest (screen, line, sizeof line);
            cr_assert_leq (widest, 80, "a line of %d columns: '%s'\n%s", widest, line, screen);
            cr_assert_null (strstr (screen, "BACKPRESSURED"), "%s", screen);
            cr_assert_null (strstr (screen, "backpressure"),
                            "backpressure shown for a batch job:\n%s", screen);
            cr_assert_not_null (strstr (screen, " distinct "), "%s", screen);
        }
        h_sleep_ms (300);
    }
    s_signal_mappers (zmr, SIGCONT);
    kill (zmr, SIGINT);
    h_wait (zmr, 60000, "zmr run after SIGINT");
}

Test (test_terminal, monitor_shows_backpressure_for_a_stream_held_back)
{
    const char *endpoint = h_strf ("ipc://%s/status", h_dir ());
    s_tmux_start (h_strf ("%s/zmr-monitor %s", ZMR_BIN_DIR, endpoint));
    //  A stream written faster than slow mappers count it: its writer is
    //  held back, which is worth saying (in words, not as an alarm).
    char *fifo = h_fifo ("in.fifo");
    const char *env[] = { h_strf ("TMPDIR=%s", h_dir ()), NULL };
    h_io_t io = { .stdin_path = fifo, .stdout_path = h_path ("follow.out"), .env = env };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--stream", "--no-progress", "-m", "1", "-r", "1",
                          "--map-cost", "3000", "--status", endpoint, NULL);
    h_feed_start (fifo, h_kjv (), 1 << 20, 0, 64ull << 20);
    char *screen = s_screen_wait (120000, "input waits for the pipeline (backpressure)",
                                  "read so far", NULL);
    char line[256];
    int widest = s_widest (screen, line, sizeof line);
    cr_assert_leq (widest, 80, "a line of %d columns: '%s'\n%s", widest, line, screen);
    cr_assert_null (strstr (screen, "BACKPRESSURED"), "%s", screen);
    h_feed_stop ();
    kill (zmr, SIGINT);
    h_wait (zmr, 60000, "zmr run after SIGINT");
}

Test (test_terminal, monitor_help_says_it_connects)
{
    //  The monitor only connects: --require-curve refuses to connect in the
    //  clear, there is nothing it would bind.
    s_result_t r = s_sh (h_strf ("%s/zmr-monitor --help | grep -A1 -e --require-curve",
                                 ZMR_BIN_DIR));
    cr_assert_eq (r.code, 0, "no --require-curve in the help: %s", r.err);
    cr_assert (strstr (r.out, "connect") && !strstr (r.out, "bind"), "%s", r.out);
}

//  Every program's --help fits an 80-column terminal, and no option's
//  description is glued to its name with a single space (a reader, or
//  help2man making the man pages, takes it for part of the name).
Test (test_terminal, every_help_fits_80_columns_with_options_apart)
{
    const char *programs[] = { "zmr run", "zmr keygen", "zmr-ventilator", "zmr-mapper",
                               "zmr-reducer", "zmr-sink", "zmr-monitor" };
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        s_result_t r = s_sh (h_strf ("%s/%s --help | awk 'length($0) > 80 "
                                     "|| /^  (-[a-zA-Z], |    )--[a-z-]+(=[A-Z:\\/]+)? [^ ]/'",
                                     ZMR_BIN_DIR, programs[i]));
        cr_assert_eq (r.code, 0, "%s --help: %s", programs[i], r.err);
        cr_assert_str_empty (r.out, "%s --help: lines over 80 columns or glued to their "
                             "option:\n%s", programs[i], r.out);
    }
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

//  ---------------------------------------------------------------------
//  --config errors (item 15)

//  A usage error as STYLE.md has it: exit 2, the reason on one line holding
//  what, then the "Try" hint, nothing else.
static void
s_assert_usage (s_result_t r, const char *what, const char *about)
{
    cr_assert_eq (r.code, 2, "%s: exit %d, not 2 (stderr: %s)", about, r.code, r.err);
    cr_assert_eq (r.err_lines, 2, "%s: %d lines on stderr:\n%s", about, r.err_lines, r.err);
    char *hint = strstr (r.err, "\nTry '");
    cr_assert_not_null (hint, "%s: no hint: %s", about, r.err);
    *hint = 0;
    cr_assert_not_null (strstr (r.err, what), "%s: '%s' not said: %s", about, what, r.err);
}

Test (test_terminal, config_errors_name_the_file_and_line_or_the_reason)
{
    char *input = h_write ("in.txt", "b a b\n", 6);
    const char bad[] = "# a job\nreducers = 1\nmappers = 0\n";
    char *conf = h_write ("run.conf", bad, sizeof bad - 1);
    s_assert_usage (s_sh (h_strf ("%s/zmr run --config %s %s", ZMR_BIN_DIR, conf, input)),
                    h_strf ("zmr: %s:3: option --mappers", conf), "mappers = 0");
    //  The same for another program's value (the monitor's --wait-ms).
    const char wait[] = "wait-ms = 0   # never\n";
    conf = h_write ("monitor.conf", wait, sizeof wait - 1);
    s_assert_usage (s_sh (h_strf ("%s/zmr-monitor --config=%s ipc://%s/status", ZMR_BIN_DIR,
                                  conf, h_dir ())),
                    h_strf ("zmr-monitor: %s:1: option --wait-ms", conf), "wait-ms = 0");
    //  A file that cannot be read says why.
    s_assert_usage (s_sh (h_strf ("%s/zmr run --config %s %s", ZMR_BIN_DIR, h_dir (), input)),
                    "is a directory", "a directory");
    s_assert_usage (s_sh (h_strf ("%s/zmr run --config %s/none.conf %s", ZMR_BIN_DIR, h_dir (),
                                  input)),
                    "No such file or directory", "a missing file");
    //  A mistake in the file itself: FILE:LINE too.
    const char typo[] = "mapers = 2\n";
    conf = h_write ("typo.conf", typo, sizeof typo - 1);
    s_assert_usage (s_sh (h_strf ("%s/zmr run --config %s %s", ZMR_BIN_DIR, conf, input)),
                    h_strf ("%s:1: unknown option 'mapers'", conf), "a typo");
    //  Two files: said so, not "unknown option '--config'".
    s_assert_usage (s_sh (h_strf ("%s/zmr run --config %s --config=%s %s", ZMR_BIN_DIR, conf,
                                  conf, input)),
                    "option --config given twice", "two --config");
}

Test (test_terminal, config_takes_a_comment_after_a_value)
{
    char *input = h_write ("in.txt", "b a b\n", 6);
    const char good[] = "mappers = 1   # one is enough\nreducers = 1 # and one\n"
                        "no-progress\t# a flag\n";
    char *conf = h_write ("run.conf", good, sizeof good - 1);
    char *out = h_path ("out.tsv");
    s_result_t r = s_sh (h_strf ("%s/zmr run --config %s -o %s %s", ZMR_BIN_DIR, conf, out,
                                 input));
    cr_assert_eq (r.code, 0, "exit %d: %s", r.code, r.err);
    size_t len;
    char *result = h_read (out, &len);
    cr_assert_str_eq (result, "b\t2\na\t1\n");
}
