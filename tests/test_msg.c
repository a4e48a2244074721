/*  The wire codec of docs/protocol.md: every message round-trips, and every
    kind of bad frame is refused with a reason, before anything is used. */
#include <criterion/criterion.h>
#include "zmr.h"

typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} s_buf_t;

static void
s_init (s_buf_t *b)
{
    msgpack_sbuffer_init (&b->sbuf);
    msgpack_packer_init (&b->pk, &b->sbuf, msgpack_sbuffer_write);
}

static int
s_decode (s_buf_t *b, zmr_msg_t *msg, const char **why)
{
    return zmr_msg_decode (b->sbuf.data, b->sbuf.size, msg, why);
}

static zmr_msg_t
s_roundtrip (s_buf_t *b, int type)
{
    zmr_msg_t msg;
    const char *why = NULL;
    cr_assert_eq (s_decode (b, &msg, &why), 0, "decode failed: %s", why);
    cr_assert_eq (msg.type, type, "type %d, expected %s", msg.type, zmr_msg_type_name (type));
    return msg;
}

Test (msg, hello_roundtrips_with_every_field)
{
    s_buf_t b; s_init (&b);
    zcert_t *cert = zcert_new ();
    zmr_msg_pack_hello (&b.pk, 5, ZMR_ROLE_REDUCER, 3, 8, "tcp://*:5560", "box:42", 1234,
                        zcert_public_txt (cert));
    zmr_msg_t msg = s_roundtrip (&b, ZMR_HELLO);
    cr_assert_str_eq (msg.key, zcert_public_txt (cert));
    zcert_destroy (&cert);
    cr_assert_eq (msg.job, 5);
    cr_assert_eq (msg.applied, 1234);
    cr_assert_eq (msg.role, ZMR_ROLE_REDUCER);
    cr_assert_eq (msg.partition, 3);
    cr_assert_eq (msg.reducers, 8);
    cr_assert_str_eq (msg.endpoint, "tcp://*:5560");
    cr_assert_str_eq (msg.name, "box:42");
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (msg, welcome_carries_every_reducer_endpoint)
{
    s_buf_t b; s_init (&b);
    const char *eps[] = { "ipc:///tmp/a", "tcp://10.0.0.2:7000", "inproc://r2" };
    zcert_t *cert = zcert_new ();
    const char *keys[] = { "", zcert_public_txt (cert), "" };
    zmr_msg_pack_welcome (&b.pk, 0xfeedfacecafebeefull, 3, "tcp://h:5551", "tcp://h:5552", eps,
                          keys, 4096, 8u << 20, NULL, NULL);
    zmr_msg_t msg = s_roundtrip (&b, ZMR_WELCOME);
    //  No job named: the word count
    zmr_job_t words;
    zmr_job_words (&words);
    cr_assert (msg.job_kind == ZMR_JOB_WORDS && msg.reduce == ZMR_REDUCE_SUM);
    cr_assert_str_eq (msg.digest, words.digest);
    cr_assert_str_eq (msg.label, "words");
    cr_assert_eq (msg.job, 0xfeedfacecafebeefull);
    cr_assert_eq (msg.reducers, 3);
    cr_assert_str_eq (msg.endpoint, "tcp://h:5551");
    cr_assert_str_eq (msg.status, "tcp://h:5552");
    cr_assert_eq (msg.max_word, 4096);
    cr_assert_eq (msg.max_message, 8u << 20);
    char ep[ZMR_ENDPOINT_MAX], key[ZMR_KEY_MAX];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (zmr_msg_next_endpoint (&msg, ep, key), 0);
        cr_assert_str_eq (ep, eps[i]);
        cr_assert_str_eq (key, keys[i]);
    }
    cr_assert_eq (zmr_msg_next_endpoint (&msg, ep, key), -1);
    zcert_destroy (&cert);
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (msg, small_messages_roundtrip)
{
    s_buf_t b; s_init (&b);
    zmr_msg_t msg;
    zmr_msg_pack_chunk (&b.pk, 7, 123456789012ull, 4, 1ull << 40, 2, 65536, NULL,
                        1795000000123ull, ZMR_EVTIME_UNKNOWN);
    msg = s_roundtrip (&b, ZMR_CHUNK);
    cr_assert (msg.job == 7 && msg.chunk == 123456789012ull && msg.input == 4
            && msg.offset == 1ull << 40 && msg.attempt == 2 && msg.length == 65536
            && msg.path_len == 0 && msg.stamp == 1795000000123ull);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_file_ref_t ref = { "/data/corpus one.txt", 2049, 1ull << 35 };
    zmr_msg_pack_chunk (&b.pk, 7, 5, 1, 1000, 0, ZMR_MAX_CHUNK, &ref, 0, ZMR_EVTIME_UNKNOWN);
    msg = s_roundtrip (&b, ZMR_CHUNK);
    cr_assert (msg.chunk == 5 && msg.input == 1 && msg.offset == 1000
            && msg.length == ZMR_MAX_CHUNK && msg.device == 2049 && msg.inode == 1ull << 35);
    cr_assert (msg.path_len == 20 && !memcmp (msg.path, "/data/corpus one.txt", 20),
               "path '%.*s'", (int) msg.path_len, msg.path);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_take (&b.pk, 7, 9);
    msg = s_roundtrip (&b, ZMR_TAKE);
    cr_assert_eq (msg.chunk, 9);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_mapped (&b.pk, 7, 9, 1000, 3, 1ull << 40);
    msg = s_roundtrip (&b, ZMR_MAPPED);
    cr_assert (msg.chunk == 9 && msg.words == 1000 && msg.too_long == 3
            && msg.pair_count == 1ull << 40);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_ack (&b.pk, 7, 5, 9, 77, true);
    msg = s_roundtrip (&b, ZMR_ACK);
    cr_assert (msg.partition == 5 && msg.chunk == 9 && msg.words == 77 && msg.flag);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_counters_t c = { 1, 2, 3, 4, 5, 6 };
    zmr_msg_pack_heartbeat (&b.pk, 7, 1, &c);
    msg = s_roundtrip (&b, ZMR_HEARTBEAT);
    cr_assert (msg.state == 1 && msg.counters.chunks == 1 && msg.counters.words == 2
            && msg.counters.bytes == 3 && msg.counters.duplicates == 4
            && msg.counters.malformed == 5 && msg.counters.distinct == 6);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_bye (&b.pk, 7, &c);
    msg = s_roundtrip (&b, ZMR_BYE);
    cr_assert_eq (msg.counters.distinct, 6);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_flush (&b.pk, 7, "ipc:///tmp/sink", "");
    msg = s_roundtrip (&b, ZMR_FLUSH);
    cr_assert_str_eq (msg.endpoint, "ipc:///tmp/sink");
    cr_assert_str_eq (msg.key, "");
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_stored (&b.pk, 7, 2);
    msg = s_roundtrip (&b, ZMR_STORED);
    cr_assert_eq (msg.partition, 2);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_done (&b.pk, 7, 823359, 33000, 99999);
    msg = s_roundtrip (&b, ZMR_DONE);
    cr_assert (msg.words == 823359 && msg.distinct == 33000 && msg.pair_count == 99999);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_refuse (&b.pk, 7, "map command 'cut -f1' is not allowed here");
    msg = s_roundtrip (&b, ZMR_REFUSE);
    cr_assert_str_eq (msg.reason, "map command 'cut -f1' is not allowed here");
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_failed (&b.pk, 7, 41, "map command exited 3");
    msg = s_roundtrip (&b, ZMR_FAILED);
    cr_assert_eq (msg.chunk, 41);
    cr_assert_str_eq (msg.reason, "map command exited 3");
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_status_t final;
    memset (&final, 0, sizeof final);
    final.job = 7;
    final.words = 99;
    zmr_status_pack_finish (&b.pk, &final, false, "the sink was lost");
    msg = s_roundtrip (&b, ZMR_FINISH);
    cr_assert (!msg.flag);
    cr_assert_str_eq (msg.reason, "the sink was lost");
    const char *why;
    zmr_status_t got;           //  Not final: a field never decoded would pass
    memset (&got, 0, sizeof got);
    cr_assert_eq (zmr_status_decode (&msg, &got, &why), 0);
    cr_assert_eq (got.words, 99);
    zmr_status_reset (&got);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_reason (&b.pk, ZMR_REJECT, 7, true, "partition 9 is served");
    msg = s_roundtrip (&b, ZMR_REJECT);
    cr_assert (msg.flag, "retry");
    cr_assert_str_eq (msg.reason, "partition 9 is served");
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_again (&b.pk, 7);
    msg = s_roundtrip (&b, ZMR_AGAIN);
    cr_assert_eq (msg.job, 7);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_rest (&b.pk, 8);
    msg = s_roundtrip (&b, ZMR_REST);
    cr_assert_eq (msg.job, 8);
    cr_assert_str_eq (zmr_msg_type_name (ZMR_REST), "REST");
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (msg, batch_pairs_come_back_in_order_with_any_bytes)
{
    s_buf_t b; s_init (&b);
    const char *words[] = { "the", "\0nul\xff", "", "caf\xc3\xa9" };
    uint32_t lens[] = { 3, 5, 0, 5 };
    uint64_t counts[] = { 62051, 1, 2, INT64_MAX };
    zmr_msg_begin_batch (&b.pk, 99, 12, 1, 4, 1795000000456ull, NULL, 0, 4);
    for (int i = 0; i < 4; i++)
        zmr_msg_pack_pair (&b.pk, words[i], lens[i], counts[i]);
    zmr_msg_t msg = s_roundtrip (&b, ZMR_BATCH);
    cr_assert (msg.chunk == 12 && msg.partition == 1 && msg.reducers == 4
            && msg.stamp == 1795000000456ull);
    cr_assert_eq (msg.npairs, 4);
    const char *word;
    uint32_t len;
    uint64_t count;
    for (int i = 0; i < 4; i++) {
        cr_assert (zmr_msg_next_pair (&msg, &word, &len, &count));
        cr_assert_eq (len, lens[i]);
        cr_assert (memcmp (word, words[i], len) == 0);
        cr_assert_eq (count, counts[i]);
    }
    cr_assert_not (zmr_msg_next_pair (&msg, &word, &len, &count));
    msgpack_sbuffer_destroy (&b.sbuf);
}

//  The mapper's fast path writes pairs itself: its bytes must be the very
//  bytes msgpack-c packs (the reference), at every boundary of the bin and
//  uint encodings, within ZMR_MSG_PAIR_MAX, and decode back.
Test (msg, put_pair_writes_the_bytes_msgpack_c_packs)
{
    static char word[70000];
    for (size_t i = 0; i < sizeof word; i++)
        word[i] = (char) (i * 7 + 1);
    const uint32_t lens[] = { 0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 255, 256, 65535, 65536,
                              70000 };
    const uint64_t counts[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295ull,
                                4294967296ull, INT64_MAX };
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            s_buf_t ref; s_init (&ref);
            msgpack_pack_bin (&ref.pk, lens[l]);
            msgpack_pack_bin_body (&ref.pk, word, lens[l]);
            msgpack_pack_uint64 (&ref.pk, counts[c]);
            //  The signed packer (zmr_msg_pack_pair's, any job's) packs a
            //  count in the very bytes of the unsigned one: protocol 2's word
            //  count batches are those of protocol 1.
            s_buf_t sig; s_init (&sig);
            msgpack_pack_bin (&sig.pk, lens[l]);
            msgpack_pack_bin_body (&sig.pk, word, lens[l]);
            msgpack_pack_int64 (&sig.pk, (int64_t) counts[c]);
            cr_assert (sig.sbuf.size == ref.sbuf.size
                    && memcmp (sig.sbuf.data, ref.sbuf.data, ref.sbuf.size) == 0);
            msgpack_sbuffer_destroy (&sig.sbuf);
            msgpack_sbuffer ours;
            msgpack_sbuffer_init (&ours);
            cr_assert_eq (zmr_msg_reserve (&ours, ZMR_MSG_PAIR_MAX (lens[l])), 0);
            char *before = ours.data;
            zmr_msg_put_pair (&ours, word, lens[l], counts[c]);
            cr_assert_eq (ours.data, before, "the reserved buffer grew");
            cr_assert_leq (ours.size, ZMR_MSG_PAIR_MAX (lens[l]));
            cr_assert_eq (ours.size, ref.sbuf.size, "length %u count %llu: %zu bytes, not %zu",
                          lens[l], (unsigned long long) counts[c], ours.size, ref.sbuf.size);
            cr_assert (memcmp (ours.data, ref.sbuf.data, ours.size) == 0,
                       "length %u count %llu: other bytes", lens[l],
                       (unsigned long long) counts[c]);
            msgpack_sbuffer_destroy (&ours);
            msgpack_sbuffer_destroy (&ref.sbuf);
        }
    //  And a batch made of them decodes
    s_buf_t b; s_init (&b);
    cr_assert_eq (zmr_msg_reserve (&b.sbuf, ZMR_MSG_HEADER_MAX + 2 * ZMR_MSG_PAIR_MAX (300)), 0);
    zmr_msg_begin_batch (&b.pk, 99, 12, 1, 4, 7, NULL, 0, 2);
    zmr_msg_put_pair (&b.sbuf, word, 300, 70000);
    zmr_msg_put_pair (&b.sbuf, "a", 1, 3);
    zmr_msg_t msg = s_roundtrip (&b, ZMR_BATCH);
    const char *got;
    uint32_t len;
    uint64_t count;
    cr_assert (zmr_msg_next_pair (&msg, &got, &len, &count));
    cr_assert (len == 300 && count == 70000 && memcmp (got, word, 300) == 0);
    cr_assert (zmr_msg_next_pair (&msg, &got, &len, &count));
    cr_assert (len == 1 && count == 3 && got[0] == 'a');
    cr_assert_not (zmr_msg_next_pair (&msg, &got, &len, &count));
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (msg, result_roundtrips_and_checks_its_part_number)
{
    s_buf_t b; s_init (&b);
    zmr_msg_begin_result (&b.pk, 5, 1, 2, 3, 4, 12345, 1);
    zmr_msg_pack_pair (&b.pk, "word", 4, 10);
    zmr_msg_t msg = s_roundtrip (&b, ZMR_RESULT);
    cr_assert (msg.partition == 1 && msg.reducers == 2 && msg.seq == 3 && msg.parts == 4
            && msg.pair_count == 12345);
    msgpack_sbuffer_clear (&b.sbuf);
    zmr_msg_begin_result (&b.pk, 5, 1, 2, 4, 4, 0, 0);
    const char *why;
    cr_assert_eq (s_decode (&b, &msg, &why), -1, "seq == parts must be refused");
    msgpack_sbuffer_destroy (&b.sbuf);
}

//  Decodes raw bytes and expects a refusal.
static void
s_refused (const void *data, size_t len, const char *what)
{
    zmr_msg_t msg;
    const char *why = NULL;
    cr_assert_eq (zmr_msg_decode (data, len, &msg, &why), -1, "accepted %s", what);
    cr_assert_not_null (why, "no reason for %s", what);
    cr_assert_eq (msg.type, 0);
}

Test (msg, refuses_frames_that_are_not_zmr_messages)
{
    s_refused ("", 0, "an empty frame");
    s_refused ("hello", 5, "text");
    //  msgpack array32 declaring 268 million elements in five bytes.
    s_refused ("\xdd\x10\x00\x00\x00", 5, "a huge declared array");
    s_refused ("\xdd\xff\xff\xff\xff", 5, "a 4G declared array");
    s_refused ("\x95\xcd\x5a\x4e\x01\x05\x00", 7, "a wrong signature");
    s_refused ("\x95\xcd\x5a\x4d\x04\x05\x00", 7, "a version from the future");
    s_refused ("\x95\xcd\x5a\x4d\x03\x63\x00", 7, "an unknown type");
    s_refused ("\x95\xcd\x5a\x4d\x03\x05\x00", 7, "a TAKE without its chunk");
    //  A TAKE of protocol 1 (an older zmr): refused, and the reason says so.
    zmr_msg_t msg;
    const char *why = NULL;
    cr_assert_eq (zmr_msg_decode ("\x95\xcd\x5a\x4d\x01\x05\x00\x07", 8, &msg, &why), -1);
    cr_assert (why && strstr (why, "version 1"), "reason '%s'", why? why: "");
    //  And one of protocol 2 (before event time): said so too.
    why = NULL;
    cr_assert_eq (zmr_msg_decode ("\x95\xcd\x5a\x4d\x02\x05\x00\x07", 8, &msg, &why), -1);
    cr_assert (why && strstr (why, "version 2"), "reason '%s'", why? why: "");
}

//  Protocol 3's event-time fields: WELCOME's settings, CHUNK's event_max,
//  BATCH's runs (which must cover the pairs exactly), LIVE's panes flag,
//  CLOSE's span and the window closed before it; each bound refused.
Test (msg, event_time_fields_roundtrip_and_are_bounded)
{
    s_buf_t b; s_init (&b);
    const char *eps[] = { "ipc:///tmp/r0" };
    zmr_event_spec_t spec = { ZMR_EVTIME_CLF, 60000, 10000, 5000 };
    zmr_msg_pack_welcome (&b.pk, 3, 1, "ipc:///tmp/c", "ipc:///tmp/s", eps, NULL, 0,
                          ZMR_MIN_MAX_MESSAGE, NULL, &spec);
    zmr_msg_t msg = s_roundtrip (&b, ZMR_WELCOME);
    cr_assert (msg.event_format == ZMR_EVTIME_CLF && msg.window_ms == 60000
            && msg.every_ms == 10000 && msg.lateness_ms == 5000);
    const zmr_event_spec_t bad[] = {
        { ZMR_EVTIME_CLF, 60000, 7000, 0 },                  //  not a multiple
        { ZMR_EVTIME_CLF, 0, 0, 0 },                         //  no window
        { ZMR_EVTIME_CLF, 7 * 86400000ull + 1, 1, 0 },       //  over a week
        { ZMR_EVTIME_CLF, 1001, 1, 0 },                      //  1001 panes
        { ZMR_EVTIME_CLF, 1000, 1000, 7 * 86400000ull + 1 }, //  lateness
        { 9, 1000, 1000, 0 },                                //  no such format
        { ZMR_EVTIME_NONE, 1000, 1000, 0 },                  //  settings, no format
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgpack_sbuffer_clear (&b.sbuf);
        zmr_msg_pack_welcome (&b.pk, 3, 1, "ipc:///tmp/c", "ipc:///tmp/s", eps, NULL, 0,
                              ZMR_MIN_MAX_MESSAGE, NULL, &bad[i]);
        const char *why = NULL;
        cr_assert_eq (s_decode (&b, &msg, &why), -1, "event spec %zu accepted", i);
    }
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_chunk (&b.pk, 7, 5, 0, 0, 0, 10, NULL, 1, 1795000000000ull);
    msg = s_roundtrip (&b, ZMR_CHUNK);
    cr_assert_eq (msg.event_max, 1795000000000ull);
    msgpack_sbuffer_clear (&b.sbuf);
    zmr_msg_pack_chunk (&b.pk, 7, 5, 0, 0, 0, 10, NULL, 1, ZMR_EVTIME_MAX + 1);
    const char *why = NULL;
    cr_assert_eq (s_decode (&b, &msg, &why), -1, "an event time past 9999 accepted");
    msgpack_sbuffer_clear (&b.sbuf);

    //  Runs: 2 words of a pane, 1 of side records' words, 1 side record
    zmr_run_t runs[] = { { ZMR_RUN_PANE, 1795000010000ull, 2 }, { ZMR_RUN_TOTALS, 0, 1 },
                         { ZMR_RUN_SIDE, 0, 1 } };
    zmr_msg_begin_batch (&b.pk, 3, 8, 0, 1, 0, runs, 3, 4);
    for (int i = 0; i < 4; i++)
        zmr_msg_pack_pair (&b.pk, "abcd" + i, 1, 1);
    msg = s_roundtrip (&b, ZMR_BATCH);
    zmr_run_t run;
    for (int i = 0; i < 3; i++) {
        cr_assert (zmr_msg_next_run (&msg, &run));
        cr_assert (run.kind == runs[i].kind && run.pane == runs[i].pane && run.n == runs[i].n,
                   "run %d", i);
    }
    cr_assert_not (zmr_msg_next_run (&msg, &run));
    cr_assert_eq (msg.npairs, 4);
    //  Runs that do not cover the pairs, an unknown kind, an empty run, a
    //  pane on a side run: refused before any pair is used.
    const zmr_run_t wrong[][2] = {
        { { ZMR_RUN_PANE, 0, 1 }, { ZMR_RUN_SIDE, 0, 2 } },
        { { 3, 0, 2 }, { ZMR_RUN_SIDE, 0, 2 } },
        { { ZMR_RUN_PANE, 0, 0 }, { ZMR_RUN_SIDE, 0, 4 } },
        { { ZMR_RUN_PANE, 0, 2 }, { ZMR_RUN_SIDE, 5, 2 } },
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        msgpack_sbuffer_clear (&b.sbuf);
        zmr_msg_begin_batch (&b.pk, 3, 8, 0, 1, 0, wrong[i], 2, 4);
        for (int k = 0; k < 4; k++)
            zmr_msg_pack_pair (&b.pk, "abcd" + k, 1, 1);
        cr_assert_eq (s_decode (&b, &msg, &why), -1, "runs %zu accepted", i);
    }
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_live (&b.pk, 3, "ipc:///tmp/sink", 0, 0, "", true);
    msg = s_roundtrip (&b, ZMR_LIVE);
    cr_assert (msg.flag && msg.window_ms == 0 && msg.interval == 0);
    msgpack_sbuffer_clear (&b.sbuf);
    zmr_msg_pack_live (&b.pk, 3, "ipc:///tmp/sink", 0, 1000, "", true);
    cr_assert_eq (s_decode (&b, &msg, &why), -1, "windows of both times accepted");
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_close (&b.pk, 3, ZMR_WINDOW_END, 60000, 1795000000001ull);
    msg = s_roundtrip (&b, ZMR_CLOSE);
    cr_assert (msg.window == ZMR_WINDOW_END && msg.span == 60000
            && msg.prev_1 == 1795000000001ull);
    msgpack_sbuffer_clear (&b.sbuf);
    zmr_msg_pack_close (&b.pk, 3, 1795000000000ull, 60000, 1795000000001ull);
    cr_assert_eq (s_decode (&b, &msg, &why), -1, "a CLOSE at the window closed before accepted");
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (msg, refuses_every_truncation_and_trailing_bytes)
{
    s_buf_t b; s_init (&b);
    zmr_msg_begin_batch (&b.pk, 1, 2, 0, 1, 0, NULL, 0, 2);
    zmr_msg_pack_pair (&b.pk, "alpha", 5, 3);
    zmr_msg_pack_pair (&b.pk, "beta", 4, 4);
    for (size_t cut = 0; cut < b.sbuf.size; cut++)
        s_refused (b.sbuf.data, cut, "a truncated BATCH");
    char *longer = malloc (b.sbuf.size + 1);
    memcpy (longer, b.sbuf.data, b.sbuf.size);
    longer[b.sbuf.size] = 0;
    s_refused (longer, b.sbuf.size + 1, "a BATCH with a trailing byte");
    free (longer);
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (msg, refuses_a_batch_with_a_bad_pair_anywhere)
{
    s_buf_t b; s_init (&b);
    //  The last pair's value is beyond 64 signed bits: the whole batch is
    //  refused, not applied up to the bad pair.
    zmr_msg_begin_batch (&b.pk, 1, 2, 0, 1, 0, NULL, 0, 2);
    zmr_msg_pack_pair (&b.pk, "alpha", 5, 3);
    msgpack_pack_bin (&b.pk, 4);
    msgpack_pack_bin_body (&b.pk, "beta", 4);
    msgpack_pack_uint64 (&b.pk, (uint64_t) INT64_MAX + 1);
    s_refused (b.sbuf.data, b.sbuf.size, "a value of 2^63");
    msgpack_sbuffer_clear (&b.sbuf);
    //  A word as str instead of bin.
    zmr_msg_begin (&b.pk, ZMR_BATCH, 1, 4);
    msgpack_pack_uint64 (&b.pk, 2);
    msgpack_pack_uint32 (&b.pk, 0);
    msgpack_pack_uint32 (&b.pk, 1);
    msgpack_pack_array (&b.pk, 2);
    msgpack_pack_str (&b.pk, 1);
    msgpack_pack_str_body (&b.pk, "x", 1);
    msgpack_pack_uint8 (&b.pk, 1);
    s_refused (b.sbuf.data, b.sbuf.size, "a word that is a str");
    msgpack_sbuffer_clear (&b.sbuf);
    //  Partition beyond R.
    zmr_msg_begin_batch (&b.pk, 1, 2, 4, 4, 0, NULL, 0, 0);
    s_refused (b.sbuf.data, b.sbuf.size, "partition 4 of 4");
    msgpack_sbuffer_clear (&b.sbuf);
    //  A negative count.
    zmr_msg_begin (&b.pk, ZMR_BATCH, 1, 4);
    msgpack_pack_uint64 (&b.pk, 2);
    msgpack_pack_uint32 (&b.pk, 0);
    msgpack_pack_uint32 (&b.pk, 1);
    msgpack_pack_array (&b.pk, 2);
    msgpack_pack_bin (&b.pk, 1);
    msgpack_pack_bin_body (&b.pk, "x", 1);
    msgpack_pack_double (&b.pk, 1.0);
    s_refused (b.sbuf.data, b.sbuf.size, "a value that is a float");
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (msg, refuses_a_welcome_whose_endpoints_do_not_match_its_count)
{
    s_buf_t b; s_init (&b);
    zmr_msg_begin (&b.pk, ZMR_WELCOME, 1, 4);
    msgpack_pack_uint32 (&b.pk, 3);
    msgpack_pack_str (&b.pk, 1); msgpack_pack_str_body (&b.pk, "a", 1);
    msgpack_pack_str (&b.pk, 1); msgpack_pack_str_body (&b.pk, "b", 1);
    msgpack_pack_array (&b.pk, 2);
    msgpack_pack_str (&b.pk, 1); msgpack_pack_str_body (&b.pk, "c", 1);
    msgpack_pack_str (&b.pk, 1); msgpack_pack_str_body (&b.pk, "d", 1);
    s_refused (b.sbuf.data, b.sbuf.size, "3 reducers with 2 endpoints");
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (msg, refuses_strings_that_do_not_fit_or_hold_nul)
{
    s_buf_t b; s_init (&b);
    char name[ZMR_NAME_MAX + 1];
    memset (name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    zmr_msg_pack_hello (&b.pk, 0, ZMR_ROLE_MAPPER, 0, 0, "", name, 0, "");
    s_refused (b.sbuf.data, b.sbuf.size, "a name longer than its field");
    msgpack_sbuffer_clear (&b.sbuf);
    zmr_msg_begin (&b.pk, ZMR_FLUSH, 1, 2);
    msgpack_pack_str (&b.pk, 3);
    msgpack_pack_str_body (&b.pk, "a\0b", 3);
    msgpack_pack_str (&b.pk, 0);
    s_refused (b.sbuf.data, b.sbuf.size, "an endpoint with a NUL byte");
    //  A key is 40 characters of Z85, or nothing.
    static const char *bad_keys[] = {
        "short", "0123456789012345678901234567890123456789x",
        "0123456789012345678901234567890123456 \"~"
    };
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        msgpack_sbuffer_clear (&b.sbuf);
        zmr_msg_pack_flush (&b.pk, 1, "ipc:///tmp/sink", bad_keys[i]);
        s_refused (b.sbuf.data, b.sbuf.size, bad_keys[i]);
    }
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (mpr, skip_bounds_nesting_and_counts)
{
    //  32 nested arrays of one element each.
    char deep[40];
    memset (deep, 0x91, 32);
    deep[32] = 0x01;
    zmr_mpr_t r;
    zmr_mpr_init (&r, deep, 33);
    cr_assert_eq (zmr_mpr_skip (&r, 8), -1);
    cr_assert_str_eq (zmr_mpr_error (&r), "nested too deep");
    zmr_mpr_init (&r, deep, 33);
    cr_assert_eq (zmr_mpr_skip (&r, 40), 0);
    cr_assert_eq (zmr_mpr_finish (&r), 0);
    //  A map declaring more pairs than bytes left.
    zmr_mpr_init (&r, "\xdf\x00\x01\x00\x00\x01\x02", 7);
    uint32_t n;
    cr_assert_eq (zmr_mpr_map (&r, &n), -1);
    //  A bin declaring more bytes than the frame has.
    zmr_mpr_init (&r, "\xc6\x7f\xff\xff\xff" "abc", 8);
    const char *data;
    cr_assert_eq (zmr_mpr_bin (&r, &data, &n), -1);
    cr_assert_str_eq (zmr_mpr_error (&r), "length beyond frame");
    //  The first failure sticks.
    uint64_t v;
    cr_assert_eq (zmr_mpr_uint (&r, &v), -1);
    cr_assert_str_eq (zmr_mpr_error (&r), "length beyond frame");
}

Test (mpr, reads_every_unsigned_encoding_and_refuses_negatives)
{
    const struct { const char *bytes; size_t len; uint64_t value; } ok[] = {
        { "\x7f", 1, 127 }, { "\xcc\xff", 2, 255 }, { "\xcd\x01\x00", 3, 256 },
        { "\xce\x00\x01\x00\x00", 5, 65536 },
        { "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, UINT64_MAX },
        { "\xd0\x05", 2, 5 }, { "\xd3\x00\x00\x00\x00\x00\x00\x00\x09", 9, 9 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        zmr_mpr_t r;
        uint64_t v;
        zmr_mpr_init (&r, ok[i].bytes, ok[i].len);
        cr_assert_eq (zmr_mpr_uint (&r, &v), 0, "case %zu", i);
        cr_assert_eq (v, ok[i].value, "case %zu", i);
        cr_assert_eq (zmr_mpr_finish (&r), 0);
    }
    zmr_mpr_t r;
    uint64_t v;
    zmr_mpr_init (&r, "\xff", 1);
    cr_assert_eq (zmr_mpr_uint (&r, &v), -1, "negative fixint");
    zmr_mpr_init (&r, "\xd0\x80", 2);
    cr_assert_eq (zmr_mpr_uint (&r, &v), -1, "int8 -128");
    zmr_mpr_init (&r, "\xcb\x00\x00\x00\x00\x00\x00\x00\x00", 9);
    cr_assert_eq (zmr_mpr_uint (&r, &v), -1, "a float is not a count");
}

Test (msg, random_bytes_never_crash_the_decoder)
{
    //  Deterministic garbage, and garbage behind a valid header prefix.
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned char frame[256];
    zmr_msg_t msg;
    const char *why;
    int accepted = 0;
    for (int round = 0; round < 200000; round++) {
        size_t len = (size_t) (round % 256);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            frame[i] = (unsigned char) x;
        }
        if (round & 1 && len >= 6)
            memcpy (frame, "\x95\xcd\x5a\x4d\x01", 5);
        if (zmr_msg_decode (frame, len, &msg, &why) == 0)
            accepted++;
    }
    //  Random bytes almost never form a whole valid message.
    cr_assert_lt (accepted, 100);
}

Test (msg, refuses_a_chunk_of_no_bytes_too_many_or_a_relative_path)
{
    s_buf_t b; s_init (&b);
    zmr_msg_t msg;
    const char *why = NULL;
    zmr_msg_pack_chunk (&b.pk, 7, 5, 0, 0, 0, 0, NULL, 0, ZMR_EVTIME_UNKNOWN);
    cr_assert_eq (s_decode (&b, &msg, &why), -1, "accepted a chunk of 0 bytes");
    msgpack_sbuffer_clear (&b.sbuf);
    zmr_msg_pack_chunk (&b.pk, 7, 5, 0, 0, 0, ZMR_MAX_CHUNK + 1ull, NULL, 0, ZMR_EVTIME_UNKNOWN);
    cr_assert_eq (s_decode (&b, &msg, &why), -1, "accepted a chunk over the maximum");
    msgpack_sbuffer_clear (&b.sbuf);
    zmr_file_ref_t ref = { "relative/path", 1, 2 };
    zmr_msg_pack_chunk (&b.pk, 7, 5, 0, 0, 0, 10, &ref, 0, ZMR_EVTIME_UNKNOWN);
    cr_assert_eq (s_decode (&b, &msg, &why), -1, "accepted a relative path");
    cr_assert_not_null (strstr (why, "absolute"), "%s", why);
    msgpack_sbuffer_destroy (&b.sbuf);
}

//  The running totals' messages: LIVE, UPDATE (chunks with their stamps,
//  then words with their totals), TOTALS and LIVESTAT, and their bounds.
Test (msg, live_messages_roundtrip_and_are_bounded)
{
    s_buf_t b; s_init (&b);
    zcert_t *cert = zcert_new ();
    zmr_msg_pack_live (&b.pk, 3, "ipc:///tmp/sink", 25, 10000, zcert_public_txt (cert), false);
    zmr_msg_t msg = s_roundtrip (&b, ZMR_LIVE);
    cr_assert_str_eq (msg.endpoint, "ipc:///tmp/sink");
    cr_assert_str_eq (msg.key, zcert_public_txt (cert));
    zcert_destroy (&cert);
    cr_assert_eq (msg.interval, 25);
    cr_assert_eq (msg.window_ms, 10000);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_live (&b.pk, 3, "ipc:///tmp/sink", 0, 0, "", false);
    const char *why = NULL;
    cr_assert_eq (zmr_msg_decode (b.sbuf.data, b.sbuf.size, &msg, &why), -1,
                  "a LIVE asking for nothing was accepted");
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_close (&b.pk, 3, 179500000, 0, 0);
    msg = s_roundtrip (&b, ZMR_CLOSE);
    cr_assert_eq (msg.window, 179500000);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_fail (&b.pk, 3, "partition 1 holds more than 100 distinct words");
    msg = s_roundtrip (&b, ZMR_FAIL);
    cr_assert_str_eq (msg.reason, "partition 1 holds more than 100 distinct words");
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_pack_wstored (&b.pk, 3, 179500000, 4242);
    msg = s_roundtrip (&b, ZMR_WSTORED);
    cr_assert (msg.window == 179500000 && msg.words == 4242);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_begin_window (&b.pk, 3, 1, 2, 179500000, 0, 2, 1);
    zmr_msg_pack_pair (&b.pk, "sea", 3, 9);
    msg = s_roundtrip (&b, ZMR_WINDOW);
    cr_assert (msg.partition == 1 && msg.reducers == 2 && msg.window == 179500000
            && msg.seq == 0 && msg.parts == 2 && msg.npairs == 1);
    msgpack_sbuffer_clear (&b.sbuf);
    zmr_msg_begin_window (&b.pk, 3, 1, 2, 179500000, 2, 2, 0);
    cr_assert_eq (zmr_msg_decode (b.sbuf.data, b.sbuf.size, &msg, &why), -1,
                  "a window part beyond its parts was accepted");
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_begin_update (&b.pk, 3, 1, 2, 2);
    msgpack_pack_uint64 (&b.pk, 40); msgpack_pack_uint64 (&b.pk, 1795000000001ull);
    msgpack_pack_uint64 (&b.pk, 41); msgpack_pack_uint64 (&b.pk, 1795000000002ull);
    zmr_msg_begin_pairs (&b.pk, 1);
    zmr_msg_pack_pair (&b.pk, "whale", 5, 1234);
    msg = s_roundtrip (&b, ZMR_UPDATE);
    cr_assert (msg.partition == 1 && msg.reducers == 2 && msg.nchunks == 2 && msg.npairs == 1);
    uint64_t chunk, stamp;
    cr_assert (zmr_msg_next_chunk (&msg, &chunk, &stamp));
    cr_assert (chunk == 40 && stamp == 1795000000001ull);
    cr_assert (zmr_msg_next_chunk (&msg, &chunk, &stamp));
    cr_assert (chunk == 41 && stamp == 1795000000002ull);
    cr_assert_not (zmr_msg_next_chunk (&msg, &chunk, &stamp));
    const char *word;
    uint32_t len;
    uint64_t count;
    cr_assert (zmr_msg_next_pair (&msg, &word, &len, &count));
    cr_assert (len == 5 && !memcmp (word, "whale", 5) && count == 1234);
    msgpack_sbuffer_clear (&b.sbuf);

    //  A partition beyond R, and a chunk list of odd length, are refused.
    zmr_msg_begin_update (&b.pk, 3, 2, 2, 0);
    zmr_msg_begin_pairs (&b.pk, 0);
    cr_assert_eq (zmr_msg_decode (b.sbuf.data, b.sbuf.size, &msg, &why), -1);
    msgpack_sbuffer_clear (&b.sbuf);
    zmr_msg_begin (&b.pk, ZMR_UPDATE, 3, 4);
    msgpack_pack_uint32 (&b.pk, 0);
    msgpack_pack_uint32 (&b.pk, 1);
    msgpack_pack_array (&b.pk, 3);
    for (int i = 0; i < 3; i++)
        msgpack_pack_uint64 (&b.pk, 1);
    zmr_msg_begin_pairs (&b.pk, 0);
    cr_assert_eq (zmr_msg_decode (b.sbuf.data, b.sbuf.size, &msg, &why), -1);
    cr_assert_str_eq (why, "bad chunk list");
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_begin_totals (&b.pk, 3, true, 17, 1);
    zmr_msg_pack_pair (&b.pk, "the", 3, 62051);
    msg = s_roundtrip (&b, ZMR_TOTALS);
    cr_assert (msg.flag && msg.window == 17);
    cr_assert (zmr_msg_next_pair (&msg, &word, &len, &count));
    cr_assert (len == 3 && count == 62051);
    msgpack_sbuffer_clear (&b.sbuf);

    zmr_msg_begin_livestat (&b.pk, 3, 12, 48, 900, 1);
    zmr_msg_pack_pair (&b.pk, "the", 3, 62051);
    msg = s_roundtrip (&b, ZMR_LIVESTAT);
    cr_assert (msg.p50 == 12 && msg.p99 == 48 && msg.samples == 900 && msg.npairs == 1);
    msgpack_sbuffer_clear (&b.sbuf);

    //  A top list longer than ZMR_TOP_MAX is refused.
    zmr_msg_begin (&b.pk, ZMR_LIVESTAT, 3, 4);
    for (int i = 0; i < 3; i++)
        msgpack_pack_uint64 (&b.pk, 1);
    zmr_msg_begin_pairs (&b.pk, ZMR_TOP_MAX + 1);
    for (int i = 0; i <= ZMR_TOP_MAX; i++)
        zmr_msg_pack_pair (&b.pk, "w", 1, 1);
    cr_assert_eq (zmr_msg_decode (b.sbuf.data, b.sbuf.size, &msg, &why), -1);
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (msg, a_job_and_signed_values_roundtrip)
{
    s_buf_t b; s_init (&b);
    zmr_job_t job;
    memset (&job, 0, sizeof job);
    job.kind = ZMR_JOB_COMMAND;
    job.reduce = ZMR_REDUCE_MAX;
    memset (job.digest, 'a', ZMR_DIGEST_HEX - 1);
    job.digest[3] = '7';
    snprintf (job.label, sizeof job.label, "awk '{print $1}'");
    const char *eps[] = { "ipc:///tmp/a" };
    zmr_msg_pack_welcome (&b.pk, 3, 1, "ipc:///tmp/c", "ipc:///tmp/s", eps, NULL, 0,
                          8u << 20, &job, NULL);
    zmr_msg_t msg = s_roundtrip (&b, ZMR_WELCOME);
    cr_assert (msg.job_kind == ZMR_JOB_COMMAND && msg.reduce == ZMR_REDUCE_MAX);
    cr_assert_str_eq (msg.digest, job.digest);
    cr_assert_str_eq (msg.label, "awk '{print $1}'");
    msgpack_sbuffer_clear (&b.sbuf);

    //  A digest that is not 64 lower-case hex digits is refused.
    job.digest[0] = 'A';
    zmr_msg_pack_welcome (&b.pk, 3, 1, "ipc:///tmp/c", "ipc:///tmp/s", eps, NULL, 0,
                          8u << 20, &job, NULL);
    s_refused (b.sbuf.data, b.sbuf.size, "an upper-case digest");
    msgpack_sbuffer_clear (&b.sbuf);
    job.digest[0] = 'a';
    job.reduce = 3;
    zmr_msg_pack_welcome (&b.pk, 3, 1, "ipc:///tmp/c", "ipc:///tmp/s", eps, NULL, 0,
                          8u << 20, &job, NULL);
    s_refused (b.sbuf.data, b.sbuf.size, "an unknown reduce");
    msgpack_sbuffer_clear (&b.sbuf);

    const int64_t values[] = { INT64_MIN, -4294967297ll, -32769, -129, -33, -32, -1, 0, 1,
                               INT64_MAX };
    size_t n = sizeof values / sizeof values[0];
    zmr_msg_begin_batch (&b.pk, 3, 8, 0, 1, 0, NULL, 0, (uint32_t) n);
    for (size_t i = 0; i < n; i++)
        zmr_msg_pack_pair (&b.pk, "k", 1, (uint64_t) values[i]);
    msg = s_roundtrip (&b, ZMR_BATCH);
    const char *key;
    uint32_t len;
    uint64_t value;
    for (size_t i = 0; i < n; i++) {
        cr_assert (zmr_msg_next_pair (&msg, &key, &len, &value));
        cr_assert_eq ((int64_t) value, values[i], "pair %zu: %lld", i, (long long) value);
    }
    cr_assert_not (zmr_msg_next_pair (&msg, &key, &len, &value));
    msgpack_sbuffer_destroy (&b.sbuf);
}
