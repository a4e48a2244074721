/*  Fuzz target: the ventilator's journal (zmr_journal_open). Random bytes
    would never pass the records' checksums, so the input is the records'
    payloads, written into a journal file with zmr_records_append; the
    fuzzer then spends its time in the record decoder.
      byte 0:  how the open asks for the job. Bit 0 set: the fixed request
               the seeds were written with (R 2, chunk size 65536, 10000
               input bytes, 3 inputs); clear: the values of the first
               record, when it reads as a header, so that a mutated header
               still matches. Bit 1 set: the request names the job
               (0x1234, or the header's); clear: job 0, take the journal's.
      then:    records, each a 2-byte little-endian length and the payload
               (the rest of the input when the length runs past the end).
    Whatever the input, an open journal must be one the ventilator can
    trust (every cut in an input that exists, never empty; a summary only
    with chunks and a valid input), must open again the same, and a refused
    one must say why. */
#include "zmr.h"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

//  Checked in every build, NDEBUG or not.
#define S_CHECK(cond) do { if (!(cond)) abort (); } while (0)

#define S_JOB         0x1234
#define S_REDUCERS    2
#define S_CHUNK_SIZE  65536
#define S_INPUT_BYTES 10000
#define S_INPUTS      3
#define S_PROBES      24

static char s_dir[64];
static char s_path[96];

static void
s_cleanup (void)
{
    unlink (s_path);
    rmdir (s_dir);
}

//  One journal file per process, in memory where Linux offers it: fuzzing
//  writes it millions of times.
static void
s_setup (void)
{
    if (s_path[0])
        return;
    snprintf (s_dir, sizeof s_dir, "/dev/shm/zmr-fuzz-journal-XXXXXX");
    if (!mkdtemp (s_dir)) {
        snprintf (s_dir, sizeof s_dir, "/tmp/zmr-fuzz-journal-XXXXXX");
        S_CHECK (mkdtemp (s_dir));
    }
    snprintf (s_path, sizeof s_path, "%s/journal", s_dir);
    atexit (s_cleanup);
}

//  The request from a header record, as the journal reads one; -1 if the
//  payload is not a header.
static int
s_header_of (const uint8_t *data, size_t len, zmr_journal_header_t *header)
{
    zmr_mpr_t r;
    zmr_mpr_init (&r, data, len);
    uint32_t n;
    uint64_t signature, version, job, reducers, chunk_size, input_bytes, inputs, kind, reduce;
    zmr_journal_header_t h = { 0 };
    if (zmr_mpr_array (&r, &n) || (n != 11 && n != 15) || zmr_mpr_uint (&r, &signature)
    ||  zmr_mpr_uint (&r, &version) || zmr_mpr_uint (&r, &job)
    ||  zmr_mpr_uint (&r, &reducers) || zmr_mpr_uint (&r, &chunk_size)
    ||  zmr_mpr_uint (&r, &input_bytes) || zmr_mpr_uint (&r, &inputs)
    ||  zmr_mpr_uint (&r, &kind) || zmr_mpr_uint (&r, &reduce)
    ||  zmr_mpr_cstr (&r, h.digest, sizeof h.digest)
    ||  zmr_mpr_cstr (&r, h.label, sizeof h.label)
    ||  reducers > UINT32_MAX || inputs > UINT32_MAX || kind > UINT32_MAX
    ||  reduce > UINT32_MAX)
        return -1;
    //  Version 3 (15 elements): the event time too
    uint64_t format = 0;
    if (n == 15
    &&  (zmr_mpr_uint (&r, &format) || format > UINT32_MAX || zmr_mpr_uint (&r, &h.window_ms)
    ||   zmr_mpr_uint (&r, &h.every_ms) || zmr_mpr_uint (&r, &h.lateness_ms)))
        return -1;
    h.event_format = (uint32_t) format;
    h.job = job;
    h.reducers = (uint32_t) reducers;
    h.chunk_size = chunk_size;
    h.input_bytes = input_bytes;
    h.inputs = (uint32_t) inputs;
    h.job_kind = (uint32_t) kind;
    h.reduce = (uint32_t) reduce;
    *header = h;
    return 0;
}

//  What an open journal says, to compare two opens of one file.
typedef struct {
    zmr_journal_summary_t summary;
    size_t ncuts;
    const zmr_journal_cut_t *cuts;
    size_t loaded;
    bool resumed;
    uint64_t probe [S_PROBES];      //  Chunk ids asked about
    bool done [S_PROBES];           //  Whether each was complete
    uint64_t words [S_PROBES];      //  ... with these words
    uint32_t too_long [S_PROBES];   //  ... and words left out
    uint64_t pairs [S_PROBES];      //  ... and pairs
} s_view_t;

//  Reads everything the ventilator reads of an open journal and checks what
//  must hold of any journal it accepted.
static void
s_view (zmr_journal_t *journal, const zmr_journal_header_t *header, size_t nrecords,
        s_view_t *view)
{
    memset (view, 0, sizeof *view);
    view->summary = *zmr_journal_summary (journal);
    view->cuts = zmr_journal_cuts (journal, &view->ncuts);
    view->loaded = zmr_journal_loaded (journal);
    view->resumed = zmr_journal_resumed (journal);
    const zmr_journal_summary_t *s = &view->summary;
    bool have_summary = s->chunks > 0;
    S_CHECK (header->job != 0);     //  "No job yet" to every role: refused
    if (have_summary)
        S_CHECK (s->input < header->inputs);
    else
        S_CHECK (!s->words && !s->too_long && !s->bytes && !s->input && !s->offset
                 && !s->pairs);
    S_CHECK (view->ncuts == 0 || view->cuts);
    for (size_t i = 0; i < view->ncuts; i++)
        S_CHECK (view->cuts[i].input < header->inputs && view->cuts[i].len > 0);
    //  Each record said one thing: a header, a summary, a cut or a chunk done.
    if (view->resumed)
        S_CHECK (1 + have_summary + view->ncuts + view->loaded <= nrecords);
    else
        S_CHECK (nrecords == 0 && !have_summary && !view->ncuts && !view->loaded);
    S_CHECK (zmr_journal_records (journal) == (view->resumed? 0: 1));
    size_t p = 0, ndone = 0;
    for (uint64_t id = 0; id < 8; id++)
        view->probe [p++] = id;
    for (size_t i = 0; i < 8; i++)
        view->probe [p++] = s->chunks + (i < view->ncuts? i: view->ncuts + i);
    view->probe [p++] = UINT64_MAX;
    view->probe [p++] = s->chunks - 1;
    for (; p < S_PROBES; p++)
        view->probe [p] = (uint64_t) p << 32;
    for (p = 0; p < S_PROBES; p++) {
        view->words [p] = 0xdead;
        view->too_long [p] = 0xbeef;
        view->done [p] = zmr_journal_was_done (journal, view->probe [p], &view->words [p],
                                               &view->too_long [p], &view->pairs [p]);
        if (!view->done [p])
            S_CHECK (view->words [p] == 0xdead && view->too_long [p] == 0xbeef);
        //  Probes may repeat: count each id once.
        bool seen = false;
        for (size_t q = 0; q < p; q++)
            seen |= view->probe [q] == view->probe [p];
        ndone += view->done [p] && !seen;
    }
    S_CHECK (ndone <= view->loaded);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_setup ();
    uint8_t mode = size? data[0]: 0;
    const uint8_t *at = size? data + 1: data;
    const uint8_t *end = data + size;

    zmr_journal_header_t request = { .job = S_JOB, .reducers = S_REDUCERS,
                                     .chunk_size = S_CHUNK_SIZE,
                                     .input_bytes = S_INPUT_BYTES, .inputs = S_INPUTS };
    int fd = open (s_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    S_CHECK (fd >= 0);
    size_t nrecords = 0;
    while (at < end) {
        size_t len = at[0];
        if (end - at >= 2)
            len |= (size_t) at[1] << 8;
        at += end - at >= 2? 2: 1;
        if (len > (size_t) (end - at))
            len = (size_t) (end - at);
        if (nrecords == 0 && !(mode & 1))
            s_header_of (at, len, &request);
        S_CHECK (zmr_records_append (fd, at, len) == 0);
        nrecords++;
        at += len;
    }
    close (fd);
    if (!(mode & 2))
        request.job = 0;

    zmr_journal_header_t header = request;
    char err[512] = "";
    zmr_journal_t *journal = zmr_journal_open (s_path, &header, err, sizeof err);
    if (!journal) {
        S_CHECK (err[0]);
        return 0;
    }
    //  The journal's job, as asked for; the rest as asked for.
    S_CHECK (!request.job || header.job == request.job);
    S_CHECK (header.reducers == request.reducers && header.chunk_size == request.chunk_size
             && header.input_bytes == request.input_bytes && header.inputs == request.inputs);
    s_view_t first, again;
    s_view (journal, &header, nrecords, &first);

    //  Opened again, the same file says the same, job included.
    zmr_journal_header_t header2 = header;
    zmr_journal_t *journal2 = zmr_journal_open (s_path, &header2, err, sizeof err);
    S_CHECK (journal2 && header2.job == header.job);
    s_view (journal2, &header2, nrecords + !first.resumed, &again);
    S_CHECK (again.resumed);
    const zmr_journal_summary_t *s1 = &first.summary, *s2 = &again.summary;
    S_CHECK (s1->chunks == s2->chunks && s1->words == s2->words
             && s1->too_long == s2->too_long && s1->bytes == s2->bytes
             && s1->input == s2->input && s1->offset == s2->offset
             && s1->pairs == s2->pairs && s1->event_max == s2->event_max
             && s1->late == s2->late && s1->untimed == s2->untimed
             && s1->npanes == s2->npanes);
    for (size_t i = 0; i < s1->npanes; i++)
        S_CHECK (s1->panes[i] == s2->panes[i] && (i == 0 || s1->panes[i] > s1->panes[i - 1]));
    S_CHECK (first.ncuts == again.ncuts && first.loaded == again.loaded);
    for (size_t i = 0; i < first.ncuts; i++)
        S_CHECK (first.cuts[i].input == again.cuts[i].input
                 && first.cuts[i].offset == again.cuts[i].offset
                 && first.cuts[i].len == again.cuts[i].len);
    S_CHECK (!memcmp (first.done, again.done, sizeof first.done));
    S_CHECK (!memcmp (first.words, again.words, sizeof first.words));
    S_CHECK (!memcmp (first.too_long, again.too_long, sizeof first.too_long));
    S_CHECK (!memcmp (first.pairs, again.pairs, sizeof first.pairs));
    zmr_journal_destroy (&journal2);
    zmr_journal_destroy (&journal);
    S_CHECK (!journal && !journal2);
    return 0;
}
