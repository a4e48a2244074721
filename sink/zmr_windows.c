/*  zmr_windows: the sink's windows. Reducers send each closed window's
    counts as WINDOW parts; once every partition's are here the window is
    written (a file in --window-dir, TOTALS on --publish), WSTORED tells
    the ventilator, and its memory is freed. One window is collected at a
    time: they close in order.

    A window file is written once: by rename, whole, and never over other
    content. A window that comes again when its file is there already (this
    sink was started again after writing it, or the ventilator after it
    heard nothing of it) is compared with the file: the same lines are the
    same window, stored (WSTORED, nothing written); other lines fail the
    job, which would else replace a window already read. */
#include "zmr_windows.h"
#include "zmr_result.h"
#include "zmr_views.h"
#include <errno.h>
#include <sys/stat.h>

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

//  Whether the window file path holds these count sorted entries already: 1
//  yes (the same bytes), 0 there is no such file, -1 after saying why when
//  it holds others or cannot be read.
static int
s_written (const char *path, const zmr_entry_t *sorted, size_t count)
{
    struct stat info;
    if (stat (path, &info)) {
        if (errno == ENOENT)
            return 0;
        zmr_log (0, "--window-dir: cannot use '%s': %s", path, strerror (errno));
        return -1;
    }
    char *mine = NULL, *theirs = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&mine, &size);
    int rc = -1;
    if (!out || zmr_result_write_entries (out, sorted, NULL, count, NULL)) {
        if (out)
            fclose (out);
        zmr_log (0, "out of memory checking '%s'", path);
        goto done;
    }
    if (fclose (out)) {
        zmr_log (0, "out of memory checking '%s'", path);
        goto done;
    }
    FILE *in = fopen (path, "rb");
    theirs = (size_t) info.st_size == size? malloc (size + 1): NULL;
    bool same = in && theirs && fread (theirs, 1, size + 1, in) == size
             && memcmp (mine, theirs, size) == 0;
    if (!in)
        zmr_log (0, "--window-dir: cannot read '%s': %s", path, strerror (errno));
    else
    if (!same)
        zmr_log (0, "--window-dir: '%s' is there already with other counts (of an "
                 "earlier run?): a window is written once; remove it or use another "
                 "directory", path);
    else {
        zmr_log (1, "window file '%s' is there already, the same: stored", path);
        rc = 1;
    }
    if (in)
        fclose (in);
done:
    free (mine);
    free (theirs);
    return rc;
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
        int there = s_written (path, sorted, count);
        if (there < 0) {
            free (sorted);
            zmr_sink_fail (self, 1);
            return;
        }
        if (there == 0
        &&  zmr_result_write_file ("--window-dir", path, sorted, NULL, count, NULL)) {
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
