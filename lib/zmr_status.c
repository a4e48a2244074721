/*  zmr_status: STATUS encoding, bounded decoding and JSON. The numeric
    fields of the job and of a worker are listed once each, in tables of
    (key, offset); the three forms walk the same tables, so a field added to
    a table is published, read and printed alike. */
#include "zmr_status.h"
#include "zmr_json.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;         //  Key in the state map
    size_t offset;           //  Of a uint64_t in the struct
} s_field_t;

#define JOB_FIELD(name) { #name, offsetof (zmr_status_t, name) }
static const s_field_t s_job_fields[] = {
    JOB_FIELD (seq), JOB_FIELD (reducers), JOB_FIELD (elapsed_ms),
    JOB_FIELD (input_bytes), JOB_FIELD (bytes_read), JOB_FIELD (bytes_done),
    JOB_FIELD (chunks_read), JOB_FIELD (chunks_issued), JOB_FIELD (chunks_done),
    JOB_FIELD (chunks_reissued), JOB_FIELD (in_flight), JOB_FIELD (words),
    JOB_FIELD (words_too_long),
    JOB_FIELD (bytes_per_s), JOB_FIELD (words_per_s), JOB_FIELD (mappers_alive),
    JOB_FIELD (malformed), JOB_FIELD (duplicates), JOB_FIELD (chunks_quarantined),
    JOB_FIELD (inputs), JOB_FIELD (latency_p50_ms), JOB_FIELD (latency_p99_ms),
    JOB_FIELD (latency_samples), JOB_FIELD (window_ms), JOB_FIELD (windows_closed),
    JOB_FIELD (last_window_start_ms), JOB_FIELD (last_window_words),
    JOB_FIELD (backpressure_ms), JOB_FIELD (mappers_refused),
    JOB_FIELD (late_records), JOB_FIELD (untimed_records)
};
#define WORKER_FIELD(name) { #name, offsetof (zmr_worker_status_t, name) }
static const s_field_t s_worker_fields[] = {
    WORKER_FIELD (id), WORKER_FIELD (partition), WORKER_FIELD (chunks),
    WORKER_FIELD (words), WORKER_FIELD (bytes), WORKER_FIELD (duplicates),
    WORKER_FIELD (malformed), WORKER_FIELD (distinct), WORKER_FIELD (last_seen_ms)
};
#define COUNT(a) (sizeof (a) / sizeof ((a)[0]))

static uint64_t *
s_at (const void *base, const s_field_t *field)
{
    return (uint64_t *) ((char *) base + field->offset);
}

static void
s_pack_key (msgpack_packer *pk, const char *key)
{
    size_t len = strlen (key);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, key, len);
}

static void
s_pack_str (msgpack_packer *pk, const char *key, const char *value)
{
    s_pack_key (pk, key);
    s_pack_key (pk, value);
}

static void
s_pack_bool (msgpack_packer *pk, const char *key, bool value)
{
    s_pack_key (pk, key);
    if (value)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

static void s_pack_state (msgpack_packer *pk, const zmr_status_t *status);

void
zmr_status_pack (msgpack_packer *pk, const zmr_status_t *status)
{
    zmr_msg_begin (pk, ZMR_STATUS, status->job, 1);
    s_pack_state (pk, status);
}

void
zmr_status_pack_finish (msgpack_packer *pk, const zmr_status_t *status, bool ok,
                        const char *reason)
{
    zmr_msg_begin (pk, ZMR_FINISH, status->job, 3);
    if (ok)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    size_t len = reason? strnlen (reason, ZMR_REASON_MAX - 1): 0;
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, reason, len);
    s_pack_state (pk, status);
}

static void
s_pack_state (msgpack_packer *pk, const zmr_status_t *status)
{
    //  An ingest-time job has no event_time and no watermark_ms: absent,
    //  not 0 (0 is a time)
    msgpack_pack_map (pk, COUNT (s_job_fields) + 11 + (status->event_time[0] != 0)
                          + status->has_watermark);
    for (size_t i = 0; i < COUNT (s_job_fields); i++) {
        s_pack_key (pk, s_job_fields[i].key);
        msgpack_pack_uint64 (pk, *s_at (status, &s_job_fields[i]));
    }
    if (status->event_time[0])
        s_pack_str (pk, "event_time", status->event_time);
    if (status->has_watermark) {
        s_pack_key (pk, "watermark_ms");
        msgpack_pack_uint64 (pk, status->watermark_ms);
    }
    s_pack_str (pk, "phase", status->phase);
    s_pack_str (pk, "reason", status->reason);
    s_pack_bool (pk, "input_known", status->input_known);
    s_pack_bool (pk, "input_eof", status->input_eof);
    s_pack_bool (pk, "backpressured", status->backpressured);
    //  The job's label is "job" in the map (the id is the header's).
    s_pack_str (pk, "job", status->job_label);
    s_pack_str (pk, "job_kind", status->job_kind);
    s_pack_str (pk, "reduce", status->reduce);
    s_pack_key (pk, "top");
    uint32_t ntop = status->ntop < ZMR_TOP_MAX? status->ntop: ZMR_TOP_MAX;
    msgpack_pack_array (pk, ntop);
    for (uint32_t t = 0; t < ntop; t++) {
        msgpack_pack_map (pk, 2);
        s_pack_str (pk, "word", status->top[t].word);
        s_pack_key (pk, "count");
        msgpack_pack_int64 (pk, status->top[t].count);
    }
    s_pack_key (pk, "quarantine");
    uint32_t nquarantine = status->nquarantine < ZMR_STATUS_MAX_QUARANTINE
                         ? status->nquarantine: ZMR_STATUS_MAX_QUARANTINE;
    msgpack_pack_array (pk, nquarantine);
    for (uint32_t q = 0; q < nquarantine; q++) {
        msgpack_pack_map (pk, 3);
        s_pack_str (pk, "file", status->quarantine[q].file);
        s_pack_key (pk, "offset");
        msgpack_pack_uint64 (pk, status->quarantine[q].offset);
        s_pack_key (pk, "length");
        msgpack_pack_uint64 (pk, status->quarantine[q].length);
    }
    s_pack_key (pk, "workers");
    uint32_t nworkers = status->nworkers < ZMR_STATUS_MAX_WORKERS
                      ? status->nworkers: ZMR_STATUS_MAX_WORKERS;
    msgpack_pack_array (pk, nworkers);
    for (uint32_t w = 0; w < nworkers; w++) {
        const zmr_worker_status_t *worker = &status->workers[w];
        msgpack_pack_map (pk, COUNT (s_worker_fields) + 3);
        for (size_t i = 0; i < COUNT (s_worker_fields); i++) {
            s_pack_key (pk, s_worker_fields[i].key);
            msgpack_pack_uint64 (pk, *s_at (worker, &s_worker_fields[i]));
        }
        s_pack_str (pk, "role", worker->role);
        s_pack_str (pk, "name", worker->name);
        s_pack_str (pk, "state", worker->state);
    }
}

//  Reads one map value for key into base, given its numeric fields, or
//  skips it. Returns 0 or -1.
static int
s_read_numeric (zmr_mpr_t *r, const char *key, uint32_t key_len, void *base,
                const s_field_t *fields, size_t nfields, bool *found)
{
    *found = false;
    for (size_t i = 0; i < nfields; i++)
        if (strlen (fields[i].key) == key_len
        &&  memcmp (fields[i].key, key, key_len) == 0) {
            *found = true;
            return zmr_mpr_uint (r, s_at (base, &fields[i]));
        }
    return 0;
}

static bool
s_is (const char *key, uint32_t len, const char *name)
{
    return strlen (name) == len && memcmp (key, name, len) == 0;
}

typedef struct {
    const char *key;             //  Key in the map
    size_t offset;               //  Of a char array in the struct
    size_t size;                 //  Its size
} s_text_t;

#define WORKER_TEXT(name) { #name, offsetof (zmr_worker_status_t, name), \
                            sizeof (((zmr_worker_status_t *) 0)->name) }
static const s_text_t s_worker_texts[] = {
    WORKER_TEXT (role), WORKER_TEXT (name), WORKER_TEXT (state)
};
#define QUARANTINE_FIELD(name) { #name, offsetof (zmr_quarantine_t, name) }
static const s_field_t s_quarantine_fields[] = {
    QUARANTINE_FIELD (offset), QUARANTINE_FIELD (length)
};
static const s_text_t s_quarantine_texts[] = {
    { "file", offsetof (zmr_quarantine_t, file), sizeof (((zmr_quarantine_t *) 0)->file) }
};

//  A top entry: {word, count}; other keys are skipped.
static int
s_decode_top (zmr_mpr_t *r, zmr_top_t *top)
{
    uint32_t n;
    if (zmr_mpr_map (r, &n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *key;
        uint32_t len;
        int rc;
        if (zmr_mpr_str (r, &key, &len))
            return -1;
        if (s_is (key, len, "word"))
            rc = zmr_mpr_cstr (r, top->word, sizeof top->word);
        else
        if (s_is (key, len, "count"))
            rc = zmr_mpr_int (r, &top->count);
        else
            rc = zmr_mpr_skip (r, 2);
        if (rc)
            return -1;
    }
    return 0;
}

//  Decodes a map of numbers and strings (a worker, a quarantined chunk)
//  into base, by its tables; other keys are skipped.
static int
s_decode_record (zmr_mpr_t *r, void *base, const s_field_t *fields, size_t nfields,
                 const s_text_t *texts, size_t ntexts)
{
    uint32_t n;
    if (zmr_mpr_map (r, &n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *key;
        uint32_t len;
        bool found;
        if (zmr_mpr_str (r, &key, &len)
        ||  s_read_numeric (r, key, len, base, fields, nfields, &found))
            return -1;
        for (size_t t = 0; !found && t < ntexts; t++)
            if (s_is (key, len, texts[t].key)) {
                found = true;
                if (zmr_mpr_cstr (r, (char *) base + texts[t].offset, texts[t].size))
                    return -1;
            }
        if (!found && zmr_mpr_skip (r, 2))
            return -1;
    }
    return 0;
}

static int
s_decode_quarantine (zmr_mpr_t *r, zmr_status_t *status)
{
    uint32_t count;
    if (zmr_mpr_array (r, &count))
        return -1;
    if (count > ZMR_STATUS_MAX_QUARANTINE)
        return zmr_mpr_fail (r, "too many quarantined chunks");
    if (count == 0)
        return 0;
    status->quarantine = calloc (count, sizeof *status->quarantine);
    if (!status->quarantine)
        return zmr_mpr_fail (r, "out of memory");
    for (uint32_t q = 0; q < count; q++) {
        status->nquarantine = q + 1;
        if (s_decode_record (r, &status->quarantine[q], s_quarantine_fields,
                             COUNT (s_quarantine_fields), s_quarantine_texts,
                             COUNT (s_quarantine_texts)))
            return -1;
    }
    return 0;
}

int
zmr_status_decode (zmr_msg_t *msg, zmr_status_t *status, const char **why)
{
    zmr_mpr_t *r = &msg->state_map;
    uint32_t n;
    status->job = msg->job;
    if (zmr_mpr_map (r, &n))
        goto fail;
    for (uint32_t i = 0; i < n; i++) {
        const char *key;
        uint32_t len;
        bool found;
        if (zmr_mpr_str (r, &key, &len)
        ||  s_read_numeric (r, key, len, status, s_job_fields,
                            COUNT (s_job_fields), &found))
            goto fail;
        if (found)
            continue;
        int rc;
        if (s_is (key, len, "phase"))
            rc = zmr_mpr_cstr (r, status->phase, sizeof status->phase);
        else
        if (s_is (key, len, "reason"))
            rc = zmr_mpr_cstr (r, status->reason, sizeof status->reason);
        else
        if (s_is (key, len, "input_known"))
            rc = zmr_mpr_bool (r, &status->input_known);
        else
        if (s_is (key, len, "input_eof"))
            rc = zmr_mpr_bool (r, &status->input_eof);
        else
        if (s_is (key, len, "backpressured"))
            rc = zmr_mpr_bool (r, &status->backpressured);
        else
        if (s_is (key, len, "job"))
            rc = zmr_mpr_cstr (r, status->job_label, sizeof status->job_label);
        else
        if (s_is (key, len, "job_kind"))
            rc = zmr_mpr_cstr (r, status->job_kind, sizeof status->job_kind);
        else
        if (s_is (key, len, "reduce"))
            rc = zmr_mpr_cstr (r, status->reduce, sizeof status->reduce);
        else
        if (s_is (key, len, "event_time"))
            rc = zmr_mpr_cstr (r, status->event_time, sizeof status->event_time);
        else
        if (s_is (key, len, "watermark_ms")) {
            rc = zmr_mpr_uint (r, &status->watermark_ms);
            status->has_watermark = rc == 0;
        }
        else
        if (s_is (key, len, "top") && status->ntop == 0) {
            uint32_t count;
            rc = zmr_mpr_array (r, &count);
            if (rc == 0 && count > ZMR_TOP_MAX)
                rc = zmr_mpr_fail (r, "top list too long");
            for (uint32_t t = 0; rc == 0 && t < count; t++) {
                rc = s_decode_top (r, &status->top[t]);
                status->ntop = t + 1;
            }
        }
        else
        if (s_is (key, len, "workers") && status->workers == NULL) {
            uint32_t count;
            rc = zmr_mpr_array (r, &count);
            if (rc == 0 && count > ZMR_STATUS_MAX_WORKERS)
                rc = zmr_mpr_fail (r, "too many workers");
            if (rc == 0 && count > 0) {
                status->workers = calloc (count, sizeof *status->workers);
                if (!status->workers)
                    rc = zmr_mpr_fail (r, "out of memory");
            }
            for (uint32_t w = 0; rc == 0 && w < count; w++) {
                rc = s_decode_record (r, &status->workers[w], s_worker_fields,
                                      COUNT (s_worker_fields), s_worker_texts,
                                      COUNT (s_worker_texts));
                status->nworkers = w + 1;
            }
        }
        else
        if (s_is (key, len, "quarantine") && status->quarantine == NULL)
            rc = s_decode_quarantine (r, status);
        else
            rc = zmr_mpr_skip (r, 3);
        if (rc)
            goto fail;
    }
    return 0;
fail:
    *why = zmr_mpr_error (r)? zmr_mpr_error (r): "bad status";
    return -1;
}

int
zmr_status_copy (zmr_status_t *copy, const zmr_status_t *status)
{
    *copy = *status;
    copy->workers = NULL;
    copy->quarantine = NULL;
    if (status->nworkers) {
        copy->workers = malloc (status->nworkers * sizeof *status->workers);
        if (!copy->workers)
            goto fail;
        memcpy (copy->workers, status->workers, status->nworkers * sizeof *status->workers);
    }
    if (status->nquarantine) {
        copy->quarantine = malloc (status->nquarantine * sizeof *status->quarantine);
        if (!copy->quarantine)
            goto fail;
        memcpy (copy->quarantine, status->quarantine,
                status->nquarantine * sizeof *status->quarantine);
    }
    return 0;
fail:
    zmr_status_reset (copy);
    return -1;
}

void
zmr_status_reset (zmr_status_t *status)
{
    free (status->workers);
    free (status->quarantine);
    memset (status, 0, sizeof *status);
}

static void
s_json_numbers (FILE *out, const void *base, const s_field_t *fields,
                size_t nfields)
{
    for (size_t i = 0; i < nfields; i++)
        fprintf (out, ",\"%s\":%llu", fields[i].key,
                 (unsigned long long) *s_at (base, &fields[i]));
}

static void
s_json_str (FILE *out, const char *key, const char *value)
{
    fprintf (out, ",\"%s\":", key);
    zmr_json_string (out, value, strlen (value));
}

void
zmr_status_write_quarantine (const zmr_status_t *status, FILE *out)
{
    fputc ('[', out);
    for (uint32_t q = 0; q < status->nquarantine; q++) {
        fputs (q? ", {\"file\": ": "{\"file\": ", out);
        zmr_json_string (out, status->quarantine[q].file, strlen (status->quarantine[q].file));
        fprintf (out, ", \"offset\": %llu, \"length\": %llu}",
                 (unsigned long long) status->quarantine[q].offset,
                 (unsigned long long) status->quarantine[q].length);
    }
    fputc (']', out);
}

void
zmr_status_write_json (const zmr_status_t *status, FILE *out)
{
    //  The job id as a hex string: 64-bit numbers do not survive JSON readers.
    fprintf (out, "{\"job\":\"%016llx\"", (unsigned long long) status->job);
    s_json_str (out, "phase", status->phase);
    s_json_str (out, "reason", status->reason);
    //  ("job" is the id here: the label is "job_label")
    s_json_str (out, "job_label", status->job_label);
    s_json_str (out, "job_kind", status->job_kind);
    s_json_str (out, "reduce", status->reduce);
    fprintf (out, ",\"input_known\":%s,\"input_eof\":%s,\"backpressured\":%s",
             status->input_known? "true": "false",
             status->input_eof? "true": "false",
             status->backpressured? "true": "false");
    s_json_numbers (out, status, s_job_fields, COUNT (s_job_fields));
    if (status->event_time[0])
        s_json_str (out, "event_time", status->event_time);
    if (status->has_watermark)
        fprintf (out, ",\"watermark_ms\":%llu", (unsigned long long) status->watermark_ms);
    fputs (",\"top\":[", out);
    for (uint32_t t = 0; t < status->ntop; t++) {
        fputs (t? ",{\"word\":": "{\"word\":", out);
        zmr_json_string (out, status->top[t].word, strlen (status->top[t].word));
        fprintf (out, ",\"count\":%lld}", (long long) status->top[t].count);
    }
    fputs ("],\"quarantine\":", out);
    zmr_status_write_quarantine (status, out);
    fputs (",\"workers\":[", out);
    for (uint32_t w = 0; w < status->nworkers; w++) {
        const zmr_worker_status_t *worker = &status->workers[w];
        fputs (w? ",{\"role\":": "{\"role\":", out);
        zmr_json_string (out, worker->role, strlen (worker->role));
        s_json_str (out, "name", worker->name);
        s_json_str (out, "state", worker->state);
        s_json_numbers (out, worker, s_worker_fields, COUNT (s_worker_fields));
        fputc ('}', out);
    }
    fputs ("]}", out);
}

void
zmr_status_set_word (zmr_top_t *top, const char *word, size_t len)
{
    if (len > ZMR_TOP_WORD - 1) {
        //  Not in the middle of a UTF-8 sequence: when the first byte left
        //  out continues one, the sequence goes, from its lead byte.
        len = ZMR_TOP_WORD - 1;
        while (len > 0 && ((unsigned char) word[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++)
        top->word[i] = word[i]? word[i]: '?';
    top->word[len] = 0;
}

//  "12.3 MB" style, into buf.
const char *
zmr_human (uint64_t value, char *buf, size_t size)
{
    const char *units[] = { "", "k", "M", "G", "T" };
    double v = (double) value;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf (buf, size, "%llu", (unsigned long long) value);
    else
        snprintf (buf, size, "%.1f%s", v, units[u]);
    return buf;
}

//  The bytes per second to show: the status's rate over the last second,
//  or, when that is 0 or not known yet (chunks finish in bursts: a 4 MB
//  job is two chunks, and most seconds see none end), the average so far.
static uint64_t
s_rate (const zmr_status_t *status)
{
    if (status->bytes_per_s)
        return status->bytes_per_s;
    if (status->elapsed_ms && status->bytes_done)
        return (uint64_t) ((double) status->bytes_done * 1000 / (double) status->elapsed_ms);
    return 0;
}

//  "m:ss", or "h:mm:ss" from an hour, into buf.
static void
s_clock (uint64_t seconds, char *buf, size_t size)
{
    if (seconds >= 100 * 3600)
        snprintf (buf, size, ">99h");
    else
    if (seconds >= 3600)
        snprintf (buf, size, "%llu:%02llu:%02llu", (unsigned long long) seconds / 3600,
                  (unsigned long long) seconds / 60 % 60, (unsigned long long) seconds % 60);
    else
        snprintf (buf, size, "%llu:%02llu", (unsigned long long) seconds / 60,
                  (unsigned long long) seconds % 60);
}

#define S_PIECES 8
#define S_PIECE 72                  //  Room for two 31-byte human numbers and their words
#define S_BAR_MAX 40
#define S_BAR_MIN 10
#define S_LINE_MAX 1024

void
zmr_status_write_progress (const zmr_status_t *status, FILE *out, int width)
{
    bool over = !strcmp (status->phase, "flushing") || !strcmp (status->phase, "done");
    bool known = over || (status->input_known && status->input_bytes > 0)
              || (status->input_eof && status->chunks_read > 0);
    double fraction = 0;
    if (status->input_known && status->input_bytes > 0)
        fraction = (double) status->bytes_done / (double) status->input_bytes;
    else
    if (status->input_eof && status->chunks_read > 0)
        fraction = (double) status->chunks_done / (double) status->chunks_read;
    if (over || fraction > 1)
        fraction = 1;
    uint64_t rate = s_rate (status);

    //  The pieces, most wanted first: a narrow terminal drops them from the
    //  end of this list, and the bar (which only repeats the percentage)
    //  goes before any number. Numbers are padded to a fixed width, so the
    //  line does not jump as they grow.
    char piece[S_PIECES][S_PIECE];
    int order[S_PIECES];            //  Place on the line of each piece
    int n = 0;
    char b1[32], b2[32];
    if (known) {
        order[n] = 0;
        snprintf (piece[n++], S_PIECE, "%3d%%", (int) (fraction * 100));
    }
    order[n] = 1;
    if (status->input_known && status->input_bytes > 0)
        snprintf (piece[n++], S_PIECE, "%6s/%sB", zmr_human (status->bytes_done, b1, sizeof b1),
                  zmr_human (status->input_bytes, b2, sizeof b2));
    else
        snprintf (piece[n++], S_PIECE, "%6sB", zmr_human (status->bytes_done, b1, sizeof b1));
    order[n] = 2;
    snprintf (piece[n++], S_PIECE, "%6sB/s", zmr_human (rate, b1, sizeof b1));
    if (!over && rate > 0 && status->input_known && status->input_bytes > status->bytes_done) {
        s_clock ((status->input_bytes - status->bytes_done + rate - 1) / rate, b1, sizeof b1);
        order[n] = 3;
        snprintf (piece[n++], S_PIECE, "ETA %5s", b1);
    }
    order[n] = 7;
    snprintf (piece[n++], S_PIECE, "%s", status->phase[0]? status->phase: "waiting");
    order[n] = 4;
    snprintf (piece[n++], S_PIECE, "%6s words", zmr_human (status->words, b1, sizeof b1));
    int bar_at = n;
    order[n] = 6;
    snprintf (piece[n++], S_PIECE, "%llu mapper%s", (unsigned long long) status->mappers_alive,
              status->mappers_alive == 1? "": "s");
    order[n] = 5;
    snprintf (piece[n++], S_PIECE, "%llu/%llu chunks", (unsigned long long) status->chunks_done,
              (unsigned long long) status->chunks_read);

    //  Width 0 (or less): no terminal to fit, everything at its own length.
    bool fit = width > 0;
    if (width > S_LINE_MAX)
        width = S_LINE_MAX;
    //  Each piece taken, in that order, costs its length and a space before
    //  it. The bar (which only repeats the percentage) has its turn after
    //  the words: S_BAR_MIN columns and its "[", "]", then what the rest
    //  leaves, up to S_BAR_MAX.
    bool take[S_PIECES] = { false };
    int cost = 0, bar = 0;
    for (int i = 0; i <= n; i++) {
        if (i == bar_at && known
        &&  (!fit || cost + (cost? 1: 0) + S_BAR_MIN + 2 <= width)) {
            bar = S_BAR_MIN;
            cost += (cost? 1: 0) + S_BAR_MIN + 2;
        }
        if (i == n)
            break;
        int len = (int) strlen (piece[i]) + (cost? 1: 0);
        if (!fit || cost + len <= width) {
            take[i] = true;
            cost += len;
        }
    }
    if (bar) {
        bar += fit? width - cost: 10;
        if (bar > S_BAR_MAX)
            bar = S_BAR_MAX;
    }
    if (!cost)
        take[0] = true;             //  Cut to the width below
    char line[S_LINE_MAX + 1];
    int at = 0;
    if (bar) {
        int filled = (int) (fraction * bar);
        line[at++] = '[';
        for (int i = 0; i < bar; i++)
            line[at++] = i < filled? '#': '.';
        line[at++] = ']';
    }
    for (int place = 0; place < S_PIECES; place++)
        for (int i = 0; i < n; i++)
            if (take[i] && order[i] == place) {
                if (at)
                    line[at++] = ' ';
                size_t len = strlen (piece[i]);
                memcpy (line + at, piece[i], len);
                at += (int) len;
            }
    if (fit) {
        //  Narrower than the percentage alone: what fits of it.
        if (at > width)
            at = width;
        while (at < width)
            line[at++] = ' ';
    }
    fwrite (line, 1, (size_t) at, out);
}
