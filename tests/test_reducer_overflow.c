/*  test_reducer_overflow: a sum that would pass 64 signed bits fails the
    job, naming the key and the partition, and is never written wrapped
    (issue 16 part 2, item 1). A word count runs on the KJV held at half
    (it cannot end before the test says so); the test pushes two BATCH
    frames to a reducer, by hand (libzmq, no zmr code), whose values for
    one key sum past INT64_MAX, or below INT64_MIN. The reducer must send
    FAIL: the ventilator fails the job with the reducer's reason, no result
    is written, and every role exits 1. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "harness.h"

TestSuite (reducer_overflow, .init = h_setup, .fini = h_teardown, .timeout = 280);

#define S_EVENT_TIMEOUT 120000

typedef struct {
    unsigned char data[256];
    size_t len;
} s_buf_t;

static void
s_byte (s_buf_t *b, unsigned char c)
{
    cr_assert_lt (b->len, sizeof b->data);
    b->data[b->len++] = c;
}

static void
s_be (s_buf_t *b, uint64_t value, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        s_byte (b, (unsigned char) (value >> (8 * i)));
}

//  A MessagePack uint as uint64 (0xcf), whatever its size.
static void
s_uint (s_buf_t *b, uint64_t value)
{
    s_byte (b, 0xcf);
    s_be (b, value, 8);
}

//  A MessagePack int as int64 (0xd3): a signed value.
static void
s_int (s_buf_t *b, int64_t value)
{
    s_byte (b, 0xd3);
    s_be (b, (uint64_t) value, 8);
}

//  A BATCH of protocol 3 (docs/protocol.md): [0x5A4D, 3, 7, job, chunk,
//  partition, reducers, stamp, [] (no runs), [key bin, value int]].
static s_buf_t
s_batch (uint64_t job, uint64_t chunk, uint32_t partition, uint32_t reducers,
         const char *key, int64_t value)
{
    s_buf_t b = { .len = 0 };
    s_byte (&b, 0x9a);
    s_byte (&b, 0xcd);
    s_be (&b, 0x5A4D, 2);
    s_byte (&b, 3);
    s_byte (&b, 7);
    s_uint (&b, job);
    s_uint (&b, chunk);
    s_uint (&b, partition);
    s_uint (&b, reducers);
    s_uint (&b, 0);
    s_byte (&b, 0x90);
    s_byte (&b, 0x92);
    s_byte (&b, 0xc4);
    s_byte (&b, (unsigned char) strlen (key));
    memcpy (b.data + b.len, key, strlen (key));
    b.len += strlen (key);
    s_int (&b, value);
    return b;
}

static bool
s_past (const h_status_t *status, void *arg)
{
    return !strcmp (status->phase, "mapping") && status->bytes_done >= *(uint64_t *) arg;
}

static bool
s_failed (const h_status_t *status, void *arg)
{
    (void) arg;
    return !strcmp (status->phase, "failed") || !strcmp (status->phase, "done");
}

//  Sends the two batches of key (values first, then second) to partition
//  p of a running job, and checks that the job fails saying why.
static void
s_overflow (const char *key, int64_t first, int64_t second, const char *reason)
{
    size_t len;
    h_release (h_read (h_kjv (), &len));
    char *fifo = h_fifo ("input");
    h_feed_start_held (fifo, h_kjv (), 65536, 0, len, len / 2);
    h_job_t job;
    h_job_opts_t opts = { .reducers = 2, .mappers = 1, .stdin_path = fifo };
    h_job_start (&job, "-", &opts);
    uint64_t tenth = len / 10;
    h_status_t status;
    cr_assert (h_status_wait (job.monitor_out, s_past, &tenth, S_EVENT_TIMEOUT, &status),
               "the job did not reach 10%% of its input (phase '%s')", status.phase);
    char *end;
    uint64_t id = strtoull (status.job, &end, 16);
    cr_assert (status.job[0] && !*end, "bad job id '%s'", status.job);

    void *ctx = zmq_ctx_new ();
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt (push, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq (zmq_connect (push, job.reducer_ep[1]), 0);
    //  Chunk ids no chunk of the job has: the reducer applies them.
    s_buf_t a = s_batch (id, 999999990, 1, 2, key, first);
    s_buf_t b = s_batch (id, 999999991, 1, 2, key, second);
    cr_assert_eq (zmq_send (push, a.data, a.len, 0), (int) a.len);
    cr_assert_eq (zmq_send (push, b.data, b.len, 0), (int) b.len);

    bool over = h_status_wait (job.monitor_out, s_failed, NULL, S_EVENT_TIMEOUT, &status);
    zmq_close (push);
    zmq_ctx_term (ctx);
    h_feed_limit (UINT64_MAX);
    cr_assert (over, "the job did not fail (last phase '%s')", status.phase);
    cr_assert_str_eq (status.phase, "failed", "the job ended '%s'", status.phase);
    cr_assert_not_null (strstr (status.reason, reason), "the reason '%s' does not say '%s'",
                        status.reason, reason);
    int code = h_exit_code (h_wait (job.ventilator, S_EVENT_TIMEOUT, "the ventilator"));
    cr_assert_eq (code, 1, "the ventilator exited with %d", code);
    code = h_exit_code (h_wait (job.sink, 60000, "the sink"));
    cr_assert_eq (code, 1, "the sink exited with %d", code);
    code = h_exit_code (h_wait (job.reducer[1], 60000, "reducer 1"));
    cr_assert_eq (code, 1, "reducer 1 exited with %d", code);
    cr_assert_neq (access (job.output, F_OK), 0, "a result was written");
    char *log = h_read (h_path ("ventilator.err"), &len);
    cr_assert_not_null (log);
    cr_assert_not_null (strstr (log, reason), "the ventilator's log does not say '%s': %s",
                        reason, log);
}

Test (reducer_overflow, a_sum_past_int64_max_fails_the_job_naming_the_key)
{
    s_overflow ("198.18.0.7", INT64_MAX, 1,
                "sum of key '198.18.0.7' passes 64 bits in partition 1");
}

Test (reducer_overflow, a_sum_below_int64_min_fails_the_job_naming_the_key)
{
    s_overflow ("deb\tt", INT64_MIN + 5, -6,
                "sum of key 'deb\\x09t' passes 64 bits in partition 1");
}
