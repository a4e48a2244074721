/*  zmr_util: diagnostics, signals, option parsing and socket setup shared by
    the roles. The interrupt counter is the one piece of global state. */
#include "zmr.h"
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *s_program = "zmr";
static const char *s_help_command = NULL;
static int s_level = 0;
static volatile sig_atomic_t s_signals = 0;
static volatile sig_atomic_t s_first_signal = 0;

void
zmr_log_init (const char *program)
{
    s_program = program;
}

void
zmr_tune_malloc (void)
{
    //  Setting them fixes both: glibc no longer moves them on its own.
    mallopt (M_MMAP_THRESHOLD, 4 << 20);
    mallopt (M_TRIM_THRESHOLD, 32 << 20);
}

void
zmr_log_set_help (const char *command)
{
    s_help_command = command;
}

void
zmr_log_set_level (int level)
{
    s_level = level;
}

static void
s_vlog (const char *format, va_list args)
{
    char line[1024];
    vsnprintf (line, sizeof line, format, args);
    //  One write per line, so lines of several processes never interleave.
    char out[1100];
    int n = snprintf (out, sizeof out, "%s: %s\n", s_program, line);
    if (n > (int) sizeof out - 1)
        n = (int) sizeof out - 1;
    if (write (STDERR_FILENO, out, (size_t) n) < 0) {
        //  Nothing sensible is left to do when stderr is gone.
    }
}

void
zmr_log (int level, const char *format, ...)
{
    if (level > s_level)
        return;
    va_list args;
    va_start (args, format);
    s_vlog (format, args);
    va_end (args);
}

void
zmr_log_dropped (const char *socket, const char *why)
{
    static int64_t last = 0;
    static uint64_t unsaid = 0;
    int64_t now = zmr_now_ms ();
    if (last && now - last < 1000) {
        unsaid++;
        return;
    }
    if (unsaid)
        zmr_log (0, "dropped a frame on %s: %s (and %llu more since the last report)",
                 socket, why, (unsigned long long) unsaid);
    else
        zmr_log (0, "dropped a frame on %s: %s", socket, why);
    last = now;
    unsaid = 0;
}

void
zmr_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vlog (format, args);
    va_end (args);
    fprintf (stderr, "Try '%s --help' for more information.\n",
             s_help_command? s_help_command: s_program);
    exit (2);
}

//  Where arguments came from: the config file's, by zmr_option_origin. A
//  few hundred at most (a config file holds at most 256 options).
typedef struct {
    const char *arg;             //  The argv string (not owned)
    char *where;                 //  "FILE:LINE" (owned)
} s_origin_t;

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

zsock_t *
zmr_socket (int type, int64_t max_message, int linger_ms)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    zsock_set_linger (sock, linger_ms);
    //  The limit counts the handshake's commands too: CURVE's HELLO is 200
    //  bytes and its INITIATE carries metadata. Below 4 KiB a socket that
    //  takes only tiny messages (the status XPUB's subscriptions) would
    //  refuse every CURVE peer.
    if (max_message > 0 && (uint64_t) max_message > s_max_message)
        max_message = (int64_t) s_max_message;
    if (max_message > 0 && max_message < 4096)
        max_message = 4096;
    if (max_message > 0)
        zsock_set_maxmsgsize (sock, (int) max_message);
    return sock;
}

//  Whether a process listens on the ipc:// path of endpoint. libzmq
//  removes the socket file of an ipc endpoint before it binds, which would
//  silently take the endpoint from a live process: look first.
static bool
s_ipc_in_use (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) || endpoint[6] == '@')
        return false;
    struct sockaddr_un addr;
    memset (&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen (endpoint + 6) >= sizeof addr.sun_path)
        return false;
    strcpy (addr.sun_path, endpoint + 6);
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool live = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return live;
}

//  The socket files this process bound: libzmq (4.3) does not remove an
//  ipc:// endpoint's file when the socket closes, so a role that exits
//  removes its own at exit, if the file there is still the one it made.
#define S_IPC_FILES 8
static struct { char path[108]; dev_t dev; ino_t ino; } s_ipc_files[S_IPC_FILES];
static int s_nipc_files;

static void
s_ipc_files_remove (void)
{
    for (int i = 0; i < s_nipc_files; i++) {
        struct stat st;
        if (lstat (s_ipc_files[i].path, &st) == 0 && S_ISSOCK (st.st_mode)
        &&  st.st_dev == s_ipc_files[i].dev && st.st_ino == s_ipc_files[i].ino)
            unlink (s_ipc_files[i].path);
    }
}

static void
s_ipc_file_made (const char *endpoint)
{
    struct stat st;
    if (strncmp (endpoint, "ipc://", 6) || endpoint[6] == '@' || s_nipc_files == S_IPC_FILES
    ||  strlen (endpoint + 6) >= sizeof s_ipc_files[0].path || lstat (endpoint + 6, &st))
        return;
    if (s_nipc_files == 0)
        atexit (s_ipc_files_remove);
    strcpy (s_ipc_files[s_nipc_files].path, endpoint + 6);
    s_ipc_files[s_nipc_files].dev = st.st_dev;
    s_ipc_files[s_nipc_files].ino = st.st_ino;
    s_nipc_files++;
}

int
zmr_bind (zsock_t *sock, const char *endpoint, char *bound)
{
    if (s_ipc_in_use (endpoint)) {
        zmr_log (0, "cannot bind %s: Address already in use", endpoint);
        return -1;
    }
    if (zmr_curve_server (sock, endpoint))
        return -1;
    if (zsock_bind (sock, "%s", endpoint) == -1) {
        zmr_log (0, "cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    s_ipc_file_made (endpoint);
    if (bound) {
        size_t size = ZMR_ENDPOINT_MAX;
        if (zmq_getsockopt (zsock_resolve (sock), ZMQ_LAST_ENDPOINT, bound, &size))
            snprintf (bound, ZMR_ENDPOINT_MAX, "%s", endpoint);
    }
    return 0;
}

int
zmr_connect (zsock_t *sock, const char *endpoint, const char *key)
{
    if (zmr_curve_client (sock, endpoint, key))
        return -1;
    //  Roles start together and a peer may not have bound yet: try again
    //  soon (1 ms, not libzmq's 100), doubling up to a second. At 10 ms
    //  the sink, started right after the ventilator, connected before its
    //  bind and joined 7-14 ms after the rest, and the job waited for it.
    zsock_set_reconnect_ivl (sock, 1);
    zsock_set_reconnect_ivl_max (sock, 1000);
    if (zsock_connect (sock, "%s", endpoint) == -1) {
        zmr_log (0, "cannot connect to %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
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
zmr_set_random_identity (zsock_t *sock)
{
    //  A leading zero byte is reserved by ZeroMQ for its own ids.
    uint8_t id[12];
    id[0] = 'z';
    uint32_t pid = (uint32_t) getpid ();
    memcpy (id + 1, &pid, 4);
    zmr_random (id + 5, sizeof id - 5);
    zmq_setsockopt (zsock_resolve (sock), ZMQ_ROUTING_ID, id, sizeof id);
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
