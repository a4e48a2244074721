/*  zmr_msg: the codec of docs/protocol.md. Decoding turns one header frame
    into a zmr_msg_t, checking signature, version, type, every field's type,
    every length and the absence of trailing bytes; nothing is allocated and
    strings are copied into fixed fields or left as views into the frame.
    Encoding packs a message into a msgpack_sbuffer. Only zmr_msg_send and
    zmr_msg_recv touch ZeroMQ, and they know nothing of the fields. */
#ifndef ZMR_MSG_H
#define ZMR_MSG_H
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "zmr_evtime.h"
#include "zmr_job.h"
#include "zmr_mpr.h"

#define ZMR_SIGNATURE    0x5A4D
#define ZMR_PROTOCOL     3        //  2: jobs (WELCOME names one), signed
                                  //  values, pair counts, REFUSE, FAILED;
                                  //  3: event time (WELCOME, CHUNK, BATCH
                                  //  runs, LIVE, CLOSE)
#define ZMR_INGEST_PROTOCOL 2     //  INGEST, INGESTED, REFUSED: unchanged
                                  //  since 2, which producers speak
#define ZMR_ENDPOINT_MAX 256      //  Longest endpoint string, with its NUL
#define ZMR_NAME_MAX     128      //  Longest worker name, with its NUL
#define ZMR_REASON_MAX   256      //  Longest reason text, with its NUL
#define ZMR_KEY_MAX      41       //  A CURVE public key in Z85, with its NUL
#define ZMR_PATH_MAX     4096     //  Longest file path in a CHUNK, with its NUL
#define ZMR_TOP_MAX      20       //  Words in a LIVESTAT's top list
#define ZMR_UPDATE_CHUNKS 4096    //  Chunks listed in one UPDATE

typedef enum {
    ZMR_HELLO = 1,
    ZMR_WELCOME,
    ZMR_REJECT,
    ZMR_CHUNK,
    ZMR_TAKE,
    ZMR_MAPPED,
    ZMR_BATCH,
    ZMR_ACK,
    ZMR_HEARTBEAT,
    ZMR_BYE,
    ZMR_FLUSH,
    ZMR_RESULT,
    ZMR_STORED,
    ZMR_DONE,
    ZMR_FINISH,
    ZMR_STATUS,
    ZMR_AGAIN,
    ZMR_LIVE,
    ZMR_UPDATE,
    ZMR_TOTALS,
    ZMR_LIVESTAT,
    ZMR_CLOSE,
    ZMR_WINDOW,
    ZMR_WSTORED,
    ZMR_FAIL,
    ZMR_REST,
    ZMR_REFUSE,
    ZMR_FAILED,
    ZMR_TYPE_LAST = ZMR_FAILED
} zmr_msg_type_t;

typedef enum {
    ZMR_ROLE_MAPPER = 1,
    ZMR_ROLE_REDUCER,
    ZMR_ROLE_SINK
} zmr_role_t;

typedef struct {
    uint64_t chunks;         //  Chunks mapped, batches applied, partitions stored
    uint64_t words;          //  Word occurrences handled
    uint64_t bytes;          //  Bytes of text mapped
    uint64_t duplicates;     //  Duplicate batches dropped
    uint64_t malformed;      //  Frames dropped as malformed or foreign
    uint64_t distinct;       //  Distinct words held
} zmr_counters_t;

//  An event-time job's settings, in WELCOME (format 0: ingest time, the
//  rest 0).
typedef struct {
    uint32_t format;         //  zmr_evtime_format_t
    uint64_t window_ms;      //  W
    uint64_t every_ms;       //  E (W a multiple of E)
    uint64_t lateness_ms;    //  --allowed-lateness
} zmr_event_spec_t;

//  One decoded message. Which fields mean something depends on type (see
//  docs/protocol.md); the others are zero. Views point into the frame.
typedef struct {
    int type;                //  zmr_msg_type_t
    uint64_t job;            //  Job id, 0 if unknown to the sender
    uint32_t role;           //  HELLO: zmr_role_t
    uint32_t partition;      //  HELLO, BATCH, ACK, RESULT, STORED
    uint32_t reducers;       //  HELLO, WELCOME, BATCH, RESULT: R
    uint32_t state;          //  HEARTBEAT: 0 idle, 1 busy, 2 leaving
    uint32_t input;          //  CHUNK: input index
    uint32_t attempt;        //  CHUNK: 0 first issue, +1 per re-issue
    uint64_t chunk;          //  CHUNK, TAKE, MAPPED, BATCH, ACK: chunk id
    uint64_t offset;         //  CHUNK: byte offset in its input
    uint64_t length;         //  CHUNK: bytes in the chunk (1 .. ZMR_MAX_CHUNK)
    uint64_t device;         //  CHUNK by reference: st_dev of the file
    uint64_t inode;          //  CHUNK by reference: st_ino of the file
    const char *path;        //  CHUNK by reference: the file, a view into the
    uint32_t path_len;       //  frame (not terminated); path_len 0: bytes
    uint64_t words;          //  MAPPED (records: words or lines), ACK, DONE
    uint64_t pair_count;     //  MAPPED: pairs in the chunk's R batches;
                             //  RESULT: pairs in the batches the partition
                             //  applied; DONE: their sum over partitions
    uint64_t too_long;       //  MAPPED: words over the job's --max-word, left out
    uint64_t max_word;       //  WELCOME: longest word counted (0: no limit)
    uint64_t max_message;    //  WELCOME: the job's largest message
    uint64_t distinct;       //  DONE
    uint64_t seq;            //  RESULT: part number
    uint64_t parts;          //  RESULT: parts in the partition
    uint64_t applied;        //  HELLO: chunks the worker holds applied
    uint64_t stamp;          //  CHUNK, BATCH: ms since the epoch when the
                             //  chunk's text entered the ventilator
    uint32_t interval;       //  LIVE: ms between UPDATEs (0: none)
    uint64_t window_ms;      //  LIVE: ingest-time window length (0: none);
                             //  WELCOME: the event-time window W (0: none)
    uint64_t every_ms;       //  WELCOME: a new window every E ms (E = W:
                             //  tumbling)
    uint64_t lateness_ms;    //  WELCOME: --allowed-lateness
    uint32_t event_format;   //  WELCOME: zmr_evtime_format_t (0: ingest time)
    uint64_t event_max;      //  CHUNK: the largest event time of the lines
                             //  before the chunk (ZMR_EVTIME_UNKNOWN: none)
    uint32_t nruns;          //  BATCH: runs, validated (0: one run, the
    zmr_mpr_t runs;          //  chunk's stamp's window); cursor at the first
    uint64_t span;           //  CLOSE: the window's length for an event-time
                             //  job (0: an ingest-time window)
    uint64_t prev_1;         //  CLOSE: the window closed before it, + 1 (0:
                             //  none)
    uint64_t window;         //  CLOSE, WINDOW, WSTORED, TOTALS: window,
                             //  by its start (ms since the epoch; TOTALS:
                             //  0 for running totals)
    uint64_t p50, p99;       //  LIVESTAT: latency percentiles (ms)
    uint64_t samples;        //  LIVESTAT: chunks they are over
    uint32_t nchunks;        //  UPDATE: (chunk, stamp) entries, validated
    zmr_mpr_t chunks;        //  UPDATE: cursor at the first entry
    bool flag;               //  ACK: duplicate; FINISH: ok; REJECT: retry;
                             //  TOTALS: final; LIVE: panes (event time:
                             //  batches carry their panes, CLOSE comes)
    char endpoint[ZMR_ENDPOINT_MAX];  //  HELLO: own; WELCOME: chunks; FLUSH: sink
    char status[ZMR_ENDPOINT_MAX];    //  WELCOME: status endpoint
    char name[ZMR_NAME_MAX];          //  HELLO: worker name
    char key[ZMR_KEY_MAX];            //  HELLO: own CURVE public key; FLUSH,
                                      //  LIVE: the sink's ("": no CURVE)
    char reason[ZMR_REASON_MAX];      //  REJECT, FINISH, FAIL, REFUSE, FAILED
    uint32_t job_kind;                //  WELCOME: zmr_job_kind_t
    uint32_t reduce;                  //  WELCOME: zmr_reduce_t
    char digest[ZMR_DIGEST_HEX];      //  WELCOME: the job's (zmr_job.h)
    char label[ZMR_JOB_LABEL_MAX];    //  WELCOME: the job's label, for logs
    zmr_counters_t counters;          //  HEARTBEAT, BYE
    uint32_t npairs;         //  BATCH, RESULT, UPDATE, TOTALS, LIVESTAT:
    zmr_mpr_t pairs;         //  pairs, validated; cursor at the first
    zmr_mpr_t endpoints;     //  WELCOME: cursor at the first reducer endpoint
    zmr_mpr_t keys;          //  WELCOME: cursor at the first reducer key
    zmr_mpr_t state_map;     //  STATUS, FINISH: cursor at the state map
} zmr_msg_t;

//  Decodes the header frame data[0 .. len) into *msg. Returns 0, or -1 with
//  a static one-line reason in *why. Pairs are walked whole (each a bin and
//  an int in the signed 64-bit range) before 0 is returned, so a consumer
//  that applies them afterwards cannot meet a bad pair halfway. A frame of
//  protocol version 1 is refused with a reason that says so.
int
    zmr_msg_decode (const void *data, size_t len, zmr_msg_t *msg,
                    const char **why);

//  Reads the next pair of a decoded BATCH, RESULT, UPDATE, WINDOW, TOTALS
//  or LIVESTAT. *count is the value: a signed 64-bit integer's bits (cast
//  it to int64_t; a word count is positive). Returns false after the last.
bool
    zmr_msg_next_pair (zmr_msg_t *msg, const char **word, uint32_t *len,
                       uint64_t *count);

//  A run of a BATCH's pairs (event time): n pairs in a row, of one kind.
typedef enum {
    ZMR_RUN_PANE = 0,        //  Words on time: the totals and the pane's table
    ZMR_RUN_TOTALS = 1,      //  Words of side records: the totals only
    ZMR_RUN_SIDE = 2         //  Side records (zmr_evtime.h): the side table
} zmr_run_kind_t;

typedef struct {
    uint32_t kind;           //  zmr_run_kind_t
    uint64_t pane;           //  ZMR_RUN_PANE: the pane's start, ms; else 0
    uint32_t n;              //  Pairs in the run (>= 1)
} zmr_run_t;

//  Reads the next run of a decoded BATCH. Returns false after the last.
//  The runs' n add up to the BATCH's pairs (checked when decoding).
bool
    zmr_msg_next_run (zmr_msg_t *msg, zmr_run_t *run);

//  Reads the next (chunk, stamp) entry of a decoded UPDATE. Returns false
//  after the last.
bool
    zmr_msg_next_chunk (zmr_msg_t *msg, uint64_t *chunk, uint64_t *stamp);

//  Reads the next reducer endpoint of a decoded WELCOME into buf
//  (ZMR_ENDPOINT_MAX bytes) and its CURVE public key into key (ZMR_KEY_MAX
//  bytes; "" without CURVE). Returns 0, or -1 after the last.
int
    zmr_msg_next_endpoint (zmr_msg_t *msg, char *buf, char *key);

//  Whether text is a CURVE public key: 40 characters of Z85.
bool
    zmr_key_valid (const char *text);

//  Name of a message type, for logs ("BATCH"), or "unknown".
const char *
    zmr_msg_type_name (int type);

//  Starts a message in pk: packs the array header for `fields` fields after
//  the job, then signature, version, type and job. The caller packs exactly
//  `fields` values next, in the order of docs/protocol.md.
void
    zmr_msg_begin (msgpack_packer *pk, int type, uint64_t job, uint32_t fields);

//  Encoders of the small messages: each packs one whole message into pk.
void zmr_msg_pack_hello (msgpack_packer *pk, uint64_t job, zmr_role_t role,
                         uint32_t partition, uint32_t reducers,
                         const char *endpoint, const char *name,
                         uint64_t applied, const char *key);
void zmr_msg_pack_again (msgpack_packer *pk, uint64_t job);
void zmr_msg_pack_rest (msgpack_packer *pk, uint64_t job);
void zmr_msg_pack_welcome (msgpack_packer *pk, uint64_t job, uint32_t reducers,
                           const char *chunks, const char *status,
                           const char *const *reducer_endpoints,
                           const char *const *reducer_keys, uint64_t max_word,
                           uint64_t max_message, const zmr_job_t *spec,
                           const zmr_event_spec_t *event);
//  REJECT (flag: try again later). FINISH is zmr_status_pack_finish.
void zmr_msg_pack_reason (msgpack_packer *pk, int type, uint64_t job,
                          bool flag, const char *reason);
//  FAIL: a worker cannot go on without breaking a promise (a limit the user
//  set); the job fails with its reason.
void zmr_msg_pack_fail (msgpack_packer *pk, uint64_t job, const char *reason);
//  A chunk by reference: the mapper reads it from this file itself.
typedef struct {
    const char *path;        //  Absolute path
    uint64_t device;         //  st_dev and st_ino of the file, which the
    uint64_t inode;          //  mapper checks against the file it opens
} zmr_file_ref_t;

//  CHUNK: the bytes follow in a second frame if ref is NULL, else the frame
//  is empty and the mapper reads length bytes at offset from ref's file.
void zmr_msg_pack_chunk (msgpack_packer *pk, uint64_t job, uint64_t chunk,
                         uint32_t input, uint64_t offset, uint32_t attempt,
                         uint64_t length, const zmr_file_ref_t *ref,
                         uint64_t stamp, uint64_t event_max);
void zmr_msg_pack_take (msgpack_packer *pk, uint64_t job, uint64_t chunk);
void zmr_msg_pack_mapped (msgpack_packer *pk, uint64_t job, uint64_t chunk,
                          uint64_t words, uint64_t too_long, uint64_t pair_count);
void zmr_msg_pack_ack (msgpack_packer *pk, uint64_t job, uint32_t partition,
                       uint64_t chunk, uint64_t words, bool duplicate);
void zmr_msg_pack_heartbeat (msgpack_packer *pk, uint64_t job, uint32_t state,
                             const zmr_counters_t *counters);
void zmr_msg_pack_bye (msgpack_packer *pk, uint64_t job,
                       const zmr_counters_t *counters);
void zmr_msg_pack_flush (msgpack_packer *pk, uint64_t job, const char *sink,
                         const char *key);
void zmr_msg_pack_stored (msgpack_packer *pk, uint64_t job, uint32_t partition);
void zmr_msg_pack_done (msgpack_packer *pk, uint64_t job, uint64_t words,
                        uint64_t distinct, uint64_t pair_count);
//  REFUSE: a mapper will not run the job the WELCOME named (no job its own
//  options define has that kind and digest); reason says which.
void zmr_msg_pack_refuse (msgpack_packer *pk, uint64_t job, const char *reason);
//  FAILED: the map of chunk failed in the mapper (its command exited
//  non-zero, printed a bad line, hung or died): no batch of it was sent.
//  The ventilator treats it as a mapper that died holding the chunk.
void zmr_msg_pack_failed (msgpack_packer *pk, uint64_t job, uint64_t chunk,
                          const char *reason);
//  LIVE: panes is true for an event-time job (then window_ms is 0).
void zmr_msg_pack_live (msgpack_packer *pk, uint64_t job, const char *sink,
                        uint32_t interval, uint64_t window_ms, const char *key,
                        bool panes);
//  CLOSE: span is W for an event-time window (0: ingest time), prev_1 the
//  window closed before it + 1 (0: none).
void zmr_msg_pack_close (msgpack_packer *pk, uint64_t job, uint64_t window,
                         uint64_t span, uint64_t prev_1);
void zmr_msg_pack_wstored (msgpack_packer *pk, uint64_t job, uint64_t window,
                           uint64_t words);

//  BATCH and RESULT: packs the header and the pairs array header for npairs
//  pairs; the caller then packs npairs times (bin word, uint count).
//  Runs (event time): nruns of them, whose n add up to npairs, in the order
//  the pairs follow; NULL and 0 for a batch of one run (ingest time).
void zmr_msg_begin_batch (msgpack_packer *pk, uint64_t job, uint64_t chunk,
                          uint32_t partition, uint32_t reducers,
                          uint64_t stamp, const zmr_run_t *runs, uint32_t nruns,
                          uint32_t npairs);
//  UPDATE: packs the header and the chunks array header for nchunks
//  entries; the caller packs nchunks times (uint chunk, uint stamp), then
//  zmr_msg_begin_pairs and the pairs (word, its total in the partition).
void zmr_msg_begin_update (msgpack_packer *pk, uint64_t job, uint32_t partition,
                           uint32_t reducers, uint32_t nchunks);
//  TOTALS (the sink's running totals, to subscribers): header, final (the
//  job is done: these messages hold every word; for a window: the last
//  message of it), window (0: the running totals, else the start, ms since
//  the epoch, of the window whose counts these are) and the pairs array.
void zmr_msg_begin_totals (msgpack_packer *pk, uint64_t job, bool final,
                           uint64_t window, uint32_t npairs);
//  WINDOW: one part of a partition's counts of one window, like RESULT.
void zmr_msg_begin_window (msgpack_packer *pk, uint64_t job, uint32_t partition,
                           uint32_t reducers, uint64_t window, uint64_t seq,
                           uint64_t parts, uint32_t npairs);
//  LIVESTAT: header and the top list's pairs array (npairs <= ZMR_TOP_MAX).
void zmr_msg_begin_livestat (msgpack_packer *pk, uint64_t job, uint64_t p50,
                             uint64_t p99, uint64_t samples, uint32_t npairs);
//  The pairs array header for npairs pairs.
void zmr_msg_begin_pairs (msgpack_packer *pk, uint32_t npairs);
void zmr_msg_begin_result (msgpack_packer *pk, uint64_t job, uint32_t partition,
                           uint32_t reducers, uint64_t seq, uint64_t parts,
                           uint64_t pair_count, uint32_t npairs);
//  Packs one pair; count is the value, a signed 64-bit integer's bits.
void zmr_msg_pack_pair (msgpack_packer *pk, const char *word, uint32_t len,
                        uint64_t count);

//  The most bytes a pair of a word of len bytes takes packed (bin header 5,
//  count 9), and the most a message header before its pairs takes.
#define ZMR_MSG_PAIR_MAX(len)   ((size_t) (len) + 14)
#define ZMR_MSG_HEADER_MAX      256
//  Makes room for size more bytes in sbuf, so packing them grows nothing.
//  Returns 0, or -1 on out-of-memory (sbuf as it was).
int zmr_msg_reserve (msgpack_sbuffer *sbuf, size_t size);
//  zmr_msg_pack_pair's very bytes, written straight into sbuf, which must
//  have room for ZMR_MSG_PAIR_MAX (len) more (zmr_msg_reserve): the hot
//  path of a mapper, without a callback per field. count at most INT64_MAX.
void zmr_msg_put_pair (msgpack_sbuffer *sbuf, const char *word, uint32_t len,
                       uint64_t count);

//  Sends the bytes of sbuf as one frame, handing its memory to ZeroMQ
//  without a copy (sbuf is left empty and reusable). flags as zmq_msg_send
//  (ZMQ_SNDMORE, ZMQ_DONTWAIT). Returns 0, or -1 with errno as zmq's.
int
    zmr_msg_send (void *sock, msgpack_sbuffer *sbuf, int flags);

//  Receives one whole ZeroMQ message of at most max_frames frames into
//  frames[] (initialised here; the caller closes *nframes of them with
//  zmr_msg_close). A message with more frames is read to its end, closed,
//  and reported as -1 with errno EPROTO. Returns 0, or -1 with errno as
//  zmq's (EAGAIN with ZMQ_DONTWAIT, EINTR on a signal).
int
    zmr_msg_recv (void *sock, zmq_msg_t *frames, int max_frames,
                  int *nframes, int flags);

//  Closes n frames.
void
    zmr_msg_close (zmq_msg_t *frames, int n);

#endif
