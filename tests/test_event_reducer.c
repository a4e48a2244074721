/*  test_event_reducer: event-time windows in the reducer and the sink
    (issue 17 item 3), each real process driven by the test, which plays
    the roles around it over ipc:// with libzmq: the ventilator (a ROUTER
    at the control endpoint: HELLO, WELCOME, LIVE, CLOSE, FLUSH, and the
    ACK and WSTORED that come back), the mappers (BATCH frames with runs)
    and, for a reducer, the sink (a PULL reading its WINDOW and RESULT
    parts); for a sink, the reducers (WINDOW parts pushed to it).

    The messages are packed with libzmr's encoders (the protocol), but the
    side records' keys are made here byte by byte from zmr_evtime.h's
    description, and every expectation (a window's panes summed, the side
    records of a close, late.tsv's lines and their order, a window file) is
    computed here from what the test fed, not by zmr's code. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "harness.h"
#include "zmr_msg.h"
#include "zmr_option.h"

TestSuite (event_reducer, .init = h_setup, .fini = h_teardown, .timeout = 280);
TestSuite (late_file, .init = h_setup, .fini = h_teardown, .timeout = 280);

#define S_JOB       0x5e17e5e17ULL
#define S_WAIT_MS   60000           //  Bound of every wait for an event
#define S_W         10000           //  Window length
#define S_E         5000            //  A new one every 5 s: hopping
#define S_L         2000            //  Allowed lateness
#define S_END       UINT64_MAX      //  ZMR_WINDOW_END

//  ---------------------------------------------------------------------
//  Keys and expectations, without zmr's code

typedef struct {
    unsigned char key[128];
    size_t len;
    uint64_t count;
} s_pair_t;

//  A side key as zmr_evtime.h describes it: '\n', bucket (8 BE), chunk
//  (8 BE), line index (4 BE), kind, event ms (8 BE), the line's bytes.
static s_pair_t
s_side (uint64_t bucket, uint64_t chunk, uint32_t index, char kind, uint64_t ms,
        const char *line)
{
    s_pair_t pair = { .count = 1 };
    pair.key[pair.len++] = '\n';
    for (int i = 7; i >= 0; i--)
        pair.key[pair.len++] = (unsigned char) (bucket >> (8 * i));
    for (int i = 7; i >= 0; i--)
        pair.key[pair.len++] = (unsigned char) (chunk >> (8 * i));
    for (int i = 3; i >= 0; i--)
        pair.key[pair.len++] = (unsigned char) (index >> (8 * i));
    pair.key[pair.len++] = (unsigned char) kind;
    for (int i = 7; i >= 0; i--)
        pair.key[pair.len++] = (unsigned char) (ms >> (8 * i));
    size_t n = strlen (line);
    cr_assert_lt (pair.len + n, sizeof pair.key);
    memcpy (pair.key + pair.len, line, n);
    pair.len += n;
    return pair;
}

static s_pair_t
s_word (const char *word, uint64_t count)
{
    s_pair_t pair = { .count = count, .len = strlen (word) };
    memcpy (pair.key, word, pair.len);
    return pair;
}

static uint64_t
s_bucket_of (const s_pair_t *side)
{
    uint64_t bucket = 0;
    for (int i = 1; i <= 8; i++)
        bucket = bucket << 8 | side->key[i];
    return bucket;
}

static int
s_pair_order (const void *a, const void *b)
{
    const s_pair_t *x = a, *y = b;
    int order = memcmp (x->key, y->key, x->len < y->len? x->len: y->len);
    return order? order: (x->len > y->len) - (x->len < y->len);
}

//  Adds count to key in a list (sums per key).
static void
s_list_add (s_pair_t *list, size_t *n, size_t max, const s_pair_t *pair)
{
    for (size_t i = 0; i < *n; i++)
        if (list[i].len == pair->len && !memcmp (list[i].key, pair->key, pair->len)) {
            list[i].count += pair->count;
            return;
        }
    cr_assert_lt (*n, max);
    list[(*n)++] = *pair;
}

//  What the test fed a reducer: runs of pairs, by chunk.
#define S_RUN_PANE   0
#define S_RUN_TOTALS 1
#define S_RUN_SIDE   2

typedef struct {
    int kind;
    uint64_t pane;
    s_pair_t pairs[8];
    size_t n;
} s_run_t;

typedef struct {
    uint64_t chunk;
    s_run_t runs[6];
    size_t nruns;
} s_chunk_t;

//  The reference of CLOSE(s, W, prev_1): panes in [s, s + W) summed
//  (none for the end), side keys with prev < bucket <= s; sorted by key.
static size_t
s_expect_window (const s_chunk_t *chunks, size_t nchunks, uint64_t s, uint64_t prev_1,
                 s_pair_t *out, size_t max)
{
    size_t n = 0;
    for (size_t c = 0; c < nchunks; c++)
        for (size_t r = 0; r < chunks[c].nruns; r++) {
            const s_run_t *run = &chunks[c].runs[r];
            for (size_t i = 0; i < run->n; i++) {
                bool in = false;
                if (run->kind == S_RUN_PANE)
                    in = s != S_END && run->pane >= s && run->pane < s + S_W;
                if (run->kind == S_RUN_SIDE) {
                    uint64_t b = s_bucket_of (&run->pairs[i]);
                    in = (prev_1 == 0 || b >= prev_1) && b <= s;
                }
                if (in)
                    s_list_add (out, &n, max, &run->pairs[i]);
            }
        }
    qsort (out, n, sizeof *out, s_pair_order);
    return n;
}

//  The reference totals: every PANE and TOTALS run's words, no side key.
static size_t
s_expect_totals (const s_chunk_t *chunks, size_t nchunks, uint64_t *pairs_fed,
                 s_pair_t *out, size_t max)
{
    size_t n = 0;
    *pairs_fed = 0;
    for (size_t c = 0; c < nchunks; c++)
        for (size_t r = 0; r < chunks[c].nruns; r++) {
            const s_run_t *run = &chunks[c].runs[r];
            *pairs_fed += run->n;
            for (size_t i = 0; run->kind != S_RUN_SIDE && i < run->n; i++)
                s_list_add (out, &n, max, &run->pairs[i]);
        }
    qsort (out, n, sizeof *out, s_pair_order);
    return n;
}

//  ---------------------------------------------------------------------
//  The roles the test plays

typedef struct {
    void *ctx;
    void *router;                   //  The ventilator's control socket
    void *pull;                     //  The sink's (reducer tests), or NULL
    void *push[4];                  //  To a reducer (BATCH) or the sink (WINDOW)
    char *control, *sink_ep;
    unsigned char id[8][256];       //  Workers that said HELLO, by routing id
    size_t id_len[8];
    int role[8];
    char endpoint[8][256];
    int nworkers;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    unsigned char frame[1 << 20];   //  The last message read, and its size
    size_t frame_len;
} s_vent_t;

static void
s_vent_init (s_vent_t *v, bool sink_too)
{
    memset (v, 0, sizeof *v);
    v->ctx = zmq_ctx_new ();
    v->router = zmq_socket (v->ctx, ZMQ_ROUTER);
    v->control = h_strf ("ipc://%s/control", h_dir ());
    v->sink_ep = h_strf ("ipc://%s/sink", h_dir ());
    int zero = 0;
    zmq_setsockopt (v->router, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq (zmq_bind (v->router, v->control), 0);
    if (sink_too) {
        v->pull = zmq_socket (v->ctx, ZMQ_PULL);
        zmq_setsockopt (v->pull, ZMQ_LINGER, &zero, sizeof zero);
        cr_assert_eq (zmq_bind (v->pull, v->sink_ep), 0);
    }
    msgpack_sbuffer_init (&v->sbuf);
    msgpack_packer_init (&v->pk, &v->sbuf, msgpack_sbuffer_write);
}

static void
s_vent_destroy (s_vent_t *v)
{
    for (int i = 0; i < 4; i++)
        if (v->push[i])
            zmq_close (v->push[i]);
    if (v->pull)
        zmq_close (v->pull);
    zmq_close (v->router);
    zmq_ctx_term (v->ctx);
    msgpack_sbuffer_destroy (&v->sbuf);
}

//  Sends what is packed to worker w (its routing id).
static void
s_send_to (s_vent_t *v, int w)
{
    cr_assert_eq (zmq_send (v->router, v->id[w], v->id_len[w], ZMQ_SNDMORE),
                  (int) v->id_len[w]);
    cr_assert_eq (zmq_send (v->router, v->sbuf.data, v->sbuf.size, 0), (int) v->sbuf.size);
    msgpack_sbuffer_clear (&v->sbuf);
}

//  Sends what is packed on sock.
static void
s_send_on (s_vent_t *v, void *sock)
{
    cr_assert_eq (zmq_send (sock, v->sbuf.data, v->sbuf.size, 0), (int) v->sbuf.size);
    msgpack_sbuffer_clear (&v->sbuf);
}

//  Reads one message of sock within timeout_ms into v->frame, decoded in
//  *msg; with a ROUTER, the routing id into *w (a worker's index, -1: new,
//  then its id is kept as worker v->nworkers). False on timeout.
static bool
s_read (s_vent_t *v, void *sock, int timeout_ms, zmr_msg_t *msg, int *w)
{
    zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return false;
    unsigned char id[256];
    int id_len = 0;
    if (sock == v->router) {
        id_len = zmq_recv (sock, id, sizeof id, 0);
        cr_assert_gt (id_len, 0);
    }
    int len = zmq_recv (sock, v->frame, sizeof v->frame, 0);
    cr_assert_geq (len, 0);
    cr_assert_leq ((size_t) len, sizeof v->frame);
    v->frame_len = (size_t) len;
    const char *why;
    cr_assert_eq (zmr_msg_decode (v->frame, v->frame_len, msg, &why), 0, "bad frame: %s", why);
    if (w) {
        *w = -1;
        for (int i = 0; i < v->nworkers; i++)
            if (v->id_len[i] == (size_t) id_len && !memcmp (v->id[i], id, (size_t) id_len))
                *w = i;
        if (*w < 0) {
            cr_assert_lt (v->nworkers, 8);
            memcpy (v->id[v->nworkers], id, (size_t) id_len);
            v->id_len[v->nworkers] = (size_t) id_len;
        }
    }
    return true;
}

//  Waits for a HELLO of role on the control socket; returns the worker.
static int
s_wait_hello (s_vent_t *v, int role)
{
    int64_t until = h_now_ms () + S_WAIT_MS;
    while (h_now_ms () < until) {
        zmr_msg_t msg;
        int w;
        //  (A HELLO from a worker known is a repeat, maybe of one killed)
        if (!s_read (v, v->router, 200, &msg, &w) || msg.type != ZMR_HELLO
        ||  (int) msg.role != role || w >= 0)
            continue;
        w = v->nworkers++;
        v->role[w] = role;
        snprintf (v->endpoint[w], sizeof v->endpoint[w], "%s", msg.endpoint);
        return w;
    }
    cr_assert_fail ("no HELLO of role %d within %d ms", role, S_WAIT_MS);
    return -1;
}

//  WELCOME of the event-time job (R reducers at endpoints) to worker w.
static void
s_welcome (s_vent_t *v, int w, uint32_t reducers, const char *const *endpoints)
{
    const char *keys[4] = { "", "", "", "" };
    zmr_job_t spec;
    zmr_job_words (&spec);
    zmr_event_spec_t event = { ZMR_EVTIME_EPOCH, S_W, S_E, S_L };
    zmr_msg_pack_welcome (&v->pk, S_JOB, reducers, h_strf ("ipc://%s/chunks", h_dir ()),
                          h_strf ("ipc://%s/status", h_dir ()), endpoints, keys, 0,
                          zmr_max_message (), &spec, &event);
    s_send_to (v, w);
}

//  Waits for a control message of type (others are let by); with chunk
//  (ACK) or window (WSTORED) not UINT64_MAX - 1, that one. Returns the
//  decoded message (views into v->frame).
static zmr_msg_t
s_wait_control (s_vent_t *v, int type, uint64_t which)
{
    int64_t until = h_now_ms () + S_WAIT_MS;
    while (h_now_ms () < until) {
        zmr_msg_t msg;
        if (!s_read (v, v->router, 200, &msg, NULL) || msg.type != type)
            continue;
        if (which != UINT64_MAX - 1
        &&  (type == ZMR_ACK? msg.chunk: msg.window) != which)
            continue;
        return msg;
    }
    cr_assert_fail ("no %s within %d ms", zmr_msg_type_name (type), S_WAIT_MS);
    return (zmr_msg_t) { 0 };
}

//  A PUSH connected to endpoint, kept as v->push[i].
static void *
s_push (s_vent_t *v, int i, const char *endpoint)
{
    if (v->push[i])
        zmq_close (v->push[i]);
    v->push[i] = zmq_socket (v->ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt (v->push[i], ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq (zmq_connect (v->push[i], endpoint), 0);
    return v->push[i];
}

//  Stops a role with SIGTERM: it must leave cleanly (exit 0; under the
//  sanitizers, with nothing leaked).
static void
s_stop (pid_t pid, const char *what)
{
    kill (pid, SIGTERM);
    int code = h_exit_code (h_wait (pid, S_WAIT_MS, what));
    cr_assert_eq (code, 0, "%s exited %d after SIGTERM", what, code);
}

//  ---------------------------------------------------------------------
//  A reducer and the test as everything else

typedef struct {
    s_vent_t v;
    int reducer;                    //  Its worker index
    char *state;                    //  Its --state
    pid_t pid;
} s_rig_t;

//  Starts the reducer (partition 0 of 1) and welcomes it: WELCOME, then
//  LIVE with panes, the sink the test's PULL.
static void
s_reducer_start (s_rig_t *rig)
{
    const char *bind = h_strf ("ipc://%s/r0", h_dir ());
    rig->pid = h_spawnl (NULL, "zmr-reducer", "-p", "0", "--bind", bind, "--state", rig->state,
                         "--checkpoint-ms", "100", "--heartbeat-ms", "100",
                         rig->v.control, NULL);
    rig->reducer = s_wait_hello (&rig->v, ZMR_ROLE_REDUCER);
    const char *endpoints[1] = { rig->v.endpoint[rig->reducer] };
    s_welcome (&rig->v, rig->reducer, 1, endpoints);
    zmr_msg_pack_live (&rig->v.pk, S_JOB, rig->v.sink_ep, 0, 0, "", true);
    s_send_to (&rig->v, rig->reducer);
    s_push (&rig->v, 0, rig->v.endpoint[rig->reducer]);
}

//  Feeds a chunk's BATCH and waits for its ACK (duplicate or not).
static bool
s_feed (s_rig_t *rig, const s_chunk_t *chunk)
{
    zmr_run_t runs[6];
    uint32_t npairs = 0;
    for (size_t r = 0; r < chunk->nruns; r++) {
        runs[r] = (zmr_run_t) { (uint32_t) chunk->runs[r].kind, chunk->runs[r].pane,
                                (uint32_t) chunk->runs[r].n };
        npairs += (uint32_t) chunk->runs[r].n;
    }
    zmr_msg_begin_batch (&rig->v.pk, S_JOB, chunk->chunk, 0, 1, 1700000000000ULL, runs,
                         (uint32_t) chunk->nruns, npairs);
    for (size_t r = 0; r < chunk->nruns; r++)
        for (size_t i = 0; i < chunk->runs[r].n; i++)
            zmr_msg_pack_pair (&rig->v.pk, (const char *) chunk->runs[r].pairs[i].key,
                               (uint32_t) chunk->runs[r].pairs[i].len,
                               chunk->runs[r].pairs[i].count);
    s_send_on (&rig->v, rig->v.push[0]);
    zmr_msg_t ack = s_wait_control (&rig->v, ZMR_ACK, chunk->chunk);
    return ack.flag;
}

//  What a window or result came as: its frames' bytes one after another
//  and its pairs.
typedef struct {
    unsigned char bytes[1 << 16];
    size_t nbytes;
    s_pair_t pairs[64];
    size_t npairs;
    uint64_t pair_count;            //  RESULT's
} s_got_t;

//  Reads the parts of window (or, with result, the RESULT) at the test's
//  sink, all of them, in order.
static void
s_collect (s_rig_t *rig, bool result, uint64_t window, s_got_t *got)
{
    memset (got, 0, sizeof *got);
    uint64_t parts = 1, seq = 0;
    int64_t until = h_now_ms () + S_WAIT_MS;
    while (seq < parts) {
        cr_assert_lt (h_now_ms (), until, "no %s within %d ms", result? "RESULT": "WINDOW",
                      S_WAIT_MS);
        zmr_msg_t msg;
        if (!s_read (&rig->v, rig->v.pull, 200, &msg, NULL))
            continue;
        if (msg.type != (result? ZMR_RESULT: ZMR_WINDOW) || (!result && msg.window != window))
            continue;
        cr_assert_eq (msg.seq, seq, "parts out of order");
        parts = msg.parts;
        seq++;
        got->pair_count = msg.pair_count;
        cr_assert_lt (got->nbytes + rig->v.frame_len, sizeof got->bytes);
        memcpy (got->bytes + got->nbytes, rig->v.frame, rig->v.frame_len);
        got->nbytes += rig->v.frame_len;
        const char *word;
        uint32_t len;
        uint64_t count;
        while (zmr_msg_next_pair (&msg, &word, &len, &count)) {
            cr_assert_lt (got->npairs, 64);
            cr_assert_lt (len, sizeof got->pairs[0].key);
            s_pair_t *pair = &got->pairs[got->npairs++];
            memcpy (pair->key, word, len);
            pair->len = len;
            pair->count = count;
        }
    }
}

static void
s_assert_pairs (const s_pair_t *got, size_t ngot, const s_pair_t *want, size_t nwant,
                const char *what)
{
    s_pair_t sorted[64];
    cr_assert_leq (ngot, 64);
    memcpy (sorted, got, ngot * sizeof *got);
    qsort (sorted, ngot, sizeof *sorted, s_pair_order);
    cr_assert_eq (ngot, nwant, "%s: %zu keys, expected %zu", what, ngot, nwant);
    for (size_t i = 0; i < nwant; i++) {
        cr_assert (sorted[i].len == want[i].len && !memcmp (sorted[i].key, want[i].key,
                                                            want[i].len),
                   "%s: key %zu is %s, expected %s", what, i,
                   h_show (sorted[i].key, sorted[i].len), h_show (want[i].key, want[i].len));
        cr_assert_eq (sorted[i].count, want[i].count, "%s: %s counts %llu, expected %llu",
                      what, h_show (want[i].key, want[i].len),
                      (unsigned long long) sorted[i].count,
                      (unsigned long long) want[i].count);
    }
}

//  CLOSE(s, W, prev_1) to the reducer; checks its WINDOW against the
//  reference; returns it in *got.
static void
s_close_and_check (s_rig_t *rig, const s_chunk_t *chunks, size_t nchunks, uint64_t s,
                   uint64_t prev_1, s_got_t *got)
{
    zmr_msg_pack_close (&rig->v.pk, S_JOB, s, S_W, prev_1);
    s_send_to (&rig->v, rig->reducer);
    s_collect (rig, false, s, got);
    s_pair_t want[64];
    size_t nwant = s_expect_window (chunks, nchunks, s, prev_1, want, 64);
    char *what = h_strf ("window %llu (prev_1 %llu)", (unsigned long long) s,
                         (unsigned long long) prev_1);
    s_assert_pairs (got->pairs, got->npairs, want, nwant, what);
}

//  The chunks every reducer test feeds: panes of two windows and more, a
//  TOTALS run (a late line's words), side keys of buckets 0, 5000, 10000.
static size_t
s_chunks (s_chunk_t *chunks)
{
    memset (chunks, 0, 4 * sizeof *chunks);
    chunks[0] = (s_chunk_t) { .chunk = 0, .nruns = 4, .runs = {
        { S_RUN_PANE, 0, { s_word ("alpha", 2), s_word ("beta", 1) }, 2 },
        { S_RUN_PANE, 5000, { s_word ("alpha", 1), s_word ("gamma", 3) }, 2 },
        { S_RUN_TOTALS, 0, { s_word ("delta", 1) }, 1 },
        { S_RUN_SIDE, 0, { s_side (0, 0, 3, 'N', 0, "delta without time"),
                           s_side (0, 0, 1, 'N', 0, "first") }, 2 } } };
    chunks[1] = (s_chunk_t) { .chunk = 1, .nruns = 4, .runs = {
        { S_RUN_PANE, 10000, { s_word ("alpha", 5) }, 1 },
        { S_RUN_PANE, 5000, { s_word ("beta", 2) }, 1 },
        { S_RUN_TOTALS, 0, { s_word ("beta", 4), s_word ("omega", 1) }, 2 },
        { S_RUN_SIDE, 0, { s_side (5000, 1, 0, 'L', 1234, "late beta"),
                           s_side (5000, 1, 2, 'l', 2345, "cut") }, 2 } } };
    chunks[2] = (s_chunk_t) { .chunk = 2, .nruns = 2, .runs = {
        { S_RUN_PANE, 15000, { s_word ("epsilon", 1), s_word ("alpha", 1) }, 2 },
        { S_RUN_SIDE, 0, { s_side (10000, 2, 7, 'L', 4000, "later") }, 1 } } };
    chunks[3] = (s_chunk_t) { .chunk = 3, .nruns = 2, .runs = {
        { S_RUN_PANE, 20000, { s_word ("zeta", 9) }, 1 },
        { S_RUN_SIDE, 0, { s_side (20000, 3, 0, 'N', 0, "at the end") }, 1 } } };
    return 4;
}

//  Runs count into their panes: each hopping window is its two panes
//  summed plus the side records of its close by bucket and prev; a CLOSE
//  that comes again sends the same bytes; the end sends the side records
//  left and no pane; RESULT holds the totals only, its pair count every
//  pair fed, side records too.
Test (event_reducer, panes_hopping_sums_side_records_by_bucket_and_the_end)
{
    s_rig_t rig = { .state = h_path ("state") };
    s_vent_init (&rig.v, true);
    s_reducer_start (&rig);
    s_chunk_t chunks[4];
    size_t nchunks = s_chunks (chunks);
    //  A batch whose side run holds a word is dropped whole, before any
    //  of it counts (not even its pane's words): fed first, on the same
    //  socket as the others, so it is read before them
    s_chunk_t bad = { .chunk = 9, .nruns = 2, .runs = {
        { S_RUN_PANE, 0, { s_word ("alpha", 100) }, 1 },
        { S_RUN_SIDE, 0, { s_word ("no side record", 1) }, 1 } } };
    zmr_run_t bad_runs[2] = { { S_RUN_PANE, 0, 1 }, { S_RUN_SIDE, 0, 1 } };
    zmr_msg_begin_batch (&rig.v.pk, S_JOB, bad.chunk, 0, 1, 1700000000000ULL, bad_runs, 2, 2);
    for (size_t r = 0; r < 2; r++)
        zmr_msg_pack_pair (&rig.v.pk, (const char *) bad.runs[r].pairs[0].key,
                           (uint32_t) bad.runs[r].pairs[0].len, bad.runs[r].pairs[0].count);
    s_send_on (&rig.v, rig.v.push[0]);
    for (size_t c = 0; c < nchunks; c++)
        cr_assert_not (s_feed (&rig, &chunks[c]), "chunk %zu ACKed as a duplicate", c);
    cr_assert (s_feed (&rig, &chunks[1]), "chunk 1 fed again was applied again");

    s_got_t *got = h_alloc (sizeof *got), *again = h_alloc (sizeof *again);
    s_close_and_check (&rig, chunks, nchunks, 0, 0, got);
    s_close_and_check (&rig, chunks, nchunks, 5000, 1, got);
    s_close_and_check (&rig, chunks, nchunks, 10000, 5001, got);
    s_close_and_check (&rig, chunks, nchunks, 10000, 5001, again);
    cr_assert (got->nbytes == again->nbytes && !memcmp (got->bytes, again->bytes, got->nbytes),
               "a CLOSE that came again sent other bytes");
    s_close_and_check (&rig, chunks, nchunks, 15000, 10001, got);
    s_close_and_check (&rig, chunks, nchunks, 20000, 15001, got);
    s_close_and_check (&rig, chunks, nchunks, S_END, 20001, got);
    s_close_and_check (&rig, chunks, nchunks, S_END, 20001, again);
    cr_assert (got->nbytes == again->nbytes && !memcmp (got->bytes, again->bytes, got->nbytes),
               "the end's CLOSE that came again sent other bytes");

    zmr_msg_pack_flush (&rig.v.pk, S_JOB, rig.v.sink_ep, "");
    s_send_to (&rig.v, rig.reducer);
    s_collect (&rig, true, 0, got);
    s_pair_t want[64];
    uint64_t pairs_fed;
    size_t nwant = s_expect_totals (chunks, nchunks, &pairs_fed, want, 64);
    s_assert_pairs (got->pairs, got->npairs, want, nwant, "RESULT");
    cr_assert_eq (got->pair_count, pairs_fed, "RESULT counts %llu pairs, %llu were fed",
                  (unsigned long long) got->pair_count, (unsigned long long) pairs_fed);
    s_stop (rig.pid, "the reducer");
    s_vent_destroy (&rig.v);
}

//  A reducer killed (-9) with --state comes back with its panes and its
//  side table: from a snapshot (written by --checkpoint-ms) and from the
//  log after it; the windows it then sends are those of every batch ACKed.
Test (event_reducer, kill_9_with_state_keeps_panes_and_side_table)
{
    s_rig_t rig = { .state = h_path ("state") };
    s_vent_init (&rig.v, true);
    s_reducer_start (&rig);
    s_chunk_t chunks[4];
    size_t nchunks = s_chunks (chunks);
    cr_assert_not (s_feed (&rig, &chunks[0]));
    cr_assert_not (s_feed (&rig, &chunks[1]));
    //  A snapshot of those (the log grew: one is due each 100 ms), then
    //  chunk 2 in the log only
    char *snap = h_strf ("%s/partition-0.snap", rig.state);
    struct stat before, now;
    cr_assert_eq (stat (snap, &before), 0, "no snapshot at %s", snap);
    int64_t until = h_now_ms () + S_WAIT_MS;
    while (stat (snap, &now) == 0 && now.st_size == before.st_size
           && now.st_mtim.tv_nsec == before.st_mtim.tv_nsec && h_now_ms () < until)
        h_sleep_ms (20);
    h_sleep_ms (300);
    cr_assert_not (s_feed (&rig, &chunks[2]));
    kill (rig.pid, SIGKILL);
    h_wait (rig.pid, S_WAIT_MS, "the reducer killed");

    s_reducer_start (&rig);
    cr_assert (s_feed (&rig, &chunks[2]), "chunk 2 (logged) was applied again");
    cr_assert (s_feed (&rig, &chunks[0]), "chunk 0 (in the snapshot) was applied again");
    cr_assert_not (s_feed (&rig, &chunks[3]));
    s_got_t *got = h_alloc (sizeof *got), *again = h_alloc (sizeof *again);
    s_close_and_check (&rig, chunks, nchunks, 0, 0, got);
    s_close_and_check (&rig, chunks, nchunks, 5000, 1, got);
    //  Killed again after a close: what that close freed stays freed, what
    //  it kept is there, the close comes again with the same bytes, and the
    //  next closes are whole
    h_sleep_ms (300);
    kill (rig.pid, SIGKILL);
    h_wait (rig.pid, S_WAIT_MS, "the reducer killed");
    s_reducer_start (&rig);
    s_close_and_check (&rig, chunks, nchunks, 5000, 1, again);
    cr_assert (got->nbytes == again->nbytes && !memcmp (got->bytes, again->bytes, got->nbytes),
               "the CLOSE that came again to the reducer started again sent other bytes");
    s_close_and_check (&rig, chunks, nchunks, 10000, 5001, got);
    s_close_and_check (&rig, chunks, nchunks, S_END, 10001, got);
    s_stop (rig.pid, "the reducer");
    s_vent_destroy (&rig.v);
}

//  ---------------------------------------------------------------------
//  The sink and late.tsv

typedef struct {
    s_vent_t v;
    int sink;                       //  Its worker index
    char *dir;                      //  Its --window-dir
    pid_t pid;
} s_srig_t;

static void
s_sink_start (s_srig_t *rig, bool force)
{
    rig->pid = h_spawnl (NULL, "zmr-sink", "--bind", rig->v.sink_ep, "--window-dir", rig->dir,
                         "-o", h_path ("out"), "--heartbeat-ms", "100",
                         force? "--force": "-v", rig->v.control, NULL);
    rig->sink = s_wait_hello (&rig->v, ZMR_ROLE_SINK);
    const char *endpoints[2] = { h_strf ("ipc://%s/r0", h_dir ()),
                                 h_strf ("ipc://%s/r1", h_dir ()) };
    s_welcome (&rig->v, rig->sink, 2, endpoints);
    s_push (&rig->v, 0, rig->v.sink_ep);
}

//  Sends partition p's part of window (one part of one).
static void
s_part (s_srig_t *rig, uint32_t p, uint64_t window, const s_pair_t *pairs, size_t n)
{
    zmr_msg_begin_window (&rig->v.pk, S_JOB, p, 2, window, 0, 1, (uint32_t) n);
    for (size_t i = 0; i < n; i++)
        zmr_msg_pack_pair (&rig->v.pk, (const char *) pairs[i].key, (uint32_t) pairs[i].len,
                           pairs[i].count);
    s_send_on (&rig->v, rig->v.push[0]);
}

//  The late.tsv line of a side key, from the test's own reading of it.
static char *
s_late_line (uint64_t window, const s_pair_t *side)
{
    uint64_t ms = 0;
    for (int i = 22; i < 30; i++)
        ms = ms << 8 | side->key[i];
    char kind = (char) side->key[21];
    const char *reason = kind == 'L'? "late": kind == 'l'? "late-cut"
                       : kind == 'N'? "no-time": "no-time-cut";
    char *time = kind == 'L' || kind == 'l'? h_strf ("%llu", (unsigned long long) ms): "-";
    char *start = window == S_END? "end": h_strf ("%llu", (unsigned long long) window);
    return h_strf ("%s\t%s\t%s\t%.*s\n", start, reason, time, (int) (side->len - 30),
                   side->key + 30);
}

//  The lines of a window's side records, in input order: sorted by
//  bucket, chunk, line index (the test's own sort of what it sent).
static char *
s_late_lines (uint64_t window, const s_pair_t *sides, size_t n)
{
    s_pair_t sorted[16];
    cr_assert_leq (n, 16);
    memcpy (sorted, sides, n * sizeof *sides);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && memcmp (sorted[j - 1].key + 1, sorted[j].key + 1, 20) > 0;
             j--) {
            s_pair_t swap = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = swap;
        }
    char *text = h_strf ("%s", "");
    for (size_t i = 0; i < n; i++)
        text = h_strf ("%s%s", text, s_late_line (window, &sorted[i]));
    return text;
}

static void
s_assert_file (const char *path, const char *want)
{
    size_t len;
    char *got = h_read (path, &len);
    cr_assert_not_null (got, "no file %s", path);
    cr_assert (len == strlen (want) && !memcmp (got, want, len),
               "%s holds\n%s\nexpected\n%s", path, got, want);
}

//  A whole window: its words in its file (result order), its side records
//  appended to late.tsv in input order (whatever partition sent them), a
//  window of side records only gets an empty file, the end an empty
//  window-end.tsv and 'end' lines; a window that comes again appends
//  nothing.
Test (late_file, side_records_go_to_late_tsv_in_order_and_the_words_to_the_window)
{
    s_srig_t rig = { .dir = h_path ("windows") };
    s_vent_init (&rig.v, false);
    s_sink_start (&rig, false);

    s_pair_t p0[] = { s_word ("alpha", 3), s_word ("beta", 1),
                      s_side (0, 4, 2, 'L', 1700000000500ULL, "x late\twith a tab"),
                      s_side (0, 1, 9, 'N', 0, "no time here") };
    s_pair_t p1[] = { s_word ("gamma", 3), s_side (0, 4, 0, 'l', 1700000000400ULL, "cut"),
                      s_side (0, 1, 10, 'n', 0, "cut, no time") };
    s_part (&rig, 0, 0, p0, 4);
    s_part (&rig, 1, 0, p1, 3);
    zmr_msg_t stored = s_wait_control (&rig.v, ZMR_WSTORED, 0);
    cr_assert_eq (stored.words, 7, "WSTORED says %llu words", (unsigned long long) stored.words);
    s_pair_t sides0[] = { p0[2], p0[3], p1[1], p1[2] };
    char *late = s_late_lines (0, sides0, 4);
    s_assert_file (h_strf ("%s/late.tsv", rig.dir), late);
    s_assert_file (h_strf ("%s/window-0.tsv", rig.dir), "alpha\t3\ngamma\t3\nbeta\t1\n");

    //  Side records and no word: an empty window file
    s_pair_t q0[] = { s_side (5000, 6, 1, 'L', 1700000003000ULL, "late again") };
    s_part (&rig, 0, 5000, q0, 1);
    s_part (&rig, 1, 5000, NULL, 0);
    s_wait_control (&rig.v, ZMR_WSTORED, 5000);
    late = h_strf ("%s%s", late, s_late_lines (5000, q0, 1));
    s_assert_file (h_strf ("%s/late.tsv", rig.dir), late);
    s_assert_file (h_strf ("%s/window-5000.tsv", rig.dir), "");

    //  The same window again: stored, nothing appended
    s_part (&rig, 0, 5000, q0, 1);
    s_part (&rig, 1, 5000, NULL, 0);
    s_wait_control (&rig.v, ZMR_WSTORED, 5000);
    s_assert_file (h_strf ("%s/late.tsv", rig.dir), late);

    //  The end: what is left, no counts
    s_pair_t e1[] = { s_side (10000, 8, 3, 'N', 0, "the very last"),
                      s_side (10000, 7, 0, 'L', 1700000004000ULL, "last but one") };
    s_part (&rig, 0, S_END, NULL, 0);
    s_part (&rig, 1, S_END, e1, 2);
    s_wait_control (&rig.v, ZMR_WSTORED, S_END);
    late = h_strf ("%s%s", late, s_late_lines (S_END, e1, 2));
    s_assert_file (h_strf ("%s/late.tsv", rig.dir), late);
    s_assert_file (h_strf ("%s/window-end.tsv", rig.dir), "");
    s_part (&rig, 0, S_END, NULL, 0);
    s_part (&rig, 1, S_END, e1, 2);
    s_wait_control (&rig.v, ZMR_WSTORED, S_END);
    s_assert_file (h_strf ("%s/late.tsv", rig.dir), late);
    s_stop (rig.pid, "the sink");
    s_vent_destroy (&rig.v);
}

//  A sink started again (--force) on a --window-dir cuts late.tsv after
//  the last whole line whose window file is there: a torn line and the
//  lines of a window whose file is missing go; a window whose file is there
//  with the same counts appends nothing; the missing one is written once.
Test (late_file, a_sink_started_again_cuts_late_tsv_to_the_windows_written)
{
    s_srig_t rig = { .dir = h_path ("windows") };
    cr_assert_eq (mkdir (rig.dir, 0777), 0);
    s_pair_t w0[] = { s_word ("alpha", 2), s_side (0, 0, 1, 'L', 1700000000100ULL, "kept") };
    s_pair_t w5[] = { s_side (5000, 1, 0, 'N', 0, "not confirmed") };
    char *kept = s_late_lines (0, &w0[1], 1);
    char *unconfirmed = s_late_lines (5000, w5, 1);
    h_write ("windows/window-0.tsv", "alpha\t2\n", 8);
    char *text = h_strf ("%s%s%s", kept, unconfirmed, "10000\tlate\t12\ttorn, no newline");
    h_write ("windows/late.tsv", text, strlen (text));

    s_vent_init (&rig.v, false);
    s_sink_start (&rig, true);
    //  Cut before the sink joined
    s_assert_file (h_strf ("%s/late.tsv", rig.dir), kept);
    s_part (&rig, 0, 0, w0, 2);
    s_part (&rig, 1, 0, NULL, 0);
    s_wait_control (&rig.v, ZMR_WSTORED, 0);
    s_assert_file (h_strf ("%s/late.tsv", rig.dir), kept);
    s_assert_file (h_strf ("%s/window-0.tsv", rig.dir), "alpha\t2\n");
    s_part (&rig, 0, 5000, NULL, 0);
    s_part (&rig, 1, 5000, w5, 1);
    s_wait_control (&rig.v, ZMR_WSTORED, 5000);
    s_assert_file (h_strf ("%s/late.tsv", rig.dir), h_strf ("%s%s", kept, unconfirmed));
    s_assert_file (h_strf ("%s/window-5000.tsv", rig.dir), "");
    s_stop (rig.pid, "the sink");
    s_vent_destroy (&rig.v);
}
