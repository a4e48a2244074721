/*  zmr_util: the process's system-facing helpers. The interrupt counter
    is global because a signal handler can reach nothing else. */
#include "zmr.h"
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static volatile sig_atomic_t s_signals = 0;
static volatile sig_atomic_t s_first_signal = 0;

void
zmr_tune_malloc (void)
{
    //  Setting them fixes both: glibc no longer moves them on its own.
    mallopt (M_MMAP_THRESHOLD, 4 << 20);
    mallopt (M_TRIM_THRESHOLD, 32 << 20);
}

static void
s_on_signal (int signum)
{
    if (s_signals > 0)
        _exit (128 + signum);
    s_signals = s_signals + 1;
    s_first_signal = signum;
}

void
zmr_signals_install (void)
{
    zsys_handler_set (NULL);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    //  No SA_RESTART: a blocking call returns EINTR and the loop looks.
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
}

int
zmr_interrupted (void)
{
    return s_signals;
}

int
zmr_stop_signal (void)
{
    return s_first_signal;
}

void
zmr_default_name (char *out, size_t size)
{
    char host[64] = "localhost";
    gethostname (host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    snprintf (out, size, "%s:%d", host, (int) getpid ());
}

void
zmr_random (void *out, size_t len)
{
    uint8_t *p = out;
    while (len > 0) {
        ssize_t n = getrandom (p, len, 0);
        if (n <= 0) {
            //  No entropy source: fall back to a clock-and-pid mix.
            uint64_t x = (uint64_t) zclock_usecs () ^ ((uint64_t) getpid () << 32);
            for (; len > 0; len--, p++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                *p = (uint8_t) (x >> 56);
            }
            return;
        }
        p += n;
        len -= (size_t) n;
    }
}

int64_t
zmr_now_ms (void)
{
    return zclock_mono ();
}

uint64_t
zmr_wall_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (uint64_t) now.tv_sec * 1000 + (uint64_t) now.tv_nsec / 1000000;
}

void
zmr_print_version (const char *program)
{
    printf ("%s %s (libzmq %d.%d.%d, CZMQ %d.%d.%d)\n", program, ZMR_VERSION,
            ZMQ_VERSION_MAJOR, ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH,
            CZMQ_VERSION_MAJOR, CZMQ_VERSION_MINOR, CZMQ_VERSION_PATCH);
}
