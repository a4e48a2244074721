/*  zmr_sink: each partition arrives as numbered RESULT parts; a part seen
    before is dropped, so a partition sent twice (the ventilator FLUSHes
    again when in doubt) is held once. The result is sorted once, here, and
    written to a temporary name that is renamed into place when complete.

    While the job runs, reducers told LIVE send UPDATEs of their running
    totals; the sink keeps them (zmr_live) and shows them (zmr_views.c).
    With windows, reducers send each closed window's counts as WINDOW parts
    (zmr_windows.c). The result and the receipt are written by
    zmr_result.c. This file is the actor: the join, the partitions
    collected, the control messages and the loop. */
#include "zmr_sink_state.h"
#include "zmr_result.h"
#include "zmr_views.h"
#include "zmr_windows.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
s_heartbeat (zmr_sink_state_t *self)
{
    zmr_worker_heartbeat (self->worker, self->job, 0);
}

static void
s_on_result (zmr_sink_state_t *self)
{
    zmq_msg_t frame;
    zmr_msg_t msg;
    if (!zmr_worker_recv (self->results, "results", &frame, 1, &msg,
                          &self->counters->malformed))
        return;
    const char *why;
    if ((msg.type != ZMR_RESULT && msg.type != ZMR_UPDATE && msg.type != ZMR_WINDOW
         && (why = "not a RESULT"))
    ||  (msg.job != self->job && (why = "RESULT of another job"))
    ||  (msg.reducers != self->reducers && (why = "RESULT for another reducer count"))) {
        self->counters->malformed++;
        zmr_log_dropped ("results", why);
        zmq_msg_close (&frame);
        return;
    }
    if (msg.type == ZMR_WINDOW) {
        zmr_windows_on_part (self, &msg);
        zmq_msg_close (&frame);
        return;
    }
    if (msg.type == ZMR_UPDATE) {
        int rc = zmr_live_update (self->live, &msg, zmr_wall_ms ());
        zmq_msg_close (&frame);
        if (rc) {
            zmr_log (0, "out of memory for the running totals");
            zmr_sink_fail (self, 1);
        }
        return;
    }
    zmr_sink_partition_t *partition = &self->partitions[msg.partition];
    if (partition->complete) {
        zmq_msg_close (&frame);
        return;
    }
    if (partition->parts != msg.parts) {
        //  A different cut of the partition: start it again from this one.
        zmr_counts_clear (partition->counts);
        zmr_u64set_destroy (&partition->seqs);
        partition->seqs = zmr_u64set_new ();
        partition->parts = msg.parts;
    }
    int fresh = partition->seqs? zmr_u64set_insert (partition->seqs, msg.seq): -1;
    if (fresh == 1) {
        const char *word;
        uint32_t len;
        uint64_t count;
        while (zmr_msg_next_pair (&msg, &word, &len, &count)) {
            bool is_new;
            if (!zmr_counts_add (partition->counts, word, len, count, &is_new)) {
                fresh = -1;
                break;
            }
            //  Within one partition each word comes once; a repeat is a
            //  reducer gone wrong, and a sum would hide it.
            if (!is_new) {
                zmr_log (0, "partition %u sent the word '%.*s' twice",
                         msg.partition, (int) (len > 40? 40: len), word);
                self->counters->malformed++;
            }
            self->counters->words += count;
        }
    }
    zmq_msg_close (&frame);
    if (fresh < 0) {
        zmr_log (0, "out of memory collecting partition %u", msg.partition);
        zmr_sink_fail (self, 1);
        return;
    }
    if (zmr_u64set_size (partition->seqs) == partition->parts) {
        partition->complete = true;
        self->complete++;
        self->counters->chunks++;
        self->counters->distinct += zmr_counts_size (partition->counts);
        zmr_msg_pack_stored (zmr_worker_packer (self->worker), self->job, msg.partition);
        zmr_worker_send (self->worker);
    }
}

static void
s_on_control (zmr_sink_state_t *self)
{
    zmq_msg_t frame;
    zmr_msg_t msg;
    if (!zmr_worker_recv_control (self->worker, &frame, &msg))
        return;
    const char *why;
    if (msg.type == ZMR_FINISH && msg.job == self->job) {
        self->finished = true;
        self->finish_ok = msg.flag;
        zmr_status_reset (&self->final);
        if (zmr_status_decode (&msg, &self->final, &why))
            zmr_log (0, "FINISH without a readable state: %s", why);
        //  The ventilator said why, once for the whole job
        if (!msg.flag)
            zmr_log (1, "the job ended without success: %s", msg.reason);
    }
    else
    if (msg.type == ZMR_REJECT) {
        zmr_log (0, "rejected by the ventilator: %s", msg.reason);
        self->finished = true;
    }
    else
    if (msg.type == ZMR_AGAIN) {
        zmr_msg_pack_hello (zmr_worker_packer (self->worker), self->job, ZMR_ROLE_SINK, 0, 0,
                            self->endpoint, zmr_worker_name (self->worker), 0,
                            zmr_curve_public_key ());
        zmr_worker_send (self->worker);
    }
    else
    if (msg.type != ZMR_WELCOME) {
        self->counters->malformed++;
        zmr_log_dropped ("control", "unexpected message");
    }
    zmq_msg_close (&frame);
}

int
zmr_sink_run (const zmr_sink_config_t *config)
{
    zmr_sink_state_t self;
    memset (&self, 0, sizeof self);
    self.config = config;
    msgpack_sbuffer_init (&self.sbuf);
    msgpack_packer_init (&self.pk, &self.sbuf, msgpack_sbuffer_write);
    msgpack_sbuffer_init (&self.pubbuf);
    msgpack_packer_init (&self.pubpk, &self.pubbuf, msgpack_sbuffer_write);
    self.results = zmr_socket (ZMQ_PULL, ZMR_MAX_MSG + (64 << 10), 0);
    int code = 1;
    if (!self.results)
        goto cleanup;
    char bound[ZMR_ENDPOINT_MAX];
    //  An endpoint that cannot be bound now (in use, a missing ipc://
    //  directory) will not be bound by starting again: said, exit 2, as
    //  for an output found unwritable at start
    if (zmr_bind (self.results, config->bind, bound)) {
        code = 2;
        goto cleanup;
    }
    if (config->publish) {
        //  Outbound only; subscribers that lag lose updates, never stall us.
        self.publish = zmr_socket (ZMQ_PUB, 256, 1000);
        if (!self.publish)
            goto cleanup;
        zsock_set_sndhwm (self.publish, 1000);
        if (zmr_bind (self.publish, config->publish, NULL)) {
            code = 2;
            goto cleanup;
        }
    }
    snprintf (self.endpoint, sizeof self.endpoint, "%s",
              config->advertise? config->advertise: bound);
    self.worker = zmr_worker_new (config->control, config->name, config->heartbeat_ms, false);
    if (!self.worker)
        goto cleanup;
    self.counters = zmr_worker_counters (self.worker);
    zmr_join_t join = { .role = ZMR_ROLE_SINK, .endpoint = self.endpoint,
                        .wait_ms = config->wait_ms };
    zmq_msg_t frame;
    zmr_msg_t welcome;
    int joined = 2;
    while (joined == 2)
        joined = zmr_worker_join (self.worker, &join, &frame, &welcome);
    if (joined != 0) {
        code = joined > 0? 0: 1;
        goto cleanup;
    }
    self.job = welcome.job;
    self.reducers = welcome.reducers;
    zmq_msg_close (&frame);
    self.partitions = calloc (self.reducers, sizeof *self.partitions);
    self.live = zmr_live_new (self.reducers);
    if (!self.partitions || !self.live)
        goto cleanup;
    for (uint32_t p = 0; p < self.reducers; p++) {
        self.partitions[p].counts = zmr_counts_new ();
        self.partitions[p].seqs = zmr_u64set_new ();
        if (!self.partitions[p].counts || !self.partitions[p].seqs)
            goto cleanup;
    }
    s_heartbeat (&self);
    bool written = false;
    uint64_t done_words = 0, done_distinct = 0;
    while (!self.finished && !self.fail && !zmr_interrupted ()) {
        zmq_pollitem_t items[] = {
            { zsock_resolve (self.results), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (zmr_worker_control (self.worker)), 0, ZMQ_POLLIN, 0 },
        };
        int64_t wait = zmr_worker_heartbeat_in (self.worker);
        if (zmr_live_updates (self.live) && self.next_follow - zmr_now_ms () < wait)
            wait = self.next_follow - zmr_now_ms ();
        int rc = zmq_poll (items, 2, wait > 0? (long) wait: 0);
        if (rc == -1 && errno != EINTR)
            break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            //  A bounded batch, so the live views keep their pace.
            for (int i = 0; i < 64 && !self.fail
                            && (zsock_events (self.results) & ZMQ_POLLIN); i++)
                s_on_result (&self);
        zmr_views_tick (&self, false);
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            s_on_control (&self);
        if (zmr_worker_heartbeat_in (self.worker) <= 0) {
            s_heartbeat (&self);
            if (written) {
                //  Until FINISH: a ventilator that restarted meanwhile
                //  must still hear that the result is written.
                zmr_msg_pack_done (zmr_worker_packer (self.worker), self.job, done_words,
                                   done_distinct, 0);
                zmr_worker_send (self.worker);
            }
        }
        if (!written && self.complete == self.reducers) {
            //  The running totals end as the result: the reducers' last
            //  UPDATEs came before their results, and anything an UPDATE
            //  did not carry (one the sink's queue refused, a reducer
            //  restarted) is set from the partitions.
            if (zmr_live_updates (self.live) || config->follow || config->snapshot
            ||  config->publish)
                for (uint32_t p = 0; p < self.reducers; p++) {
                    zmr_counts_t *counts = self.partitions[p].counts;
                    zmr_entry_t *entries = zmr_counts_entries (counts);
                    for (size_t i = 0; i < zmr_counts_size (counts); i++)
                        if (zmr_live_set (self.live, entries[i].word, entries[i].len,
                                          entries[i].count)) {
                            zmr_log (0, "out of memory for the running totals");
                            zmr_sink_fail (&self, 1);
                            break;
                        }
                }
            if (!self.fail)
                zmr_views_tick (&self, true);
            zmr_counts_t *counts[ZMR_MAX_REDUCERS];
            for (uint32_t p = 0; p < self.reducers; p++)
                counts[p] = self.partitions[p].counts;
            if (!self.fail)
                zmr_sink_fail (&self, zmr_result_write (config, counts, self.reducers,
                                                        &self.digest, &done_words,
                                                        &done_distinct));
            if (self.fail)
                break;
            written = true;
            s_heartbeat (&self);
            zmr_msg_pack_done (zmr_worker_packer (self.worker), self.job, done_words,
                               done_distinct, 0);
            zmr_worker_send (self.worker);
            zmr_log (1, "wrote %llu words, %llu distinct", (unsigned long long) done_words,
                     (unsigned long long) done_distinct);
        }
    }
    if (self.fail) {
        //  Said why (or quiet: a closed standard output); leaving, so the
        //  ventilator does not wait for this sink's heartbeats
        zmr_worker_bye (self.worker, self.job);
        code = self.fail;
    }
    else
    if (self.finished) {
        code = self.finish_ok && written? 0: 1;
        if (code == 0 && config->receipt
        &&  zmr_result_write_receipt (config->receipt, self.job, &self.final, done_words,
                                      done_distinct, self.digest))
            code = zmr_result_write_failed ();
    }
    else
    if (zmr_interrupted ()) {
        zmr_worker_bye (self.worker, self.job);
        code = 0;
    }
cleanup:
    zmr_status_reset (&self.final);
    for (uint32_t p = 0; self.partitions && p < self.reducers; p++) {
        zmr_counts_destroy (&self.partitions[p].counts);
        zmr_u64set_destroy (&self.partitions[p].seqs);
    }
    free (self.partitions);
    zmr_live_destroy (&self.live);
    zmr_windows_free (&self);
    zsock_destroy (&self.publish);
    msgpack_sbuffer_destroy (&self.pubbuf);
    zsock_destroy (&self.results);
    zmr_worker_destroy (&self.worker);
    msgpack_sbuffer_destroy (&self.sbuf);
    return code;
}
