/*  zmr_views: the sink's live views of the running totals that reducers
    told LIVE send (kept in zmr_live): changed words on standard output
    (--follow) and on a PUB socket (--publish, TOTALS messages), all of
    them in a file replaced atomically (--snapshot), and, to the ventilator
    for the status, the top words and the latency from text in to count
    visible here (LIVESTAT). */
#include "zmr_views.h"
#include "zmr_result.h"
#include <errno.h>
#include <string.h>
#include <time.h>

//  --follow: one "key<TAB>total" line per changed key (the total signed).
static int
s_follow_line (const char *word, uint32_t len, uint64_t total, void *arg)
{
    FILE *out = (FILE *) arg;
    fwrite (word, 1, len, out);
    fprintf (out, "\t%lld\n", (long long) (int64_t) total);
    return ferror (out)? -1: 0;
}

//  Sends the TOTALS being packed (of window, 0: running totals), if any
//  (final: the last ones).
static void
s_publish_send (zmr_sink_state_t *self, bool final, uint64_t window)
{
    if (!self->npublish && !final)
        return;
    zmr_msg_begin_totals (&self->pk, self->job, final, window, self->npublish);
    msgpack_sbuffer_write (&self->sbuf, self->pubbuf.data, self->pubbuf.size);
    msgpack_sbuffer_clear (&self->pubbuf);
    self->npublish = 0;
    //  A subscriber that does not keep up loses messages (HWM), never
    //  holds the sink up.
    if (zmr_msg_send (self->publish, &self->sbuf, ZMQ_DONTWAIT) == -1)
        msgpack_sbuffer_clear (&self->sbuf);
}

//  --publish: packs a word into TOTALS (of window, 0: running totals) of
//  about 64 KiB each.
static void
s_publish_word (zmr_sink_state_t *self, const char *word, uint32_t len, uint64_t total,
                uint64_t window)
{
    zmr_msg_pack_pair (&self->pubpk, word, len, total);
    self->npublish++;
    if (self->pubbuf.size >= (64u << 10))
        s_publish_send (self, false, window);
}

//  Publishes every entry, the last message final: a window's counts, or at
//  the end every total once more, so a late subscriber ends whole.
void
zmr_views_publish_entries (zmr_sink_state_t *self, zmr_entry_t *entries, size_t count,
                           uint64_t window)
{
    for (size_t i = 0; i < count; i++)
        s_publish_word (self, entries[i].word, entries[i].len, entries[i].count, window);
    s_publish_send (self, true, window);
}

static void
s_publish_all (zmr_sink_state_t *self)
{
    size_t count;
    zmr_entry_t *sorted = zmr_live_sorted (self->live, &count);
    if (!sorted) {
        zmr_log (0, "out of memory publishing %zu totals", count);
        zmr_sink_fail (self, 1);
        return;
    }
    zmr_views_publish_entries (self, sorted, count, 0);
    free (sorted);
}

//  Both: each changed word once to every view that wants it.
static int
s_changed (const char *word, uint32_t len, uint64_t total, void *arg)
{
    zmr_sink_state_t *self = (zmr_sink_state_t *) arg;
    if (self->config->follow && s_follow_line (word, len, total, stdout))
        return -1;
    if (self->publish)
        s_publish_word (self, word, len, total, 0);
    return 0;
}

//  Writes every running total to the snapshot file, whole or not at all.
//  One that cannot be written is a lasting failure: the user asked for it,
//  and a file that silently stops changing would be a lie.
static void
s_snapshot (zmr_sink_state_t *self)
{
    size_t count;
    zmr_entry_t *sorted = zmr_live_sorted (self->live, &count);
    if (!sorted) {
        zmr_log (0, "out of memory for a snapshot of %zu words", count);
        zmr_sink_fail (self, 1);
        return;
    }
    char temp[4096], target[4096];
    FILE *out = zmr_result_temp_open ("--snapshot", self->config->snapshot, target, temp,
                                      sizeof temp);
    //  No fsync: a snapshot is replaced before long; rename keeps it whole.
    if (!out
    ||  zmr_result_temp_commit (out, temp, target,
                                zmr_result_write_entries (out, sorted, NULL, count, NULL),
                                "--snapshot", false))
        zmr_sink_fail (self, zmr_result_write_failed ());
    free (sorted);
    self->snapshot_updates = zmr_live_updates (self->live);
}

//  CPU time of this thread, in ms: what a snapshot costs, however busy the
//  machine (its wall time on a loaded one would back it off for nothing).
static int64_t
s_cpu_ms (void)
{
    struct timespec ts;
    if (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts))
        return 0;
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  The ventilator's view for the status: latency and the top words.
static void
s_livestat (zmr_sink_state_t *self)
{
    uint64_t p50, p99, samples;
    zmr_live_latency (self->live, zmr_wall_ms (), 60000, &p50, &p99, &samples);
    zmr_entry_t top[ZMR_TOP_MAX];
    size_t k = self->config->top < ZMR_TOP_MAX? self->config->top: ZMR_TOP_MAX;
    size_t n = zmr_live_top (self->live, top, k);
    zmr_msg_begin_livestat (zmr_worker_packer (self->worker), self->job, p50, p99, samples,
                            (uint32_t) n);
    for (size_t i = 0; i < n; i++)
        zmr_msg_pack_pair (zmr_worker_packer (self->worker), top[i].word,
                           top[i].len < 256? top[i].len: 256, top[i].count);
    zmr_worker_send (self->worker);
}

//  What is due of the live views; forced: all of it now (the job ends).
//  A view waits only when there is more to wait for: a word's line (and
//  TOTALS pair) goes out as soon as the word changed, unless the word went
//  out less than --follow-ms ago: then once that is over, with its latest
//  total (a busy word at most once per interval, as many lines as a
//  coalescing clock would make, and a word that changed after a quiet
//  time without a clock tick's wait). The snapshot likewise: at once after
//  a quiet --snapshot-ms, else once that has passed since the last one,
//  and never more often than 4 times its own cost (CPU time), so that a
//  large one takes at most a fifth of the sink's time. next_follow says when the
//  next of them is due, for the sink's poll.
void
zmr_views_tick (zmr_sink_state_t *self, bool forced)
{
    int64_t now = zmr_now_ms ();
    if (!forced && zmr_live_updates (self->live) == 0)
        return;
    int64_t interval = self->config->follow_ms;
    if ((self->config->follow || self->publish)
    &&  (forced || zmr_live_due (self->live, interval) <= now)) {
        if ((forced? zmr_live_drain (self->live, s_changed, self)
                   : zmr_live_drain_due (self->live, now, interval, s_changed, self))
        ||  (self->config->follow && fflush (stdout))) {
            //  A reader that went away ends us as it ends any filter
            int quiet = zmr_result_quiet_code (errno);
            if (quiet) {
                zmr_result_drop_stdout ();
                zmr_sink_fail (self, quiet);
            }
            else {
                zmr_log (0, "cannot write the running totals to standard output: %s",
                         strerror (errno));
                zmr_sink_fail (self, 1);
            }
            return;
        }
        if (self->publish)
            s_publish_send (self, false, 0);
    }
    if (forced && self->publish)
        s_publish_all (self);
    bool snapshot_due = self->config->snapshot
                     && zmr_live_updates (self->live) != self->snapshot_updates;
    if (snapshot_due && (forced || now >= self->next_snapshot)) {
        int64_t cpu = s_cpu_ms ();
        s_snapshot (self);
        int64_t took = s_cpu_ms () - cpu;
        self->next_snapshot = now + (4 * took > (int64_t) self->config->snapshot_ms
                                     ? 4 * took: (int64_t) self->config->snapshot_ms);
        snapshot_due = false;
    }
    else
    if (forced && self->config->snapshot)
        s_snapshot (self);
    self->next_follow = INT64_MAX;
    if (self->config->follow || self->publish)
        self->next_follow = zmr_live_due (self->live, interval);
    if (snapshot_due && self->next_snapshot < self->next_follow)
        self->next_follow = self->next_snapshot;
    if (self->next_follow < now)
        self->next_follow = now;
    if (forced || now >= self->next_livestat) {
        self->next_livestat = now + self->config->heartbeat_ms;
        s_livestat (self);
    }
}
