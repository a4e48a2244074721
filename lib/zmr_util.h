/*  zmr_util: what every role's main and loop need besides the codec:
    diagnostics on stderr, the interrupt flag, parsing of numbers, sizes and
    endpoints from the command line, and sockets set up the zmr way. */
#ifndef ZMR_UTIL_H
#define ZMR_UTIL_H
#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Names the program in every diagnostic ("zmr-mapper"). Call first.
void
    zmr_log_init (const char *program);

//  Keeps freed memory for reuse instead of giving it back to the kernel at
//  once: batches, frames and tables come and go per chunk, and on the VMs
//  zmr is measured on every page fault of memory handed back and taken
//  again costs tens of microseconds. Blocks of 4 MiB and more are still
//  mapped apart (and returned when freed), and at most 32 MiB stays free
//  at the top of the heap. Call first, in every role.
void
    zmr_tune_malloc (void);

//  Names the command the usage hint points at ("zmr run"), if it is not
//  the program name.
void
    zmr_log_set_help (const char *command);

//  Sets how chatty the program is: 0 errors and warnings only, 1 info, 2 debug.
void
    zmr_log_set_level (int level);

//  Writes "program: message" as one line on stderr, at a level (0 always).
void
    zmr_log (int level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Logs a dropped frame with its reason, at most ~one line per second per
//  program (the rest is counted, and the count said on the next line).
void
    zmr_log_dropped (const char *socket, const char *why);

//  Usage error: writes "program: message" and "Try 'program --help'." and
//  exits 2.
void
    zmr_usage_error (const char *format, ...)
    __attribute__ ((format (printf, 1, 2), noreturn));

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

//  Installs SIGINT/SIGTERM handlers that only count the signal (a second
//  signal exits at once with 128+signal), ignores SIGPIPE, and turns off
//  CZMQ's own handler. Call before any socket is created.
void
    zmr_signals_install (void);

//  Number of SIGINT/SIGTERM received so far.
int
    zmr_interrupted (void);

//  The first SIGINT or SIGTERM received, or 0.
int
    zmr_stop_signal (void);

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

//  Creates a socket of type with a maximum inbound message size (bytes, at
//  least 4 KiB, the room CURVE's handshake needs, and at most the process's
//  --max-message; or -1 for outbound-only sockets) and linger (ms). Returns
//  NULL on failure.
zsock_t *
    zmr_socket (int type, int64_t max_message, int linger_ms);

//  Binds sock to endpoint, as a CURVE server if this process has keys
//  (zmr_curve.h); on failure logs "cannot bind ENDPOINT: reason" and
//  returns -1. On success copies the bound endpoint (with any ephemeral
//  port resolved) into bound (ZMR_ENDPOINT_MAX bytes) if not NULL.
int
    zmr_bind (zsock_t *sock, const char *endpoint, char *bound);

//  Connects sock to endpoint, as a CURVE client of the server with public
//  key key (NULL: the ventilator, "": a server without CURVE) if this
//  process has keys; logs and returns -1 on failure.
int
    zmr_connect (zsock_t *sock, const char *endpoint, const char *key);

//  "host:pid", this process's default worker name.
void
    zmr_default_name (char *out, size_t size);

//  Sets a random routing id on a DEALER, so the ventilator knows the same
//  worker across reconnects.
void
    zmr_set_random_identity (zsock_t *sock);

//  Fills out with len random bytes (the kernel's getrandom).
void
    zmr_random (void *out, size_t len);

//  Monotonic milliseconds.
int64_t
    zmr_now_ms (void);

//  Wall-clock milliseconds since the Unix epoch (CLOCK_REALTIME): stamps
//  that other processes, on this machine, compare with their own clock.
uint64_t
    zmr_wall_ms (void);

//  Prints "program version" on stdout (for --version).
void
    zmr_print_version (const char *program);

#endif
