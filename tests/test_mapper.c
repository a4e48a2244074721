/*  Issue 2, point 7: the mapper combines, batches and hashes as promised.
    Seen from outside, through the status: each mapper computes SHA-1 once
    per distinct word it meets (its "distinct" counter), never per
    occurrence, and each reducer gets exactly one batch per chunk: it
    applies one per chunk and drops none as a duplicate. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

TestSuite (mapper, .init = h_setup, .fini = h_teardown, .timeout = 240);

static bool
s_two_mappers (const h_status_t *status, void *arg)
{
    (void) arg;
    return h_status_count_role (status, "mapper") == 2;
}

Test (mapper, hashes_each_distinct_word_once_and_sends_one_batch_per_chunk_and_reducer)
{
    char *status_ep = h_strf ("ipc://%s/st", h_dir ());
    char *output = h_path ("out.txt");
    char *monitor_out = h_path ("monitor.json");
    h_io_t mon = { .stdout_path = monitor_out };
    pid_t monitor = h_spawnl (&mon, "zmr-monitor", "--json", status_ep, NULL);
    const char *env[] = { h_strf ("TMPDIR=%s", h_dir ()), NULL };
    //  The text comes on standard input, held back until the monitor lists
    //  both mappers: the job cannot end before the monitor is there, nor
    //  before both mappers can take chunks, however fast it is (a
    //  --map-cost made it last long enough on one machine).
    size_t len;
    h_release (h_read (h_kjv (), &len));
    char *fifo = h_fifo ("input");
    h_feed_start_held (fifo, h_kjv (), 65536, 0, len, 0);
    h_io_t io = { .stdin_path = fifo, .env = env };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-m", "2", "-r", "3",
                          "--chunk-size", "64K", "--status", status_ep, "-o", output, NULL);
    cr_assert (h_status_wait (monitor_out, s_two_mappers, NULL, 120000, NULL),
               "the monitor did not list two mappers within 120 s");
    h_feed_limit (UINT64_MAX);
    cr_assert_eq (h_exit_code (h_wait (zmr, 180000, "zmr run")), 0);
    h_wait (monitor, 60000, "the monitor");
    //  An independent reading of the final state and of the result.
    const char *check =
        "import json, sys\n"
        "final = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]\n"
        "distinct = sum(1 for _ in open(sys.argv[2], 'rb'))\n"
        "assert final['phase'] == 'done', final['phase']\n"
        "mappers = [w for w in final['workers'] if w['role'] == 'mapper']\n"
        "reducers = [w for w in final['workers'] if w['role'] == 'reducer']\n"
        "assert len(mappers) == 2 and len(reducers) == 3\n"
        "for m in mappers:\n"
        "    assert 0 < m['distinct'] <= distinct, (m['distinct'], distinct)\n"
        "assert sum(m['words'] for m in mappers) == final['words'] > 10 * distinct\n"
        "for r in reducers:\n"
        "    assert r['chunks'] == final['chunks_done'], (r['chunks'], final['chunks_done'])\n"
        //  Applied once and sent once: no batch came twice to any reducer.
        "    assert r['duplicates'] == 0, (r['partition'], r['duplicates'],\n"
        "                                  final['chunks_reissued'])\n"
        "assert final['duplicates'] == 0, final['duplicates']\n";
    char *script = h_write ("check.py", check, strlen (check));
    int code = h_exit_code (h_wait (h_spawnl (NULL, "/usr/bin/python3", script, monitor_out,
                                              output, NULL), 60000, "check.py"));
    cr_assert_eq (code, 0, "the status does not show one hash per distinct word and "
                  "one batch per chunk and reducer (see log-*-python3.err)");
}

//  A job's memory is the sum over its processes. Once every chunk is
//  applied the ventilator says REST, and each mapper gives back its word
//  table then, before the sink sorts, not when the job is over. (Without
//  REST a mapper gives it back only after 5 s without a chunk: later than
//  this job's end.)
Test (mapper, gives_back_its_word_table_once_every_chunk_is_applied)
{
    h_job_t job;
    h_job_opts_t opts = { .reducers = 2, .mappers = 0 };
    h_job_start (&job, h_kjv (), &opts);
    char *log_path = h_path ("mapper.err");
    h_io_t io = { .stderr_path = log_path };
    pid_t mapper = h_spawnl (&io, "zmr-mapper", "--once", "-v", job.control, NULL);
    h_job_wait_done (&job, 180000, NULL);
    cr_assert_eq (h_exit_code (h_wait (mapper, 60000, "the mapper")), 0);
    h_counts_t ref;
    h_reference_file (h_kjv (), &ref);
    h_assert_result (job.output, &ref);
    h_counts_free (&ref);

    size_t len;
    char *log = h_read (log_path, &len);
    cr_assert_not_null (log);
    const char *said = strstr (log, "every chunk is applied: giving back ");
    cr_assert_not_null (said, "the mapper did not give back its table on REST:\n%s", log);
    unsigned long kib = strtoul (said + strlen ("every chunk is applied: giving back "),
                                 NULL, 10);
    //  The KJV's ~13k words of mixed case fill a table of 1 MiB or more.
    cr_assert_geq (kib, 1024, "it gave back only %lu KiB", kib);
}

//  A chunk that takes longer to map than --dead-ms (a costly map function)
//  must not make its mapper look dead: the mapper heartbeats while it maps.
//  Before, it was silent for the whole chunk and was declared dead, its
//  chunk was issued again (and, with a low --poison-limit, quarantined
//  while its batches still reached the reducers). A chunk waiting in a busy
//  mapper's queue may still go to a mapper that is idle: that is no death.
Test (mapper, a_chunk_longer_to_map_than_dead_ms_is_not_a_death, .timeout = 280)
{
    size_t kjv_len;
    char *kjv = h_read (h_kjv (), &kjv_len);
    cr_assert (kjv && kjv_len > (600u << 10));
    //  ~600 KB, cut after a newline: three chunks of 256K
    size_t len = 600u << 10;
    while (kjv[len - 1] != '\n')
        len--;
    const char *input = h_write ("slice.txt", kjv, len);
    h_job_t job;
    h_job_opts_t opts = { .reducers = 2, .mappers = 0, .chunk_size = "256K", .dead_ms = 1000 };
    h_job_start (&job, input, &opts);
    //  --map-cost 8000: about 2 s a chunk here, twice --dead-ms
    for (int m = 0; m < 2; m++)
        h_spawnl (NULL, "zmr-mapper", "--map-cost", "8000", job.control, NULL);
    h_status_t final;
    h_job_wait_done (&job, 240000, &final);
    h_counts_t ref;
    h_reference_file (input, &ref);
    h_assert_result (job.output, &ref);
    h_counts_free (&ref);
    size_t log_len;
    char *log = h_read (h_path ("ventilator.err"), &log_len);
    cr_assert_not_null (log);
    cr_assert_null (strstr (log, "declared dead"), "a busy mapper was taken for dead:\n%s", log);
    cr_assert_null (strstr (log, "its mapper is dead"), "%s", log);
}

//  ---------------------------------------------------------------------
//  Event time (issue 17 item 3): a real zmr-mapper, the ventilator and the
//  reducers faked by the test (libzmq sockets; the frames packed and read
//  by zmr_msg, the codec test_msg checks), given an event-time WELCOME and
//  a chunk. Its BATCHes' runs and pairs, and MAPPED, must be those of
//  tests/evtime_reference.py for the chunk.

#include <inttypes.h>
#include "zmr.h"

#define S_R 3
#define S_WAIT_MS 60000

typedef struct {
    void *ctx, *control, *chunks, *reducer[S_R];
    zmq_msg_t id;                //  The mapper's routing id
} s_fake_t;

static void *
s_bind (s_fake_t *fake, int type, const char *endpoint)
{
    void *sock = zmq_socket (fake->ctx, type);
    cr_assert_not_null (sock);
    int linger = 0, timeout = 200;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    cr_assert_eq (zmq_bind (sock, endpoint), 0, "bind %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
    return sock;
}

//  Receives one message of a type from the mapper on control (others, as
//  heartbeats and TAKE, are skipped), into frame (the caller closes it).
static zmr_msg_t
s_control_recv (s_fake_t *fake, int type, zmq_msg_t *frame)
{
    int64_t until = h_now_ms () + S_WAIT_MS;
    while (h_now_ms () < until) {
        zmq_msg_t id;
        zmq_msg_init (&id);
        if (zmq_msg_recv (&id, fake->control, 0) < 0) {
            zmq_msg_close (&id);
            continue;
        }
        cr_assert (zmq_msg_more (&id));
        zmq_msg_init (frame);
        cr_assert (zmq_msg_recv (frame, fake->control, 0) >= 0);
        zmr_msg_t msg;
        const char *why = NULL;
        cr_assert_eq (zmr_msg_decode (zmq_msg_data (frame), zmq_msg_size (frame), &msg,
                                      &why), 0, "the mapper sent a bad frame: %s", why);
        if (msg.type == type) {
            zmq_msg_close (&fake->id);
            zmq_msg_init (&fake->id);
            zmq_msg_move (&fake->id, &id);
            return msg;
        }
        cr_assert (msg.type != ZMR_FAILED || type == ZMR_FAILED, "the mapper failed "
                   "the chunk: %s", msg.reason);
        zmq_msg_close (&id);
        zmq_msg_close (frame);
    }
    cr_assert_fail ("no %s from the mapper within %d s", zmr_msg_type_name (type),
                    S_WAIT_MS / 1000);
    return (zmr_msg_t) { 0 };
}

static void
s_send (void *sock, msgpack_sbuffer *buf, int flags)
{
    cr_assert (zmq_send (sock, buf->data, buf->size, flags) >= 0);
    msgpack_sbuffer_clear (buf);
}

//  Binds the fake peers, starts a mapper, answers its HELLO with an
//  event-time WELCOME of job, max_word and max_message.
static void
s_fake_start (s_fake_t *fake, uint64_t job, const zmr_event_spec_t *event,
              uint64_t max_word, uint64_t max_message)
{
    memset (fake, 0, sizeof *fake);
    zmq_msg_init (&fake->id);
    fake->ctx = zmq_ctx_new ();
    const char *control = h_strf ("ipc://%s/ctl", h_dir ());
    const char *chunks = h_strf ("ipc://%s/chunks", h_dir ());
    fake->control = s_bind (fake, ZMQ_ROUTER, control);
    fake->chunks = s_bind (fake, ZMQ_PUSH, chunks);
    const char *eps[S_R], *keys[S_R];
    for (int p = 0; p < S_R; p++) {
        eps[p] = h_strf ("ipc://%s/r%d", h_dir (), p);
        keys[p] = "";
        fake->reducer[p] = s_bind (fake, ZMQ_PULL, eps[p]);
    }
    h_spawnl (NULL, "zmr-mapper", "--once", control, NULL);
    zmq_msg_t frame;
    s_control_recv (fake, ZMR_HELLO, &frame);
    zmq_msg_close (&frame);
    zmr_job_t spec;
    zmr_job_words (&spec);
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&buf);
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    zmr_msg_pack_welcome (&pk, job, S_R, chunks, "", eps, keys, max_word, max_message, &spec,
                          event);
    cr_assert (zmq_send (fake->control, zmq_msg_data (&fake->id), zmq_msg_size (&fake->id),
                         ZMQ_SNDMORE) >= 0);
    s_send (fake->control, &buf, 0);
    msgpack_sbuffer_destroy (&buf);
}

static void
s_fake_stop (s_fake_t *fake)
{
    zmq_close (fake->control);
    zmq_close (fake->chunks);
    for (int p = 0; p < S_R; p++)
        zmq_close (fake->reducer[p]);
    zmq_msg_close (&fake->id);
    zmq_ctx_term (fake->ctx);
}

static void
s_fake_chunk (s_fake_t *fake, uint64_t job, uint64_t chunk, const char *text, size_t len,
              uint64_t event_max)
{
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&buf);
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    zmr_msg_pack_chunk (&pk, job, chunk, 0, 0, 1, len, NULL, 1234, event_max);
    s_send (fake->chunks, &buf, ZMQ_SNDMORE);
    cr_assert (zmq_send (fake->chunks, text, len, 0) >= 0);
    msgpack_sbuffer_destroy (&buf);
}

static int
s_strcmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  A chunk of epoch-time lines: in order, late, blank, without a time,
//  a word over the max word, the token glued to nothing else.
static const char s_event_text[] =
    "1700000005.250 GET /a 200\n"
    "\n"
    "  1700000001.000\tGET /b 404 late\n"          //  Late (M 5250 - 2000)
    "1700000004.000 GET /a 200 on time\n"          //  On time: 4000 >= 3250
    "no time here GET\n"
    "1700000012.999 averyveryverylongword /a\n"
    " \t \r\n"
    "1700000009 x\n"                               //  Late: 9000 < 12999 - 2000
    "1700000011.5 GET";                            //  The last line, no '\n'

Test (mapper, maps_an_event_time_chunk_into_runs_as_python_does)
{
    zmr_event_spec_t event = { .format = ZMR_EVTIME_EPOCH, .window_ms = 10000,
                               .every_ms = 5000, .lateness_ms = 2000 };
    uint64_t job = 0x1700000000000003ull, chunk = 12, event_max = 1699999990000ull;
    uint64_t max_word = 16;
    s_fake_t fake;
    s_fake_start (&fake, job, &event, max_word, 8u << 20);
    size_t len = sizeof s_event_text - 1;
    s_fake_chunk (&fake, job, chunk, s_event_text, len, event_max);
    //  One BATCH per reducer, its runs over its pairs
    char **got = NULL;
    size_t ngot = 0;
    for (uint32_t p = 0; p < S_R; p++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        int64_t until = h_now_ms () + S_WAIT_MS;
        while (zmq_msg_recv (&frame, fake.reducer[p], 0) < 0)
            cr_assert (h_now_ms () < until, "no BATCH for reducer %u", p);
        zmr_msg_t msg;
        const char *why = NULL;
        cr_assert_eq (zmr_msg_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &msg,
                                      &why), 0, "bad BATCH: %s", why);
        cr_assert (msg.type == ZMR_BATCH && msg.job == job && msg.chunk == chunk
                   && msg.partition == p && msg.reducers == S_R && msg.stamp == 1234);
        zmr_run_t run;
        while (zmr_msg_next_run (&msg, &run))
            for (uint32_t i = 0; i < run.n; i++) {
                const char *word;
                uint32_t wlen;
                uint64_t value;
                cr_assert (zmr_msg_next_pair (&msg, &word, &wlen, &value));
                char *line = h_alloc (2 * wlen + 128);
                int at = sprintf (line, "P %u %u %llu ", p, run.kind,
                                  (unsigned long long) run.pane);
                for (uint32_t k = 0; k < wlen; k++)
                    at += sprintf (line + at, "%02x", (uint8_t) word[k]);
                sprintf (line + at, " %llu", (unsigned long long) value);
                got = realloc (got, (ngot + 1) * sizeof *got);
                got[ngot++] = line;
            }
        zmq_msg_close (&frame);
    }
    zmq_msg_t frame;
    zmr_msg_t mapped = s_control_recv (&fake, ZMR_MAPPED, &frame);
    zmq_msg_close (&frame);
    cr_assert_eq (mapped.chunk, chunk);
    qsort (got, ngot, sizeof *got, s_strcmp);
    //  The reference, on the same chunk
    char *path = h_write ("chunk", s_event_text, len);
    char *out = h_path ("reference.txt");
    h_io_t io = { .stdout_path = out };
    int code = h_exit_code (h_wait (h_spawnl (&io, "/usr/bin/python3",
        ZMR_SOURCE_DIR "/tests/evtime_reference.py", "evmap", path,
        h_strf ("%llu", (unsigned long long) chunk),
        h_strf ("%llu", (unsigned long long) event_max),
        h_strf ("%llu", (unsigned long long) event.lateness_ms),
        h_strf ("%llu", (unsigned long long) event.window_ms),
        h_strf ("%llu", (unsigned long long) event.every_ms),
        h_strf ("%d", S_R), h_strf ("%llu", (unsigned long long) max_word), NULL),
        60000, "evtime_reference.py"));
    cr_assert_eq (code, 0);
    size_t out_len;
    char *ref = h_read (out, &out_len);
    size_t i = 0;
    bool kinds[3] = { false };
    char *save = NULL;
    for (char *l = strtok_r (ref, "\n", &save); l; l = strtok_r (NULL, "\n", &save)) {
        if (l[0] == 'S') {
            uint64_t words, too_long, pairs;
            cr_assert_eq (sscanf (l, "S %" SCNu64 " %" SCNu64 " %" SCNu64, &words, &too_long,
                                  &pairs), 3);
            cr_assert (mapped.words == words && mapped.too_long == too_long
                       && mapped.pair_count == pairs, "MAPPED words %llu too long %llu "
                       "pairs %llu, python %s", (unsigned long long) mapped.words,
                       (unsigned long long) mapped.too_long,
                       (unsigned long long) mapped.pair_count, l);
            continue;
        }
        cr_assert_lt (i, ngot, "python has more pairs: next %s", l);
        cr_assert_str_eq (got[i], l, "pair %zu differs:\n  mapper %s\n  python %s", i,
                          got[i], l);
        kinds[l[4] - '0'] = true;
        i++;
    }
    cr_assert_eq (i, ngot, "the mapper sent %zu pairs, python %zu", ngot, i);
    cr_assert (kinds[0] && kinds[1] && kinds[2], "a run kind is missing: the chunk tests "
               "too little");
    free (got);
    s_fake_stop (&fake);
}

//  Side records carry their lines: a chunk of many short late lines makes
//  a batch larger than the word count's bound. Over the job's message
//  limit it is FAILED, saying so, and no BATCH goes out.
Test (mapper, fails_an_event_time_chunk_whose_batch_passes_the_message_limit)
{
    zmr_event_spec_t event = { .format = ZMR_EVTIME_EPOCH, .window_ms = 1000,
                               .every_ms = 1000, .lateness_ms = 0 };
    uint64_t job = 0x1700000000000004ull;
    s_fake_t fake;
    s_fake_start (&fake, job, &event, 0, 1u << 20);
    //  400 KiB of lines without a time (a chunk that fits 1 MiB messages):
    //  each a side key of 30 bytes more than its line
    size_t len = 400 << 10;
    char *text = h_alloc (len);
    for (size_t i = 0; i < len; i += 2)
        memcpy (text + i, "a\n", 2);
    s_fake_chunk (&fake, job, 3, text, len, ZMR_EVTIME_UNKNOWN);
    zmq_msg_t frame;
    zmr_msg_t failed = s_control_recv (&fake, ZMR_FAILED, &frame);
    cr_assert_eq (failed.chunk, 3);
    cr_assert (strstr (failed.reason, "--max-message"), "reason: %s", failed.reason);
    zmq_msg_close (&frame);
    for (int p = 0; p < S_R; p++) {
        zmq_msg_init (&frame);
        cr_assert (zmq_msg_recv (&frame, fake.reducer[p], ZMQ_DONTWAIT) < 0,
                   "a BATCH went out for a FAILED chunk");
        zmq_msg_close (&frame);
    }
    s_fake_stop (&fake);
}
