/*  zmr_evtime: event time, taken from each line of the text.

    With --event-time FORMAT a job's records are lines (the chunker cuts
    after '\n') and each line's time comes from the line itself:

    - epoch:   the line's first field (after leading blanks) is seconds
               since 1970-01-01 UTC, digits with an optional fraction
               (".123"; kept to the millisecond, the rest cut off);
    - rfc3339: the line's first field is an RFC 3339 date-time,
               YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) ('t' and 'z'
               accepted too);
    - clf:     the first '[' of the line opens the web server common log
               format's time, [DD/Mon/YYYY:HH:MM:SS +HHMM] (month names
               in English, any case), up to its ']'.

    The time's text (its token) is not a word: the line's words are those
    of the line with the token taken out (for clf, the words on both sides
    of the brackets stay apart). A time before 1970 or after 9999 is no
    time. A field that does not parse whole (a digit too many, a bad month,
    a missing ']') is no time: a line is never half-read.

    Lateness, one rule shared by the ventilator and the mappers, so both
    decide the same for every line: the lines of the input are in the order
    they were read (chunk by chunk, each chunk's lines in order). For a
    line, M is the largest event time of every line before it in that
    order, none before the first line with a time. The line is late when M
    is known and its time t < M - lateness (the watermark). A line with a
    time that is not late is on time: its words count in every window that
    holds t. Windows: length W, a new one every E (W a multiple of E;
    tumbling when E = W); window s covers [s, s + W) for s a multiple of E,
    and the pane of t is t / E * E. Every line's words count in the totals,
    on time, late or without a time. A line without words (blank) is no
    record: it is skipped. A late line or one without time is a side
    record, written to DIR/late.tsv.

    A chunk's side records go out with one window close, the chunk's
    bucket: the smallest window start s (a multiple of E) with s + W > M -
    lateness, where M is the largest event time before the chunk (0 when
    there is none). A window s can close only once every chunk with bucket
    <= s is done, which is every chunk that can hold a line on time for it.

    Pure functions: no allocation, no I/O. */
#ifndef ZMR_EVTIME_H
#define ZMR_EVTIME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    ZMR_EVTIME_NONE = 0,      //  Ingest time (no --event-time)
    ZMR_EVTIME_EPOCH = 1,
    ZMR_EVTIME_RFC3339 = 2,
    ZMR_EVTIME_CLF = 3
} zmr_evtime_format_t;

//  No event time known: the M of the first lines of a stream, and
//  a CHUNK's event_max when no line before it had a time.
#define ZMR_EVTIME_UNKNOWN  UINT64_MAX

//  The largest event time, ms: 9999-12-31T23:59:59.999Z.
#define ZMR_EVTIME_MAX      253402300799999ULL

//  Bounds of the settings: a window (and the lateness) at most a week,
//  a window at most this many steps (E) long.
#define ZMR_EVENT_WINDOW_MAX  (7 * 86400000ULL)
#define ZMR_EVENT_PANES_MAX   1000

//  The format named name ("epoch", "rfc3339", "clf"): its value, or -1.
int
    zmr_evtime_format (const char *name);

//  The format's name, for logs, the status and the journal's messages.
const char *
    zmr_evtime_format_name (int format);

//  The time of one line (line[0 .. len), without its '\n'). Returns true
//  with *ms (ms since the epoch, <= ZMR_EVTIME_MAX) and the token's place
//  [*tok, *tok + *tok_len) in the line; false when the line has no time
//  (then *tok and *tok_len are 0).
bool
    zmr_evtime_parse (int format, const char *line, size_t len, uint64_t *ms,
                      size_t *tok, size_t *tok_len);

//  What a line is, as zmr_evtime_scan calls it.
typedef enum {
    ZMR_LINE_ON_TIME = 0,     //  Counted in its pane's windows
    ZMR_LINE_LATE = 1,        //  Its time < the watermark: a side record
    ZMR_LINE_NO_TIME = 2      //  No parsable time: a side record
} zmr_line_kind_t;

typedef struct {
    const char *line;         //  The line, without its '\n'
    size_t len;
    size_t index;             //  Its number in the chunk, from 0 (blank
                              //  lines count too, so it names the line)
    int kind;                 //  zmr_line_kind_t
    uint64_t ms;              //  Its event time (ZMR_LINE_NO_TIME: 0)
    uint64_t pane;            //  ZMR_LINE_ON_TIME: ms / every * every
    size_t tok, tok_len;      //  The time's token in the line (0, 0: none)
} zmr_evline_t;

//  Called per record (blank lines are skipped). Returns 0 to go on, or
//  non-zero to stop the scan, which then returns that value.
typedef int (zmr_evline_fn) (const zmr_evline_t *line, void *arg);

//  Scans a chunk's text (data[0 .. len): whole lines; a last line without
//  '\n' is a line too) in order. *max is M before the chunk
//  (ZMR_EVTIME_UNKNOWN: none) and is M after it on return. Calls fn per
//  record (fn may be NULL). Returns 0, or what fn returned to stop.
int
    zmr_evtime_scan (int format, uint64_t lateness, uint64_t every,
                     const char *data, size_t len, uint64_t *max,
                     zmr_evline_fn *fn, void *arg);

//  The bucket of a chunk whose M before it is max (ZMR_EVTIME_UNKNOWN:
//  none): the smallest multiple s of every with s + window > max -
//  lateness (0 when none, or when max - lateness < window).
uint64_t
    zmr_evtime_bucket (uint64_t max, uint64_t lateness, uint64_t window, uint64_t every);

//  Side records: a late line or one without time, as the key of a pair of
//  value 1 (BATCH runs of kind 2, the reducers' side table, WINDOW parts):
//  '\n', bucket (8 bytes big-endian), chunk id (8 BE), the line's index in
//  the chunk (4 BE), 'L' (late) or 'N' (no time) ('l', 'n': the line was
//  longer than ZMR_SIDE_LINE_MAX and is cut there; late.tsv says so), the
//  event ms (8 BE, 0 for no time), then the line's bytes, at most
//  ZMR_SIDE_LINE_MAX of them. No word starts with
//  '\n', so in a WINDOW the side records are the keys that do; sorted
//  bytewise they are in input order within a bucket.
#define ZMR_SIDE_HEADER     30
#define ZMR_SIDE_LINE_MAX   65536
#define ZMR_SIDE_TABLE      (UINT64_MAX - 1)  //  A reducer's side table's id
#define ZMR_WINDOW_END      UINT64_MAX        //  CLOSE of what is left at the end

typedef struct {
    uint64_t bucket, chunk, ms;
    uint32_t index;
    int kind;                 //  ZMR_LINE_LATE or ZMR_LINE_NO_TIME
    const char *line;         //  A view into the key
    size_t len;
    bool cut;                 //  The line was longer than ZMR_SIDE_LINE_MAX
} zmr_side_t;

//  Writes the side key of line (from zmr_evtime_scan) in chunk into key,
//  which holds ZMR_SIDE_HEADER + ZMR_SIDE_LINE_MAX bytes. Returns the
//  key's length.
size_t
    zmr_evtime_side_key (char *key, uint64_t bucket, uint64_t chunk,
                         const zmr_evline_t *line);

//  Reads a side key. Returns false when key is not one (too short, no
//  '\n' first, a bad kind).
bool
    zmr_evtime_side_parse (const char *key, size_t len, zmr_side_t *side);

#endif
