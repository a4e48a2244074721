/*  zmr_result: the sink's result writer. Writes a job's lines, in result
    order, to standard output, a file (whole or not at all: a temporary
    name renamed into place) and per-partition part files with Hadoop's
    _SUCCESS marker; computes the receipt's digest as it goes, and writes
    the receipt. Knows no sockets and no sink state. */
#include "zmr_result.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  The exit code of a write that failed with error when it is no failure
//  to report: 141 when the reader of a pipe left (as a filter ends), 128 +
//  the signal when SIGINT or SIGTERM (the only signals handled, so the
//  only ones that interrupt a write) stopped it while the output was
//  unfinished (so not 0). Otherwise 0: a failure to say, exit 1.
int
zmr_result_quiet_code (int error)
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
void
zmr_result_drop_stdout (void)
{
    __fpurge (stdout);
}

//  The exit code of a write that failed with errno: quiet, or 1.
int
zmr_result_write_failed (void)
{
    int code = zmr_result_quiet_code (errno);
    return code? code: 1;
}

//  The receipt's digest of one result line: the first 8 bytes, big-endian,
//  of SHA-256 of the line ("key<TAB>value<LF>"). The digest of a result is
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
int
zmr_result_write_entries (FILE *out, const zmr_entry_t *entries,
                          const zmr_entry_t *const *order, size_t count, uint64_t *digest)
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
        //  "\t<value>\n", the digits written backwards from the end; the
        //  value is signed (its size as uint64_t: -INT64_MIN fits)
        char tail[24];
        char *at = tail + sizeof tail;
        *--at = '\n';
        bool negative = (int64_t) entry->count < 0;
        uint64_t value = negative? -entry->count: entry->count;
        do {
            *--at = (char) ('0' + value % 10);
            value /= 10;
        } while (value);
        if (negative)
            *--at = '-';
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
//  bytes) that zmr_result_temp_commit renames into place, so that the file appears
//  whole or not at all; or, when path is a device or a pipe (nothing can
//  be renamed into it), path itself, with temp "": written once. target
//  (size bytes) gets the file written: path, or the file a symbolic link
//  path names (written through, as sort -o and '>' do, not replaced).
//  Returns NULL after saying why.
FILE *
zmr_result_temp_open (const char *option, const char *path, char *target, char *temp,
                      size_t size)
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
//  was closed or a write a stop signal interrupted (zmr_result_quiet_code). Returns 0,
//  or -1 with errno set.
int
zmr_result_temp_commit (FILE *out, const char *temp, const char *path, int rc,
                        const char *option, bool sync)
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
        if (!zmr_result_quiet_code (error) || temp[0])
            zmr_log (0, "%s: cannot write '%s': %s", option, path, strerror (error));
    }
    errno = error;
    return error? -1: 0;
}

//  Writes entries to path (named by option), whole or not at all.
int
zmr_result_write_file (const char *option, const char *path, const zmr_entry_t *entries,
                       const zmr_entry_t *const *order, size_t count, uint64_t *digest)
{
    char temp[4096], target[4096];
    FILE *out = zmr_result_temp_open (option, path, target, temp, sizeof temp);
    if (!out)
        return -1;
    static char buffer[1 << 20];
    setvbuf (out, buffer, _IOFBF, sizeof buffer);
    int rc = zmr_result_write_entries (out, entries, order, count, digest);
    return zmr_result_temp_commit (out, temp, target, rc, option, true);
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
int
zmr_result_write (const zmr_sink_config_t *config, zmr_counts_t *const *partitions,
                  uint32_t reducers, uint64_t *digest_out, uint64_t *words,
                  uint64_t *distinct, zmr_result_sum_t *sum)
{
    size_t total = 0;
    *words = 0;
    *sum = 0;
    for (uint32_t p = 0; p < reducers; p++) {
        total += zmr_counts_size (partitions[p]);
        *words += zmr_counts_total (partitions[p]);
        const zmr_entry_t *entries = zmr_counts_entries (partitions[p]);
        for (size_t i = 0; i < zmr_counts_size (partitions[p]); i++)
            *sum += (int64_t) entries[i].count;
    }
    *distinct = total;
    const char *parts = config->parts_dir;
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
        for (uint32_t p = 0; p < reducers; p++) {
            size_t count;
            zmr_entry_t *sorted = zmr_counts_sorted (partitions[p], &count);
            if (!sorted) {
                zmr_log (0, "out of memory writing partition %u", p);
                return 1;
            }
            char path[4096];
            snprintf (path, sizeof path, "%s/part-%05u", parts, p);
            int rc = zmr_result_write_file ("--parts", path, sorted, NULL, count, NULL);
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
    for (uint32_t p = 0; p < reducers; p++) {
        runs[p] = zmr_counts_entries (partitions[p]);
        counts[p] = zmr_counts_size (partitions[p]);
    }
    const zmr_entry_t **all = zmr_entries_order (runs, counts, reducers, &total);
    if (!all) {
        zmr_log (0, "out of memory for %zu result lines", total);
        return 1;
    }
    int code = 0;
    //  The digest is for the receipt; without one it would cost a SHA-256
    //  per line for nothing.
    *digest_out = 0;
    uint64_t *digest = config->receipt? digest_out: NULL;
    if (config->output) {
        if (zmr_result_write_file ("--output", config->output, NULL, all, total, digest))
            code = zmr_result_write_failed ();
    }
    else
    if (config->follow) {
        //  Standard output carries the running totals: the last line of
        //  each word is its final count already.
        if (digest) {
            //  The receipt still gets the digest of the result.
            FILE *null = fopen ("/dev/null", "w");
            if (!null || zmr_result_write_entries (null, NULL, all, total, digest)) {
                zmr_log (0, "cannot write to /dev/null: %s", strerror (errno));
                code = 1;
            }
            if (null)
                fclose (null);
        }
    }
    else
    if (zmr_result_write_entries (stdout, NULL, all, total, digest) || fflush (stdout)) {
        code = zmr_result_quiet_code (errno);
        if (code)
            zmr_result_drop_stdout ();
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

//  sum in decimal into text (at least 41 bytes). Returns text.
static const char *
s_sum_text (zmr_result_sum_t sum, char *text, size_t size)
{
    char *at = text + size;
    *--at = 0;
    bool negative = sum < 0;
    unsigned __int128 value = negative? -(unsigned __int128) sum: (unsigned __int128) sum;
    do {
        *--at = (char) ('0' + (int) (value % 10));
        value /= 10;
    } while (value);
    if (negative)
        *--at = '-';
    return at;
}

//  Writes the job's receipt (JSON), whole or not at all.
int
zmr_result_write_receipt (const char *path, const zmr_result_job_t *job,
                          const zmr_status_t *f, const zmr_result_sum_t *sum,
                          uint64_t distinct, uint64_t digest)
{
    char temp[4096], target[4096];
    FILE *out = zmr_result_temp_open ("--receipt", path, target, temp, sizeof temp);
    if (!out)
        return -1;
    fprintf (out, "{\n  \"job\": \"%016llx\",\n", (unsigned long long) job->id);
    fprintf (out, "  \"job_kind\": \"%s\",\n  \"reduce\": \"%s\",\n  \"label\": ",
             zmr_job_kind_name (job->kind), zmr_reduce_name (job->reduce));
    zmr_json_string (out, job->label, strlen (job->label));
    fprintf (out, ",\n  \"pair_count\": %llu,\n", (unsigned long long) job->pair_count);
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
    char text[48];
    fprintf (out, "},\n  \"words\": %s,\n  \"words_too_long\": %llu,\n"
             "  \"distinct\": %llu,\n", s_sum_text (*sum, text, sizeof text),
             (unsigned long long) f->words_too_long, (unsigned long long) distinct);
    if (f->event_time[0]) {
        //  Event time: what went to late.tsv, and the windows written
        fprintf (out, "  \"event_time\": \"%s\",\n  \"windows_closed\": %llu,\n"
                 "  \"late_records\": %llu,\n  \"untimed_records\": %llu,\n",
                 f->event_time, (unsigned long long) f->windows_closed,
                 (unsigned long long) f->late_records, (unsigned long long) f->untimed_records);
        if (f->has_watermark)
            fprintf (out, "  \"watermark_ms\": %llu,\n", (unsigned long long) f->watermark_ms);
    }
    fprintf (out, "  \"digest\": \"%016llx\",\n", (unsigned long long) digest);
    fputs ("  \"digest_rule\": \"sum modulo 2^64 over the result's lines of the first "
           "8 bytes, big-endian, of SHA-256 of the line (key, TAB, value, LF)\"\n}\n", out);
    return zmr_result_temp_commit (out, temp, target, 0, "--receipt", true);
}
