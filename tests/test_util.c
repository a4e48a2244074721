/*  Option parsing and endpoint handling that every role's command line uses. */
#include <criterion/criterion.h>
#include "zmr.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

Test (util, parses_sizes_with_binary_suffixes)
{
    uint64_t v;
    cr_assert_eq (zmr_parse_size ("64K", 1, UINT64_MAX, &v), 0);
    cr_assert_eq (v, 65536);
    cr_assert_eq (zmr_parse_size ("1M", 1, UINT64_MAX, &v), 0);
    cr_assert_eq (v, 1048576);
    cr_assert_eq (zmr_parse_size ("2GiB", 1, UINT64_MAX, &v), 0);
    cr_assert_eq (v, 2147483648ull);
    cr_assert_eq (zmr_parse_size ("100", 1, UINT64_MAX, &v), 0);
    cr_assert_eq (v, 100);
    cr_assert_eq (zmr_parse_size ("5Q", 1, UINT64_MAX, &v), -1);
    cr_assert_eq (zmr_parse_size ("-1", 0, UINT64_MAX, &v), -1);
    cr_assert_eq (zmr_parse_size ("", 0, UINT64_MAX, &v), -1);
    cr_assert_eq (zmr_parse_size ("99999999999999999999K", 0, UINT64_MAX, &v), -1);
    cr_assert_eq (zmr_parse_size ("65M", 1, 64u << 20, &v), -1, "above the maximum");
}

Test (util, parses_whole_numbers_in_range_only)
{
    uint64_t v;
    cr_assert_eq (zmr_parse_u64 ("8", 1, 8, &v), 0);
    cr_assert_eq (v, 8);
    cr_assert_eq (zmr_parse_u64 ("0", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 ("9", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 ("3x", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 (" 3", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 ("+3", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 ("18446744073709551616", 0, UINT64_MAX, &v), -1);
}

Test (util, replaces_only_wildcard_tcp_hosts)
{
    char out[ZMR_ENDPOINT_MAX];
    cr_assert_eq (zmr_endpoint_with_host ("tcp://*:5560", "10.1.2.3", out, sizeof out), 0);
    cr_assert_str_eq (out, "tcp://10.1.2.3:5560");
    zmr_endpoint_with_host ("tcp://0.0.0.0:5560", "host.example", out, sizeof out);
    cr_assert_str_eq (out, "tcp://host.example:5560");
    zmr_endpoint_with_host ("tcp://*:5560", "::1", out, sizeof out);
    cr_assert_str_eq (out, "tcp://[::1]:5560");
    zmr_endpoint_with_host ("tcp://192.168.0.5:5560", "10.1.2.3", out, sizeof out);
    cr_assert_str_eq (out, "tcp://192.168.0.5:5560");
    zmr_endpoint_with_host ("ipc:///tmp/x", "10.1.2.3", out, sizeof out);
    cr_assert_str_eq (out, "ipc:///tmp/x");
    zmr_endpoint_with_host ("tcp://*:5560", NULL, out, sizeof out);
    cr_assert_str_eq (out, "tcp://*:5560");
    char tiny[8];
    cr_assert_eq (zmr_endpoint_with_host ("tcp://*:5560", "10.1.2.3", tiny, sizeof tiny), -1);
}

Test (util, extracts_the_host_of_tcp_endpoints)
{
    char host[64];
    zmr_endpoint_host ("tcp://vent.example:5550", host, sizeof host);
    cr_assert_str_eq (host, "vent.example");
    zmr_endpoint_host ("tcp://[::1]:5550", host, sizeof host);
    cr_assert_str_eq (host, "[::1]");
    zmr_endpoint_host ("ipc:///tmp/c", host, sizeof host);
    cr_assert_str_eq (host, "");
}

Test (json, escapes_controls_quotes_and_invalid_utf8)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    zmr_json_string (out, "a\"b\\c\n\t\x01\x7f\xc3\xa9\xff\xc3", 13);
    fclose (out);
    cr_assert_str_eq (text, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\xc3\xa9\\u00ff\\u00c3\"");
    free (text);
}

//  A ventilator started again from its journal knows, per completed chunk,
//  both its words and those it left out (--max-word), read back as written.
Test (util, the_journal_keeps_words_left_out_across_a_restart)
{
    char path[] = "/tmp/zmr-journal-XXXXXX";
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    close (fd);
    zmr_journal_header_t header = { .job = 7, .reducers = 2, .chunk_size = 1024,
                                    .input_bytes = 4096, .inputs = 1 };
    char err[256];
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert_eq (zmr_journal_done (journal, 5, 100, 7, 3), 0);
    cr_assert_eq (zmr_journal_done (journal, 6, 50, 0, 3), 0);
    zmr_journal_destroy (&journal);
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    uint64_t words = 0;
    uint32_t too_long = 99;
    cr_assert (zmr_journal_was_done (journal, 5, &words, &too_long, NULL));
    cr_assert (words == 100 && too_long == 7, "chunk 5: %llu words, %llu left out",
               (unsigned long long) words, (unsigned long long) too_long);
    cr_assert (zmr_journal_was_done (journal, 6, &words, &too_long, NULL));
    cr_assert (words == 50 && too_long == 0);
    cr_assert_not (zmr_journal_was_done (journal, 8, &words, &too_long, NULL));
    zmr_journal_destroy (&journal);
    unlink (path);
}

//  A journal written anew sums up its prefix of complete chunks in one
//  record: read back, it gives that summary and the cuts and completions
//  after it, as written, and it is smaller than the journal it replaced.
Test (util, a_journal_written_anew_keeps_its_summary_cuts_and_completions)
{
    char path[] = "/tmp/zmr-journal-XXXXXX";
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    close (fd);
    zmr_journal_header_t header = { .job = 9, .reducers = 3, .chunk_size = 100,
                                    .input_bytes = 0, .inputs = 2 };
    char err[256];
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    for (uint64_t chunk = 0; chunk < 1000; chunk++) {
        zmr_journal_cut_t cut = { (uint32_t) (chunk / 600), (chunk % 600) * 100, 100 };
        cr_assert_eq (zmr_journal_cut (journal, chunk, &cut), 0);
        if (chunk < 990)
            cr_assert_eq (zmr_journal_done (journal, chunk, 17, chunk == 995? 1: 0, 3), 0);
    }
    cr_assert_eq (zmr_journal_records (journal), 1990 + 1);
    struct stat before;
    cr_assert_eq (stat (path, &before), 0);
    //  Chunks 0 .. 979 summed up; 980 .. 999 cut again, 980 .. 989 done
    zmr_journal_summary_t summary = { .chunks = 980, .words = 980 * 17, .too_long = 0,
                                      .bytes = 98000, .input = 1, .offset = 38000 };
    cr_assert_eq (zmr_journal_rewrite_begin (journal, &summary), 0);
    for (uint64_t chunk = 980; chunk < 1000; chunk++) {
        zmr_journal_cut_t cut = { 1, (chunk % 600) * 100, 100 };
        cr_assert_eq (zmr_journal_cut (journal, chunk, &cut), 0);
        if (chunk < 990)
            cr_assert_eq (zmr_journal_done (journal, chunk, 17, chunk == 985? 2: 0, 3), 0);
    }
    cr_assert_eq (zmr_journal_rewrite_end (journal, true), 0);
    cr_assert_eq (zmr_journal_records (journal), 0);
    //  Records go on being appended, to the new journal
    zmr_journal_cut_t next = { 1, 40000, 100 };
    cr_assert_eq (zmr_journal_cut (journal, 1000, &next), 0);
    zmr_journal_destroy (&journal);
    struct stat after;
    cr_assert_eq (stat (path, &after), 0);
    cr_assert_lt (after.st_size * 20, before.st_size, "%lld bytes, %lld before",
                  (long long) after.st_size, (long long) before.st_size);

    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert_eq (header.job, 9);
    const zmr_journal_summary_t *read = zmr_journal_summary (journal);
    cr_assert (read->chunks == 980 && read->words == 980 * 17 && read->bytes == 98000
            && read->input == 1 && read->offset == 38000 && read->too_long == 0);
    size_t ncuts;
    const zmr_journal_cut_t *cuts = zmr_journal_cuts (journal, &ncuts);
    cr_assert_eq (ncuts, 21, "the cuts of chunks 980 .. 1000");
    for (size_t i = 0; i < ncuts; i++)
        cr_assert (cuts[i].input == 1 && cuts[i].offset == ((980 + i) % 600) * 100
                && cuts[i].len == 100, "cut of chunk %zu", 980 + i);
    uint64_t words;
    uint32_t too_long;
    cr_assert (zmr_journal_was_done (journal, 985, &words, &too_long, NULL));
    cr_assert (words == 17 && too_long == 2);
    cr_assert_not (zmr_journal_was_done (journal, 990, &words, &too_long, NULL));
    cr_assert_eq (zmr_journal_loaded (journal), 10);
    zmr_journal_destroy (&journal);

    //  A rewrite given up leaves the journal as it was
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    summary.chunks = 990;
    cr_assert_eq (zmr_journal_rewrite_begin (journal, &summary), 0);
    cr_assert_neq (zmr_journal_rewrite_end (journal, false), 0);
    zmr_journal_destroy (&journal);
    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert_eq (zmr_journal_summary (journal)->chunks, 980);
    zmr_journal_destroy (&journal);
    unlink (path);
}

//  A summary anywhere but right after the header, or naming an input the
//  job does not have, makes the journal corrupt: refused, not guessed at.
Test (util, a_journal_with_a_misplaced_or_wrong_summary_is_refused)
{
    zmr_journal_header_t header = { .job = 9, .reducers = 3, .chunk_size = 100,
                                    .input_bytes = 0, .inputs = 2 };
    for (int bad = 0; bad < 2; bad++) {
        char path[] = "/tmp/zmr-journal-XXXXXX";
        int fd = mkstemp (path);
        cr_assert (fd >= 0);
        close (fd);
        char err[256];
        zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
        cr_assert_not_null (journal, "%s", err);
        zmr_journal_cut_t cut = { 0, 0, 100 };
        if (bad == 0)
            cr_assert_eq (zmr_journal_cut (journal, 0, &cut), 0);
        zmr_journal_destroy (&journal);
        //  Append a summary record by hand: after a cut, or of input 7
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        msgpack_pack_array (&pk, 6);
        msgpack_pack_uint64 (&pk, 5);
        msgpack_pack_uint64 (&pk, 1);
        msgpack_pack_uint64 (&pk, 0);
        msgpack_pack_uint64 (&pk, 500);
        msgpack_pack_uint32 (&pk, bad == 0? 0: 7);
        msgpack_pack_uint64 (&pk, 500);
        fd = open (path, O_WRONLY | O_APPEND);
        cr_assert (fd >= 0);
        cr_assert_eq (zmr_records_append (fd, sbuf.data, sbuf.size), 0);
        close (fd);
        msgpack_sbuffer_destroy (&sbuf);
        journal = zmr_journal_open (path, &header, err, sizeof err);
        cr_assert_null (journal, "a summary after a cut (or of input 7) was taken");
        cr_assert (strstr (err, "corrupt"), "%s", err);
        unlink (path);
    }
}

//  Job 0 means "no job yet" to every role: a journal whose header names it
//  is refused, not resumed (the fuzz target for journals found it taken).
Test (util, a_journal_of_job_0_is_refused)
{
    char path[] = "/tmp/zmr-journal-XXXXXX";
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 11);           //  Format version 2
    msgpack_pack_uint16 (&pk, 0x5A4A);
    msgpack_pack_uint8 (&pk, 2);
    msgpack_pack_uint64 (&pk, 0);           //  The job
    msgpack_pack_uint32 (&pk, 2);
    msgpack_pack_uint64 (&pk, 100);
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_uint32 (&pk, 1);
    msgpack_pack_uint32 (&pk, 0);           //  The word count, sum
    msgpack_pack_uint32 (&pk, 0);
    msgpack_pack_str (&pk, 0);              //  Its digest and label
    msgpack_pack_str (&pk, 0);
    cr_assert_eq (zmr_records_append (fd, sbuf.data, sbuf.size), 0);
    close (fd);
    msgpack_sbuffer_destroy (&sbuf);
    zmr_journal_header_t header = { .job = 0, .reducers = 2, .chunk_size = 100,
                                    .input_bytes = 0, .inputs = 1 };
    char err[256] = "";
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_null (journal, "a journal of job 0 was opened (job %llu)",
                    (unsigned long long) header.job);
    cr_assert (strstr (err, "corrupt"), "%s", err);
    unlink (path);
}

//  --max-message caps what every receiving socket takes, never below the
//  4 KiB a CURVE handshake needs; outbound sockets stay unlimited.
Test (util, max_message_caps_every_receiving_socket)
{
    zmr_set_max_message (1u << 20);
    zsock_t *big = zmr_socket (ZMQ_PULL, 64 << 20, 0);
    zsock_t *small = zmr_socket (ZMQ_SUB, 64, 0);
    zsock_t *out = zmr_socket (ZMQ_PUSH, -1, 0);
    cr_assert_eq (zsock_maxmsgsize (big), 1 << 20);
    cr_assert_eq (zsock_maxmsgsize (small), 4096);
    cr_assert_eq (zsock_maxmsgsize (out), -1);
    //  A chunk of 522240 bytes makes a BATCH of at most twice it plus a
    //  header: 1 MiB.
    cr_assert_eq (zmr_max_chunk_for (1u << 20), 522240);
    cr_assert_eq (zmr_max_chunk_for (ZMR_DEFAULT_MAX_MESSAGE), ZMR_MAX_CHUNK);
    zsock_destroy (&big);
    zsock_destroy (&small);
    zsock_destroy (&out);
    zmr_set_max_message (ZMR_DEFAULT_MAX_MESSAGE);
}

//  --window and friends: a number with ms, s, m or h (none: seconds),
//  within the option's range; anything else is refused.
Test (util, parses_durations_with_units)
{
    uint64_t ms;
    static const struct { const char *text; uint64_t ms; } good[] = {
        { "500ms", 500 }, { "10s", 10000 }, { "10", 10000 }, { "2m", 120000 },
        { "1h", 3600000 }, { "0ms", 0 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_assert_eq (zmr_parse_duration (good[i].text, 0, UINT64_MAX, &ms), 0, "%s",
                      good[i].text);
        cr_assert_eq (ms, good[i].ms, "%s: %llu ms", good[i].text, (unsigned long long) ms);
    }
    static const char *bad[] = { "", "s", "10 s", "10sec", "1d", "-1s", "1.5s", "ms10",
                                 "99999999999999999999h", "18446744073709551615h" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq (zmr_parse_duration (bad[i], 0, UINT64_MAX, &ms), -1, "accepted '%s'",
                      bad[i]);
    cr_assert_eq (zmr_parse_duration ("9ms", 10, 1000, &ms), -1, "below the minimum");
    cr_assert_eq (zmr_parse_duration ("2s", 10, 1000, &ms), -1, "above the maximum");
    cr_assert_eq (zmr_parse_duration ("1s", 10, 1000, &ms), 0);
}

typedef struct {
    size_t n;
    char got[8][64];
    size_t len[8];
} s_records_t;

static int
s_collect_record (const void *data, size_t len, void *arg)
{
    s_records_t *records = (s_records_t *) arg;
    cr_assert (records->n < 8 && len <= 64);
    memcpy (records->got[records->n], data, len);
    records->len[records->n++] = len;
    return 0;
}

//  Log records: the ones written before (FNV-1a, the length's top bit
//  clear: spelled out here by hand) still load beside the ones written
//  now, and a record damaged or torn at the tail is cut off, not replayed.
Test (util, log_records_of_both_checksums_load_and_a_damaged_tail_is_cut)
{
    char path[] = "/tmp/zmr-records-XXXXXX";
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    //  "old record", FNV-1a 32 computed here, the textbook way
    const char *old = "old record";
    uint32_t fnv = 2166136261u;
    for (const char *c = old; *c; c++)
        fnv = (fnv ^ (uint8_t) *c) * 16777619u;
    uint32_t header[2] = { (uint32_t) strlen (old), fnv };
    cr_assert_eq (write (fd, header, 8), 8);
    cr_assert_eq (write (fd, old, strlen (old)), (ssize_t) strlen (old));
    const char *lengths[] = { "", "sixteen bytes!!!", "a record of thirty-three bytes..." };
    for (int i = 0; i < 3; i++)
        cr_assert_eq (zmr_records_append (fd, lengths[i], strlen (lengths[i])), 0);
    uint64_t bytes = 0;
    s_records_t records = { 0 };
    cr_assert_eq (zmr_records_read (fd, s_collect_record, &records, &bytes), 0);
    cr_assert_eq (records.n, 4, "%zu records read back", records.n);
    cr_assert (records.len[0] == strlen (old) && !memcmp (records.got[0], old, strlen (old)));
    for (int i = 0; i < 3; i++)
        cr_assert (records.len[i + 1] == strlen (lengths[i])
                   && !memcmp (records.got[i + 1], lengths[i], strlen (lengths[i])),
                   "record %d differs", i + 1);
    off_t size = lseek (fd, 0, SEEK_END);
    cr_assert_eq (bytes, (uint64_t) size);
    //  One byte changed in the last record: it goes, the others stay
    char byte;
    cr_assert_eq (pread (fd, &byte, 1, size - 5), 1);
    byte ^= 0x20;
    cr_assert_eq (pwrite (fd, &byte, 1, size - 5), 1);
    memset (&records, 0, sizeof records);
    cr_assert_eq (zmr_records_read (fd, s_collect_record, &records, &bytes), 0);
    cr_assert_eq (records.n, 3, "a damaged record was replayed");
    cr_assert_eq (lseek (fd, 0, SEEK_END), (off_t) bytes, "the damaged tail was not cut off");
    //  Torn: a record appended again, and its last 5 bytes lost
    cr_assert_eq (zmr_records_append (fd, lengths[2], strlen (lengths[2])), 0);
    cr_assert_eq (ftruncate (fd, lseek (fd, 0, SEEK_END) - 5), 0);
    memset (&records, 0, sizeof records);
    cr_assert_eq (zmr_records_read (fd, s_collect_record, &records, &bytes), 0);
    cr_assert_eq (records.n, 3, "a torn record was replayed");
    close (fd);
    unlink (path);
}
