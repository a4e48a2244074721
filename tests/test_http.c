/*  Issue 15: zmr-monitor --http under good and bad clients. The client is
    raw sockets here (no HTTP library shared with the server): requests are
    written by hand, answers read to the end. The status the server shows
    is compared with what an independent `zmr-monitor --json` prints for the
    same publication; streams, freshness and bad input (unknown paths,
    methods, huge headers, many idle connections, a client that never
    reads) are checked against a job that runs, and the job's result
    against the shell reference. Every wait is for an event, bounded for a
    loaded sanitizer build. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "harness.h"

static void
s_init (void)
{
    h_setup ();
    signal (SIGPIPE, SIG_IGN);
}

TestSuite (http, .init = s_init, .fini = h_teardown, .timeout = 280);

#define S_BOUND_MS 60000            //  Any one answer, on a loaded machine

//  A connected loopback socket to port, or -1.
static int
s_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr)) {
        close (fd);
        return -1;
    }
    return fd;
}

static void
s_send_all (int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send (fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;                 //  The server may close first (431)
        data += n;
        len -= (size_t) n;
    }
}

//  Reads from fd until the peer closes, timeout_ms passes, or max bytes
//  came. Returns what came (NUL-terminated, lives until the teardown).
static char *
s_read_until_close (int fd, int timeout_ms, size_t max, size_t *len)
{
    char *buf = h_alloc (max + 1);
    size_t have = 0;
    int64_t deadline = h_now_ms () + timeout_ms;
    while (have < max) {
        int64_t left = deadline - h_now_ms ();
        if (left <= 0)
            break;
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll (&p, 1, (int) left) <= 0)
            continue;
        ssize_t n = recv (fd, buf + have, max - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t) n;
    }
    buf[have] = 0;
    *len = have;
    return buf;
}

typedef struct {
    int code;                       //  HTTP status, 0 if none came
    char *head;                     //  Status line and headers
    char *body;                     //  After the blank line
} s_answer_t;

//  Sends request (whole, by hand) and reads the answer to its end.
static s_answer_t
s_request (int port, const char *request)
{
    s_answer_t answer = { 0, "", "" };
    int fd = s_connect (port);
    cr_assert_geq (fd, 0, "cannot connect to the monitor's port %d", port);
    s_send_all (fd, request, strlen (request));
    size_t len;
    char *text = s_read_until_close (fd, S_BOUND_MS, 4 << 20, &len);
    close (fd);
    sscanf (text, "HTTP/1.%*d %d", &answer.code);
    char *blank = strstr (text, "\r\n\r\n");
    answer.head = text;
    if (blank) {
        *blank = 0;
        answer.body = blank + 4;
    }
    return answer;
}

static s_answer_t
s_get (int port, const char *path)
{
    return s_request (port, h_strf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "Connection: close\r\n\r\n", path));
}

//  Starts zmr-monitor --http on a free port for the status at endpoint and
//  waits until it answers. Returns the port.
static int
s_start_monitor (const char *endpoint, pid_t *pid)
{
    int port = h_free_port ();
    h_io_t io = { .stderr_path = h_path ("monitor-http.err") };
    *pid = h_spawnl (&io, "zmr-monitor", "--http", h_strf ("127.0.0.1:%d", port), endpoint,
                     NULL);
    int64_t deadline = h_now_ms () + S_BOUND_MS;
    int fd;
    while ((fd = s_connect (port)) < 0 && h_now_ms () < deadline) {
        cr_assert (h_running (*pid), "zmr-monitor --http ended at start");
        h_sleep_ms (10);
    }
    cr_assert_geq (fd, 0, "zmr-monitor --http did not listen on %d in time", port);
    close (fd);
    return port;
}

//  The /status.json object without its "monitor" key (the last one), which
//  is copied into monitor (if not NULL). Fails the test if it has none.
static char *
s_strip_monitor (const char *json, char **monitor)
{
    const char *at = strstr (json, ",\"monitor\":{");
    cr_assert_not_null (at, "no monitor key in '%.200s'", json);
    if (monitor)
        *monitor = h_strf ("%s", at + strlen (",\"monitor\":"));
    return h_strf ("%.*s}", (int) (at - json), json);
}

//  The number after "key": in text, or -1.
static long long
s_number (const char *text, const char *key)
{
    const char *at = strstr (text, h_strf ("\"%s\":", key));
    return at? atoll (at + strlen (key) + 3): -1;
}

//  ---------------------------------------------------------------------

Test (http, bad_requests_get_short_errors_and_the_monitor_keeps_serving)
{
    //  No job publishes here: the server answers from "nothing yet".
    pid_t monitor;
    int port = s_start_monitor (h_strf ("ipc://%s/none", h_dir ()), &monitor);

    s_answer_t a = s_get (port, "/status.json");
    cr_assert_eq (a.code, 503, "before any status: %d %s", a.code, a.head);
    cr_assert (strstr (a.body, "\"received\":false") && strstr (a.body, "\"fresh\":false"),
               "%s", a.body);
    a = s_get (port, "/metrics");
    cr_assert_eq (a.code, 200);
    cr_assert (strstr (a.body, "\nzmr_status_fresh 0\n"), "%s", a.body);

    a = s_get (port, "/no/such/page");
    cr_assert_eq (a.code, 404, "unknown path: %s", a.head);
    cr_assert (strlen (a.body) > 0 && strlen (a.body) < 200, "a short body: '%s'", a.body);
    a = s_get (port, "/status.json/../../etc/passwd");
    cr_assert_eq (a.code, 404);
    a = s_request (port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                         "Connection: close\r\n\r\nabc");
    cr_assert_eq (a.code, 405, "POST: %s", a.head);
    cr_assert (strstr (a.head, "Allow: GET"), "%s", a.head);
    a = s_request (port, "DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq (a.code, 405);

    //  Headers far over the per-connection memory: refused with 431 (or
    //  400), not buffered.
    const char *start = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ";
    const char *end = "\r\nConnection: close\r\n\r\n";
    size_t huge = 1 << 20;
    char *request = h_alloc (strlen (start) + huge + strlen (end) + 1);
    strcpy (request, start);
    memset (request + strlen (start), 'a', huge);
    strcpy (request + strlen (start) + huge, end);
    a = s_request (port, request);
    cr_assert (a.code == 431 || a.code == 400, "a 1 MiB header got %d", a.code);

    //  200 idle connections (never a byte sent): a request still gets its
    //  answer at once.
    int idle[200];
    for (int i = 0; i < 200; i++) {
        idle[i] = s_connect (port);
        cr_assert_geq (idle[i], 0, "idle connection %d refused", i);
    }
    int64_t asked = h_now_ms ();
    a = s_get (port, "/status.json");
    cr_assert_eq (a.code, 503);
    a = s_get (port, "/");
    cr_assert_eq (a.code, 200);
    cr_assert (strstr (a.head, "text/html"), "%s", a.head);
    cr_assert (strstr (a.body, "<html"), "the dashboard page: '%.100s'", a.body);
    cr_assert_lt (h_now_ms () - asked, 20000, "answers took %lld ms beside 200 idle clients",
                  (long long) (h_now_ms () - asked));
    for (int i = 0; i < 200; i++)
        close (idle[i]);
    cr_assert (h_running (monitor), "the monitor ended under bad input");

    //  Its address taken: one line, exit 2, before anything starts.
    char *err = h_path ("busy.err");
    h_io_t io = { .stderr_path = err };
    int code = h_run (&io, S_BOUND_MS, "zmr-monitor", "--http",
                      h_strf ("127.0.0.1:%d", port), "ipc:///nonexistent", NULL);
    cr_assert_eq (code, 2);
    cr_assert_eq (h_count_lines (err), 1);
    size_t len;
    char *said = h_read (err, &len);
    cr_assert (said && strstr (said, "in use"), "%s", said? said: "(nothing)");
    code = h_run (&io, S_BOUND_MS, "zmr-monitor", "--http", "127.0.0.1", "ipc:///x", NULL);
    cr_assert_eq (code, 2);
    kill (monitor, SIGINT);
    cr_assert_eq (h_exit_code (h_wait (monitor, S_BOUND_MS, "zmr-monitor --http")), 0);
}

//  ---------------------------------------------------------------------

//  Waits for the JSON monitor's line with this seq; NULL if it never came
//  (it keeps the newest only, and may skip one).
static char *
s_json_line (const char *path, long long seq)
{
    int64_t deadline = h_now_ms () + 10000;
    char *want = h_strf ("\"seq\":%lld,", seq);
    while (h_now_ms () < deadline) {
        size_t len;
        char *text = h_read (path, &len);
        char *at = text? strstr (text, want): NULL;
        if (at) {
            while (at > text && at[-1] != '\n')
                at--;
            char *end = strchr (at, '\n');
            if (end)
                return h_strf ("%.*s", (int) (end - at), at);
        }
        if (text)
            h_release (text);
        h_sleep_ms (50);
    }
    return NULL;
}

//  Reads an event stream until pred (on what came so far) or timeout.
typedef bool (*s_stream_pred_t) (const char *text, void *arg);

static char *
s_stream_until (int fd, s_stream_pred_t pred, void *arg, int timeout_ms)
{
    size_t max = 8 << 20, have = 0;
    char *buf = h_alloc (max + 1);
    int64_t deadline = h_now_ms () + timeout_ms;
    while (have < max && !pred (buf, arg)) {
        int64_t left = deadline - h_now_ms ();
        if (left <= 0)
            break;
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll (&p, 1, (int) left) <= 0)
            continue;
        ssize_t n = recv (fd, buf + have, max - have, 0);
        if (n <= 0)
            break;
        have += (size_t) n;
        buf[have] = 0;
    }
    return buf;
}

static bool
s_has_statuses (const char *text, void *arg)
{
    int want = *(int *) arg, n = 0;
    for (const char *at = text; (at = strstr (at, "event: status\ndata: {")); at++)
        n++;
    return n >= want;
}

static bool
s_has_stale (const char *text, void *arg)
{
    (void) arg;
    return strstr (text, "event: monitor\ndata: {\"fresh\":false") != NULL;
}

static bool
s_mapping (const h_status_t *status, void *arg)
{
    (void) arg;
    return !strcmp (status->phase, "mapping") && status->chunks_done > 0;
}

Test (http, status_json_and_events_show_the_job_and_its_freshness)
{
    //  A job held open by its input: it runs until the test kills it.
    char *fifo = h_fifo ("in.fifo");
    size_t len;
    h_read (h_kjv (), &len);
    h_feed_start_held (fifo, h_kjv (), 65536, 0, len, len / 2);
    h_job_opts_t opts = { .mappers = 2, .stdin_path = fifo, .chunk_size = "64K" };
    h_job_t job;
    h_job_start (&job, "-", &opts);
    h_status_t status;
    cr_assert (h_status_wait (job.monitor_out, s_mapping, NULL, S_BOUND_MS, &status),
               "the job did not start mapping (phase '%s')", status.phase);
    pid_t monitor;
    int port = s_start_monitor (job.status, &monitor);

    //  /status.json is the --json object of the same publication, plus
    //  "monitor". (The JSON monitor keeps the newest state only: it may
    //  skip a publication, so a few tries.)
    bool compared = false;
    for (int attempt = 0; attempt < 20 && !compared; attempt++) {
        s_answer_t a = s_get (port, "/status.json");
        if (a.code == 503) {
            h_sleep_ms (100);
            continue;
        }
        cr_assert_eq (a.code, 200, "%s", a.head);
        cr_assert (strstr (a.head, "application/json"), "%s", a.head);
        char *monitor_key;
        char *state = s_strip_monitor (a.body, &monitor_key);
        cr_assert (strstr (monitor_key, "\"fresh\":true"), "%s", monitor_key);
        cr_assert (strstr (monitor_key, "\"received\":true"), "%s", monitor_key);
        cr_assert (strstr (monitor_key, h_strf ("\"endpoint\":\"%s\"", job.status)),
                   "%s", monitor_key);
        cr_assert_lt (s_number (monitor_key, "age_ms"), 2000, "%s", monitor_key);
        char *line = s_json_line (job.monitor_out, s_number (state, "seq"));
        if (!line)
            continue;
        cr_assert_str_eq (state, line, "/status.json differs from zmr-monitor --json");
        compared = true;
    }
    cr_assert (compared, "no /status.json matched a publication of zmr-monitor --json");

    s_answer_t a = s_get (port, "/metrics");
    cr_assert_eq (a.code, 200);
    cr_assert (strstr (a.head, "text/plain; version=0.0.4"), "%s", a.head);
    cr_assert (strstr (a.body, "\nzmr_status_fresh 1\n"), "%s", a.body);
    cr_assert (strstr (a.body, "\nzmr_job_phase{phase=\"mapping\"} 1\n"), "%s", a.body);
    cr_assert (strstr (a.body, "\nzmr_workers{role=\"mapper\",state=\"alive\"} 2\n"),
               "%s", a.body);

    //  The stream: the state at once, then the next ones, in order.
    int fd = s_connect (port);
    cr_assert_geq (fd, 0);
    const char *ask = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    s_send_all (fd, ask, strlen (ask));
    int want = 3;
    char *text = s_stream_until (fd, s_has_statuses, &want, S_BOUND_MS);
    cr_assert (s_has_statuses (text, &want), "3 status events did not come: '%.300s'", text);
    cr_assert (strstr (text, "text/event-stream"), "%.300s", text);
    long long last_seq = -1;
    int events = 0;
    for (char *at = text; (at = strstr (at, "event: status\ndata: ")); at++) {
        at += strlen ("event: status\ndata: ");
        char *end = strstr (at, "\n\n");
        cr_assert_not_null (end, "an event not ended by a blank line");
        char *state = s_strip_monitor (h_strf ("%.*s", (int) (end - at), at), NULL);
        cr_assert_eq (h_status_parse (state, strlen (state), &status), 0, "%.200s", state);
        cr_assert_str_eq (status.phase, "mapping");
        cr_assert_gt ((long long) status.seq, last_seq, "statuses out of order");
        last_seq = (long long) status.seq;
        events++;
    }
    cr_assert_geq (events, 3);

    //  The ventilator dies: within a few seconds the stream and
    //  /status.json say the state is not fresh any more.
    kill (job.ventilator, SIGKILL);
    h_wait (job.ventilator, S_BOUND_MS, "the killed ventilator");
    text = s_stream_until (fd, s_has_stale, NULL, S_BOUND_MS);
    cr_assert (s_has_stale (text, NULL), "no stale monitor event after the ventilator died");
    close (fd);
    a = s_get (port, "/status.json");
    cr_assert_eq (a.code, 200);
    char *monitor_key;
    s_strip_monitor (a.body, &monitor_key);
    cr_assert (strstr (monitor_key, "\"fresh\":false"), "%s", monitor_key);
    cr_assert_geq (s_number (monitor_key, "age_ms"), 2000, "%s", monitor_key);
    a = s_get (port, "/metrics");
    cr_assert (strstr (a.body, "\nzmr_status_fresh 0\n"), "%s", a.body);
    kill (monitor, SIGINT);
    cr_assert_eq (h_exit_code (h_wait (monitor, S_BOUND_MS, "zmr-monitor --http")), 0);
    h_feed_stop ();
}

//  ---------------------------------------------------------------------

//  The resident memory of a process, in KiB (VmRSS).
static long
s_rss_kb (pid_t pid)
{
    size_t len;
    char *text = h_read (h_strf ("/proc/%d/status", (int) pid), &len);
    cr_assert_not_null (text);
    char *at = strstr (text, "VmRSS:");
    long kb = at? atol (at + 6): -1;
    h_release (text);
    return kb;
}

Test (http, clients_that_never_read_slow_neither_the_monitor_nor_the_job)
{
    //  A job over the whole text, fed in pieces so that it lasts a while.
    char *fifo = h_fifo ("in.fifo");
    size_t len;
    h_read (h_kjv (), &len);
    h_feed_start (fifo, h_kjv (), 65536, 50, len);
    h_job_opts_t opts = { .mappers = 2, .stdin_path = fifo };
    h_job_t job;
    h_job_start (&job, "-", &opts);
    pid_t monitor;
    int port = s_start_monitor (job.status, &monitor);
    long rss_before = s_rss_kb (monitor);

    //  20 clients ask for /events with a tiny receive buffer and never
    //  read; 20 more send half a request and stop.
    int stuck[40];
    for (int i = 0; i < 40; i++) {
        stuck[i] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int small = 1024;
        setsockopt (stuck[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        cr_assert_eq (connect (stuck[i], (struct sockaddr *) &addr, sizeof addr), 0);
        const char *ask = i < 20? "GET /events HTTP/1.1\r\nHost: x\r\n\r\n"
                                : "GET /metrics HTTP/1.1\r\nHo";
        s_send_all (stuck[i], ask, strlen (ask));
    }
    //  Meanwhile others are answered, each within the bound, as the job
    //  runs to its end.
    int answered = 0;
    int64_t slowest = 0;
    while (h_running (job.ventilator)) {
        int64_t asked = h_now_ms ();
        s_answer_t a = s_get (port, answered % 2? "/metrics": "/status.json");
        cr_assert (a.code == 200 || a.code == 503, "got %d beside stuck clients", a.code);
        if (h_now_ms () - asked > slowest)
            slowest = h_now_ms () - asked;
        answered++;
        h_sleep_ms (100);
    }
    cr_assert_lt (slowest, 10000, "an answer took %lld ms beside stuck clients",
                  (long long) slowest);
    h_status_t final;
    h_job_wait_done (&job, S_BOUND_MS * 2, &final);
    h_assert_kjv_result (job.output);
    //  The final state is still served, and the memory stayed bounded:
    //  each stuck stream holds one event at most.
    s_answer_t a = s_get (port, "/status.json");
    cr_assert_eq (a.code, 200);
    cr_assert (strstr (a.body, "\"phase\":\"done\""), "%.200s", a.body);
    long rss_after = s_rss_kb (monitor);
    cr_assert_lt (rss_after - rss_before, 64 * 1024, "the monitor grew from %ld to %ld KiB",
                  rss_before, rss_after);
    cr_assert (h_running (monitor));
    for (int i = 0; i < 40; i++)
        close (stuck[i]);
    kill (monitor, SIGINT);
    cr_assert_eq (h_exit_code (h_wait (monitor, S_BOUND_MS, "zmr-monitor --http")), 0);
    cr_log_info ("%d answers beside 40 stuck clients, the slowest %lld ms", answered,
                 (long long) slowest);
}

//  ---------------------------------------------------------------------

//  Threads of a process: the server has one per connection.
static int
s_threads (pid_t pid)
{
    int n = 0;
    char *path = h_strf ("/proc/%d/task", (int) pid);
    DIR *dir = opendir (path);
    cr_assert_not_null (dir);
    for (struct dirent *e; (e = readdir (dir));)
        n += e->d_name[0] != '.';
    closedir (dir);
    return n;
}

Test (http, an_events_client_that_stops_reading_is_dropped_and_others_are_not)
{
    char *fifo = h_fifo ("in.fifo");
    size_t len;
    h_read (h_kjv (), &len);
    h_feed_start_held (fifo, h_kjv (), 65536, 0, len, len / 4);
    h_job_opts_t opts = { .mappers = 1, .stdin_path = fifo, .chunk_size = "64K" };
    h_job_t job;
    h_job_start (&job, "-", &opts);
    pid_t monitor;
    int port = s_start_monitor (job.status, &monitor);
    //  The probe that found the port open had a thread: gone once the
    //  count holds still.
    int base = s_threads (monitor), settled = 0;
    for (int i = 0; i < 100 && settled < 3; i++) {
        h_sleep_ms (100);
        int now = s_threads (monitor);
        settled = now == base? settled + 1: 0;
        base = now;
    }

    //  A reader that keeps up, and 5 that never read (1 KiB receive
    //  buffers): once their buffers are full the server cannot write to
    //  them, and drops them after its connection timeout (30 s).
    int good = s_connect (port);
    cr_assert_geq (good, 0);
    const char *ask = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    s_send_all (good, ask, strlen (ask));
    int stuck[5];
    for (int i = 0; i < 5; i++) {
        stuck[i] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int small = 1024;
        setsockopt (stuck[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        cr_assert_eq (connect (stuck[i], (struct sockaddr *) &addr, sizeof addr), 0);
        s_send_all (stuck[i], ask, strlen (ask));
    }
    int64_t deadline = h_now_ms () + S_BOUND_MS;
    int peak = s_threads (monitor);
    while (peak < base + 6 && h_now_ms () < deadline) {
        h_sleep_ms (50);
        peak = s_threads (monitor);
    }
    cr_assert_geq (peak, base + 6, "6 streams, threads %d from %d", peak, base);

    //  Until the 5 are dropped, the good reader reads on.
    char buf[65536];
    size_t good_bytes = 0;
    int64_t started = h_now_ms ();
    deadline = started + 240000;
    int now_threads = peak;
    while (now_threads > peak - 5 && h_now_ms () < deadline) {
        struct pollfd p = { good, POLLIN, 0 };
        if (poll (&p, 1, 200) > 0) {
            ssize_t n = recv (good, buf, sizeof buf, 0);
            cr_assert_gt (n, 0, "the good reader's stream ended");
            good_bytes += (size_t) n;
        }
        now_threads = s_threads (monitor);
    }
    cr_assert_leq (now_threads, peak - 5, "the 5 stuck streams were not dropped in 240 s "
                   "(threads %d, peak %d)", now_threads, peak);
    //  The good reader is still served: more status events come.
    size_t before = good_bytes;
    deadline = h_now_ms () + S_BOUND_MS;
    while (good_bytes < before + 1000 && h_now_ms () < deadline) {
        struct pollfd p = { good, POLLIN, 0 };
        if (poll (&p, 1, 200) > 0) {
            ssize_t n = recv (good, buf, sizeof buf, 0);
            cr_assert_gt (n, 0, "the good reader was dropped too");
            good_bytes += (size_t) n;
        }
    }
    cr_assert_geq (good_bytes, before + 1000, "the good reader got nothing more");
    cr_log_info ("5 stuck streams dropped after %lld ms; the reader got %zu bytes",
                 (long long) (h_now_ms () - started), good_bytes);
    close (good);
    for (int i = 0; i < 5; i++)
        close (stuck[i]);
    kill (monitor, SIGINT);
    cr_assert_eq (h_exit_code (h_wait (monitor, S_BOUND_MS, "zmr-monitor --http")), 0);
    h_feed_stop ();
}
