/*  zmr_sink: each partition arrives as numbered RESULT parts; a part seen
    before is dropped, so a partition sent twice (the ventilator FLUSHes
    again when in doubt) is held once. The result is sorted once, here, and
    written to a temporary name that is renamed into place when complete.

    While the job runs, reducers told LIVE send UPDATEs of their running
    totals; the sink keeps them (zmr_live) and shows them: changed words on
    stdout (--follow) and on a PUB socket (--publish, TOTALS messages), all
    of them in a file replaced atomically (--snapshot), and, to the
    ventilator for the status, the top words and the latency from text in
    to count visible here (LIVESTAT).

    With windows, reducers send each closed window's counts as WINDOW parts;
    once every partition's are here the window is written (a file in
    --window-dir, TOTALS on --publish), WSTORED tells the ventilator, and
    its memory is freed. */
#include "zmr_sink.h"
#include "zmr_worker.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    zmr_counts_t *counts;    //  The partition's words
    zmr_u64set_t *seqs;      //  Parts received
    uint64_t parts;          //  Parts expected (0: none seen)
    bool complete;           //  Every part is here
} s_partition_t;

typedef struct {
    uint64_t id;             //  Window: its start, ms since the epoch
    zmr_counts_t *counts;    //  Its words, every partition's
    zmr_u64set_t **seqs;     //  Per partition, parts received
    uint64_t *parts;         //  Per partition, parts expected (0: none yet)
    uint32_t complete;       //  Partitions complete
    uint64_t words;          //  Sum of its counts
} s_window_t;

typedef struct {
    const zmr_sink_config_t *config;
    zmr_worker_t *worker;            //  Control link to the ventilator
    zmr_counters_t *counters;        //  The worker's, for heartbeats
    char endpoint[ZMR_ENDPOINT_MAX]; //  As advertised
    uint64_t job;                    //  Adopted from WELCOME
    uint32_t reducers;               //  R
    zsock_t *results;                //  PULL from reducers
    s_partition_t *partitions;       //  R of them
    uint32_t complete;               //  Partitions complete
    msgpack_sbuffer sbuf;            //  TOTALS being sent
    msgpack_packer pk;               //  Packs into sbuf
    bool finished;                   //  FINISH or REJECT received
    bool finish_ok;                  //  ... for a job that was done
    zmr_status_t final;              //  The job's state at FINISH
    uint64_t digest;                 //  Of the result (see s_line_digest)
    zmr_live_t *live;                //  Running totals
    zsock_t *publish;                //  PUB of TOTALS, or NULL
    int64_t next_follow;             //  When changes go out next
    int64_t next_snapshot;           //  When the snapshot is due
    uint64_t snapshot_updates;       //  Updates the last snapshot holds
    int64_t next_livestat;           //  When LIVESTAT is due
    uint32_t npublish;               //  Pairs in the TOTALS being packed
    msgpack_sbuffer pubbuf;          //  Its pairs
    msgpack_packer pubpk;
    s_window_t *window;              //  The window being collected, or NULL
    uint64_t stored_1;               //  Last window written, + 1 (0: none)
    uint64_t stored_words;           //  Its words
    int fail;                        //  Exit code of a lasting failure
                                     //  (said already), or 0
} s_sink_t;

//  A failure that starting the sink again cannot cure: the loop ends and
//  the sink exits with code (1 after one line saying why, 141 quietly when
//  standard output was closed). The first one stands.
static void
s_fail (s_sink_t *self, int code)
{
    if (!self->fail)
        self->fail = code;
}

//  The exit code of a write that failed with error when it is no failure
//  to report: 141 when the reader of a pipe left (as a filter ends), 128 +
//  the signal when SIGINT or SIGTERM (the only signals handled, so the
//  only ones that interrupt a write) stopped it while the output was
//  unfinished (so not 0). Otherwise 0: a failure to say, exit 1.
static int
s_quiet_code (int error)
{
    if (error == EPIPE)
        return 141;
    if (error == EINTR && zmr_interrupted ())
        return 128 + zmr_stop_signal ();
    return 0;
}

//  Drops what standard output still buffers, so that exit does not try
//  to write it: into a pipe nobody reads, after a stop signal, that would
//  block for ever.
static void
s_drop_stdout (void)
{
    __fpurge (stdout);
}

//  The exit code of a write that failed with errno: quiet, or 1.
static int
s_write_failed (void)
{
    int code = s_quiet_code (errno);
    return code? code: 1;
}

static void
s_heartbeat (s_sink_t *self)
{
    zmr_worker_heartbeat (self->worker, self->job, 0);
}

static void s_window_done (s_sink_t *self);

static void
s_window_free (s_sink_t *self)
{
    s_window_t *window = self->window;
    if (!window)
        return;
    zmr_counts_destroy (&window->counts);
    for (uint32_t p = 0; window->seqs && p < self->reducers; p++)
        zmr_u64set_destroy (&window->seqs[p]);
    free (window->seqs);
    free (window->parts);
    free (window);
    self->window = NULL;
}

//  A part of a window's counts. Windows come one at a time, in order: a
//  part of another window than the one collected drops that one (its
//  reducers will send it again when CLOSE comes again); a part of one
//  written already is answered with WSTORED (the ventilator did not hear).
static void
s_on_window (s_sink_t *self, zmr_msg_t *msg)
{
    if (self->stored_1 && msg->window < self->stored_1) {
        if (msg->window + 1 == self->stored_1) {
            zmr_msg_pack_wstored (zmr_worker_packer (self->worker), self->job, msg->window, self->stored_words);
            zmr_worker_send (self->worker);
        }
        return;
    }
    if (self->window && self->window->id != msg->window)
        s_window_free (self);
    if (!self->window) {
        s_window_t *window = calloc (1, sizeof *window);
        if (window) {
            window->id = msg->window;
            window->counts = zmr_counts_new ();
            window->seqs = calloc (self->reducers, sizeof *window->seqs);
            window->parts = calloc (self->reducers, sizeof *window->parts);
        }
        self->window = window;
        if (!window || !window->counts || !window->seqs || !window->parts)
            goto oom;
    }
    s_window_t *window = self->window;
    uint32_t p = msg->partition;
    if (window->parts[p] == msg->parts && window->seqs[p]
    &&  zmr_u64set_size (window->seqs[p]) == window->parts[p])
        return;                 //  That partition is whole already
    if (window->parts[p] != msg->parts) {
        if (window->parts[p]) {
            //  Another cut of the same partition's window: it cannot be,
            //  the table does not change once closed; start it again.
            zmr_log (0, "partition %u sent window %llu cut two ways", p,
                     (unsigned long long) window->id);
            s_window_free (self);
            return;
        }
        window->parts[p] = msg->parts;
        window->seqs[p] = zmr_u64set_new ();
        if (!window->seqs[p])
            goto oom;
    }
    int fresh = zmr_u64set_insert (window->seqs[p], msg->seq);
    if (fresh < 0)
        goto oom;
    if (fresh) {
        const char *word;
        uint32_t len;
        uint64_t count;
        while (zmr_msg_next_pair (msg, &word, &len, &count)) {
            if (!zmr_counts_add (window->counts, word, len, count, NULL))
                goto oom;
            window->words += count;
        }
    }
    if (zmr_u64set_size (window->seqs[p]) == window->parts[p]
    &&  ++window->complete == self->reducers)
        s_window_done (self);
    return;
oom:
    zmr_log (0, "out of memory collecting window %llu", (unsigned long long) msg->window);
    s_fail (self, 1);
}

static void
s_on_result (s_sink_t *self)
{
    zmq_msg_t frame;
    zmr_msg_t msg;
    if (!zmr_worker_recv (self->results, "results", &frame, 1, &msg,
                          &self->counters->malformed))
        return;
    const char *why;
    if ((msg.type != ZMR_RESULT && msg.type != ZMR_UPDATE && msg.type != ZMR_WINDOW
         && (why = "not a RESULT"))
    ||  (msg.job != self->job && (why = "RESULT of another job"))
    ||  (msg.reducers != self->reducers && (why = "RESULT for another reducer count"))) {
        self->counters->malformed++;
        zmr_log_dropped ("results", why);
        zmq_msg_close (&frame);
        return;
    }
    if (msg.type == ZMR_WINDOW) {
        s_on_window (self, &msg);
        zmq_msg_close (&frame);
        return;
    }
    if (msg.type == ZMR_UPDATE) {
        int rc = zmr_live_update (self->live, &msg, zmr_wall_ms ());
        zmq_msg_close (&frame);
        if (rc) {
            zmr_log (0, "out of memory for the running totals");
            s_fail (self, 1);
        }
        return;
    }
    s_partition_t *partition = &self->partitions[msg.partition];
    if (partition->complete) {
        zmq_msg_close (&frame);
        return;
    }
    if (partition->parts != msg.parts) {
        //  A different cut of the partition: start it again from this one.
        zmr_counts_clear (partition->counts);
        zmr_u64set_destroy (&partition->seqs);
        partition->seqs = zmr_u64set_new ();
        partition->parts = msg.parts;
    }
    int fresh = partition->seqs? zmr_u64set_insert (partition->seqs, msg.seq): -1;
    if (fresh == 1) {
        const char *word;
        uint32_t len;
        uint64_t count;
        while (zmr_msg_next_pair (&msg, &word, &len, &count)) {
            bool is_new;
            if (!zmr_counts_add (partition->counts, word, len, count, &is_new)) {
                fresh = -1;
                break;
            }
            //  Within one partition each word comes once; a repeat is a
            //  reducer gone wrong, and a sum would hide it.
            if (!is_new) {
                zmr_log (0, "partition %u sent the word '%.*s' twice",
                         msg.partition, (int) (len > 40? 40: len), word);
                self->counters->malformed++;
            }
            self->counters->words += count;
        }
    }
    zmq_msg_close (&frame);
    if (fresh < 0) {
        zmr_log (0, "out of memory collecting partition %u", msg.partition);
        s_fail (self, 1);
        return;
    }
    if (zmr_u64set_size (partition->seqs) == partition->parts) {
        partition->complete = true;
        self->complete++;
        self->counters->chunks++;
        self->counters->distinct += zmr_counts_size (partition->counts);
        zmr_msg_pack_stored (zmr_worker_packer (self->worker), self->job, msg.partition);
        zmr_worker_send (self->worker);
    }
}

//  The receipt's digest of one result line: the first 8 bytes, big-endian,
//  of SHA-256 of the line ("word<TAB>count<LF>"). The digest of a result is
//  the sum of its lines' modulo 2^64: independent of their order, and a
//  few lines of Python recompute it from the output.
static uint64_t
s_line_digest (EVP_MD_CTX *ctx, const EVP_MD *sha256, const char *word, uint32_t len,
               const char *tail, size_t tail_len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_DigestInit_ex2 (ctx, sha256, NULL) || !EVP_DigestUpdate (ctx, word, len)
    ||  !EVP_DigestUpdate (ctx, tail, tail_len) || !EVP_DigestFinal_ex (ctx, md, &mdlen)) {
        zmr_log (0, "SHA-256 failed");
        abort ();
    }
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = (value << 8) | md[i];
    return value;
}

//  Writes count entries in result order to out: entries[0 ..), or with
//  order the entries it points at. Adds their digest to *digest if not
//  NULL. Returns 0, or -1 on a write error.
static int
s_write_entries (FILE *out, const zmr_entry_t *entries, const zmr_entry_t *const *order,
                 size_t count, uint64_t *digest)
{
    EVP_MD *sha256 = digest? EVP_MD_fetch (NULL, "SHA256", NULL): NULL;
    EVP_MD_CTX *ctx = digest? EVP_MD_CTX_new (): NULL;
    if (digest && (!sha256 || !ctx)) {
        zmr_log (0, "OpenSSL has no SHA-256");
        abort ();
    }
    uint64_t sum = 0;
    int error = 0;              //  errno of the first write that failed
    //  Lines go out through one large buffer: two fwrite calls a line (each
    //  taking the stream's lock) were most of the writing's time
    size_t cap = 256 << 10, used = 0;
    char *lines = (char *) malloc (cap);
    for (size_t i = 0; i < count; i++) {
        const zmr_entry_t *entry = order? order[i]: &entries[i];
        if (order && i + 16 < count)
            __builtin_prefetch (order[i + 16]);
        if (order && i + 8 < count)
            __builtin_prefetch (order[i + 8]->word);
        //  "\t<count>\n", the digits written backwards from the end
        char tail[24];
        char *at = tail + sizeof tail;
        *--at = '\n';
        uint64_t value = entry->count;
        do {
            *--at = (char) ('0' + value % 10);
            value /= 10;
        } while (value);
        *--at = '\t';
        size_t tail_len = (size_t) (tail + sizeof tail - at);
        if (lines && entry->len + tail_len <= cap - used) {
            memcpy (lines + used, entry->word, entry->len);
            memcpy (lines + used + entry->len, at, tail_len);
            used += entry->len + tail_len;
        }
        else {
            //  No room (or no buffer): what is buffered, then this line
            if ((used && fwrite (lines, 1, used, out) != used)
            ||  fwrite (entry->word, 1, entry->len, out) != entry->len
            ||  fwrite (at, 1, tail_len, out) != tail_len) {
                error = errno;
                break;
            }
            used = 0;
        }
        if (digest)
            sum += s_line_digest (ctx, sha256, entry->word, entry->len, at, tail_len);
    }
    if (!error && used && fwrite (lines, 1, used, out) != used)
        error = errno;
    free (lines);
    if (digest)
        *digest += sum;
    EVP_MD_CTX_free (ctx);
    EVP_MD_free (sha256);
    if (!error && ferror (out))
        error = EIO;
    errno = error;
    return error? -1: 0;
}

//  Opens where path (named by option, "--output" for example, in every
//  message) is written: a temporary name beside it (into temp, size
//  bytes) that s_temp_commit renames into place, so that the file appears
//  whole or not at all; or, when path is a device or a pipe (nothing can
//  be renamed into it), path itself, with temp "": written once. target
//  (size bytes) gets the file written: path, or the file a symbolic link
//  path names (written through, as sort -o and '>' do, not replaced).
//  Returns NULL after saying why.
static FILE *
s_temp_open (const char *option, const char *path, char *target, char *temp, size_t size)
{
    struct stat info;
    char *real = lstat (path, &info) == 0 && S_ISLNK (info.st_mode)? realpath (path, NULL)
                                                                    : NULL;
    if (snprintf (target, size, "%s", real? real: path) >= (int) size) {
        zmr_log (0, "%s: file name too long: '%.64s...'", option, path);
        free (real);
        return NULL;
    }
    free (real);
    path = target;
    bool in_place = stat (path, &info) == 0 && !S_ISREG (info.st_mode)
                 && !S_ISDIR (info.st_mode);
    if (in_place)
        temp[0] = 0;
    else
    if (snprintf (temp, size, "%s.tmp-%d", path, (int) getpid ()) >= (int) size) {
        zmr_log (0, "%s: file name too long: '%.64s...'", option, path);
        return NULL;
    }
    FILE *out = fopen (in_place? path: temp, "w");
    if (!out)
        zmr_log (0, "%s: cannot write '%s': %s", option, path, strerror (errno));
    return out;
}

//  Flushes (and with sync, fsyncs) and closes out, then renames temp to
//  path. rc -1 says the writing failed already (errno says why). On any
//  failure removes temp and says why in one line, except for a pipe that
//  was closed or a write a stop signal interrupted (s_quiet_code). Returns 0,
//  or -1 with errno set.
static int
s_temp_commit (FILE *out, const char *temp, const char *path, int rc, const char *option,
               bool sync)
{
    int error = rc? errno: 0;
    if (!error && (fflush (out) || ferror (out)))
        error = errno? errno: EIO;
    //  A pipe or a device cannot be fsynced (EINVAL): written in place
    if (!error && sync && temp[0] && fsync (fileno (out)))
        error = errno;
    if (fclose (out) && !error)
        error = errno;
    if (!error && temp[0] && rename (temp, path))
        error = errno;
    if (error) {
        if (temp[0])
            unlink (temp);
        if (!s_quiet_code (error) || temp[0])
            zmr_log (0, "%s: cannot write '%s': %s", option, path, strerror (error));
    }
    errno = error;
    return error? -1: 0;
}

//  Writes entries to path (named by option), whole or not at all.
static int
s_write_file (const char *option, const char *path, const zmr_entry_t *entries,
              const zmr_entry_t *const *order, size_t count, uint64_t *digest)
{
    char temp[4096], target[4096];
    FILE *out = s_temp_open (option, path, target, temp, sizeof temp);
    if (!out)
        return -1;
    static char buffer[1 << 20];
    setvbuf (out, buffer, _IOFBF, sizeof buffer);
    int rc = s_write_entries (out, entries, order, count, digest);
    return s_temp_commit (out, temp, target, rc, option, true);
}

//  Marks dir's parts complete: an empty _SUCCESS, as Hadoop's jobs leave,
//  made only after the parts' renames are on disk. Returns 0, or -1 after
//  saying why.
static int
s_mark_success (const char *dir, const char *marker)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd == -1 || fsync (fd)? -1: 0;
    if (fd != -1)
        close (fd);
    if (rc == 0) {
        fd = open (marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        rc = fd == -1 || fsync (fd)? -1: 0;
        if (fd != -1 && close (fd))
            rc = -1;
    }
    if (rc)
        zmr_log (0, "--parts: cannot write '%s': %s", marker, strerror (errno));
    return rc;
}

//  Writes the result where asked (and the part files, then their
//  _SUCCESS). Returns the exit code: 0 written, 1 failed (said why), 141
//  standard output closed (quietly, as a filter ends).
static int
s_write_result (s_sink_t *self, uint64_t *words, uint64_t *distinct)
{
    size_t total = 0;
    *words = 0;
    for (uint32_t p = 0; p < self->reducers; p++) {
        total += zmr_counts_size (self->partitions[p].counts);
        *words += zmr_counts_total (self->partitions[p].counts);
    }
    *distinct = total;
    const char *parts = self->config->parts_dir;
    char marker[4096];
    if (parts) {
        //  The directory was made and emptied (or found empty) at start;
        //  a marker from before this sink was started again must not
        //  stand over parts being replaced.
        snprintf (marker, sizeof marker, "%s/_SUCCESS", parts);
        if (unlink (marker) && errno != ENOENT) {
            zmr_log (0, "--parts: cannot remove '%s': %s", marker, strerror (errno));
            return 1;
        }
        for (uint32_t p = 0; p < self->reducers; p++) {
            size_t count;
            zmr_entry_t *sorted = zmr_counts_sorted (self->partitions[p].counts, &count);
            if (!sorted) {
                zmr_log (0, "out of memory writing partition %u", p);
                return 1;
            }
            char path[4096];
            snprintf (path, sizeof path, "%s/part-%05u", parts, p);
            int rc = s_write_file ("--parts", path, sorted, NULL, count, NULL);
            free (sorted);
            if (rc)
                return 1;
        }
    }
    //  The result is written from the partitions' own entries, through
    //  pointers in result order: no copy of them (a third of the sink's
    //  memory at its peak)
    const zmr_entry_t *runs[ZMR_MAX_REDUCERS];
    size_t counts[ZMR_MAX_REDUCERS];
    for (uint32_t p = 0; p < self->reducers; p++) {
        runs[p] = zmr_counts_entries (self->partitions[p].counts);
        counts[p] = zmr_counts_size (self->partitions[p].counts);
    }
    const zmr_entry_t **all = zmr_entries_order (runs, counts, self->reducers, &total);
    if (!all) {
        zmr_log (0, "out of memory for %zu result lines", total);
        return 1;
    }
    int code = 0;
    //  The digest is for the receipt; without one it would cost a SHA-256
    //  per line for nothing.
    self->digest = 0;
    uint64_t *digest = self->config->receipt? &self->digest: NULL;
    if (self->config->output) {
        if (s_write_file ("--output", self->config->output, NULL, all, total, digest))
            code = s_write_failed ();
    }
    else
    if (self->config->follow) {
        //  Standard output carries the running totals: the last line of
        //  each word is its final count already.
        if (digest) {
            //  The receipt still gets the digest of the result.
            FILE *null = fopen ("/dev/null", "w");
            if (!null || s_write_entries (null, NULL, all, total, digest)) {
                zmr_log (0, "cannot write to /dev/null: %s", strerror (errno));
                code = 1;
            }
            if (null)
                fclose (null);
        }
    }
    else
    if (s_write_entries (stdout, NULL, all, total, digest) || fflush (stdout)) {
        code = s_quiet_code (errno);
        if (code)
            s_drop_stdout ();
        else {
            zmr_log (0, "cannot write the result to standard output: %s", strerror (errno));
            code = 1;
        }
    }
    free (all);
    if (code == 0 && parts && s_mark_success (parts, marker))
        code = 1;
    return code;
}

//  Writes the job's receipt (JSON), whole or not at all.
static int
s_write_receipt (s_sink_t *self, const char *path, uint64_t words, uint64_t distinct)
{
    char temp[4096], target[4096];
    FILE *out = s_temp_open ("--receipt", path, target, temp, sizeof temp);
    if (!out)
        return -1;
    zmr_status_t *f = &self->final;
    fprintf (out, "{\n  \"job\": \"%016llx\",\n", (unsigned long long) self->job);
    fprintf (out, "  \"input_bytes\": %llu,\n  \"input_files\": %llu,\n",
             (unsigned long long) f->bytes_read, (unsigned long long) f->inputs);
    fprintf (out, "  \"chunks\": %llu,\n  \"chunks_issued\": %llu,\n"
             "  \"chunks_reissued\": %llu,\n  \"chunks_quarantined\": %llu,\n",
             (unsigned long long) f->chunks_read, (unsigned long long) f->chunks_issued,
             (unsigned long long) f->chunks_reissued,
             (unsigned long long) f->chunks_quarantined);
    fputs ("  \"quarantine\": ", out);
    zmr_status_write_quarantine (f, out);
    fputs (",\n  \"duplicates_dropped\": {", out);
    bool first = true;
    for (uint32_t w = 0; w < f->nworkers; w++)
        if (!strcmp (f->workers[w].role, "reducer") && strcmp (f->workers[w].state, "left")) {
            fprintf (out, "%s\"%llu\": %llu", first? "": ", ",
                     (unsigned long long) f->workers[w].partition,
                     (unsigned long long) f->workers[w].duplicates);
            first = false;
        }
    fprintf (out, "},\n  \"words\": %llu,\n  \"words_too_long\": %llu,\n"
             "  \"distinct\": %llu,\n", (unsigned long long) words,
             (unsigned long long) f->words_too_long, (unsigned long long) distinct);
    fprintf (out, "  \"digest\": \"%016llx\",\n", (unsigned long long) self->digest);
    fputs ("  \"digest_rule\": \"sum modulo 2^64 over the result's lines of the first "
           "8 bytes, big-endian, of SHA-256 of the line (word, TAB, count, LF)\"\n}\n", out);
    return s_temp_commit (out, temp, target, 0, "--receipt", true);
}

//  --follow: one "word<TAB>total" line per changed word.
static int
s_follow_line (const char *word, uint32_t len, uint64_t total, void *arg)
{
    FILE *out = (FILE *) arg;
    fwrite (word, 1, len, out);
    fprintf (out, "\t%llu\n", (unsigned long long) total);
    return ferror (out)? -1: 0;
}

//  Sends the TOTALS being packed (of window, 0: running totals), if any
//  (final: the last ones).
static void
s_publish_send (s_sink_t *self, bool final, uint64_t window)
{
    if (!self->npublish && !final)
        return;
    zmr_msg_begin_totals (&self->pk, self->job, final, window, self->npublish);
    msgpack_sbuffer_write (&self->sbuf, self->pubbuf.data, self->pubbuf.size);
    msgpack_sbuffer_clear (&self->pubbuf);
    self->npublish = 0;
    //  A subscriber that does not keep up loses messages (HWM), never
    //  holds the sink up.
    if (zmr_msg_send (self->publish, &self->sbuf, ZMQ_DONTWAIT) == -1)
        msgpack_sbuffer_clear (&self->sbuf);
}

//  --publish: packs a word into TOTALS (of window, 0: running totals) of
//  about 64 KiB each.
static void
s_publish_word (s_sink_t *self, const char *word, uint32_t len, uint64_t total,
                uint64_t window)
{
    zmr_msg_pack_pair (&self->pubpk, word, len, total);
    self->npublish++;
    if (self->pubbuf.size >= (64u << 10))
        s_publish_send (self, false, window);
}

//  Publishes every entry, the last message final: a window's counts, or at
//  the end every total once more, so a late subscriber ends whole.
static void
s_publish_entries (s_sink_t *self, zmr_entry_t *entries, size_t count, uint64_t window)
{
    for (size_t i = 0; i < count; i++)
        s_publish_word (self, entries[i].word, entries[i].len, entries[i].count, window);
    s_publish_send (self, true, window);
}

static void
s_publish_all (s_sink_t *self)
{
    size_t count;
    zmr_entry_t *sorted = zmr_live_sorted (self->live, &count);
    if (!sorted) {
        zmr_log (0, "out of memory publishing %zu totals", count);
        s_fail (self, 1);
        return;
    }
    s_publish_entries (self, sorted, count, 0);
    free (sorted);
}

//  Both: each changed word once to every view that wants it.
static int
s_changed (const char *word, uint32_t len, uint64_t total, void *arg)
{
    s_sink_t *self = (s_sink_t *) arg;
    if (self->config->follow && s_follow_line (word, len, total, stdout))
        return -1;
    if (self->publish)
        s_publish_word (self, word, len, total, 0);
    return 0;
}

//  Writes every running total to the snapshot file, whole or not at all.
//  One that cannot be written is a lasting failure: the user asked for it,
//  and a file that silently stops changing would be a lie.
static void
s_snapshot (s_sink_t *self)
{
    size_t count;
    zmr_entry_t *sorted = zmr_live_sorted (self->live, &count);
    if (!sorted) {
        zmr_log (0, "out of memory for a snapshot of %zu words", count);
        s_fail (self, 1);
        return;
    }
    char temp[4096], target[4096];
    FILE *out = s_temp_open ("--snapshot", self->config->snapshot, target, temp, sizeof temp);
    //  No fsync: a snapshot is replaced before long; rename keeps it whole.
    if (!out
    ||  s_temp_commit (out, temp, target,
                       s_write_entries (out, sorted, NULL, count, NULL), "--snapshot", false))
        s_fail (self, s_write_failed ());
    free (sorted);
    self->snapshot_updates = zmr_live_updates (self->live);
}

//  A window is whole: writes it where asked, tells the ventilator, frees it.
static void
s_window_done (s_sink_t *self)
{
    s_window_t *window = self->window;
    uint64_t start = window->id;
    size_t count;
    zmr_entry_t *sorted = zmr_counts_sorted (window->counts, &count);
    if (!sorted) {
        zmr_log (0, "out of memory writing window %llu", (unsigned long long) window->id);
        s_fail (self, 1);
        return;
    }
    if (self->config->window_dir) {
        char path[4096];
        snprintf (path, sizeof path, "%s/window-%llu.tsv", self->config->window_dir,
                  (unsigned long long) start);
        if (s_write_file ("--window-dir", path, sorted, NULL, count, NULL)) {
            //  Said why; the job cannot keep its promise
            free (sorted);
            s_fail (self, 1);
            return;
        }
    }
    if (self->publish)
        s_publish_entries (self, sorted, count, window->id);
    free (sorted);
    self->stored_1 = window->id + 1;
    self->stored_words = window->words;
    zmr_log (1, "window from %llu ms: %llu words, %zu distinct",
             (unsigned long long) start, (unsigned long long) window->words, count);
    zmr_msg_pack_wstored (zmr_worker_packer (self->worker), self->job, window->id, window->words);
    zmr_worker_send (self->worker);
    s_window_free (self);
}

//  The ventilator's view for the status: latency and the top words.
static void
s_livestat (s_sink_t *self)
{
    uint64_t p50, p99, samples;
    zmr_live_latency (self->live, zmr_wall_ms (), 60000, &p50, &p99, &samples);
    zmr_entry_t top[ZMR_TOP_MAX];
    size_t k = self->config->top < ZMR_TOP_MAX? self->config->top: ZMR_TOP_MAX;
    size_t n = zmr_live_top (self->live, top, k);
    zmr_msg_begin_livestat (zmr_worker_packer (self->worker), self->job, p50, p99, samples, (uint32_t) n);
    for (size_t i = 0; i < n; i++)
        zmr_msg_pack_pair (zmr_worker_packer (self->worker), top[i].word,
                           top[i].len < 256? top[i].len: 256, top[i].count);
    zmr_worker_send (self->worker);
}

//  What is due of the live views; forced: all of it now (the job ends).
static void
s_live_tick (s_sink_t *self, bool forced)
{
    int64_t now = zmr_now_ms ();
    if (!forced && zmr_live_updates (self->live) == 0)
        return;
    if (forced || now >= self->next_follow) {
        self->next_follow = now + self->config->follow_ms;
        if ((self->config->follow || self->publish)
        &&  zmr_live_changed (self->live)) {
            if (zmr_live_drain (self->live, s_changed, self)
            ||  (self->config->follow && fflush (stdout))) {
                //  A reader that went away ends us as it ends any filter
                int quiet = s_quiet_code (errno);
                if (quiet) {
                    s_drop_stdout ();
                    s_fail (self, quiet);
                }
                else {
                    zmr_log (0, "cannot write the running totals to standard output: %s",
                             strerror (errno));
                    s_fail (self, 1);
                }
                return;
            }
            if (self->publish)
                s_publish_send (self, false, 0);
        }
        if (forced && self->publish)
            s_publish_all (self);
    }
    if (self->config->snapshot && (forced || now >= self->next_snapshot)) {
        self->next_snapshot = now + self->config->snapshot_ms;
        if (zmr_live_updates (self->live) != self->snapshot_updates || forced)
            s_snapshot (self);
    }
    if (forced || now >= self->next_livestat) {
        self->next_livestat = now + self->config->heartbeat_ms;
        s_livestat (self);
    }
}

static void
s_on_control (s_sink_t *self)
{
    zmq_msg_t frame;
    zmr_msg_t msg;
    if (!zmr_worker_recv_control (self->worker, &frame, &msg))
        return;
    const char *why;
    if (msg.type == ZMR_FINISH && msg.job == self->job) {
        self->finished = true;
        self->finish_ok = msg.flag;
        zmr_status_reset (&self->final);
        if (zmr_status_decode (&msg, &self->final, &why))
            zmr_log (0, "FINISH without a readable state: %s", why);
        //  The ventilator said why, once for the whole job
        if (!msg.flag)
            zmr_log (1, "the job ended without success: %s", msg.reason);
    }
    else
    if (msg.type == ZMR_REJECT) {
        zmr_log (0, "rejected by the ventilator: %s", msg.reason);
        self->finished = true;
    }
    else
    if (msg.type == ZMR_AGAIN) {
        zmr_msg_pack_hello (zmr_worker_packer (self->worker), self->job, ZMR_ROLE_SINK, 0, 0, self->endpoint,
                            zmr_worker_name (self->worker), 0, zmr_curve_public_key ());
        zmr_worker_send (self->worker);
    }
    else
    if (msg.type != ZMR_WELCOME) {
        self->counters->malformed++;
        zmr_log_dropped ("control", "unexpected message");
    }
    zmq_msg_close (&frame);
}

int
zmr_sink_run (const zmr_sink_config_t *config)
{
    s_sink_t self;
    memset (&self, 0, sizeof self);
    self.config = config;
    msgpack_sbuffer_init (&self.sbuf);
    msgpack_packer_init (&self.pk, &self.sbuf, msgpack_sbuffer_write);
    msgpack_sbuffer_init (&self.pubbuf);
    msgpack_packer_init (&self.pubpk, &self.pubbuf, msgpack_sbuffer_write);
    self.results = zmr_socket (ZMQ_PULL, ZMR_MAX_MSG + (64 << 10), 0);
    int code = 1;
    if (!self.results)
        goto cleanup;
    char bound[ZMR_ENDPOINT_MAX];
    //  An endpoint that cannot be bound now (in use, a missing ipc://
    //  directory) will not be bound by starting again: said, exit 2, as
    //  for an output found unwritable at start
    if (zmr_bind (self.results, config->bind, bound)) {
        code = 2;
        goto cleanup;
    }
    if (config->publish) {
        //  Outbound only; subscribers that lag lose updates, never stall us.
        self.publish = zmr_socket (ZMQ_PUB, 256, 1000);
        if (!self.publish)
            goto cleanup;
        zsock_set_sndhwm (self.publish, 1000);
        if (zmr_bind (self.publish, config->publish, NULL)) {
            code = 2;
            goto cleanup;
        }
    }
    snprintf (self.endpoint, sizeof self.endpoint, "%s",
              config->advertise? config->advertise: bound);
    self.worker = zmr_worker_new (config->control, config->name, config->heartbeat_ms, false);
    if (!self.worker)
        goto cleanup;
    self.counters = zmr_worker_counters (self.worker);
    zmr_join_t join = { .role = ZMR_ROLE_SINK, .endpoint = self.endpoint,
                        .wait_ms = config->wait_ms };
    zmq_msg_t frame;
    zmr_msg_t welcome;
    int joined = 2;
    while (joined == 2)
        joined = zmr_worker_join (self.worker, &join, &frame, &welcome);
    if (joined != 0) {
        code = joined > 0? 0: 1;
        goto cleanup;
    }
    self.job = welcome.job;
    self.reducers = welcome.reducers;
    zmq_msg_close (&frame);
    self.partitions = calloc (self.reducers, sizeof *self.partitions);
    self.live = zmr_live_new (self.reducers);
    if (!self.partitions || !self.live)
        goto cleanup;
    for (uint32_t p = 0; p < self.reducers; p++) {
        self.partitions[p].counts = zmr_counts_new ();
        self.partitions[p].seqs = zmr_u64set_new ();
        if (!self.partitions[p].counts || !self.partitions[p].seqs)
            goto cleanup;
    }
    s_heartbeat (&self);
    bool written = false;
    uint64_t done_words = 0, done_distinct = 0;
    while (!self.finished && !self.fail && !zmr_interrupted ()) {
        zmq_pollitem_t items[] = {
            { zsock_resolve (self.results), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (zmr_worker_control (self.worker)), 0, ZMQ_POLLIN, 0 },
        };
        int64_t wait = zmr_worker_heartbeat_in (self.worker);
        if (zmr_live_updates (self.live) && self.next_follow - zmr_now_ms () < wait)
            wait = self.next_follow - zmr_now_ms ();
        int rc = zmq_poll (items, 2, wait > 0? (long) wait: 0);
        if (rc == -1 && errno != EINTR)
            break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            //  A bounded batch, so the live views keep their pace.
            for (int i = 0; i < 64 && !self.fail
                            && (zsock_events (self.results) & ZMQ_POLLIN); i++)
                s_on_result (&self);
        s_live_tick (&self, false);
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            s_on_control (&self);
        if (zmr_worker_heartbeat_in (self.worker) <= 0) {
            s_heartbeat (&self);
            if (written) {
                //  Until FINISH: a ventilator that restarted meanwhile
                //  must still hear that the result is written.
                zmr_msg_pack_done (zmr_worker_packer (self.worker), self.job, done_words, done_distinct);
                zmr_worker_send (self.worker);
            }
        }
        if (!written && self.complete == self.reducers) {
            //  The running totals end as the result: the reducers' last
            //  UPDATEs came before their results, and anything an UPDATE
            //  did not carry (one the sink's queue refused, a reducer
            //  restarted) is set from the partitions.
            if (zmr_live_updates (self.live) || config->follow || config->snapshot
            ||  config->publish)
                for (uint32_t p = 0; p < self.reducers; p++) {
                    zmr_counts_t *counts = self.partitions[p].counts;
                    zmr_entry_t *entries = zmr_counts_entries (counts);
                    for (size_t i = 0; i < zmr_counts_size (counts); i++)
                        if (zmr_live_set (self.live, entries[i].word, entries[i].len,
                                          entries[i].count)) {
                            zmr_log (0, "out of memory for the running totals");
                            s_fail (&self, 1);
                            break;
                        }
                }
            if (!self.fail)
                s_live_tick (&self, true);
            if (!self.fail)
                s_fail (&self, s_write_result (&self, &done_words, &done_distinct));
            if (self.fail)
                break;
            written = true;
            s_heartbeat (&self);
            zmr_msg_pack_done (zmr_worker_packer (self.worker), self.job, done_words, done_distinct);
            zmr_worker_send (self.worker);
            zmr_log (1, "wrote %llu words, %llu distinct", (unsigned long long) done_words,
                     (unsigned long long) done_distinct);
        }
    }
    if (self.fail) {
        //  Said why (or quiet: a closed standard output); leaving, so the
        //  ventilator does not wait for this sink's heartbeats
        zmr_worker_bye (self.worker, self.job);
        code = self.fail;
    }
    else
    if (self.finished) {
        code = self.finish_ok && written? 0: 1;
        if (code == 0 && config->receipt
        &&  s_write_receipt (&self, config->receipt, done_words, done_distinct))
            code = s_write_failed ();
    }
    else
    if (zmr_interrupted ()) {
        zmr_worker_bye (self.worker, self.job);
        code = 0;
    }
cleanup:
    zmr_status_reset (&self.final);
    for (uint32_t p = 0; self.partitions && p < self.reducers; p++) {
        zmr_counts_destroy (&self.partitions[p].counts);
        zmr_u64set_destroy (&self.partitions[p].seqs);
    }
    free (self.partitions);
    zmr_live_destroy (&self.live);
    s_window_free (&self);
    zsock_destroy (&self.publish);
    msgpack_sbuffer_destroy (&self.pubbuf);
    zsock_destroy (&self.results);
    zmr_worker_destroy (&self.worker);
    msgpack_sbuffer_destroy (&self.sbuf);
    return code;
}
