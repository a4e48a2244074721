/*  zmr_reducer: one partition's counts. A BATCH is applied only if its
    chunk has not been applied here before (the set of applied chunk ids is
    the whole of the de-duplication); either way it is ACKed, so an ACK lost
    on the way can never stall the job.

    Told LIVE, it also sends the sink, every interval, the running total of
    each word that changed (UPDATE; an entry's aux marks it changed) and the
    chunks applied since the last one, with their stamps, so the sink can
    show totals while the job runs and measure how late they are. Totals,
    not increments: an UPDATE lost or sent twice leaves nothing wrong.

    With windows (LIVE's window_ms), each batch also counts into the table
    of its chunk's window (stamp / window_ms); CLOSE sends a window's table
    to the sink as WINDOW parts. A closed window's table is kept until the
    next CLOSE (the ventilator may ask again) and then freed, so memory is
    the partition's vocabulary times the windows open.

    Values merge by the job's reduce (WELCOME): sum, min or max of signed
    64-bit integers, in the partition, its windows and so its running
    totals. A sum that would pass 64 bits fails the job (FAIL naming the
    key), never wraps: the partition is then left as it is (the batch half
    merged), nothing more is applied, ACKed, stored or sent, and the
    ventilator ends the job. The partition also counts the pairs of the
    batches it applied (duplicates not), which RESULT carries for the
    ventilator's end check.

    With --state, a BATCH is appended to the store's log after it is
    applied and before it is ACKed, so every ACK the ventilator holds is
    backed by the log: a reducer killed at any moment comes back with every
    batch it ACKed (snapshot + log replayed through the same apply path),
    and a batch that overflowed is never logged, so the state of a failed
    job replays. The snapshot holds the reduce and the pair count; one is
    written when the job is taken, before the first batch is logged. With
    windows it also holds the window length and the open windows' tables,
    and one is written when LIVE first gives the length, so the log's
    batches (which carry their chunks' stamps) replay into their windows:
    a reducer killed with windows open comes back with them whole.

    Event time (zmr_evtime.h): a BATCH's runs say where its pairs count. A
    PANE run's words count in the partition and in the table of the pane
    (its start the id, in the same list as windows), a TOTALS run's (the
    words of late lines and lines without time) in the partition only, and
    a SIDE run's side records (a key per late or no-time line, value 1) in
    the side table (id ZMR_SIDE_TABLE) only: never in the result, but in
    the pair count, as the mappers count them. LIVE says panes, and
    window_ms 0. CLOSE with a span sends a window's panes summed and the
    side records of its close (see s_close_panes). The snapshot keeps the
    panes and the side table as it keeps windows (window length 0), and
    the log's batches carry their runs, so both survive a kill -9. */
#include "zmr_reducer.h"
#include "zmr_worker.h"
#include <ctype.h>
#include <errno.h>
#include <string.h>

#define S_PART_BYTES (4u << 20)      //  Target size of one RESULT message
#define S_STAMPS_MAX 65536           //  Chunks held for the next UPDATE

typedef zmr_store_window_t s_window_t;  //  A window: its start, its table

typedef struct {
    const zmr_reducer_config_t *config;
    zmr_worker_t *worker;            //  Control link to the ventilator
    zmr_counters_t *counters;        //  The worker's, for heartbeats
    char endpoint[ZMR_ENDPOINT_MAX]; //  As advertised
    uint64_t job;                    //  Adopted from WELCOME
    uint32_t reducers;               //  R
    uint64_t part_bytes;             //  Bytes of pairs in one RESULT, UPDATE or
                                     //  WINDOW: S_PART_BYTES, or a quarter of
                                     //  the job's --max-message if less
    zsock_t *batches;                //  PULL from mappers
    zsock_t *sink;                   //  PUSH to the sink, once flushed
    char sink_endpoint[ZMR_ENDPOINT_MAX];  //  Where sink is connected
    char sink_key[ZMR_KEY_MAX];            //  ... and its CURVE key
    zmr_counts_t *counts;            //  The partition's counts
    zmr_u64set_t *applied;           //  Chunk ids applied
    int reduce;                      //  The job's (zmr_reduce_t); stored: -1
                                     //  until a snapshot or WELCOME says
    uint64_t pair_count;             //  Pairs of the batches applied
    uint64_t magnitude;              //  Bound on every value's size: the sum
                                     //  of the values' sizes, saturated
    bool measured;                   //  magnitude is of the table as loaded
    bool overflowed;                 //  A sum passed 64 bits: FAIL sent,
                                     //  nothing more is applied
    char overflow[ZMR_REASON_MAX];   //  ... saying which key
    zmr_store_t *store;              //  Durable state, or NULL
    int64_t next_sync;               //  When the log is fsynced next
    int64_t next_snapshot;           //  When a snapshot is due
    msgpack_sbuffer sbuf;            //  What goes to the sink
    msgpack_packer pk;               //  Packs into sbuf
    bool finished;                   //  FINISH received
    bool finish_ok;                  //  ... for a job that was done
    bool over_limit;                 //  --max-distinct passed: FAIL sent
    uint32_t live_ms;                //  UPDATE period, 0 until LIVE
    int64_t next_update;             //  When the next UPDATE is due
    uint32_t *dirty;                 //  Entries changed since the last UPDATE
    size_t ndirty, dirty_cap;
    uint64_t *stamps;                //  (chunk, stamp) applied since then
    size_t nstamps, stamps_cap;      //  (in uint64s: two per chunk)
    uint64_t window_ms;              //  Window length, 0: no windows
    s_window_t *windows;             //  Open windows, and the last closed
    size_t nwindows, windows_cap;
    bool failed;                     //  Cannot go on (said why): the loop
                                     //  ends and the reducer exits 1
} s_reducer_t;

//  A failure the reducer cannot go on after (its state would be wrong or
//  unlogged): said by the caller; the loop ends and _run exits 1 without
//  BYE, as a crash would, so the ventilator re-issues what it did not ACK.
static void
s_fail (s_reducer_t *self)
{
    self->failed = true;
}

static void
s_heartbeat (s_reducer_t *self)
{
    self->counters->distinct = zmr_counts_size (self->counts);
    zmr_worker_heartbeat (self->worker, self->job, 0);
}

//  Grows a vector of n elements of size bytes to hold one more. Returns 0
//  or -1.
static int
s_grow (void **vector, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t want = *cap? *cap * 2: 1024;
    void *grown = realloc (*vector, want * size);
    if (!grown)
        return -1;
    *vector = grown;
    *cap = want;
    return 0;
}

//  Marks the entries of pairs changed, for the next UPDATE.
static int
s_mark (s_reducer_t *self, const zmr_pair_t *pairs, size_t n)
{
    zmr_entry_t *entries = zmr_counts_entries (self->counts);
    for (size_t i = 0; i < n; i++) {
        zmr_entry_t *entry = zmr_counts_lookup (self->counts, pairs[i].word, pairs[i].len);
        if (!entry || entry->aux)
            continue;
        if (s_grow ((void **) &self->dirty, self->ndirty, &self->dirty_cap, sizeof (uint32_t)))
            return -1;
        entry->aux = 1;
        self->dirty[self->ndirty++] = (uint32_t) (entry - entries);
    }
    return 0;
}

//  Marks every entry changed: a new sink (or this reducer, restarted)
//  needs all of them.
static int
s_mark_all (s_reducer_t *self)
{
    size_t size = zmr_counts_size (self->counts);
    zmr_entry_t *entries = zmr_counts_entries (self->counts);
    for (size_t i = 0; i < size; i++) {
        if (entries[i].aux)
            continue;
        if (s_grow ((void **) &self->dirty, self->ndirty, &self->dirty_cap, sizeof (uint32_t)))
            return -1;
        entries[i].aux = 1;
        self->dirty[self->ndirty++] = (uint32_t) i;
    }
    return 0;
}

//  The table of window id, created if new; NULL on out-of-memory.
static zmr_counts_t *
s_window (s_reducer_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->nwindows; i++)
        if (self->windows[i].id == id)
            return self->windows[i].counts;
    if (s_grow ((void **) &self->windows, self->nwindows, &self->windows_cap,
                sizeof (s_window_t)))
        return NULL;
    zmr_counts_t *counts = zmr_counts_new ();
    if (counts) {
        zmr_counts_set_reduce (counts, self->reduce);
        self->windows[self->nwindows++] = (s_window_t) { id, counts };
    }
    return counts;
}

//  The table to load a stored window into.
static zmr_counts_t *
s_window_load (uint64_t id, void *arg)
{
    return s_window ((s_reducer_t *) arg, id);
}

//  Frees every window.
static void
s_windows_free (s_reducer_t *self)
{
    for (size_t i = 0; i < self->nwindows; i++)
        zmr_counts_destroy (&self->windows[i].counts);
    self->nwindows = 0;
}

//  Writes a snapshot of everything, the windows too (which empties the
//  log). Returns 0 or -1.
static int
s_snapshot (s_reducer_t *self)
{
    return zmr_store_snapshot_windows (self->store, self->job, self->reducers, self->reduce,
                                       self->pair_count, self->counts, self->applied,
                                       self->window_ms, self->windows, self->nwindows);
}

//  The size of a value, |value| (2^63 for INT64_MIN fits).
static inline uint64_t
s_size (uint64_t value)
{
    return (int64_t) value < 0? -value: value;
}

//  magnitude from the table as loaded: no value is larger than it, and a
//  sum stays within 64 bits while it does (zmr_counts_add_pairs' fast path).
static void
s_measure (s_reducer_t *self)
{
    size_t size = zmr_counts_size (self->counts);
    zmr_entry_t *entries = zmr_counts_entries (self->counts);
    uint64_t sum = 0;
    for (size_t i = 0; i < size; i++)
        if (__builtin_add_overflow (sum, s_size (entries[i].count), &sum))
            sum = UINT64_MAX;
    self->magnitude = sum;
    self->measured = true;
}

//  The FAIL reason for a sum of key that passes 64 bits in counts (the
//  partition's or window's), the key cut and its bytes made printable.
static void
s_overflow_reason (s_reducer_t *self, const char *key, uint32_t len, uint64_t window_1)
{
    char shown[128];
    size_t at = 0;
    uint32_t i = 0;
    for (; i < len && at + 8 < sizeof shown; i++) {
        unsigned char c = (unsigned char) key[i];
        if (isprint (c) && c != '\\' && c != '\'')
            shown[at++] = (char) c;
        else
            at += (size_t) snprintf (shown + at, sizeof shown - at, "\\x%02x", c);
    }
    shown[at] = 0;
    bool cut = i < len;
    char window[64] = "";
    if (window_1)
        snprintf (window, sizeof window, " (window %llu)",
                  (unsigned long long) (window_1 - 1));
    snprintf (self->overflow, sizeof self->overflow,
              "sum of key '%s%s' passes 64 bits in partition %u%s (overflow)", shown,
              cut? "...": "",
              self->config->partition, window);
}

//  Merges n pairs into the partition and the window (NULL: none, else its
//  id + 1 in window_1). While the sizes of all values merged stay within
//  INT64_MAX no sum can pass 64 bits, and the pairs go in at the table's
//  pace; past that (a sum job of large values) one by one, so that the key
//  whose sum would pass is known. Returns 0, or -1 with errno ENOMEM, or
//  EOVERFLOW with the reason in self->overflow.
static int
s_merge (s_reducer_t *self, const zmr_pair_t *pairs, size_t n, zmr_counts_t *window,
         uint64_t window_1)
{
    uint64_t sizes = self->magnitude;
    for (size_t i = 0; i < n; i++)
        if (__builtin_add_overflow (sizes, s_size (pairs[i].count), &sizes))
            sizes = UINT64_MAX;
    self->magnitude = sizes;
    if (self->reduce != ZMR_REDUCE_SUM || sizes <= INT64_MAX) {
        if (zmr_counts_add_pairs (self->counts, pairs, n)
        ||  (window && zmr_counts_add_pairs (window, pairs, n))) {
            errno = ENOMEM;     //  A sum cannot pass 64 bits here
            return -1;
        }
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!zmr_counts_add (self->counts, pairs[i].word, pairs[i].len, pairs[i].count, NULL)) {
            if (errno == EOVERFLOW)
                s_overflow_reason (self, pairs[i].word, (uint32_t) pairs[i].len, 0);
            return -1;
        }
        if (window
        &&  !zmr_counts_add (window, pairs[i].word, pairs[i].len, pairs[i].count, NULL)) {
            if (errno == EOVERFLOW)
                s_overflow_reason (self, pairs[i].word, (uint32_t) pairs[i].len, window_1);
            return -1;
        }
    }
    return 0;
}

//  Merges n pairs of one run: PANE (and a batch without runs) into the
//  partition and window (id + 1 in window_1; NULL: none), TOTALS into the
//  partition only, SIDE into window (the side table) only: side records
//  are no words. Returns 0 or -1 as s_merge.
static int
s_merge_run (s_reducer_t *self, const zmr_pair_t *pairs, size_t n, int kind,
             zmr_counts_t *window, uint64_t window_1)
{
    if (kind == ZMR_RUN_SIDE) {
        //  Each side key once per chunk, of value 1: no sum near 64 bits
        if (zmr_counts_add_pairs (window, pairs, n)) {
            if (errno == EOVERFLOW)
                s_overflow_reason (self, pairs[0].word, (uint32_t) pairs[0].len, window_1);
            return -1;
        }
        return 0;
    }
    if (s_merge (self, pairs, n, kind == ZMR_RUN_TOTALS? NULL: window, window_1))
        return -1;
    if (self->live_ms && s_mark (self, pairs, n)) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

//  Applies a decoded BATCH of a chunk not applied yet: its pairs, then its
//  chunk id. Without runs, its pairs count into the partition and the
//  window of its stamp (with windows); with runs (event time), each run as
//  s_merge_run says, a PANE run into the table of its pane (id: the pane's
//  start), a SIDE run into the side table (id ZMR_SIDE_TABLE). *words is
//  the sum of its values but the side records' (modulo 2^64: the word
//  count's words). Returns 0, or -1 with errno ENOMEM, or EOVERFLOW when a
//  sum would pass 64 bits (self->overflow says which key; the batch is half
//  merged).
static int
s_apply (s_reducer_t *self, zmr_msg_t *msg, uint64_t *words)
{
    //  The decoder walked every pair already: nothing below can meet a bad
    //  one halfway through.
    zmr_pair_t pairs[ZMR_COUNTS_BATCH];
    size_t n = 0;
    uint64_t total = 0;
    zmr_counts_t *window = NULL;
    uint64_t window_1 = 0;
    uint32_t npairs = msg->npairs;      //  (zmr_msg_next_pair counts it down)
    bool runs = msg->nruns > 0;
    int kind = ZMR_RUN_PANE;
    uint32_t left = runs? 0: npairs;    //  Pairs left in the run
    if (!self->measured)
        s_measure (self);
    if (self->window_ms && !runs) {
        window_1 = msg->stamp / self->window_ms * self->window_ms + 1;
        if (!(window = s_window (self, window_1 - 1))) {
            errno = ENOMEM;
            return -1;
        }
    }
    while (true) {
        if (left == 0) {
            //  A run is over: its pairs go in before the next one's table
            if (n && s_merge_run (self, pairs, n, kind, window, window_1))
                return -1;
            n = 0;
            zmr_run_t run;
            if (!runs || !zmr_msg_next_run (msg, &run))
                break;
            kind = (int) run.kind;
            left = run.n;
            window = NULL;
            window_1 = 0;
            if (kind != ZMR_RUN_TOTALS) {
                uint64_t id = kind == ZMR_RUN_PANE? run.pane: ZMR_SIDE_TABLE;
                if (!(window = s_window (self, id))) {
                    errno = ENOMEM;
                    return -1;
                }
                window_1 = id + 1;
            }
        }
        const char *word;
        uint32_t len;
        uint64_t count;
        if (!zmr_msg_next_pair (msg, &word, &len, &count)) {
            //  (Cannot be: the decoder checked that the runs cover the pairs)
            if (n && s_merge_run (self, pairs, n, kind, window, window_1))
                return -1;
            break;
        }
        left--;
        pairs[n++] = (zmr_pair_t) { word, len, count };
        if (kind != ZMR_RUN_SIDE)
            total += count;
        if (n == ZMR_COUNTS_BATCH) {
            if (s_merge_run (self, pairs, n, kind, window, window_1))
                return -1;
            n = 0;
        }
    }
    *words = total;
    if (zmr_u64set_insert (self->applied, msg->chunk) < 0) {
        errno = ENOMEM;
        return -1;
    }
    self->pair_count += npairs;
    //  (Latency samples stop, bounded, while no sink takes them.)
    if (self->live_ms && self->nstamps < 2 * S_STAMPS_MAX) {
        if (s_grow ((void **) &self->stamps, self->nstamps + 1, &self->stamps_cap,
                    sizeof (uint64_t))) {
            errno = ENOMEM;
            return -1;
        }
        self->stamps[self->nstamps++] = msg->chunk;
        self->stamps[self->nstamps++] = msg->stamp;
    }
    self->counters->chunks++;
    self->counters->words += *words;
    return 0;
}

//  Whether a BATCH's runs hold what they say: a SIDE run side keys only
//  (zmr_evtime.h), the others no key that starts as one does. Walks a copy
//  of the message. Returns NULL, or why not.
static const char *
s_runs_invalid (const zmr_msg_t *msg)
{
    zmr_msg_t walk = *msg;
    zmr_run_t run;
    while (zmr_msg_next_run (&walk, &run))
        for (uint32_t i = 0; i < run.n; i++) {
            const char *word;
            uint32_t len;
            uint64_t count;
            zmr_side_t side;
            if (!zmr_msg_next_pair (&walk, &word, &len, &count))
                return "BATCH with fewer pairs than its runs";
            if (run.kind == ZMR_RUN_SIDE
            &&  (count != 1 || !zmr_evtime_side_parse (word, len, &side)))
                return "BATCH with a side run that holds no side record";
            if (run.kind != ZMR_RUN_SIDE && len && word[0] == '\n')
                return "BATCH with a side record out of a side run";
        }
    return NULL;
}

//  Replays one logged frame at startup: the log holds only BATCH frames
//  this reducer applied, all of one job (the snapshot's, or the first's).
static int
s_replay (const void *frame, size_t len, void *arg)
{
    s_reducer_t *self = (s_reducer_t *) arg;
    zmr_msg_t msg;
    const char *why;
    if (zmr_msg_decode (frame, len, &msg, &why) || msg.type != ZMR_BATCH
    ||  msg.partition != self->config->partition)
        return -1;
    if (self->job == 0) {
        self->job = msg.job;
        self->reducers = msg.reducers;
    }
    if (msg.job != self->job || msg.reducers != self->reducers)
        return -1;
    if (zmr_u64set_contains (self->applied, msg.chunk))
        return 0;
    uint64_t words;
    return s_apply (self, &msg, &words);
}

//  Loads the stored state, if any. Returns 0 or -1.
static int
s_recover (s_reducer_t *self)
{
    char error[512];
    self->store = zmr_store_open (self->config->state_dir, self->config->partition,
                                  error, sizeof error);
    if (!self->store) {
        zmr_log (0, "%s", error);
        return -1;
    }
    //  The windows first, and their length before the log's batches replay
    zmr_store_on_windows (self->store, &self->window_ms, s_window_load, self);
    if (zmr_store_load (self->store, &self->job, &self->reducers, &self->reduce,
                        &self->pair_count, self->counts, self->applied, s_replay, self,
                        error, sizeof error)) {
        zmr_log (0, "%s", error);
        return -1;
    }
    //  Said once the job takes it (the state may be of another job).
    return 0;
}

//  Writes a snapshot (which empties the log); not of a partition a sum
//  overflowed in (half a batch merged, never logged).
static void
s_checkpoint (s_reducer_t *self)
{
    if (self->store && !self->overflowed && zmr_store_log_bytes (self->store) > 0
    &&  s_snapshot (self))
        zmr_log (0, "cannot write a snapshot in %s: %s", self->config->state_dir,
                 strerror (errno));
    self->next_snapshot = zmr_now_ms () + self->config->checkpoint_ms;
}

static void
s_on_batch (s_reducer_t *self)
{
    zmq_msg_t frame;
    zmr_msg_t msg;
    if (!zmr_worker_recv (self->batches, "batches", &frame, 1, &msg,
                          &self->counters->malformed))
        return;
    const char *why;
    if ((msg.type != ZMR_BATCH && (why = "not a BATCH"))
    ||  (msg.job != self->job && (why = "BATCH of another job"))
    ||  (msg.partition != self->config->partition && (why = "BATCH for another partition"))
    ||  (msg.reducers != self->reducers && (why = "BATCH for another reducer count"))) {
        self->counters->malformed++;
        zmr_log_dropped ("batches", why);
        zmq_msg_close (&frame);
        return;
    }
    if (msg.nruns && (why = s_runs_invalid (&msg))) {
        self->counters->malformed++;
        zmr_log_dropped ("batches", why);
        zmq_msg_close (&frame);
        return;
    }
    if (self->overflowed) {
        //  The job is failing (FAIL sent): the partition is half a batch
        //  off, so nothing more is applied or ACKed.
        zmq_msg_close (&frame);
        return;
    }
    int fresh = zmr_u64set_contains (self->applied, msg.chunk)? 0: 1;
    uint64_t words = 0;
    if (fresh && s_apply (self, &msg, &words)) {
        zmq_msg_close (&frame);
        if (errno == EOVERFLOW) {
            //  Never a wrapped value: the job fails, naming the key.
            zmr_log (0, "%s", self->overflow);
            zmr_msg_pack_fail (zmr_worker_packer (self->worker), self->job, self->overflow);
            zmr_worker_send (self->worker);
            self->overflowed = true;
            return;
        }
        zmr_log (0, "out of memory with %zu distinct words",
                 zmr_counts_size (self->counts));
        s_fail (self);
        return;
    }
    //  Logged once applied (a batch that overflows is never logged) and
    //  before the ACK: the ACK is backed by the log.
    if (fresh && self->store
    &&  zmr_store_append (self->store, zmq_msg_data (&frame), zmq_msg_size (&frame))) {
        zmr_log (0, "cannot log a batch in %s: %s", self->config->state_dir,
                 strerror (errno));
        zmq_msg_close (&frame);
        s_fail (self);
        return;
    }
    if (!fresh)
        self->counters->duplicates++;
    zmq_msg_close (&frame);
    if (fresh && self->config->max_distinct && !self->over_limit
    &&  zmr_counts_size (self->counts) > self->config->max_distinct) {
        //  The user's limit: the job fails, clearly, rather than this
        //  process growing on (or dying of it, which would look like a crash).
        char reason[ZMR_REASON_MAX];
        snprintf (reason, sizeof reason, "partition %u holds more than %llu distinct words "
                  "(--max-distinct)", self->config->partition,
                  (unsigned long long) self->config->max_distinct);
        zmr_log (0, "%s", reason);
        zmr_msg_pack_fail (zmr_worker_packer (self->worker), self->job, reason);
        zmr_worker_send (self->worker);
        self->over_limit = true;
    }
    zmr_msg_pack_ack (zmr_worker_packer (self->worker), self->job, self->config->partition,
                      msg.chunk, words, !fresh);
    zmr_worker_send (self->worker);
}

//  Connects to the sink at endpoint with CURVE key key, unless connected
//  there already. Returns 0 or -1.
static int
s_sink_connect (s_reducer_t *self, const char *endpoint, const char *key)
{
    if (self->sink && !strcmp (endpoint, self->sink_endpoint) && !strcmp (key, self->sink_key))
        return 0;
    zsock_destroy (&self->sink);
    self->sink_endpoint[0] = 0;
    self->sink = zmr_socket (ZMQ_PUSH, -1, 10000);
    if (!self->sink || zmr_connect (self->sink, endpoint, key))
        return -1;
    snprintf (self->sink_endpoint, sizeof self->sink_endpoint, "%s", endpoint);
    snprintf (self->sink_key, sizeof self->sink_key, "%s", key);
    return 0;
}

//  Sends the sink what changed since the last UPDATE: the totals of the
//  words marked changed, in messages of about part_bytes, and the chunks
//  applied meanwhile in the last of them (or in messages of their own when
//  there are many), so a chunk is listed only once its counts have gone.
//  What the sink cannot take now (its queue is full) stays for next time.
//  Only an UPDATE sent (or tried) starts an interval: after a quiet one,
//  the next change goes at once; while changes keep coming, at most one
//  UPDATE per interval.
static void
s_update (s_reducer_t *self)
{
    if (self->sink && self->ndirty == 0 && self->nstamps == 0)
        return;
    self->next_update = zmr_now_ms () + self->live_ms;
    if (!self->sink || self->overflowed)
        return;
    zmr_entry_t *entries = zmr_counts_entries (self->counts);
    size_t at = 0, chunks_at = 0;
    while (at < self->ndirty || chunks_at < self->nstamps) {
        size_t end = at, bytes = 0;
        while (end < self->ndirty) {
            size_t pair = entries[self->dirty[end]].len + 16;
            if (bytes > 0 && bytes + pair > self->part_bytes)
                break;
            bytes += pair;
            end++;
        }
        size_t nchunks = 0;
        if (end == self->ndirty) {
            nchunks = (self->nstamps - chunks_at) / 2;
            if (nchunks > ZMR_UPDATE_CHUNKS)
                nchunks = ZMR_UPDATE_CHUNKS;
        }
        zmr_msg_begin_update (&self->pk, self->job, self->config->partition,
                              self->reducers, (uint32_t) nchunks);
        for (size_t i = 0; i < 2 * nchunks; i++)
            msgpack_pack_uint64 (&self->pk, self->stamps[chunks_at + i]);
        zmr_msg_begin_pairs (&self->pk, (uint32_t) (end - at));
        for (size_t i = at; i < end; i++) {
            zmr_entry_t *entry = &entries[self->dirty[i]];
            zmr_msg_pack_pair (&self->pk, entry->word, entry->len, entry->count);
        }
        if (zmr_msg_send (self->sink, &self->sbuf, ZMQ_DONTWAIT) == -1) {
            msgpack_sbuffer_clear (&self->sbuf);
            break;
        }
        for (size_t i = at; i < end; i++)
            entries[self->dirty[i]].aux = 0;
        at = end;
        chunks_at += 2 * nchunks;
    }
    //  Keep what did not go. Only when some went: either array may be
    //  NULL (never grown), and memmove of NULL is undefined even for 0 bytes
    if (at)
        memmove (self->dirty, self->dirty + at, (self->ndirty - at) * sizeof *self->dirty);
    self->ndirty -= at;
    if (chunks_at)
        memmove (self->stamps, self->stamps + chunks_at,
                 (self->nstamps - chunks_at) * sizeof *self->stamps);
    self->nstamps -= chunks_at;
}

//  Sends distinct entries to the sink in parts of about part_bytes: the
//  whole partition as RESULT, or, with window, the window id as WINDOW.
static void
s_send_entries (s_reducer_t *self, const zmr_entry_t *entries, size_t distinct, bool window,
                uint64_t id)
{
    //  Cut into parts by bytes first, so each part knows how many there are.
    uint64_t parts = 1;
    size_t bytes = 0;
    for (size_t i = 0; i < distinct; i++) {
        size_t pair = entries[i].len + 16;
        if (bytes > 0 && bytes + pair > self->part_bytes) {
            parts++;
            bytes = 0;
        }
        bytes += pair;
    }
    size_t start = 0;
    for (uint64_t seq = 0; seq < parts; seq++) {
        size_t end = start;
        bytes = 0;
        while (end < distinct) {
            size_t pair = entries[end].len + 16;
            if (bytes > 0 && bytes + pair > self->part_bytes)
                break;
            bytes += pair;
            end++;
        }
        if (window)
            zmr_msg_begin_window (&self->pk, self->job, self->config->partition,
                                  self->reducers, id, seq, parts,
                                  (uint32_t) (end - start));
        else
            zmr_msg_begin_result (&self->pk, self->job, self->config->partition,
                                  self->reducers, seq, parts, self->pair_count,
                                  (uint32_t) (end - start));
        for (size_t i = start; i < end; i++)
            zmr_msg_pack_pair (&self->pk, entries[i].word, entries[i].len,
                               entries[i].count);
        while (zmr_msg_send (self->sink, &self->sbuf, 0) == -1)
            if (errno != EINTR) {
                msgpack_sbuffer_clear (&self->sbuf);
                break;
            }
        start = end;
    }
    if (!window)
        zmr_log (1, "sent partition %u to the sink: %zu words in %llu parts",
                 self->config->partition, distinct, (unsigned long long) parts);
}

//  Sends counts to the sink: the whole partition as RESULT, or, with
//  window (its id + 1), a window as WINDOW.
static void
s_send_counts (s_reducer_t *self, zmr_counts_t *counts, uint64_t window_1)
{
    s_send_entries (self, zmr_counts_entries (counts), zmr_counts_size (counts),
                    window_1 > 0, window_1 - 1);
}

//  Sends the whole partition to the sink.
static void
s_send_result (s_reducer_t *self, const char *sink, const char *key)
{
    if (!self->overflowed && s_sink_connect (self, sink, key) == 0)
        s_send_counts (self, self->counts, 0);
}

//  CLOSE: every chunk of the window is applied everywhere. Sends its
//  table (none: an empty one) and frees the windows closed before it.
static void
s_close_window (s_reducer_t *self, uint64_t id)
{
    if (!self->sink || self->overflowed)
        return;
    zmr_counts_t *counts = s_window (self, id);
    if (!counts) {
        zmr_log (0, "out of memory closing a window");
        s_fail (self);
        return;
    }
    s_send_counts (self, counts, id + 1);
    size_t kept = 0;
    for (size_t i = 0; i < self->nwindows; i++) {
        s_window_t *window = &self->windows[i];
        if (window->id < id)
            zmr_counts_destroy (&window->counts);
        else
            self->windows[kept++] = *window;
    }
    self->nwindows = kept;
}

//  The bucket of a side key in the side table (checked on arrival).
static uint64_t
s_side_bucket (const zmr_entry_t *entry)
{
    zmr_side_t side;
    return zmr_evtime_side_parse (entry->word, entry->len, &side)? side.bucket: 0;
}

//  Whether a side key's bucket is of the window s closed after prev_1
//  (the window before + 1; 0: none): prev < bucket <= s.
static bool
s_side_in (uint64_t bucket, uint64_t s, uint64_t prev_1)
{
    return (prev_1 == 0 || bucket > prev_1 - 1) && bucket <= s;
}

//  CLOSE of an event-time window s, span ms long, the window closed before
//  it prev_1 - 1 (0: none): sends as its WINDOW parts the panes in [s, s +
//  span) summed and the side records whose bucket is in (prev, s], sorted
//  by key; ZMR_WINDOW_END sends the side records left (bucket > prev), no
//  pane. Then frees the panes before s and the side records of prev's close
//  (sent then, kept until now for a CLOSE of prev that came again), so a
//  CLOSE of s that comes again sends the same bytes.
static void
s_close_panes (s_reducer_t *self, uint64_t s, uint64_t span, uint64_t prev_1)
{
    if (!self->sink || self->overflowed)
        return;
    zmr_counts_t *sum = zmr_counts_new ();
    zmr_entry_t *sorted = NULL;
    zmr_counts_t *side = s_window (self, ZMR_SIDE_TABLE);
    if (!sum || !side)
        goto oom;
    zmr_counts_set_reduce (sum, self->reduce);
    for (size_t w = 0; w < self->nwindows; w++) {
        s_window_t *window = &self->windows[w];
        bool pane = window->id != ZMR_SIDE_TABLE;
        if (pane && (s == ZMR_WINDOW_END || window->id < s || window->id - s >= span))
            continue;
        zmr_entry_t *entries = zmr_counts_entries (window->counts);
        for (size_t i = 0; i < zmr_counts_size (window->counts); i++) {
            zmr_entry_t *entry = &entries[i];
            if (!pane && !s_side_in (s_side_bucket (entry), s, prev_1))
                continue;
            if (!zmr_counts_add (sum, entry->word, entry->len, entry->count, NULL)) {
                //  A word's sum over panes is at most its total, which fits
                if (errno != EOVERFLOW)
                    goto oom;
                s_overflow_reason (self, entry->word, entry->len, s + 1);
                zmr_log (0, "%s", self->overflow);
                s_fail (self);
                goto done;
            }
        }
    }
    size_t count = zmr_counts_size (sum);
    sorted = malloc ((count? count: 1) * sizeof *sorted);
    if (!sorted)
        goto oom;
    if (count)
        memcpy (sorted, zmr_counts_entries (sum), count * sizeof *sorted);
    //  Bytewise key order: a window's parts the same whatever order its
    //  tables were filled in, so a CLOSE that comes again (to a reducer
    //  started again, too) sends the same bytes
    qsort (sorted, count, sizeof *sorted, zmr_entry_key_compare);
    s_send_entries (self, sorted, count, true, s);
    //  What no CLOSE can ask for again
    size_t kept = 0;
    for (size_t i = 0; i < self->nwindows; i++) {
        s_window_t *window = &self->windows[i];
        if (window->id != ZMR_SIDE_TABLE && window->id < s)
            zmr_counts_destroy (&window->counts);
        else
            self->windows[kept++] = *window;
    }
    self->nwindows = kept;
    if (prev_1) {
        zmr_entry_t *entries = zmr_counts_entries (side);
        size_t n = zmr_counts_size (side), gone = 0;
        for (size_t i = 0; i < n; i++)
            gone += s_side_bucket (&entries[i]) <= prev_1 - 1;
        if (gone) {
            zmr_counts_t *left = zmr_counts_new ();
            if (!left)
                goto oom;
            zmr_counts_set_reduce (left, self->reduce);
            for (size_t i = 0; i < n; i++)
                if (s_side_bucket (&entries[i]) > prev_1 - 1
                &&  !zmr_counts_add (left, entries[i].word, entries[i].len,
                                     entries[i].count, NULL)) {
                    zmr_counts_destroy (&left);
                    goto oom;
                }
            for (size_t i = 0; i < self->nwindows; i++)
                if (self->windows[i].id == ZMR_SIDE_TABLE) {
                    zmr_counts_destroy (&self->windows[i].counts);
                    self->windows[i].counts = left;
                }
        }
    }
    goto done;
oom:
    zmr_log (0, "out of memory closing a window");
    s_fail (self);
done:
    free (sorted);
    zmr_counts_destroy (&sum);
}

static void
s_on_control (s_reducer_t *self)
{
    zmq_msg_t frame;
    zmr_msg_t msg;
    if (!zmr_worker_recv_control (self->worker, &frame, &msg))
        return;
    if (msg.job != self->job) {
        self->counters->malformed++;
        zmr_log_dropped ("control", "message of another job");
    }
    else
    if (msg.type == ZMR_AGAIN) {
        //  A ventilator that does not know us (it restarted): HELLO again.
        zmr_msg_pack_hello (zmr_worker_packer (self->worker), self->job, ZMR_ROLE_REDUCER,
                            self->config->partition, self->reducers, self->endpoint,
                            zmr_worker_name (self->worker), zmr_u64set_size (self->applied),
                            zmr_curve_public_key ());
        zmr_worker_send (self->worker);
    }
    else
    if (msg.type == ZMR_FLUSH) {
        //  The final counters go out before the result, for the status,
        //  and the last running totals too, for the sink's live views.
        s_heartbeat (self);
        if (self->live_ms && !s_sink_connect (self, msg.endpoint, msg.key))
            s_update (self);
        s_send_result (self, msg.endpoint, msg.key);
    }
    else
    if (msg.type == ZMR_CLOSE && msg.span)
        s_close_panes (self, msg.window, msg.span, msg.prev_1);
    else
    if (msg.type == ZMR_CLOSE)
        s_close_window (self, msg.window);
    else
    if (msg.type == ZMR_LIVE) {
        //  LIVE comes at our welcome and when a sink joins (maybe a new
        //  process at the same endpoint): either way the sink needs every
        //  total we hold.
        bool anew = msg.interval > 0;
        self->live_ms = msg.interval;
        //  Panes (event time): the batches say their panes, no ingest-time
        //  window
        if (msg.flag)
            msg.window_ms = 0;
        if (self->window_ms != msg.window_ms) {
            //  Windows of another length cannot go on (the job's length
            //  never changes: this is a state from before LIVE said it)
            s_windows_free (self);
            self->window_ms = msg.window_ms;
            //  Said in a snapshot before the next batch is logged, so that
            //  the log replays into windows of this length
            if (self->store && !self->overflowed && s_snapshot (self)) {
                zmr_log (0, "cannot write a snapshot in %s: %s", self->config->state_dir,
                         strerror (errno));
                s_fail (self);
            }
        }
        if (s_sink_connect (self, msg.endpoint, msg.key))
            zmr_log (0, "cannot connect to the sink at %s", msg.endpoint);
        else
        if (anew && s_mark_all (self)) {
            zmr_log (0, "out of memory with %zu distinct words",
                     zmr_counts_size (self->counts));
            s_fail (self);
        }
        self->next_update = zmr_now_ms () + self->live_ms;
    }
    else
    if (msg.type == ZMR_FINISH) {
        self->finished = true;
        self->finish_ok = msg.flag;
        //  The ventilator said why, once, for the whole job: here it is
        //  only an echo (-v).
        if (!msg.flag)
            zmr_log (1, "the job ended without success: %s", msg.reason);
    }
    else
    if (msg.type == ZMR_REJECT) {
        zmr_log (0, "rejected by the ventilator: %s", msg.reason);
        self->finished = true;
    }
    else
    if (msg.type != ZMR_WELCOME) {
        self->counters->malformed++;
        zmr_log_dropped ("control", "unexpected message");
    }
    zmq_msg_close (&frame);
}

int
zmr_reducer_run (const zmr_reducer_config_t *config)
{
    s_reducer_t self;
    memset (&self, 0, sizeof self);
    self.config = config;
    self.part_bytes = S_PART_BYTES;
    self.reduce = -1;
    msgpack_sbuffer_init (&self.sbuf);
    msgpack_packer_init (&self.pk, &self.sbuf, msgpack_sbuffer_write);
    self.counts = zmr_counts_new ();
    self.applied = zmr_u64set_new ();
    //  A batch holds at most about twice its chunk's bytes (see protocol.md).
    self.batches = zmr_socket (ZMQ_PULL, 2 * (int64_t) ZMR_MAX_MSG, 0);
    int code = 1;
    if (!self.counts || !self.applied || !self.batches)
        goto cleanup;
    zsock_set_rcvhwm (self.batches, 1000);
    char bound[ZMR_ENDPOINT_MAX];
    if (zmr_bind (self.batches, config->bind, bound))
        goto cleanup;
    snprintf (self.endpoint, sizeof self.endpoint, "%s",
              config->advertise? config->advertise: bound);
    self.worker = zmr_worker_new (config->control, config->name, config->heartbeat_ms,
                                  false);
    if (!self.worker)
        goto cleanup;
    self.counters = zmr_worker_counters (self.worker);
    zmq_msg_t frame;
    zmr_msg_t welcome;
    int joined = 2;
    while (joined == 2) {
        //  Told to wait (another process holds the partition, maybe dying):
        //  the state on disk is read again before every try, so a reducer
        //  that takes over from one sharing its --state has all of it.
        if (config->state_dir) {
            zmr_store_destroy (&self.store);
            zmr_counts_clear (self.counts);
            zmr_u64set_destroy (&self.applied);
            self.applied = zmr_u64set_new ();
            self.job = 0;
            self.reducers = 0;
            self.measured = false;
            s_windows_free (&self);
            self.window_ms = 0;
            memset (self.counters, 0, sizeof *self.counters);
            if (!self.applied || s_recover (&self))
                goto cleanup;
        }
        zmr_join_t join = { .role = ZMR_ROLE_REDUCER, .partition = config->partition,
                            .reducers = config->reducers, .endpoint = self.endpoint,
                            .wait_ms = config->wait_ms, .job = self.job,
                            .applied = zmr_u64set_size (self.applied) };
        joined = zmr_worker_join (self.worker, &join, &frame, &welcome);
        if (joined == -2 && config->discard_state) {
            zmr_log (0, "dropping partition %u of job %016llx from --state %s "
                     "(--discard-state): the ventilator at %s runs job %016llx",
                     config->partition, (unsigned long long) self.job, config->state_dir,
                     config->control, (unsigned long long) welcome.job);
            if (zmr_store_reset (self.store)) {
                zmr_log (0, "cannot empty --state %s: %s", config->state_dir,
                         strerror (errno));
                goto cleanup;
            }
            joined = 2;         //  Read again (empty now), and join anew
        }
        else
        if (joined == -2) {
            zmr_log (0, "--state %s holds partition %u of job %016llx, but the ventilator "
                     "at %s runs job %016llx: remove %s, use another --state, or start "
                     "with --discard-state to drop it", config->state_dir,
                     config->partition, (unsigned long long) self.job, config->control,
                     (unsigned long long) welcome.job, config->state_dir);
            goto cleanup;
        }
    }
    if (joined != 0) {
        code = joined > 0? 0: 1;
        goto cleanup;
    }
    if (self.job && (self.job != welcome.job || self.reducers != welcome.reducers)) {
        //  What is stored belongs to another job: start empty.
        zmr_log (0, "stored state is of job %016llx, not %016llx: starting empty",
                 (unsigned long long) self.job, (unsigned long long) welcome.job);
        zmr_counts_clear (self.counts);
        zmr_u64set_destroy (&self.applied);
        self.applied = zmr_u64set_new ();
        self.reduce = -1;
        self.pair_count = 0;
        self.measured = false;
        s_windows_free (&self);
        self.window_ms = 0;
        memset (self.counters, 0, sizeof *self.counters);
        if (!self.applied || (self.store && zmr_store_reset (self.store))) {
            zmq_msg_close (&frame);
            goto cleanup;
        }
    }
    if (welcome.reduce > ZMR_REDUCE_MAX) {
        zmr_log (0, "the ventilator's job has an unknown reduce (%u)", welcome.reduce);
        zmq_msg_close (&frame);
        goto cleanup;
    }
    if (self.reduce >= 0 && (uint32_t) self.reduce != welcome.reduce) {
        //  The same job, merged another way: cannot be, unless the state
        //  is damaged. Neither way of going on would be right.
        zmr_log (0, "--state %s holds partition %u of job %016llx reduced by %s, but the "
                 "ventilator's job reduces by %s: remove %s or use another --state",
                 config->state_dir, config->partition, (unsigned long long) self.job,
                 zmr_reduce_name (self.reduce), zmr_reduce_name ((int) welcome.reduce),
                 config->state_dir);
        zmq_msg_close (&frame);
        goto cleanup;
    }
    if (self.job && zmr_u64set_size (self.applied))
        zmr_log (0, "recovered partition %u of job %016llx: %zu chunks, %zu words",
                 config->partition, (unsigned long long) self.job,
                 zmr_u64set_size (self.applied), zmr_counts_size (self.counts));
    self.job = welcome.job;
    self.reducers = welcome.reducers;
    if (self.reduce < 0) {
        //  The table is empty (a state's table comes with its reduce).
        self.reduce = (int) welcome.reduce;
        zmr_counts_set_reduce (self.counts, self.reduce);
        //  The log's batches will merge by the snapshot's reduce: one is
        //  written before the first is logged.
        if (self.store && s_snapshot (&self)) {
            zmr_log (0, "cannot write a snapshot in %s: %s", config->state_dir,
                     strerror (errno));
            zmq_msg_close (&frame);
            goto cleanup;
        }
    }
    //  A part, one more pair (a word of at most a chunk) and an UPDATE's
    //  chunk list (72 KB) stay under the job's largest message.
    self.part_bytes = welcome.max_message / 4 < S_PART_BYTES? welcome.max_message / 4
                                                            : S_PART_BYTES;
    zmq_msg_close (&frame);
    self.next_sync = zmr_now_ms () + 1000;
    self.next_snapshot = zmr_now_ms () + config->checkpoint_ms;
    zmr_log (1, "serving partition %u of %u for job %016llx at %s", config->partition,
             self.reducers, (unsigned long long) self.job, self.endpoint);
    s_heartbeat (&self);
    while (!self.finished && !self.failed && !zmr_interrupted ()) {
        zmq_pollitem_t items[] = {
            { zsock_resolve (self.batches), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (zmr_worker_control (self.worker)), 0, ZMQ_POLLIN, 0 },
        };
        int64_t wait = zmr_worker_heartbeat_in (self.worker);
        if (self.live_ms && (self.ndirty || self.nstamps || !self.sink)
        &&  self.next_update - zmr_now_ms () < wait)
            wait = self.next_update - zmr_now_ms ();
        int rc = zmq_poll (items, 2, wait > 0? (long) wait: 0);
        if (rc == -1 && errno != EINTR)
            break;
        //  Control first: LIVE, which comes with WELCOME, says the window
        //  length before the first batches count into windows
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            s_on_control (&self);
        if (rc > 0 && !self.failed && (items[0].revents & ZMQ_POLLIN))
            for (int i = 0; i < 64 && !self.failed
                            && (zsock_events (self.batches) & ZMQ_POLLIN); i++)
                s_on_batch (&self);
        if (self.failed)
            break;
        int64_t now = zmr_now_ms ();
        if (zmr_worker_heartbeat_in (self.worker) <= 0)
            s_heartbeat (&self);
        if (self.live_ms && now >= self.next_update)
            s_update (&self);
        if (self.store && now >= self.next_sync) {
            //  A write survives the process; this makes it survive the machine.
            zmr_store_sync (self.store);
            self.next_sync = now + 1000;
        }
        if (self.store && now >= self.next_snapshot)
            s_checkpoint (&self);
    }
    if (self.failed) {
        //  Nothing more goes out: what is queued for the sink (a partial
        //  result) must not hold the exit for the socket's linger.
        if (self.sink)
            zsock_set_linger (self.sink, 0);
        code = 1;
    }
    else
    if (self.finished) {
        code = self.finish_ok? 0: 1;
        //  The job is done and its result written: its state has served,
        //  and left behind it would hold the next job in this --state.
        if (self.finish_ok && self.store && zmr_store_remove (&self.store))
            zmr_log (0, "cannot remove the state of the finished job from %s: %s",
                     config->state_dir, strerror (errno));
    }
    else {
        s_checkpoint (&self);
        zmr_worker_bye (self.worker, self.job);
        code = 0;
    }
cleanup:
    zmr_store_destroy (&self.store);
    zsock_destroy (&self.sink);
    zsock_destroy (&self.batches);
    zmr_worker_destroy (&self.worker);
    zmr_u64set_destroy (&self.applied);
    zmr_counts_destroy (&self.counts);
    msgpack_sbuffer_destroy (&self.sbuf);
    free (self.dirty);
    free (self.stamps);
    for (size_t i = 0; i < self.nwindows; i++)
        zmr_counts_destroy (&self.windows[i].counts);
    free (self.windows);
    return code;
}
