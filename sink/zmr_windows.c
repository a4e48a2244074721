/*  zmr_windows: the sink's windows. Reducers send each closed window's
    counts as WINDOW parts; once every partition's are here the window is
    written (a file in --window-dir, TOTALS on --publish), WSTORED tells
    the ventilator, and its memory is freed. One window is collected at a
    time: they close in order. */
#include "zmr_windows.h"
#include "zmr_result.h"
#include "zmr_views.h"
#include <errno.h>

struct _zmr_sink_window_t {
    uint64_t id;             //  Window: its start, ms since the epoch
    zmr_counts_t *counts;    //  Its words, every partition's
    zmr_u64set_t **seqs;     //  Per partition, parts received
    uint64_t *parts;         //  Per partition, parts expected (0: none yet)
    uint32_t complete;       //  Partitions complete
    uint64_t words;          //  Sum of its counts
};

static void s_window_done (zmr_sink_state_t *self);

void
zmr_windows_free (zmr_sink_state_t *self)
{
    zmr_sink_window_t *window = self->window;
    if (!window)
        return;
    zmr_counts_destroy (&window->counts);
    for (uint32_t p = 0; window->seqs && p < self->reducers; p++)
        zmr_u64set_destroy (&window->seqs[p]);
    free (window->seqs);
    free (window->parts);
    free (window);
    self->window = NULL;
}

//  A part of a window's counts. Windows come one at a time, in order: a
//  part of another window than the one collected drops that one (its
//  reducers will send it again when CLOSE comes again); a part of one
//  written already is answered with WSTORED (the ventilator did not hear).
void
zmr_windows_on_part (zmr_sink_state_t *self, zmr_msg_t *msg)
{
    if (self->stored_1 && msg->window < self->stored_1) {
        if (msg->window + 1 == self->stored_1) {
            zmr_msg_pack_wstored (zmr_worker_packer (self->worker), self->job, msg->window,
                                  self->stored_words);
            zmr_worker_send (self->worker);
        }
        return;
    }
    if (self->window && self->window->id != msg->window)
        zmr_windows_free (self);
    if (!self->window) {
        zmr_sink_window_t *window = calloc (1, sizeof *window);
        if (window) {
            window->id = msg->window;
            window->counts = zmr_counts_new ();
            window->seqs = calloc (self->reducers, sizeof *window->seqs);
            window->parts = calloc (self->reducers, sizeof *window->parts);
        }
        self->window = window;
        if (!window || !window->counts || !window->seqs || !window->parts)
            goto oom;
        zmr_counts_set_reduce (window->counts, self->reduce);
    }
    zmr_sink_window_t *window = self->window;
    uint32_t p = msg->partition;
    if (window->parts[p] == msg->parts && window->seqs[p]
    &&  zmr_u64set_size (window->seqs[p]) == window->parts[p])
        return;                 //  That partition is whole already
    if (window->parts[p] != msg->parts) {
        if (window->parts[p]) {
            //  Another cut of the same partition's window: it cannot be,
            //  the table does not change once closed; start it again.
            zmr_log (0, "partition %u sent window %llu cut two ways", p,
                     (unsigned long long) window->id);
            zmr_windows_free (self);
            return;
        }
        window->parts[p] = msg->parts;
        window->seqs[p] = zmr_u64set_new ();
        if (!window->seqs[p])
            goto oom;
    }
    int fresh = zmr_u64set_insert (window->seqs[p], msg->seq);
    if (fresh < 0)
        goto oom;
    if (fresh) {
        const char *word;
        uint32_t len;
        uint64_t count;
        while (zmr_msg_next_pair (msg, &word, &len, &count)) {
            if (!zmr_counts_add (window->counts, word, len, count, NULL)) {
                if (errno != EOVERFLOW)
                    goto oom;
                //  Only a key sent twice can overflow: a reducer gone wrong
                zmr_log (0, "window %llu: a sum of the key '%.*s' sent twice passes 64 bits",
                         (unsigned long long) msg->window, (int) (len > 40? 40: len), word);
                zmr_sink_fail (self, 1);
                return;
            }
            window->words += count;
        }
    }
    if (zmr_u64set_size (window->seqs[p]) == window->parts[p]
    &&  ++window->complete == self->reducers)
        s_window_done (self);
    return;
oom:
    zmr_log (0, "out of memory collecting window %llu", (unsigned long long) msg->window);
    zmr_sink_fail (self, 1);
}

//  A window is whole: writes it where asked, tells the ventilator, frees it.
static void
s_window_done (zmr_sink_state_t *self)
{
    zmr_sink_window_t *window = self->window;
    uint64_t start = window->id;
    size_t count;
    zmr_entry_t *sorted = zmr_counts_sorted (window->counts, &count);
    if (!sorted) {
        zmr_log (0, "out of memory writing window %llu", (unsigned long long) window->id);
        zmr_sink_fail (self, 1);
        return;
    }
    if (self->config->window_dir) {
        char path[4096];
        snprintf (path, sizeof path, "%s/window-%llu.tsv", self->config->window_dir,
                  (unsigned long long) start);
        if (zmr_result_write_file ("--window-dir", path, sorted, NULL, count, NULL)) {
            //  Said why; the job cannot keep its promise
            free (sorted);
            zmr_sink_fail (self, 1);
            return;
        }
    }
    if (self->publish)
        zmr_views_publish_entries (self, sorted, count, window->id);
    free (sorted);
    self->stored_1 = window->id + 1;
    self->stored_words = window->words;
    zmr_log (1, "window from %llu ms: %llu words, %zu distinct",
             (unsigned long long) start, (unsigned long long) window->words, count);
    zmr_msg_pack_wstored (zmr_worker_packer (self->worker), self->job, window->id,
                          window->words);
    zmr_worker_send (self->worker);
    zmr_windows_free (self);
}
