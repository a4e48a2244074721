/*  Issue 17, item 1: latency by default. The live views (--follow,
    --publish, --snapshot) coalesce changes only while there is more to
    wait for: a change after a quiet time goes out at once, and a change
    held back because its word (or the snapshot) went out a moment ago goes
    out once the interval is over, without needing a later event. And
    under a heavy stream a word's --follow lines stay bounded by the job's
    elapsed time over the default interval, as with a coalescing clock.

    Every run uses the DEFAULT timings (no --follow-ms, --flush-ms,
    --live-ms, --snapshot-ms). No test asserts a time: waits are for
    events, with a generous bound (30 s) that only a view that never shows
    the change can reach; the line bound is computed from the job's own
    wall time (--stats). Counts are checked against the shell reference of
    harness.c, and TOTALS are read by a decoder of their bytes written here
    (not zmr_msg). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "harness.h"
#include "zmr_live.h"

static void
s_init (void)
{
    h_setup ();
    //  A writer whose reader died gets EPIPE, not a signal.
    signal (SIGPIPE, SIG_IGN);
}

TestSuite (latency_defaults, .init = s_init, .fini = h_teardown, .timeout = 280);

//  How long a view may take to show a change before the test says it never
//  will (a bound on a wait, not a latency: those are bench figures).
#define S_SHOW_BOUND 30000
#define S_JOB_BOUND 120000
//  Probe lines written in the burst, each its own write, 2 ms apart: for a
//  while the word keeps changing, so its last change is held back.
#define S_PROBES 200
//  zmr's default --follow-ms, which the line bound is computed with.
#define S_DEFAULT_FOLLOW_MS 100

static const char *const *
s_env (void)
{
    static const char *env[2];
    env[0] = h_strf ("TMPDIR=%s", h_dir ());
    env[1] = NULL;
    return env;
}

//  Opens fifo for writing once its reader (zmr run) has it open, within
//  60 s. Returns a blocking descriptor.
static int
s_fifo_writer (const char *fifo)
{
    int64_t deadline = h_now_ms () + 60000;
    int fd = -1;
    while (fd < 0 && h_now_ms () < deadline) {
        fd = open (fifo, O_WRONLY | O_NONBLOCK);
        if (fd < 0)
            h_sleep_ms (5);
    }
    cr_assert_geq (fd, 0, "nobody opened %s for reading within 60 s", fifo);
    cr_assert_eq (fcntl (fd, F_SETFL, 0), 0);
    return fd;
}

static void
s_write_all (int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write (fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert_gt (n, 0, "write to the stream: %s", strerror (errno));
        data += n;
        len -= (size_t) n;
    }
}

//  The total of word on the last "word<TAB>total" line of path that names
//  it (whole lines only: a --follow file, or a snapshot); 0 if none.
static uint64_t
s_file_total (const char *path, const char *word)
{
    size_t len, wlen = strlen (word);
    char *text = h_read (path, &len);
    if (!text)
        return 0;
    uint64_t total = 0;
    char *at = text, *end = text + len;
    while (at < end) {
        char *nl = memchr (at, '\n', (size_t) (end - at));
        if (!nl)
            break;              //  A line being written
        if ((size_t) (nl - at) > wlen && !memcmp (at, word, wlen) && at[wlen] == '\t')
            total = strtoull (at + wlen + 1, NULL, 10);
        at = nl + 1;
    }
    h_release (text);
    return total;
}

//  --publish's view, read from the raw TOTALS bytes: the total after the
//  MessagePack bin of word, if the message names it (a uint of any width).
static bool
s_totals_pair (const unsigned char *data, size_t size, const char *word, uint64_t *total)
{
    size_t wlen = strlen (word);
    unsigned char key[2 + 64];
    cr_assert (wlen < 64);
    key[0] = 0xc4;              //  bin 8
    key[1] = (unsigned char) wlen;
    memcpy (key + 2, word, wlen);
    const unsigned char *hit = memmem (data, size, key, wlen + 2);
    if (!hit)
        return false;
    const unsigned char *v = hit + wlen + 2, *end = data + size;
    cr_assert_lt (v, end, "a TOTALS pair without its total");
    int width = *v < 0x80? 0: *v == 0xcc? 1: *v == 0xcd? 2: *v == 0xce? 4: *v == 0xcf? 8: -1;
    cr_assert_geq (width, 0, "a TOTALS total that is not a uint (0x%02x)", *v);
    cr_assert_leq (v + 1 + width, end);
    if (width == 0) {
        *total = *v;
        return true;
    }
    *total = 0;
    for (int i = 0; i < width; i++)
        *total = *total << 8 | v[1 + i];
    return true;
}

typedef enum { S_FOLLOW, S_SNAPSHOT, S_PUBLISH } s_view_t;

typedef struct {
    s_view_t view;
    const char *path;           //  --follow's stdout or the snapshot
    void *ctx, *sub;            //  --publish's subscriber
    uint64_t published;         //  Latest published total of the word watched
} s_watch_t;

//  Waits, up to S_SHOW_BOUND, for the view to show word's total as want.
//  Returns what it showed last.
static uint64_t
s_wait_total (s_watch_t *watch, const char *word, uint64_t want)
{
    uint64_t shown = 0;
    int64_t deadline = h_now_ms () + S_SHOW_BOUND;
    while (shown != want && h_now_ms () < deadline) {
        if (watch->view == S_PUBLISH) {
            zmq_msg_t frame;
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, watch->sub, 0) >= 0)
                s_totals_pair (zmq_msg_data (&frame), zmq_msg_size (&frame), word, &shown);
            zmq_msg_close (&frame);
        }
        else {
            h_sleep_ms (10);
            shown = s_file_total (watch->path, word);
        }
    }
    return shown;
}

//  A stream with pauses at default settings, the input held open all
//  along: a first line after a quiet start (its count goes out at once, no
//  clock tick needed), then a burst of changes of one word, then nothing.
//  The burst's last change was held back (its word went out moments
//  before): it must still come out with no later event, input still open.
static void
s_probe (s_view_t view)
{
    const char *names[] = { "--follow", "--snapshot", "--publish" };
    char *fifo = h_fifo ("in");
    char *output = h_path ("out.txt");
    char *follow = h_path ("follow.txt"), *snapshot = h_path ("snapshot.txt");
    char *endpoint = h_strf ("ipc://%s/totals", h_dir ());
    s_watch_t watch = { .view = view, .path = view == S_FOLLOW? follow: snapshot };
    if (view == S_PUBLISH) {
        watch.ctx = zmq_ctx_new ();
        watch.sub = zmq_socket (watch.ctx, ZMQ_SUB);
        int64_t max = 64 << 20;
        int ivl = 10, timeout = 100, linger = 0;
        zmq_setsockopt (watch.sub, ZMQ_MAXMSGSIZE, &max, sizeof max);
        zmq_setsockopt (watch.sub, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt (watch.sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        zmq_setsockopt (watch.sub, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt (watch.sub, ZMQ_SUBSCRIBE, "", 0);
        cr_assert_eq (zmq_connect (watch.sub, endpoint), 0);
    }
    h_io_t io = { .stdin_path = fifo, .stdout_path = follow,
                  .stderr_path = h_path ("zmr.err"), .env = s_env () };
    pid_t zmr = view == S_FOLLOW
        ? h_spawnl (&io, "zmr", "run", "--no-progress", "--follow", "-o", output, NULL)
        : view == S_SNAPSHOT
        ? h_spawnl (&io, "zmr", "run", "--no-progress", "--snapshot", snapshot,
                    "-o", output, NULL)
        : h_spawnl (&io, "zmr", "run", "--no-progress", "--publish", endpoint,
                    "-o", output, NULL);
    int fd = s_fifo_writer (fifo);

    //  One line after a quiet start (for --publish, also: the subscriber
    //  is connected once it shows).
    s_write_all (fd, "warm\n", 5);
    uint64_t shown = s_wait_total (&watch, "warm", 1);
    cr_assert_eq (shown, 1, "%s did not show a line written after a quiet start "
                  "within %d s (input open)", names[view], S_SHOW_BOUND / 1000);

    for (int i = 0; i < S_PROBES; i++) {
        s_write_all (fd, "probe\n", 6);
        h_sleep_ms (2);
    }
    //  Nothing more is written; the input stays open.
    shown = s_wait_total (&watch, "probe", S_PROBES);
    cr_assert_eq (shown, S_PROBES, "%s showed probe %llu, not its total %d, within %d s "
                  "after the last change (input open, nothing written since)",
                  names[view], (unsigned long long) shown, S_PROBES, S_SHOW_BOUND / 1000);
    cr_assert (h_running (zmr), "zmr run ended while its input was open");

    close (fd);
    int code = h_exit_code (h_wait (zmr, S_JOB_BOUND, "zmr run"));
    cr_assert_eq (code, 0, "zmr run exited %d", code);
    if (view == S_PUBLISH) {
        zmq_close (watch.sub);
        zmq_ctx_term (watch.ctx);
    }
    //  And the result is the reference of what was sent.
    size_t len = 5 + 6 * S_PROBES;
    char *sent = h_alloc (len + 1);
    memcpy (sent, "warm\n", 5);
    for (int i = 0; i < S_PROBES; i++)
        memcpy (sent + 5 + 6 * i, "probe\n", 6);
    h_counts_t ref;
    h_reference_file (h_write ("sent.txt", sent, len), &ref);
    h_assert_result (output, &ref);
}

Test (latency_defaults, follow_shows_a_held_change_with_no_later_event)
{
    s_probe (S_FOLLOW);
}

Test (latency_defaults, snapshot_shows_a_held_change_with_no_later_event)
{
    s_probe (S_SNAPSHOT);
}

Test (latency_defaults, publish_sends_a_held_change_with_no_later_event)
{
    s_probe (S_PUBLISH);
}

typedef struct {
    const char *word;
    size_t len;
    size_t seq;
    uint64_t total;
} s_line_t;

static int
s_line_order (const void *a, const void *b)
{
    const s_line_t *x = a, *y = b;
    size_t n = x->len < y->len? x->len: y->len;
    int cmp = memcmp (x->word, y->word, n);
    if (cmp)
        return cmp;
    if (x->len != y->len)
        return x->len < y->len? -1: 1;
    return x->seq < y->seq? -1: x->seq > y->seq;
}

//  A heavy stream (3 MB of text, in 8 KiB writes 4 ms apart)
//  with --follow at default settings: no word gets more lines than a
//  coalescing clock of the default interval would give it over the job's
//  own wall time, plus a line at once at its start and the final one; and
//  the last line of each word is its total.
Test (latency_defaults, follow_lines_under_a_heavy_stream_stay_bounded_by_the_interval)
{
    char *text = h_kjv_slice ("in.txt", 3000000);
    h_counts_t ref;
    h_reference_file (text, &ref);
    char *fifo = h_fifo ("in");
    //  About 2 MB/s: a stream of a second or more, whatever the machine,
    //  in which the frequent words change in every UPDATE.
    h_feed_start (fifo, text, 8192, 4, 3000000);
    char *follow = h_path ("follow.txt"), *err = h_path ("zmr.err");
    h_io_t io = { .stdin_path = fifo, .stdout_path = follow, .stderr_path = err,
                  .env = s_env () };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "--follow", "--stats",
                          "-o", h_path ("out.txt"), NULL);
    int code = h_exit_code (h_wait (zmr, S_JOB_BOUND, "zmr run"));
    cr_assert_eq (code, 0, "zmr run --follow exited %d", code);
    h_feed_stop ();

    size_t len;
    char *stats = h_read (err, &len);
    cr_assert_not_null (stats);
    char *at = strstr (stats, "wall_ms=");
    cr_assert_not_null (at, "no wall_ms in --stats' line: %s", stats);
    uint64_t wall_ms = strtoull (at + 8, NULL, 10);
    cr_assert_gt (wall_ms, 0);
    uint64_t bound = wall_ms / S_DEFAULT_FOLLOW_MS + 3;

    char *lines = h_read (follow, &len);
    cr_assert_not_null (lines);
    size_t n = 0, cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += lines[i] == '\n';
    s_line_t *all = h_alloc (cap * sizeof *all);
    for (char *p = lines, *end = lines + len; p < end; ) {
        char *nl = memchr (p, '\n', (size_t) (end - p));
        cr_assert_not_null (nl, "a --follow line cut short at the end");
        char *tab = memrchr (p, '\t', (size_t) (nl - p));
        cr_assert_not_null (tab, "a --follow line without a tab");
        all[n] = (s_line_t) { p, (size_t) (tab - p), n, strtoull (tab + 1, NULL, 10) };
        n++;
        p = nl + 1;
    }
    qsort (all, n, sizeof *all, s_line_order);
    //  Per word: its lines (runs in the sorted order) and its last total.
    h_counts_t latest = { .pairs = h_alloc ((n + 1) * sizeof (h_pair_t)) };
    size_t most = 0, most_at = 0;
    for (size_t i = 0, run = 1; i < n; i++, run++) {
        bool last = i + 1 == n || all[i + 1].len != all[i].len
                 || memcmp (all[i + 1].word, all[i].word, all[i].len);
        if (!last)
            continue;
        if (run > most) {
            most = run;
            most_at = i;
        }
        latest.pairs[latest.n++] = (h_pair_t) { (const unsigned char *) all[i].word,
                                                all[i].len, all[i].total };
        run = 0;
    }
    cr_assert_leq (most, bound, "%s has %zu --follow lines in a job of %llu ms: more than "
                   "%llu (%llu ms / %d ms + 3)", h_show ((const unsigned char *) all[most_at].word,
                   all[most_at].len), most, (unsigned long long) wall_ms,
                   (unsigned long long) bound, (unsigned long long) wall_ms,
                   S_DEFAULT_FOLLOW_MS);
    char why[512];
    cr_assert_eq (h_counts_compare (&latest, &ref, why, sizeof why), 0,
                  "the last --follow line of each word is not its total: %s", why);
    //  The stream was heavy enough for the bound to bite: some word
    //  changed in more UPDATEs than the bound (it had lines to hold back).
    cr_assert_gt (most, 2, "no word had more than 2 lines: not a heavy stream");
}

//  zmr_live's coalescing per word, on a clock of the test's making: a
//  word's lines are at least the interval apart, a word changed after a
//  quiet interval goes out in the next drain, and once every word is due
//  the last total given of each is its latest. Checked against what the
//  test set, step by step, not against a second copy of the rule.
typedef struct {
    int64_t now;
    int64_t last[8];            //  When each word was last given, -1: never
    uint64_t given[8];          //  Its last total given
    int count;
} s_log_t;

static int
s_given (const char *word, uint32_t len, uint64_t total, void *arg)
{
    s_log_t *log = arg;
    cr_assert_eq (len, 2);
    int w = word[1] - '0';
    cr_assert (log->last[w] < 0 || log->now - log->last[w] >= 100,
               "word %d given again after %lld ms", w, (long long) (log->now - log->last[w]));
    log->last[w] = log->now;
    log->given[w] = total;
    log->count++;
    return 0;
}

Test (latency_defaults, live_coalesces_per_word)
{
    zmr_live_t *live = zmr_live_new (1);
    cr_assert_not_null (live);
    s_log_t log = { .now = 1000 };
    for (int w = 0; w < 8; w++)
        log.last[w] = -1;
    uint64_t latest[8] = { 0 };
    unsigned seed = 17;
    cr_assert_eq (zmr_live_due (live, 100), INT64_MAX, "nothing changed, yet something is due");
    for (int step = 0; step < 2000; step++) {
        log.now += rand_r (&seed) % 30;
        int w = rand_r (&seed) % 8;
        char word[3] = { 'w', (char) ('0' + w), 0 };
        bool quiet = log.last[w] < 0 || log.now - log.last[w] >= 100;
        latest[w]++;
        cr_assert_eq (zmr_live_set (live, word, 2, latest[w]), 0);
        int64_t due = zmr_live_due (live, 100);
        if (quiet)
            cr_assert_leq (due, log.now, "a word changed after a quiet interval is not due");
        if (due <= log.now)
            cr_assert_eq (zmr_live_drain_due (live, log.now, 100, s_given, &log), 0);
        if (quiet)
            cr_assert_eq (log.last[w], log.now, "a word changed after a quiet interval "
                          "did not go out at once");
        //  What is held is due no later than its interval's end.
        due = zmr_live_due (live, 100);
        for (int v = 0; v < 8; v++)
            if (log.given[v] != latest[v])
                cr_assert_leq (due, log.last[v] + 100);
    }
    log.now += 100;
    int64_t due = zmr_live_due (live, 100);
    cr_assert (due <= log.now || due == INT64_MAX, "a held word is not due after its interval");
    cr_assert_eq (zmr_live_drain_due (live, log.now, 100, s_given, &log), 0);
    for (int w = 0; w < 8; w++)
        cr_assert_eq (log.given[w], latest[w], "word %d ended at %llu, not %llu", w,
                      (unsigned long long) log.given[w], (unsigned long long) latest[w]);
    cr_assert_eq (zmr_live_due (live, 100), INT64_MAX);
    cr_assert_eq (zmr_live_changed (live), 0);
    //  Far fewer lines than changes: the coalescing held back.
    cr_assert_lt (log.count, 2000);
    zmr_live_destroy (&live);
}
