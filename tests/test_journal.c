/*  test_journal: what the journal of format version 2 (issue 16 part 2)
    adds: the job's definition in its header (a journal is resumed only by
    the same job), each completed chunk's pairs (the end check of every job
    after a restart), and a clear refusal of a journal of version 1; what
    version 3 adds (issue 17 item 3): the event time in the header (resumed
    only with the same), M, the side counts and the open panes in a summary,
    the END window; and a version 2 journal still read, as ingest time. */
#include <criterion/criterion.h>
#include "zmr.h"
#include <fcntl.h>
#include <unistd.h>

//  A fresh temp path (the file made and removed: the journal creates it).
static void
s_path (char *path, size_t size)
{
    snprintf (path, size, "/tmp/zmr-journal-test-XXXXXX");
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    close (fd);
    unlink (path);
}

static zmr_journal_header_t
s_header (int kind, int reduce, const char *digest, const char *label)
{
    zmr_journal_header_t header = { .job = 7, .reducers = 2, .chunk_size = 1024,
                                    .input_bytes = 4096, .inputs = 1,
                                    .job_kind = (uint32_t) kind,
                                    .reduce = (uint32_t) reduce };
    snprintf (header.digest, sizeof header.digest, "%s", digest);
    snprintf (header.label, sizeof header.label, "%s", label);
    return header;
}

#define S_DIGEST_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define S_DIGEST_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

Test (journal, keeps_each_completed_chunks_pairs_and_words_across_a_restart)
{
    char path[64];
    s_path (path, sizeof path);
    zmr_journal_header_t header = s_header (ZMR_JOB_COMMAND, ZMR_REDUCE_MAX, S_DIGEST_A,
                                            "awk '{print $1}'");
    char err[512];
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert_eq (zmr_journal_done (journal, 5, 100, 7, 41), 0);
    cr_assert_eq (zmr_journal_done (journal, 6, 50, 0, 1ull << 40), 0);
    //  Done twice (a restart between): the last record wins
    cr_assert_eq (zmr_journal_done (journal, 5, 100, 7, 42), 0);
    zmr_journal_destroy (&journal);
    header.job = 0;
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert_eq (header.job, 7);
    uint64_t words = 0, pairs = 0;
    uint32_t too_long = 0;
    cr_assert (zmr_journal_was_done (journal, 5, &words, &too_long, &pairs));
    cr_assert (words == 100 && too_long == 7 && pairs == 42, "%llu %u %llu",
               (unsigned long long) words, too_long, (unsigned long long) pairs);
    cr_assert (zmr_journal_was_done (journal, 6, &words, &too_long, &pairs));
    cr_assert (words == 50 && too_long == 0 && pairs == 1ull << 40);
    cr_assert_eq (zmr_journal_loaded (journal), 2);
    zmr_journal_destroy (&journal);
    unlink (path);
}

Test (journal, a_summary_written_anew_keeps_its_pairs)
{
    char path[64];
    s_path (path, sizeof path);
    zmr_journal_header_t header = s_header (ZMR_JOB_WORDS, ZMR_REDUCE_SUM, S_DIGEST_A, "words");
    char err[512];
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    zmr_journal_summary_t summary = { .chunks = 3, .words = 30, .bytes = 300,
                                      .input = 0, .offset = 300, .pairs = 21 };
    cr_assert_eq (zmr_journal_rewrite_begin (journal, &summary), 0);
    cr_assert_eq (zmr_journal_rewrite_end (journal, true), 0);
    zmr_journal_destroy (&journal);
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert_eq (zmr_journal_summary (journal)->pairs, 21);
    cr_assert_eq (zmr_journal_summary (journal)->words, 30);
    zmr_journal_destroy (&journal);
    unlink (path);
}

//  "a restart with another job definition on the same journal fails
//  clearly (naming both)"
Test (journal, another_job_definition_is_refused_naming_both)
{
    char path[64];
    s_path (path, sizeof path);
    zmr_journal_header_t header = s_header (ZMR_JOB_COMMAND, ZMR_REDUCE_SUM, S_DIGEST_A,
                                            "cut -f1");
    char err[512];
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    zmr_journal_destroy (&journal);
    //  Another command
    zmr_journal_header_t other = s_header (ZMR_JOB_COMMAND, ZMR_REDUCE_SUM, S_DIGEST_B,
                                           "cut -f2");
    cr_assert_null (zmr_journal_open (path, &other, err, sizeof err));
    cr_assert (strstr (err, "'cut -f1'") && strstr (err, "'cut -f2'"), "%s", err);
    cr_assert (strstr (err, path), "%s", err);
    //  The same command, another reduce
    other = s_header (ZMR_JOB_COMMAND, ZMR_REDUCE_MIN, S_DIGEST_A, "cut -f1");
    cr_assert_null (zmr_journal_open (path, &other, err, sizeof err));
    cr_assert (strstr (err, "reduce sum") && strstr (err, "reduce min"), "%s", err);
    //  The word count
    other = s_header (ZMR_JOB_WORDS, ZMR_REDUCE_SUM, S_DIGEST_B, "words");
    cr_assert_null (zmr_journal_open (path, &other, err, sizeof err));
    cr_assert (strstr (err, "(command") && strstr (err, "(words"), "%s", err);
    //  The same job still opens
    header.job = 0;
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    zmr_journal_destroy (&journal);
    unlink (path);
}

//  "an old journal is refused with a clear line"
Test (journal, a_journal_of_version_1_is_refused_saying_so)
{
    char path[64];
    s_path (path, sizeof path);
    int fd = open (path, O_RDWR | O_CREAT, 0600);
    cr_assert (fd >= 0);
    //  The header record of version 1: [0x5A4A, 1, job, R, chunk_size,
    //  input_bytes, inputs], then a done record [chunk, words]
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 7);
    msgpack_pack_uint16 (&pk, 0x5A4A);
    msgpack_pack_uint8 (&pk, 1);
    msgpack_pack_uint64 (&pk, 7);
    msgpack_pack_uint32 (&pk, 2);
    msgpack_pack_uint64 (&pk, 1024);
    msgpack_pack_uint64 (&pk, 4096);
    msgpack_pack_uint32 (&pk, 1);
    cr_assert_eq (zmr_records_append (fd, sbuf.data, sbuf.size), 0);
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_uint64 (&pk, 10);
    cr_assert_eq (zmr_records_append (fd, sbuf.data, sbuf.size), 0);
    msgpack_sbuffer_destroy (&sbuf);
    close (fd);
    zmr_journal_header_t header = s_header (ZMR_JOB_WORDS, ZMR_REDUCE_SUM, S_DIGEST_A, "words");
    char err[512];
    cr_assert_null (zmr_journal_open (path, &header, err, sizeof err));
    cr_assert (strstr (err, "format version 1") && strstr (err, path), "%s", err);
    cr_assert_null (strstr (err, "corrupt"), "%s", err);
    unlink (path);
}

static zmr_journal_header_t
s_event_header (int format, uint64_t window, uint64_t every, uint64_t lateness)
{
    zmr_journal_header_t header = s_header (ZMR_JOB_WORDS, ZMR_REDUCE_SUM, S_DIGEST_A, "words");
    header.event_format = (uint32_t) format;
    header.window_ms = window;
    header.every_ms = every;
    header.lateness_ms = lateness;
    return header;
}

//  What a ventilator started again needs of an event-time job written anew:
//  M where the rest starts, the late and untimed lines summed up, the panes
//  not closed, the windows written and the END.
Test (journal, an_event_time_summary_keeps_m_the_side_counts_and_the_open_panes)
{
    char path[64];
    s_path (path, sizeof path);
    zmr_journal_header_t header = s_event_header (ZMR_EVTIME_CLF, 10000, 5000, 2000);
    char err[512];
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert_eq (zmr_journal_window_stored (journal, 1796000000000, 1), 0);
    static const uint64_t panes[] = { 1796000005000, 1796000010000, 1796000030000 };
    zmr_journal_summary_t summary = { .chunks = 4, .words = 40, .bytes = 400, .input = 0,
                                      .offset = 400, .pairs = 44,
                                      .event_max = 1796000031234, .late = 3, .untimed = 5,
                                      .panes = panes, .npanes = 3 };
    cr_assert_eq (zmr_journal_rewrite_begin (journal, &summary), 0);
    zmr_journal_cut_t cut = { 0, 400, 100 };
    cr_assert_eq (zmr_journal_cut_stamped (journal, 4, &cut, 1796000099000), 0);
    cr_assert_eq (zmr_journal_rewrite_end (journal, true), 0);
    cr_assert_not (zmr_journal_end_stored (journal));
    cr_assert_eq (zmr_journal_window_stored (journal, ZMR_WINDOW_END, 2), 0);
    cr_assert (zmr_journal_end_stored (journal));
    zmr_journal_destroy (&journal);

    header.job = 0;
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    const zmr_journal_summary_t *s = zmr_journal_summary (journal);
    cr_assert (s->chunks == 4 && s->words == 40 && s->pairs == 44 && s->offset == 400);
    cr_assert_eq (s->event_max, 1796000031234);
    cr_assert (s->late == 3 && s->untimed == 5, "%llu %llu", (unsigned long long) s->late,
               (unsigned long long) s->untimed);
    cr_assert_eq (s->npanes, 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq (s->panes[i], panes[i]);
    //  The END is not a window: the count and the last window stay
    uint64_t closed = 0;
    cr_assert_eq (zmr_journal_windows_stored (journal, &closed), 1796000000000 + 1);
    cr_assert_eq (closed, 1);
    cr_assert (zmr_journal_end_stored (journal));
    //  Written anew again, the END goes on with it
    summary.chunks = 5;
    summary.npanes = 0;
    cr_assert_eq (zmr_journal_rewrite_begin (journal, &summary), 0);
    cr_assert_eq (zmr_journal_rewrite_end (journal, true), 0);
    zmr_journal_destroy (&journal);
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert (zmr_journal_end_stored (journal));
    cr_assert_eq (zmr_journal_summary (journal)->npanes, 0);
    cr_assert_eq (zmr_journal_windows_stored (journal, &closed), 1796000000000 + 1);
    zmr_journal_destroy (&journal);
    unlink (path);
}

//  A restart with other event settings would put lines in other windows
//  than those written: refused, naming both.
Test (journal, other_event_time_settings_are_refused_naming_both)
{
    char path[64];
    s_path (path, sizeof path);
    zmr_journal_header_t header = s_event_header (ZMR_EVTIME_CLF, 10000, 5000, 2000);
    char err[512];
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    zmr_journal_destroy (&journal);
    zmr_journal_header_t other[] = {
        s_event_header (ZMR_EVTIME_EPOCH, 10000, 5000, 2000),
        s_event_header (ZMR_EVTIME_CLF, 20000, 5000, 2000),
        s_event_header (ZMR_EVTIME_CLF, 10000, 10000, 2000),
        s_event_header (ZMR_EVTIME_CLF, 10000, 5000, 0),
        s_event_header (0, 0, 0, 0),
    };
    const char *names[] = { "event time epoch", "window 20000 ms", "every 10000 ms",
                            "lateness 0 ms", "not ingest time" };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        cr_assert_null (zmr_journal_open (path, &other[i], err, sizeof err), "case %zu", i);
        cr_assert (strstr (err, "event time clf, window 10000 ms, every 5000 ms, lateness "
                                "2000 ms") && strstr (err, path), "%s", err);
        cr_assert (strstr (err, names[i]) || (i == 4 && strstr (err, "ingest time")),
                   "%s", err);
    }
    header.job = 0;
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    zmr_journal_destroy (&journal);
    unlink (path);
}

//  A journal of version 2 (before event time) is resumed as ingest time,
//  summary and all; an event-time job on it is refused, saying why.
Test (journal, a_journal_of_version_2_is_read_as_ingest_time)
{
    char path[64];
    s_path (path, sizeof path);
    int fd = open (path, O_RDWR | O_CREAT, 0600);
    cr_assert (fd >= 0);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    //  [0x5A4A, 2, job, R, chunk_size, input_bytes, inputs, kind, reduce,
    //  digest, label]
    msgpack_pack_array (&pk, 11);
    msgpack_pack_uint16 (&pk, 0x5A4A);
    msgpack_pack_uint8 (&pk, 2);
    msgpack_pack_uint64 (&pk, 7);
    msgpack_pack_uint32 (&pk, 2);
    msgpack_pack_uint64 (&pk, 1024);
    msgpack_pack_uint64 (&pk, 4096);
    msgpack_pack_uint32 (&pk, 1);
    msgpack_pack_uint32 (&pk, ZMR_JOB_WORDS);
    msgpack_pack_uint32 (&pk, ZMR_REDUCE_SUM);
    msgpack_pack_str (&pk, strlen (S_DIGEST_A));
    msgpack_pack_str_body (&pk, S_DIGEST_A, strlen (S_DIGEST_A));
    msgpack_pack_str (&pk, 5);
    msgpack_pack_str_body (&pk, "words", 5);
    cr_assert_eq (zmr_records_append (fd, sbuf.data, sbuf.size), 0);
    msgpack_sbuffer_clear (&sbuf);
    //  A summary of version 2: [chunks, words, too_long, bytes, input,
    //  offset, pairs]
    msgpack_pack_array (&pk, 7);
    uint64_t summary[] = { 2, 20, 0, 200, 0, 200, 22 };
    for (size_t i = 0; i < 7; i++)
        msgpack_pack_uint64 (&pk, summary[i]);
    cr_assert_eq (zmr_records_append (fd, sbuf.data, sbuf.size), 0);
    msgpack_sbuffer_clear (&sbuf);
    //  A cut and a done record, the same in both versions
    msgpack_pack_array (&pk, 6);
    uint64_t cut[] = { 2, 0, 200, 100, 1796000000000, 0 };
    for (size_t i = 0; i < 6; i++)
        msgpack_pack_uint64 (&pk, cut[i]);
    cr_assert_eq (zmr_records_append (fd, sbuf.data, sbuf.size), 0);
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_uint64 (&pk, 2);
    msgpack_pack_uint64 (&pk, 9);
    msgpack_pack_uint64 (&pk, 10);
    cr_assert_eq (zmr_records_append (fd, sbuf.data, sbuf.size), 0);
    msgpack_sbuffer_destroy (&sbuf);
    close (fd);

    char err[512];
    zmr_journal_header_t event = s_event_header (ZMR_EVTIME_EPOCH, 1000, 1000, 0);
    cr_assert_null (zmr_journal_open (path, &event, err, sizeof err));
    cr_assert (strstr (err, "ingest time") && strstr (err, "event time epoch"), "%s", err);
    zmr_journal_header_t header = s_header (ZMR_JOB_WORDS, ZMR_REDUCE_SUM, S_DIGEST_A, "words");
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    const zmr_journal_summary_t *s = zmr_journal_summary (journal);
    cr_assert (s->chunks == 2 && s->words == 20 && s->pairs == 22 && s->npanes == 0);
    cr_assert_eq (s->event_max, ZMR_EVTIME_UNKNOWN);
    size_t ncuts;
    zmr_journal_cuts (journal, &ncuts);
    cr_assert_eq (ncuts, 1);
    uint64_t words = 0, pairs = 0;
    uint32_t too_long;
    cr_assert (zmr_journal_was_done (journal, 2, &words, &too_long, &pairs));
    cr_assert (words == 9 && pairs == 10);
    //  Written anew, it is of version 3, and still opens
    zmr_journal_summary_t anew = { .chunks = 3, .words = 29, .bytes = 300, .input = 0,
                                   .offset = 300, .pairs = 32,
                                   .event_max = ZMR_EVTIME_UNKNOWN };
    cr_assert_eq (zmr_journal_rewrite_begin (journal, &anew), 0);
    cr_assert_eq (zmr_journal_rewrite_end (journal, true), 0);
    zmr_journal_destroy (&journal);
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert_eq (zmr_journal_summary (journal)->words, 29);
    zmr_journal_destroy (&journal);
    unlink (path);
}
