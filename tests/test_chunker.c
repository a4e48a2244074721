/*  test_chunker: cutting inputs into chunks at whitespace. Each test writes
    its inputs into a fresh directory under /tmp and removes it afterwards. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zmr_chunker.h"
#include "zmr_job.h"
#include "zmr_tokenize.h"

static char s_dir [64];             //  This test's temporary directory

static void
s_setup (void)
{
    strcpy (s_dir, "/tmp/zmr-test-chunker-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    DIR *dir = opendir (s_dir);
    if (!dir)
        return;
    struct dirent *item;
    char path [512];
    while ((item = readdir (dir))) {
        if (strcmp (item->d_name, ".") == 0 || strcmp (item->d_name, "..") == 0)
            continue;
        snprintf (path, sizeof (path), "%s/%s", s_dir, item->d_name);
        if (unlink (path))
            rmdir (path);
    }
    closedir (dir);
    rmdir (s_dir);
}

TestSuite (chunker, .init = s_setup, .fini = s_teardown);

//  Writes data into the test directory; returns its path, the caller's to free.
static char *
s_write (const char *name, const void *data, size_t len)
{
    char *path = (char *) malloc (512);
    cr_assert_not_null (path);
    snprintf (path, 512, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "wb");
    cr_assert_not_null (file);
    if (len)
        cr_assert_eq (fwrite (data, 1, len, file), len);
    cr_assert_eq (fclose (file), 0);
    return path;
}

typedef struct {
    zmr_chunk_t *chunks;        //  Every chunk, in order
    size_t count;               //  Number of chunks
    int last_rc;                //  What the last next() returned
} s_run_t;

//  Runs a chunker to its end (0) or first error (-1), keeping every chunk.
static s_run_t
s_run (zmr_chunker_t *chunker)
{
    s_run_t run = { NULL, 0, 0 };
    size_t cap = 0;
    while (true) {
        zmr_chunk_t chunk;
        run.last_rc = zmr_chunker_next (chunker, &chunk);
        if (run.last_rc != 1)
            break;
        if (run.count == cap) {
            cap = cap ? cap * 2 : 16;
            run.chunks = (zmr_chunk_t *) realloc (run.chunks, cap * sizeof (zmr_chunk_t));
            cr_assert_not_null (run.chunks);
        }
        run.chunks [run.count++] = chunk;
    }
    return run;
}

static void
s_run_free (s_run_t *run)
{
    for (size_t at = 0; at < run->count; at++)
        free (run->chunks [at].data);
    free (run->chunks);
    run->chunks = NULL;
    run->count = 0;
}

//  Checks every promise of zmr_chunker.h for a run over inputs: chunks come
//  input by input; per input they are contiguous from offset 0 and join into
//  the input exactly; each ends just after whitespace or at its input's end;
//  none is shorter than chunk_size unless it is its input's last; none is
//  longer than max_chunk.
static void
s_check_run (s_run_t *run, const char *const *inputs, const size_t *lens,
             size_t ninputs, size_t chunk_size, size_t max_chunk)
{
    size_t at = 0;
    for (size_t input = 0; input < ninputs; input++) {
        uint64_t offset = 0;
        while (at < run->count && run->chunks [at].input == input) {
            zmr_chunk_t *chunk = &run->chunks [at];
            cr_assert_gt (chunk->len, 0, "chunk %zu is empty", at);
            cr_assert_leq (chunk->len, max_chunk, "chunk %zu too long", at);
            cr_assert_eq (chunk->offset, offset, "chunk %zu: offset %llu, expected %llu",
                          at, (unsigned long long) chunk->offset, (unsigned long long) offset);
            cr_assert_leq (offset + chunk->len, lens [input], "chunk %zu runs past its input", at);
            cr_assert_eq (memcmp (chunk->data, inputs [input] + offset, chunk->len), 0,
                          "chunk %zu differs from its input", at);
            offset += chunk->len;
            bool at_end = offset == lens [input];
            cr_assert (at_end || zmr_is_space ((uint8_t) chunk->data [chunk->len - 1]),
                       "chunk %zu of input %zu ends mid-word at offset %llu",
                       at, input, (unsigned long long) offset);
            cr_assert (at_end || chunk->len >= chunk_size,
                       "chunk %zu is %zu bytes, shorter than %zu", at, chunk->len, chunk_size);
            at++;
        }
        cr_assert_eq (offset, lens [input], "input %zu not reproduced in full", input);
    }
    cr_assert_eq (at, run->count, "chunks out of input order");
}

//  Fills buf with random words and whitespace; words hold NUL, 0x85, 0xa0
//  and other bytes that are not whitespace.
static void
s_random_text (char *buf, size_t len, unsigned int seed)
{
    const char spaces [] = " \t\n\v\f\r";
    const char letters [] = "abcXYZ\x00\x85\xa0\xff\x1c";
    size_t at = 0;
    while (at < len) {
        seed = seed * 1103515245u + 12345u;
        size_t word = 1 + (seed >> 16) % 12;
        for (size_t k = 0; k < word && at < len; k++) {
            seed = seed * 1103515245u + 12345u;
            buf [at++] = letters [(seed >> 16) % (sizeof (letters) - 1)];
        }
        seed = seed * 1103515245u + 12345u;
        size_t gap = 1 + (seed >> 16) % 3;
        for (size_t k = 0; k < gap && at < len; k++) {
            seed = seed * 1103515245u + 12345u;
            buf [at++] = spaces [(seed >> 16) % 6];
        }
    }
}

Test (chunker, chunks_join_into_each_input_exactly)
{
    size_t lens [3] = { 100000, 1, 33333 };
    char *texts [3];
    const char *paths [3];
    for (int input = 0; input < 3; input++) {
        texts [input] = (char *) malloc (lens [input]);
        s_random_text (texts [input], lens [input], 7u + (unsigned) input);
        char name [16];
        snprintf (name, sizeof (name), "in%d", input);
        paths [input] = s_write (name, texts [input], lens [input]);
    }
    const size_t sizes [] = { 1, 2, 7, 64, 1000, 4096, 65536, 1 << 20 };
    for (size_t at = 0; at < sizeof (sizes) / sizeof (sizes [0]); at++) {
        char err [256] = "";
        zmr_chunker_t *chunker = zmr_chunker_new (paths, 3, sizes [at], 1 << 20, err, sizeof (err));
        cr_assert_not_null (chunker, "%s", err);
        s_run_t run = s_run (chunker);
        cr_assert_eq (run.last_rc, 0, "chunk size %zu: %s", sizes [at], zmr_chunker_error (chunker));
        s_check_run (&run, (const char *const *) texts, lens, 3, sizes [at], 1 << 20);
        //  Words here are short, so chunks stay close to chunk_size
        for (size_t k = 0; k < run.count; k++)
            cr_assert_lt (run.chunks [k].len, 2 * sizes [at] + 64,
                          "chunk of %zu bytes for chunk size %zu", run.chunks [k].len, sizes [at]);
        cr_assert_eq (zmr_chunker_bytes_read (chunker), lens [0] + lens [1] + lens [2]);
        cr_assert_eq (zmr_chunker_next (chunker, &(zmr_chunk_t) { 0 }), 0, "stays at the end");
        if (sizes [at] == 1000)
            cr_assert_gt (run.count, 100, "a 1000-byte chunk size cuts ~134 KB into many chunks");
        s_run_free (&run);
        zmr_chunker_destroy (&chunker);
        cr_assert_null (chunker);
    }
    for (int input = 0; input < 3; input++) {
        free (texts [input]);
        free ((char *) paths [input]);
    }
}

Test (chunker, never_splits_a_word)
{
    //  Every word in the input is whole in exactly one chunk: counting the
    //  words chunk by chunk gives the count of the whole input
    size_t len = 50000;
    char *text = (char *) malloc (len);
    s_random_text (text, len, 99);
    const char *path = s_write ("words", text, len);
    size_t whole = zmr_tokenize_count (text, len);
    for (size_t chunk_size = 1; chunk_size < 3000; chunk_size = chunk_size * 3 + 1) {
        zmr_chunker_t *chunker = zmr_chunker_new (&path, 1, chunk_size, 4096, NULL, 0);
        cr_assert_not_null (chunker);
        s_run_t run = s_run (chunker);
        cr_assert_eq (run.last_rc, 0);
        size_t words = 0;
        for (size_t at = 0; at < run.count; at++) {
            zmr_chunk_t *chunk = &run.chunks [at];
            words += zmr_tokenize_count (chunk->data, chunk->len);
            //  The byte before a chunk, if any, is whitespace
            if (chunk->offset > 0)
                cr_assert (zmr_is_space ((uint8_t) text [chunk->offset - 1]),
                           "chunk at offset %llu starts mid-word",
                           (unsigned long long) chunk->offset);
        }
        cr_assert_eq (words, whole, "chunk size %zu", chunk_size);
        s_check_run (&run, (const char *const *) &text, &len, 1, chunk_size, 4096);
        s_run_free (&run);
        zmr_chunker_destroy (&chunker);
    }
    free (text);
    free ((char *) path);
}

Test (chunker, words_never_span_inputs)
{
    const char *paths [2] = { s_write ("a", "abc", 3), s_write ("b", "def", 3) };
    zmr_chunker_t *chunker = zmr_chunker_new (paths, 2, 1024, 4096, NULL, 0);
    cr_assert_not_null (chunker);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0);
    cr_assert_eq (run.count, 2, "one chunk per input, got %zu", run.count);
    cr_assert_eq (run.chunks [0].input, 0);
    cr_assert_eq (run.chunks [0].len, 3);
    cr_assert_eq (memcmp (run.chunks [0].data, "abc", 3), 0);
    cr_assert_eq (run.chunks [0].offset, 0);
    cr_assert_eq (run.chunks [1].input, 1);
    cr_assert_eq (run.chunks [1].len, 3);
    cr_assert_eq (memcmp (run.chunks [1].data, "def", 3), 0);
    cr_assert_eq (run.chunks [1].offset, 0, "offsets restart in each input");
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    free ((char *) paths [0]);
    free ((char *) paths [1]);
}

Test (chunker, offsets_are_byte_offsets_in_the_input)
{
    //  Ten-byte lines, whitespace only at their ends, and chunks of at least
    //  25 bytes: each chunk starts at a line, where the one before ended,
    //  and each but the last is whole lines, three or more
    const char *text = "line-0001\nline-0002\nline-0003\nline-0004\nline-0005\nline-0006\nlast";
    const char *path = s_write ("lines", text, strlen (text));
    zmr_chunker_t *chunker = zmr_chunker_new (&path, 1, 25, 1000, NULL, 0);
    cr_assert_not_null (chunker);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0);
    uint64_t expected = 0;
    for (size_t at = 0; at < run.count; at++) {
        cr_assert_eq (run.chunks [at].offset, expected);
        cr_assert_eq (run.chunks [at].offset % 10, 0, "chunks start at a line");
        cr_assert_eq (memcmp (run.chunks [at].data, text + expected, run.chunks [at].len), 0);
        if (at + 1 < run.count)
            cr_assert (run.chunks [at].len % 10 == 0 && run.chunks [at].len >= 30,
                       "chunk %zu is %zu bytes, not three or more whole lines",
                       at, run.chunks [at].len);
        expected += run.chunks [at].len;
    }
    cr_assert_eq (expected, strlen (text));
    cr_assert_geq (run.count, 2);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    free ((char *) path);
}

//  A file of short random words with a 4 MiB word at offset S_LONG_HEAD;
//  sets *text (the caller frees it) and *len, returns its path (freed too).
#define S_LONG_HEAD 100000
#define S_LONG_WORD (4u << 20)

static const char *
s_long_word_file (char **text, size_t *len)
{
    size_t head = S_LONG_HEAD, word_len = S_LONG_WORD;
    *len = head + word_len + 1 + 50000;
    *text = (char *) malloc (*len);
    s_random_text (*text, head, 5);
    (*text) [head - 1] = '\n';
    memset (*text + head, 'w', word_len);
    (*text) [head + word_len] = ' ';
    s_random_text (*text + head + word_len + 1, *len - head - word_len - 1, 6);
    return s_write ("big", *text, *len);
}

Test (chunker, a_four_mebibyte_word_comes_whole_in_one_chunk)
{
    size_t word_len = S_LONG_WORD, head = S_LONG_HEAD, len;
    char *text;
    const char *path = s_long_word_file (&text, &len);

    zmr_chunker_t *chunker = zmr_chunker_new (&path, 1, 64 << 10, 64u << 20, NULL, 0);
    cr_assert_not_null (chunker);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    size_t holding = 0;
    for (size_t at = 0; at < run.count; at++) {
        zmr_chunk_t *chunk = &run.chunks [at];
        if (chunk->offset <= head && chunk->offset + chunk->len >= head + word_len + 1) {
            holding++;
            //  Just the long word's chunk: not much more than the word
            cr_assert_lt (chunk->len, word_len + (2u << 20));
        }
    }
    cr_assert_eq (holding, 1, "the word is whole in exactly one chunk");
    s_check_run (&run, (const char *const *) &text, &len, 1, 64 << 10, 64u << 20);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    free (text);
    free ((char *) path);
}

Test (chunker, a_long_word_gets_a_chunk_of_its_own_when_needed)
{
    //  chunk_size 10 and max_chunk 100: "aa bb " cannot grow to 10 bytes
    //  without taking the 97-byte word, which would make it 104 bytes
    char text [200];
    memcpy (text, "aa bb ", 6);
    memset (text + 6, 'x', 97);
    memcpy (text + 103, " cc", 3);
    size_t len = 106;
    const char *path = s_write ("long", text, len);
    zmr_chunker_t *chunker = zmr_chunker_new (&path, 1, 10, 100, NULL, 0);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    cr_assert_eq (run.count, 3);
    cr_assert_eq (run.chunks [0].len, 6);
    cr_assert_eq (run.chunks [1].offset, 6);
    cr_assert_eq (run.chunks [1].len, 98, "the word and its space");
    cr_assert_eq (run.chunks [2].len, 2);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    free ((char *) path);
}

Test (chunker, a_word_of_max_chunk_bytes_at_the_end_is_accepted)
{
    char text [103];
    memcpy (text, "ab ", 3);
    memset (text + 3, 'y', 100);
    const char *path = s_write ("edge", text, sizeof (text));
    zmr_chunker_t *chunker = zmr_chunker_new (&path, 1, 10, 100, NULL, 0);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    cr_assert_eq (run.count, 2);
    cr_assert_eq (run.chunks [1].offset, 3);
    cr_assert_eq (run.chunks [1].len, 100);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    free ((char *) path);
}

Test (chunker, a_word_longer_than_max_chunk_is_an_error_naming_path_and_offset)
{
    char text [300];
    memcpy (text, "ab cd ", 6);
    memset (text + 6, 'z', 200);
    memcpy (text + 206, " ef", 3);
    const char *path = s_write ("toolong", text, 209);
    zmr_chunker_t *chunker = zmr_chunker_new (&path, 1, 10, 100, NULL, 0);
    cr_assert_not_null (chunker);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, -1);
    const char *error = zmr_chunker_error (chunker);
    cr_assert_not_null (strstr (error, path), "error names the path: %s", error);
    cr_assert_not_null (strstr (error, "offset 6"), "error names the offset: %s", error);
    cr_assert_not_null (strstr (error, "longer than"), "%s", error);
    //  What came before the word was handed out whole
    cr_assert_eq (run.count, 1);
    cr_assert_eq (run.chunks [0].len, 6);
    zmr_chunk_t chunk;
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), -1, "the error sticks");
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    free ((char *) path);
}

Test (chunker, missing_file_is_rejected_naming_the_path)
{
    char *good = s_write ("good", "x\n", 2);
    char missing [512];
    snprintf (missing, sizeof (missing), "%s/no-such-file", s_dir);
    const char *paths [2] = { good, missing };
    char err [600] = "";
    cr_assert_null (zmr_chunker_new (paths, 2, 1024, 4096, err, sizeof (err)));
    cr_assert_not_null (strstr (err, missing), "%s", err);
    cr_assert_not_null (strstr (err, "No such file"), "%s", err);
    cr_assert_null (strchr (err, '\n'), "one line");
    free (good);
}

Test (chunker, directory_is_rejected_naming_the_path)
{
    char err [600] = "";
    const char *path = s_dir;
    cr_assert_null (zmr_chunker_new (&path, 1, 1024, 4096, err, sizeof (err)));
    cr_assert_not_null (strstr (err, s_dir), "%s", err);
    cr_assert_not_null (strstr (err, "Is a directory"), "%s", err);
    //  A NULL errbuf is allowed
    cr_assert_null (zmr_chunker_new (&path, 1, 1024, 4096, NULL, 0));
}

Test (chunker, empty_input_gives_no_chunks)
{
    const char *paths [3] = { s_write ("e1", "", 0), s_write ("full", "w \n", 3), s_write ("e2", "", 0) };
    zmr_chunker_t *chunker = zmr_chunker_new (paths, 3, 1024, 4096, NULL, 0);
    cr_assert_not_null (chunker);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0);
    cr_assert_eq (run.count, 1);
    cr_assert_eq (run.chunks [0].input, 1);
    cr_assert_eq (run.chunks [0].len, 3);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);

    chunker = zmr_chunker_new (paths, 1, 1024, 4096, NULL, 0);
    zmr_chunk_t chunk;
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 0);
    zmr_chunker_destroy (&chunker);
    chunker = zmr_chunker_new (NULL, 0, 1024, 4096, NULL, 0);
    cr_assert_not_null (chunker);
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 0, "no inputs, no chunks");
    zmr_chunker_destroy (&chunker);
    for (int at = 0; at < 3; at++)
        free ((char *) paths [at]);
}

Test (chunker, known_bytes_sums_regular_files)
{
    const char *paths [3] = { s_write ("k1", "hello\n", 6), s_write ("k2", "", 0),
                              s_write ("k3", "abc def ghi", 11) };
    zmr_chunker_t *chunker = zmr_chunker_new (paths, 3, 1024, 4096, NULL, 0);
    int all_known = -1;
    cr_assert_eq (zmr_chunker_known_bytes (chunker, &all_known), 17);
    cr_assert_eq (all_known, 1);
    cr_assert_eq (zmr_chunker_bytes_read (chunker), 0);
    s_run_t run = s_run (chunker);
    cr_assert_eq (zmr_chunker_bytes_read (chunker), 17);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);

    const char *with_stdin [2] = { paths [0], "-" };
    chunker = zmr_chunker_new (with_stdin, 2, 1024, 4096, NULL, 0);
    cr_assert_not_null (chunker);
    cr_assert_eq (zmr_chunker_known_bytes (chunker, &all_known), 6);
    cr_assert_eq (all_known, 0, "stdin's size is not known");
    zmr_chunker_destroy (&chunker);
    for (int at = 0; at < 3; at++)
        free ((char *) paths [at]);
}

Test (chunker, dash_reads_standard_input_and_leaves_it_open)
{
    //  Each Criterion test runs in its own process: stdin is ours to replace
    size_t len = 20000;
    char *text = (char *) malloc (len);
    s_random_text (text, len, 11);
    char *path = s_write ("stdin", text, len);
    int fd = open (path, O_RDONLY);
    cr_assert_geq (fd, 0);
    cr_assert_eq (dup2 (fd, 0), 0);
    close (fd);
    const char *dash = "-";
    zmr_chunker_t *chunker = zmr_chunker_new (&dash, 1, 1000, 4096, NULL, 0);
    cr_assert_not_null (chunker);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    cr_assert_gt (run.count, 5);
    s_check_run (&run, (const char *const *) &text, &len, 1, 1000, 4096);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    cr_assert_neq (fcntl (0, F_GETFD), -1, "stdin is still open");
    free (text);
    free (path);
}

//  Starts a child that writes text into the pipe fds in pieces of 1 to 997
//  bytes, so the reader sees short reads, then exits. Returns its pid.
static pid_t
s_writer (int fds [2], const char *text, size_t len)
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        //  Without the read end, the writer ends (EPIPE) if the test dies
        close (fds [0]);
        alarm (20);
        int fd = fds [1];
        size_t at = 0, piece = 1;
        while (at < len) {
            size_t size = piece < len - at ? piece : len - at;
            ssize_t put = write (fd, text + at, size);
            if (put <= 0)
                _exit (1);
            at += (size_t) put;
            piece = piece * 7 % 997 + 1;
        }
        _exit (0);
    }
    return pid;
}

Test (chunker, dash_reads_a_pipe_on_standard_input_through_short_reads)
{
    size_t len = 200000;
    char *text = (char *) malloc (len);
    s_random_text (text, len, 12);
    int fds [2];
    cr_assert_eq (pipe (fds), 0);
    pid_t pid = s_writer (fds, text, len);
    close (fds [1]);
    cr_assert_eq (dup2 (fds [0], 0), 0);
    close (fds [0]);
    const char *dash = "-";
    zmr_chunker_t *chunker = zmr_chunker_new (&dash, 1, 4096, 1 << 20, NULL, 0);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    s_check_run (&run, (const char *const *) &text, &len, 1, 4096, 1 << 20);
    int status;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    free (text);
}

Test (chunker, a_named_pipe_is_not_opened_before_its_turn, .timeout = 10)
{
    char fifo [512];
    snprintf (fifo, sizeof (fifo), "%s/fifo", s_dir);
    cr_assert_eq (mkfifo (fifo, 0600), 0);
    const char *path = fifo;
    //  Opening a FIFO without a writer blocks: new must not do it
    zmr_chunker_t *chunker = zmr_chunker_new (&path, 1, 1024, 4096, NULL, 0);
    cr_assert_not_null (chunker);
    int all_known = 1;
    zmr_chunker_known_bytes (chunker, &all_known);
    cr_assert_eq (all_known, 0);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        alarm (10);             //  Do not outlive a test that never reads
        int fd = open (fifo, O_WRONLY);
        _exit (fd >= 0 && write (fd, "through a fifo\n", 15) == 15 ? 0 : 1);
    }
    zmr_chunk_t chunk;
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 1, "%s", zmr_chunker_error (chunker));
    cr_assert_eq (chunk.len, 15);
    cr_assert_eq (memcmp (chunk.data, "through a fifo\n", 15), 0);
    free (chunk.data);
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 0);
    int status;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "the writer was not cut off");
    zmr_chunker_destroy (&chunker);
}

//  Makes standard input the read end of a pipe that a child fills with
//  text in short pieces; returns the child.
static pid_t
s_stdin_pipe (const char *text, size_t len)
{
    int fds [2];
    cr_assert_eq (pipe (fds), 0);
    pid_t pid = s_writer (fds, text, len);
    close (fds [1]);
    cr_assert_eq (dup2 (fds [0], 0), 0);
    close (fds [0]);
    return pid;
}

Test (chunker, a_spooled_pipe_is_cut_again_the_same_way_after_a_restart)
{
    size_t lens [2] = { 30000, 300000 };
    char *texts [2];
    for (size_t i = 0; i < 2; i++) {
        texts [i] = (char *) malloc (lens [i]);
        s_random_text (texts [i], lens [i], 40 + (unsigned) i);
    }
    char *file = s_write ("file", texts [0], lens [0]);
    pid_t writer = s_stdin_pipe (texts [1], lens [1]);
    const char *paths [2] = { file, "-" };
    char prefix [512];
    snprintf (prefix, sizeof prefix, "%s/spool", s_dir);

    //  A first chunker takes a dozen chunks or more, into the pipe, and dies
    //  with more read than cut: the spool holds bytes past its last chunk
    //  (a chunk that happens to end where a read did leaves none; the next
    //  one most likely does)
    char spool [600];
    snprintf (spool, sizeof spool, "%s.1", prefix);
    struct stat st;
    zmr_chunker_t *first = zmr_chunker_new (paths, 2, 4096, 1 << 20, NULL, 0);
    cr_assert_eq (zmr_chunker_spool (first, prefix, false, NULL, 0), 0);
    zmr_chunk_t cut [40];
    size_t ncut = 0;
    while (ncut < 12 || cut [ncut - 1].input != 1 || stat (spool, &st)
       ||  (uint64_t) st.st_size <= cut [ncut - 1].offset + cut [ncut - 1].len) {
        cr_assert_lt (ncut, 40, "40 chunks and the spool never held more than was cut");
        cr_assert_eq (zmr_chunker_next (first, &cut [ncut]), 1, "%s", zmr_chunker_error (first));
        ncut++;
    }
    zmr_chunker_destroy (&first);

    snprintf (spool, sizeof spool, "%s.0", prefix);
    cr_assert_neq (access (spool, F_OK), 0, "a regular file was spooled");
    snprintf (spool, sizeof spool, "%s.1", prefix);
    cr_assert_eq (stat (spool, &st), 0, "the pipe's spool is gone");
    cr_assert_gt ((uint64_t) st.st_size, cut [ncut - 1].offset + cut [ncut - 1].len);

    //  The next one is told where those were cut and gets the rest of the
    //  pipe: together they are the whole input, the first ones unchanged
    zmr_chunker_t *second = zmr_chunker_new (paths, 2, 4096, 1 << 20, NULL, 0);
    cr_assert_eq (zmr_chunker_spool (second, prefix, true, NULL, 0), 0);
    for (size_t i = 0; i < ncut; i++)
        cr_assert_eq (zmr_chunker_replay (second, cut [i].input, cut [i].offset, cut [i].len), 0);
    s_run_t run = s_run (second);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (second));
    s_check_run (&run, (const char *const *) texts, lens, 2, 4096, 1 << 20);
    for (size_t i = 0; i < ncut; i++) {
        cr_assert_eq (run.chunks [i].input, cut [i].input);
        cr_assert_eq (run.chunks [i].offset, cut [i].offset);
        cr_assert_eq (run.chunks [i].len, cut [i].len, "chunk %zu was cut elsewhere", i);
        free (cut [i].data);
    }
    zmr_chunker_remove_spools (second);
    cr_assert_neq (access (spool, F_OK), 0, "the spool was not removed");
    int status;
    cr_assert_eq (waitpid (writer, &status, 0), writer);
    s_run_free (&run);
    zmr_chunker_destroy (&second);
    free (file);
    for (size_t i = 0; i < 2; i++)
        free (texts [i]);
}

Test (chunker, a_new_job_empties_an_old_spool)
{
    char prefix [512];
    snprintf (prefix, sizeof prefix, "%s/spool", s_dir);
    free (s_write ("spool.0", "left over from another job ", 27));
    const char *text = "only this\n";
    pid_t writer = s_stdin_pipe (text, 10);
    const char *dash = "-";
    zmr_chunker_t *chunker = zmr_chunker_new (&dash, 1, 4096, 1 << 20, NULL, 0);
    cr_assert_eq (zmr_chunker_spool (chunker, prefix, false, NULL, 0), 0);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    size_t len = 10;
    s_check_run (&run, &text, &len, 1, 4096, 1 << 20);
    int status;
    cr_assert_eq (waitpid (writer, &status, 0), writer);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
}

Test (chunker, an_input_that_is_not_the_one_cut_before_is_an_error_naming_it)
{
    char *path = s_write ("short", "now shorter than it was\n", 24);
    const char *paths [1] = { path };
    zmr_chunker_t *chunker = zmr_chunker_new (paths, 1, 16, 1024, NULL, 0);
    cr_assert_eq (zmr_chunker_replay (chunker, 0, 0, 20), 0);
    cr_assert_eq (zmr_chunker_replay (chunker, 0, 20, 30), 0);
    zmr_chunk_t chunk;
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 1);
    cr_assert_eq (chunk.len, 20);
    free (chunk.data);
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), -1);
    cr_assert_not_null (strstr (zmr_chunker_error (chunker), "short"),
                        "%s", zmr_chunker_error (chunker));
    cr_assert_not_null (strstr (zmr_chunker_error (chunker), "not the same input"));
    zmr_chunker_destroy (&chunker);
    free (path);

    //  And a cut the chunker is told of that is not where it stands now
    path = s_write ("other", "abc def ghi\n", 12);
    paths [0] = path;
    chunker = zmr_chunker_new (paths, 1, 4, 1024, NULL, 0);
    cr_assert_eq (zmr_chunker_replay (chunker, 0, 4, 4), 0);
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), -1);
    cr_assert_not_null (strstr (zmr_chunker_error (chunker), "not the same input"));
    cr_assert_eq (zmr_chunker_replay (chunker, 0, 0, 0), -1, "an empty cut was taken");
    zmr_chunker_destroy (&chunker);
    free (path);
}

//  Fills in the bytes of every chunk by reference from its file, checking
//  that it names that file (device and inode).
static void
s_materialize (s_run_t *run, const char *const *paths)
{
    for (size_t at = 0; at < run->count; at++) {
        zmr_chunk_t *chunk = &run->chunks [at];
        if (chunk->data)
            continue;
        struct stat st;
        cr_assert_eq (stat (paths [chunk->input], &st), 0);
        cr_assert (chunk->device == (uint64_t) st.st_dev && chunk->inode == (uint64_t) st.st_ino,
                   "chunk %zu does not name its file", at);
        chunk->data = (char *) malloc (chunk->len);
        int fd = open (paths [chunk->input], O_RDONLY);
        cr_assert_eq (pread (fd, chunk->data, chunk->len, (off_t) chunk->offset),
                      (ssize_t) chunk->len);
        close (fd);
    }
}

Test (chunker, by_reference_files_come_without_bytes_and_join_exactly)
{
    size_t lens [4] = { 100000, 1, 33333, 20000 };
    char *texts [4];
    const char *paths [4];
    for (int input = 0; input < 4; input++) {
        texts [input] = (char *) malloc (lens [input]);
        s_random_text (texts [input], lens [input], 70u + (unsigned) input);
        char name [16];
        snprintf (name, sizeof (name), "in%d", input);
        paths [input] = input == 3? "-": s_write (name, texts [input], lens [input]);
    }
    const size_t sizes [] = { 1, 2, 7, 64, 1000, 4096, 65536, 1 << 20 };
    for (size_t at = 0; at < sizeof (sizes) / sizeof (sizes [0]); at++) {
        pid_t writer = s_stdin_pipe (texts [3], lens [3]);
        zmr_chunker_t *chunker = zmr_chunker_new (paths, 4, sizes [at], 1 << 20, NULL, 0);
        zmr_chunker_set_by_reference (chunker, true);
        s_run_t run = s_run (chunker);
        cr_assert_eq (run.last_rc, 0, "chunk size %zu: %s", sizes [at], zmr_chunker_error (chunker));
        for (size_t k = 0; k < run.count; k++)
            cr_assert ((run.chunks [k].data == NULL) == (run.chunks [k].input != 3),
                       "chunk %zu of input %u: by reference if and only if from a file",
                       k, run.chunks [k].input);
        s_materialize (&run, paths);
        s_check_run (&run, (const char *const *) texts, lens, 4, sizes [at], 1 << 20);
        for (size_t k = 0; k < run.count; k++)
            cr_assert_lt (run.chunks [k].len, 2 * sizes [at] + 64,
                          "chunk of %zu bytes for chunk size %zu", run.chunks [k].len, sizes [at]);
        int status;
        cr_assert_eq (waitpid (writer, &status, 0), writer);
        s_run_free (&run);
        zmr_chunker_destroy (&chunker);
    }
    for (int input = 0; input < 4; input++) {
        free (texts [input]);
        if (input != 3)
            free ((char *) paths [input]);
    }
}

Test (chunker, by_reference_long_words_are_whole_or_an_error)
{
    //  A 4 MiB word among short ones, and the case where the long word
    //  must get a chunk of its own
    char *text;
    size_t len;
    const char *path = s_long_word_file (&text, &len);
    zmr_chunker_t *chunker = zmr_chunker_new (&path, 1, 64 << 10, 64u << 20, NULL, 0);
    zmr_chunker_set_by_reference (chunker, true);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    s_materialize (&run, &path);
    s_check_run (&run, (const char *const *) &text, &len, 1, 64 << 10, 64u << 20);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    free ((char *) path);

    char small [200];
    memcpy (small, "aa bb ", 6);
    memset (small + 6, 'x', 97);
    memcpy (small + 103, " cc", 3);
    path = s_write ("long", small, 106);
    chunker = zmr_chunker_new (&path, 1, 10, 100, NULL, 0);
    zmr_chunker_set_by_reference (chunker, true);
    run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    //  The word cannot join "aa bb " (106 > 100 bytes); the rest fits one
    cr_assert_eq (run.count, 2);
    cr_assert (run.chunks [0].len == 6 && run.chunks [1].len == 100);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);

    //  One byte more than max_chunk allows
    chunker = zmr_chunker_new (&path, 1, 10, 96, NULL, 0);
    zmr_chunker_set_by_reference (chunker, true);
    run = s_run (chunker);
    cr_assert_eq (run.last_rc, -1);
    cr_assert_not_null (strstr (zmr_chunker_error (chunker), "word longer than 96 bytes"),
                        "%s", zmr_chunker_error (chunker));
    cr_assert_not_null (strstr (zmr_chunker_error (chunker), "offset 6"),
                        "%s", zmr_chunker_error (chunker));
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    free ((char *) path);
    free (text);
}

Test (chunker, by_reference_replays_cuts_and_catches_a_shorter_file)
{
    size_t len = 50000;
    char *text = (char *) malloc (len);
    s_random_text (text, len, 9);
    const char *path = s_write ("file", text, len);
    zmr_chunker_t *chunker = zmr_chunker_new (&path, 1, 3000, 1 << 20, NULL, 0);
    zmr_chunker_set_by_reference (chunker, true);
    //  Cuts made by bytes, replayed by reference: the same chunks
    cr_assert_eq (zmr_chunker_replay (chunker, 0, 0, 4000), 0);
    cr_assert_eq (zmr_chunker_replay (chunker, 0, 4000, 10), 0);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    cr_assert (run.chunks [0].len == 4000 && run.chunks [1].offset == 4000
               && run.chunks [1].len == 10);
    s_materialize (&run, &path);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);

    chunker = zmr_chunker_new (&path, 1, 3000, 1 << 20, NULL, 0);
    zmr_chunker_set_by_reference (chunker, true);
    cr_assert_eq (zmr_chunker_replay (chunker, 0, 0, len + 1), 0);
    zmr_chunk_t chunk;
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), -1);
    cr_assert_not_null (strstr (zmr_chunker_error (chunker), "not the same input"),
                        "%s", zmr_chunker_error (chunker));
    zmr_chunker_destroy (&chunker);
    free ((char *) path);
    free (text);
}

//  After a journal written anew, a restarted ventilator's chunker starts
//  where the first chunk not done starts: earlier inputs are skipped, and
//  so is the start of that input; a place past its end fails, naming it.
Test (chunker, seek_starts_reading_at_an_input_and_offset)
{
    char *first = s_write ("first.txt", "skipped whole\n", 14);
    char *second = s_write ("second.txt", "skipped part kept words\n", 24);
    const char *paths[] = { first, second };
    for (int by_reference = 0; by_reference < 2; by_reference++) {
        zmr_chunker_t *chunker = zmr_chunker_new (paths, 2, 1024, 4096, NULL, 0);
        cr_assert_not_null (chunker);
        zmr_chunker_set_by_reference (chunker, by_reference);
        cr_assert_eq (zmr_chunker_seek (chunker, 1, 13), 0);
        zmr_chunk_t chunk;
        cr_assert_eq (zmr_chunker_next (chunker, &chunk), 1, "%s", zmr_chunker_error (chunker));
        cr_assert (chunk.input == 1 && chunk.offset == 13 && chunk.len == 11,
                   "input %u offset %llu length %zu", chunk.input,
                   (unsigned long long) chunk.offset, chunk.len);
        if (!by_reference)
            cr_assert (memcmp (chunk.data, "kept words\n", 11) == 0);
        free (chunk.data);
        cr_assert_eq (zmr_chunker_next (chunker, &chunk), 0);
        cr_assert_eq (zmr_chunker_seek (chunker, 0, 0), -1, "a seek once reading began");
        zmr_chunker_destroy (&chunker);
    }
    zmr_chunker_t *chunker = zmr_chunker_new (paths, 2, 1024, 4096, NULL, 0);
    cr_assert_eq (zmr_chunker_seek (chunker, 2, 0), -1, "a seek to an input not given");
    cr_assert_eq (zmr_chunker_seek (chunker, 1, 25), 0);
    zmr_chunk_t chunk;
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), -1);
    cr_assert (strstr (zmr_chunker_error (chunker), "cannot resume at offset 25"), "%s",
               zmr_chunker_error (chunker));
    zmr_chunker_destroy (&chunker);
    free (first);
    free (second);
}

//  --------------------------------------------------------------------------
//  Cutting at line ends (the records of command and plugin jobs)

//  The promises of line cuts for a run over inputs: chunks come input by
//  input, contiguous from offset 0, and join into each input exactly; each
//  ends just after a '\n' or at its input's end (no line is split), is at
//  most max_chunk bytes, and at least chunk_size unless it is its input's
//  last or ends before a line too long to join it.
static void
s_check_lines (s_run_t *run, const char *const *inputs, const size_t *lens,
               size_t ninputs, size_t chunk_size, size_t max_chunk)
{
    size_t at = 0;
    for (size_t input = 0; input < ninputs; input++) {
        uint64_t offset = 0;
        while (at < run->count && run->chunks [at].input == input) {
            zmr_chunk_t *chunk = &run->chunks [at];
            cr_assert_gt (chunk->len, 0, "chunk %zu is empty", at);
            cr_assert_leq (chunk->len, max_chunk, "chunk %zu: %zu bytes", at, chunk->len);
            cr_assert_eq (chunk->offset, offset, "chunk %zu: offset %llu, expected %llu",
                          at, (unsigned long long) chunk->offset, (unsigned long long) offset);
            cr_assert_leq (offset + chunk->len, lens [input], "chunk %zu runs past its input", at);
            cr_assert_eq (memcmp (chunk->data, inputs [input] + offset, chunk->len), 0,
                          "chunk %zu differs from its input", at);
            offset += chunk->len;
            bool at_end = offset == lens [input];
            cr_assert (at_end || chunk->data [chunk->len - 1] == '\n',
                       "chunk %zu of input %zu ends inside a line, at %llu", at, input,
                       (unsigned long long) offset);
            if (!at_end && chunk->len < chunk_size) {
                //  Short only to give a long line a chunk of its own: no
                //  chunk of chunk_size to max_chunk bytes could end here
                size_t from = chunk->offset + chunk_size - 1;
                size_t to = chunk->offset + max_chunk;
                if (to > lens [input])
                    to = lens [input];
                cr_assert (from >= to || !memchr (inputs [input] + from, '\n', to - from),
                           "chunk %zu is short (%zu bytes), not its input's last, and a "
                           "longer one could end at a line", at, chunk->len);
            }
            at++;
        }
        cr_assert_eq (offset, lens [input], "input %zu: chunks cover %llu of %zu bytes", input,
                      (unsigned long long) offset, lens [input]);
    }
    cr_assert_eq (at, run->count, "chunks of inputs that do not exist");
}

//  Reads path whole; returns its bytes (the caller's to free), *len its size.
static char *
s_read_file (const char *path, size_t *len)
{
    FILE *file = fopen (path, "rb");
    cr_assert_not_null (file, "%s", path);
    cr_assert_eq (fseek (file, 0, SEEK_END), 0);
    *len = (size_t) ftell (file);
    rewind (file);
    char *bytes = (char *) malloc (*len + 1);
    cr_assert_eq (fread (bytes, 1, *len, file), *len);
    fclose (file);
    return bytes;
}

//  python3 writes line files into the test directory: lines from empty to
//  max_content bytes (with CRLF ends, control and high bytes, NUL), some
//  files without a final '\n', one empty, one of empty lines only.
#define S_LINE_FILES 7

static void
s_python_lines (size_t max_content, const char *paths [S_LINE_FILES],
                char *texts [S_LINE_FILES], size_t lens [S_LINE_FILES])
{
    char command [2048];
    snprintf (command, sizeof command,
        "python3 -c '\n"
        "import random, sys\n"
        "d, most = sys.argv[1], int(sys.argv[2])\n"
        "r = random.Random(16)\n"
        "alphabet = bytes(b for b in range(256) if b != 10)\n"
        "def line():\n"
        "    k = r.random()\n"
        "    n = 0 if k < 0.15 else r.randint(1, 40) if k < 0.8 else r.randint(41, most)\n"
        "    text = bytes(r.choice(alphabet) for _ in range(n))\n"
        "    if r.random() < 0.3 and n < most:\n"
        "        text += b\"\\r\"\n"
        "    return text + b\"\\n\"\n"
        "for f in range(%d):\n"
        "    data = b\"\".join(line() for _ in range(r.randint(300, 900)))\n"
        "    if f == 1: data = b\"\"\n"
        "    if f == 2: data = b\"\\n\" * 5000\n"
        "    if f in (3, 5): data += bytes(r.choice(alphabet) for _ in range(r.randint(1, most)))\n"
        "    if f == 6: data = bytes(r.choice(alphabet) for _ in range(most))\n"
        "    open(\"%%s/lines%%d\" %% (d, f), \"wb\").write(data)\n"
        "' %s %zu", S_LINE_FILES, s_dir, max_content);
    cr_assert_eq (system (command), 0, "python3 failed");
    for (int f = 0; f < S_LINE_FILES; f++) {
        char *path = (char *) malloc (512);
        snprintf (path, 512, "%s/lines%d", s_dir, f);
        paths [f] = path;
        texts [f] = s_read_file (path, &lens [f]);
    }
    cr_assert_eq (lens [1], 0);
    cr_assert_neq (texts [3][lens [3] - 1], '\n', "no final newline");
}

Test (chunker, lines_mode_cuts_random_files_after_newlines_only)
{
    const size_t max_chunk = 2048;
    const char *paths [S_LINE_FILES];
    char *texts [S_LINE_FILES];
    size_t lens [S_LINE_FILES];
    //  Lines with their '\n' up to max_chunk bytes: all fit
    s_python_lines (max_chunk - 1, paths, texts, lens);
    const size_t sizes [] = { 1, 7, 100, 1000, 2048 };
    for (size_t at = 0; at < sizeof sizes / sizeof *sizes; at++)
        for (int by_reference = 0; by_reference < 2; by_reference++) {
            zmr_chunker_t *chunker = zmr_chunker_new (paths, S_LINE_FILES, sizes [at],
                                                      max_chunk, NULL, 0);
            cr_assert_not_null (chunker);
            zmr_chunker_set_cut (chunker, ZMR_CUT_LINES);
            zmr_chunker_set_by_reference (chunker, by_reference);
            s_run_t run = s_run (chunker);
            cr_assert_eq (run.last_rc, 0, "chunk size %zu: %s", sizes [at],
                          zmr_chunker_error (chunker));
            s_materialize (&run, paths);
            s_check_lines (&run, (const char *const *) texts, lens, S_LINE_FILES,
                           sizes [at], max_chunk);
            s_run_free (&run);
            zmr_chunker_destroy (&chunker);
        }
    //  One of them through a pipe on standard input, read in short pieces
    pid_t writer = s_stdin_pipe (texts [0], lens [0]);
    const char *dash = "-";
    zmr_chunker_t *chunker = zmr_chunker_new (&dash, 1, 500, max_chunk, NULL, 0);
    zmr_chunker_set_cut (chunker, ZMR_CUT_LINES);
    s_run_t run = s_run (chunker);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (chunker));
    s_check_lines (&run, (const char *const *) texts, lens, 1, 500, max_chunk);
    int status;
    cr_assert_eq (waitpid (writer, &status, 0), writer);
    s_run_free (&run);
    zmr_chunker_destroy (&chunker);
    for (int f = 0; f < S_LINE_FILES; f++) {
        free ((char *) paths [f]);
        free (texts [f]);
    }
}

Test (chunker, lines_mode_fails_a_line_longer_than_max_chunk_naming_input_and_offset)
{
    const size_t max_chunk = 1000;
    //  Lines of exactly max_chunk bytes with their '\n' fit, and so does a
    //  last line of max_chunk bytes without one; one byte more fails
    char *text = (char *) malloc (4 * max_chunk);
    size_t len = 0;
    for (int i = 0; i < 30; i++)
        len += (size_t) sprintf (text + len, "line %d\n", i);
    size_t fits_at = len;
    memset (text + len, 'a', max_chunk - 1);
    len += max_chunk - 1;
    text [len++] = '\n';
    text [len++] = '\n';
    size_t long_at = len;
    memset (text + len, 'b', max_chunk);
    len += max_chunk;
    text [len++] = '\n';
    memcpy (text + len, "after\n", 6);
    len += 6;
    char *bad = s_write ("bad lines", text, len);
    char *good = s_write ("good", text, long_at);
    char *last = s_write ("last", text + long_at, max_chunk);
    char want [700];
    snprintf (want, sizeof want, "line longer than %zu bytes at %s:%zu", max_chunk, bad, long_at);
    for (int by_reference = 0; by_reference < 2; by_reference++)
        for (size_t chunk_size = 1; chunk_size <= max_chunk; chunk_size += 333) {
            const char *paths [3] = { good, last, bad };
            zmr_chunker_t *chunker = zmr_chunker_new (paths, 3, chunk_size, max_chunk, NULL, 0);
            zmr_chunker_set_cut (chunker, ZMR_CUT_LINES);
            zmr_chunker_set_by_reference (chunker, by_reference);
            s_run_t run = s_run (chunker);
            cr_assert_eq (run.last_rc, -1, "a line of %zu bytes was taken", max_chunk + 1);
            cr_assert_str_eq (zmr_chunker_error (chunker), want);
            s_materialize (&run, paths);
            //  Up to the long line, the chunks are right: the whole first
            //  two inputs, and the third up to the line
            size_t lens [3] = { long_at, max_chunk, long_at };
            const char *texts [3] = { text, text + long_at, text };
            s_check_lines (&run, texts, lens, 3, chunk_size, max_chunk);
            bool whole = false;
            for (size_t k = 0; k < run.count; k++)
                whole |= run.chunks [k].input == 0 && run.chunks [k].offset <= fits_at
                      && run.chunks [k].offset + run.chunks [k].len >= fits_at + max_chunk;
            cr_assert (whole, "the line of max_chunk bytes is not whole in one chunk");
            cr_assert_eq (zmr_chunker_next (chunker, &(zmr_chunk_t) { 0 }), -1, "fails again");
            s_run_free (&run);
            zmr_chunker_destroy (&chunker);
        }
    free (bad);
    free (good);
    free (last);
    free (text);
}

//  A child that writes text to fd, waits for a byte on go, then writes more
//  and exits: a stream that pauses. Returns its pid.
static pid_t
s_pausing_writer (int fd, int go, const char *text, const char *more)
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        alarm (20);
        char byte;
        if (write (fd, text, strlen (text)) != (ssize_t) strlen (text) || read (go, &byte, 1) != 1
        ||  write (fd, more, strlen (more)) != (ssize_t) strlen (more))
            _exit (1);
        _exit (0);
    }
    return pid;
}

Test (chunker, lines_mode_flushes_a_stream_at_its_last_newline, .timeout = 30)
{
    int data [2], go [2];
    cr_assert_eq (pipe (data), 0);
    cr_assert_eq (pipe (go), 0);
    pid_t writer = s_pausing_writer (data [1], go [0], "one two\nthree four", " five\nsix");
    close (data [1]);
    close (go [0]);
    cr_assert_eq (dup2 (data [0], 0), 0);
    close (data [0]);
    const char *dash = "-";
    zmr_chunker_t *chunker = zmr_chunker_new (&dash, 1, 4096, 1 << 16, NULL, 0);
    zmr_chunker_set_cut (chunker, ZMR_CUT_LINES);
    zmr_chunker_set_nonblocking (chunker, true);
    zmr_chunk_t chunk;
    //  Wait (bounded) until the first piece is all pending
    for (int tries = 0; zmr_chunker_pending (chunker) < 18; tries++) {
        cr_assert_lt (tries, 2000, "the stream's first piece never came");
        int rc = zmr_chunker_next (chunker, &chunk);
        cr_assert_eq (rc, 2, "%s", zmr_chunker_error (chunker));
        if (zmr_chunker_pending (chunker) < 18)
            usleep (5000);
    }
    cr_assert_eq (zmr_chunker_flush (chunker, &chunk), 1);
    cr_assert_eq (chunk.len, 8);
    cr_assert_eq (memcmp (chunk.data, "one two\n", 8), 0, "not cut at the newline");
    cr_assert_eq (chunk.offset, 0);
    free (chunk.data);
    cr_assert_eq (zmr_chunker_flush (chunker, &chunk), 0, "a line without its end was cut");
    cr_assert_eq (zmr_chunker_pending (chunker), 10);

    //  The rest comes, and the stream ends: its last line has no '\n' and
    //  is a record all the same, at the end of the last chunk
    cr_assert_eq (write (go [1], "g", 1), 1);
    close (go [1]);
    int rc;
    for (int tries = 0; (rc = zmr_chunker_next (chunker, &chunk)) == 2; tries++) {
        cr_assert_lt (tries, 4000, "the stream never ended");
        usleep (5000);
    }
    cr_assert_eq (rc, 1, "%s", zmr_chunker_error (chunker));
    cr_assert_eq (chunk.offset, 8);
    cr_assert_eq (chunk.len, 19);
    cr_assert_eq (memcmp (chunk.data, "three four five\nsix", 19), 0);
    free (chunk.data);
    cr_assert_eq (zmr_chunker_next (chunker, &chunk), 0);
    int status;
    cr_assert_eq (waitpid (writer, &status, 0), writer);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    zmr_chunker_destroy (&chunker);
}

Test (chunker, lines_mode_a_spooled_pipe_is_cut_again_the_same_way_after_a_restart)
{
    const char *paths [S_LINE_FILES];
    char *texts [S_LINE_FILES];
    size_t lens [S_LINE_FILES];
    s_python_lines (4000, paths, texts, lens);
    pid_t writer = s_stdin_pipe (texts [0], lens [0]);
    const char *dash = "-";
    char prefix [512];
    snprintf (prefix, sizeof prefix, "%s/spool", s_dir);

    //  A first chunker cuts a few chunks of the pipe and dies
    zmr_chunker_t *first = zmr_chunker_new (&dash, 1, 1024, 8192, NULL, 0);
    zmr_chunker_set_cut (first, ZMR_CUT_LINES);
    cr_assert_eq (zmr_chunker_spool (first, prefix, false, NULL, 0), 0);
    zmr_chunk_t cut [8];
    for (size_t i = 0; i < 8; i++) {
        cr_assert_eq (zmr_chunker_next (first, &cut [i]), 1, "%s", zmr_chunker_error (first));
        cr_assert_eq (cut [i].data [cut [i].len - 1], '\n');
    }
    zmr_chunker_destroy (&first);

    //  The next one replays them and cuts the rest of the pipe at lines
    zmr_chunker_t *second = zmr_chunker_new (&dash, 1, 1024, 8192, NULL, 0);
    zmr_chunker_set_cut (second, ZMR_CUT_LINES);
    cr_assert_eq (zmr_chunker_spool (second, prefix, true, NULL, 0), 0);
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq (zmr_chunker_replay (second, cut [i].input, cut [i].offset, cut [i].len), 0);
    s_run_t run = s_run (second);
    cr_assert_eq (run.last_rc, 0, "%s", zmr_chunker_error (second));
    s_check_lines (&run, (const char *const *) texts, lens, 1, 1024, 8192);
    for (size_t i = 0; i < 8; i++) {
        cr_assert (run.chunks [i].offset == cut [i].offset && run.chunks [i].len == cut [i].len,
                   "chunk %zu was cut elsewhere", i);
        free (cut [i].data);
    }
    zmr_chunker_remove_spools (second);
    int status;
    cr_assert_eq (waitpid (writer, &status, 0), writer);
    s_run_free (&run);
    zmr_chunker_destroy (&second);
    for (int f = 0; f < S_LINE_FILES; f++) {
        free ((char *) paths [f]);
        free (texts [f]);
    }
}
