/*  zmr_monitor: SUB to the status PUB, CONFLATE so that a stopped monitor
    holds one state, not a backlog, and the job's PUB drops for it rather
    than wait. */
#include "zmr_monitor.h"
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int
s_width (void)
{
    struct winsize ws;
    if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    return 100;
}

//  The running totals' part of the view, when the job has them: latency
//  and, live, the top words (in a column, or on one line).
static void
s_show_stream (const zmr_status_t *status, bool live)
{
    if (status->latency_samples)
        printf ("%slatency p50 %llu ms p99 %llu ms (%llu chunks, last minute)",
                live? "  ": " ", (unsigned long long) status->latency_p50_ms,
                (unsigned long long) status->latency_p99_ms,
                (unsigned long long) status->latency_samples);
    if (status->backpressured)
        printf ("%s", live? "  BACKPRESSURED: input waits for the pipeline": " backpressured");
    if (status->window_ms)
        printf ("%swindows of %llu ms: %llu closed, the last %llu words",
                live? "  ": " ", (unsigned long long) status->window_ms,
                (unsigned long long) status->windows_closed,
                (unsigned long long) status->last_window_words);
    if (live && (status->latency_samples || status->backpressured || status->window_ms))
        fputc ('\n', stdout);
    if (live && status->ntop) {
        printf ("\n  top words so far:\n");
        for (uint32_t t = 0; t < status->ntop; t++)
            printf ("  %12llu  %s\n", (unsigned long long) status->top[t].count,
                    status->top[t].word);
    }
    if (live && (status->ntop || status->latency_samples))
        fputc ('\n', stdout);
}

static void
s_show_live (const zmr_status_t *status)
{
    char b1[32], b2[32];
    //  Home and clear: redraw the whole view.
    fputs ("\033[H\033[2J", stdout);
    printf ("zmr job %016llx  phase %s  elapsed %.1f s\n",
            (unsigned long long) status->job, status->phase,
            (double) status->elapsed_ms / 1000);
    if (status->reason[0])
        printf ("  %s\n", status->reason);
    zmr_status_write_progress (status, stdout, s_width ());
    printf ("\n  input %sB%s  words %s  re-issued %llu  in flight %llu  "
            "duplicates %llu  malformed %llu\n\n",
            zmr_human (status->input_bytes, b1, sizeof b1),
            status->input_known? "": " (so far)", zmr_human (status->words, b2, sizeof b2),
            (unsigned long long) status->chunks_reissued,
            (unsigned long long) status->in_flight,
            (unsigned long long) status->duplicates,
            (unsigned long long) status->malformed);
    s_show_stream (status, true);
    printf ("  %-4s %-8s %-28s %-6s %8s %12s %10s %8s\n", "id", "role", "name",
            "state", "chunks", "words", "distinct", "seen");
    for (uint32_t i = 0; i < status->nworkers; i++) {
        const zmr_worker_status_t *w = &status->workers[i];
        char role[24];
        if (!strcmp (w->role, "reducer"))
            snprintf (role, sizeof role, "red %llu", (unsigned long long) w->partition);
        else
            snprintf (role, sizeof role, "%s", w->role);
        printf ("  %-4llu %-8s %-28.28s %-6s %8llu %12llu %10llu %6.1fs\n",
                (unsigned long long) w->id, role, w->name, w->state,
                (unsigned long long) w->chunks, (unsigned long long) w->words,
                (unsigned long long) w->distinct, (double) w->last_seen_ms / 1000);
    }
    fflush (stdout);
}

static void
s_show_line (const zmr_status_t *status)
{
    zmr_status_write_progress (status, stdout, 100);
    if (status->reason[0])
        printf (" (%s)", status->reason);
    s_show_stream (status, false);
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
    int code = 0;
    int64_t start = zmr_now_ms ();
    int64_t heard = 0;
    bool told = false;
    uint64_t malformed = 0;
    while (!zmr_interrupted ()) {
        zmq_pollitem_t item = { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, 200);
        int64_t now = zmr_now_ms ();
        if (rc <= 0) {
            if (config->wait_ms && now - (heard? heard: start) > config->wait_ms) {
                zmr_log (0, "no status from %s for %u ms", config->endpoint,
                         config->wait_ms);
                code = 1;
                break;
            }
            if (!heard && !told && now - start > 2000 && config->view == ZMR_VIEW_LIVE) {
                zmr_log (0, "waiting for status at %s", config->endpoint);
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
        if (config->view == ZMR_VIEW_JSON) {
            zmr_status_write_json (&status, stdout);
            fputc ('\n', stdout);
            fflush (stdout);
        }
        else
        if (config->view == ZMR_VIEW_LIVE)
            s_show_live (&status);
        else
            s_show_line (&status);
        bool over = !strcmp (status.phase, "done") || !strcmp (status.phase, "failed");
        if (over && !strcmp (status.phase, "failed"))
            code = 1;
        zmr_status_reset (&status);
        if (config->once || (over && !config->keep))
            break;
        code = 0;
    }
    zsock_destroy (&sub);
    return code;
}
