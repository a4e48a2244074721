/*  zmr_option: command-line values as text: whole numbers, sizes and
    durations with their units, endpoints, and the process's message limit
    (--max-message) with the chunk size that fits under it. The parse_
    functions return -1 on text that does not parse; the option_ ones are
    for main: they exit 2 naming the option (and the config file's line it
    came from), the getopt convention. Built on zmr_log only. */
#ifndef ZMR_OPTION_H
#define ZMR_OPTION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Says that the command-line argument arg (a whole argv string, which must
//  live until exit) came from where, e.g. "FILE:LINE" of a --config file:
//  a usage error about its value (zmr_option_error) then names that place.
void
    zmr_option_origin (const char *arg, const char *where);

//  Usage error about an option's value text (an optarg, which points into
//  its argv string): as zmr_usage_error, the message led by the place the
//  value came from ("FILE:LINE: ") when it came from a config file.
void
    zmr_option_error (const char *text, const char *format, ...)
    __attribute__ ((format (printf, 2, 3), noreturn));

//  Parses a whole decimal number in [min, max] from text. Returns 0, or -1
//  (text is not such a number).
int
    zmr_parse_u64 (const char *text, uint64_t min, uint64_t max, uint64_t *value);

//  Like zmr_parse_u64, accepting a binary suffix K, M or G (KiB, MiB, GiB).
int
    zmr_parse_size (const char *text, uint64_t min, uint64_t max, uint64_t *value);

//  Parses a number option or exits 2 naming the option and the range.
uint64_t
    zmr_option_u64 (const char *option, const char *text, uint64_t min, uint64_t max);

//  Parses a duration: a whole number with a unit, ms, s, m or h (none:
//  seconds), into *ms within [min, max]. Returns 0 or -1.
int
    zmr_parse_duration (const char *text, uint64_t min, uint64_t max, uint64_t *ms);

//  Parses a duration option or exits 2 naming the option and the range.
uint64_t
    zmr_option_duration (const char *option, const char *text, uint64_t min, uint64_t max);

//  Parses a size option (with K/M/G) or exits 2 naming the option and range.
uint64_t
    zmr_option_size (const char *option, const char *text, uint64_t min, uint64_t max);

//  Checks that text is an endpoint zmr can use (tcp://, ipc://, inproc://
//  with something after the scheme) or exits 2 naming the option.
const char *
    zmr_option_endpoint (const char *option, const char *text);

//  Copies endpoint into out (size bytes), replacing a wildcard tcp host
//  ("*", "0.0.0.0", "::", "[::]") with host, when host is not NULL or empty.
//  Returns 0, or -1 if it does not fit.
int
    zmr_endpoint_with_host (const char *endpoint, const char *host,
                            char *out, size_t size);

//  Copies the host of a tcp:// endpoint into out; "" for other transports.
void
    zmr_endpoint_host (const char *endpoint, char *out, size_t size);

//  Sets the largest message this process takes on any socket (--max-message;
//  default ZMR_DEFAULT_MAX_MESSAGE). Call before sockets are made.
void
    zmr_set_max_message (uint64_t bytes);

//  The largest message this process takes.
uint64_t
    zmr_max_message (void);

//  The longest chunk (hence word) a job whose messages are at most
//  max_message bytes can send: its BATCH, at most twice it, must fit.
uint64_t
    zmr_max_chunk_for (uint64_t max_message);

//  The chunk size to use under this process's --max-message: size, or the
//  longest that fits when size was not given (set false); exits 2 naming
//  both options when a given size does not fit.
uint64_t
    zmr_option_chunk_fit (uint64_t size, bool set);

#endif
