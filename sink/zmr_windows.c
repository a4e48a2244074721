/*  zmr_windows: the sink's windows. Reducers send each closed window's
    counts as WINDOW parts; once every partition's are here the window is
    written (a file in --window-dir, TOTALS on --publish), WSTORED tells
    the ventilator, and its memory is freed. One window is collected at a
    time: they close in order.

    A window file is written once: by rename, whole, and never over other
    content. A window that comes again when its file is there already (this
    sink was started again after writing it, or the ventilator after it
    heard nothing of it) is compared with the file: the same lines are the
    same window, stored (WSTORED, nothing written); other lines fail the
    job, which would else replace a window already read.

    Event time: a WINDOW's keys that start with '\n' are side records
    (zmr_evtime.h: late lines and lines without time), the rest words. A
    window whole, its side records are appended to DIR/late.tsv in key
    order (input order), one line each, 'WINDOW<TAB>REASON<TAB>TIME<TAB>LINE'
    (WINDOW the window's start in ms or 'end'; REASON late, no-time,
    late-cut or no-time-cut, the line cut at ZMR_SIDE_LINE_MAX; TIME ms
    since the epoch or '-'), and fsynced, before its window file is renamed
    into place: a window file there says its lines in late.tsv are whole.
    The window's file holds its words only (one with side records and no
    word: an empty file). The close of ZMR_WINDOW_END, the side records
    left at the end, writes no counts but an empty window-end.tsv, which
    says late.tsv is complete. A sink started again on such a directory
    cuts late.tsv after the last whole line whose window file is there
    (zmr_windows_late_recover): the lines after it were never confirmed,
    and their window's CLOSE comes again. A window whose file is there
    already appends nothing. */
#include "zmr_windows.h"
#include "zmr_result.h"
#include "zmr_views.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct _zmr_sink_window_t {
    uint64_t id;             //  Window: its start, ms since the epoch
    zmr_counts_t *counts;    //  Its words, every partition's
    zmr_u64set_t **seqs;     //  Per partition, parts received
    uint64_t *parts;         //  Per partition, parts expected (0: none yet)
    uint32_t complete;       //  Partitions complete
    uint64_t words;          //  Sum of its words' counts
    zmr_counts_t *sides;     //  Its side records (event time), by key
};

static void s_window_done (zmr_sink_state_t *self);

void
zmr_windows_free (zmr_sink_state_t *self)
{
    zmr_sink_window_t *window = self->window;
    if (!window)
        return;
    zmr_counts_destroy (&window->counts);
    zmr_counts_destroy (&window->sides);
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
void
zmr_windows_on_part (zmr_sink_state_t *self, zmr_msg_t *msg)
{
    if (self->end_stored) {
        //  Everything is written: only the end's close can come again
        if (msg->window == ZMR_WINDOW_END) {
            zmr_msg_pack_wstored (zmr_worker_packer (self->worker), self->job, msg->window,
                                  self->stored_words);
            zmr_worker_send (self->worker);
        }
        return;
    }
    if (self->stored_1 && msg->window < self->stored_1) {
        if (msg->window + 1 == self->stored_1) {
            zmr_msg_pack_wstored (zmr_worker_packer (self->worker), self->job, msg->window,
                                  self->stored_words);
            zmr_worker_send (self->worker);
        }
        return;
    }
    if (self->window && self->window->id != msg->window)
        zmr_windows_free (self);
    if (!self->window) {
        zmr_sink_window_t *window = calloc (1, sizeof *window);
        if (window) {
            window->id = msg->window;
            window->counts = zmr_counts_new ();
            window->sides = zmr_counts_new ();
            window->seqs = calloc (self->reducers, sizeof *window->seqs);
            window->parts = calloc (self->reducers, sizeof *window->parts);
        }
        self->window = window;
        if (!window || !window->counts || !window->sides || !window->seqs || !window->parts)
            goto oom;
        zmr_counts_set_reduce (window->counts, self->reduce);
    }
    zmr_sink_window_t *window = self->window;
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
            zmr_windows_free (self);
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
            zmr_side_t side;
            if (len && word[0] == '\n') {
                //  A side record: kept apart from the words, for late.tsv
                if (!zmr_evtime_side_parse (word, len, &side)) {
                    self->counters->malformed++;
                    zmr_log_dropped ("results", "WINDOW with a key that is no side record "
                                     "nor a word");
                    continue;
                }
                if (!zmr_counts_add (window->sides, word, len, count, NULL)
                &&  errno != EOVERFLOW)
                    goto oom;
                continue;
            }
            if (!zmr_counts_add (window->counts, word, len, count, NULL)) {
                if (errno != EOVERFLOW)
                    goto oom;
                //  Only a key sent twice can overflow: a reducer gone wrong
                zmr_log (0, "window %llu: a sum of the key '%.*s' sent twice passes 64 bits",
                         (unsigned long long) msg->window, (int) (len > 40? 40: len), word);
                zmr_sink_fail (self, 1);
                return;
            }
            window->words += count;
        }
    }
    if (zmr_u64set_size (window->seqs[p]) == window->parts[p]
    &&  ++window->complete == self->reducers)
        s_window_done (self);
    return;
oom:
    zmr_log (0, "out of memory collecting window %llu", (unsigned long long) msg->window);
    zmr_sink_fail (self, 1);
}

//  Whether the window file path holds these count sorted entries already: 1
//  yes (the same bytes), 0 there is no such file, -1 after saying why when
//  it holds others or cannot be read.
static int
s_written (const char *path, const zmr_entry_t *sorted, size_t count)
{
    struct stat info;
    if (stat (path, &info)) {
        if (errno == ENOENT)
            return 0;
        zmr_log (0, "--window-dir: cannot use '%s': %s", path, strerror (errno));
        return -1;
    }
    char *mine = NULL, *theirs = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&mine, &size);
    int rc = -1;
    if (!out || zmr_result_write_entries (out, sorted, NULL, count, NULL)) {
        if (out)
            fclose (out);
        zmr_log (0, "out of memory checking '%s'", path);
        goto done;
    }
    if (fclose (out)) {
        zmr_log (0, "out of memory checking '%s'", path);
        goto done;
    }
    FILE *in = fopen (path, "rb");
    theirs = (size_t) info.st_size == size? malloc (size + 1): NULL;
    bool same = in && theirs && fread (theirs, 1, size + 1, in) == size
             && memcmp (mine, theirs, size) == 0;
    if (!in)
        zmr_log (0, "--window-dir: cannot read '%s': %s", path, strerror (errno));
    else
    if (!same)
        zmr_log (0, "--window-dir: '%s' is there already with other counts (of an "
                 "earlier run?): a window is written once; remove it or use another "
                 "directory", path);
    else {
        zmr_log (1, "window file '%s' is there already, the same: stored", path);
        rc = 1;
    }
    if (in)
        fclose (in);
done:
    free (mine);
    free (theirs);
    return rc;
}

//  One late.tsv line of the side record key (a side key, checked on
//  arrival) closed with window (ZMR_WINDOW_END: 'end').
static void
s_late_line (FILE *out, uint64_t window, const zmr_entry_t *key)
{
    zmr_side_t side;
    zmr_evtime_side_parse (key->word, key->len, &side);
    if (window == ZMR_WINDOW_END)
        fputs ("end\t", out);
    else
        fprintf (out, "%llu\t", (unsigned long long) window);
    fputs (side.kind == ZMR_LINE_LATE? "late": "no-time", out);
    fputs (side.cut? "-cut\t": "\t", out);
    if (side.kind == ZMR_LINE_LATE)
        fprintf (out, "%llu\t", (unsigned long long) side.ms);
    else
        fputs ("-\t", out);
    fwrite (side.line, 1, side.len, out);
    fputc ('\n', out);
}

//  Appends the window's side records, sorted, to DIR/late.tsv and fsyncs
//  it (and the directory, when late.tsv is new). Returns 0, or -1 after
//  saying why.
static int
s_late_append (zmr_sink_state_t *self, uint64_t window, const zmr_entry_t *sides,
               size_t count)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/late.tsv", self->config->window_dir);
    struct stat info;
    bool fresh = stat (path, &info) != 0;
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    FILE *out = fd == -1? NULL: fdopen (fd, "a");
    if (!out) {
        zmr_log (0, "--window-dir: cannot open '%s': %s", path, strerror (errno));
        if (fd != -1)
            close (fd);
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        s_late_line (out, window, &sides[i]);
    bool ok = !ferror (out) && fflush (out) == 0 && fsync (fd) == 0;
    int error = errno;
    if (fclose (out))
        ok = false, error = errno;
    if (ok && fresh) {
        int dir = open (self->config->window_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            fsync (dir);
            close (dir);
        }
    }
    if (!ok)
        zmr_log (0, "--window-dir: cannot write '%s': %s", path, strerror (error));
    return ok? 0: -1;
}

//  A window is whole: writes it where asked, tells the ventilator, frees it.
static void
s_window_done (zmr_sink_state_t *self)
{
    zmr_sink_window_t *window = self->window;
    uint64_t start = window->id;
    bool end = start == ZMR_WINDOW_END;
    size_t count, nsides = zmr_counts_size (window->sides);
    zmr_entry_t *sorted = zmr_counts_sorted (window->counts, &count);
    zmr_entry_t *sides = malloc ((nsides? nsides: 1) * sizeof *sides);
    if (!sorted || !sides) {
        zmr_log (0, "out of memory writing window %llu", (unsigned long long) window->id);
        free (sorted);
        free (sides);
        zmr_sink_fail (self, 1);
        return;
    }
    if (nsides)
        memcpy (sides, zmr_counts_entries (window->sides), nsides * sizeof *sides);
    //  Bytewise key order: side records in input order
    qsort (sides, nsides, sizeof *sides, zmr_entry_key_compare);
    if (end)
        count = 0;              //  The end's close holds no words
    int failed = 0;
    if (self->config->window_dir) {
        char path[4096];
        if (end)
            snprintf (path, sizeof path, "%s/window-end.tsv", self->config->window_dir);
        else
            snprintf (path, sizeof path, "%s/window-%llu.tsv", self->config->window_dir,
                      (unsigned long long) start);
        int there = s_written (path, sorted, count);
        //  Its side records on disk before its file: the file says they are
        failed = there < 0
              || (there == 0 && nsides && s_late_append (self, start, sides, nsides))
              //  (Said why; the job cannot keep its promise)
              || (there == 0
                  && zmr_result_write_file ("--window-dir", path, sorted, NULL, count, NULL));
    }
    else {
        self->sides_unwritten += nsides;
        if (end && self->sides_unwritten)
            zmr_log (0, "%llu side records (late lines, lines without time) not written: "
                     "no --window-dir", (unsigned long long) self->sides_unwritten);
    }
    if (failed) {
        free (sorted);
        free (sides);
        zmr_sink_fail (self, 1);
        return;
    }
    if (self->publish && !end)
        zmr_views_publish_entries (self, sorted, count, window->id);
    free (sorted);
    free (sides);
    if (end)
        self->end_stored = true;
    else
        self->stored_1 = window->id + 1;
    self->stored_words = window->words;
    zmr_log (1, "window from %llu ms: %llu words, %zu distinct, %zu side records",
             (unsigned long long) start, (unsigned long long) window->words, count, nsides);
    zmr_msg_pack_wstored (zmr_worker_packer (self->worker), self->job, window->id,
                          window->words);
    zmr_worker_send (self->worker);
    zmr_windows_free (self);
}

//  Cuts late.tsv in dir after the last whole line whose window's file
//  (window-START.tsv, or window-end.tsv for 'end') is there: what follows
//  was written for a window not confirmed (its CLOSE comes again) or torn.
//  Returns 0 (also when there is no late.tsv), or -1 after saying why.
int
zmr_windows_late_recover (const char *dir)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/late.tsv", dir);
    FILE *in = fopen (path, "rbe");
    if (!in) {
        if (errno == ENOENT)
            return 0;
        zmr_log (0, "--window-dir: cannot read '%s': %s", path, strerror (errno));
        return -1;
    }
    uint64_t at = 0, keep = 0;
    char window[32] = "", checked[32] = "";
    bool there = false;
    size_t fill = 0;            //  Bytes of the line's first field so far
    bool field = true;          //  Still in it
    int c;
    while ((c = getc (in)) != EOF) {
        at++;
        if (c != '\n') {
            if (field && c == '\t')
                field = false;
            else
            if (field && fill + 1 < sizeof window)
                window[fill++] = (char) c;
            else
            if (field)
                fill = sizeof window;       //  Too long: no window's name
            continue;
        }
        window[fill < sizeof window? fill: 0] = 0;
        if (strcmp (window, checked)) {
            //  One look per window: its lines follow each other
            char file[4096 + 64];
            snprintf (file, sizeof file, "%s/window-%s.tsv", dir, window);
            struct stat info;
            //  (A start's digits or 'end': no other name is looked up)
            bool named = *window && (!strcmp (window, "end")
                                     || strspn (window, "0123456789") == strlen (window));
            there = !field && named && stat (file, &info) == 0;
            snprintf (checked, sizeof checked, "%s", window);
        }
        if (there)
            keep = at;
        fill = 0;
        field = true;
    }
    bool failed = ferror (in);
    fclose (in);
    if (!failed && keep < at) {
        zmr_log (0, "--window-dir: cutting '%s' after %llu of its %llu bytes (the lines "
                 "after are of windows not written)", path, (unsigned long long) keep,
                 (unsigned long long) at);
        int fd = open (path, O_WRONLY | O_CLOEXEC);
        failed = fd == -1 || ftruncate (fd, (off_t) keep) || fsync (fd);
        if (fd != -1)
            close (fd);
    }
    if (failed) {
        zmr_log (0, "--window-dir: cannot cut '%s': %s", path, strerror (errno));
        return -1;
    }
    return 0;
}
