/*  test_journal: what the journal of format version 2 (issue 16 part 2)
    adds: the job's definition in its header (a journal is resumed only by
    the same job), each completed chunk's pairs (the end check of every job
    after a restart), and a clear refusal of a journal of version 1. */
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
