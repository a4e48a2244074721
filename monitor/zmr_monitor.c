/*  zmr_monitor: SUB to the status PUB, CONFLATE so that a stopped monitor
    holds one state, not a backlog, and the job's PUB drops for it rather
    than wait. */
#include "zmr_monitor.h"
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

//  The terminal's size: what TIOCGWINSZ says on stdout, 80 x 24 when it
//  says nothing. Read again after each SIGWINCH. The view uses one column
//  less: a character in the last column leaves the cursor there, waiting
//  to wrap, and the clear-to-end that follows it would erase it (xterm).
static int s_columns = 79, s_rows = 24;
static volatile sig_atomic_t s_resized = 1;

static void
s_on_winch (int signum)
{
    (void) signum;
    s_resized = 1;
}

static void
s_read_size (void)
{
    struct winsize ws;
    s_resized = 0;
    s_columns = 79, s_rows = 24;
    if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        s_columns = ws.ws_col > 1? ws.ws_col - 1: 1;
        if (ws.ws_row > 0)
            s_rows = ws.ws_row;
    }
}

//  The live view is drawn into a buffer of lines, each cut to the width
//  (a line that wrapped would push the view off the screen), then written
//  at once over the previous one.
typedef struct {
    FILE *out;               //  The view being drawn (memstream)
    char *text;
    size_t size;
    int col;                 //  Columns on the current line
    int lines;               //  Lines drawn
} s_view_t;

//  Adds text to the current line, up to the width: printable ASCII takes a
//  column, a UTF-8 sequence one, other bytes are shown as '?'.
static void
s_put (s_view_t *view, const char *text)
{
    bool cut = false;               //  The character being left out
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if (*p == '\n') {
            //  Clear what the previous view left on the rest of the line.
            fputs ("\033[K\n", view->out);
            view->col = 0;
            view->lines++;
            cut = false;
            continue;
        }
        bool continues = (*p & 0xC0) == 0x80;
        if (!continues)
            cut = view->col >= s_columns;
        if (cut)
            continue;
        if (*p >= 0x80) {
            fputc (*p, view->out);
            if (!continues)
                view->col++;
        }
        else {
            fputc (*p >= 0x20 && *p < 0x7f? *p: '?', view->out);
            view->col++;
        }
    }
}

static void
s_printf (s_view_t *view, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_printf (s_view_t *view, const char *format, ...)
{
    char text[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    s_put (view, text);
}

//  Adds an item to a run of items separated by two spaces, starting a new
//  line (indented by two) when it would not fit on this one.
static void
s_item (s_view_t *view, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_item (s_view_t *view, const char *format, ...)
{
    char text[512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    int len = (int) strlen (text);
    if (view->col > 2 && view->col + 2 + len > s_columns)
        s_put (view, "\n");
    s_put (view, view->col == 0? "  ": view->col > 2? "  ": "");
    s_put (view, text);
}

static void
s_view_begin (s_view_t *view)
{
    memset (view, 0, sizeof *view);
    view->out = open_memstream (&view->text, &view->size);
}

static void
s_view_end (s_view_t *view)
{
    if (!view->out)
        return;
    if (view->col)
        s_put (view, "\n");
    fclose (view->out);
    //  Home, the view, then clear what is left below it.
    fputs ("\033[H", stdout);
    fwrite (view->text, 1, view->size, stdout);
    fputs ("\033[J", stdout);
    fflush (stdout);
    free (view->text);
}

//  Whether the input waits for the pipeline in a way worth saying: only for
//  a stream (stdin, a FIFO, a TCP line stream), whose writer is then held
//  back. A batch job's files are read as chunk credit frees up: waiting is
//  how it works, not news.
static bool
s_backpressure_matters (const zmr_status_t *status)
{
    return status->backpressured && !status->input_known;
}

//  The running totals' part of the live view, when the job has them.
static void
s_show_stream_live (s_view_t *view, const zmr_status_t *status)
{
    if (status->latency_samples)
        s_item (view, "latency p50 %llu ms p99 %llu ms (%llu chunks, last minute)",
                (unsigned long long) status->latency_p50_ms,
                (unsigned long long) status->latency_p99_ms,
                (unsigned long long) status->latency_samples);
    if (s_backpressure_matters (status))
        s_item (view, "input waits for the pipeline (backpressure)");
    if (status->window_ms)
        s_item (view, "windows of %llu ms: %llu closed, the last %llu words",
                (unsigned long long) status->window_ms,
                (unsigned long long) status->windows_closed,
                (unsigned long long) status->last_window_words);
    if (view->col)
        s_put (view, "\n");
    if (status->ntop) {
        s_put (view, "\n  top words so far:\n");
        for (uint32_t t = 0; t < status->ntop && view->lines < s_rows - 4; t++)
            s_printf (view, "  %12lld  %s\n", (long long) status->top[t].count,
                      status->top[t].word);
    }
}

static void
s_show_live (const zmr_status_t *status, int64_t silent_ms)
{
    char b1[32], b2[32], b3[32];
    s_view_t view;
    s_view_begin (&view);
    if (!view.out)
        return;
    s_printf (&view, "zmr job %016llx  %s  elapsed %.1f s", (unsigned long long) status->job,
              status->phase, (double) status->elapsed_ms / 1000);
    if (silent_ms >= 2000)
        s_printf (&view, "  (no update for %lld s)", (long long) silent_ms / 1000);
    s_put (&view, "\n");
    //  What the job runs (a status from before jobs says nothing).
    if (status->job_label[0])
        s_printf (&view, "  job %s '%s', reduce %s\n", status->job_kind, status->job_label,
                  status->reduce);
    if (status->reason[0])
        s_printf (&view, "  %s\n", status->reason);
    //  The progress line writes to a FILE: into a buffer, then the view.
    char line[1100] = "";
    FILE *mem = fmemopen (line, sizeof line - 1, "w");
    if (mem) {
        zmr_status_write_progress (status, mem, s_columns < 1024? s_columns: 1023);
        fclose (mem);
    }
    s_put (&view, line);
    s_put (&view, "\n");
    //  A stream's size is not known: what was read of it so far.
    s_item (&view, "input %sB%s", zmr_human (status->input_known? status->input_bytes
                                                                 : status->bytes_read,
                                             b1, sizeof b1),
            status->input_known? "": " read so far");
    s_item (&view, "words %s", zmr_human (status->words, b2, sizeof b2));
    if (status->words_too_long)
        s_item (&view, "too long %llu", (unsigned long long) status->words_too_long);
    s_item (&view, "re-issued %llu", (unsigned long long) status->chunks_reissued);
    s_item (&view, "in flight %llu", (unsigned long long) status->in_flight);
    s_item (&view, "duplicates %llu", (unsigned long long) status->duplicates);
    s_item (&view, "malformed %llu", (unsigned long long) status->malformed);
    if (status->chunks_quarantined)
        s_item (&view, "quarantined %llu", (unsigned long long) status->chunks_quarantined);
    if (status->mappers_refused)
        s_item (&view, "mappers refused %llu", (unsigned long long) status->mappers_refused);
    s_put (&view, "\n");
    s_show_stream_live (&view, status);
    s_put (&view, "\n");
    //  Worker rows: the name takes what the numbers leave (55 columns).
    int name = s_columns - 56;
    if (name < 8)
        name = 8;
    if (name > 40)
        name = 40;
    s_printf (&view, "  %4s %-8s %-*s %-7s %7s %7s %8s %6s\n", "id", "role", name, "name",
              "state", "chunks", "words", "distinct", "seen");
    //  As many rows as the screen has room for, then how many more.
    uint32_t room = s_rows > view.lines + 2? (uint32_t) (s_rows - view.lines - 2): 1;
    for (uint32_t i = 0; i < status->nworkers; i++) {
        if (i + 1 == room && status->nworkers > room) {
            s_printf (&view, "  ... and %u more\n", status->nworkers - i);
            break;
        }
        const zmr_worker_status_t *w = &status->workers[i];
        char role[24];
        if (!strcmp (w->role, "reducer"))
            snprintf (role, sizeof role, "red %llu", (unsigned long long) w->partition);
        else
            snprintf (role, sizeof role, "%s", w->role);
        s_printf (&view, "  %4llu %-8.8s %-*.*s %-7.7s %7s %7s %8s %5.1fs\n",
                  (unsigned long long) w->id, role, name, name, w->name, w->state,
                  zmr_human (w->chunks, b1, sizeof b1), zmr_human (w->words, b2, sizeof b2),
                  zmr_human (w->distinct, b3, sizeof b3),
                  (double) w->last_seen_ms / 1000);
    }
    s_view_end (&view);
}

//  The live view before any status came: what it waits for.
static void
s_show_waiting (const char *endpoint, int64_t waited_ms)
{
    s_view_t view;
    s_view_begin (&view);
    if (!view.out)
        return;
    s_printf (&view, "zmr-monitor: waiting for the status at %s\n", endpoint);
    s_printf (&view, "  no job has published there yet (%lld s)\n",
              (long long) waited_ms / 1000);
    s_put (&view, "  A job publishes it with: zmr run --status EP, or\n"
                  "  zmr-ventilator --status EP. Ctrl-C to stop.\n");
    s_view_end (&view);
}

static void
s_show_line (const zmr_status_t *status)
{
    zmr_status_write_progress (status, stdout, 0);
    if (status->reason[0])
        printf (" (%s)", status->reason);
    if (status->latency_samples)
        printf (" latency p50 %llu ms p99 %llu ms (%llu chunks, last minute)",
                (unsigned long long) status->latency_p50_ms,
                (unsigned long long) status->latency_p99_ms,
                (unsigned long long) status->latency_samples);
    if (s_backpressure_matters (status))
        printf (" backpressured");
    if (status->window_ms)
        printf (" windows of %llu ms: %llu closed, the last %llu words",
                (unsigned long long) status->window_ms,
                (unsigned long long) status->windows_closed,
                (unsigned long long) status->last_window_words);
    fputc ('\n', stdout);
    fflush (stdout);
}

int
zmr_monitor_run (const zmr_monitor_config_t *config)
{
    zsock_t *sub = zmr_socket (ZMQ_SUB, 16 << 20, 0);
    if (!sub)
        return 1;
    //  Keep only the newest state: a stopped monitor holds one message.
    zsock_set_conflate (sub, 1);
    zsock_set_subscribe (sub, "");
    if (zmr_connect (sub, config->endpoint, NULL)) {
        zsock_destroy (&sub);
        return 1;
    }
    bool live = config->view == ZMR_VIEW_LIVE;
    if (live) {
        struct sigaction action;
        memset (&action, 0, sizeof action);
        action.sa_handler = s_on_winch;
        sigemptyset (&action.sa_mask);
        sigaction (SIGWINCH, &action, NULL);
        s_read_size ();
    }
    int code = 0;
    int64_t start = zmr_now_ms ();
    int64_t heard = 0, drawn = 0;
    bool told = false;
    uint64_t malformed = 0;
    //  The last state shown, to draw it again (resized, or gone quiet).
    zmr_status_t last;
    memset (&last, 0, sizeof last);
    bool have_last = false;
    while (!zmr_interrupted ()) {
        int64_t now = zmr_now_ms ();
        if (live && (s_resized || now - drawn >= 1000)) {
            //  Redraw: the waiting screen, or the last state with how long
            //  it has been quiet.
            if (s_resized)
                s_read_size ();
            if (have_last)
                s_show_live (&last, now - heard);
            else
                s_show_waiting (config->endpoint, now - start);
            drawn = now;
        }
        zmq_pollitem_t item = { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, 200);
        now = zmr_now_ms ();
        if (rc <= 0) {
            if (config->wait_ms && now - (heard? heard: start) > config->wait_ms) {
                zmr_log (0, "no status from %s for %u ms", config->endpoint,
                         config->wait_ms);
                code = 1;
                break;
            }
            if (!heard && !told && now - start > 2000 && config->view == ZMR_VIEW_LINES) {
                zmr_log (0, "waiting for the status at %s", config->endpoint);
                told = true;
            }
            continue;
        }
        zmq_msg_t frame;
        int n;
        if (zmr_msg_recv (sub, &frame, 1, &n, ZMQ_DONTWAIT) == -1)
            continue;
        zmr_msg_t msg;
        zmr_status_t status;
        memset (&status, 0, sizeof status);
        const char *why;
        if (zmr_msg_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &msg, &why)
        ||  (msg.type != ZMR_STATUS && (why = "not a STATUS"))
        ||  zmr_status_decode (&msg, &status, &why)) {
            malformed++;
            zmr_log_dropped ("status", why);
            zmq_msg_close (&frame);
            zmr_status_reset (&status);
            continue;
        }
        zmq_msg_close (&frame);
        heard = now;
        if (config->http)
            zmr_http_publish (config->http, &status);
        if (config->view == ZMR_VIEW_JSON) {
            zmr_status_write_json (&status, stdout);
            fputc ('\n', stdout);
            fflush (stdout);
        }
        else
        if (live) {
            s_show_live (&status, 0);
            drawn = now;
        }
        else
        if (config->view == ZMR_VIEW_LINES)
            s_show_line (&status);
        bool over = !strcmp (status.phase, "done") || !strcmp (status.phase, "failed");
        if (over && !strcmp (status.phase, "failed"))
            code = 1;
        zmr_status_reset (&last);
        last = status;
        have_last = true;
        if (config->once || (over && !config->keep))
            break;
        code = 0;
    }
    zmr_status_reset (&last);
    zsock_destroy (&sub);
    return code;
}
