/*  zmr_ventilator: the coordinator of a job.

    The chunk ledger (lib/zmr_ledger: which chunk is where, what goes out
    again, when a chunk is complete and its words count) knows no socket:
    this file cuts the input into it, sends what it says to issue, tells it
    what the workers say, keeps the registry of workers, closes windows,
    journals, and publishes the job's state. */
#include "zmr_ventilator.h"
#include "zmr_ledger.h"
#include "zmr_ingest.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef enum { P_WAITING, P_MAPPING, P_FLUSHING, P_DONE, P_FAILED } s_phase_t;
typedef enum { W_ALIVE, W_DEAD, W_LEFT, W_REFUSED } s_worker_state_t;

static const char *s_phase_names[] = { "waiting", "mapping", "flushing", "done", "failed" };
static const char *s_worker_states[] = { "alive", "dead", "left", "refused" };
static const char *s_role_names[] = { "", "mapper", "reducer", "sink" };

typedef struct {
    uint8_t identity[256];   //  ROUTER routing id
    size_t identity_len;     //  Its length
    uint64_t id;             //  Our number for the worker
    int role;                //  zmr_role_t
    uint32_t partition;      //  Reducers: the partition served
    int state;               //  s_worker_state_t
    int64_t last_seen;       //  When last heard from
    char name[ZMR_NAME_MAX]; //  As given in HELLO
    char endpoint[ZMR_ENDPOINT_MAX];  //  Reducers and sink: where to reach them
    char key[ZMR_KEY_MAX];            //  ... and their CURVE public key, or ""
    bool welcomed;           //  WELCOME sent
    zmr_counters_t counters; //  Last reported, or counted here for mappers
    bool ready;              //  Mappers: spoke after WELCOME (its chunk queue is there)
    bool refused;            //  Mappers: said REFUSE (will not run this job)
} s_worker_t;

typedef struct {
    const zmr_ventilator_config_t *config;
    zmr_job_t spec;          //  What the job runs (the config's, or words)
    uint64_t job;            //  Job id
    zsock_t *control;        //  ROUTER
    zsock_t *chunks;         //  PUSH
    zsock_t *status;         //  PUB
    char chunks_endpoint[ZMR_ENDPOINT_MAX];  //  As bound
    char status_endpoint[ZMR_ENDPOINT_MAX];  //  First one, as bound
    zmr_chunker_t *chunker;  //  The input
    zmr_journal_t *journal;  //  Completed chunks on disk, or NULL
    int64_t next_sync;       //  When the journal is fsynced next
    bool eof;                //  Chunker exhausted
    bool input_waits;        //  The input has nothing to read right now
    size_t window_first;     //  First chunk not in a closed window
    bool closing;            //  CLOSE sent for closing_id, no WSTORED yet
    uint64_t closing_id;     //  The window being closed
    int64_t close_again;     //  When CLOSE goes out again
    int64_t pending_since;   //  Monotonic ms since text waits in the
                             //  chunker for its chunk to fill, or 0
    uint64_t pending_stamp;  //  The same, in ms since the epoch
    int64_t last_cut;        //  Monotonic ms of the last chunk cut (or
                             //  flush tried)
    zmr_ledger_t *ledger;    //  Every chunk not forgotten yet
    size_t ncuts_journaled;  //  Chunks whose cut the journal held at start
    size_t journal_first;    //  The first of them (chunks below: done)
    uint64_t quarantines_seen;  //  Quarantines the journal has been told of
    zmr_file_ref_t *refs;    //  Per input, for chunks by reference (path
                             //  NULL until its first chunk)
    s_worker_t *workers;     //  Everyone who said HELLO
    size_t nworkers;         //  Entries in workers
    size_t workers_size;     //  Allocated entries
    int reducer_of[ZMR_MAX_REDUCERS];  //  Worker index serving p, or -1
    int sink;                //  Worker index of the sink, or -1
    bool stored[ZMR_MAX_REDUCERS];     //  The sink holds partition p
    uint32_t nstored;        //  Partitions stored
    int phase;               //  s_phase_t
    char reason[ZMR_REASON_MAX];       //  Why it failed
    zmr_status_t stat;       //  Counters published in STATUS
    int64_t started;         //  Start time
    int64_t next_status;     //  When the next STATUS is due
    int64_t next_flush;      //  When FLUSH is sent again, in flushing
    int64_t rate_at;         //  Rate sample time
    int64_t backpressure_at; //  When backpressured was last sampled
    uint64_t rate_bytes;     //  bytes_done at rate_at
    uint64_t rate_words;     //  words at rate_at
    int64_t other_said;      //  When a HELLO for another job was last logged
    uint32_t other_unsaid;   //  ... and how many came since, unlogged
    int64_t waiting_say;     //  When the wait for reducers and sink is said next
    msgpack_sbuffer sbuf;    //  Encoding buffer
    msgpack_packer pk;       //  Packs into sbuf
    //  Event time (config->event_format): docs/design.md, zmr_evtime.h
    uint64_t ev_max;         //  M after the last chunk cut (M_cut), or
                             //  ZMR_EVTIME_UNKNOWN
    uint64_t *panes;         //  Data panes: panes with a line on time, not
    size_t npanes;           //  closed yet, ascending
    size_t panes_size;       //  Allocated in panes
    uint64_t last_1;         //  The last window closed + 1 (0: none yet)
    bool end_stored;         //  The sink wrote ZMR_WINDOW_END: flush
    uint64_t summed_up;      //  Chunks the journal on disk sums up (its
                             //  summary): a stream's spool is given back
                             //  only below them, as a chunk's event time
                             //  is known again from its bytes or the summary
} s_vent_t;

//  Chunks cut so far.
static inline uint64_t
s_cut (s_vent_t *self)
{
    return zmr_ledger_cut (self->ledger);
}

//  The stamp of chunk id, which must be held.
static inline uint64_t
s_stamp (s_vent_t *self, uint64_t id)
{
    const zmr_ledger_entry_t *chunk = zmr_ledger_entry (self->ledger, id);
    assert (chunk);
    return chunk->stamp;
}

//  The ledger's running totals.
static inline const zmr_ledger_counts_t *
s_counts (s_vent_t *self)
{
    return zmr_ledger_counts (self->ledger);
}

static void s_publish (s_vent_t *self);
static void s_pack_state (s_vent_t *self, int type);

static void
s_fail (s_vent_t *self, const char *reason)
{
    if (self->phase == P_FAILED || self->phase == P_DONE)
        return;
    zmr_log (0, "job failed: %s", reason);
    //  Cut to fit the status (the log has it whole).
    size_t len = strnlen (reason, sizeof self->reason - 1);
    memcpy (self->reason, reason, len);
    self->reason[len] = 0;
    self->phase = P_FAILED;
    s_publish (self);
}

//  Sends what is packed in sbuf to a worker over the ROUTER.
static void
s_send_to (s_vent_t *self, s_worker_t *worker)
{
    zmq_msg_t id;
    zmq_msg_init_size (&id, worker->identity_len);
    memcpy (zmq_msg_data (&id), worker->identity, worker->identity_len);
    if (zmq_msg_send (&id, zsock_resolve (self->control), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&id);
        msgpack_sbuffer_clear (&self->sbuf);
        return;
    }
    //  A peer whose queue is full is a dead peer: dropping is what heartbeats
    //  and leases are there for.
    if (zmr_msg_send (self->control, &self->sbuf, ZMQ_DONTWAIT) == -1)
        msgpack_sbuffer_clear (&self->sbuf);
}

//  Whether text waiting in the chunker is to be cut now: it waits only
//  when there is more to wait for, while chunks keep being cut (at most
//  one flush per interval); after a quiet flush interval it goes at once.
static int64_t
s_flush_at (s_vent_t *self)
{
    return self->last_cut + (int64_t) self->config->flush_ms;
}

static bool
s_flush_due (s_vent_t *self)
{
    return self->pending_since && zmr_now_ms () >= s_flush_at (self);
}

//  Event time: adds pane to the data panes (a set, ascending), unless it is
//  in no window still to close. Returns 0, or -1 out of memory.
static int
s_pane_add (s_vent_t *self, uint64_t pane)
{
    if (self->last_1 && pane < self->last_1 - 1 + self->config->every_ms)
        return 0;
    size_t low = 0, high = self->npanes;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (self->panes[mid] < pane)
            low = mid + 1;
        else
            high = mid;
    }
    if (low < self->npanes && self->panes[low] == pane)
        return 0;
    if (self->npanes == self->panes_size) {
        size_t size = self->panes_size? self->panes_size * 2: 64;
        uint64_t *panes = realloc (self->panes, size * sizeof *panes);
        if (!panes)
            return -1;
        self->panes = panes;
        self->panes_size = size;
    }
    memmove (self->panes + low + 1, self->panes + low,
             (self->npanes - low) * sizeof *self->panes);
    self->panes[low] = pane;
    self->npanes++;
    return 0;
}

//  Event time: drops the data panes below pane (in no window left to close).
static void
s_panes_drop (s_vent_t *self, uint64_t pane)
{
    size_t n = 0;
    while (n < self->npanes && self->panes[n] < pane)
        n++;
    if (n == 0)
        return;                 //  (panes may be NULL)
    memmove (self->panes, self->panes + n, (self->npanes - n) * sizeof *self->panes);
    self->npanes -= n;
}

typedef struct {
    s_vent_t *self;
    uint32_t late;           //  Late lines in the chunk
    uint32_t untimed;        //  Lines without a time
} s_scan_t;

static int
s_scan_line (const zmr_evline_t *line, void *arg)
{
    s_scan_t *scan = (s_scan_t *) arg;
    if (line->kind == ZMR_LINE_LATE)
        scan->late++;
    else
    if (line->kind == ZMR_LINE_NO_TIME)
        scan->untimed++;
    else
    if (s_pane_add (scan->self, line->pane))
        return -1;
    return 0;
}

//  Event time: scans a chunk just cut (every chunk, in cut order: also one
//  cut again after a restart, or that the journal says is done, so that M
//  and the data panes come out as before) with the running M, as the
//  mappers will from *event_max, M before it. A chunk by reference is read
//  from its file here. Returns 0, or -1 (the job failed).
static int
s_scan_chunk (s_vent_t *self, const zmr_chunk_t *cut, uint64_t *event_max,
              uint32_t *late, uint32_t *untimed)
{
    *event_max = self->ev_max;
    char *bytes = cut->data;
    if (!bytes && cut->len) {
        const char *path = self->refs[cut->input].path;
        int fd = path? open (path, O_RDONLY | O_CLOEXEC): -1;
        bytes = fd >= 0? malloc (cut->len): NULL;
        size_t got = 0;
        while (bytes && got < cut->len) {
            ssize_t n = pread (fd, bytes + got, cut->len - got, (off_t) (cut->offset + got));
            if (n <= 0 && !(n < 0 && errno == EINTR))
                break;
            got += n > 0? (size_t) n: 0;
        }
        if (fd >= 0)
            close (fd);
        if (got < cut->len) {
            free (bytes);
            s_fail (self, "cannot read a chunk of an input again to find its lines' times");
            return -1;
        }
    }
    s_scan_t scan = { self, 0, 0 };
    const zmr_ventilator_config_t *config = self->config;
    int rc = zmr_evtime_scan (config->event_format, config->lateness_ms, config->every_ms,
                              bytes, cut->len, &self->ev_max, s_scan_line, &scan);
    if (bytes != cut->data)
        free (bytes);
    if (rc) {
        s_fail (self, "out of memory for the event-time panes");
        return -1;
    }
    *late = scan.late;
    *untimed = scan.untimed;
    self->stat.late_records += scan.late;
    self->stat.untimed_records += scan.untimed;
    return 0;
}

//  Cuts the next chunk of input into the ledger and the queue. Returns 1 on
//  a chunk to issue, 2 on a chunk the journal says is complete already, 0
//  at the end of the input, -1 on failure.
static int
s_read_chunk (s_vent_t *self)
{
    zmr_chunk_t cut;
    int rc = zmr_chunker_next (self->chunker, &cut);
    if (rc == 2 && s_flush_due (self)) {
        //  Text has waited a flush interval for its chunk to fill: it goes
        //  now, cut at its last whitespace. With none, it is one word still
        //  coming: it waits another interval for the rest.
        rc = zmr_chunker_flush (self->chunker, &cut);
        if (rc == 0) {
            self->pending_since = self->last_cut = zmr_now_ms ();
            rc = 2;
        }
    }
    if (rc == 2) {
        //  A pipe with nothing more in it yet: the loop polls it, and keeps
        //  publishing and housekeeping meanwhile. What was read waits for
        //  its chunk to fill, at most a flush interval from now.
        self->input_waits = true;
        if (zmr_chunker_pending (self->chunker) && !self->pending_since) {
            self->pending_since = zmr_now_ms ();
            self->pending_stamp = zmr_wall_ms ();
        }
        return 0;
    }
    if (rc == 0) {
        self->eof = true;
        return 0;
    }
    if (rc < 0) {
        s_fail (self, zmr_chunker_error (self->chunker));
        return -1;
    }
    if (!cut.data && !self->refs[cut.input].path) {
        //  The first chunk by reference of this input: mappers open it by
        //  its absolute path and check it is the file read here
        zmr_file_ref_t *ref = &self->refs[cut.input];
        ref->path = realpath (self->config->inputs[cut.input], NULL);
        if (!ref->path) {
            s_fail (self, "cannot resolve an input's path");
            return -1;
        }
        ref->device = cut.device;
        ref->inode = cut.inode;
    }
    //  Stamped with the time its oldest text came in: when the text began
    //  to wait in the chunker, or now.
    uint64_t stamp = self->pending_since? self->pending_stamp: zmr_wall_ms ();
    self->pending_since = 0;
    self->last_cut = zmr_now_ms ();
    if (zmr_chunker_pending (self->chunker)) {
        self->pending_since = zmr_now_ms ();
        self->pending_stamp = zmr_wall_ms ();
    }
    uint64_t id = s_cut (self);
    uint64_t event_max = ZMR_EVTIME_UNKNOWN;
    uint32_t late = 0, untimed = 0;
    if (self->config->event_format
    &&  s_scan_chunk (self, &cut, &event_max, &late, &untimed)) {
        free (cut.data);
        return -1;
    }
    if (self->journal && id < self->journal_first + self->ncuts_journaled) {
        //  Cut before a restart: its stamp is the journal's, so that it
        //  lands in the window it was counted in before
        const uint64_t *stamps = zmr_journal_stamps (self->journal);
        if (stamps[id - self->journal_first])
            stamp = stamps[id - self->journal_first];
    }
    if (self->journal && id + 1 > self->journal_first + self->ncuts_journaled) {
        //  Where it was cut, and when its text came in, is on disk before
        //  the chunk goes anywhere
        zmr_journal_cut_t where = { cut.input, cut.offset, cut.len };
        if (zmr_journal_cut_stamped (self->journal, id, &where, stamp)) {
            free (cut.data);
            s_fail (self, "cannot write the journal");
            return -1;
        }
    }
    uint64_t words, pairs;
    uint32_t too_long;
    if (self->journal && zmr_journal_was_done (self->journal, id, &words, &too_long, &pairs)) {
        //  Applied at every reducer before a restart: not issued again.
        free (cut.data);
        if (zmr_ledger_add_done (self->ledger, cut.len, cut.input, cut.offset, stamp,
                                 words, too_long, pairs) < 0) {
            s_fail (self, "out of memory for the ledger");
            return -1;
        }
        zmr_ledger_set_event (self->ledger, id, event_max, late, untimed);
        return 2;
    }
    if (self->journal && zmr_journal_was_quarantined (self->journal, id)) {
        //  Quarantined before a restart: listed again, not tried again
        free (cut.data);
        if (zmr_ledger_add_quarantined (self->ledger, cut.len, cut.input, cut.offset,
                                        stamp) < 0) {
            s_fail (self, "out of memory for the ledger");
            return -1;
        }
        zmr_ledger_set_event (self->ledger, id, event_max, late, untimed);
        return 2;
    }
    if (zmr_ledger_add (self->ledger, cut.data, cut.len, cut.input, cut.offset, stamp) < 0) {
        s_fail (self, "out of memory for the ledger");
        return -1;
    }
    zmr_ledger_set_event (self->ledger, id, event_max, late, untimed);
    return 1;
}

//  Whether a chunk can go out now: one is queued or can be read, and fewer
//  than --in-flight are in flight.
static bool
s_can_issue (s_vent_t *self)
{
    if (self->phase != P_MAPPING)
        return false;
    //  Credit: at most two chunks waiting (issued, not taken) per mapper;
    //  one kept mappers short of work, measured on the bench corpora. The
    //  PUSH socket's HWM of 1 bounds queues only in messages, and a chunk
    //  by reference is ~100 bytes: the kernel's socket buffers held the
    //  whole window in the mappers' queues, where chunks waited past
    //  --dead-ms behind slow ones (and were issued again), while a mapper
    //  that joined got none.
    //  A mapper counts once it has spoken after its WELCOME, which it does
    //  once connected to the chunks: counted from its HELLO, the credit of a
    //  mapper still connecting filled the first one's queue (measured: 15
    //  and 10 of the KJV bench's 25 chunks, the job waiting on the first).
    size_t mappers = 0;
    for (size_t i = 0; i < self->nworkers; i++)
        if (self->workers[i].role == ZMR_ROLE_MAPPER && self->workers[i].state == W_ALIVE
        &&  self->workers[i].ready)
            mappers++;
    if (zmr_ledger_waiting (self->ledger) >= 2 * (mappers? mappers: 1))
        return false;
    if (zmr_ledger_queued (self->ledger) > 0)
        return true;
    return !self->eof && (!self->input_waits || s_flush_due (self))
        && s_counts (self)->in_flight < self->config->in_flight;
}

//  Pushes the next chunk to a mapper. Called when the PUSH socket can take
//  a message.
static void
s_issue (s_vent_t *self)
{
    //  New chunks are read only below --in-flight; re-issues of
    //  chunks already in flight go first and need none.
    uint64_t id;
    const zmr_ledger_entry_t *chunk;
    while (!(chunk = zmr_ledger_next (self->ledger, &id))) {
        if (self->eof || s_counts (self)->in_flight >= self->config->in_flight)
            return;
        if (s_read_chunk (self) <= 0)
            return;
    }
    //  A chunk without bytes is one by reference: the mapper reads it.
    zmr_msg_pack_chunk (&self->pk, self->job, id, chunk->input, chunk->offset,
                        chunk->attempt, chunk->len,
                        chunk->data? NULL: &self->refs[chunk->input], chunk->stamp, chunk->event_max);
    if (zmr_msg_send (self->chunks, &self->sbuf, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        msgpack_sbuffer_clear (&self->sbuf);
        return;
    }
    zmq_msg_t body;
    zmq_msg_init_size (&body, chunk->data? chunk->len: 0);
    if (chunk->data)
        memcpy (zmq_msg_data (&body), chunk->data, chunk->len);
    //  The first frame went out, so the second is accepted at once.
    if (zmq_msg_send (&body, zsock_resolve (self->chunks), 0) == -1) {
        zmq_msg_close (&body);
        return;
    }
    zmr_ledger_issued (self->ledger, id, zmr_now_ms ());
}

static s_worker_t *
s_worker_by_identity (s_vent_t *self, zmq_msg_t *identity)
{
    size_t len = zmq_msg_size (identity);
    for (size_t i = 0; i < self->nworkers; i++)
        if (self->workers[i].identity_len == len
        &&  memcmp (self->workers[i].identity, zmq_msg_data (identity), len) == 0)
            return &self->workers[i];
    return NULL;
}

static bool
s_ready (s_vent_t *self)
{
    if (self->sink < 0)
        return false;
    for (uint32_t p = 0; p < self->config->reducers; p++)
        if (self->reducer_of[p] < 0)
            return false;
    return true;
}

//  Whether a worker still holds its place: alive and heard from within a
//  second. A worker silent for longer may be replaced by a newcomer for its
//  role before it is declared dead (a restart is quicker than dead_ms).
static bool
s_present (s_vent_t *self, s_worker_t *worker)
{
    return worker->state == W_ALIVE && zmr_now_ms () - worker->last_seen < 1000;
}

//  Tells a reducer to send its running totals to the sink (--live-ms).
static void
s_live (s_vent_t *self, s_worker_t *worker)
{
    if ((!self->config->live_ms && !self->config->window_ms) || self->sink < 0
    ||  worker->role != ZMR_ROLE_REDUCER)
        return;
    s_worker_t *sink = &self->workers[self->sink];
    //  Event time: the batches carry their panes, and CLOSE says which
    //  window goes (no window of ingest time at the reducers)
    bool event = self->config->event_format != 0;
    zmr_msg_pack_live (&self->pk, self->job, sink->endpoint, self->config->live_ms,
                       event? 0: self->config->window_ms, sink->key, event);
    s_send_to (self, worker);
}

static void
s_welcome (s_vent_t *self, s_worker_t *worker)
{
    const char *endpoints[ZMR_MAX_REDUCERS];
    const char *keys[ZMR_MAX_REDUCERS];
    for (uint32_t p = 0; p < self->config->reducers; p++) {
        endpoints[p] = self->workers[self->reducer_of[p]].endpoint;
        keys[p] = self->workers[self->reducer_of[p]].key;
    }
    zmr_event_spec_t event = {
        (uint32_t) self->config->event_format, self->config->window_ms,
        self->config->every_ms, self->config->lateness_ms
    };
    zmr_msg_pack_welcome (&self->pk, self->job, self->config->reducers,
                          self->chunks_endpoint, self->status_endpoint, endpoints, keys,
                          self->config->max_word, zmr_max_message (), &self->spec,
                          self->config->event_format? &event: NULL);
    s_send_to (self, worker);
    worker->welcomed = true;
    s_live (self, worker);
}

//  Refuses a worker; with retry, only for now (its place is taken by a
//  worker that may be gone: the newcomer asks again and gets it once the
//  holder has been silent for a second).
static void
s_reject (s_vent_t *self, s_worker_t *worker, const char *reason, bool retry)
{
    zmr_log (retry? 1: 0, "%s %s: %s", retry? "not yet": "rejected", worker->name, reason);
    zmr_msg_pack_reason (&self->pk, ZMR_REJECT, self->job, retry, reason);
    s_send_to (self, worker);
    worker->state = W_LEFT;
}

//  Sends FLUSH to every reducer whose partition the sink does not hold.
static void
s_flush (s_vent_t *self)
{
    const s_worker_t *sink = &self->workers[self->sink];
    for (uint32_t p = 0; p < self->config->reducers; p++)
        if (!self->stored[p]) {
            zmr_msg_pack_flush (&self->pk, self->job, sink->endpoint, sink->key);
            s_send_to (self, &self->workers[self->reducer_of[p]]);
        }
    self->next_flush = zmr_now_ms () + self->config->dead_ms;
}

//  Journals the chunks quarantined since the last call (before any window
//  they are in can close: a ventilator started again must not try them
//  again, into a window written already).
static void
s_journal_quarantines (s_vent_t *self)
{
    uint64_t n = s_counts (self)->chunks_quarantined;
    const uint64_t *ids = zmr_ledger_quarantine_ids (self->ledger);
    for (; self->journal && self->quarantines_seen < n; self->quarantines_seen++) {
        uint64_t id = ids[self->quarantines_seen];
        if (!zmr_journal_was_quarantined (self->journal, id)
        &&  zmr_journal_quarantined (self->journal, id)) {
            s_fail (self, "cannot write the journal");
            return;
        }
    }
}

//  Event time (docs/design.md): the next window to close is the first
//  after the last closed that holds a data pane; it closes once no line on
//  time for it can come any more (the input ended, or M_cut - lateness is
//  past its end) and every chunk whose bucket is at or before it is done.
//  After the input's end, with every window closed and every chunk done,
//  ZMR_WINDOW_END takes the side records left. One at a time, in order.
static void
s_close_event (s_vent_t *self)
{
    const zmr_ventilator_config_t *config = self->config;
    uint64_t W = config->window_ms, E = config->every_ms, L = config->lateness_ms;
    if (self->closing || self->end_stored || self->sink < 0)
        return;
    uint64_t from = self->last_1? self->last_1 - 1 + E: 0;
    s_panes_drop (self, from);
    uint64_t first_open = zmr_ledger_first_open (self->ledger);
    uint64_t id;
    if (self->npanes) {
        uint64_t p = self->panes[0];
        id = p >= W - E? p - (W - E): 0;
        if (id < from)
            id = from;
        bool no_more = self->eof || (self->ev_max != ZMR_EVTIME_UNKNOWN
                                     && self->ev_max >= id + W + L);
        //  Buckets grow with chunk ids: the first chunk not done says
        bool all_done = first_open == s_cut (self)
            || zmr_evtime_bucket (zmr_ledger_entry (self->ledger, first_open)->event_max,
                                  L, W, E) > id;
        if (!no_more || !all_done)
            return;
    }
    else
    if (self->eof && first_open == s_cut (self))
        id = ZMR_WINDOW_END;
    else
        return;
    self->closing = true;
    self->closing_id = id;
    for (uint32_t p = 0; p < config->reducers; p++) {
        zmr_msg_pack_close (&self->pk, self->job, id, W, self->last_1);
        s_send_to (self, &self->workers[self->reducer_of[p]]);
    }
    self->close_again = zmr_now_ms () + config->dead_ms;
}

//  Tumbling windows: the window of the first chunk not in a closed window
//  closes once no chunk can be stamped in it any more (its end has passed,
//  and text still waiting to be cut came in after it, or the input ended)
//  and every chunk stamped in it is done: then CLOSE tells reducers to send
//  it to the sink, which says WSTORED when it has written it. One window
//  closes at a time, in order.
static void
s_close_windows (s_vent_t *self)
{
    s_journal_quarantines (self);
    if (self->config->event_format) {
        s_close_event (self);
        return;
    }
    uint64_t W = self->config->window_ms;
    uint64_t stored_1 = self->journal? zmr_journal_windows_stored (self->journal, NULL): 0;
    if (W && !self->closing && stored_1) {
        //  Windows the journal says are written (before a restart) are past
        uint64_t stored_end = stored_1 - 1 + W;
        while (self->window_first < s_cut (self) && s_stamp (self, self->window_first) < stored_end)
            self->window_first++;
    }
    if (!W || self->closing || self->window_first >= s_cut (self) || self->sink < 0)
        return;
    uint64_t id = s_stamp (self, self->window_first) / W * W;
    uint64_t end = id + W;
    bool no_more = self->eof
                || (zmr_wall_ms () >= end && (!self->pending_since || self->pending_stamp >= end));
    uint64_t first_open = zmr_ledger_first_open (self->ledger);
    bool all_done = first_open == s_cut (self) || s_stamp (self, first_open) >= end;
    if (!no_more || !all_done)
        return;
    self->closing = true;
    self->closing_id = id;
    for (uint32_t p = 0; p < self->config->reducers; p++) {
        zmr_msg_pack_close (&self->pk, self->job, id, 0, 0);
        s_send_to (self, &self->workers[self->reducer_of[p]]);
    }
    self->close_again = zmr_now_ms () + self->config->dead_ms;
}

//  WSTORED: the sink wrote the window being closed; its chunks are past.
static void s_advance (s_vent_t *self);

static void
s_window_stored (s_vent_t *self, uint64_t id, uint64_t words)
{
    if (!self->closing || id != self->closing_id)
        return;
    //  On disk before the next window closes: a ventilator started again
    //  closes the windows after it, and only those
    if (self->journal
    &&  zmr_journal_window_stored (self->journal, id, self->stat.windows_closed + 1)) {
        s_fail (self, "cannot write the journal");
        return;
    }
    if (self->config->event_format) {
        self->closing = false;
        if (id == ZMR_WINDOW_END) {
            //  The side records left are written: the job may flush
            self->end_stored = true;
            zmr_log (1, "the side records left at the end are written");
            s_advance (self);
            return;
        }
        self->last_1 = id + 1;
        s_panes_drop (self, id + self->config->every_ms);
        self->stat.windows_closed++;
        self->stat.last_window_start_ms = id;
        self->stat.last_window_words = words;
        zmr_log (1, "window from %llu ms closed: %llu words", (unsigned long long) id,
                 (unsigned long long) words);
        s_publish (self);
        return;
    }
    uint64_t end = id + self->config->window_ms;
    while (self->window_first < s_cut (self) && s_stamp (self, self->window_first) < end)
        self->window_first++;
    self->closing = false;
    self->stat.windows_closed++;
    self->stat.last_window_start_ms = id;
    self->stat.last_window_words = words;
    zmr_log (1, "window from %llu ms closed: %llu words", (unsigned long long) id,
             (unsigned long long) words);
    //  The event, at once, for monitors.
    s_publish (self);
}

//  Moves the job on when its condition is met: all registered -> mapping;
//  all chunks done -> flushing.
static void
s_advance (s_vent_t *self)
{
    s_journal_quarantines (self);
    if (self->phase == P_WAITING && s_ready (self)) {
        self->phase = P_MAPPING;
        zmr_log (1, "all %u reducers and the sink are here: mapping",
                 self->config->reducers);
        for (size_t i = 0; i < self->nworkers; i++)
            if (self->workers[i].state == W_ALIVE && !self->workers[i].welcomed)
                s_welcome (self, &self->workers[i]);
        s_publish (self);
    }
    if (self->phase == P_MAPPING)
        s_close_windows (self);
    if (self->phase == P_MAPPING && self->eof && s_counts (self)->in_flight == 0
    &&  zmr_ledger_queued (self->ledger) == 0 && zmr_ledger_uncounted (self->ledger) == 0
    &&  (self->config->event_format? self->end_stored
                                   : !self->config->window_ms
                                     || self->window_first == s_cut (self))) {
        self->phase = P_FLUSHING;
        zmr_log (1, "every chunk is applied: flushing %u partitions",
                 self->config->reducers);
        //  Mappers have nothing left to map: REST lets them give back
        //  their word tables before the sink's sort, not after.
        for (size_t i = 0; i < self->nworkers; i++)
            if (self->workers[i].role == ZMR_ROLE_MAPPER && self->workers[i].state == W_ALIVE) {
                zmr_msg_pack_rest (&self->pk, self->job);
                s_send_to (self, &self->workers[i]);
            }
        s_flush (self);
        s_publish (self);
    }
}

//  Registers a worker that said HELLO (again, after a restart, or anew).
static void
s_on_hello (s_vent_t *self, zmq_msg_t *identity, zmq_msg_t *body, zmr_msg_t *msg)
{
    s_worker_t *worker = s_worker_by_identity (self, identity);
    if (!worker) {
        if (self->nworkers == self->workers_size) {
            size_t size = self->workers_size? self->workers_size * 2: 16;
            s_worker_t *workers = realloc (self->workers, size * sizeof *workers);
            if (!workers)
                return;
            self->workers = workers;
            self->workers_size = size;
        }
        worker = &self->workers[self->nworkers];
        memset (worker, 0, sizeof *worker);
        worker->identity_len = zmq_msg_size (identity);
        memcpy (worker->identity, zmq_msg_data (identity), worker->identity_len);
        worker->id = ++self->nworkers;
    }
    int index = (int) (worker - self->workers);
    worker->role = (int) msg->role;
    worker->partition = msg->partition;
    worker->state = W_ALIVE;
    worker->last_seen = zmr_now_ms ();
    snprintf (worker->name, sizeof worker->name, "%s", msg->name);
    //  A wildcard host is replaced by the address the HELLO came from,
    //  unless that is loopback: then the wildcard stays, and each mapper puts
    //  in the host it reached us at, which is right for remote mappers too.
    const char *peer = zmq_msg_gets (body, "Peer-Address");
    if (peer && (strncmp (peer, "127.", 4) == 0 || strcmp (peer, "::1") == 0
             ||  strncmp (peer, "::ffff:127.", 11) == 0))
        peer = NULL;
    zmr_endpoint_with_host (msg->endpoint, peer, worker->endpoint,
                            sizeof worker->endpoint);
    snprintf (worker->key, sizeof worker->key, "%s", msg->key);

    if (self->phase == P_DONE || self->phase == P_FAILED) {
        s_pack_state (self, ZMR_FINISH);
        s_send_to (self, worker);
        return;
    }
    char reason[ZMR_REASON_MAX];
    uint32_t R = self->config->reducers;
    if (msg->role == ZMR_ROLE_REDUCER) {
        if (msg->reducers && msg->reducers != R) {
            snprintf (reason, sizeof reason, "this job has %u reducers, not %u",
                      R, msg->reducers);
            s_reject (self, worker, reason, false);
            return;
        }
        if (msg->partition >= R) {
            snprintf (reason, sizeof reason,
                      "partition %u does not exist: this job has partitions 0 to %u",
                      msg->partition, R - 1);
            s_reject (self, worker, reason, false);
            return;
        }
        int holder = self->reducer_of[msg->partition];
        if (holder >= 0 && holder != index && s_present (self, &self->workers[holder])) {
            snprintf (reason, sizeof reason, "partition %u is already served by %s",
                      msg->partition, self->workers[holder].name);
            s_reject (self, worker, reason, true);
            return;
        }
        //  A reducer that comes back must hold every chunk it ever ACKed,
        //  or counts were lost: fail rather than finish wrong.
        uint64_t applied = msg->job == self->job? msg->applied: 0;
        uint64_t acked = zmr_ledger_acks_by (self->ledger, msg->partition);
        if (applied < acked) {
            snprintf (reason, sizeof reason,
                      "reducer %u came back holding %llu of the %llu chunks it ACKed "
                      "(was it started without its --state?)", msg->partition,
                      (unsigned long long) applied, (unsigned long long) acked);
            s_reject (self, worker, reason, false);
            s_fail (self, reason);
            return;
        }
        if (holder >= 0 && holder != index) {
            zmr_log (0, "reducer %u is back as %s with %llu chunks applied",
                     msg->partition, worker->name, (unsigned long long) applied);
            //  Batches in flight to the old process may be lost: what this
            //  partition has not ACKed yet goes out again.
            if (zmr_ledger_partition_back (self->ledger, msg->partition))
                s_fail (self, "out of memory");
        }
        //  A reducer started again may listen elsewhere (tcp://*:* takes a
        //  free port, maybe the one another reducer had) or with another
        //  key: mappers hear it in a new WELCOME and connect there afresh.
        bool moved = holder >= 0 && holder != index
                  && (strcmp (self->workers[holder].endpoint, worker->endpoint)
                  ||  strcmp (self->workers[holder].key, worker->key));
        self->reducer_of[msg->partition] = index;
        zmr_log (1, "reducer %u is %s at %s", msg->partition, worker->name,
                 worker->endpoint);
        for (size_t i = 0; moved && s_ready (self) && i < self->nworkers; i++)
            if (self->workers[i].role == ZMR_ROLE_MAPPER && self->workers[i].welcomed
            &&  self->workers[i].state == W_ALIVE)
                s_welcome (self, &self->workers[i]);
    }
    else
    if (msg->role == ZMR_ROLE_SINK) {
        if (self->sink >= 0 && self->sink != index
        &&  s_present (self, &self->workers[self->sink])) {
            snprintf (reason, sizeof reason, "the job already has a sink, %s",
                      self->workers[self->sink].name);
            s_reject (self, worker, reason, true);
            return;
        }
        bool again = self->sink >= 0;
        self->sink = index;
        zmr_log (1, "the sink is %s at %s", worker->name, worker->endpoint);
        if (again && self->phase == P_MAPPING)
            //  The running totals go to the new sink (which holds none: the
            //  reducers send it all of theirs).
            for (uint32_t p = 0; p < R; p++)
                if (self->reducer_of[p] >= 0)
                    s_live (self, &self->workers[self->reducer_of[p]]);
        if (again && self->phase == P_FLUSHING) {
            //  A new sink holds nothing: every partition is sent again.
            memset (self->stored, 0, sizeof self->stored);
            self->nstored = 0;
            s_flush (self);
        }
    }
    else
        zmr_log (1, "mapper %s joined", worker->name);
    if (s_ready (self))
        s_welcome (self, worker);
    s_advance (self);
}

//  The ledger counted a complete chunk's words: the journal holds it.
static void
s_journal_done (s_vent_t *self, uint64_t id)
{
    const zmr_ledger_entry_t *chunk = zmr_ledger_entry (self->ledger, id);
    if (self->journal && zmr_journal_done (self->journal, id, chunk->words, chunk->too_long,
                                           chunk->pairs))
        s_fail (self, "cannot write the journal");
}

//  A mapper is gone: the ledger sends what it held out again.
static void
s_reclaim (s_vent_t *self, s_worker_t *worker, const char *why, bool died)
{
    uint32_t holder = worker->id;
    if (zmr_ledger_mapper_gone (self->ledger, holder, why, died))
        s_fail (self, "out of memory");
}

//  Whether some live mapper holds no chunk. A chunk issued and not taken
//  for --dead-ms is lost only if so (in a queue that died with its peer,
//  or in transit); while every live mapper is busy it is waiting its turn
//  in one's queue, behind a chunk slow to map. (A mapper's death or BYE
//  already sends every chunk issued and not taken out again.)
static bool
s_a_mapper_is_idle (s_vent_t *self)
{
    for (size_t i = 0; i < self->nworkers; i++)
        if (self->workers[i].role == ZMR_ROLE_MAPPER && self->workers[i].state == W_ALIVE
        &&  !zmr_ledger_holds (self->ledger, self->workers[i].id))
            return true;
    return false;
}

//  The handlers of what workers send on the control socket, once s_take
//  has checked who sent it. worker is NULL only for TAKE and MAPPED, which
//  may come from a mapper before its HELLO after a restart.

//  TAKE: a mapper holds the chunk now.
static void
s_on_take (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    uint32_t holder = worker? worker->id: 0;
    zmr_ledger_take (self->ledger, msg->chunk, holder, zmr_now_ms ());
}

//  MAPPED: a mapper sent the chunk's batches, and says its words.
static void
s_on_mapped (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    uint32_t holder = worker? worker->id: 0;
    int rc = zmr_ledger_mapped (self->ledger, msg->chunk, holder, msg->words,
                                (uint32_t) msg->too_long, msg->pair_count, zmr_now_ms ());
    if (rc < 0)
        return;
    if (rc == 1)
        s_journal_done (self, msg->chunk);
    if (worker) {
        worker->counters.chunks++;
        worker->counters.words += msg->words;
        worker->counters.bytes += zmr_ledger_entry (self->ledger, msg->chunk)->len;
    }
}

//  ACK: a reducer applied a chunk; with R of them it is complete.
static void
s_on_ack (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    (void) worker;
    if (msg->partition >= self->config->reducers) {
        self->stat.malformed++;
        zmr_log_dropped ("control", "ACK for a partition the job does not have");
        return;
    }
    int what = zmr_ledger_ack (self->ledger, msg->chunk, msg->partition, zmr_now_ms ());
    if (what & ZMR_LEDGER_COUNTED_NOW)
        s_journal_done (self, msg->chunk);
    if (what & ZMR_LEDGER_DONE_NOW)
        s_advance (self);
}

//  HEARTBEAT and BYE: a worker's counters; BYE, it leaves.
static void
s_on_heartbeat (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    if (!worker)
        return;
    if (worker->role != ZMR_ROLE_MAPPER)
        worker->counters = msg->counters;
    else {
        //  Chunks, words and bytes are counted here from MAPPED; the rest
        //  only the mapper knows.
        worker->counters.malformed = msg->counters.malformed;
        worker->counters.distinct = msg->counters.distinct;
    }
    if (msg->type == ZMR_BYE) {
        worker->state = W_LEFT;
        zmr_log (1, "%s %s left", s_role_names[worker->role], worker->name);
        if (worker->role == ZMR_ROLE_MAPPER)
            s_reclaim (self, worker, "its mapper left", false);
    }
}

//  STORED: the sink holds a partition's result.
static void
s_on_stored (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    (void) worker;
    if (msg->partition < self->config->reducers && !self->stored[msg->partition]) {
        self->stored[msg->partition] = true;
        self->nstored++;
    }
}

//  DONE: the sink wrote the result. The pairs the reducers applied must be
//  the pairs the completed chunks sent, each chunk once (every job), and
//  for the word count its words the completed chunks' words, or the job
//  fails.
static void
s_on_done (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    (void) worker;
    if (self->phase != P_FLUSHING)
        return;
    zmr_log (1, "the sink wrote %llu %s, %llu distinct keys, from %llu pairs",
             (unsigned long long) msg->words,
             self->spec.kind == ZMR_JOB_WORDS? "words": "as its values' total",
             (unsigned long long) msg->distinct, (unsigned long long) msg->pair_count);
    uint64_t words = s_counts (self)->words;
    uint64_t pairs = s_counts (self)->pairs;
    char reason[ZMR_REASON_MAX];
    if (msg->pair_count != pairs) {
        snprintf (reason, sizeof reason,
                  "the sink holds %llu pairs but the completed chunks sent %llu",
                  (unsigned long long) msg->pair_count, (unsigned long long) pairs);
        s_fail (self, reason);
    }
    else
    if (self->spec.kind == ZMR_JOB_WORDS && msg->words != words) {
        snprintf (reason, sizeof reason,
                  "the sink holds %llu words but the completed chunks %llu",
                  (unsigned long long) msg->words, (unsigned long long) words);
        s_fail (self, reason);
    }
    else {
        self->phase = P_DONE;
        s_publish (self);
    }
}

//  WSTORED: the sink wrote a window.
static void
s_on_wstored (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    (void) worker;
    s_window_stored (self, msg->window, msg->words);
}

//  FAIL: a reducer or the sink cannot go on, so neither can the job.
static void
s_on_fail (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    //  A mapper's too: a sum that overflows within one chunk fails the job
    //  as one across chunks does (at a reducer), not the chunk alone.
    if (worker) {
        char reason[ZMR_REASON_MAX + ZMR_NAME_MAX + 16];
        snprintf (reason, sizeof reason, "%s %s: %s", s_role_names[worker->role],
                  worker->name, msg->reason);
        s_fail (self, reason);
    }
}

//  Mappers that refused the job, and whether every mapper did (none alive).
static uint64_t
s_refused (s_vent_t *self, bool *all)
{
    uint64_t refused = 0, alive = 0;
    for (size_t i = 0; i < self->nworkers; i++)
        if (self->workers[i].role == ZMR_ROLE_MAPPER) {
            refused += self->workers[i].refused;
            alive += self->workers[i].state == W_ALIVE;
        }
    if (all)
        *all = refused && !alive;
    return refused;
}

//  REFUSE: a mapper will not run this job (no job its own options define
//  has its kind and digest). It is out of the job; what it may hold goes
//  out again. Said once per mapper (a pool mapper may ask again).
static void
s_on_refuse (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    bool again = worker->refused;
    worker->refused = true;
    worker->state = W_REFUSED;
    zmr_log (again? 1: 0, "mapper %s refused the job: %s", worker->name, msg->reason);
    s_reclaim (self, worker, "its mapper refused the job", false);
    bool all;
    uint64_t refused = s_refused (self, &all);
    if (all && !again)
        zmr_log (0, "no mapper may run this job: %llu refused it (see their logs); "
                 "start mappers with this job's --map or --plugin",
                 (unsigned long long) refused);
    s_publish (self);
}

//  FAILED: a chunk's map failed in its mapper (the command exited non-zero,
//  printed a bad line, hung or died): like a death of that mapper on the
//  chunk, which goes out again, or is quarantined at --poison-limit.
static void
s_on_failed (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    const zmr_ledger_entry_t *chunk = zmr_ledger_entry (self->ledger, msg->chunk);
    if (!chunk)
        return;
    //  Said once per attempt: a stale FAILED (the chunk is in line again,
    //  mapped or done) changes nothing and is not logged.
    uint32_t attempt = chunk->attempt + 1;
    char why[ZMR_REASON_MAX + ZMR_NAME_MAX + 32];
    snprintf (why, sizeof why, "its map failed in mapper %s", worker->name);
    int rc = zmr_ledger_map_failed (self->ledger, msg->chunk, worker->id, why);
    if (rc < 0)
        s_fail (self, "out of memory");
    else
    if (rc == 1)
        zmr_log (0, "chunk %llu (attempt %u) failed in mapper %s: %s",
                 (unsigned long long) msg->chunk, attempt, worker->name, msg->reason);
    s_advance (self);
}

//  LIVESTAT: the sink's view of the running totals, for the status.
static void
s_on_livestat (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    (void) worker;
    self->stat.latency_p50_ms = msg->p50;
    self->stat.latency_p99_ms = msg->p99;
    self->stat.latency_samples = msg->samples;
    const char *word;
    uint32_t len;
    uint64_t count;
    self->stat.ntop = 0;
    while (zmr_msg_next_pair (msg, &word, &len, &count)) {
        zmr_top_t *top = &self->stat.top[self->stat.ntop++];
        zmr_status_set_word (top, word, len);
        top->count = (int64_t) count;
    }
}

typedef void (s_handler_fn) (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg);

//  Each message is taken only from the role that sends it (0: any role):
//  a peer that said HELLO as a mapper cannot ACK, store or finish anything.
static const struct {
    int type;                //  zmr_msg_type_t
    int role;                //  zmr_role_t that sends it, or 0
    s_handler_fn *handler;   //  What takes it
} s_handlers[] = {
    { ZMR_TAKE,      ZMR_ROLE_MAPPER,  s_on_take },
    { ZMR_MAPPED,    ZMR_ROLE_MAPPER,  s_on_mapped },
    { ZMR_ACK,       ZMR_ROLE_REDUCER, s_on_ack },
    { ZMR_HEARTBEAT, 0,                s_on_heartbeat },
    { ZMR_BYE,       0,                s_on_heartbeat },
    { ZMR_STORED,    ZMR_ROLE_SINK,    s_on_stored },
    { ZMR_DONE,      ZMR_ROLE_SINK,    s_on_done },
    { ZMR_WSTORED,   ZMR_ROLE_SINK,    s_on_wstored },
    { ZMR_FAIL,      0,                s_on_fail },
    { ZMR_LIVESTAT,  ZMR_ROLE_SINK,    s_on_livestat },
    { ZMR_REFUSE,    ZMR_ROLE_MAPPER,  s_on_refuse },
    { ZMR_FAILED,    ZMR_ROLE_MAPPER,  s_on_failed },
};

//  Takes a decoded message of this job from worker (NULL: a peer that has
//  not said HELLO) on the control socket: checks who sent it, and hands it
//  to the handler of its type.
static void
s_take (s_vent_t *self, s_worker_t *worker, zmr_msg_t *msg)
{
    if (worker) {
        worker->last_seen = zmr_now_ms ();
        if (worker->role == ZMR_ROLE_MAPPER && worker->welcomed && msg->type != ZMR_HELLO)
            worker->ready = true;
        if (worker->state == W_DEAD) {
            zmr_log (0, "%s %s is back", s_role_names[worker->role], worker->name);
            worker->state = W_ALIVE;
        }
        //  A mapper that refused the job takes no part in it: what it
        //  says after (its BYE) is dropped as from one that left.
        if (worker->state == W_REFUSED && msg->type != ZMR_REFUSE)
            return;
    }
    if (!worker && msg->type != ZMR_TAKE && msg->type != ZMR_MAPPED) {
        //  Asked to say HELLO; until then it is nobody, and what it sends is
        //  dropped (a restarted ventilator sees a few of these, honestly).
        //  Only a mapper's TAKE and MAPPED are kept: after a restart they
        //  may come before its HELLO, and a chunk's words are known only
        //  from MAPPED. A forged one can only make the final check (sink
        //  total against ventilator total) fail the job, never pass it.
        self->stat.malformed++;
        zmr_log_dropped ("control", "message from a peer that has not said HELLO");
        return;
    }
    s_handler_fn *handler = NULL;
    int expected = 0;
    for (size_t i = 0; i < sizeof s_handlers / sizeof s_handlers[0]; i++)
        if (s_handlers[i].type == (int) msg->type) {
            handler = s_handlers[i].handler;
            expected = s_handlers[i].role;
            break;
        }
    bool in_place = !worker || expected == 0 || worker->role == expected;
    if (msg->type == ZMR_ACK)
        in_place = in_place && self->reducer_of[msg->partition < ZMR_MAX_REDUCERS? msg->partition: 0]
                               == (int) (worker - self->workers);
    if (expected == ZMR_ROLE_SINK)
        in_place = in_place && self->sink == (int) (worker - self->workers);
    if (!in_place || (worker && worker->state == W_LEFT)) {
        self->stat.malformed++;
        zmr_log_dropped ("control", "message from a worker not in that role");
        return;
    }
    if (!handler) {
        self->stat.malformed++;
        zmr_log_dropped ("control", "message type not for the ventilator");
        return;
    }
    handler (self, worker, msg);
}

//  Sends what is packed in sbuf to the peer with routing id identity
//  (one the ledger has no worker for).
static void
s_send_to_identity (s_vent_t *self, zmq_msg_t *identity)
{
    zmq_msg_t id;
    zmq_msg_init (&id);
    zmq_msg_copy (&id, identity);
    if (zmq_msg_send (&id, zsock_resolve (self->control), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&id);
        msgpack_sbuffer_clear (&self->sbuf);
    }
    else
    if (zmr_msg_send (self->control, &self->sbuf, ZMQ_DONTWAIT) == -1)
        msgpack_sbuffer_clear (&self->sbuf);
}

//  A HELLO for another job: a worker holding state of a job this
//  ventilator does not run (a reducer's --state of an earlier job, a
//  worker of a ventilator that was started again without its --journal).
//  It can never join: REJECT tells it why, and the log says who it is and
//  what to do, at most once every 30 s.
static void
s_on_other_job (s_vent_t *self, zmq_msg_t *identity, zmq_msg_t *body, zmr_msg_t *msg)
{
    const char *role = msg->role < 4 && msg->role? s_role_names[msg->role]: "worker";
    char what[160];
    if (msg->role == ZMR_ROLE_REDUCER)
        snprintf (what, sizeof what, "remove its --state directory, use another, or start "
                  "it with --discard-state");
    else
        snprintf (what, sizeof what, "its job is over here: stop it (or start this "
                  "ventilator with that job's --journal)");
    char reason[ZMR_REASON_MAX];
    snprintf (reason, sizeof reason, "this ventilator runs job %016llx, not job %016llx: %s",
              (unsigned long long) self->job, (unsigned long long) msg->job, what);
    zmr_msg_pack_reason (&self->pk, ZMR_REJECT, self->job, false, reason);
    s_send_to_identity (self, identity);
    self->stat.malformed++;
    int64_t now = zmr_now_ms ();
    if (self->other_said && now - self->other_said < 30000) {
        self->other_unsaid++;
        return;
    }
    const char *peer = zmq_msg_gets (body, "Peer-Address");
    char more[64] = "";
    if (self->other_unsaid)
        snprintf (more, sizeof more, " (and %u more HELLOs for other jobs since)",
                  self->other_unsaid);
    zmr_log (0, "%s %s%s%s says HELLO for job %016llx, but this is job %016llx: rejected; "
             "%s%s", role, msg->name, peer && *peer? " at ": "", peer && *peer? peer: "",
             (unsigned long long) msg->job, (unsigned long long) self->job, what, more);
    self->other_said = now;
    self->other_unsaid = 0;
}

static void
s_on_control (s_vent_t *self)
{
    zmq_msg_t frames[2];
    int n;
    if (zmr_msg_recv (self->control, frames, 2, &n, ZMQ_DONTWAIT) == -1) {
        if (errno == EPROTO) {
            self->stat.malformed++;
            zmr_log_dropped ("control", "too many frames");
        }
        return;
    }
    zmr_msg_t msg;
    const char *why = "one frame after the routing id expected";
    if (n != 2 || zmr_msg_decode (zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]),
                                  &msg, &why)) {
        self->stat.malformed++;
        zmr_log_dropped ("control", why);
        zmr_msg_close (frames, n);
        return;
    }
    if (msg.type == ZMR_HELLO) {
        if (msg.job != 0 && msg.job != self->job)
            s_on_other_job (self, &frames[0], &frames[1], &msg);
        else
            s_on_hello (self, &frames[0], &frames[1], &msg);
        zmr_msg_close (frames, n);
        return;
    }
    if (msg.job != self->job) {
        self->stat.malformed++;
        zmr_log_dropped ("control", "message of another job");
        zmr_msg_close (frames, n);
        return;
    }
    s_worker_t *worker = s_worker_by_identity (self, &frames[0]);
    if (!worker && msg.type != ZMR_BYE) {
        //  A worker of this job that we do not know (we restarted, or it
        //  reconnected under a new id): ask it to say HELLO.
        zmr_msg_pack_again (&self->pk, self->job);
        s_send_to_identity (self, &frames[0]);
    }
    //  Pairs (LIVESTAT's top words) are views into the frame: it is closed
    //  after the message is taken.
    s_take (self, worker, &msg);
    zmr_msg_close (frames, n);
}

//  Writes the journal anew when it has grown: the prefix of chunks done
//  and counted in one summary record, then a cut (and done) record per
//  chunk after it, so that a stream's journal stays the size of what is
//  in flight and not of what went by.
static void
s_journal_rewrite (s_vent_t *self)
{
    uint64_t base = zmr_ledger_base (self->ledger), nchunks = s_cut (self);
    uint64_t first_quarantined = zmr_ledger_first_quarantined (self->ledger);
    //  Event time: written anew whenever the prefix grew (the spool is
    //  given back only below it)
    if (nchunks <= base
    ||  (zmr_journal_records (self->journal) < self->config->journal_compact
         && !self->config->event_format))
        return;
    //  A quarantined chunk looks done (no words), but a summary must not
    //  hide it: a ventilator restarted on it would not report it. The
    //  journal grows on past one (and cannot be written anew at all once
    //  the ledger forgot the chunks before it).
    if (first_quarantined < base)
        return;
    //  The chunk the summary stops at must be cut already: it says where
    //  the input stands
    uint64_t low = zmr_ledger_first_needed (self->ledger);
    if (low > first_quarantined)
        low = first_quarantined;
    if (low > nchunks - 1)
        low = nchunks - 1;
    zmr_journal_summary_t summary = *zmr_ledger_forgotten (self->ledger);
    uint64_t id = base;
    for (; id < low; id++) {
        const zmr_ledger_entry_t *chunk = zmr_ledger_entry (self->ledger, id);
        if (chunk->state != ZMR_LEDGER_DONE || !chunk->counted)
            break;
        summary.words += chunk->words;
        summary.too_long += chunk->too_long;
        summary.pairs += chunk->pairs;
        summary.bytes += chunk->len;
        summary.late += chunk->late;
        summary.untimed += chunk->untimed;
    }
    if (id <= self->summed_up)
        return;                 //  No shorter journal to write (summed_up
                                //  starts at the loaded summary's chunks)
    summary.chunks = id;
    summary.input = zmr_ledger_entry (self->ledger, id)->input;
    summary.offset = zmr_ledger_entry (self->ledger, id)->offset;
    //  Event time: M where the rest starts, and the data panes not closed
    //  (all of them: those of the chunks after come again when they are
    //  scanned again, and are the same)
    summary.event_max = zmr_ledger_entry (self->ledger, id)->event_max;
    summary.panes = self->panes;
    summary.npanes = self->npanes;
    if (zmr_journal_rewrite_begin (self->journal, &summary)) {
        zmr_log (0, "cannot write the journal anew (it goes on growing): %s", strerror (errno));
        return;
    }
    bool ok = true;
    for (uint64_t i = id; ok && i < nchunks; i++) {
        const zmr_ledger_entry_t *chunk = zmr_ledger_entry (self->ledger, i);
        zmr_journal_cut_t where = { chunk->input, chunk->offset, chunk->len };
        //  (A quarantined chunk gets no done record but a quarantine one,
        //  as when it was quarantined)
        ok = zmr_journal_cut_stamped (self->journal, i, &where, chunk->stamp) == 0
          && (!chunk->quarantined || zmr_journal_quarantined (self->journal, i) == 0)
          && (chunk->state != ZMR_LEDGER_DONE || !chunk->counted || chunk->quarantined
              || zmr_journal_done (self->journal, i, chunk->words, chunk->too_long,
                                   chunk->pairs) == 0);
    }
    if (zmr_journal_rewrite_end (self->journal, ok))
        zmr_log (0, "cannot write the journal anew (it goes on growing): %s",
                 ok? strerror (errno): "a record failed");
    else {
        self->summed_up = id;
        zmr_log (2, "journal written anew from chunk %llu", (unsigned long long) id);
    }
}

//  Who the job waits for before it can map: "reducers 0, 2 and the sink"
//  (a static buffer).
static const char *
s_missing (s_vent_t *self)
{
    static char text[256];
    uint32_t missing = 0, first = 0;
    for (uint32_t p = 0; p < self->config->reducers; p++)
        if (self->reducer_of[p] < 0 && missing++ == 0)
            first = p;
    size_t len = 0;
    text[0] = 0;
    if (missing == 1)
        len = (size_t) snprintf (text, sizeof text, "reducer %u", first);
    else
    if (missing > 1) {
        len = (size_t) snprintf (text, sizeof text, "reducers");
        uint32_t listed = 0;
        for (uint32_t p = 0; p < self->config->reducers && listed < 8; p++)
            if (self->reducer_of[p] < 0)
                len += (size_t) snprintf (text + len, sizeof text - len, "%s%u",
                                          listed++? ", ": " ", p);
        if (missing > listed)
            len += (size_t) snprintf (text + len, sizeof text - len, " (%u in all)", missing);
    }
    if (self->sink < 0)
        snprintf (text + len, sizeof text - len, "%sthe sink", missing? " and ": "");
    return text;
}

//  Timeouts: dead workers, lost chunks, FLUSH again, the status.
static void
s_housekeeping (s_vent_t *self)
{
    int64_t now = zmr_now_ms ();
    uint32_t dead_ms = self->config->dead_ms;
    //  Silence is judged on what has been read: while messages wait on the
    //  control socket (this process was slow, not its peers), a verdict
    //  waits too, for at most another dead_ms.
    bool unread = zsock_events (self->control) & ZMQ_POLLIN;
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *worker = &self->workers[i];
        int64_t silent = now - worker->last_seen;
        if (worker->state == W_ALIVE && silent > dead_ms
        &&  (!unread || silent > 2 * (int64_t) dead_ms)) {
            worker->state = W_DEAD;
            zmr_log (0, "%s %s is silent for %u ms: declared dead",
                     s_role_names[worker->role], worker->name, dead_ms);
            if (worker->role == ZMR_ROLE_MAPPER)
                s_reclaim (self, worker, "its mapper is dead", true);
        }
    }
    //  Leases that ran out. A chunk can also be done (every reducer applied
    //  it) with its words unknown: its mapper died after its batches went
    //  and before its MAPPED did. It is mapped again after dead_ms, only to
    //  learn its words: the reducers drop its batches as duplicates.
    if (self->phase == P_MAPPING
    &&  (zmr_ledger_expire (self->ledger, now, s_a_mapper_is_idle (self))
    ||   zmr_ledger_recount (self->ledger, now)))
        s_fail (self, "out of memory");
    //  A stream's ledger forgets the chunks done, counted and past every
    //  window.
    //  (Event time: the chunks not summed up on disk stay, where the spool
    //  is given back from)
    zmr_ledger_compact (self->ledger, self->config->event_format? self->summed_up
                                      : self->config->window_ms? self->window_first
                                      : UINT64_MAX);
    if (self->phase == P_FLUSHING && now >= self->next_flush)
        s_flush (self);
    if (self->closing && now >= self->close_again) {
        //  No WSTORED: a reducer or the sink may have missed it.
        self->closing = false;
        s_close_windows (self);
    }
    bool event = self->config->event_format != 0;
    if (self->journal && now >= self->next_sync) {
        s_journal_quarantines (self);
        if (event)
            //  First: the spool's text given back must be summed up on disk
            s_journal_rewrite (self);
        //  A stream's spool holds only what may be read again, on disk:
        //  the text before the first chunk still needed is given back.
        if (s_cut (self) > zmr_ledger_base (self->ledger)) {
            //  (None yet after a restart from a journal written anew: the
            //  ledger starts empty, at its summary's chunk)
            uint64_t needed = zmr_ledger_first_needed (self->ledger);
            if (event && needed > self->summed_up)
                needed = self->summed_up;
            const zmr_ledger_entry_t *first = zmr_ledger_entry (self->ledger, needed);
            const zmr_ledger_entry_t *last = zmr_ledger_entry (self->ledger, s_cut (self) - 1);
            zmr_chunker_release (self->chunker, first? first->input: last->input,
                                 first? first->offset: last->offset + last->len);
        }
        zmr_chunker_sync (self->chunker);
        if (!event)
            s_journal_rewrite (self);
        zmr_journal_sync (self->journal);
        self->next_sync = now + 1000;
    }
    if (self->phase == P_WAITING && now >= self->waiting_say) {
        if (self->waiting_say)
            zmr_log (0, "waiting for %s", s_missing (self));
        self->waiting_say = now + (self->waiting_say? 30000: 5000);
    }
    if (now >= self->next_status)
        s_publish (self);
}

//  Copies the ledger's running totals into the status.
static void
s_sync_counts (s_vent_t *self)
{
    const zmr_ledger_counts_t *counts = s_counts (self);
    self->stat.chunks_read = counts->chunks_read;
    self->stat.bytes_read = counts->bytes_read;
    self->stat.chunks_issued = counts->chunks_issued;
    self->stat.chunks_reissued = counts->chunks_reissued;
    self->stat.chunks_done = counts->chunks_done;
    self->stat.bytes_done = counts->bytes_done;
    self->stat.in_flight = counts->in_flight;
    self->stat.words = counts->words;
    self->stat.words_too_long = counts->words_too_long;
    self->stat.chunks_quarantined = counts->chunks_quarantined;
}

//  Packs the job's whole state into sbuf, as STATUS (for the PUB) or as
//  FINISH (for a worker, at the end).
static void
s_pack_state (s_vent_t *self, int type)
{
    int64_t now = zmr_now_ms ();
    zmr_status_t *stat = &self->stat;
    s_sync_counts (self);
    stat->job = self->job;
    if (type == ZMR_STATUS)
        stat->seq++;
    snprintf (stat->phase, sizeof stat->phase, "%s", s_phase_names[self->phase]);
    stat->reducers = self->config->reducers;
    stat->inputs = self->config->ninputs;
    stat->window_ms = self->config->window_ms;
    stat->has_watermark = self->config->event_format && self->ev_max != ZMR_EVTIME_UNKNOWN;
    stat->watermark_ms = !stat->has_watermark? 0
                       : self->ev_max > self->config->lateness_ms
                       ? self->ev_max - self->config->lateness_ms: 0;
    stat->elapsed_ms = (uint64_t) (now - self->started);
    stat->input_eof = self->eof;
    //  Backpressure's running total counts each span between two samples
    //  that began backpressured (a sample each status: 250 ms resolution).
    if (stat->backpressured && self->backpressure_at)
        stat->backpressure_ms += (uint64_t) (now - self->backpressure_at);
    self->backpressure_at = now;
    //  Input to read, and no room to take it in: the reader waits (a pipe's
    //  writer blocks, a socket's sender is held back by TCP). No room is no
    //  credit, or a chunk socket that takes nothing: no mapper connected to
    //  it yet, or each one's queue full (the ventilator reads the next chunk
    //  only when the socket can take it). Seen on a loaded machine: a mapper
    //  stopped before it had connected left the credit untouched, and the
    //  status never said backpressured while the writer was held.
    stat->backpressured = self->phase == P_MAPPING && !self->eof && !self->input_waits
                       && (!s_can_issue (self) || !(zsock_events (self->chunks) & ZMQ_POLLOUT));
    stat->mappers_alive = 0;
    stat->duplicates = 0;
    stat->mappers_refused = s_refused (self, NULL);
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *worker = &self->workers[i];
        if (worker->role == ZMR_ROLE_MAPPER && worker->state == W_ALIVE)
            stat->mappers_alive++;
        if (worker->role == ZMR_ROLE_REDUCER)
            stat->duplicates += worker->counters.duplicates;
    }
    if (self->phase == P_FAILED)
        snprintf (stat->reason, sizeof stat->reason, "%s", self->reason);
    else
    if (self->phase == P_WAITING)
        snprintf (stat->reason, sizeof stat->reason, "waiting for %s", s_missing (self));
    else
    if (self->phase == P_MAPPING && stat->mappers_alive == 0 && stat->mappers_refused)
        snprintf (stat->reason, sizeof stat->reason,
                  "no mapper may run this job: %llu refused it (see their logs)",
                  (unsigned long long) stat->mappers_refused);
    else
    if (self->phase == P_MAPPING && stat->mappers_alive == 0)
        snprintf (stat->reason, sizeof stat->reason, "no mapper alive: waiting for one");
    else
    if (self->phase == P_MAPPING && self->input_waits && !self->eof
    &&  stat->in_flight == 0 && zmr_ledger_queued (self->ledger) == 0)
        //  All read is done and the input has nothing more yet (a FIFO
        //  with no writer, a quiet pipe): waiting is not being stuck.
        snprintf (stat->reason, sizeof stat->reason, "waiting for input");
    else
        stat->reason[0] = 0;
    if (now - self->rate_at >= 1000) {
        int64_t span = now - self->rate_at;
        stat->bytes_per_s = (stat->bytes_done - self->rate_bytes) * 1000 / (uint64_t) span;
        stat->words_per_s = (stat->words - self->rate_words) * 1000 / (uint64_t) span;
        self->rate_at = now;
        self->rate_bytes = stat->bytes_done;
        self->rate_words = stat->words;
    }
    size_t nworkers = self->nworkers < ZMR_STATUS_MAX_WORKERS? self->nworkers
                                                             : ZMR_STATUS_MAX_WORKERS;
    zmr_worker_status_t workers[nworkers? nworkers: 1];
    for (size_t i = 0; i < nworkers; i++) {
        s_worker_t *worker = &self->workers[i];
        zmr_worker_status_t *out = &workers[i];
        memset (out, 0, sizeof *out);
        out->id = worker->id;
        snprintf (out->role, sizeof out->role, "%s", s_role_names[worker->role]);
        snprintf (out->name, sizeof out->name, "%s", worker->name);
        snprintf (out->state, sizeof out->state, "%s", s_worker_states[worker->state]);
        out->partition = worker->partition;
        out->chunks = worker->counters.chunks;
        out->words = worker->counters.words;
        out->bytes = worker->counters.bytes;
        out->duplicates = worker->counters.duplicates;
        out->malformed = worker->counters.malformed;
        out->distinct = worker->counters.distinct;
        out->last_seen_ms = (uint64_t) (now - worker->last_seen);
    }
    stat->workers = workers;
    stat->nworkers = (uint32_t) nworkers;
    stat->quarantine = (zmr_quarantine_t *) zmr_ledger_quarantine (self->ledger);
    stat->nquarantine = (uint32_t) stat->chunks_quarantined;
    if (type == ZMR_STATUS)
        zmr_status_pack (&self->pk, stat);
    else
        zmr_status_pack_finish (&self->pk, stat, self->phase == P_DONE, self->reason);
    stat->workers = NULL;
    stat->nworkers = 0;
    stat->quarantine = NULL;
    stat->nquarantine = 0;
}

static void
s_publish (s_vent_t *self)
{
    s_pack_state (self, ZMR_STATUS);
    //  PUB drops for a subscriber that does not keep up; never blocks.
    if (zmr_msg_send (self->status, &self->sbuf, ZMQ_DONTWAIT) == -1)
        msgpack_sbuffer_clear (&self->sbuf);
    self->next_status = zmr_now_ms () + self->config->status_ms;
}

static int
s_open (s_vent_t *self, const zmr_ventilator_config_t *config)
{
    self->config = config;
    if (config->spec)
        self->spec = *config->spec;
    else
        zmr_job_words (&self->spec);
    snprintf (self->stat.job_label, sizeof self->stat.job_label, "%s", self->spec.label);
    snprintf (self->stat.job_kind, sizeof self->stat.job_kind, "%s",
              zmr_job_kind_name (self->spec.kind));
    snprintf (self->stat.reduce, sizeof self->stat.reduce, "%s",
              zmr_reduce_name (self->spec.reduce));
    self->sink = -1;
    for (uint32_t p = 0; p < ZMR_MAX_REDUCERS; p++)
        self->reducer_of[p] = -1;
    self->job = config->job;
    while (self->job == 0)
        zmr_random (&self->job, sizeof self->job);
    msgpack_sbuffer_init (&self->sbuf);
    msgpack_packer_init (&self->pk, &self->sbuf, msgpack_sbuffer_write);
    self->started = self->rate_at = zmr_now_ms ();
    snprintf (self->stat.phase, sizeof self->stat.phase, "waiting");
    self->ev_max = ZMR_EVTIME_UNKNOWN;
    if (config->event_format)
        snprintf (self->stat.event_time, sizeof self->stat.event_time, "%s",
                  zmr_evtime_format_name (config->event_format));

    char error[512];
    self->chunker = zmr_chunker_new (config->inputs, config->ninputs,
                                     config->chunk_size,
                                     zmr_max_chunk_for (zmr_max_message ()),
                                     error, sizeof error);
    if (!self->chunker) {
        zmr_log (0, "%s", error);
        return -1;
    }
    zmr_chunker_set_nonblocking (self->chunker, true);
    zmr_chunker_set_by_reference (self->chunker, config->by_reference);
    //  A line job's chunks hold whole lines: a record is never split.
    //  Event time: each line's time is in the line.
    zmr_chunker_set_cut (self->chunker, config->event_format? ZMR_CUT_LINES
                                                            : zmr_job_cut (&self->spec));
    self->refs = calloc (config->ninputs? config->ninputs: 1, sizeof *self->refs);
    self->ledger = zmr_ledger_new (config->reducers, config->dead_ms, config->poison_limit,
                                   config->inputs);
    if (!self->refs || !self->ledger) {
        zmr_log (0, "out of memory");
        return -1;
    }
    int all_known;
    self->stat.input_bytes = zmr_chunker_known_bytes (self->chunker, &all_known);
    self->stat.input_known = all_known != 0;
    if (config->journal) {
        zmr_journal_header_t header = {
            .job = config->job, .reducers = config->reducers,
            .chunk_size = config->chunk_size, .input_bytes = self->stat.input_bytes,
            .inputs = (uint32_t) config->ninputs,
            .job_kind = (uint32_t) self->spec.kind, .reduce = (uint32_t) self->spec.reduce,
            .event_format = (uint32_t) config->event_format
        };
        if (config->event_format) {
            header.window_ms = config->window_ms;
            header.every_ms = config->every_ms;
            header.lateness_ms = config->lateness_ms;
        }
        snprintf (header.digest, sizeof header.digest, "%s", self->spec.digest);
        snprintf (header.label, sizeof header.label, "%s", self->spec.label);
        self->journal = zmr_journal_open (config->journal, &header, error, sizeof error);
        if (!self->journal) {
            zmr_log (0, "%s", error);
            return -1;
        }
        self->job = header.job;
        //  What is read from a stream is spooled next to the journal, and
        //  chunks are cut again where they were cut: a chunk id always
        //  names the same bytes, whatever sizes reads return this time.
        char spool[PATH_MAX];
        snprintf (spool, sizeof spool, "%s.spool", config->journal);
        bool resumed = zmr_journal_resumed (self->journal);
        if (zmr_chunker_spool (self->chunker, spool, resumed, error, sizeof error)) {
            zmr_log (0, "%s", error);
            return -1;
        }
        const zmr_journal_summary_t *summary = zmr_journal_summary (self->journal);
        if (summary->chunks) {
            //  Written anew: the chunks before its first cut are done, and
            //  the input resumes where the first of the rest starts
            if (zmr_chunker_seek (self->chunker, summary->input, summary->offset)) {
                zmr_log (0, "journal '%s' is corrupt", config->journal);
                return -1;
            }
            zmr_ledger_resume (self->ledger, summary);
            self->window_first = summary->chunks;
            //  Event time: M at the summary's end, its lines' counts and
            //  the data panes of its chunks (the chunks after it are
            //  scanned again as they are cut again)
            self->ev_max = summary->event_max;
            self->stat.late_records = summary->late;
            self->stat.untimed_records = summary->untimed;
        }
        self->journal_first = summary->chunks;
        self->summed_up = summary->chunks;
        const zmr_journal_cut_t *cuts = zmr_journal_cuts (self->journal, &self->ncuts_journaled);
        for (size_t i = 0; i < self->ncuts_journaled; i++)
            if (zmr_chunker_replay (self->chunker, cuts[i].input, cuts[i].offset, cuts[i].len)) {
                zmr_log (0, "journal '%s' is corrupt", config->journal);
                return -1;
            }
        for (size_t i = 0; config->window_ms && i < self->ncuts_journaled; i++)
            if (!zmr_journal_stamps (self->journal)[i]) {
                zmr_log (0, "cannot resume job %016llx with --window from '%s': it was "
                         "written before chunks' stamps (their windows) were journaled",
                         (unsigned long long) self->job, config->journal);
                return -1;
            }
        //  Windows written before the restart count on in the status
        self->last_1 = zmr_journal_windows_stored (self->journal, &self->stat.windows_closed);
        self->end_stored = zmr_journal_end_stored (self->journal);
        for (size_t i = 0; config->event_format && i < summary->npanes; i++)
            if (s_pane_add (self, summary->panes[i])) {
                zmr_log (0, "out of memory");
                return -1;
            }
        if (resumed)
            zmr_log (0, "resuming job %016llx: %zu chunks cut, %zu complete%s",
                     (unsigned long long) self->job, self->journal_first + self->ncuts_journaled,
                     self->journal_first + zmr_journal_loaded (self->journal),
                     self->journal_first? " (the journal was written anew: the first "
                                          "ones summed up)": "");
    }

    self->control = zmr_socket (ZMQ_ROUTER, 1 << 20, 1000);
    //  Small queues towards each mapper keep joining fair (docs/design.md).
    self->chunks = zmr_socket (ZMQ_PUSH, -1, 0);
    //  XPUB, so that every new subscriber is answered with the state at
    //  once (a last-value cache) instead of waiting for the next tick; the
    //  linger lets the final state reach subscribers after we close.
    self->status = zmr_socket (ZMQ_XPUB, 64, 200);
    if (!self->control || !self->chunks || !self->status)
        return -1;
    zsock_set_sndhwm (self->chunks, 1);
    zsock_set_sndbuf (self->chunks, 256 * 1024);
    zsock_set_sndhwm (self->status, 64);
    zsock_set_xpub_verbose (self->status, 1);
    zsock_set_sndhwm (self->control, 10000);
    if (zmr_bind (self->control, config->control, NULL)
    ||  zmr_bind (self->chunks, config->chunks, self->chunks_endpoint))
        return -1;
    for (size_t i = 0; i < config->nstatus; i++)
        if (zmr_bind (self->status, config->status[i],
                      i == 0? self->status_endpoint: NULL))
            return -1;
    zmr_log (1, "job %016llx (%s '%s', reduce %s): control %s, chunks %s, status %s",
             (unsigned long long) self->job, zmr_job_kind_name (self->spec.kind),
             self->spec.label, zmr_reduce_name (self->spec.reduce), config->control,
             self->chunks_endpoint, self->status_endpoint);
    return 0;
}

static void
s_close (s_vent_t *self)
{
    zmr_ledger_destroy (&self->ledger);
    for (size_t i = 0; self->refs && i < self->config->ninputs; i++)
        free ((char *) self->refs[i].path);
    free (self->refs);
    free (self->workers);
    free (self->panes);
    zsock_destroy (&self->status);
    zsock_destroy (&self->chunks);
    zsock_destroy (&self->control);
    zmr_chunker_destroy (&self->chunker);
    zmr_journal_destroy (&self->journal);
    msgpack_sbuffer_destroy (&self->sbuf);
}

//  Takes the subscriptions that arrived on the status socket; if any is
//  new, publishes the state, so a late joiner has it at once.
static void
s_on_subscribers (s_vent_t *self)
{
    bool joined = false;
    for (int i = 0; i < 64 && (zsock_events (self->status) & ZMQ_POLLIN); i++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, zsock_resolve (self->status), ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&frame);
            break;
        }
        //  1 + topic subscribes, 0 + topic unsubscribes.
        if (zmq_msg_size (&frame) >= 1 && *(uint8_t *) zmq_msg_data (&frame) == 1)
            joined = true;
        zmq_msg_close (&frame);
    }
    if (joined)
        s_publish (self);
}

//  Tells every worker still here that the job is over and publishes the
//  final state, once more for anyone who subscribed meanwhile.
static void
s_finish (s_vent_t *self)
{
    for (size_t i = 0; i < self->nworkers; i++)
        if (self->workers[i].state != W_LEFT) {
            s_pack_state (self, ZMR_FINISH);
            s_send_to (self, &self->workers[i]);
        }
    s_publish (self);
    s_on_subscribers (self);
}

//  --listen and --ingest: one more input, the pipe their thread feeds,
//  after the files. Started once the journal says whether it resumes.
static int
s_ingest_start (s_vent_t *self, zmr_ingest_t *ingest)
{
    const zmr_ventilator_config_t *config = self->config;
    char spool[PATH_MAX] = "";
    if (config->journal)
        snprintf (spool, sizeof spool, "%s.spool.%zu", config->journal, config->ninputs - 1);
    zmr_ingest_config_t setup = {
        .listen = config->listen, .ingest = config->ingest, .journal = config->journal,
        .resume = self->journal && zmr_journal_resumed (self->journal),
        .spool = config->journal? spool: NULL,
        .max_line = (size_t) zmr_max_chunk_for (zmr_max_message ())
    };
    char error[512];
    if (zmr_ingest_start (ingest, &setup, error, sizeof error)) {
        zmr_log (0, "%s", error);
        return -1;
    }
    return 0;
}

int
zmr_ventilator_run (const zmr_ventilator_config_t *config)
{
    s_vent_t self;
    memset (&self, 0, sizeof self);
    zmr_ingest_t *ingest = NULL;
    zmr_ventilator_config_t with_ingest;
    const char **inputs = NULL;
    if (config->listen || config->ingest) {
        char error[512];
        ingest = zmr_ingest_new (error, sizeof error);
        inputs = calloc (config->ninputs + 1, sizeof *inputs);
        if (!ingest || !inputs) {
            zmr_log (0, "%s", ingest? "out of memory": error);
            zmr_ingest_destroy (&ingest);
            free (inputs);
            return 1;
        }
        for (size_t i = 0; i < config->ninputs; i++)
            inputs[i] = config->inputs[i];
        inputs[config->ninputs] = zmr_ingest_path (ingest);
        with_ingest = *config;
        with_ingest.inputs = inputs;
        with_ingest.ninputs = config->ninputs + 1;
        config = &with_ingest;
    }
    if (s_open (&self, config) || (ingest && s_ingest_start (&self, ingest))) {
        zmr_ingest_destroy (&ingest);
        s_close (&self);
        free (inputs);
        return 1;
    }
    bool input_ended = false;
    s_publish (&self);
    while (!zmr_interrupted () && self.phase != P_DONE && self.phase != P_FAILED) {
        zmq_pollitem_t items[] = {
            { zsock_resolve (self.control), 0, ZMQ_POLLIN, 0 },
            { NULL, zmr_chunker_fd (self.chunker), ZMQ_POLLIN, 0 },
            { zsock_resolve (self.status), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self.chunks), 0, ZMQ_POLLOUT, 0 },
        };
        //  The input is polled only while it is what we wait for.
        if (!self.input_waits)
            items[1].fd = -1;
        int nitems = s_can_issue (&self)? 4: 3;
        int64_t wait = self.next_status - zmr_now_ms ();
        if (self.pending_since) {
            int64_t flush = s_flush_at (&self) - zmr_now_ms ();
            if (flush < wait)
                wait = flush;
        }
        if (wait > 100)
            wait = 100;
        if (self.config->window_ms && !self.config->event_format && !self.closing
        &&  self.window_first < s_cut (&self)) {
            //  Wake when the next window's end passes. Once it has, what
            //  lets the window close (ACKs, the flush) wakes us anyway.
            uint64_t W = self.config->window_ms;
            uint64_t end = (s_stamp (&self, self.window_first) / W + 1) * W;
            uint64_t now = zmr_wall_ms ();
            if (now < end && (int64_t) (end - now) < wait)
                wait = (int64_t) (end - now);
        }
        if (wait < 0)
            wait = 0;
        int rc = zmq_poll (items, nitems, (long) wait);
        if (rc == -1 && errno != EINTR)
            break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            //  Drain a bounded batch so chunks keep flowing under load.
            for (int i = 0; i < 256; i++) {
                uint32_t events = zsock_events (self.control);
                if (!(events & ZMQ_POLLIN))
                    break;
                s_on_control (&self);
            }
        if (rc > 0 && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            self.input_waits = false;
        if (rc > 0 && (items[2].revents & ZMQ_POLLIN))
            s_on_subscribers (&self);
        if (rc > 0 && nitems > 3 && (items[3].revents & ZMQ_POLLOUT))
            for (int i = 0; i < 64 && s_can_issue (&self); i++) {
                uint64_t before = s_counts (&self)->chunks_issued;
                s_issue (&self);
                if (s_counts (&self)->chunks_issued == before
                &&  zmr_ledger_queued (self.ledger) > 0
                &&  !(zsock_events (self.chunks) & ZMQ_POLLOUT))
                    break;
            }
        if (ingest && !input_ended && config->end_input && *config->end_input) {
            zmr_log (1, "input ends: --listen and --ingest take no more");
            zmr_ingest_end (ingest);
            input_ended = true;
        }
        char why[512];
        if (ingest && zmr_ingest_failed (ingest, why, sizeof why))
            s_fail (&self, why);
        s_advance (&self);
        s_housekeeping (&self);
    }
    s_sync_counts (&self);
    if (ingest) {
        zmr_ingest_stats_t in;
        zmr_ingest_stats (ingest, &in);
        zmr_log (1, "ingest: %llu bytes; %llu connections (%llu refused, %llu closed on a "
                 "long line); %llu batches, %llu duplicates, %llu refused, %llu malformed",
                 (unsigned long long) in.bytes, (unsigned long long) in.connections,
                 (unsigned long long) in.refused_conn, (unsigned long long) in.long_lines,
                 (unsigned long long) in.batches, (unsigned long long) in.duplicates,
                 (unsigned long long) in.refused, (unsigned long long) in.malformed);
    }
    int code;
    if (self.phase == P_DONE) {
        zmr_log (1, "job done: %llu %s in %llu chunks, %llu pairs",
                 (unsigned long long) self.stat.words,
                 self.spec.kind == ZMR_JOB_WORDS? "words": "records",
                 (unsigned long long) self.stat.chunks_done,
                 (unsigned long long) s_counts (&self)->pairs);
        code = 0;
        //  Words left out change the result: said on stderr, not only in
        //  the status and the receipt.
        if (self.stat.words_too_long)
            zmr_log (0, "left out %llu word%s longer than %llu bytes (--max-word)",
                     (unsigned long long) self.stat.words_too_long,
                     self.stat.words_too_long == 1? "": "s",
                     (unsigned long long) config->max_word);
        if (self.stat.chunks_quarantined) {
            zmr_log (0, "done WITHOUT %llu quarantined chunks:",
                     (unsigned long long) self.stat.chunks_quarantined);
            for (uint64_t q = 0; q < self.stat.chunks_quarantined; q++)
                zmr_log (0, "  '%s' offset %llu, %llu bytes",
                         zmr_ledger_quarantine (self.ledger)[q].file,
                         (unsigned long long) zmr_ledger_quarantine (self.ledger)[q].offset,
                         (unsigned long long) zmr_ledger_quarantine (self.ledger)[q].length);
            code = 3;
        }
    }
    else
    if (self.phase == P_FAILED)
        code = 1;
    else {
        //  Stopped by a signal: the workers are not told the job is over.
        //  They wait, and a ventilator started again with the same job
        //  (--job, --journal) carries on where this one stopped.
        //  The exit status says so (128 + the signal), and a supervisor can
        //  tell it from 0, which is a job done.
        zmr_log (1, "stopped by a signal; workers wait for the job to come back");
        code = 128 + zmr_stop_signal ();
    }
    //  The journal goes the moment the job is done, before anyone hears
    //  FINISH: a supervisor that sees a worker leave can tell by it whether
    //  the job was over.
    if (self.phase == P_DONE && self.journal) {
        zmr_journal_remove (&self.journal);
        zmr_chunker_remove_spools (self.chunker);
        if (ingest)
            zmr_ingest_remove (ingest);
    }
    if (self.phase == P_DONE || self.phase == P_FAILED)
        s_finish (&self);
    zmr_ingest_destroy (&ingest);
    s_close (&self);
    free (inputs);
    return code;
}
