/*  zmr_log: one line per diagnostic, on stderr. */
#include "zmr.h"
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

//  Global because the process's stderr is: every module and every thread
//  (the ZAP handler's actor logs too) writes under the one name main set,
//  at the one level main set; passing a logger through every call would
//  change every signature for the same values. Set in main before any
//  thread starts, read only afterwards (but for zmr_log_dropped's counter,
//  kept on the thread that receives frames).
static struct {
    const char *program;         //  "zmr-mapper": leads every line
    const char *help_command;    //  "zmr run": what a usage error points at
    int level;                   //  0 errors, 1 info, 2 debug
    int64_t dropped_at;          //  zmr_log_dropped: the last line said
    uint64_t dropped_unsaid;     //  ... and drops since, not said
} s_log = { "zmr", NULL, 0, 0, 0 };

void
zmr_log_init (const char *program)
{
    s_log.program = program;
}

void
zmr_log_set_help (const char *command)
{
    s_log.help_command = command;
}

void
zmr_log_set_level (int level)
{
    s_log.level = level;
}

static void
s_vlog (const char *format, va_list args)
{
    char line[1024];
    vsnprintf (line, sizeof line, format, args);
    //  One write per line, so lines of several processes never interleave.
    char out[1100];
    int n = snprintf (out, sizeof out, "%s: %s\n", s_log.program, line);
    if (n > (int) sizeof out - 1)
        n = (int) sizeof out - 1;
    if (write (STDERR_FILENO, out, (size_t) n) < 0) {
        //  Nothing sensible is left to do when stderr is gone.
    }
}

void
zmr_log (int level, const char *format, ...)
{
    if (level > s_log.level)
        return;
    va_list args;
    va_start (args, format);
    s_vlog (format, args);
    va_end (args);
}

void
zmr_log_dropped (const char *socket, const char *why)
{
    int64_t now = zmr_now_ms ();
    if (s_log.dropped_at && now - s_log.dropped_at < 1000) {
        s_log.dropped_unsaid++;
        return;
    }
    if (s_log.dropped_unsaid)
        zmr_log (0, "dropped a frame on %s: %s (and %llu more since the last report)",
                 socket, why, (unsigned long long) s_log.dropped_unsaid);
    else
        zmr_log (0, "dropped a frame on %s: %s", socket, why);
    s_log.dropped_at = now;
    s_log.dropped_unsaid = 0;
}

void
zmr_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vlog (format, args);
    va_end (args);
    fprintf (stderr, "Try '%s --help' for more information.\n",
             s_log.help_command? s_log.help_command: s_log.program);
    exit (2);
}

