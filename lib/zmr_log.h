/*  zmr_log: diagnostics on stderr, one line per message, each led by the
    program's name ("zmr-mapper: ..."), written with one write(2) so that
    the lines of several processes on one terminal never interleave.
    The layer every other one logs through: it calls nothing of zmr's but
    the clock (zmr_util). See docs/architecture.md, "Layers". */
#ifndef ZMR_LOG_H
#define ZMR_LOG_H

//  Names the program in every diagnostic ("zmr-mapper"). Call first.
void
    zmr_log_init (const char *program);

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

#endif
