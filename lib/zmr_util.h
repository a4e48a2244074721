/*  zmr_util: what every process needs from its system and nothing of zmr's:
    the interrupt flag, clocks, random bytes, its default worker name, its
    version line, malloc tuning. The bottom layer: it calls no other zmr
    module. Logging is zmr_log, command-line values zmr_option, sockets
    zmr_sock (all in zmr.h). */
#ifndef ZMR_UTIL_H
#define ZMR_UTIL_H
#include <stddef.h>
#include <stdint.h>

//  Keeps freed memory for reuse instead of giving it back to the kernel at
//  once: batches, frames and tables come and go per chunk, and on the VMs
//  zmr is measured on every page fault of memory handed back and taken
//  again costs tens of microseconds. Blocks of 4 MiB and more are still
//  mapped apart (and returned when freed), and at most 32 MiB stays free
//  at the top of the heap. Call first, in every role.
void
    zmr_tune_malloc (void);

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

//  "host:pid", this process's default worker name.
void
    zmr_default_name (char *out, size_t size);

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
