/*  The streaming pieces in isolation: the sink's running totals (zmr_live),
    the chunker's flush of a stream's waiting text, and the status fields
    that carry them. Expected values are computed here another way (a
    sorted copy, a brute-force percentile), never by the code under test. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "zmr.h"

//  Packs and decodes an UPDATE of partition p with the given words and
//  chunks; the frame lives in sbuf.
static zmr_msg_t
s_update (msgpack_sbuffer *sbuf, uint32_t p, uint32_t R, const char *const *words,
          const uint64_t *totals, size_t nwords, const uint64_t *chunks, size_t nchunks)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear (sbuf);
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    zmr_msg_begin_update (&pk, 7, p, R, (uint32_t) nchunks);
    for (size_t i = 0; i < 2 * nchunks; i++)
        msgpack_pack_uint64 (&pk, chunks[i]);
    zmr_msg_begin_pairs (&pk, (uint32_t) nwords);
    for (size_t i = 0; i < nwords; i++)
        zmr_msg_pack_pair (&pk, words[i], (uint32_t) strlen (words[i]), totals[i]);
    zmr_msg_t msg;
    const char *why;
    cr_assert_eq (zmr_msg_decode (sbuf->data, sbuf->size, &msg, &why), 0, "%s", why);
    return msg;
}

typedef struct {
    char lines[4096];
    size_t len;
    int stop_after;          //  Say stop at this call (0: never)
    int calls;
} s_drained_t;

static int
s_collect (const char *word, uint32_t len, uint64_t total, void *arg)
{
    s_drained_t *d = arg;
    if (d->stop_after && ++d->calls == d->stop_after)
        return -1;
    d->len += (size_t) snprintf (d->lines + d->len, sizeof d->lines - d->len, "%.*s=%llu ",
                                 (int) len, word, (unsigned long long) total);
    return 0;
}

//  Totals are set, not added: a repeated UPDATE changes nothing; each word
//  changed since the last drain comes once, with its latest total.
Test (live, totals_are_set_and_drained_once_each)
{
    zmr_live_t *live = zmr_live_new (2);
    cr_assert_not_null (live);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    const char *w1[] = { "whale", "sea" };
    uint64_t t1[] = { 3, 10 };
    zmr_msg_t msg = s_update (&sbuf, 0, 2, w1, t1, 2, NULL, 0);
    cr_assert_eq (zmr_live_update (live, &msg, 0), 0);
    msg = s_update (&sbuf, 0, 2, w1, t1, 2, NULL, 0);
    cr_assert_eq (zmr_live_update (live, &msg, 0), 0);
    cr_assert_eq (zmr_live_words (live), 13, "a repeated UPDATE was added");
    const char *w2[] = { "whale", "ship" };
    uint64_t t2[] = { 5, 1 };
    msg = s_update (&sbuf, 1, 2, w2, t2, 2, NULL, 0);
    cr_assert_eq (zmr_live_update (live, &msg, 0), 0);
    cr_assert_eq (zmr_live_words (live), 16);
    cr_assert_eq (zmr_live_changed (live), 3);
    s_drained_t d = { .len = 0 };
    cr_assert_eq (zmr_live_drain (live, s_collect, &d), 0);
    cr_assert_str_eq (d.lines, "whale=5 sea=10 ship=1 ");
    cr_assert_eq (zmr_live_changed (live), 0);
    //  Stopped halfway: the rest stays to drain.
    const char *w3[] = { "a", "b", "c" };
    uint64_t t3[] = { 1, 2, 3 };
    msg = s_update (&sbuf, 0, 2, w3, t3, 3, NULL, 0);
    cr_assert_eq (zmr_live_update (live, &msg, 0), 0);
    s_drained_t half = { .stop_after = 2 };
    cr_assert_eq (zmr_live_drain (live, s_collect, &half), -1);
    cr_assert_str_eq (half.lines, "a=1 ");
    cr_assert_eq (zmr_live_changed (live), 2);
    s_drained_t rest = { .len = 0 };
    cr_assert_eq (zmr_live_drain (live, s_collect, &rest), 0);
    cr_assert_str_eq (rest.lines, "b=2 c=3 ");
    //  zmr_live_set squares a total with the final result.
    cr_assert_eq (zmr_live_set (live, "sea", 3, 11), 0);
    cr_assert_eq (zmr_live_set (live, "ship", 4, 1), 0);
    cr_assert_eq (zmr_live_changed (live), 1, "an unchanged total was marked changed");
    msgpack_sbuffer_destroy (&sbuf);
    zmr_live_destroy (&live);
    cr_assert_null (live);
}

static int
s_u64_order (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

//  A chunk gives one latency sample, when the last of the R partitions
//  lists it; percentiles are nearest-rank over the recent samples only.
Test (live, latency_is_per_chunk_once_every_partition_listed_it)
{
    zmr_live_t *live = zmr_live_new (3);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    //  200 chunks stamped at 1000; partition p lists chunk c at time
    //  1000 + c + 10 p: the last (p = 2) sees latency c + 20.
    uint64_t expected[200];
    for (uint64_t c = 0; c < 200; c++) {
        for (uint32_t p = 0; p < 3; p++) {
            uint64_t chunk[2] = { c, 1000 };
            zmr_msg_t msg = s_update (&sbuf, p, 3, NULL, NULL, 0, chunk, 1);
            cr_assert_eq (zmr_live_update (live, &msg, 1000 + c + 10 * p), 0);
        }
        expected[c] = c + 20;
    }
    uint64_t p50, p99, samples;
    zmr_live_latency (live, 1300, 60000, &p50, &p99, &samples);
    cr_assert_eq (samples, 200, "one sample per chunk, not per partition");
    qsort (expected, 200, sizeof *expected, s_u64_order);
    //  Nearest rank, by hand: the 100th and the 198th of 200.
    cr_assert_eq (p50, expected[99]);
    cr_assert_eq (p99, expected[197]);
    //  Only the last 50 ms before 1300: the samples were taken at 1020 ..
    //  1219, none of them.
    zmr_live_latency (live, 1300, 50, &p50, &p99, &samples);
    cr_assert_eq (samples, 0);
    cr_assert_eq (p50, 0);
    //  A chunk listed by two of three partitions gives nothing yet.
    uint64_t chunk[2] = { 5000, 1290 };
    for (uint32_t p = 0; p < 2; p++) {
        zmr_msg_t msg = s_update (&sbuf, p, 3, NULL, NULL, 0, chunk, 1);
        cr_assert_eq (zmr_live_update (live, &msg, 1299), 0);
    }
    zmr_live_latency (live, 1300, 60000, &p50, &p99, &samples);
    cr_assert_eq (samples, 200);
    msgpack_sbuffer_destroy (&sbuf);
    zmr_live_destroy (&live);
}

//  The top k are the first k of the whole table sorted in result order.
Test (live, top_words_are_the_first_of_the_result_order)
{
    zmr_live_t *live = zmr_live_new (1);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    srand (42);
    enum { N = 3000 };
    static char names[N][16];
    const char *words[N];
    uint64_t totals[N];
    for (int i = 0; i < N; i++) {
        snprintf (names[i], sizeof names[i], "w%05d", (i * 7919) % N);
        words[i] = names[i];
        totals[i] = 1 + (uint64_t) (rand () % 50);     //  Many ties
    }
    zmr_msg_t msg = s_update (&sbuf, 0, 1, words, totals, N, NULL, 0);
    cr_assert_eq (zmr_live_update (live, &msg, 0), 0);
    size_t count;
    zmr_entry_t *sorted = zmr_live_sorted (live, &count);
    cr_assert_eq (count, N);
    //  The sorted copy is in result order, checked pairwise here.
    for (size_t i = 1; i < count; i++)
        cr_assert (sorted[i - 1].count > sorted[i].count
                   || (sorted[i - 1].count == sorted[i].count
                       && strcmp (sorted[i - 1].word, sorted[i].word) < 0));
    for (size_t k = 0; k <= 20; k += 5) {
        zmr_entry_t top[20];
        size_t n = zmr_live_top (live, top, k);
        cr_assert_eq (n, k);
        for (size_t i = 0; i < n; i++) {
            cr_assert_str_eq (top[i].word, sorted[i].word, "k %zu, rank %zu", k, i);
            cr_assert_eq (top[i].count, sorted[i].count);
        }
    }
    free (sorted);
    msgpack_sbuffer_destroy (&sbuf);
    zmr_live_destroy (&live);
}

//  Standard input becomes the read end of a new pipe; *writer gets its
//  write end, *saved the old standard input. Returns a chunker over "-"
//  with chunk_size and max_chunk.
static zmr_chunker_t *
s_stdin_pipe (int *writer, int *saved, size_t chunk_size, size_t max_chunk)
{
    int fds[2];
    cr_assert_eq (pipe (fds), 0);
    *saved = dup (0);
    cr_assert_eq (dup2 (fds[0], 0), 0);
    close (fds[0]);
    *writer = fds[1];
    const char *const inputs[] = { "-" };
    char error[256];
    zmr_chunker_t *chunker = zmr_chunker_new (inputs, 1, chunk_size, max_chunk, error,
                                              sizeof error);
    cr_assert_not_null (chunker, "%s", error);
    return chunker;
}

//  A stream's waiting text is cut at its last whitespace by flush(), and
//  the rest (a word still coming) waits for the next read.
Test (live, flush_cuts_a_streams_waiting_text_at_its_last_whitespace, .timeout = 10)
{
    int fds[2], saved;
    zmr_chunker_t *chunker = s_stdin_pipe (&fds[1], &saved, 1 << 20, 4 << 20);
    zmr_chunker_set_nonblocking (chunker, true);
    cr_assert_eq (write (fds[1], "call me ishm", 12), 12);
    zmr_chunk_t chunk;
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 2, "a 1 MiB chunk came from 12 bytes");
    cr_assert_eq (zmr_chunker_pending (chunker), 12);
    cr_assert_eq (zmr_chunker_flush (chunker, &chunk), 1);
    cr_assert_eq (chunk.len, 8);
    cr_assert (!memcmp (chunk.data, "call me ", 8));
    cr_assert_eq (chunk.offset, 0);
    free (chunk.data);
    cr_assert_eq (zmr_chunker_pending (chunker), 4);
    //  "ishm" has no whitespace: nothing to cut yet.
    cr_assert_eq (zmr_chunker_flush (chunker, &chunk), 0);
    cr_assert_eq (write (fds[1], "ael. some", 9), 9);
    close (fds[1]);
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 1);
    cr_assert_eq (chunk.offset, 8);
    cr_assert_eq (chunk.len, 13);
    cr_assert (!memcmp (chunk.data, "ishmael. some", 13));
    free (chunk.data);
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 0);
    cr_assert_eq (zmr_chunker_pending (chunker), 0);
    cr_assert_eq (zmr_chunker_flush (chunker, &chunk), 0);
    zmr_chunker_destroy (&chunker);
    dup2 (saved, 0);
    close (saved);
}

//  The status carries the running totals' fields, and a top word cut to
//  fit never ends inside a UTF-8 sequence.
Test (live, status_carries_latency_top_words_and_backpressure)
{
    zmr_status_t in;
    memset (&in, 0, sizeof in);
    snprintf (in.phase, sizeof in.phase, "mapping");
    in.backpressured = true;
    in.latency_p50_ms = 12;
    in.latency_p99_ms = 48;
    in.latency_samples = 900;
    in.ntop = 2;
    zmr_status_set_word (&in.top[0], "the", 3);
    in.top[0].count = 62051;
    //  60 ASCII bytes, then "é" (2 bytes) twice: 64 bytes, cut to 63 would
    //  split the second é; it goes whole.
    char longword[80];
    memset (longword, 'a', 60);
    memcpy (longword + 60, "\xc3\xa9\xc3\xa9", 4);
    zmr_status_set_word (&in.top[1], longword, 64);
    in.top[1].count = 1;
    cr_assert_eq (strlen (in.top[1].word), 62);
    cr_assert (!memcmp (in.top[1].word + 60, "\xc3\xa9", 2));

    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    zmr_status_pack (&pk, &in);
    zmr_msg_t msg;
    const char *why = NULL;
    cr_assert_eq (zmr_msg_decode (sbuf.data, sbuf.size, &msg, &why), 0, "%s", why);
    zmr_status_t out;
    memset (&out, 0, sizeof out);
    cr_assert_eq (zmr_status_decode (&msg, &out, &why), 0, "%s", why);
    cr_assert (out.backpressured);
    cr_assert_eq (out.latency_p50_ms, 12);
    cr_assert_eq (out.latency_p99_ms, 48);
    cr_assert_eq (out.latency_samples, 900);
    cr_assert_eq (out.ntop, 2);
    cr_assert_str_eq (out.top[0].word, "the");
    cr_assert_eq (out.top[0].count, 62051);
    cr_assert_str_eq (out.top[1].word, in.top[1].word);
    zmr_status_reset (&out);
    msgpack_sbuffer_destroy (&sbuf);
}

//  A stream's spool gives back the disk space of text whose chunks are
//  done, keeping its size and offsets; what is not released stays intact.
Test (live, a_spool_gives_back_the_space_of_done_text, .timeout = 10)
{
    char dir[] = "/tmp/zmr-spool-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char prefix[64];
    snprintf (prefix, sizeof prefix, "%s/journal.spool", dir);
    int fds[2], saved;
    zmr_chunker_t *chunker = s_stdin_pipe (&fds[1], &saved, 64 << 10, 1 << 20);
    const char *const inputs[] = { "-" };
    char error[256];
    cr_assert_eq (zmr_chunker_spool (chunker, prefix, false, error, sizeof error), 0, "%s", error);
    //  1 MiB of "word " in, through a child that writes and exits.
    static char text[1 << 20];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "word "[i % 5];
    pid_t writer = fork ();
    if (writer == 0) {
        for (size_t at = 0; at < sizeof text;) {
            ssize_t n = write (fds[1], text + at, sizeof text - at);
            if (n <= 0)
                _exit (1);
            at += (size_t) n;
        }
        _exit (0);
    }
    close (fds[1]);
    zmr_chunk_t chunk;
    uint64_t cut = 0;
    int rc;
    while ((rc = zmr_chunker_next (chunker, &chunk)) == 1) {
        cut += chunk.len;
        free (chunk.data);
    }
    cr_assert_eq (rc, 0);
    cr_assert_eq (cut, sizeof text);
    char spool[80];
    snprintf (spool, sizeof spool, "%s.0", prefix);
    struct stat before, after;
    cr_assert_eq (stat (spool, &before), 0);
    cr_assert_eq (before.st_size, (off_t) sizeof text);
    //  The chunker closed the input at its end: nothing to release then.
    //  A second chunker resumes the spool (cuts replayed), and releases.
    zmr_chunker_destroy (&chunker);
    cr_assert_eq (dup2 (saved, 0), 0);
    //  Standard input at its end: an empty pipe whose writer is gone (not
    //  /dev/null, which a broken machine may have as a regular file).
    int empty[2];
    cr_assert_eq (pipe (empty), 0);
    close (empty[1]);
    cr_assert_eq (dup2 (empty[0], 0), 0);
    close (empty[0]);
    chunker = zmr_chunker_new (inputs, 1, 64 << 10, 1 << 20, error, sizeof error);
    cr_assert_eq (zmr_chunker_spool (chunker, prefix, true, error, sizeof error), 0);
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 1);
    free (chunk.data);
    cr_assert_eq (zmr_chunker_release (chunker, 0, 768 << 10), 0);
    cr_assert_eq (stat (spool, &after), 0);
    cr_assert_eq (after.st_size, before.st_size, "the spool changed size");
    cr_assert_geq ((int64_t) before.st_blocks * 512 - (int64_t) after.st_blocks * 512,
                   700 << 10, "the spool still holds %lld bytes on disk",
                   (long long) after.st_blocks * 512);
    //  What was not released reads back intact, to the end.
    uint64_t end = 0;
    while ((rc = zmr_chunker_next (chunker, &chunk)) == 1) {
        if (chunk.offset >= (768 << 10))
            cr_assert (!memcmp (chunk.data, text + chunk.offset, chunk.len),
                       "the chunk at %llu changed", (unsigned long long) chunk.offset);
        end = chunk.offset + chunk.len;
        free (chunk.data);
    }
    cr_assert_eq (rc, 0);
    cr_assert_eq (end, sizeof text, "the chunks end at %llu (%s)", (unsigned long long) end,
                  zmr_chunker_error (chunker));
    zmr_chunker_destroy (&chunker);
    waitpid (writer, NULL, 0);
    dup2 (saved, 0);
    close (saved);
    unlink (spool);
    rmdir (dir);
}
