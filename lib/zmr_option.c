/*  zmr_option: parsing command-line values, and the usage errors about
    them (exit 2: this and zmr_config are the command-line layer, the one
    place outside main allowed to end the process). */
#include "zmr.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>

//  Where arguments came from: the config file's, by zmr_option_origin. A
//  few hundred at most (a config file holds at most 256 options).
typedef struct {
    const char *arg;             //  The argv string (not owned)
    char *where;                 //  "FILE:LINE" (owned)
} s_origin_t;

//  Global as argv is: the process's command line, told once by
//  zmr_config_apply, asked by any option's parse until exit.
static s_origin_t *s_origins;
static size_t s_norigins;

static void
s_origins_free (void)
{
    for (size_t i = 0; i < s_norigins; i++)
        free (s_origins[i].where);
    free (s_origins);
    s_origins = NULL;
    s_norigins = 0;
}

void
zmr_option_origin (const char *arg, const char *where)
{
    s_origin_t *more = realloc (s_origins, (s_norigins + 1) * sizeof *more);
    char *copy = strdup (where);
    if (!more || !copy) {
        //  Out of memory: the error will only not say where.
        free (copy);
        if (more)
            s_origins = more;
        return;
    }
    if (!s_origins)
        atexit (s_origins_free);
    s_origins = more;
    s_origins[s_norigins].arg = arg;
    s_origins[s_norigins].where = copy;
    s_norigins++;
}

//  The place text (a pointer into an argv string) came from, or NULL.
static const char *
s_origin_of (const char *text)
{
    uintptr_t at = (uintptr_t) text;
    for (size_t i = 0; text && i < s_norigins; i++) {
        uintptr_t start = (uintptr_t) s_origins[i].arg;
        if (at >= start && at <= start + strlen (s_origins[i].arg))
            return s_origins[i].where;
    }
    return NULL;
}

void
zmr_option_error (const char *text, const char *format, ...)
{
    char message[900];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    const char *where = s_origin_of (text);
    if (where)
        zmr_usage_error ("%s: %s", where, message);
    zmr_usage_error ("%s", message);
}

//  The whole number text starts with (no sign, no blank), and where it
//  ends. Returns 0 or -1.
static int
s_leading_u64 (const char *text, unsigned long long *v, char **end)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    *v = strtoull (text, end, 10);
    return errno? -1: 0;
}

int
zmr_parse_u64 (const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    char *end;
    unsigned long long v;
    if (s_leading_u64 (text, &v, &end) || *end || v < min || v > max)
        return -1;
    *value = v;
    return 0;
}

int
zmr_parse_size (const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    char *end;
    unsigned long long v;
    if (s_leading_u64 (text, &v, &end))
        return -1;
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else
    if (*end == 'M' || *end == 'm')
        shift = 20;
    else
    if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift) {
        end++;
        if (*end == 'i' && end[1] == 'B')
            end += 2;
        else
        if (*end == 'B')
            end++;
    }
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    v <<= shift;
    if (v < min || v > max)
        return -1;
    *value = v;
    return 0;
}

uint64_t
zmr_option_u64 (const char *option, const char *text, uint64_t min, uint64_t max)
{
    uint64_t value;
    if (zmr_parse_u64 (text, min, max, &value))
        zmr_option_error (text, "option %s: expected a whole number from %llu to %llu, "
                          "got '%s'", option, (unsigned long long) min,
                          (unsigned long long) max, text);
    return value;
}

uint64_t
zmr_option_size (const char *option, const char *text, uint64_t min, uint64_t max)
{
    uint64_t value;
    if (zmr_parse_size (text, min, max, &value))
        zmr_option_error (text, "option %s: expected a size from %llu to %llu bytes "
                          "(suffix K, M or G allowed), got '%s'", option,
                          (unsigned long long) min, (unsigned long long) max, text);
    return value;
}

int
zmr_parse_duration (const char *text, uint64_t min, uint64_t max, uint64_t *ms)
{
    char *end;
    unsigned long long v;
    if (s_leading_u64 (text, &v, &end))
        return -1;
    uint64_t unit = !strcmp (end, "ms")? 1
                  : !strcmp (end, "s") || !*end? 1000
                  : !strcmp (end, "m")? 60000
                  : !strcmp (end, "h")? 3600000: 0;
    if (!unit || v > UINT64_MAX / unit)
        return -1;
    v *= unit;
    if (v < min || v > max)
        return -1;
    *ms = v;
    return 0;
}

uint64_t
zmr_option_duration (const char *option, const char *text, uint64_t min, uint64_t max)
{
    uint64_t ms;
    if (zmr_parse_duration (text, min, max, &ms))
        zmr_option_error (text, "option %s: expected a duration from %llu ms to %llu ms "
                          "(a number with ms, s, m or h; none: seconds), got '%s'", option,
                          (unsigned long long) min, (unsigned long long) max, text);
    return ms;
}

const char *
zmr_option_endpoint (const char *option, const char *text)
{
    const char *schemes[] = { "tcp://", "ipc://", "inproc://" };
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen (schemes[i]);
        if (strncmp (text, schemes[i], n) == 0 && text[n]
        &&  strlen (text) < ZMR_ENDPOINT_MAX)
            return text;
    }
    zmr_option_error (text, "option %s: expected an endpoint tcp://HOST:PORT, ipc://PATH "
                      "or inproc://NAME, got '%s'", option, text);
}

//  Splits a tcp endpoint into the start of its host and the start of ":port".
static bool
s_tcp_host (const char *endpoint, const char **host, const char **port)
{
    if (strncmp (endpoint, "tcp://", 6))
        return false;
    *host = endpoint + 6;
    const char *colon = strrchr (*host, ':');
    if (!colon)
        return false;
    *port = colon;
    return true;
}

void
zmr_endpoint_host (const char *endpoint, char *out, size_t size)
{
    const char *host, *port;
    out[0] = 0;
    if (s_tcp_host (endpoint, &host, &port))
        snprintf (out, size, "%.*s", (int) (port - host), host);
}

int
zmr_endpoint_with_host (const char *endpoint, const char *host, char *out,
                        size_t size)
{
    const char *start, *port;
    int n;
    if (host && *host && s_tcp_host (endpoint, &start, &port)) {
        size_t len = (size_t) (port - start);
        bool wildcard = (len == 1 && *start == '*')
                     || (len == 7 && memcmp (start, "0.0.0.0", 7) == 0)
                     || (len == 2 && memcmp (start, "::", 2) == 0)
                     || (len == 4 && memcmp (start, "[::]", 4) == 0);
        if (wildcard) {
            bool v6 = strchr (host, ':') && host[0] != '[';
            n = snprintf (out, size, "tcp://%s%s%s%s", v6? "[": "", host,
                          v6? "]": "", port);
            return n < 0 || (size_t) n >= size? -1: 0;
        }
    }
    n = snprintf (out, size, "%s", endpoint);
    return n < 0 || (size_t) n >= size? -1: 0;
}

//  Global because it is the process's limit: main sets it from
//  --max-message before any socket exists, and every socket made later,
//  in any module, is held to it.
static uint64_t s_max_message = ZMR_DEFAULT_MAX_MESSAGE;

void
zmr_set_max_message (uint64_t bytes)
{
    s_max_message = bytes;
}

uint64_t
zmr_max_message (void)
{
    return s_max_message;
}

uint64_t
zmr_max_chunk_for (uint64_t max_message)
{
    uint64_t chunk = (max_message - 4096) / 2;
    return chunk < ZMR_MAX_CHUNK? chunk: ZMR_MAX_CHUNK;
}

uint64_t
zmr_option_chunk_fit (uint64_t size, bool set)
{
    uint64_t max_chunk = zmr_max_chunk_for (s_max_message);
    if (set && size > max_chunk)
        zmr_usage_error ("--chunk-size %llu does not fit --max-message %llu: at most %llu",
                         (unsigned long long) size, (unsigned long long) s_max_message,
                         (unsigned long long) max_chunk);
    return size < max_chunk? size: max_chunk;
}

