/*  test_hostile: docs/design.md property 6. While a slow job runs, the test
    connects raw ZeroMQ sockets (libzmq, no zmr code) to the ventilator's
    control ROUTER (as a DEALER), to each reducer's PULL and to the sink's
    PULL (as PUSH), and sends a few hundred of each kind of bad frame:
    random bytes, an empty frame, an array32 header declaring 268M
    elements, three-frame messages, well-formed messages of another job or
    for another partition, and copies of a message the receiver would take
    (right job, partition and reducer count) spoilt in exactly one way:
    another signature, another version, cut short, or one byte too many.
    The job must complete with an exact result, and the counters in the
    final status must show every frame dropped. The job's input is held at
    half until the storm is counted (issue 13): the job cannot end before,
    however the machine's speed compares to the storm's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zmr_msg.h"
#include <zmq.h>

#include "harness.h"

#define S_PER_KIND 1000     //  Rounds: 12 generic kinds and the specific ones each
#define S_MAX_SOCKETS 16

static void *s_ctx;
static void *s_sockets[S_MAX_SOCKETS];
static size_t s_nsockets;

static void
s_setup (void)
{
    h_setup ();
    s_ctx = NULL;
    s_nsockets = 0;
}

static void
s_teardown (void)
{
    for (size_t i = 0; i < s_nsockets; i++) {
        int linger = 0;
        zmq_setsockopt (s_sockets[i], ZMQ_LINGER, &linger, sizeof linger);
        zmq_close (s_sockets[i]);
    }
    s_nsockets = 0;
    if (s_ctx)
        zmq_ctx_term (s_ctx);
    s_ctx = NULL;
    h_teardown ();
}

TestSuite (hostile, .init = s_setup, .fini = s_teardown, .timeout = 280);

//  Bounds for one event and a whole job under ASan+UBSan on a loaded machine.
#define S_EVENT_TIMEOUT 120000

static void *
s_socket (int type, const char *endpoint)
{
    if (!s_ctx)
        s_ctx = zmq_ctx_new ();
    cr_assert_not_null (s_ctx);
    cr_assert (s_nsockets < S_MAX_SOCKETS);
    void *sock = zmq_socket (s_ctx, type);
    cr_assert_not_null (sock, "zmq_socket: %s", zmq_strerror (zmq_errno ()));
    int timeout = 60000;
    zmq_setsockopt (sock, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    int linger = 5000;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq (zmq_connect (sock, endpoint), 0, "connect %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
    s_sockets[s_nsockets++] = sock;
    return sock;
}

//  Closes every socket, waiting (linger) until what was sent is delivered.
static void
s_flush_sockets (void)
{
    for (size_t i = 0; i < s_nsockets; i++)
        zmq_close (s_sockets[i]);
    s_nsockets = 0;
    zmq_ctx_term (s_ctx);
    s_ctx = NULL;
}

//  ---------------------------------------------------------------------
//  Hand-made MessagePack (docs/protocol.md framing)

typedef struct {
    unsigned char data[4096];
    size_t len;
} s_buf_t;

static void
s_byte (s_buf_t *b, unsigned char byte)
{
    cr_assert (b->len < sizeof b->data);
    b->data[b->len++] = byte;
}

static void
s_u64 (s_buf_t *b, uint64_t value)
{
    s_byte (b, 0xcf);
    for (int shift = 56; shift >= 0; shift -= 8)
        s_byte (b, (unsigned char) (value >> shift));
}

static void
s_uint (s_buf_t *b, uint64_t value)
{
    if (value < 128)
        s_byte (b, (unsigned char) value);
    else
        s_u64 (b, value);
}

static void
s_array (s_buf_t *b, uint32_t n)
{
    cr_assert (n < 16);
    s_byte (b, (unsigned char) (0x90 | n));
}

static void
s_bin (s_buf_t *b, const char *data, size_t len)
{
    s_byte (b, 0xc4);
    s_byte (b, (unsigned char) len);
    for (size_t i = 0; i < len; i++)
        s_byte (b, (unsigned char) data[i]);
}

static void
s_str (s_buf_t *b, const char *text)
{
    size_t len = strlen (text);
    cr_assert (len < 32);
    s_byte (b, (unsigned char) (0xa0 | len));
    for (size_t i = 0; i < len; i++)
        s_byte (b, (unsigned char) text[i]);
}

//  [signature, version, type, job, ...] with nfields fields to follow:
//  fixarray, then the signature as uint16 at bytes 2-3 and the version as
//  a positive fixint at byte 4, where s_spoil_header finds them.
static void
s_header (s_buf_t *b, uint32_t type, uint64_t job, uint32_t nfields)
{
    s_array (b, 4 + nfields);
    s_byte (b, 0xcd);
    s_byte (b, 0x5A);
    s_byte (b, 0x4D);
    s_uint (b, ZMR_PROTOCOL);
    s_uint (b, type);
    s_u64 (b, job);
}

//  A copy of a message made by s_header with another signature and
//  version; nothing else differs.
static s_buf_t
s_spoil_header (const s_buf_t *message, uint16_t signature, uint8_t version)
{
    cr_assert (message->len > 5 && message->data[1] == 0xcd && message->data[4] == ZMR_PROTOCOL);
    cr_assert (version < 128);
    s_buf_t b = *message;
    b.data[2] = (unsigned char) (signature >> 8);
    b.data[3] = (unsigned char) signature;
    b.data[4] = version;
    return b;
}

//  A BATCH with one pair (word, count), or none if word is NULL. Its
//  stamp (when the chunk entered the ventilator) is 0.
static s_buf_t
s_batch (uint64_t job, uint64_t chunk, uint32_t partition, uint32_t reducers,
         const char *word, uint64_t count)
{
    s_buf_t b = { .len = 0 };
    s_header (&b, 7, job, 6);
    s_uint (&b, chunk);
    s_uint (&b, partition);
    s_uint (&b, reducers);
    s_uint (&b, 0);
    s_array (&b, 0);            //  No runs: ingest time
    s_array (&b, word? 2: 0);
    if (word) {
        s_bin (&b, word, strlen (word));
        s_uint (&b, count);
    }
    return b;
}

//  A RESULT, part seq of parts, with one pair (word, count), or none if
//  word is NULL.
static s_buf_t
s_result_part (uint64_t job, uint32_t partition, uint32_t reducers, uint64_t seq,
               uint64_t parts, const char *word, uint64_t count)
{
    s_buf_t b = { .len = 0 };
    s_header (&b, 12, job, 6);
    s_uint (&b, partition);
    s_uint (&b, reducers);
    s_uint (&b, seq);
    s_uint (&b, parts);
    s_uint (&b, 0);
    s_array (&b, word? 2: 0);
    if (word) {
        s_bin (&b, word, strlen (word));
        s_uint (&b, count);
    }
    return b;
}

//  A RESULT (one part of one) with one pair.
static s_buf_t
s_result (uint64_t job, uint32_t partition, uint32_t reducers, const char *word,
          uint64_t count)
{
    return s_result_part (job, partition, reducers, 0, 1, word, count);
}

//  An ACK.
static s_buf_t
s_ack (uint64_t job, uint32_t partition, uint64_t chunk, uint64_t words)
{
    s_buf_t b = { .len = 0 };
    s_header (&b, 8, job, 4);
    s_uint (&b, partition);
    s_uint (&b, chunk);
    s_uint (&b, words);
    s_byte (&b, 0xc2);
    return b;
}

//  A mapper's HELLO for this job, as any mapper may send at any time.
static s_buf_t
s_hello (uint64_t job)
{
    s_buf_t b = { .len = 0 };
    s_header (&b, 1, job, 7);
    s_uint (&b, 1);
    s_uint (&b, 0);
    s_uint (&b, 2);
    s_str (&b, "");
    s_str (&b, "hostile:0");
    s_uint (&b, 0);
    s_str (&b, "");
    return b;
}

static void
s_send (void *sock, const void *data, size_t len, int flags)
{
    int rc = zmq_send (sock, data, len, flags);
    cr_assert_neq (rc, -1, "zmq_send: %s", zmq_strerror (zmq_errno ()));
}

//  Sends every generic kind of bad frame S_PER_KIND times, plus the
//  message-level ones given. The spoilt frames are copies of valid, a
//  message this receiver takes (so only the one spoilt thing can get them
//  dropped: were that check missing, valid's content would be applied or
//  go uncounted). Returns the number of messages sent.
static uint64_t
s_send_garbage (void *sock, const s_buf_t *valid, const s_buf_t *specific, size_t nspecific)
{
    uint64_t sent = 0;
    uint32_t x = 88172645u;
    for (int i = 0; i < S_PER_KIND; i++) {
        //  Random bytes, 1 to 300 of them.
        unsigned char random[300];
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t len = 1 + x % sizeof random;
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            random[k] = (unsigned char) x;
        }
        s_send (sock, random, len, 0);
        //  An empty frame.
        s_send (sock, "", 0, 0);
        //  array32 declaring 268,435,456 elements, and nothing after.
        static const unsigned char array32[] = { 0xdd, 0x10, 0x00, 0x00, 0x00 };
        s_send (sock, array32, sizeof array32, 0);
        //  The valid message with the wrong signature, then version.
        s_buf_t b = s_spoil_header (valid, 0x5A4E, ZMR_PROTOCOL);
        s_send (sock, b.data, b.len, 0);
        //  Older versions and one from the future, in turn
        b = s_spoil_header (valid, 0x5A4D, (uint8_t) (1 + i % 3 + (i % 3 == 2)));
        s_send (sock, b.data, b.len, 0);
        //  Truncated: the valid message cut at every length in turn.
        s_send (sock, valid->data, 1 + (size_t) i % (valid->len - 1), 0);
        //  Trailing bytes: the whole valid message and a nil.
        b = *valid;
        s_byte (&b, 0xc0);
        s_send (sock, b.data, b.len, 0);
        //  Three frames.
        s_send (sock, "one", 3, ZMQ_SNDMORE);
        s_send (sock, "two", 3, ZMQ_SNDMORE);
        s_send (sock, "three", 5, 0);
        //  The valid header (array, signature, version, type, job: 15
        //  bytes), then: a map32 declaring 2 G entries; a str32 declaring
        //  4 GB; arrays nested 2000 deep; a string where a number goes.
        static const unsigned char map32[] = { 0xdf, 0x7f, 0xff, 0xff, 0xff };
        static const unsigned char str32[] = { 0xdb, 0xff, 0xff, 0xff, 0xf0 };
        cr_assert (valid->len > 15 && valid->data[0] >= 0x94 && valid->data[0] <= 0x9f);
        b = (s_buf_t) { .len = 0 };
        memcpy (b.data, valid->data, 15);
        b.len = 15;
        memcpy (b.data + b.len, map32, sizeof map32);
        s_send (sock, b.data, b.len + sizeof map32, 0);
        memcpy (b.data + b.len, str32, sizeof str32);
        s_send (sock, b.data, b.len + sizeof str32, 0);
        for (int depth = 0; depth < 2000; depth++)
            s_byte (&b, 0x91);
        s_byte (&b, 0x00);
        s_send (sock, b.data, b.len, 0);
        b.len = 15;
        for (uint32_t k = 0; k < (uint32_t) (valid->data[0] & 0x0f) - 4; k++)
            s_str (&b, "abc");
        s_send (sock, b.data, b.len, 0);
        sent += 12;
        for (size_t k = 0; k < nspecific; k++) {
            s_send (sock, specific[k].data, specific[k].len, 0);
            sent++;
        }
    }
    return sent;
}

//  ---------------------------------------------------------------------
//  A sender that disconnects while the receiver's queue is full loses what
//  libzmq still held for it, so the sockets stay open until the status
//  shows every frame counted (or 120 s passed: the final check then fails).

typedef struct {
    long pid;                   //  The worker, or -1 for the ventilator
    uint64_t sent;              //  Frames it was sent
} s_counted_t;

static bool
s_all_counted (const h_status_t *status, void *arg)
{
    const s_counted_t *counted = arg;
    if (counted->pid < 0)
        return status->malformed >= counted->sent;
    const h_worker_t *worker = h_status_worker (status, counted->pid);
    return worker && worker->malformed >= counted->sent;
}

static void
s_wait_counted (h_job_t *job, long pid, uint64_t sent)
{
    s_counted_t counted = { pid, sent };
    h_status_wait (job->monitor_out, s_all_counted, &counted, S_EVENT_TIMEOUT, NULL);
}

static uint64_t
s_job_id (const h_status_t *status)
{
    char *end;
    uint64_t job = strtoull (status->job, &end, 16);
    cr_assert (status->job[0] && !*end, "bad job id '%s' in the status", status->job);
    return job;
}

//  Resident memory of a process, in KiB (VmRSS), or 0.
static uint64_t
s_rss_kb (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    uint64_t kb = 0;
    char line[256];
    while (file && fgets (line, sizeof line, file))
        if (!strncmp (line, "VmRSS:", 6))
            kb = strtoull (line + 6, NULL, 10);
    if (file)
        fclose (file);
    return kb;
}

//  The storm may not grow a receiver by 64 MiB or more.
static void
s_assert_growth (pid_t pid, uint64_t before_kb, const char *what)
{
    uint64_t after_kb = s_rss_kb (pid);
    cr_assert_gt (after_kb, 0, "%s is gone", what);
    cr_assert_lt (after_kb, before_kb + 64 * 1024, "%s grew from %llu to %llu KiB under the "
                  "storm", what, (unsigned long long) before_kb, (unsigned long long) after_kb);
}

static bool
s_past (const h_status_t *status, void *arg)
{
    return !strcmp (status->phase, "mapping") && status->bytes_done >= *(uint64_t *) arg;
}

//  The job, on the KJV as standard input held at half, past a tenth of it.
static void
s_start (h_job_t *job, h_status_t *status)
{
    size_t len;
    h_release (h_read (h_kjv (), &len));
    char *fifo = h_fifo ("input");
    h_feed_start_held (fifo, h_kjv (), 65536, 0, len, len / 2);
    h_job_opts_t opts = { .reducers = 2, .mappers = 2, .delay_ms = 20, .stdin_path = fifo };
    h_job_start (job, "-", &opts);
    uint64_t tenth = len / 10;
    cr_assert (h_status_wait (job->monitor_out, s_past, &tenth, S_EVENT_TIMEOUT, status),
               "the job did not reach 10%% of its input (phase '%s', %llu bytes done)",
               status->phase, (unsigned long long) status->bytes_done);
}

//  Lets the input on, and checks the job's end.
static void
s_finish (h_job_t *job, h_status_t *final)
{
    h_feed_limit (UINT64_MAX);
    h_job_wait_done (job, 180000, final);
    h_assert_kjv_result (job->output);
}

static const h_worker_t *
s_worker (const h_status_t *status, pid_t pid, const char *what)
{
    const h_worker_t *worker = h_status_worker (status, pid);
    cr_assert_not_null (worker, "%s (pid %d) is not in the final status", what, (int) pid);
    return worker;
}

Test (hostile, ventilator_counts_and_drops_malformed_control_frames)
{
    h_job_t job;
    h_status_t status;
    s_start (&job, &status);
    uint64_t id = s_job_id (&status);
    void *dealer = s_socket (ZMQ_DEALER, job.control);
    //  This peer never said HELLO, so its ACKs are dropped as a stranger's
    //  whatever they hold; the spoilt HELLOs would make it a mapper. The
    //  same HELLO unspoilt, from another peer, must make that one a mapper:
    //  else the spoilt ones were dropped for something else.
    s_buf_t hello = s_hello (id);
    s_send (s_socket (ZMQ_DEALER, job.control), hello.data, hello.len, 0);
    s_buf_t specific[] = {
        s_ack (id ^ 0x5a5a, 0, 0, 1000000),         //  Another job
        s_ack (id, 0, 999999999, 1000000),          //  An unknown chunk
        s_ack (id, 7, 0, 1000000),                  //  An unknown partition
        s_batch (id, 1, 0, 2, "the", 5),            //  Not for the ventilator
    };
    uint64_t rss = s_rss_kb (job.ventilator);
    uint64_t sent = s_send_garbage (dealer, &hello, specific, 4);
    s_wait_counted (&job, -1, sent);
    s_assert_growth (job.ventilator, rss, "the ventilator");
    s_flush_sockets ();
    h_status_t final;
    s_finish (&job, &final);
    cr_assert_gt (final.malformed, 0, "the ventilator counted no malformed frame");
    cr_assert_geq (final.malformed, sent, "the ventilator counted %llu malformed frames of "
                   "the %llu sent", (unsigned long long) final.malformed,
                   (unsigned long long) sent);
    bool control = false;
    for (size_t i = 0; i < final.nworkers; i++)
        control = control || (!strcmp (final.workers[i].name, "hostile:0")
                               && !strcmp (final.workers[i].role, "mapper"));
    cr_assert (control, "the unspoilt HELLO was not taken: the test's HELLO is not valid");
}

Test (hostile, reducers_count_and_drop_malformed_batches)
{
    h_job_t job;
    h_status_t status;
    s_start (&job, &status);
    uint64_t id = s_job_id (&status);
    uint64_t sent[2], rss[2] = { s_rss_kb (job.reducer[0]), s_rss_kb (job.reducer[1]) };
    for (uint32_t p = 0; p < 2; p++) {
        void *push = s_socket (ZMQ_PUSH, job.reducer_ep[p]);
        //  This job, this partition, R = 2, a chunk id no chunk has: taken,
        //  it would add a thousand to 'the'.
        s_buf_t batch = s_batch (id, 999999990, p, 2, "the", 1000);
        //  The same without its pair, harmless, twice: the second must be
        //  dropped as a duplicate, which shows the first was taken.
        s_buf_t control = s_batch (id, 999999980, p, 2, NULL, 0);
        s_send (push, control.data, control.len, 0);
        s_send (push, control.data, control.len, 0);
        s_buf_t specific[] = {
            //  Another job: would add a million to 'the'.
            s_batch (id ^ 0x5a5a, 999999999, p, 2, "the", 1000000),
            //  The other partition, a chunk that does not exist.
            s_batch (id, 999999998, 1 - p, 2, "the", 1000000),
            //  Another reducer count.
            s_batch (id, 999999997, p, 3, "the", 1000000),
            //  A value beyond 64 signed bits.
            s_batch (id, 999999996, p, 2, "the", (uint64_t) INT64_MAX + 1),
            //  A RESULT is not a BATCH.
            s_result (id, p, 2, "the", 1000000),
        };
        sent[p] = s_send_garbage (push, &batch, specific, 5);
    }
    s_wait_counted (&job, job.reducer[0], sent[0]);
    s_wait_counted (&job, job.reducer[1], sent[1]);
    s_assert_growth (job.reducer[0], rss[0], "reducer 0");
    s_assert_growth (job.reducer[1], rss[1], "reducer 1");
    s_flush_sockets ();
    h_status_t final;
    s_finish (&job, &final);
    for (int p = 0; p < 2; p++) {
        const h_worker_t *reducer = s_worker (&final, job.reducer[p], "a reducer");
        cr_assert_geq (reducer->malformed, sent[p], "reducer %d counted %llu malformed frames "
                       "of the %llu sent", p, (unsigned long long) reducer->malformed,
                       (unsigned long long) sent[p]);
        cr_assert_geq (reducer->duplicates, 1, "reducer %d did not take the unspoilt BATCH: "
                       "the test's BATCH is not valid", p);
    }
}

Test (hostile, sink_counts_and_drops_malformed_results)
{
    h_job_t job;
    h_status_t status;
    s_start (&job, &status);
    uint64_t id = s_job_id (&status);
    void *push = s_socket (ZMQ_PUSH, job.sink_ep);
    //  The whole of partition 0 in one part, of this job with R = 2: taken,
    //  it would stand for the real partition 0.
    s_buf_t result = s_result (id, 0, 2, "the", 1000000);
    //  Harmless: part 0 of 1000 of partition 0, empty; the real partition,
    //  in fewer parts, starts it again. Taken, it is not counted.
    s_buf_t control = s_result_part (id, 0, 2, 0, 1000, NULL, 0);
    for (int i = 0; i < S_PER_KIND; i++)
        s_send (push, control.data, control.len, 0);
    s_buf_t specific[] = {
        s_result (id ^ 0x5a5a, 0, 2, "the", 1000000),   //  Another job
        s_result (id, 0, 3, "the", 1000000),            //  Another reducer count
        s_result (id, 2, 2, "the", 1000000),            //  No such partition
        s_batch (id, 5, 0, 2, "the", 1000000),          //  Not a RESULT
    };
    uint64_t rss = s_rss_kb (job.sink);
    uint64_t sent = s_send_garbage (push, &result, specific, 4);
    s_wait_counted (&job, job.sink, sent);
    s_assert_growth (job.sink, rss, "the sink");
    s_flush_sockets ();
    h_status_t final;
    s_finish (&job, &final);
    const h_worker_t *sink = s_worker (&final, job.sink, "the sink");
    cr_assert_geq (sink->malformed, sent, "the sink counted %llu malformed frames of the "
                   "%llu sent", (unsigned long long) sink->malformed,
                   (unsigned long long) sent);
    cr_assert_lt (sink->malformed, sent + S_PER_KIND, "the sink dropped the unspoilt "
                  "RESULTs: the test's RESULT is not valid");
}

//  A STORED on the control socket from a peer that never said HELLO (the
//  job id is public: any monitor reads it) must be dropped as foreign,
//  not taken as the sink's word that it holds a partition.
Test (hostile, ventilator_ignores_stored_from_a_peer_that_is_not_the_sink)
{
    h_job_t job;
    h_status_t status;
    s_start (&job, &status);
    uint64_t id = s_job_id (&status);
    void *dealer = s_socket (ZMQ_DEALER, job.control);
    for (uint32_t p = 0; p < 2; p++) {
        s_buf_t b = { .len = 0 };
        s_header (&b, 13, id, 1);
        s_uint (&b, p);
        s_send (dealer, b.data, b.len, 0);
    }
    s_flush_sockets ();
    //  The job takes a few seconds; it must still end, and exactly.
    h_feed_limit (UINT64_MAX);
    int status_code;
    bool ended = h_try_wait (job.ventilator, 180000, &status_code);
    h_status_t last;
    h_status_last (job.monitor_out, &last);
    cr_assert (ended, "the job did not end within 180 s of a stranger's STORED for every "
               "partition: phase '%s', %llu chunks done, %llu malformed", last.phase,
               (unsigned long long) last.chunks_done, (unsigned long long) last.malformed);
    h_status_t final;
    s_finish (&job, &final);
    cr_assert_geq (final.malformed, 2, "the stranger's STOREDs were not counted as dropped");
}
