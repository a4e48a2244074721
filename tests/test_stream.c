/*  Issue 5: streaming word count. Text that keeps coming through a FIFO,
    running totals visible while the input is still open (--follow,
    --snapshot, --publish, the status), exact totals at the end of input,
    mappers killed and added mid-stream, and a writer held back when the
    pipeline is full. Every count is checked against the shell reference
    (harness.c) of exactly the text sent so far. A stream that must still
    be open at some point is held open by the test there, whatever the
    machine's speed (issue 13); waits are for events, with bounds sized for
    a loaded sanitizer build. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "harness.h"
#include "zmr.h"

static void
s_init (void)
{
    h_setup ();
    //  A writer whose reader died gets EPIPE, not a signal.
    signal (SIGPIPE, SIG_IGN);
}

TestSuite (stream, .init = s_init, .fini = h_teardown, .timeout = 280);

#define S_EVENT_TIMEOUT 120000

//  The first bytes of the King James Bible up to the end of the line that
//  holds byte `near`, as a file: a stream's prefix that ends at whitespace.
static char *
s_prefix (const char *name, size_t near, size_t *len)
{
    size_t total;
    char *text = h_read (h_kjv (), &total);
    cr_assert_not_null (text);
    cr_assert (near < total);
    char *nl = memchr (text + near, '\n', total - near);
    cr_assert_not_null (nl);
    *len = (size_t) (nl - text) + 1;
    char *path = h_write (name, text, *len);
    h_release (text);
    return path;
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

typedef struct {
    h_pair_t pair;
    size_t seq;
} s_line_t;

static int
s_line_order (const void *a, const void *b)
{
    const s_line_t *x = a, *y = b;
    size_t n = x->pair.len < y->pair.len? x->pair.len: y->pair.len;
    int cmp = memcmp (x->pair.word, y->pair.word, n);
    if (cmp)
        return cmp;
    if (x->pair.len != y->pair.len)
        return x->pair.len < y->pair.len? -1: 1;
    return x->seq < y->seq? -1: x->seq > y->seq;
}

//  The running totals as a follower sees them: of the "word<TAB>total"
//  lines of path, the last one of each word.
static void
s_latest (const char *path, h_counts_t *out)
{
    size_t len;
    char *text = h_read (path, &len);
    memset (out, 0, sizeof *out);
    if (!text)
        return;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    s_line_t *all = h_alloc ((lines + 1) * sizeof *all);
    size_t n = 0;
    char *at = text, *end = text + len;
    while (at < end) {
        char *nl = memchr (at, '\n', (size_t) (end - at));
        if (!nl)
            break;              //  A line being written: not yet a line
        char *tab = memrchr (at, '\t', (size_t) (nl - at));
        cr_assert_not_null (tab, "a line without a tab in %s", path);
        all[n].pair.word = (const unsigned char *) at;
        all[n].pair.len = (size_t) (tab - at);
        all[n].pair.count = strtoull (tab + 1, NULL, 10);
        all[n].seq = n;
        n++;
        at = nl + 1;
    }
    qsort (all, n, sizeof *all, s_line_order);
    out->pairs = h_alloc ((n + 1) * sizeof *out->pairs);
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || all[i + 1].pair.len != all[i].pair.len
        ||  memcmp (all[i + 1].pair.word, all[i].pair.word, all[i].pair.len))
            out->pairs[out->n++] = all[i].pair;
    out->buf = text;
    h_release (all);
}

//  Whether the follower's latest totals are exactly ref; err says why not.
static bool
s_latest_is (const char *path, const h_counts_t *ref, char *err, size_t errlen)
{
    h_counts_t latest;
    s_latest (path, &latest);
    bool same = h_counts_compare (&latest, ref, err, errlen) == 0;
    h_counts_free (&latest);
    return same;
}

static const char *const *
s_env (void)
{
    static const char *env[2];
    env[0] = h_strf ("TMPDIR=%s", h_dir ());
    env[1] = NULL;
    return env;
}

//  --follow and --snapshot show, while the input is still open, the exact
//  counts of the text sent so far (the flush interval cuts it: it does not
//  wait for a 1 MiB chunk); after the end of input, the exact totals.
Test (stream, follow_and_snapshot_show_the_totals_while_the_input_is_open)
{
    size_t len1, len;
    char *part1 = s_prefix ("part1.txt", 150000, &len1);
    char *whole = s_prefix ("whole.txt", 400000, &len);
    h_counts_t ref1, ref;
    h_reference_file (part1, &ref1);
    h_reference_file (whole, &ref);
    char *text = h_read (whole, &len);

    char *fifo = h_fifo ("in");
    char *follow = h_path ("follow.txt"), *snapshot = h_path ("snapshot.txt");
    char *output = h_path ("out.txt");
    h_io_t io = { .stdin_path = fifo, .stdout_path = follow,
                  .stderr_path = h_path ("zmr.err"), .env = s_env () };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "--follow",
                          "--snapshot", snapshot, "-o", output, NULL);
    int fd = s_fifo_writer (fifo);
    s_write_all (fd, text, len1);

    //  The input stays open: both views must reach part 1's counts.
    char err[512] = "";
    bool follow_ok = false, snapshot_ok = false;
    int64_t deadline = h_now_ms () + S_EVENT_TIMEOUT;
    while (!(follow_ok && snapshot_ok) && h_now_ms () < deadline) {
        h_sleep_ms (50);
        follow_ok = follow_ok || s_latest_is (follow, &ref1, err, sizeof err);
        snapshot_ok = snapshot_ok || h_check_result (snapshot, &ref1, err, sizeof err) == 0;
    }
    cr_assert (follow_ok, "--follow never showed the counts of the text sent so far: %s", err);
    cr_assert (snapshot_ok, "--snapshot never held the counts of the text sent so far: %s", err);
    cr_assert (h_running (zmr), "zmr run ended while its input was open");

    s_write_all (fd, text + len1, len - len1);
    close (fd);
    int code = h_exit_code (h_wait (zmr, S_EVENT_TIMEOUT, "zmr run"));
    cr_assert_eq (code, 0, "zmr run --follow exited %d", code);
    h_assert_result (output, &ref);
    h_assert_result (snapshot, &ref);
    cr_assert (s_latest_is (follow, &ref, err, sizeof err),
               "the last --follow line of each word is not its total: %s", err);
    h_release (text);
}

//  --publish: TOTALS messages while the job runs, and at the end every
//  total once more, the last message marked final; a subscriber that keeps
//  the last total of each word ends with the exact result.
Test (stream, publish_sends_running_totals_and_ends_with_a_final_set)
{
    size_t len;
    char *whole = s_prefix ("whole.txt", 600000, &len);
    h_counts_t ref;
    h_reference_file (whole, &ref);
    char *endpoint = h_strf ("ipc://%s/totals", h_dir ());

    void *ctx = zmq_ctx_new ();
    void *sub = zmq_socket (ctx, ZMQ_SUB);
    int64_t max = 64 << 20;
    int ivl = 10, timeout = 100, linger = 0;
    zmq_setsockopt (sub, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt (sub, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt (sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt (sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    cr_assert_eq (zmq_connect (sub, endpoint), 0);

    char *fifo = h_fifo ("in");
    h_feed_start (fifo, whole, 8192, 10, len);
    char *output = h_path ("out.txt");
    h_io_t io = { .stdin_path = fifo, .stderr_path = h_path ("zmr.err"), .env = s_env () };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "--publish", endpoint,
                          "-o", output, NULL);

    //  The totals received, as "word<TAB>total" lines in arrival order.
    char *received = h_path ("received.txt");
    FILE *lines = fopen (received, "w");
    cr_assert_not_null (lines);
    size_t updates = 0;
    bool final = false;
    int64_t deadline = h_now_ms () + S_EVENT_TIMEOUT;
    while (!final && h_now_ms () < deadline) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, sub, 0) < 0) {
            zmq_msg_close (&frame);
            continue;
        }
        zmr_msg_t msg;
        const char *why;
        cr_assert_eq (zmr_msg_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &msg, &why),
                      0, "a published message does not decode: %s", why);
        cr_assert_eq (msg.type, ZMR_TOTALS);
        final = msg.flag;
        if (!final)
            updates++;
        const char *word;
        uint32_t wlen;
        uint64_t total;
        while (zmr_msg_next_pair (&msg, &word, &wlen, &total)) {
            fwrite (word, 1, wlen, lines);
            fprintf (lines, "\t%llu\n", (unsigned long long) total);
        }
        zmq_msg_close (&frame);
    }
    fclose (lines);
    zmq_close (sub);
    zmq_ctx_term (ctx);
    cr_assert (final, "no final TOTALS within %d s", S_EVENT_TIMEOUT / 1000);
    int code = h_exit_code (h_wait (zmr, S_EVENT_TIMEOUT, "zmr run"));
    cr_assert_eq (code, 0);
    h_feed_stop ();
    //  The feeder paces ~0.8 MB/s: the job ran long enough for updates.
    cr_assert_geq (updates, 2, "only %zu TOTALS before the final set", updates);
    char err[512];
    cr_assert (s_latest_is (received, &ref, err, sizeof err),
               "the published totals are not the result: %s", err);
    h_assert_result (output, &ref);
}

//  Reads an unsigned number after "key": in a JSON line; 0 if absent.
static uint64_t
s_json_u64 (const char *line, const char *key)
{
    char *needle = h_strf ("\"%s\":", key);
    const char *at = strstr (line, needle);
    return at? strtoull (at + strlen (needle), NULL, 10): 0;
}

typedef struct {
    char word[64];
    uint64_t count;
} s_top_t;

//  The "top" list of a status line (words without quotes or backslashes,
//  as in the King James Bible). Returns how many.
static size_t
s_json_top (const char *line, s_top_t *top, size_t max)
{
    const char *at = strstr (line, "\"top\":[");
    cr_assert_not_null (at, "no top list in the status");
    at += 7;
    size_t n = 0;
    while (n < max && !strncmp (at, "{\"word\":\"", 9)) {
        at += 9;
        const char *quote = strchr (at, '"');
        cr_assert_not_null (quote);
        snprintf (top[n].word, sizeof top[n].word, "%.*s", (int) (quote - at), at);
        at = quote + 1;
        cr_assert (!strncmp (at, ",\"count\":", 9));
        top[n].count = strtoull (at + 9, (char **) &at, 10);
        cr_assert_eq (*at, '}');
        at++;
        n++;
        if (*at == ',')
            at++;
    }
    return n;
}

//  Result order of docs/design.md, for the reference.
static int
s_result_order (const void *a, const void *b)
{
    const h_pair_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count? -1: 1;
    size_t n = x->len < y->len? x->len: y->len;
    int cmp = memcmp (x->word, y->word, n);
    return cmp? cmp: (x->len > y->len) - (x->len < y->len);
}

//  The status of a streaming job carries the latency from text in to count
//  visible (p50 <= p99, over real samples) while it runs, and the top words,
//  which at the end are the reference's ten most frequent, in order.
Test (stream, the_status_shows_latency_and_the_top_words)
{
    size_t len;
    char *whole = s_prefix ("whole.txt", 800000, &len);
    h_counts_t ref;
    h_reference_file (whole, &ref);
    char *status = h_strf ("ipc://%s/st", h_dir ());
    char *monitor_out = h_path ("monitor.json");
    char *fifo = h_fifo ("in");
    //  About 2 s of text: several status periods (250 ms) while it runs.
    h_feed_start (fifo, whole, 4096, 10, len);
    h_io_t io = { .stdin_path = fifo, .stderr_path = h_path ("zmr.err"), .env = s_env () };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "--stream", "--status", status,
                          "-o", h_path ("out.txt"), NULL);
    h_io_t mon = { .stdout_path = monitor_out };
    pid_t monitor = h_spawnl (&mon, "zmr-monitor", "--json", status, NULL);
    cr_assert_eq (h_exit_code (h_wait (zmr, S_EVENT_TIMEOUT, "zmr run")), 0);
    h_wait (monitor, 30000, "the monitor");
    h_feed_stop ();

    size_t mlen;
    char *lines = h_read (monitor_out, &mlen);
    cr_assert_not_null (lines);
    bool measured_while_running = false;
    char *last = NULL;
    for (char *line = strtok (lines, "\n"); line; line = strtok (NULL, "\n")) {
        last = line;
        if (strstr (line, "\"phase\":\"mapping\"") && s_json_u64 (line, "latency_samples")) {
            measured_while_running = true;
            cr_assert_leq (s_json_u64 (line, "latency_p50_ms"),
                           s_json_u64 (line, "latency_p99_ms"));
        }
    }
    cr_assert (measured_while_running, "no status in phase mapping had latency samples");
    cr_assert_not_null (last);
    cr_assert (strstr (last, "\"phase\":\"done\""), "the monitor's last status is not done");

    qsort (ref.pairs, ref.n, sizeof *ref.pairs, s_result_order);
    s_top_t top[20];
    size_t n = s_json_top (last, top, 20);
    cr_assert_eq (n, ref.n < 10? ref.n: 10, "the top list has %zu words", n);
    for (size_t i = 0; i < n; i++) {
        cr_assert (strlen (top[i].word) == ref.pairs[i].len
                   && !memcmp (top[i].word, ref.pairs[i].word, ref.pairs[i].len),
                   "top word %zu is '%s', the reference's is %s", i, top[i].word,
                   h_show (ref.pairs[i].word, ref.pairs[i].len));
        cr_assert_eq (top[i].count, ref.pairs[i].count, "'%s'", top[i].word);
    }
}

static bool
s_chunks_done (const h_status_t *status, void *arg)
{
    return status->chunks_done >= *(uint64_t *) arg;
}

static bool
s_lists_alive (const h_status_t *status, void *arg)
{
    const h_worker_t *worker = h_status_worker (status, *(const long *) arg);
    return worker && !strcmp (worker->state, "alive");
}

//  Mid-stream, a mapper is killed -9 and another joins: the running totals
//  and the result stay exact, and the newcomer maps chunks. The stream is
//  held at half its text until both faults are done and the newcomer is
//  listed: it is still open then, however slow the processes are to start.
Test (stream, a_mapper_killed_and_one_added_mid_stream_keep_it_exact)
{
    size_t len;
    char *whole = s_prefix ("whole.txt", 600000, &len);
    h_counts_t ref;
    h_reference_file (whole, &ref);
    char *fifo = h_fifo ("in");
    h_feed_start_held (fifo, whole, 8192, 5, len, len / 2);
    h_job_t job;
    h_job_opts_t opts = { .mappers = 1, .delay_ms = 40, .live = true, .stdin_path = fifo };
    h_job_start (&job, "-", &opts);
    uint64_t some = 4;
    h_status_t status;
    cr_assert (h_status_wait (job.monitor_out, s_chunks_done, &some, S_EVENT_TIMEOUT, &status),
               "no chunk was done within %d s", S_EVENT_TIMEOUT / 1000);
    cr_assert_not (status.input_eof, "the stream ended before the faults");
    pid_t newcomer = h_job_add_mapper (&job, 0);
    cr_assert_eq (kill (job.mapper[0], SIGKILL), 0);
    long pid = newcomer;
    cr_assert (h_status_wait (job.monitor_out, s_lists_alive, &pid, S_EVENT_TIMEOUT, &status),
               "the new mapper was never listed alive");
    h_feed_limit (UINT64_MAX);
    h_job_wait_done (&job, S_EVENT_TIMEOUT, &status);
    h_feed_stop ();
    h_assert_result (job.output, &ref);
    char err[512];
    cr_assert (s_latest_is (job.follow_out, &ref, err, sizeof err),
               "the running totals are not the result: %s", err);
    const h_worker_t *added = h_status_worker (&status, (long) newcomer);
    cr_assert_not_null (added, "the new mapper is not in the status");
    cr_assert_gt (added->chunks, 0, "the new mapper mapped nothing");
}

typedef struct {
    int fd;
    const char *data;
    size_t len;
    size_t limit;
    atomic_size_t written;
} s_flood_t;

//  Writes data repeated, as fast as the reader takes it, up to limit bytes
//  or until the reader is gone.
static void *
s_flood (void *arg)
{
    s_flood_t *flood = arg;
    size_t at = 0;
    while (atomic_load (&flood->written) < flood->limit) {
        size_t piece = flood->len - at < 65536? flood->len - at: 65536;
        ssize_t n = write (flood->fd, flood->data + at, piece);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        atomic_fetch_add (&flood->written, (size_t) n);
        at = (at + (size_t) n) % flood->len;
    }
    close (flood->fd);
    return NULL;
}

static bool
s_backpressured (const char *monitor_out)
{
    size_t len;
    char *text = h_read (monitor_out, &len);
    bool seen = text && strstr (text, "\"backpressured\":true");
    h_release (text);
    return seen;
}

static bool
s_lists_a_mapper (const h_status_t *status, void *arg)
{
    (void) arg;
    return h_status_count_role (status, "mapper") >= 1;
}

//  A writer faster than the pipeline is held back: the ventilator stops
//  reading (the writer blocks) instead of buffering without limit, and the
//  status says backpressured. The one mapper is slow (--map-cost) and, once
//  listed, frozen (SIGSTOP; --dead-ms long enough that it is not taken for
//  dead meanwhile): the pipeline takes nothing more, so what got in is
//  bounded on any machine, not by how fast a mapper maps.
Test (stream, a_writer_faster_than_the_pipeline_is_held_back)
{
    size_t len;
    char *text = h_read (h_kjv (), &len);
    cr_assert_not_null (text);
    char *status = h_strf ("ipc://%s/st", h_dir ());
    char *monitor_out = h_path ("monitor.json");
    char *fifo = h_fifo ("in");
    h_io_t io = { .stdin_path = fifo, .stderr_path = h_path ("zmr.err"), .env = s_env () };
    //  One slow mapper, small chunks: the pipeline holds little.
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "--stream", "-m", "1",
                          "--map-cost", "20000", "--chunk-size", "64K", "--dead-ms", "600000",
                          "--status", status, "-o", h_path ("out.txt"), NULL);
    h_io_t mon = { .stdout_path = monitor_out };
    h_spawnl (&mon, "zmr-monitor", "--json", "--keep", status, NULL);
    s_flood_t flood = { .fd = s_fifo_writer (fifo), .data = text, .len = len,
                        .limit = 64u << 20 };
    pthread_t writer;
    cr_assert_eq (pthread_create (&writer, NULL, s_flood, &flood), 0);
    h_status_t st;
    bool listed = h_status_wait (monitor_out, s_lists_a_mapper, NULL, S_EVENT_TIMEOUT, &st);
    pid_t mapper = 0;
    for (size_t i = 0; listed && i < st.nworkers; i++)
        if (!strcmp (st.workers[i].role, "mapper"))
            mapper = (pid_t) st.workers[i].pid;
    if (mapper > 0)
        kill (mapper, SIGSTOP);

    int64_t deadline = h_now_ms () + S_EVENT_TIMEOUT;
    while (!s_backpressured (monitor_out) && h_now_ms () < deadline)
        h_sleep_ms (50);
    bool held = s_backpressured (monitor_out);
    //  Held back for a second: what got in is bounded by the pipeline's
    //  window (16 chunks of 64 KiB), the chunker's buffer and the pipe's,
    //  nowhere near the 64 MiB the writer wants to write.
    h_sleep_ms (1000);
    size_t written = atomic_load (&flood.written);
    if (mapper > 0)
        kill (mapper, SIGCONT);
    kill (zmr, SIGTERM);
    h_wait (zmr, 60000, "zmr run after SIGTERM");
    pthread_join (writer, NULL);
    cr_assert (listed && mapper > 0, "the status never listed the mapper");
    cr_assert (held, "the status never said backpressured");
    cr_assert_lt (written, (size_t) 8 << 20,
                  "the writer got %zu bytes in: the ventilator did not stop reading", written);
    h_release (text);
}

//  No mapper at all yet (none started, or one that has not connected to
//  the chunks): the ventilator cannot push the chunk it cut, reads no more,
//  and its status says backpressured. Roles by hand, so that no mapper
//  ever comes; the writer is held, and nothing is read past the pipes.
Test (stream, a_stream_with_no_mapper_to_take_its_chunks_is_backpressured)
{
    size_t len;
    char *text = h_read (h_kjv (), &len);
    cr_assert_not_null (text);
    char *control = h_strf ("ipc://%s/ctl", h_dir ());
    char *status = h_strf ("ipc://%s/st", h_dir ());
    char *monitor_out = h_path ("monitor.json");
    char *fifo = h_fifo ("in");
    //  Its standard input, open from the start (a FIFO named as an input
    //  is opened once there is a chunk to cut).
    h_io_t vio = { .stdin_path = fifo, .stderr_path = h_path ("ventilator.err") };
    pid_t vent = h_spawnl (&vio, "zmr-ventilator", "-r", "1", "--control", control,
                           "--chunks", h_strf ("ipc://%s/chunks", h_dir ()),
                           "--status", status, "--chunk-size", "64K", "-", NULL);
    h_io_t rio = { .stderr_path = h_path ("reducer.err") };
    pid_t reducer = h_spawnl (&rio, "zmr-reducer", "-p", "0", "--bind",
                              h_strf ("ipc://%s/r0", h_dir ()), control, NULL);
    h_io_t sio = { .stderr_path = h_path ("sink.err") };
    pid_t sink = h_spawnl (&sio, "zmr-sink", "-o", h_path ("out.txt"), "--bind",
                           h_strf ("ipc://%s/sink", h_dir ()), control, NULL);
    h_io_t mon = { .stdout_path = monitor_out };
    h_spawnl (&mon, "zmr-monitor", "--json", "--keep", status, NULL);
    s_flood_t flood = { .fd = s_fifo_writer (fifo), .data = text, .len = len,
                        .limit = 64u << 20 };
    pthread_t writer;
    cr_assert_eq (pthread_create (&writer, NULL, s_flood, &flood), 0);

    int64_t deadline = h_now_ms () + S_EVENT_TIMEOUT;
    while (!s_backpressured (monitor_out) && h_now_ms () < deadline)
        h_sleep_ms (50);
    bool held = s_backpressured (monitor_out);
    h_sleep_ms (1000);
    size_t written = atomic_load (&flood.written);
    kill (vent, SIGTERM);
    h_wait (vent, 60000, "zmr-ventilator after SIGTERM");
    kill (reducer, SIGTERM);
    kill (sink, SIGTERM);
    pthread_join (writer, NULL);
    cr_assert (held, "the status never said backpressured with no mapper to take a chunk");
    cr_assert_lt (written, (size_t) 8 << 20,
                  "the writer got %zu bytes in: the ventilator did not stop reading", written);
    h_release (text);
}

//  Tumbling windows: a stream with pauses spans several windows; each
//  window's file is a result in order, the windows summed are exactly the
//  totals, also with a mapper killed mid-stream (its chunks, re-issued,
//  land in one window each), and the status counts the windows closed.
Test (stream, windows_sum_to_the_totals_even_when_a_mapper_dies)
{
    size_t len;
    char *whole = s_prefix ("whole.txt", 600000, &len);
    h_counts_t ref;
    h_reference_file (whole, &ref);
    char *windows = h_path ("windows");
    char *status = h_strf ("ipc://%s/st", h_dir ());
    char *monitor_out = h_path ("monitor.json");
    char *output = h_path ("out.txt");
    char *fifo = h_fifo ("in");
    //  About 1.5 s of text at 400 KB/s, in windows of 250 ms.
    h_feed_start (fifo, whole, 4096, 10, len);
    h_io_t io = { .stdin_path = fifo, .stderr_path = h_path ("zmr.err"), .env = s_env () };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-m", "2", "--window", "250ms",
                          "--window-dir", windows, "--status", status, "-o", output, NULL);
    h_io_t mon = { .stdout_path = monitor_out };
    pid_t monitor = h_spawnl (&mon, "zmr-monitor", "--json", status, NULL);
    uint64_t some = 3;
    h_status_t st;
    cr_assert (h_status_wait (monitor_out, s_chunks_done, &some, S_EVENT_TIMEOUT, &st),
               "no chunk was done within %d s", S_EVENT_TIMEOUT / 1000);
    pid_t victim = 0;
    for (size_t i = 0; i < st.nworkers && !victim; i++)
        if (!strcmp (st.workers[i].role, "mapper") && st.workers[i].pid > 0)
            victim = (pid_t) st.workers[i].pid;
    cr_assert_neq (victim, 0, "no mapper in the status");
    cr_assert_eq (kill (victim, SIGKILL), 0);
    cr_assert_eq (h_exit_code (h_wait (zmr, S_EVENT_TIMEOUT, "zmr run")), 0);
    h_wait (monitor, 30000, "the monitor");
    h_feed_stop ();
    h_assert_result (output, &ref);

    //  Every window file, parsed as a result (form and order checked), and
    //  their sum.
    char *list = h_path ("windows.txt");
    char *command = h_strf ("ls %s > %s", windows, list);
    cr_assert_eq (system (command), 0);
    size_t llen;
    char *names = h_read (list, &llen);
    cr_assert_not_null (names);
    s_line_t *all = NULL;
    size_t nall = 0, nwindows = 0;
    for (char *name = strtok (names, "\n"); name; name = strtok (NULL, "\n")) {
        cr_assert (!strncmp (name, "window-", 7), "unexpected file %s", name);
        char *path = h_strf ("%s/%s", windows, name);
        h_counts_t part;
        char err[512];
        cr_assert_eq (h_parse_result (path, &part, err, sizeof err), 0, "%s: %s", name, err);
        all = realloc (all, (nall + part.n + 1) * sizeof *all);
        cr_assert_not_null (all);
        for (size_t i = 0; i < part.n; i++, nall++)
            all[nall] = (s_line_t) { part.pairs[i], nall };
        nwindows++;             //  (part's text stays until the teardown)
    }
    cr_assert_geq (nwindows, 2, "the stream spanned %zu window(s)", nwindows);
    //  Summed per word, by sorting every window's pairs together.
    qsort (all, nall, sizeof *all, s_line_order);
    h_counts_t summed = { .pairs = h_alloc ((nall + 1) * sizeof (h_pair_t)) };
    for (size_t i = 0; i < nall; i++) {
        h_pair_t *last = summed.n? &summed.pairs[summed.n - 1]: NULL;
        if (last && last->len == all[i].pair.len
        &&  !memcmp (last->word, all[i].pair.word, last->len))
            last->count += all[i].pair.count;
        else
            summed.pairs[summed.n++] = all[i].pair;
    }
    free (all);
    char err[512];
    cr_assert_eq (h_counts_compare (&summed, &ref, err, sizeof err), 0,
                  "the windows summed are not the totals: %s", err);
    size_t mlen;
    char *mon_text = h_read (monitor_out, &mlen);
    char *last_line = mon_text;
    for (char *at = mon_text; at && (at = strchr (at, '\n')) && at[1]; at++)
        last_line = at + 1;
    cr_assert_eq (s_json_u64 (last_line, "windows_closed"), nwindows,
                  "the status counts %llu windows closed, %zu files",
                  (unsigned long long) s_json_u64 (last_line, "windows_closed"), nwindows);
}

typedef struct {
    int listener;
    const char *data;
    size_t len;
} s_server_t;

//  Serves data to the first client, in paced pieces, then closes.
static void *
s_serve (void *arg)
{
    s_server_t *server = arg;
    int client = accept (server->listener, NULL, NULL);
    if (client >= 0) {
        for (size_t at = 0; at < server->len;) {
            size_t piece = server->len - at < 8192? server->len - at: 8192;
            ssize_t n = write (client, server->data + at, piece);
            if (n <= 0)
                break;
            at += (size_t) n;
            h_sleep_ms (2);
        }
        close (client);
    }
    return NULL;
}

//  A line stream from a TCP server (tcp://127.0.0.1:PORT as the input):
//  read until the server closes, with running totals, exact at the end.
Test (stream, a_tcp_line_stream_is_counted_exactly)
{
    size_t len;
    char *whole = s_prefix ("whole.txt", 500000, &len);
    h_counts_t ref;
    h_reference_file (whole, &ref);
    char *text = h_read (whole, &len);
    int listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (listener, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t alen = sizeof address;
    cr_assert_eq (bind (listener, (struct sockaddr *) &address, sizeof address), 0);
    cr_assert_eq (listen (listener, 1), 0);
    cr_assert_eq (getsockname (listener, (struct sockaddr *) &address, &alen), 0);
    s_server_t server = { listener, text, len };
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_serve, &server), 0);

    char *input = h_strf ("tcp://127.0.0.1:%u", ntohs (address.sin_port));
    char *follow = h_path ("follow.txt"), *output = h_path ("out.txt");
    h_io_t io = { .stdout_path = follow, .stderr_path = h_path ("zmr.err"), .env = s_env () };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "--follow", "-o", output,
                          input, NULL);
    cr_assert_eq (h_exit_code (h_wait (zmr, S_EVENT_TIMEOUT, "zmr run")), 0);
    pthread_join (thread, NULL);
    close (listener);
    h_assert_result (output, &ref);
    char err[512];
    cr_assert (s_latest_is (follow, &ref, err, sizeof err), "%s", err);
    h_release (text);
}

//  A TCP input nobody serves fails the job with a one-line reason naming it.
Test (stream, a_tcp_input_nobody_serves_fails_naming_it)
{
    int listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t alen = sizeof address;
    cr_assert_eq (bind (listener, (struct sockaddr *) &address, sizeof address), 0);
    cr_assert_eq (getsockname (listener, (struct sockaddr *) &address, &alen), 0);
    //  Bound, not listening: a connect is refused.
    char *input = h_strf ("tcp://127.0.0.1:%u", ntohs (address.sin_port));
    char *err_path = h_path ("zmr.err");
    h_io_t io = { .stderr_path = err_path, .env = s_env () };
    int code = h_exit_code (h_wait (h_spawnl (&io, "zmr", "run", "--no-progress", input, NULL),
                                    S_EVENT_TIMEOUT, "zmr run"));
    close (listener);
    cr_assert_eq (code, 1, "zmr run on a refused TCP input exited %d", code);
    size_t len;
    char *err = h_read (err_path, &len);
    cr_assert (err && strstr (err, input) && strstr (err, "refused"),
               "the error does not name the input and the reason: %s", err? err: "");
}

//  A job of thousands of chunks (a long stream's worth) passes the point
//  where the ventilator forgets the done prefix of its ledger, several
//  times, with a mapper killed meanwhile: the result stays exact (and the
//  sanitized build checks every ledger access against what it holds).
//  Standard input, held open and empty, is the last input: the job cannot
//  end before the kill, however fast it maps the file.
Test (stream, a_job_of_thousands_of_chunks_forgets_done_ones_and_stays_exact)
{
    char *status = h_strf ("ipc://%s/st", h_dir ());
    char *monitor_out = h_path ("monitor.json");
    char *output = h_path ("out.txt");
    char *fifo = h_fifo ("tail");
    h_feed_start (fifo, NULL, 0, 0, 0);
    h_io_t io = { .stdin_path = fifo, .stderr_path = h_path ("zmr.err"), .env = s_env () };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "--chunk-size", "1K",
                          "--status", status, "-o", output, h_kjv (), "-", NULL);
    h_io_t mon = { .stdout_path = monitor_out };
    h_spawnl (&mon, "zmr-monitor", "--json", "--keep", status, NULL);
    uint64_t some = 1500;
    h_status_t st;
    cr_assert (h_status_wait (monitor_out, s_chunks_done, &some, S_EVENT_TIMEOUT, &st),
               "1500 chunks were not done within %d s", S_EVENT_TIMEOUT / 1000);
    pid_t victim = 0;
    for (size_t i = 0; i < st.nworkers && !victim; i++)
        if (!strcmp (st.workers[i].role, "mapper") && st.workers[i].pid > 0)
            victim = (pid_t) st.workers[i].pid;
    cr_assert_neq (victim, 0, "no mapper in the status");
    cr_assert_eq (kill (victim, SIGKILL), 0, "the mapper was gone before the kill");
    h_feed_stop ();
    cr_assert_eq (h_exit_code (h_wait (zmr, 180000, "zmr run")), 0);
    cr_assert_gt (h_status_max (monitor_out, "chunks_read"), 3000,
                  "only %llu chunks",
                  (unsigned long long) h_status_max (monitor_out, "chunks_read"));
    h_assert_kjv_result (output);
}
