/*  test_result_pairs: the pairs the reducers applied reach the sink's DONE
    and receipt exactly (issue 16 part 2: RESULT's and DONE's pair_count,
    the ventilator's end check). A mapper sends, for each chunk, each of its
    distinct words once, to one partition; a file smaller than a chunk is
    one chunk (a chunk never spans two inputs), so the pairs of a job on
    such files are the sum over the files of their distinct words, which
    sort -u counts here. Every RESULT part of a partition carries the same
    pair count: a part that says another is a malformed frame to the sink. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "harness.h"

TestSuite (result_pairs, .init = h_setup, .fini = h_teardown, .timeout = 120);

//  Distinct words of a file, by tr | sort -u | wc -l.
static uint64_t
s_distinct (const char *path)
{
    const char *out = h_path ("distinct");
    h_io_t io = { .stdout_path = out };
    cr_assert_eq (h_run (&io, 30000, "/bin/sh", "-c",
                         h_strf ("LC_ALL=C tr -s ' \\t\\n\\v\\f\\r' '\\n' < '%s' | sed '/^$/d' "
                                 "| sort -u | wc -l", path), NULL), 0);
    size_t len;
    char *text = h_read (out, &len);
    cr_assert_not_null (text);
    return strtoull (text, NULL, 10);
}

//  The receipt's "pair_count", or -1 if it has none.
static long long
s_receipt_pairs (const char *receipt)
{
    size_t len;
    char *text = h_read (receipt, &len);
    cr_assert_not_null (text, "no receipt");
    const char *at = strstr (text, "\"pair_count\": ");
    return at? strtoll (at + strlen ("\"pair_count\": "), NULL, 10): -1;
}

Test (result_pairs, the_receipt_says_the_pairs_the_reducers_applied)
{
    //  Two files under a chunk each, sharing some words: the pairs are
    //  counted per chunk, not per word of the result.
    size_t len;
    char *kjv = h_read (h_kjv (), &len);
    cr_assert_not_null (kjv);
    char *one = h_write ("one.txt", kjv, 9000);
    char *two = h_write ("two.txt", kjv + 4500, 9000);
    h_release (kjv);
    uint64_t expected = s_distinct (one) + s_distinct (two);
    const char *receipt = h_path ("receipt.json");
    h_io_t io = { .stdout_path = h_path ("run.out") };
    int code = h_run (&io, 60000, "zmr", "run", "--no-progress", "-r", "3", "--chunk-size",
                      "16K", "--receipt", receipt, "-o", h_path ("result"), one, two, NULL);
    cr_assert_eq (code, 0, "zmr run exited %d", code);
    long long pairs = s_receipt_pairs (receipt);
    cr_assert_eq (pairs, (long long) expected, "the receipt says %lld pairs, sort -u %llu",
                  pairs, (unsigned long long) expected);
}

//  A RESULT of protocol 3 (docs/protocol.md), by hand: [0x5A4D, 3, 12, job,
//  partition, reducers, seq, parts, pair_count, [key bin, value int]].
static size_t
s_result (unsigned char *b, uint64_t job, uint32_t partition, uint64_t seq,
          uint64_t parts, uint64_t pair_count)
{
    size_t n = 0;
    uint64_t fields[] = { 0x5A4D, 3, 12, job, partition, 2, seq, parts, pair_count };
    b[n++] = 0x9a;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        b[n++] = 0xcf;
        for (int k = 7; k >= 0; k--)
            b[n++] = (unsigned char) (fields[i] >> (8 * k));
    }
    const unsigned char pair[] = { 0x92, 0xc4, 0x01, 'q', 0xff };      //  'q': -1
    memcpy (b + n, pair, sizeof pair);
    return n + sizeof pair;
}

typedef struct {
    pid_t sink;
    uint64_t malformed;
} s_sink_counted_t;

static bool
s_sink_counted (const h_status_t *status, void *arg)
{
    const s_sink_counted_t *counted = arg;
    const h_worker_t *sink = h_status_worker (status, counted->sink);
    return sink && sink->malformed >= counted->malformed;
}

static bool
s_past (const h_status_t *status, void *arg)
{
    return !strcmp (status->phase, "mapping") && status->bytes_done >= *(uint64_t *) arg;
}

Test (result_pairs, a_result_part_with_another_pair_count_than_its_partition_is_dropped)
{
    //  A job held at half, so it cannot end before the parts are counted
    size_t len;
    h_release (h_read (h_kjv (), &len));
    char *fifo = h_fifo ("input");
    h_feed_start_held (fifo, h_kjv (), 65536, 0, len, len / 2);
    h_job_t job;
    h_job_opts_t opts = { .reducers = 2, .mappers = 1, .stdin_path = fifo };
    h_job_start (&job, "-", &opts);
    uint64_t tenth = len / 10;
    h_status_t status;
    cr_assert (h_status_wait (job.monitor_out, s_past, &tenth, 120000, &status),
               "the job did not reach 10%% of its input (phase '%s')", status.phase);
    uint64_t id = strtoull (status.job, NULL, 16);

    void *ctx = zmq_ctx_new ();
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt (push, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq (zmq_connect (push, job.sink_ep), 0);
    //  Part 0 of 2 says 5 pairs, part 1 says 6: the second is dropped (and
    //  counted); the partition, incomplete, is replaced by the reducer's
    //  own RESULT (another cut) at the end.
    unsigned char frame[128];
    size_t n = s_result (frame, id, 0, 0, 2, 5);
    cr_assert_eq (zmq_send (push, frame, n, 0), (int) n);
    n = s_result (frame, id, 0, 1, 2, 6);
    cr_assert_eq (zmq_send (push, frame, n, 0), (int) n);
    s_sink_counted_t counted = { job.sink, 1 };
    bool seen = h_status_wait (job.monitor_out, s_sink_counted, &counted, 120000, &status);
    zmq_close (push);
    zmq_ctx_term (ctx);
    h_feed_limit (UINT64_MAX);
    cr_assert (seen, "the sink did not count the part with another pair count as malformed");
    h_status_t final;
    h_job_wait_done (&job, 180000, &final);
    h_assert_kjv_result (job.output);
    //  Exactly the one part: the first was taken (a RESULT the sink reads),
    //  and the reducers' own parts agree with each other.
    const h_worker_t *sink = h_status_worker (&final, job.sink);
    cr_assert_not_null (sink, "the sink is not in the final status");
    cr_assert_eq (sink->malformed, 1, "the sink counted %llu malformed frames, not 1",
                  (unsigned long long) sink->malformed);
}
