/*  zmr_journal: records of the zmr_store file format, version 3 (event
    time). Header record: [0x5A4A, 3, job, R, chunk_size, input_bytes,
    inputs, job_kind, reduce, digest, label, event_format, window_ms,
    every_ms, lateness_ms] (version 2: the first 11, ingest time, read as
    such; records after it are the same); in a journal written anew, a
    summary right after it: [chunks, words, too_long, bytes, input, offset,
    pairs, event_max, late, untimed, [pane...]] (version 2: the first 7);
    chunk cut (before it is issued): [chunk, input, offset, length, stamp,
    0] (the stamp: when its text came in, which names its window; written
    before stamps were, [chunk, input, offset, length]); a window written by
    the sink: [start, closed] (closed: windows written so far, 1 on;
    start UINT64_MAX: the event-time END, written last); a
    chunk quarantined: [chunk];
    completed chunk: [chunk, words, pairs] or, with words over --max-word,
    [chunk, words, pairs, too_long, 0] (5 elements: 4 are a cut). Version 1
    (before jobs: no job in the header, no pairs) is refused, saying so.
    Decoded with the bounded reader. */
#include "zmr.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <unistd.h>

#define S_SIGNATURE 0x5A4A
#define S_VERSION   3
#define S_VERSION_2 2            //  Before event time: read as ingest time
#define S_PANES_MAX (1u << 24)   //  A summary's panes, at most (a bound
                                 //  for the reader, far above any job's)

struct _zmr_journal_t {
    char *path;                  //  The journal file
    int fd;                      //  Open for append
    zmr_counts_t *done;          //  Chunk id (8 bytes) -> index in done_recs,
                                 //  too_long in aux: completed chunks
    uint64_t (*done_recs)[2];    //  Their words and pairs
    size_t done_cap;             //  Allocated in done_recs
    size_t loaded;               //  Completed chunks found at open
    uint64_t old_version;        //  A header of another version was read
    bool have_header;            //  A header was read: an old job
    zmr_journal_cut_t *cuts;     //  Cuts found at open, chunk i at [i]
    uint64_t *stamps;            //  ... and their stamps
    size_t ncuts;                //  Number of them
    size_t cuts_cap;             //  Allocated
    msgpack_sbuffer sbuf;        //  One record being packed
    msgpack_packer pk;           //  Packs into sbuf
    zmr_journal_header_t header; //  As read or written
    zmr_journal_summary_t summary;  //  As read (chunks 0: none)
    bool have_summary;           //  A summary record was read
    uint64_t records;            //  Appended since open or the last rewrite
    uint64_t windows_stored_1;   //  The last window written's start + 1
    uint64_t windows_closed;     //  ... and how many were written
    bool end_stored;             //  The event-time END was written
    uint64_t *panes;             //  The summary's panes (owned)
    zmr_u64set_t *quarantined;   //  Chunks quarantined, found or recorded
    int old_fd;                  //  While written anew: the journal, else -1
    char *temp;                  //  While written anew: the new file's path
};

//  Keeps a completed chunk's counts (the last record of a chunk wins).
static int
s_remember (zmr_journal_t *self, uint64_t chunk, uint64_t words, uint32_t too_long,
            uint64_t pairs)
{
    bool is_new;
    zmr_entry_t *entry = zmr_counts_add (self->done, &chunk, sizeof chunk, 0, &is_new);
    if (!entry)
        return -1;
    if (is_new) {
        if (self->loaded == self->done_cap) {
            size_t cap = self->done_cap? self->done_cap * 2: 256;
            uint64_t (*recs)[2] = realloc (self->done_recs, cap * sizeof *recs);
            if (!recs)
                return -1;      //  (the entry stays: the open fails anyway)
            self->done_recs = recs;
            self->done_cap = cap;
        }
        entry->count = self->loaded++;
    }
    self->done_recs[entry->count][0] = words;
    self->done_recs[entry->count][1] = pairs;
    entry->aux = too_long;
    return 0;
}

static int
s_read_record (const void *data, size_t len, void *arg)
{
    zmr_journal_t *self = (zmr_journal_t *) arg;
    zmr_mpr_t r;
    zmr_mpr_init (&r, data, len);
    uint32_t n;
    if (zmr_mpr_array (&r, &n))
        return -1;
    if (!self->have_header) {
        uint64_t signature = 0, version = 0, reducers, inputs, kind, reduce;
        zmr_journal_header_t *h = &self->header;
        if (n >= 2 && zmr_mpr_uint (&r, &signature) == 0 && signature == S_SIGNATURE
        &&  zmr_mpr_uint (&r, &version) == 0 && version != S_VERSION
        &&  version != S_VERSION_2) {
            self->old_version = version ? version : UINT64_MAX;
            return -1;
        }
        if (n != (version == S_VERSION_2? 11u: 15u) || signature != S_SIGNATURE
        ||  zmr_mpr_uint (&r, &h->job) || zmr_mpr_uint (&r, &reducers)
        ||  zmr_mpr_uint (&r, &h->chunk_size) || zmr_mpr_uint (&r, &h->input_bytes)
        ||  zmr_mpr_uint (&r, &inputs) || zmr_mpr_uint (&r, &kind)
        ||  zmr_mpr_uint (&r, &reduce) || zmr_mpr_cstr (&r, h->digest, sizeof h->digest)
        ||  zmr_mpr_cstr (&r, h->label, sizeof h->label)
        ||  reducers > UINT32_MAX || inputs > UINT32_MAX || h->job == 0
        ||  kind > UINT32_MAX || reduce > UINT32_MAX)
            return -1;          //  (job 0 means "none yet" to every role)
        uint64_t format = 0;
        if (version == S_VERSION
        &&  (zmr_mpr_uint (&r, &format) || format > ZMR_EVTIME_CLF
        ||   zmr_mpr_uint (&r, &h->window_ms) || zmr_mpr_uint (&r, &h->every_ms)
        ||   zmr_mpr_uint (&r, &h->lateness_ms)))
            return -1;
        if (zmr_mpr_finish (&r))
            return -1;
        h->event_format = (uint32_t) format;
        h->reducers = (uint32_t) reducers;
        h->inputs = (uint32_t) inputs;
        h->job_kind = (uint32_t) kind;
        h->reduce = (uint32_t) reduce;
        self->have_header = true;
        return 0;
    }
    uint64_t chunk, words, pairs;
    if (n == 7 || n == 11) {
        //  A summary: only right after the header, once (7 elements: of
        //  version 2, before event time)
        zmr_journal_summary_t *s = &self->summary;
        uint64_t input;
        s->event_max = ZMR_EVTIME_UNKNOWN;
        if (self->have_summary || self->ncuts || self->loaded
        ||  zmr_mpr_uint (&r, &s->chunks) || zmr_mpr_uint (&r, &s->words)
        ||  zmr_mpr_uint (&r, &s->too_long) || zmr_mpr_uint (&r, &s->bytes)
        ||  zmr_mpr_uint (&r, &input) || input >= self->header.inputs
        ||  zmr_mpr_uint (&r, &s->offset) || zmr_mpr_uint (&r, &s->pairs)
        ||  s->chunks == 0)
            return -1;
        uint32_t npanes = 0;
        if (n == 11
        &&  (zmr_mpr_uint (&r, &s->event_max) || zmr_mpr_uint (&r, &s->late)
        ||   zmr_mpr_uint (&r, &s->untimed) || zmr_mpr_array (&r, &npanes)
        ||   npanes > S_PANES_MAX))
            return -1;
        if (npanes) {
            self->panes = malloc (npanes * sizeof *self->panes);
            if (!self->panes)
                return -1;
        }
        for (uint32_t i = 0; i < npanes; i++)
            if (zmr_mpr_uint (&r, &self->panes[i])
            ||  (i && self->panes[i] <= self->panes[i - 1]))
                return -1;      //  (ascending, each once)
        if (zmr_mpr_finish (&r))
            return -1;
        s->panes = self->panes;
        s->npanes = npanes;
        s->input = (uint32_t) input;
        self->have_summary = true;
        return 0;
    }
    if (n == 1) {
        //  A chunk quarantined
        if (zmr_mpr_uint (&r, &chunk) || zmr_mpr_finish (&r)
        ||  zmr_u64set_insert (self->quarantined, chunk) < 0)
            return -1;
        return 0;
    }
    if (n == 2) {
        //  A window written: they are written in order
        uint64_t window, closed;
        if (zmr_mpr_uint (&r, &window) || zmr_mpr_uint (&r, &closed)
        ||  closed == 0 || zmr_mpr_finish (&r))
            return -1;
        if (window == ZMR_WINDOW_END)
            self->end_stored = true;
        else
        if (window + 1 > self->windows_stored_1) {
            self->windows_stored_1 = window + 1;
            self->windows_closed = closed;
        }
        return 0;
    }
    if (n == 4 || n == 6) {
        zmr_journal_cut_t cut;
        uint64_t input, zero = 0, stamp = 0;
        //  Cuts come in the order chunks were cut: chunk i is the i-th
        if (zmr_mpr_uint (&r, &chunk) || chunk != self->summary.chunks + self->ncuts
        ||  chunk < self->summary.chunks      //  (ids wrapped past 2^64)
        ||  zmr_mpr_uint (&r, &input) || input >= self->header.inputs
        ||  zmr_mpr_uint (&r, &cut.offset) || zmr_mpr_uint (&r, &cut.len)
        ||  cut.len == 0
        ||  (n == 6 && (zmr_mpr_uint (&r, &stamp) || stamp == 0
                        || zmr_mpr_uint (&r, &zero) || zero != 0))
        ||  zmr_mpr_finish (&r))
            return -1;
        cut.input = (uint32_t) input;
        if (self->ncuts == self->cuts_cap) {
            size_t cap = self->cuts_cap? self->cuts_cap * 2: 256;
            zmr_journal_cut_t *cuts = realloc (self->cuts, cap * sizeof *cuts);
            if (!cuts)
                return -1;
            self->cuts = cuts;
            uint64_t *stamps = realloc (self->stamps, cap * sizeof *stamps);
            if (!stamps)
                return -1;
            self->stamps = stamps;
            self->cuts_cap = cap;
        }
        self->stamps [self->ncuts] = stamp;
        self->cuts [self->ncuts++] = cut;
        return 0;
    }
    //  [chunk, words, pairs], or with words over --max-word: [chunk, words,
    //  pairs, too_long, 0].
    uint64_t too_long = 0, zero = 0;
    if ((n != 3 && n != 5) || zmr_mpr_uint (&r, &chunk) || zmr_mpr_uint (&r, &words)
    ||  zmr_mpr_uint (&r, &pairs)
    ||  (n == 5 && (zmr_mpr_uint (&r, &too_long) || zmr_mpr_uint (&r, &zero)))
    ||  too_long > UINT32_MAX || zero != 0 || zmr_mpr_finish (&r))
        return -1;
    return s_remember (self, chunk, words, (uint32_t) too_long, pairs);
}

//  Appends the record packed in self->sbuf. Returns 0 or -1.
static int
s_append (zmr_journal_t *self)
{
    int rc = zmr_records_append (self->fd, self->sbuf.data, self->sbuf.size);
    msgpack_sbuffer_clear (&self->sbuf);
    self->records++;
    return rc;
}

//  Appends the header record.
static int
s_append_header (zmr_journal_t *self)
{
    const zmr_journal_header_t *header = &self->header;
    msgpack_packer *pk = &self->pk;
    msgpack_pack_array (pk, 15);
    msgpack_pack_uint16 (pk, S_SIGNATURE);
    msgpack_pack_uint8 (pk, S_VERSION);
    msgpack_pack_uint64 (pk, header->job);
    msgpack_pack_uint32 (pk, header->reducers);
    msgpack_pack_uint64 (pk, header->chunk_size);
    msgpack_pack_uint64 (pk, header->input_bytes);
    msgpack_pack_uint32 (pk, header->inputs);
    msgpack_pack_uint32 (pk, header->job_kind);
    msgpack_pack_uint32 (pk, header->reduce);
    size_t len = strnlen (header->digest, sizeof header->digest - 1);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, header->digest, len);
    len = strnlen (header->label, sizeof header->label - 1);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, header->label, len);
    msgpack_pack_uint32 (pk, header->event_format);
    msgpack_pack_uint64 (pk, header->window_ms);
    msgpack_pack_uint64 (pk, header->every_ms);
    msgpack_pack_uint64 (pk, header->lateness_ms);
    return s_append (self);
}

//  A job's event time, for a refusal: "event time clf, window 10000 ms,
//  every 5000 ms, lateness 0 ms" or "ingest time".
static void
s_event_text (const zmr_journal_header_t *h, char *text, size_t size)
{
    const char *name = zmr_evtime_format_name ((int) h->event_format);
    if (h->event_format == 0)
        snprintf (text, size, "ingest time");
    else
        snprintf (text, size, "event time %s, window %llu ms, every %llu ms, lateness %llu ms",
                  name? name: "?", (unsigned long long) h->window_ms,
                  (unsigned long long) h->every_ms, (unsigned long long) h->lateness_ms);
}

zmr_journal_t *
zmr_journal_open (const char *path, zmr_journal_header_t *header,
                  char *errbuf, size_t errlen)
{
    zmr_journal_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    self->old_fd = -1;
    msgpack_sbuffer_init (&self->sbuf);
    msgpack_packer_init (&self->pk, &self->sbuf, msgpack_sbuffer_write);
    self->path = strdup (path);
    self->done = zmr_counts_new ();
    self->quarantined = zmr_u64set_new ();
    if (!self->path || !self->done || !self->quarantined) {
        snprintf (errbuf, errlen, "out of memory");
        goto fail;
    }
    self->fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->fd < 0) {
        snprintf (errbuf, errlen, "cannot open journal '%s': %s", path, strerror (errno));
        goto fail;
    }
    uint64_t bytes;
    if (zmr_records_read (self->fd, s_read_record, self, &bytes)) {
        if (self->old_version)
            snprintf (errbuf, errlen,
                      "journal '%s' is of format version %llu, this zmr writes version %d "
                      "(event time) and reads version 2 (jobs): finish its job with the zmr that wrote it, or remove it "
                      "to start afresh", path,
                      self->old_version == UINT64_MAX? 0ull
                                                     : (unsigned long long) self->old_version,
                      S_VERSION);
        else
            snprintf (errbuf, errlen, "journal '%s' is corrupt", path);
        goto fail;
    }
    if (self->have_header) {
        zmr_journal_header_t *h = &self->header;
        if ((header->job && header->job != h->job) || header->reducers != h->reducers
        ||  header->chunk_size != h->chunk_size || header->input_bytes != h->input_bytes
        ||  header->inputs != h->inputs) {
            snprintf (errbuf, errlen,
                      "journal '%s' is of another job (job %016llx, %u reducers, "
                      "%llu input bytes): remove it to start afresh", path,
                      (unsigned long long) h->job, h->reducers,
                      (unsigned long long) h->input_bytes);
            goto fail;
        }
        if (header->job_kind != h->job_kind || header->reduce != h->reduce
        ||  strcmp (header->digest, h->digest)) {
            const char *kind = zmr_job_kind_name ((int) h->job_kind);
            const char *reduce = zmr_reduce_name ((int) h->reduce);
            snprintf (errbuf, errlen,
                      "journal '%s' is of job '%s' (%s, reduce %s, digest %.12s), not "
                      "'%s' (%s, reduce %s, digest %.12s): resume it with that job's "
                      "definition, or remove it to start afresh", path, h->label,
                      kind? kind: "?", reduce? reduce: "?", h->digest, header->label,
                      zmr_job_kind_name ((int) header->job_kind),
                      zmr_reduce_name ((int) header->reduce), header->digest);
            goto fail;
        }
        if (header->event_format != h->event_format || header->window_ms != h->window_ms
        ||  header->every_ms != h->every_ms || header->lateness_ms != h->lateness_ms) {
            char was[96], now[96];
            s_event_text (h, was, sizeof was);
            s_event_text (header, now, sizeof now);
            snprintf (errbuf, errlen,
                      "journal '%s' is of a job with %s, not %s: resume it with those "
                      "settings, or remove it to start afresh", path, was, now);
            goto fail;
        }
        header->job = h->job;
        return self;
    }
    //  A new journal: its header first, on disk before any chunk goes out.
    while (header->job == 0)
        zmr_random (&header->job, sizeof header->job);
    self->header = *header;
    if (s_append_header (self) || fsync (self->fd)) {
        snprintf (errbuf, errlen, "cannot write journal '%s': %s", path, strerror (errno));
        goto fail;
    }
    return self;
fail:
    zmr_journal_destroy (&self);
    return NULL;
}

void
zmr_journal_destroy (zmr_journal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_journal_t *self = *self_p;
    if (self->temp)
        zmr_journal_rewrite_end (self, false);
    if (self->fd >= 0)
        close (self->fd);
    zmr_counts_destroy (&self->done);
    zmr_u64set_destroy (&self->quarantined);
    free (self->done_recs);
    msgpack_sbuffer_destroy (&self->sbuf);
    free (self->cuts);
    free (self->stamps);
    free (self->panes);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
zmr_journal_done (zmr_journal_t *self, uint64_t chunk, uint64_t words, uint32_t too_long,
                  uint64_t pairs)
{
    msgpack_pack_array (&self->pk, too_long? 5: 3);
    msgpack_pack_uint64 (&self->pk, chunk);
    msgpack_pack_uint64 (&self->pk, words);
    msgpack_pack_uint64 (&self->pk, pairs);
    if (too_long) {
        msgpack_pack_uint32 (&self->pk, too_long);
        msgpack_pack_uint8 (&self->pk, 0);
    }
    return s_append (self);
}

int
zmr_journal_cut (zmr_journal_t *self, uint64_t chunk, const zmr_journal_cut_t *cut)
{
    return zmr_journal_cut_stamped (self, chunk, cut, 0);
}

const uint64_t *
zmr_journal_stamps (zmr_journal_t *self)
{
    return self->stamps;
}

int
zmr_journal_cut_stamped (zmr_journal_t *self, uint64_t chunk, const zmr_journal_cut_t *cut,
                         uint64_t stamp)
{
    msgpack_pack_array (&self->pk, stamp? 6: 4);
    msgpack_pack_uint64 (&self->pk, chunk);
    msgpack_pack_uint32 (&self->pk, cut->input);
    msgpack_pack_uint64 (&self->pk, cut->offset);
    msgpack_pack_uint64 (&self->pk, cut->len);
    if (stamp) {
        msgpack_pack_uint64 (&self->pk, stamp);
        msgpack_pack_uint8 (&self->pk, 0);
    }
    return s_append (self);
}

int
zmr_journal_window_stored (zmr_journal_t *self, uint64_t window, uint64_t closed)
{
    if (closed == 0)
        return -1;
    msgpack_pack_array (&self->pk, 2);
    msgpack_pack_uint64 (&self->pk, window);
    msgpack_pack_uint64 (&self->pk, closed);
    if (s_append (self))
        return -1;
    if (window == ZMR_WINDOW_END)
        self->end_stored = true;
    else
    if (window + 1 > self->windows_stored_1) {
        self->windows_stored_1 = window + 1;
        self->windows_closed = closed;
    }
    return 0;
}

int
zmr_journal_quarantined (zmr_journal_t *self, uint64_t chunk)
{
    msgpack_pack_array (&self->pk, 1);
    msgpack_pack_uint64 (&self->pk, chunk);
    if (s_append (self) || zmr_u64set_insert (self->quarantined, chunk) < 0)
        return -1;
    return 0;
}

bool
zmr_journal_was_quarantined (zmr_journal_t *self, uint64_t chunk)
{
    return zmr_u64set_contains (self->quarantined, chunk);
}

uint64_t
zmr_journal_windows_stored (zmr_journal_t *self, uint64_t *closed)
{
    if (closed)
        *closed = self->windows_closed;
    return self->windows_stored_1;
}

bool
zmr_journal_end_stored (zmr_journal_t *self)
{
    return self->end_stored;
}

const zmr_journal_cut_t *
zmr_journal_cuts (zmr_journal_t *self, size_t *ncuts)
{
    *ncuts = self->ncuts;
    return self->cuts;
}

bool
zmr_journal_resumed (zmr_journal_t *self)
{
    return self->have_header;
}

bool
zmr_journal_was_done (zmr_journal_t *self, uint64_t chunk, uint64_t *words,
                      uint32_t *too_long, uint64_t *pairs)
{
    zmr_entry_t *entry = zmr_counts_lookup (self->done, &chunk, sizeof chunk);
    if (entry) {
        *words = self->done_recs[entry->count][0];
        *too_long = entry->aux;
        if (pairs)
            *pairs = self->done_recs[entry->count][1];
    }
    return entry != NULL;
}

const zmr_journal_summary_t *
zmr_journal_summary (zmr_journal_t *self)
{
    return &self->summary;
}

uint64_t
zmr_journal_records (zmr_journal_t *self)
{
    return self->records;
}

int
zmr_journal_rewrite_begin (zmr_journal_t *self, const zmr_journal_summary_t *summary)
{
    assert (!self->temp);
    assert (summary->chunks > 0 && summary->input < self->header.inputs);
    if (summary->npanes > S_PANES_MAX) {
        //  More than a reader takes back: the journal goes on as it is
        errno = EOVERFLOW;
        return -1;
    }
    size_t size = strlen (self->path) + 8;
    self->temp = malloc (size);
    if (!self->temp)
        return -1;
    snprintf (self->temp, size, "%s.new", self->path);
    int fd = open (self->temp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        free (self->temp);
        self->temp = NULL;
        errno = err;
        return -1;
    }
    self->old_fd = self->fd;
    self->fd = fd;
    msgpack_packer *pk = &self->pk;
    int rc = s_append_header (self);
    msgpack_pack_array (pk, 11);
    msgpack_pack_uint64 (pk, summary->chunks);
    msgpack_pack_uint64 (pk, summary->words);
    msgpack_pack_uint64 (pk, summary->too_long);
    msgpack_pack_uint64 (pk, summary->bytes);
    msgpack_pack_uint32 (pk, summary->input);
    msgpack_pack_uint64 (pk, summary->offset);
    msgpack_pack_uint64 (pk, summary->pairs);
    msgpack_pack_uint64 (pk, summary->event_max);
    msgpack_pack_uint64 (pk, summary->late);
    msgpack_pack_uint64 (pk, summary->untimed);
    msgpack_pack_array (pk, (uint32_t) summary->npanes);
    for (size_t i = 0; i < summary->npanes; i++)
        msgpack_pack_uint64 (pk, summary->panes[i]);
    if (s_append (self))
        rc = -1;
    if (self->windows_stored_1) {
        //  Which windows are written goes on with the journal
        msgpack_pack_array (pk, 2);
        msgpack_pack_uint64 (pk, self->windows_stored_1 - 1);
        msgpack_pack_uint64 (pk, self->windows_closed);
        if (s_append (self))
            rc = -1;
    }
    if (self->end_stored) {
        msgpack_pack_array (pk, 2);
        msgpack_pack_uint64 (pk, ZMR_WINDOW_END);
        msgpack_pack_uint64 (pk, self->windows_closed + 1);
        if (s_append (self))
            rc = -1;
    }
    if (rc) {
        int err = errno;
        zmr_journal_rewrite_end (self, false);
        errno = err;
        return -1;
    }
    return 0;
}

int
zmr_journal_rewrite_end (zmr_journal_t *self, bool ok)
{
    assert (self->temp);
    int err = 0;
    if (ok && (fsync (self->fd) || rename (self->temp, self->path)))
        err = errno;
    if (!ok || err) {
        unlink (self->temp);
        close (self->fd);
        self->fd = self->old_fd;
    }
    else {
        //  The rename must survive a power cut too: sync the directory
        char *copy = strdup (self->path);
        int dir = copy? open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC): -1;
        if (dir >= 0) {
            fsync (dir);
            close (dir);
        }
        free (copy);
        close (self->old_fd);
        self->records = 0;
    }
    self->old_fd = -1;
    free (self->temp);
    self->temp = NULL;
    if (!ok && !err)
        return -1;
    errno = err;
    return err? -1: 0;
}

size_t
zmr_journal_loaded (zmr_journal_t *self)
{
    return self->loaded;
}

int
zmr_journal_sync (zmr_journal_t *self)
{
    return fdatasync (self->fd);
}

void
zmr_journal_remove (zmr_journal_t **self_p)
{
    if (self_p && *self_p)
        unlink ((*self_p)->path);
    zmr_journal_destroy (self_p);
}
