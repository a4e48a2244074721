/*  Event time (issue 17 item 3): lib/zmr_evtime against an independent
    reference, tests/evtime_reference.py (python's datetime formats the
    times, regular expressions read them back, and the lateness rule is the
    issue's: late when below the largest time before it minus the
    lateness), and the mapper's zmr_evmap against the same reference's
    batches (SHA-1 partitions, runs, side keys). */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "zmr.h"
#include "zmr_evmap.h"
#include "zmr_evtime.h"

static char s_dir[256];

static void
s_setup (void)
{
    const char *tmp = getenv ("TMPDIR");
    snprintf (s_dir, sizeof s_dir, "%s/zmr-evtime-XXXXXX", tmp && *tmp? tmp: "/tmp");
    cr_assert (mkdtemp (s_dir), "cannot make a temp dir");
}

static int
s_unlink (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove (path);
}

static void
s_teardown (void)
{
    if (s_dir[0])
        nftw (s_dir, s_unlink, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite (evtime, .init = s_setup, .fini = s_teardown, .timeout = 240);

//  The reference's output for args (a shell command line's tail), whole.
static char *
s_reference (const char *args, size_t *len)
{
    char command[1024];
    snprintf (command, sizeof command, "python3 '%s/tests/evtime_reference.py' %s",
              ZMR_SOURCE_DIR, args);
    FILE *pipe = popen (command, "r");
    cr_assert (pipe, "cannot run %s", command);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc (cap);
    cr_assert (out);
    size_t got;
    while ((got = fread (out + n, 1, cap - n - 1, pipe)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            out = realloc (out, cap);
            cr_assert (out);
        }
    }
    cr_assert_eq (pclose (pipe), 0, "the reference failed: %s", command);
    out[n] = 0;
    *len = n;
    return out;
}

//  hex into out (room for strlen (hex) / 2); returns the bytes
static size_t
s_unhex (const char *hex, size_t n, char *out)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned byte;
        cr_assert_eq (sscanf (hex + i, "%2x", &byte), 1);
        out[i / 2] = (char) byte;
    }
    return n / 2;
}

static void
s_hex (const char *data, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf (out + 2 * i, "%02x", (uint8_t) data[i]);
    out[2 * n] = 0;
}

Test (evtime, parse_agrees_with_python_datetime_on_random_times)
{
    size_t len;
    char *out = s_reference ("parse 1717 3000", &len);
    size_t cases = 0, rejected = 0;
    char *save = NULL;
    for (char *l = strtok_r (out, "\n", &save); l; l = strtok_r (NULL, "\n", &save)) {
        int format;
        char hex[1024], expect[32];
        size_t tok, tok_len;
        cr_assert_eq (sscanf (l, "%d %1023s %31s %zu %zu", &format, hex, expect, &tok,
                              &tok_len), 5, "bad reference line: %s", l);
        char line[512];
        size_t n = s_unhex (hex, strlen (hex), line);
        uint64_t ms = 0;
        size_t got_tok = 99, got_len = 99;
        bool ok = zmr_evtime_parse (format, line, n, &ms, &got_tok, &got_len);
        if (strcmp (expect, "-") == 0) {
            cr_assert (!ok, "%s '%.*s' parsed as %llu, python says no time",
                       zmr_evtime_format_name (format), (int) n, line,
                       (unsigned long long) ms);
            cr_assert_eq (got_tok + got_len, 0);
            rejected++;
        }
        else {
            uint64_t want = strtoull (expect, NULL, 10);
            cr_assert (ok, "%s '%.*s' not parsed, python says %llu",
                       zmr_evtime_format_name (format), (int) n, line,
                       (unsigned long long) want);
            cr_assert_eq (ms, want, "%s '%.*s': %llu, python says %llu",
                          zmr_evtime_format_name (format), (int) n, line,
                          (unsigned long long) ms, (unsigned long long) want);
            cr_assert (got_tok == tok && got_len == tok_len, "%s '%.*s': token at %zu+%zu, "
                       "python says %zu+%zu", zmr_evtime_format_name (format), (int) n, line,
                       got_tok, got_len, tok, tok_len);
        }
        cases++;
    }
    cr_assert_eq (cases, 9000);
    cr_assert (rejected > 100 && rejected < 3000, "%zu rejected: the cases test too little",
               rejected);
    free (out);
}

typedef struct {
    int format;
    const char *line;
    bool ok;
    uint64_t ms;
} s_case_t;

Test (evtime, parse_rejects_what_is_not_a_whole_real_time)
{
    static const s_case_t cases[] = {
        //  Accepted, next to the rejections that differ in one thing
        { ZMR_EVTIME_RFC3339, "2024-02-29T00:00:00Z x", true, 1709164800000ull },
        { ZMR_EVTIME_RFC3339, "2023-04-30T23:59:59.9999+00:00", true, 1682899199999ull },
        { ZMR_EVTIME_RFC3339, "1970-01-01T00:59:59+01:00", false, 0 },  //  1969 in UTC
        { ZMR_EVTIME_RFC3339, "1970-01-01T01:00:00+01:00", true, 0 },
        { ZMR_EVTIME_EPOCH, "1.123456789 x", true, 1123 },
        { ZMR_EVTIME_EPOCH, "253402300799.999", true, 253402300799999ull },
        { ZMR_EVTIME_CLF, "h - - [10/oct/2000:13:55:36 -0700] \"GET\"", true, 971211336000ull },
        //  Rejected
        { ZMR_EVTIME_RFC3339, "2024-13-01T00:00:00Z", false, 0 },        //  month 13
        { ZMR_EVTIME_RFC3339, "2024-00-01T00:00:00Z", false, 0 },
        { ZMR_EVTIME_RFC3339, "2023-04-31T00:00:00Z", false, 0 },        //  April 31
        { ZMR_EVTIME_RFC3339, "2023-02-29T00:00:00Z", false, 0 },        //  not leap
        { ZMR_EVTIME_RFC3339, "2100-02-29T00:00:00Z", false, 0 },       //  not leap (100)
        { ZMR_EVTIME_RFC3339, "1969-12-31T23:59:59Z", false, 0 },        //  1969
        { ZMR_EVTIME_RFC3339, "10000-01-01T00:00:00Z", false, 0 },       //  year 10000
        { ZMR_EVTIME_RFC3339, "9999-12-31T23:59:59-00:01", false, 0 },   //  10000 in UTC
        { ZMR_EVTIME_RFC3339, "2024-01-01T00:00:000Z", false, 0 },       //  a digit too many
        { ZMR_EVTIME_RFC3339, "2024-01-01T00:00:00Zjunk", false, 0 },    //  trailing junk
        { ZMR_EVTIME_RFC3339, "2024-01-01T00:00:00", false, 0 },         //  no zone
        { ZMR_EVTIME_RFC3339, "2024-01-01T24:00:00Z", false, 0 },
        { ZMR_EVTIME_RFC3339, "2024-01-01T00:00:00.1234567890Z", false, 0 },  //  10 digits
        { ZMR_EVTIME_RFC3339, "2024-01-01T00:00:00.Z", false, 0 },
        { ZMR_EVTIME_EPOCH, "1.1234567890", false, 0 },                  //  10 digits
        { ZMR_EVTIME_EPOCH, "1700000000x", false, 0 },                   //  trailing junk
        { ZMR_EVTIME_EPOCH, "1700000000.", false, 0 },
        { ZMR_EVTIME_EPOCH, "-1", false, 0 },
        { ZMR_EVTIME_EPOCH, "253402300800", false, 0 },                  //  year 10000
        { ZMR_EVTIME_EPOCH, "0001700000000", false, 0 },                 //  a digit too many
        { ZMR_EVTIME_EPOCH, "x 1700000000", false, 0 },                  //  not the first field
        { ZMR_EVTIME_CLF, "h [10/Oct/2000:13:55:36 -0700", false, 0 },   //  missing ']'
        { ZMR_EVTIME_CLF, "h [10/Oct/2000:13:55:36 -07000]", false, 0 }, //  a digit too many
        { ZMR_EVTIME_CLF, "h [10/Okt/2000:13:55:36 -0700]", false, 0 },  //  bad month
        { ZMR_EVTIME_CLF, "h [31/Apr/2000:13:55:36 +0000]", false, 0 },  //  April 31
        { ZMR_EVTIME_CLF, "h [29/Feb/2001:13:55:36 +0000]", false, 0 },  //  not leap
        { ZMR_EVTIME_CLF, "h [31/Dec/1969:23:59:59 +0000]", false, 0 },  //  1969
        { ZMR_EVTIME_CLF, "h [01/Jan/10000:00:00:00 +0000]", false, 0 },
        { ZMR_EVTIME_CLF, "h [x] [10/Oct/2000:13:55:36 -0700]", false, 0 },  //  the first '['
        { ZMR_EVTIME_CLF, "no bracket at all", false, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const s_case_t *c = &cases[i];
        uint64_t ms = 0;
        size_t tok, tok_len;
        bool ok = zmr_evtime_parse (c->format, c->line, strlen (c->line), &ms, &tok, &tok_len);
        cr_expect_eq (ok, c->ok, "%s '%s': %s", zmr_evtime_format_name (c->format), c->line,
                      ok? "parsed": "not parsed");
        if (ok && c->ok)
            cr_expect_eq (ms, c->ms, "%s '%s': %llu, expected %llu",
                          zmr_evtime_format_name (c->format), c->line,
                          (unsigned long long) ms, (unsigned long long) c->ms);
    }
    //  Only the line's bytes are read: the same time cut short is no time
    const char *line = "2024-01-01T00:00:00Z";
    uint64_t ms;
    size_t tok, tok_len;
    cr_assert (!zmr_evtime_parse (ZMR_EVTIME_RFC3339, line, strlen (line) - 1, &ms, &tok,
                                  &tok_len));
}

//  One record zmr_evtime_scan reported
typedef struct {
    size_t chunk, index;
    int kind;
    uint64_t ms, pane;
    const char *line;
    size_t len, tok, tok_len;
} s_rec_t;

typedef struct {
    s_rec_t *recs;
    size_t n, cap, chunk;
} s_recs_t;

static int
s_collect (const zmr_evline_t *line, void *arg)
{
    s_recs_t *recs = (s_recs_t *) arg;
    if (recs->n == recs->cap) {
        recs->cap = recs->cap? 2 * recs->cap: 256;
        recs->recs = realloc (recs->recs, recs->cap * sizeof *recs->recs);
        cr_assert (recs->recs);
    }
    recs->recs[recs->n++] = (s_rec_t) {
        .chunk = recs->chunk, .index = line->index, .kind = line->kind, .ms = line->ms,
        .pane = line->pane, .line = line->line, .len = line->len, .tok = line->tok,
        .tok_len = line->tok_len };
    return 0;
}

static void
s_scan_format (int format, int seed)
{
    char args[64];
    snprintf (args, sizeof args, "scan %d %d", seed, format);
    size_t len;
    char *out = s_reference (args, &len);
    uint64_t lateness = 0, every = 0, max = ZMR_EVTIME_UNKNOWN;
    s_recs_t recs = { 0 };
    char *chunks[64];
    size_t nchunks = 0, lens[64], at = 0;
    //  First the chunks, scanned in order with M carried across calls
    char *save = NULL;
    char **lines = NULL;
    size_t nlines = 0;
    for (char *l = strtok_r (out, "\n", &save); l; l = strtok_r (NULL, "\n", &save)) {
        lines = realloc (lines, (nlines + 1) * sizeof *lines);
        lines[nlines++] = l;
    }
    cr_assert (nlines > 0 && sscanf (lines[0], "S %" SCNu64 " %" SCNu64, &lateness, &every) == 2);
    for (size_t i = 1; i < nlines && lines[i][0] == 'C'; i++) {
        cr_assert_lt (nchunks, 64);
        const char *hex = lines[i] + 2;
        chunks[nchunks] = malloc (strlen (hex) / 2 + 1);
        lens[nchunks] = s_unhex (hex, strlen (hex), chunks[nchunks]);
        nchunks++;
        at = i + 1;
    }
    size_t next = 0;        //  The next record to compare
    for (size_t c = 0; c < nchunks; c++) {
        recs.chunk = c;
        size_t before = recs.n;
        cr_assert_eq (zmr_evtime_scan (format, lateness, every, chunks[c], lens[c], &max,
                                       s_collect, &recs), 0);
        //  The reference's records of this chunk, then its M
        for (; at < nlines && lines[at][0] == 'R'; at++, next++) {
            size_t ci, index;
            int kind;
            uint64_t ms, pane;
            cr_assert_eq (sscanf (lines[at], "R %zu %zu %d %" SCNu64 " %" SCNu64, &ci, &index, &kind, &ms,
                                  &pane), 5);
            cr_assert_eq (ci, c);
            cr_assert_lt (next, recs.n, "%s chunk %zu: python has a record at line %zu, the "
                          "scan none", zmr_evtime_format_name (format), c, index);
            const s_rec_t *r = &recs.recs[next];
            cr_assert (r->index == index && r->kind == kind && r->ms == ms
                       && r->pane == pane, "%s chunk %zu line %zu '%.*s': scan says line %zu "
                       "kind %d ms %llu pane %llu, python kind %d ms %llu pane %llu",
                       zmr_evtime_format_name (format), c, index, (int) r->len, r->line,
                       r->index, r->kind, (unsigned long long) r->ms,
                       (unsigned long long) r->pane, kind, (unsigned long long) ms,
                       (unsigned long long) pane);
            //  The line is the chunk's line; the token inside it
            cr_assert (r->tok + r->tok_len <= r->len);
            cr_assert ((r->kind == ZMR_LINE_NO_TIME) == (r->tok_len == 0));
        }
        cr_assert_eq (next, recs.n, "%s chunk %zu: the scan has %zu records, python %zu",
                      zmr_evtime_format_name (format), c, recs.n - before, next - before);
        char m[32];
        cr_assert (at < nlines && sscanf (lines[at], "M %*u %31s", m) == 1);
        at++;
        if (strcmp (m, "-") == 0)
            cr_assert_eq (max, ZMR_EVTIME_UNKNOWN);
        else
            cr_assert_eq (max, strtoull (m, NULL, 10), "%s chunk %zu: M %llu, python %s",
                          zmr_evtime_format_name (format), c, (unsigned long long) max, m);
    }
    size_t kinds[3] = { 0 };
    for (size_t i = 0; i < recs.n; i++)
        kinds[recs.recs[i].kind]++;
    cr_assert (kinds[0] > 50 && kinds[1] > 20 && kinds[2] > 20,
               "too few of a kind to test: %zu %zu %zu", kinds[0], kinds[1], kinds[2]);
    for (size_t c = 0; c < nchunks; c++)
        free (chunks[c]);
    free (recs.recs);
    free (lines);
    free (out);
}

Test (evtime, scan_decides_lateness_as_the_issue_says)
{
    for (int seed = 1; seed <= 4; seed++) {
        s_scan_format (ZMR_EVTIME_EPOCH, seed);
        s_scan_format (ZMR_EVTIME_RFC3339, seed);
        s_scan_format (ZMR_EVTIME_CLF, seed);
    }
}

//  A callback's non-zero stops the scan and is returned
static int
s_stop_second (const zmr_evline_t *line, void *arg)
{
    (void) line;
    return ++*(int *) arg == 2? 7: 0;
}

Test (evtime, scan_stops_when_told_and_counts_blank_lines_in_the_index)
{
    const char *text = "1 a\n\n \t\n2 b\n3 c";
    int calls = 0;
    uint64_t max = ZMR_EVTIME_UNKNOWN;
    cr_assert_eq (zmr_evtime_scan (ZMR_EVTIME_EPOCH, 0, 1000, text, strlen (text), &max,
                                   s_stop_second, &calls), 7);
    cr_assert_eq (calls, 2);
    s_recs_t recs = { 0 };
    max = ZMR_EVTIME_UNKNOWN;
    cr_assert_eq (zmr_evtime_scan (ZMR_EVTIME_EPOCH, 0, 1000, text, strlen (text), &max,
                                   s_collect, &recs), 0);
    cr_assert_eq (recs.n, 3);
    cr_assert_eq (recs.recs[1].index, 3);
    cr_assert_eq (recs.recs[2].index, 4);           //  The last line, without '\n'
    cr_assert_eq (recs.recs[2].len, 3);
    cr_assert_eq (max, 3000);
    free (recs.recs);
}

Test (evtime, bucket_is_the_smallest_window_start_open_at_the_watermark)
{
    srand (17);
    cr_assert_eq (zmr_evtime_bucket (ZMR_EVTIME_UNKNOWN, 0, 1000, 1000), 0);
    for (int i = 0; i < 20000; i++) {
        uint64_t every = 1 + (uint64_t) (rand () % 50);
        uint64_t window = every * (1 + (uint64_t) (rand () % 5));
        uint64_t lateness = (uint64_t) (rand () % 200);
        uint64_t max = (uint64_t) (rand () % 2000);
        //  By the words: the smallest multiple s of E with s + W > M - L
        uint64_t s = 0;
        while ((int64_t) (s + window) <= (int64_t) max - (int64_t) lateness)
            s += every;
        cr_assert_eq (zmr_evtime_bucket (max, lateness, window, every), s,
                      "M %llu L %llu W %llu E %llu", (unsigned long long) max,
                      (unsigned long long) lateness, (unsigned long long) window,
                      (unsigned long long) every);
    }
}

Test (evtime, side_keys_round_trip_and_sort_in_input_order)
{
    static char line_bytes[ZMR_SIDE_LINE_MAX + 10];
    memset (line_bytes, 'x', sizeof line_bytes);
    static char key[ZMR_SIDE_HEADER + ZMR_SIDE_LINE_MAX], prev[sizeof key];
    size_t prev_len = 0;
    zmr_side_t side;
    for (uint64_t chunk = 5; chunk < 8; chunk++)
        for (uint32_t index = 0; index < 300; index += 37) {
            zmr_evline_t line = { .line = line_bytes, .len = index * 3 + 1,
                                  .index = index, .kind = index % 2? ZMR_LINE_LATE
                                                                  : ZMR_LINE_NO_TIME,
                                  .ms = index % 2? 1700000000123ull + index: 0 };
            if (index == 259)
                line.len = sizeof line_bytes;       //  Longer than a side key holds
            size_t len = zmr_evtime_side_key (key, 42, chunk, &line);
            cr_assert (zmr_evtime_side_parse (key, len, &side));
            cr_assert_eq (key[0], '\n');
            cr_assert_eq (side.bucket, 42);
            cr_assert_eq (side.chunk, chunk);
            cr_assert_eq (side.index, index);
            cr_assert_eq (side.kind, line.kind);
            cr_assert_eq (side.ms, line.ms);
            cr_assert_eq (side.cut, line.len > ZMR_SIDE_LINE_MAX);
            cr_assert_eq (side.len, side.cut? ZMR_SIDE_LINE_MAX: line.len);
            cr_assert_eq (memcmp (side.line, line_bytes, side.len), 0);
            if (prev_len) {
                size_t n = prev_len < len? prev_len: len;
                cr_assert_lt (memcmp (prev, key, n), 0, "chunk %llu line %u sorts before "
                              "the line before it", (unsigned long long) chunk, index);
            }
            memcpy (prev, key, len);
            prev_len = len;
        }
    //  Not side keys
    cr_assert (!zmr_evtime_side_parse ("word", 4, &side));
    memset (key, 0, ZMR_SIDE_HEADER);
    key[0] = '\n';
    key[21] = 'X';
    cr_assert (!zmr_evtime_side_parse (key, ZMR_SIDE_HEADER, &side));
    key[21] = 'N';
    cr_assert (zmr_evtime_side_parse (key, ZMR_SIDE_HEADER, &side));
    cr_assert (!zmr_evtime_side_parse (key, ZMR_SIDE_HEADER - 1, &side));
}

static int
s_strcmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  A chunk of lines in epoch time: on time, late, blank, without a time,
//  words over the --max-word, one line longer than a side key holds.
static char *
s_chunk_text (unsigned seed, size_t *len)
{
    srand (seed);
    size_t cap = 1 << 20, n = 0;
    char *text = malloc (cap);
    cr_assert (text);
    static const char *words[] = { "alpha", "beta", "gamma", "a", "LONGWORDLONGWORD", "b" };
    uint64_t t = 1700000000000ull;
    for (int i = 0; i < 400; i++) {
        int k = rand () % 20;
        if (k == 0)
            n += (size_t) sprintf (text + n, "%s\n", rand () % 2? "": " \t");
        else
        if (k == 1)
            n += (size_t) sprintf (text + n, "no time %s here\n", words[rand () % 6]);
        else {
            t += (uint64_t) (rand () % 700);
            uint64_t lt = t - (rand () % 6 == 0? (uint64_t) (rand () % 9000): 0);
            n += (size_t) sprintf (text + n, "%s%llu.%03llu", rand () % 3? "": "  ",
                                   (unsigned long long) (lt / 1000),
                                   (unsigned long long) (lt % 1000));
            for (int w = rand () % 4; w > 0; w--)
                n += (size_t) sprintf (text + n, "%s%s", rand () % 2? " ": "\t",
                                       words[rand () % 6]);
            text[n++] = '\n';
        }
    }
    //  A line longer than a side key holds, without a time, last and
    //  without its '\n'
    memcpy (text + n, "cut ", 4);
    n += 4;
    memset (text + n, 'z', ZMR_SIDE_LINE_MAX);
    n += ZMR_SIDE_LINE_MAX;
    *len = n;
    return text;
}

Test (evtime, evmap_batches_match_python_runs_and_pairs)
{
    uint32_t R = 3;
    zmr_event_spec_t event = { .format = ZMR_EVTIME_EPOCH, .window_ms = 4000,
                               .every_ms = 2000, .lateness_ms = 1500 };
    zmr_evmap_t *map = zmr_evmap_new (R);
    cr_assert (map);
    for (unsigned round = 0; round < 3; round++) {
        size_t len;
        char *text = s_chunk_text (round + 1, &len);
        char path[512];
        snprintf (path, sizeof path, "%s/chunk-%u", s_dir, round);
        FILE *f = fopen (path, "wb");
        cr_assert (f && fwrite (text, 1, len, f) == len && fclose (f) == 0);
        //  The second round starts with an M from before the chunk
        uint64_t event_max = round == 0? ZMR_EVTIME_UNKNOWN: 1700000003000ull;
        uint64_t chunk = 40 + round, max_word = round == 2? 8: 0;
        char args[1024], m[32];
        if (event_max == ZMR_EVTIME_UNKNOWN)
            snprintf (m, sizeof m, "-");
        else
            snprintf (m, sizeof m, "%llu", (unsigned long long) event_max);
        snprintf (args, sizeof args, "evmap '%s' %llu %s %llu %llu %llu %u %llu", path,
                  (unsigned long long) chunk, m, (unsigned long long) event.lateness_ms,
                  (unsigned long long) event.window_ms, (unsigned long long) event.every_ms,
                  R, (unsigned long long) max_word);
        size_t out_len;
        char *out = s_reference (args, &out_len);
        cr_assert_eq (zmr_evmap_chunk (map, &event, max_word, chunk, event_max, text, len,
                                       NULL, NULL), 0);
        //  Each partition's BATCH, decoded: its runs cover its pairs
        char **got = NULL;
        size_t ngot = 0;
        for (uint32_t p = 0; p < R; p++) {
            msgpack_sbuffer buf;
            msgpack_packer pk;
            msgpack_sbuffer_init (&buf);
            msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
            cr_assert_eq (zmr_evmap_pack (map, p, &buf, &pk, 9, chunk, 77), 0);
            cr_assert_leq (buf.size, zmr_evmap_batch_max (map, p));
            zmr_msg_t msg;
            const char *why = NULL;
            cr_assert_eq (zmr_msg_decode (buf.data, buf.size, &msg, &why), 0, "%s", why);
            cr_assert (msg.type == ZMR_BATCH && msg.chunk == chunk && msg.partition == p
                       && msg.reducers == R && msg.stamp == 77);
            zmr_run_t run;
            uint64_t seen_runs[64][2];
            size_t nseen = 0;
            while (zmr_msg_next_run (&msg, &run)) {
                //  One run per kind and pane
                for (size_t i = 0; i < nseen; i++)
                    cr_assert (seen_runs[i][0] != run.kind || seen_runs[i][1] != run.pane,
                               "partition %u has two runs of kind %u pane %llu", p,
                               run.kind, (unsigned long long) run.pane);
                cr_assert_lt (nseen, 64);
                seen_runs[nseen][0] = run.kind;
                seen_runs[nseen++][1] = run.pane;
                for (uint32_t i = 0; i < run.n; i++) {
                    const char *word;
                    uint32_t wlen;
                    uint64_t value;
                    cr_assert (zmr_msg_next_pair (&msg, &word, &wlen, &value));
                    char *line = malloc (2 * wlen + 128);
                    int at = sprintf (line, "P %u %u %llu ", p, run.kind,
                                      (unsigned long long) run.pane);
                    s_hex (word, wlen, line + at);
                    sprintf (line + strlen (line), " %llu", (unsigned long long) value);
                    got = realloc (got, (ngot + 1) * sizeof *got);
                    got[ngot++] = line;
                }
            }
            const char *word;
            uint32_t wlen;
            uint64_t value;
            cr_assert (!zmr_msg_next_pair (&msg, &word, &wlen, &value));
            msgpack_sbuffer_destroy (&buf);
        }
        qsort (got, ngot, sizeof *got, s_strcmp);
        //  Against the reference's lines, in the same order
        char *save = NULL;
        size_t i = 0;
        zmr_evmap_stats_t stats;
        zmr_evmap_stats (map, &stats);
        bool saw_stats = false, saw_cut = false, saw_late = false;
        for (char *l = strtok_r (out, "\n", &save); l; l = strtok_r (NULL, "\n", &save)) {
            if (l[0] == 'S') {
                uint64_t words, too_long, pairs;
                cr_assert_eq (sscanf (l, "S %" SCNu64 " %" SCNu64 " %" SCNu64, &words,
                                      &too_long, &pairs), 3);
                cr_assert (stats.words == words && stats.too_long == too_long
                           && stats.pairs == pairs, "round %u: words %llu too long %llu "
                           "pairs %llu, python %s", round,
                           (unsigned long long) stats.words,
                           (unsigned long long) stats.too_long,
                           (unsigned long long) stats.pairs, l);
                saw_stats = true;
                continue;
            }
            cr_assert_lt (i, ngot, "round %u: python has more pairs, next %.200s", round, l);
            cr_assert_str_eq (got[i], l, "round %u: pair %zu differs:\n  got    %.200s\n  "
                              "python %.200s", round, i, got[i], l);
            saw_cut |= strstr (l, "6e") && strlen (l) > 2 * ZMR_SIDE_LINE_MAX;
            saw_late |= strncmp (l, "P ", 2) == 0 && strstr (l, " 2 0 0a") && strstr (l, "4c");
            i++;
        }
        cr_assert_eq (i, ngot, "round %u: %zu pairs, python %zu", round, ngot, i);
        cr_assert (saw_stats && saw_cut && saw_late);
        for (size_t k = 0; k < ngot; k++)
            free (got[k]);
        free (got);
        free (out);
        free (text);
    }
    zmr_evmap_destroy (&map);
}
