/*  zmr_evtime: event time from each line, and the one lateness rule that
    the ventilator and the mappers share (zmr_evtime.h says what it is). */
#include "zmr_evtime.h"
#include <string.h>

static const char *s_names[] = { "ingest", "epoch", "rfc3339", "clf" };

int
zmr_evtime_format (const char *name)
{
    for (int i = ZMR_EVTIME_EPOCH; i <= ZMR_EVTIME_CLF; i++)
        if (strcmp (name, s_names[i]) == 0)
            return i;
    return -1;
}

const char *
zmr_evtime_format_name (int format)
{
    return format >= ZMR_EVTIME_NONE && format <= ZMR_EVTIME_CLF? s_names[format]: NULL;
}

//  The blanks that separate words (as the tokenizer's): space, \t \n \v \f \r.
static bool
s_blank (char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

//  n decimal digits at text into *value; false if any is not a digit.
static bool
s_digits (const char *text, size_t n, uint64_t *value)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        v = v * 10 + (uint64_t) (text[i] - '0');
    }
    *value = v;
    return true;
}

//  Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1..12), by the
//  civil calendar's 400-year cycle of eras starting in March.
static int64_t
s_days (int64_t y, uint64_t m, uint64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0? y: y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (int64_t) (m > 2? m - 3: m + 9) + 2) / 5 + (int64_t) d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool
s_leap (uint64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

//  Whether y-m-d hh:mm:ss is a real calendar time (a leap second's 60 is).
static bool
s_valid (uint64_t y, uint64_t mo, uint64_t d, uint64_t h, uint64_t mi, uint64_t s)
{
    static const uint8_t days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60)
        return false;
    return d <= (uint64_t) days[mo - 1] + (mo == 2 && s_leap (y));
}

//  ms since the epoch of a UTC calendar time minus an offset east of UTC
//  (seconds); false when before 1970 or after ZMR_EVTIME_MAX.
static bool
s_ms (uint64_t y, uint64_t mo, uint64_t d, uint64_t h, uint64_t mi, uint64_t s,
      uint64_t frac_ms, int64_t offset, uint64_t *ms)
{
    int64_t secs = s_days ((int64_t) y, mo, d) * 86400
                 + (int64_t) (h * 3600 + mi * 60 + s) - offset;
    if (secs < 0)
        return false;
    uint64_t value = (uint64_t) secs * 1000 + frac_ms;
    if (value > ZMR_EVTIME_MAX)
        return false;
    *ms = value;
    return true;
}

//  A fraction's digits after the '.', as ms (cut, not rounded): 1 .. 9
//  digits. *n is the digits read.
static bool
s_fraction (const char *text, size_t left, uint64_t *ms, size_t *n)
{
    size_t i = 0;
    uint64_t value = 0;
    while (i < left && text[i] >= '0' && text[i] <= '9') {
        if (i < 3)
            value = value * 10 + (uint64_t) (text[i] - '0');
        i++;
    }
    if (i < 1 || i > 9)
        return false;
    for (size_t k = i; k < 3; k++)
        value *= 10;
    *ms = value;
    *n = i;
    return true;
}

//  The first field of the line: [*start, *start + *len).
static void
s_first_field (const char *line, size_t len, size_t *start, size_t *flen)
{
    size_t i = 0;
    while (i < len && s_blank (line[i]))
        i++;
    size_t j = i;
    while (j < len && !s_blank (line[j]))
        j++;
    *start = i;
    *flen = j - i;
}

static bool
s_epoch (const char *f, size_t n, uint64_t *ms)
{
    size_t dot = 0;
    while (dot < n && f[dot] != '.')
        dot++;
    uint64_t secs, frac = 0;
    if (dot < 1 || dot > 12 || !s_digits (f, dot, &secs))
        return false;
    if (dot < n) {
        size_t digits;
        if (!s_fraction (f + dot + 1, n - dot - 1, &frac, &digits) || dot + 1 + digits != n)
            return false;
    }
    if (secs > ZMR_EVTIME_MAX / 1000)
        return false;
    *ms = secs * 1000 + frac;
    return *ms <= ZMR_EVTIME_MAX;
}

//  YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), the whole field.
static bool
s_rfc3339 (const char *f, size_t n, uint64_t *ms)
{
    uint64_t y, mo, d, h, mi, s, frac = 0, oh = 0, om = 0;
    if (n < 20 || f[4] != '-' || f[7] != '-' || (f[10] != 'T' && f[10] != 't')
    ||  f[13] != ':' || f[16] != ':'
    ||  !s_digits (f, 4, &y) || !s_digits (f + 5, 2, &mo) || !s_digits (f + 8, 2, &d)
    ||  !s_digits (f + 11, 2, &h) || !s_digits (f + 14, 2, &mi) || !s_digits (f + 17, 2, &s))
        return false;
    size_t i = 19;
    if (f[i] == '.') {
        size_t digits;
        if (!s_fraction (f + i + 1, n - i - 1, &frac, &digits))
            return false;
        i += 1 + digits;
    }
    int64_t offset = 0;
    if (i + 1 == n && (f[i] == 'Z' || f[i] == 'z'))
        offset = 0;
    else
    if (i + 6 == n && (f[i] == '+' || f[i] == '-') && f[i + 3] == ':'
    &&  s_digits (f + i + 1, 2, &oh) && s_digits (f + i + 4, 2, &om) && oh <= 23 && om <= 59)
        offset = (f[i] == '-'? -1: 1) * (int64_t) (oh * 3600 + om * 60);
    else
        return false;
    return s_valid (y, mo, d, h, mi, s) && s_ms (y, mo, d, h, mi, s, frac, offset, ms);
}

//  [DD/Mon/YYYY:HH:MM:SS +HHMM] at f (the '['), n bytes left in the line;
//  *tok_len is the bracket's length.
static bool
s_clf (const char *f, size_t n, uint64_t *ms, size_t *tok_len)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    uint64_t y, mo = 0, d, h, mi, s, oh, om;
    if (n < 28 || f[3] != '/' || f[7] != '/' || f[12] != ':' || f[15] != ':'
    ||  f[18] != ':' || f[21] != ' ' || (f[22] != '+' && f[22] != '-') || f[27] != ']'
    ||  !s_digits (f + 1, 2, &d) || !s_digits (f + 8, 4, &y) || !s_digits (f + 13, 2, &h)
    ||  !s_digits (f + 16, 2, &mi) || !s_digits (f + 19, 2, &s)
    ||  !s_digits (f + 23, 2, &oh) || !s_digits (f + 25, 2, &om) || oh > 23 || om > 59)
        return false;
    char name[3];
    for (int i = 0; i < 3; i++) {
        char c = f[4 + i];
        name[i] = c >= 'A' && c <= 'Z'? (char) (c - 'A' + 'a'): c;
    }
    for (uint64_t m = 0; m < 12; m++)
        if (memcmp (months + 3 * m, name, 3) == 0)
            mo = m + 1;
    if (!mo || !s_valid (y, mo, d, h, mi, s))
        return false;
    int64_t offset = (f[22] == '-'? -1: 1) * (int64_t) (oh * 3600 + om * 60);
    *tok_len = 28;
    return s_ms (y, mo, d, h, mi, s, 0, offset, ms);
}

bool
zmr_evtime_parse (int format, const char *line, size_t len, uint64_t *ms,
                  size_t *tok, size_t *tok_len)
{
    size_t start = 0, n = 0;
    bool ok = false;
    *tok = *tok_len = 0;
    if (format == ZMR_EVTIME_EPOCH || format == ZMR_EVTIME_RFC3339) {
        s_first_field (line, len, &start, &n);
        ok = n && (format == ZMR_EVTIME_EPOCH? s_epoch (line + start, n, ms)
                                            : s_rfc3339 (line + start, n, ms));
    }
    else
    if (format == ZMR_EVTIME_CLF) {
        const char *open = memchr (line, '[', len);
        if (open) {
            start = (size_t) (open - line);
            ok = s_clf (open, len - start, ms, &n);
        }
    }
    if (!ok)
        return false;
    *tok = start;
    *tok_len = n;
    return true;
}

int
zmr_evtime_scan (int format, uint64_t lateness, uint64_t every, const char *data,
                 size_t len, uint64_t *max, zmr_evline_fn *fn, void *arg)
{
    size_t index = 0;
    for (size_t at = 0; at < len; index++) {
        const char *nl = memchr (data + at, '\n', len - at);
        size_t end = nl? (size_t) (nl - data): len;
        zmr_evline_t line = { .line = data + at, .len = end - at, .index = index };
        at = end + 1;
        size_t i = 0;
        while (i < line.len && s_blank (line.line[i]))
            i++;
        if (i == line.len)
            continue;           //  Blank: no record
        if (!zmr_evtime_parse (format, line.line, line.len, &line.ms, &line.tok, &line.tok_len))
            line.kind = ZMR_LINE_NO_TIME;
        else {
            //  The watermark is M - lateness, none below 0
            bool late = *max != ZMR_EVTIME_UNKNOWN && *max >= lateness
                     && line.ms < *max - lateness;
            line.kind = late? ZMR_LINE_LATE: ZMR_LINE_ON_TIME;
            if (!late)
                line.pane = line.ms / every * every;
            if (*max == ZMR_EVTIME_UNKNOWN || line.ms > *max)
                *max = line.ms;
        }
        int rc = fn? fn (&line, arg): 0;
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t
zmr_evtime_bucket (uint64_t max, uint64_t lateness, uint64_t window, uint64_t every)
{
    if (max == ZMR_EVTIME_UNKNOWN || max < lateness || max - lateness < window)
        return 0;
    return ((max - lateness - window) / every + 1) * every;
}

static void
s_put (char *at, uint64_t value, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, value >>= 8)
        at[i] = (char) (value & 0xFF);
}

static uint64_t
s_get (const char *at, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value = value << 8 | (uint8_t) at[i];
    return value;
}

size_t
zmr_evtime_side_key (char *key, uint64_t bucket, uint64_t chunk, const zmr_evline_t *line)
{
    bool cut = line->len > ZMR_SIDE_LINE_MAX;
    size_t n = cut? ZMR_SIDE_LINE_MAX: line->len;
    key[0] = '\n';
    s_put (key + 1, bucket, 8);
    s_put (key + 9, chunk, 8);
    s_put (key + 17, (uint64_t) line->index, 4);
    key[21] = line->kind == ZMR_LINE_LATE? (cut? 'l': 'L'): (cut? 'n': 'N');
    s_put (key + 22, line->kind == ZMR_LINE_LATE? line->ms: 0, 8);
    memcpy (key + ZMR_SIDE_HEADER, line->line, n);
    return ZMR_SIDE_HEADER + n;
}

bool
zmr_evtime_side_parse (const char *key, size_t len, zmr_side_t *side)
{
    if (len < ZMR_SIDE_HEADER || key[0] != '\n' || len > ZMR_SIDE_HEADER + ZMR_SIDE_LINE_MAX)
        return false;
    char kind = key[21];
    if (kind != 'L' && kind != 'N' && kind != 'l' && kind != 'n')
        return false;
    side->bucket = s_get (key + 1, 8);
    side->chunk = s_get (key + 9, 8);
    side->index = (uint32_t) s_get (key + 17, 4);
    side->kind = kind == 'L' || kind == 'l'? ZMR_LINE_LATE: ZMR_LINE_NO_TIME;
    side->cut = kind == 'l' || kind == 'n';
    side->ms = s_get (key + 22, 8);
    side->line = key + ZMR_SIDE_HEADER;
    side->len = len - ZMR_SIDE_HEADER;
    return true;
}
