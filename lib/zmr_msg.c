/*  zmr_msg: codec of docs/protocol.md. Each decoder reads the fields in the
    order the page gives, with the one type the page gives, and the frame must
    end where the message does. */
#include "zmr_msg.h"
#include "zmr.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *s_names[] = {
    "unknown", "HELLO", "WELCOME", "REJECT", "CHUNK", "TAKE", "MAPPED",
    "BATCH", "ACK", "HEARTBEAT", "BYE", "FLUSH", "RESULT", "STORED", "DONE",
    "FINISH", "STATUS", "AGAIN", "LIVE", "UPDATE", "TOTALS", "LIVESTAT", "CLOSE",
    "WINDOW", "WSTORED", "FAIL", "REST", "REFUSE", "FAILED"
};

//  Number of fields after the job, per type.
static const uint32_t s_fields[] = {
    0, 7, 15, 2, 10, 1, 4, 6, 4, 2, 1, 2, 6, 1, 3, 3, 1, 0, 5, 4, 3, 4, 3, 6, 2, 1, 0,
    1, 2
};

const char *
zmr_msg_type_name (int type)
{
    return type >= ZMR_HELLO && type <= ZMR_TYPE_LAST? s_names[type]: s_names[0];
}

static int
s_u32 (zmr_mpr_t *r, uint32_t *value)
{
    uint64_t v;
    if (zmr_mpr_uint (r, &v))
        return -1;
    if (v > UINT32_MAX)
        return zmr_mpr_fail (r, "number out of range");
    *value = (uint32_t) v;
    return 0;
}

//  A CURVE public key: "" (none) or 40 characters of Z85.
static int
s_key (zmr_mpr_t *r, char *key)
{
    if (zmr_mpr_cstr (r, key, ZMR_KEY_MAX))
        return -1;
    if (*key && !zmr_key_valid (key))
        return zmr_mpr_fail (r, "not a CURVE public key");
    return 0;
}

static int
s_counters (zmr_mpr_t *r, zmr_counters_t *c)
{
    uint32_t n;
    if (zmr_mpr_array (r, &n))
        return -1;
    if (n != 6)
        return zmr_mpr_fail (r, "counters are not 6 numbers");
    return zmr_mpr_uint (r, &c->chunks) || zmr_mpr_uint (r, &c->words)
        || zmr_mpr_uint (r, &c->bytes) || zmr_mpr_uint (r, &c->duplicates)
        || zmr_mpr_uint (r, &c->malformed) || zmr_mpr_uint (r, &c->distinct)
        ? -1: 0;
}

//  Validates the pairs array at the cursor and leaves msg->pairs at its
//  first pair; the reader r ends after the array.
static int
s_pairs (zmr_mpr_t *r, zmr_msg_t *msg)
{
    uint32_t n;
    if (zmr_mpr_array (r, &n))
        return -1;
    if (n % 2)
        return zmr_mpr_fail (r, "pairs array has an odd length");
    msg->pairs = *r;
    msg->npairs = n / 2;
    for (uint32_t i = 0; i < msg->npairs; i++) {
        const char *word;
        uint32_t len;
        int64_t value;
        if (zmr_mpr_bin (r, &word, &len) || zmr_mpr_int (r, &value))
            return -1;
    }
    return 0;
}

//  WELCOME's event-time settings: none (all 0), or a format with a window
//  of 1 ms .. a week that is a multiple of its step, at most
//  ZMR_EVENT_PANES_MAX steps long, and a lateness of at most a week.
static int
s_event_spec (zmr_mpr_t *r, zmr_msg_t *msg)
{
    if (msg->event_format == ZMR_EVTIME_NONE)
        return msg->window_ms || msg->every_ms || msg->lateness_ms
             ? zmr_mpr_fail (r, "event-time settings without a format"): 0;
    if (!zmr_evtime_format_name ((int) msg->event_format))
        return zmr_mpr_fail (r, "unknown event-time format");
    if (msg->window_ms < 1 || msg->window_ms > ZMR_EVENT_WINDOW_MAX
    ||  msg->every_ms < 1 || msg->window_ms % msg->every_ms
    ||  msg->window_ms / msg->every_ms > ZMR_EVENT_PANES_MAX)
        return zmr_mpr_fail (r, "event-time window out of range");
    if (msg->lateness_ms > ZMR_EVENT_WINDOW_MAX)
        return zmr_mpr_fail (r, "allowed lateness longer than a week");
    return 0;
}

//  A BATCH's runs array (3 values per run), before its pairs: leaves
//  msg->runs at the first run. Each run's kind is known and its n >= 1;
//  s_runs_cover checks their n against the pairs once those are read.
static int
s_runs (zmr_mpr_t *r, zmr_msg_t *msg)
{
    uint32_t n;
    if (zmr_mpr_array (r, &n))
        return -1;
    if (n % 3)
        return zmr_mpr_fail (r, "runs array is not of triples");
    msg->runs = *r;
    msg->nruns = n / 3;
    for (uint32_t i = 0; i < msg->nruns; i++) {
        uint64_t kind, pane, count;
        if (zmr_mpr_uint (r, &kind) || zmr_mpr_uint (r, &pane) || zmr_mpr_uint (r, &count))
            return -1;
        if (kind > ZMR_RUN_SIDE)
            return zmr_mpr_fail (r, "unknown run kind");
        if (count < 1 || count > UINT32_MAX)
            return zmr_mpr_fail (r, "run length out of range");
        if (kind != ZMR_RUN_PANE && pane)
            return zmr_mpr_fail (r, "a pane on a run that has none");
        if (pane > ZMR_EVTIME_MAX)
            return zmr_mpr_fail (r, "event time out of range");
    }
    return 0;
}

//  The runs' lengths add up to the pairs (none: one run of them all).
static int
s_runs_cover (zmr_mpr_t *r, zmr_msg_t *msg)
{
    if (!msg->nruns)
        return 0;
    zmr_mpr_t runs = msg->runs;
    uint64_t total = 0;
    for (uint32_t i = 0; i < msg->nruns; i++) {
        uint64_t kind, pane, count;
        int rc = zmr_mpr_uint (&runs, &kind) | zmr_mpr_uint (&runs, &pane)
               | zmr_mpr_uint (&runs, &count);
        assert (rc == 0);
        (void) rc;
        total += count;
    }
    return total == msg->npairs? 0: zmr_mpr_fail (r, "runs do not cover the pairs");
}

//  A job digest: 64 lower-case hex digits.
static int
s_digest (zmr_mpr_t *r, char *digest)
{
    if (zmr_mpr_cstr (r, digest, ZMR_DIGEST_HEX))
        return -1;
    if (strlen (digest) != ZMR_DIGEST_HEX - 1
    ||  strspn (digest, "0123456789abcdef") != ZMR_DIGEST_HEX - 1)
        return zmr_mpr_fail (r, "not a job digest");
    return 0;
}

static int
s_decode_fields (zmr_mpr_t *r, zmr_msg_t *msg)
{
    uint32_t n;
    char scratch[ZMR_ENDPOINT_MAX];
    switch (msg->type) {
        case ZMR_HELLO:
            if (s_u32 (r, &msg->role) || s_u32 (r, &msg->partition)
            ||  s_u32 (r, &msg->reducers)
            ||  zmr_mpr_cstr (r, msg->endpoint, sizeof msg->endpoint)
            ||  zmr_mpr_cstr (r, msg->name, sizeof msg->name)
            ||  zmr_mpr_uint (r, &msg->applied) || s_key (r, msg->key))
                return -1;
            if (msg->role < ZMR_ROLE_MAPPER || msg->role > ZMR_ROLE_SINK)
                return zmr_mpr_fail (r, "unknown role");
            if (msg->reducers > ZMR_MAX_REDUCERS)
                return zmr_mpr_fail (r, "too many reducers");
            return 0;
        case ZMR_WELCOME:
            if (s_u32 (r, &msg->reducers)
            ||  zmr_mpr_cstr (r, msg->endpoint, sizeof msg->endpoint)
            ||  zmr_mpr_cstr (r, msg->status, sizeof msg->status)
            ||  zmr_mpr_array (r, &n))
                return -1;
            if (msg->reducers < 1 || msg->reducers > ZMR_MAX_REDUCERS)
                return zmr_mpr_fail (r, "reducer count out of range");
            if (n != msg->reducers)
                return zmr_mpr_fail (r, "endpoint count differs from reducers");
            msg->endpoints = *r;
            for (uint32_t i = 0; i < n; i++)
                if (zmr_mpr_cstr (r, scratch, sizeof scratch))
                    return -1;
            if (zmr_mpr_array (r, &n))
                return -1;
            if (n != msg->reducers)
                return zmr_mpr_fail (r, "key count differs from reducers");
            msg->keys = *r;
            for (uint32_t i = 0; i < n; i++)
                if (s_key (r, scratch))
                    return -1;
            if (zmr_mpr_uint (r, &msg->max_word) || zmr_mpr_uint (r, &msg->max_message))
                return -1;
            if (msg->max_word > ZMR_MAX_CHUNK)
                return zmr_mpr_fail (r, "word limit over the chunk limit");
            if (msg->max_message < ZMR_MIN_MAX_MESSAGE || msg->max_message > ZMR_DEFAULT_MAX_MESSAGE)
                return zmr_mpr_fail (r, "message limit out of range");
            if (s_u32 (r, &msg->job_kind) || s_u32 (r, &msg->reduce)
            ||  s_digest (r, msg->digest)
            ||  zmr_mpr_cstr (r, msg->label, sizeof msg->label))
                return -1;
            if (!zmr_job_kind_name ((int) msg->job_kind))
                return zmr_mpr_fail (r, "unknown job kind");
            if (!zmr_reduce_name ((int) msg->reduce))
                return zmr_mpr_fail (r, "unknown reduce");
            if (s_u32 (r, &msg->event_format) || zmr_mpr_uint (r, &msg->window_ms)
            ||  zmr_mpr_uint (r, &msg->every_ms) || zmr_mpr_uint (r, &msg->lateness_ms))
                return -1;
            return s_event_spec (r, msg);
        case ZMR_REJECT:
            return zmr_mpr_bool (r, &msg->flag)
                || zmr_mpr_cstr (r, msg->reason, sizeof msg->reason)? -1: 0;
        case ZMR_CHUNK:
            if (zmr_mpr_uint (r, &msg->chunk) || s_u32 (r, &msg->input)
            ||  zmr_mpr_uint (r, &msg->offset) || s_u32 (r, &msg->attempt)
            ||  zmr_mpr_uint (r, &msg->length)
            ||  zmr_mpr_str (r, &msg->path, &msg->path_len)
            ||  zmr_mpr_uint (r, &msg->device) || zmr_mpr_uint (r, &msg->inode)
            ||  zmr_mpr_uint (r, &msg->stamp) || zmr_mpr_uint (r, &msg->event_max))
                return -1;
            if (msg->event_max > ZMR_EVTIME_MAX && msg->event_max != ZMR_EVTIME_UNKNOWN)
                return zmr_mpr_fail (r, "event time out of range");
            if (msg->length == 0 || msg->length > ZMR_MAX_CHUNK)
                return zmr_mpr_fail (r, "chunk length out of range");
            if (msg->path_len >= ZMR_PATH_MAX)
                return zmr_mpr_fail (r, "chunk path too long");
            if (msg->path_len && memchr (msg->path, 0, msg->path_len))
                return zmr_mpr_fail (r, "chunk path holds a NUL byte");
            if (msg->path_len && msg->path[0] != '/')
                return zmr_mpr_fail (r, "chunk path is not absolute");
            return 0;
        case ZMR_TAKE:
            return zmr_mpr_uint (r, &msg->chunk);
        case ZMR_MAPPED:
            if (zmr_mpr_uint (r, &msg->chunk) || zmr_mpr_uint (r, &msg->words)
            ||  zmr_mpr_uint (r, &msg->too_long) || zmr_mpr_uint (r, &msg->pair_count))
                return -1;
            if (msg->too_long > ZMR_MAX_CHUNK)
                return zmr_mpr_fail (r, "more long words than a chunk can hold");
            return 0;
        case ZMR_BATCH:
            if (zmr_mpr_uint (r, &msg->chunk) || s_u32 (r, &msg->partition)
            ||  s_u32 (r, &msg->reducers) || zmr_mpr_uint (r, &msg->stamp))
                return -1;
            if (msg->reducers < 1 || msg->reducers > ZMR_MAX_REDUCERS
            ||  msg->partition >= msg->reducers)
                return zmr_mpr_fail (r, "partition out of range");
            return s_runs (r, msg) || s_pairs (r, msg) || s_runs_cover (r, msg)? -1: 0;
        case ZMR_ACK:
            return s_u32 (r, &msg->partition) || zmr_mpr_uint (r, &msg->chunk)
                || zmr_mpr_uint (r, &msg->words) || zmr_mpr_bool (r, &msg->flag)
                ? -1: 0;
        case ZMR_HEARTBEAT:
            if (s_u32 (r, &msg->state) || s_counters (r, &msg->counters))
                return -1;
            if (msg->state > 2)
                return zmr_mpr_fail (r, "unknown worker state");
            return 0;
        case ZMR_BYE:
            return s_counters (r, &msg->counters);
        case ZMR_FLUSH:
            return zmr_mpr_cstr (r, msg->endpoint, sizeof msg->endpoint) || s_key (r, msg->key)
                ? -1: 0;
        case ZMR_RESULT:
            if (s_u32 (r, &msg->partition) || s_u32 (r, &msg->reducers)
            ||  zmr_mpr_uint (r, &msg->seq) || zmr_mpr_uint (r, &msg->parts)
            ||  zmr_mpr_uint (r, &msg->pair_count))
                return -1;
            if (msg->reducers < 1 || msg->reducers > ZMR_MAX_REDUCERS
            ||  msg->partition >= msg->reducers)
                return zmr_mpr_fail (r, "partition out of range");
            if (msg->parts < 1 || msg->seq >= msg->parts)
                return zmr_mpr_fail (r, "part number out of range");
            return s_pairs (r, msg);
        case ZMR_STORED:
            return s_u32 (r, &msg->partition);
        case ZMR_DONE:
            return zmr_mpr_uint (r, &msg->words) || zmr_mpr_uint (r, &msg->distinct)
                || zmr_mpr_uint (r, &msg->pair_count)? -1: 0;
        case ZMR_FINISH:
            if (zmr_mpr_bool (r, &msg->flag)
            ||  zmr_mpr_cstr (r, msg->reason, sizeof msg->reason))
                return -1;
            msg->state_map = *r;
            return zmr_mpr_skip (r, 3);
        case ZMR_AGAIN:
        case ZMR_REST:
            return 0;
        case ZMR_LIVE:
            if (zmr_mpr_cstr (r, msg->endpoint, sizeof msg->endpoint)
            ||  s_u32 (r, &msg->interval) || zmr_mpr_uint (r, &msg->window_ms)
            ||  s_key (r, msg->key) || zmr_mpr_bool (r, &msg->flag))
                return -1;
            if (msg->interval > 60000)
                return zmr_mpr_fail (r, "update interval out of range");
            if (msg->window_ms > 7 * 86400000ull)
                return zmr_mpr_fail (r, "window longer than a week");
            if (msg->interval == 0 && msg->window_ms == 0 && !msg->flag)
                return zmr_mpr_fail (r, "LIVE asks for nothing");
            if (msg->window_ms && msg->flag)
                return zmr_mpr_fail (r, "LIVE asks for windows of both times");
            return 0;
        case ZMR_CLOSE:
            if (zmr_mpr_uint (r, &msg->window) || zmr_mpr_uint (r, &msg->span)
            ||  zmr_mpr_uint (r, &msg->prev_1))
                return -1;
            if (msg->span > ZMR_EVENT_WINDOW_MAX)
                return zmr_mpr_fail (r, "window longer than a week");
            if (msg->prev_1 && msg->prev_1 - 1 >= msg->window)
                return zmr_mpr_fail (r, "CLOSE of a window before the one closed before it");
            return 0;
        case ZMR_WINDOW:
            if (s_u32 (r, &msg->partition) || s_u32 (r, &msg->reducers)
            ||  zmr_mpr_uint (r, &msg->window)
            ||  zmr_mpr_uint (r, &msg->seq) || zmr_mpr_uint (r, &msg->parts))
                return -1;
            if (msg->reducers < 1 || msg->reducers > ZMR_MAX_REDUCERS
            ||  msg->partition >= msg->reducers)
                return zmr_mpr_fail (r, "partition out of range");
            if (msg->parts < 1 || msg->seq >= msg->parts)
                return zmr_mpr_fail (r, "part number out of range");
            return s_pairs (r, msg);
        case ZMR_WSTORED:
            return zmr_mpr_uint (r, &msg->window) || zmr_mpr_uint (r, &msg->words)? -1: 0;
        case ZMR_FAIL:
        case ZMR_REFUSE:
            return zmr_mpr_cstr (r, msg->reason, sizeof msg->reason);
        case ZMR_FAILED:
            return zmr_mpr_uint (r, &msg->chunk)
                || zmr_mpr_cstr (r, msg->reason, sizeof msg->reason)? -1: 0;
        case ZMR_UPDATE:
            if (s_u32 (r, &msg->partition) || s_u32 (r, &msg->reducers)
            ||  zmr_mpr_array (r, &n))
                return -1;
            if (msg->reducers < 1 || msg->reducers > ZMR_MAX_REDUCERS
            ||  msg->partition >= msg->reducers)
                return zmr_mpr_fail (r, "partition out of range");
            if (n % 2 || n / 2 > ZMR_UPDATE_CHUNKS)
                return zmr_mpr_fail (r, "bad chunk list");
            msg->chunks = *r;
            msg->nchunks = n / 2;
            for (uint32_t i = 0; i < n; i++) {
                uint64_t value;
                if (zmr_mpr_uint (r, &value))
                    return -1;
            }
            return s_pairs (r, msg);
        case ZMR_TOTALS:
            return zmr_mpr_bool (r, &msg->flag) || zmr_mpr_uint (r, &msg->window)
                || s_pairs (r, msg)? -1: 0;
        case ZMR_LIVESTAT:
            if (zmr_mpr_uint (r, &msg->p50) || zmr_mpr_uint (r, &msg->p99)
            ||  zmr_mpr_uint (r, &msg->samples) || s_pairs (r, msg))
                return -1;
            if (msg->npairs > ZMR_TOP_MAX)
                return zmr_mpr_fail (r, "top list too long");
            return 0;
        case ZMR_STATUS:
            msg->state_map = *r;
            //  The state map holds a workers array of maps of scalars.
            return zmr_mpr_skip (r, 3);
        default:
            return zmr_mpr_fail (r, "unknown message type");
    }
}

int
zmr_msg_decode (const void *data, size_t len, zmr_msg_t *msg, const char **why)
{
    memset (msg, 0, sizeof *msg);
    zmr_mpr_t r;
    zmr_mpr_init (&r, data, len);
    uint32_t count;
    uint64_t signature, version, type;
    if (zmr_mpr_array (&r, &count) || zmr_mpr_uint (&r, &signature))
        goto fail;
    if (signature != ZMR_SIGNATURE) {
        zmr_mpr_fail (&r, "not a zmr message (bad signature)");
        goto fail;
    }
    if (zmr_mpr_uint (&r, &version))
        goto fail;
    if (version != ZMR_PROTOCOL) {
        zmr_mpr_fail (&r, version == 1? "protocol version 1 (an older zmr; this one speaks 3)"
                        : version == 2? "protocol version 2 (an older zmr; this one speaks 3)"
                                      : "unsupported protocol version");
        goto fail;
    }
    if (zmr_mpr_uint (&r, &type) || zmr_mpr_uint (&r, &msg->job))
        goto fail;
    if (type < ZMR_HELLO || type > ZMR_TYPE_LAST) {
        zmr_mpr_fail (&r, "unknown message type");
        goto fail;
    }
    msg->type = (int) type;
    if (count != 4 + s_fields[type]) {
        zmr_mpr_fail (&r, "wrong number of fields");
        goto fail;
    }
    if (s_decode_fields (&r, msg) || zmr_mpr_finish (&r))
        goto fail;
    return 0;
fail:
    *why = zmr_mpr_error (&r);
    msg->type = 0;
    return -1;
}

bool
zmr_msg_next_pair (zmr_msg_t *msg, const char **word, uint32_t *len,
                   uint64_t *count)
{
    if (msg->npairs == 0)
        return false;
    //  Validated by zmr_msg_decode: these reads cannot fail.
    int64_t value;
    int rc = zmr_mpr_bin (&msg->pairs, word, len) | zmr_mpr_int (&msg->pairs, &value);
    assert (rc == 0);
    *count = (uint64_t) value;
    (void) rc;
    msg->npairs--;
    return true;
}

bool
zmr_msg_next_run (zmr_msg_t *msg, zmr_run_t *run)
{
    if (msg->nruns == 0)
        return false;
    //  Validated by zmr_msg_decode: these reads cannot fail.
    uint64_t kind, pane, count;
    int rc = zmr_mpr_uint (&msg->runs, &kind) | zmr_mpr_uint (&msg->runs, &pane)
           | zmr_mpr_uint (&msg->runs, &count);
    assert (rc == 0);
    (void) rc;
    run->kind = (uint32_t) kind;
    run->pane = pane;
    run->n = (uint32_t) count;
    msg->nruns--;
    return true;
}

bool
zmr_msg_next_chunk (zmr_msg_t *msg, uint64_t *chunk, uint64_t *stamp)
{
    if (msg->nchunks == 0)
        return false;
    //  Validated by zmr_msg_decode: these reads cannot fail.
    int rc = zmr_mpr_uint (&msg->chunks, chunk) | zmr_mpr_uint (&msg->chunks, stamp);
    assert (rc == 0);
    (void) rc;
    msg->nchunks--;
    return true;
}

int
zmr_msg_next_endpoint (zmr_msg_t *msg, char *buf, char *key)
{
    if (zmr_mpr_left (&msg->endpoints) == 0 || msg->endpoints.error
    ||  zmr_mpr_left (&msg->keys) == 0 || msg->keys.error)
        return -1;
    return zmr_mpr_cstr (&msg->endpoints, buf, ZMR_ENDPOINT_MAX)
        || zmr_mpr_cstr (&msg->keys, key, ZMR_KEY_MAX)? -1: 0;
}

bool
zmr_key_valid (const char *text)
{
    uint8_t key[32];
    return strlen (text) == 40 && zmq_z85_decode (key, text) != NULL;
}

void
zmr_msg_begin (msgpack_packer *pk, int type, uint64_t job, uint32_t fields)
{
    msgpack_pack_array (pk, 4 + fields);
    msgpack_pack_uint16 (pk, ZMR_SIGNATURE);
    msgpack_pack_uint8 (pk, ZMR_PROTOCOL);
    msgpack_pack_uint8 (pk, (uint8_t) type);
    msgpack_pack_uint64 (pk, job);
}

static void
s_pack_str (msgpack_packer *pk, const char *s)
{
    size_t len = s? strlen (s): 0;
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

//  A reason, truncated so that it always decodes into the receiver's field.
static void
s_pack_reason (msgpack_packer *pk, const char *reason)
{
    size_t len = reason? strnlen (reason, ZMR_REASON_MAX - 1): 0;
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, reason, len);
}

void
zmr_msg_pack_hello (msgpack_packer *pk, uint64_t job, zmr_role_t role,
                    uint32_t partition, uint32_t reducers,
                    const char *endpoint, const char *name, uint64_t applied,
                    const char *key)
{
    zmr_msg_begin (pk, ZMR_HELLO, job, s_fields[ZMR_HELLO]);
    msgpack_pack_uint32 (pk, role);
    msgpack_pack_uint32 (pk, partition);
    msgpack_pack_uint32 (pk, reducers);
    s_pack_str (pk, endpoint);
    s_pack_str (pk, name);
    msgpack_pack_uint64 (pk, applied);
    s_pack_str (pk, key);
}

void
zmr_msg_pack_welcome (msgpack_packer *pk, uint64_t job, uint32_t reducers,
                      const char *chunks, const char *status,
                      const char *const *reducer_endpoints, const char *const *reducer_keys,
                      uint64_t max_word, uint64_t max_message, const zmr_job_t *spec,
                      const zmr_event_spec_t *event)
{
    zmr_msg_begin (pk, ZMR_WELCOME, job, s_fields[ZMR_WELCOME]);
    msgpack_pack_uint32 (pk, reducers);
    s_pack_str (pk, chunks);
    s_pack_str (pk, status);
    msgpack_pack_array (pk, reducers);
    for (uint32_t i = 0; i < reducers; i++)
        s_pack_str (pk, reducer_endpoints[i]);
    msgpack_pack_array (pk, reducers);
    for (uint32_t i = 0; i < reducers; i++)
        s_pack_str (pk, reducer_keys? reducer_keys[i]: "");
    msgpack_pack_uint64 (pk, max_word);
    msgpack_pack_uint64 (pk, max_message);
    zmr_job_t words;
    if (!spec) {
        zmr_job_words (&words);
        spec = &words;
    }
    msgpack_pack_uint32 (pk, (uint32_t) spec->kind);
    msgpack_pack_uint32 (pk, (uint32_t) spec->reduce);
    s_pack_str (pk, spec->digest);
    size_t len = strnlen (spec->label, ZMR_JOB_LABEL_MAX - 1);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, spec->label, len);
    zmr_event_spec_t none = { 0 };
    if (!event)
        event = &none;
    msgpack_pack_uint32 (pk, event->format);
    msgpack_pack_uint64 (pk, event->window_ms);
    msgpack_pack_uint64 (pk, event->every_ms);
    msgpack_pack_uint64 (pk, event->lateness_ms);
}

void
zmr_msg_pack_reason (msgpack_packer *pk, int type, uint64_t job, bool ok,
                     const char *reason)
{
    assert (type == ZMR_REJECT);
    zmr_msg_begin (pk, type, job, s_fields[type]);
    if (ok)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    s_pack_reason (pk, reason);
}

void
zmr_msg_pack_fail (msgpack_packer *pk, uint64_t job, const char *reason)
{
    zmr_msg_begin (pk, ZMR_FAIL, job, s_fields[ZMR_FAIL]);
    s_pack_reason (pk, reason);
}

void
zmr_msg_pack_refuse (msgpack_packer *pk, uint64_t job, const char *reason)
{
    zmr_msg_begin (pk, ZMR_REFUSE, job, s_fields[ZMR_REFUSE]);
    s_pack_reason (pk, reason);
}

void
zmr_msg_pack_failed (msgpack_packer *pk, uint64_t job, uint64_t chunk,
                     const char *reason)
{
    zmr_msg_begin (pk, ZMR_FAILED, job, s_fields[ZMR_FAILED]);
    msgpack_pack_uint64 (pk, chunk);
    s_pack_reason (pk, reason);
}

void
zmr_msg_pack_chunk (msgpack_packer *pk, uint64_t job, uint64_t chunk,
                    uint32_t input, uint64_t offset, uint32_t attempt,
                    uint64_t length, const zmr_file_ref_t *ref, uint64_t stamp,
                    uint64_t event_max)
{
    zmr_msg_begin (pk, ZMR_CHUNK, job, s_fields[ZMR_CHUNK]);
    msgpack_pack_uint64 (pk, chunk);
    msgpack_pack_uint32 (pk, input);
    msgpack_pack_uint64 (pk, offset);
    msgpack_pack_uint32 (pk, attempt);
    msgpack_pack_uint64 (pk, length);
    const char *path = ref? ref->path: "";
    size_t len = strnlen (path, ZMR_PATH_MAX - 1);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, path, len);
    msgpack_pack_uint64 (pk, ref? ref->device: 0);
    msgpack_pack_uint64 (pk, ref? ref->inode: 0);
    msgpack_pack_uint64 (pk, stamp);
    msgpack_pack_uint64 (pk, event_max);
}

void
zmr_msg_pack_take (msgpack_packer *pk, uint64_t job, uint64_t chunk)
{
    zmr_msg_begin (pk, ZMR_TAKE, job, s_fields[ZMR_TAKE]);
    msgpack_pack_uint64 (pk, chunk);
}

void
zmr_msg_pack_mapped (msgpack_packer *pk, uint64_t job, uint64_t chunk,
                     uint64_t words, uint64_t too_long, uint64_t pair_count)
{
    zmr_msg_begin (pk, ZMR_MAPPED, job, s_fields[ZMR_MAPPED]);
    msgpack_pack_uint64 (pk, chunk);
    msgpack_pack_uint64 (pk, words);
    msgpack_pack_uint64 (pk, too_long);
    msgpack_pack_uint64 (pk, pair_count);
}

void
zmr_msg_pack_ack (msgpack_packer *pk, uint64_t job, uint32_t partition,
                  uint64_t chunk, uint64_t words, bool duplicate)
{
    zmr_msg_begin (pk, ZMR_ACK, job, s_fields[ZMR_ACK]);
    msgpack_pack_uint32 (pk, partition);
    msgpack_pack_uint64 (pk, chunk);
    msgpack_pack_uint64 (pk, words);
    if (duplicate)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

static void
s_pack_counters (msgpack_packer *pk, const zmr_counters_t *c)
{
    msgpack_pack_array (pk, 6);
    msgpack_pack_uint64 (pk, c->chunks);
    msgpack_pack_uint64 (pk, c->words);
    msgpack_pack_uint64 (pk, c->bytes);
    msgpack_pack_uint64 (pk, c->duplicates);
    msgpack_pack_uint64 (pk, c->malformed);
    msgpack_pack_uint64 (pk, c->distinct);
}

void
zmr_msg_pack_heartbeat (msgpack_packer *pk, uint64_t job, uint32_t state,
                        const zmr_counters_t *counters)
{
    zmr_msg_begin (pk, ZMR_HEARTBEAT, job, s_fields[ZMR_HEARTBEAT]);
    msgpack_pack_uint32 (pk, state);
    s_pack_counters (pk, counters);
}

void
zmr_msg_pack_bye (msgpack_packer *pk, uint64_t job, const zmr_counters_t *counters)
{
    zmr_msg_begin (pk, ZMR_BYE, job, s_fields[ZMR_BYE]);
    s_pack_counters (pk, counters);
}

void
zmr_msg_pack_flush (msgpack_packer *pk, uint64_t job, const char *sink, const char *key)
{
    zmr_msg_begin (pk, ZMR_FLUSH, job, s_fields[ZMR_FLUSH]);
    s_pack_str (pk, sink);
    s_pack_str (pk, key);
}

void
zmr_msg_pack_live (msgpack_packer *pk, uint64_t job, const char *sink, uint32_t interval,
                   uint64_t window_ms, const char *key, bool panes)
{
    zmr_msg_begin (pk, ZMR_LIVE, job, s_fields[ZMR_LIVE]);
    s_pack_str (pk, sink);
    msgpack_pack_uint32 (pk, interval);
    msgpack_pack_uint64 (pk, window_ms);
    s_pack_str (pk, key);
    if (panes)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

void
zmr_msg_pack_close (msgpack_packer *pk, uint64_t job, uint64_t window, uint64_t span,
                    uint64_t prev_1)
{
    zmr_msg_begin (pk, ZMR_CLOSE, job, s_fields[ZMR_CLOSE]);
    msgpack_pack_uint64 (pk, window);
    msgpack_pack_uint64 (pk, span);
    msgpack_pack_uint64 (pk, prev_1);
}

void
zmr_msg_pack_wstored (msgpack_packer *pk, uint64_t job, uint64_t window, uint64_t words)
{
    zmr_msg_begin (pk, ZMR_WSTORED, job, s_fields[ZMR_WSTORED]);
    msgpack_pack_uint64 (pk, window);
    msgpack_pack_uint64 (pk, words);
}

void
zmr_msg_pack_again (msgpack_packer *pk, uint64_t job)
{
    zmr_msg_begin (pk, ZMR_AGAIN, job, s_fields[ZMR_AGAIN]);
}

void
zmr_msg_pack_rest (msgpack_packer *pk, uint64_t job)
{
    zmr_msg_begin (pk, ZMR_REST, job, s_fields[ZMR_REST]);
}

void
zmr_msg_pack_stored (msgpack_packer *pk, uint64_t job, uint32_t partition)
{
    zmr_msg_begin (pk, ZMR_STORED, job, s_fields[ZMR_STORED]);
    msgpack_pack_uint32 (pk, partition);
}

void
zmr_msg_pack_done (msgpack_packer *pk, uint64_t job, uint64_t words,
                   uint64_t distinct, uint64_t pair_count)
{
    zmr_msg_begin (pk, ZMR_DONE, job, s_fields[ZMR_DONE]);
    msgpack_pack_uint64 (pk, words);
    msgpack_pack_uint64 (pk, distinct);
    msgpack_pack_uint64 (pk, pair_count);
}

void
zmr_msg_begin_batch (msgpack_packer *pk, uint64_t job, uint64_t chunk,
                     uint32_t partition, uint32_t reducers, uint64_t stamp,
                     const zmr_run_t *runs, uint32_t nruns, uint32_t npairs)
{
    zmr_msg_begin (pk, ZMR_BATCH, job, s_fields[ZMR_BATCH]);
    msgpack_pack_uint64 (pk, chunk);
    msgpack_pack_uint32 (pk, partition);
    msgpack_pack_uint32 (pk, reducers);
    msgpack_pack_uint64 (pk, stamp);
    msgpack_pack_array (pk, nruns * 3);
    for (uint32_t i = 0; i < nruns; i++) {
        msgpack_pack_uint32 (pk, runs[i].kind);
        msgpack_pack_uint64 (pk, runs[i].pane);
        msgpack_pack_uint32 (pk, runs[i].n);
    }
    msgpack_pack_array (pk, npairs * 2);
}

void
zmr_msg_begin_update (msgpack_packer *pk, uint64_t job, uint32_t partition,
                      uint32_t reducers, uint32_t nchunks)
{
    assert (nchunks <= ZMR_UPDATE_CHUNKS);
    zmr_msg_begin (pk, ZMR_UPDATE, job, s_fields[ZMR_UPDATE]);
    msgpack_pack_uint32 (pk, partition);
    msgpack_pack_uint32 (pk, reducers);
    msgpack_pack_array (pk, nchunks * 2);
}

void
zmr_msg_begin_totals (msgpack_packer *pk, uint64_t job, bool final, uint64_t window,
                      uint32_t npairs)
{
    zmr_msg_begin (pk, ZMR_TOTALS, job, s_fields[ZMR_TOTALS]);
    if (final)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    msgpack_pack_uint64 (pk, window);
    msgpack_pack_array (pk, npairs * 2);
}

void
zmr_msg_begin_window (msgpack_packer *pk, uint64_t job, uint32_t partition,
                      uint32_t reducers, uint64_t window, uint64_t seq, uint64_t parts,
                      uint32_t npairs)
{
    zmr_msg_begin (pk, ZMR_WINDOW, job, s_fields[ZMR_WINDOW]);
    msgpack_pack_uint32 (pk, partition);
    msgpack_pack_uint32 (pk, reducers);
    msgpack_pack_uint64 (pk, window);
    msgpack_pack_uint64 (pk, seq);
    msgpack_pack_uint64 (pk, parts);
    msgpack_pack_array (pk, npairs * 2);
}

void
zmr_msg_begin_livestat (msgpack_packer *pk, uint64_t job, uint64_t p50, uint64_t p99,
                        uint64_t samples, uint32_t npairs)
{
    assert (npairs <= ZMR_TOP_MAX);
    zmr_msg_begin (pk, ZMR_LIVESTAT, job, s_fields[ZMR_LIVESTAT]);
    msgpack_pack_uint64 (pk, p50);
    msgpack_pack_uint64 (pk, p99);
    msgpack_pack_uint64 (pk, samples);
    msgpack_pack_array (pk, npairs * 2);
}

void
zmr_msg_begin_pairs (msgpack_packer *pk, uint32_t npairs)
{
    msgpack_pack_array (pk, npairs * 2);
}

void
zmr_msg_begin_result (msgpack_packer *pk, uint64_t job, uint32_t partition,
                      uint32_t reducers, uint64_t seq, uint64_t parts,
                      uint64_t pair_count, uint32_t npairs)
{
    zmr_msg_begin (pk, ZMR_RESULT, job, s_fields[ZMR_RESULT]);
    msgpack_pack_uint32 (pk, partition);
    msgpack_pack_uint32 (pk, reducers);
    msgpack_pack_uint64 (pk, seq);
    msgpack_pack_uint64 (pk, parts);
    msgpack_pack_uint64 (pk, pair_count);
    msgpack_pack_array (pk, npairs * 2);
}

void
zmr_msg_pack_pair (msgpack_packer *pk, const char *word, uint32_t len,
                   uint64_t count)
{
    msgpack_pack_bin (pk, len);
    msgpack_pack_bin_body (pk, word, len);
    msgpack_pack_int64 (pk, (int64_t) count);
}

int
zmr_msg_reserve (msgpack_sbuffer *sbuf, size_t size)
{
    assert (sbuf);
    if (sbuf->alloc - sbuf->size >= size)
        return 0;
    char *data = (char *) realloc (sbuf->data, sbuf->size + size);
    if (!data)
        return -1;
    sbuf->data = data;
    sbuf->alloc = sbuf->size + size;
    return 0;
}

//  value big-endian in its n low bytes at at; returns at + n.
static inline char *
s_put_be (char *at, uint64_t value, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        at [i] = (char) (uint8_t) value;
        value >>= 8;
    }
    return at + n;
}

//  memcpy of a word, most of them short: a call to memcpy per word was a
//  tenth of a mapper's time on the Zipf text (perf). Overlapping loads,
//  never outside word[0 .. len).
static inline void
s_copy_word (char *to, const char *word, uint32_t len)
{
    if (len >= 8 && len <= 16) {
        uint64_t head, tail;
        memcpy (&head, word, 8);
        memcpy (&tail, word + len - 8, 8);
        memcpy (to, &head, 8);
        memcpy (to + len - 8, &tail, 8);
    }
    else
    if (len >= 4 && len < 8) {
        uint32_t head, tail;
        memcpy (&head, word, 4);
        memcpy (&tail, word + len - 4, 4);
        memcpy (to, &head, 4);
        memcpy (to + len - 4, &tail, 4);
    }
    else
    if (len < 4) {
        for (uint32_t i = 0; i < len; i++)
            to [i] = word [i];
    }
    else
        memcpy (to, word, len);
}

void
zmr_msg_put_pair (msgpack_sbuffer *sbuf, const char *word, uint32_t len, uint64_t count)
{
    assert (sbuf);
    assert (sbuf->alloc - sbuf->size >= ZMR_MSG_PAIR_MAX (len));
    assert (count <= INT64_MAX);
    char *at = sbuf->data + sbuf->size;
    //  As msgpack-c packs them: bin 8/16/32, then the shortest uint
    if (len < 256) {
        *at++ = (char) 0xc4;
        *at++ = (char) (uint8_t) len;
    }
    else
    if (len < 65536) {
        *at++ = (char) 0xc5;
        at = s_put_be (at, len, 2);
    }
    else {
        *at++ = (char) 0xc6;
        at = s_put_be (at, len, 4);
    }
    s_copy_word (at, word, len);
    at += len;
    if (count < 128)
        *at++ = (char) (uint8_t) count;
    else
    if (count < 256) {
        *at++ = (char) 0xcc;
        *at++ = (char) (uint8_t) count;
    }
    else
    if (count < 65536) {
        *at++ = (char) 0xcd;
        at = s_put_be (at, count, 2);
    }
    else
    if (count < (1ull << 32)) {
        *at++ = (char) 0xce;
        at = s_put_be (at, count, 4);
    }
    else {
        *at++ = (char) 0xcf;
        at = s_put_be (at, count, 8);
    }
    sbuf->size = (size_t) (at - sbuf->data);
}

static void
s_free (void *data, void *hint)
{
    free (data);
}

int
zmr_msg_send (void *sock, msgpack_sbuffer *sbuf, int flags)
{
    void *handle = zsock_resolve (sock);
    zmq_msg_t frame;
    size_t size = sbuf->size;
    //  The frame takes the buffer: no copy of a batch on its way out.
    char *data = msgpack_sbuffer_release (sbuf);
    if (data == NULL) {
        zmq_msg_init (&frame);
        size = 0;
    }
    else
        zmq_msg_init_data (&frame, data, size, s_free, NULL);
    if (zmq_msg_send (&frame, handle, flags) == -1) {
        int err = errno;
        zmq_msg_close (&frame);
        errno = err;
        return -1;
    }
    return 0;
}

int
zmr_msg_recv (void *sock, zmq_msg_t *frames, int max_frames, int *nframes,
              int flags)
{
    void *handle = zsock_resolve (sock);
    int n = 0;
    bool too_many = false;
    zmq_msg_t extra;
    while (true) {
        zmq_msg_t *frame = n < max_frames? &frames[n]: &extra;
        zmq_msg_init (frame);
        if (zmq_msg_recv (frame, handle, n == 0? flags: 0) == -1) {
            int err = errno;
            zmq_msg_close (frame);
            zmr_msg_close (frames, n < max_frames? n: max_frames);
            errno = err;
            return -1;
        }
        int more = zmq_msg_more (frame);
        if (frame == &extra) {
            zmq_msg_close (&extra);
            too_many = true;
        }
        else
            n++;
        if (!more)
            break;
    }
    if (too_many) {
        zmr_msg_close (frames, n);
        errno = EPROTO;
        return -1;
    }
    *nframes = n;
    return 0;
}

void
zmr_msg_close (zmq_msg_t *frames, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close (&frames[i]);
}
