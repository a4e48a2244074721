/*  harness: processes, references, result checks and status lines for the
    integration tests (see harness.h). Plain C and POSIX; no libzmr. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define S_MAX_CHILDREN 512

typedef struct {
    pid_t pid;                  //  As forked
    bool reaped;                //  Waited for
    int status;                 //  Its wait status once reaped
    char name[48];              //  Program name, for messages
} s_child_t;

static char s_dir[64];                      //  The test's directory, or ""
static s_child_t s_children[S_MAX_CHILDREN];
static size_t s_nchildren;
static void **s_allocs;                     //  Freed at teardown
static size_t s_nallocs, s_allocs_size;
static int s_seq;                           //  For unique file names

static struct {
    pthread_t thread;
    bool started;
    atomic_bool stop;
    char *fifo;
    char *data;                 //  The source's bytes (owned)
    size_t len;
    size_t piece;
    int pause_ms;
    uint64_t max_bytes;
    _Atomic uint64_t limit;     //  No byte written past it until it moves
    _Atomic uint64_t written;   //  Bytes written so far
    atomic_bool finish;         //  Close at the end of this repetition
} s_feed;

//  ---------------------------------------------------------------------
//  Small things

int64_t
h_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
h_free_port (void)
{
    int low = 32768;
    FILE *range = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (range) {
        if (fscanf (range, "%d", &low) != 1)
            low = 32768;
        fclose (range);
    }
    cr_assert_gt (low, 2048, "the ephemeral port range starts at %d", low);
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint32_t pick;
        cr_assert_eq (getrandom (&pick, sizeof pick, 0), (ssize_t) sizeof pick);
        int port = 1024 + (int) (pick % (uint32_t) (low - 1024));
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert (fd >= 0);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        int rc = bind (fd, (struct sockaddr *) &addr, sizeof addr);
        close (fd);
        if (rc == 0)
            return port;
    }
    cr_assert_fail ("no free loopback port below %d", low);
    return 0;
}

void
h_sleep_ms (int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
        ;
}

static void *
s_keep (void *ptr)
{
    cr_assert_not_null (ptr, "out of memory");
    if (s_nallocs == s_allocs_size) {
        s_allocs_size = s_allocs_size? s_allocs_size * 2: 64;
        s_allocs = realloc (s_allocs, s_allocs_size * sizeof *s_allocs);
        cr_assert_not_null (s_allocs, "out of memory");
    }
    s_allocs[s_nallocs++] = ptr;
    return ptr;
}

//  Replaces a tracked pointer after realloc.
static void
s_retrack (void *old, void *new)
{
    for (size_t i = 0; i < s_nallocs; i++)
        if (s_allocs[i] == old) {
            s_allocs[i] = new;
            return;
        }
    s_keep (new);
}

void *
h_alloc (size_t size)
{
    return s_keep (calloc (1, size? size: 1));
}

void
h_release (void *ptr)
{
    if (!ptr)
        return;
    for (size_t i = 0; i < s_nallocs; i++)
        if (s_allocs[i] == ptr)
            s_allocs[i] = NULL;
    free (ptr);
}

char *
h_strf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *out = NULL;
    int rc = vasprintf (&out, format, args);
    va_end (args);
    cr_assert (rc >= 0, "out of memory");
    return s_keep (out);
}

const char *
h_dir (void)
{
    return s_dir;
}

char *
h_path (const char *name)
{
    return h_strf ("%s/%s", s_dir, name);
}

char *
h_write (const char *name, const void *data, size_t len)
{
    char *path = h_path (name);
    FILE *file = fopen (path, "wb");
    cr_assert_not_null (file, "cannot create %s: %s", path, strerror (errno));
    if (len)
        cr_assert_eq (fwrite (data, 1, len, file), len, "cannot write %s", path);
    cr_assert_eq (fclose (file), 0, "cannot write %s", path);
    return path;
}

//  Reads a whole file, NUL-terminated; the caller frees. NULL on failure.
static char *
s_read_file (const char *path, size_t *len)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t size = 0, cap = 1 << 16;
    char *buf = malloc (cap + 1);
    while (buf) {
        if (size == cap) {
            cap *= 2;
            char *bigger = realloc (buf, cap + 1);
            if (!bigger) {
                free (buf);
                buf = NULL;
                break;
            }
            buf = bigger;
        }
        ssize_t got = read (fd, buf + size, cap - size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            free (buf);
            buf = NULL;
            break;
        }
        if (got == 0)
            break;
        size += (size_t) got;
    }
    close (fd);
    if (buf) {
        buf[size] = 0;
        *len = size;
    }
    return buf;
}

char *
h_read (const char *path, size_t *len)
{
    char *text = s_read_file (path, len);
    return text? s_keep (text): NULL;
}

int
h_count_lines (const char *path)
{
    size_t len;
    char *text = s_read_file (path, &len);
    if (!text)
        return -1;
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n')
            lines++;
    if (len && text[len - 1] != '\n')
        lines++;
    free (text);
    return lines;
}

//  ---------------------------------------------------------------------
//  Lifecycle

void
h_setup (void)
{
    s_nchildren = 0;
    s_nallocs = 0;
    s_seq = 0;
    memset (&s_feed, 0, sizeof s_feed);
    strcpy (s_dir, "/tmp/zmrt-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir), "cannot create a test directory: %s",
                        strerror (errno));
    //  Orphans of our children come back to us, so that nothing escapes.
    prctl (PR_SET_CHILD_SUBREAPER, 1);
    signal (SIGPIPE, SIG_IGN);
}

static int
s_remove (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info;
    (void) flag;
    (void) ftw;
    remove (path);
    return 0;
}

//  The first file of the test directory where a child reported a sanitizer
//  error (ASan, LSan, UBSan): a role that died of one is restarted by
//  zmr run and the job may still end exact, so the test would not see it.
static char s_sanitized[4096];

static int
s_scan_sanitizer (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) ftw;
    if (flag != FTW_F || !S_ISREG (info->st_mode) || info->st_size > (64 << 20)
    ||  s_sanitized[0])
        return 0;
    static const char *const reports[] = {
        "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: "
    };
    size_t len;
    char *text = s_read_file (path, &len);
    for (size_t i = 0; text && i < 3 && !s_sanitized[0]; i++)
        if (memmem (text, len, reports[i], strlen (reports[i])))
            snprintf (s_sanitized, sizeof s_sanitized, "%s (%s)", path, reports[i]);
    free (text);
    return 0;
}

static s_child_t *
s_child (pid_t pid)
{
    for (size_t i = 0; i < s_nchildren; i++)
        if (s_children[i].pid == pid)
            return &s_children[i];
    return NULL;
}

//  Notes a reaped pid in the list (it may be an orphan we adopted).
static void
s_reaped (pid_t pid, int status)
{
    s_child_t *child = s_child (pid);
    if (child) {
        child->reaped = true;
        child->status = status;
    }
}

void
h_teardown (void)
{
    h_feed_stop ();
    //  Kill every child, then whatever it left behind: orphans come back
    //  to us (child subreaper), so killing our children until none is
    //  left gets them all.
    int64_t deadline = h_now_ms () + 10000;
    while (h_now_ms () < deadline) {
        for (size_t i = 0; i < s_nchildren; i++)
            if (!s_children[i].reaped) {
                kill (s_children[i].pid, SIGCONT);
                kill (s_children[i].pid, SIGKILL);
            }
        pid_t others[256];
        size_t n = h_children_of (getpid (), others, 256);
        for (size_t i = 0; i < n; i++)
            kill (others[i], SIGKILL);
        int status;
        pid_t pid;
        while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
            s_reaped (pid, status);
        if (pid == -1 && errno == ECHILD)
            break;
        h_sleep_ms (5);
    }
    s_sanitized[0] = 0;
    if (s_dir[0])
        nftw (s_dir, s_scan_sanitizer, 16, FTW_PHYS);
    bool sanitized = s_sanitized[0] != 0;
    if (sanitized)
        fprintf (stderr, "a process of this test reported a sanitizer error: %s\n",
                 s_sanitized);
    if (s_dir[0]) {
        const char *keep = getenv ("ZMR_TEST_KEEP");
        if (keep && !strcmp (keep, "1"))
            fprintf (stderr, "test directory kept: %s\n", s_dir);
        else
            nftw (s_dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
        s_dir[0] = 0;
    }
    for (size_t i = 0; i < s_nallocs; i++)
        free (s_allocs[i]);
    free (s_allocs);
    s_allocs = NULL;
    s_nallocs = s_allocs_size = 0;
    s_nchildren = 0;
    //  After the cleanup, so that a failure here leaves nothing behind.
    //  Criterion does not fail a test on an assertion in its fini: the
    //  worker dies instead, which it reports as a crash of this test.
    if (sanitized)
        abort ();
}

//  ---------------------------------------------------------------------
//  Processes

pid_t
h_spawnv (const char *program, const char *const *args, const h_io_t *io)
{
    static const h_io_t no_io = { NULL, NULL, NULL, NULL };
    if (!io)
        io = &no_io;
    cr_assert (s_nchildren < S_MAX_CHILDREN, "too many children");
    const char *base = strrchr (program, '/');
    base = base? base + 1: program;
    char *path = strchr (program, '/')? h_strf ("%s", program)
                                      : h_strf ("%s/%s", ZMR_BIN_DIR, program);
    int seq = ++s_seq;
    const char *out = io->stdout_path? io->stdout_path: h_strf ("%s/log-%03d-%s.out", s_dir, seq, base);
    const char *err = io->stderr_path? io->stderr_path: h_strf ("%s/log-%03d-%s.err", s_dir, seq, base);
    const char *in = io->stdin_path? io->stdin_path: "/dev/null";

    //  Everything the child needs is built before fork: after it, only
    //  async-signal-safe calls.
    size_t nargs = 0;
    while (args && args[nargs])
        nargs++;
    char **argv = s_keep (calloc (nargs + 2, sizeof *argv));
    argv[0] = (char *) base;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = (char *) args[i];
    size_t nenv = 0, nextra = 0;
    while (environ[nenv])
        nenv++;
    while (io->env && io->env[nextra])
        nextra++;
    char **envp = s_keep (calloc (nenv + nextra + 1, sizeof *envp));
    size_t e = 0;
    for (size_t i = 0; i < nenv; i++) {
        bool replaced = false;
        for (size_t j = 0; j < nextra; j++) {
            const char *eq = strchr (io->env[j], '=');
            size_t name = eq? (size_t) (eq - io->env[j]) + 1: strlen (io->env[j]);
            if (!strncmp (environ[i], io->env[j], name))
                replaced = true;
        }
        if (!replaced)
            envp[e++] = environ[i];
    }
    for (size_t j = 0; j < nextra; j++)
        envp[e++] = (char *) io->env[j];
    envp[e] = NULL;

    pid_t parent = getpid ();
    pid_t pid = fork ();
    cr_assert (pid >= 0, "fork: %s", strerror (errno));
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        signal (SIGPIPE, SIG_DFL);
        signal (SIGINT, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        signal (SIGCHLD, SIG_DFL);
        int fd_in = open (in, O_RDONLY);
        int fd_out = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fd_err = open (err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd_in < 0 || fd_out < 0 || fd_err < 0)
            _exit (126);
        if (dup2 (fd_in, 0) < 0 || dup2 (fd_out, 1) < 0 || dup2 (fd_err, 2) < 0)
            _exit (126);
        //  Nothing of the test process leaks in (FIFO ends, runner pipes).
        if (close_range (3, ~0U, 0))
            for (int fd = 3; fd < 1024; fd++)
                close (fd);
        execve (path, argv, envp);
        static const char msg[] = "harness: cannot exec the program\n";
        if (write (2, msg, sizeof msg - 1) < 0) {
            //  Nothing else to do.
        }
        _exit (127);
    }
    s_child_t *child = &s_children[s_nchildren++];
    memset (child, 0, sizeof *child);
    child->pid = pid;
    snprintf (child->name, sizeof child->name, "%s", base);
    return pid;
}

pid_t
h_spawnl (const h_io_t *io, const char *program, ...)
{
    const char *args[64];
    size_t n = 0;
    va_list list;
    va_start (list, program);
    const char *arg;
    while ((arg = va_arg (list, const char *)) != NULL) {
        cr_assert (n < 63, "too many arguments");
        args[n++] = arg;
    }
    va_end (list);
    args[n] = NULL;
    return h_spawnv (program, args, io);
}

bool
h_try_wait (pid_t pid, int timeout_ms, int *status)
{
    s_child_t *child = s_child (pid);
    cr_assert_not_null (child, "pid %d is not a child of the test", (int) pid);
    int64_t deadline = h_now_ms () + timeout_ms;
    int pause = 1;
    while (!child->reaped) {
        int st;
        pid_t rc = waitpid (pid, &st, WNOHANG);
        if (rc == pid) {
            child->reaped = true;
            child->status = st;
            break;
        }
        cr_assert (rc == 0 || errno == EINTR, "waitpid %d: %s", (int) pid, strerror (errno));
        if (h_now_ms () >= deadline)
            return false;
        h_sleep_ms (pause);
        if (pause < 20)
            pause *= 2;
    }
    if (status)
        *status = child->status;
    return true;
}

int
h_wait (pid_t pid, int timeout_ms, const char *what)
{
    int status;
    if (h_try_wait (pid, timeout_ms, &status))
        return status;
    kill (pid, SIGKILL);
    h_try_wait (pid, 10000, &status);
    cr_assert_fail ("%s (pid %d) did not end within %d ms", what, (int) pid, timeout_ms);
    return -1;
}

bool
h_running (pid_t pid)
{
    return !h_try_wait (pid, 0, NULL);
}

int
h_exit_code (int status)
{
    if (WIFEXITED (status))
        return WEXITSTATUS (status);
    if (WIFSIGNALED (status))
        return 128 + WTERMSIG (status);
    return -1;
}

int
h_run (const h_io_t *io, int timeout_ms, const char *program, ...)
{
    const char *args[64];
    size_t n = 0;
    va_list list;
    va_start (list, program);
    const char *arg;
    while ((arg = va_arg (list, const char *)) != NULL) {
        cr_assert (n < 63, "too many arguments");
        args[n++] = arg;
    }
    va_end (list);
    args[n] = NULL;
    pid_t pid = h_spawnv (program, args, io);
    return h_exit_code (h_wait (pid, timeout_ms, program));
}

//  Reads /proc/PID/stat: state and parent. Returns 0, or -1 if gone.
static int
s_proc_stat (pid_t pid, char *state, pid_t *ppid)
{
    char path[64], line[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read (fd, line, sizeof line - 1);
    close (fd);
    if (n <= 0)
        return -1;
    line[n] = 0;
    //  The command name is in parentheses and may hold anything.
    char *close_paren = strrchr (line, ')');
    if (!close_paren)
        return -1;
    char st;
    int parent;
    if (sscanf (close_paren + 1, " %c %d", &st, &parent) != 2)
        return -1;
    *state = st;
    *ppid = (pid_t) parent;
    return 0;
}

bool
h_pid_alive (pid_t pid)
{
    char state;
    pid_t ppid;
    if (pid <= 0 || s_proc_stat (pid, &state, &ppid))
        return false;
    return state != 'Z' && state != 'X';
}

size_t
h_children_of (pid_t ppid, pid_t *out, size_t max)
{
    DIR *proc = opendir ("/proc");
    if (!proc)
        return 0;
    size_t n = 0;
    struct dirent *entry;
    while ((entry = readdir (proc)) && n < max) {
        if (!isdigit ((unsigned char) entry->d_name[0]))
            continue;
        pid_t pid = (pid_t) atoi (entry->d_name);
        char state;
        pid_t parent;
        if (s_proc_stat (pid, &state, &parent) == 0 && parent == ppid)
            out[n++] = pid;
    }
    closedir (proc);
    return n;
}

//  ---------------------------------------------------------------------
//  Feeder

char *
h_fifo (const char *name)
{
    char *path = h_path (name);
    cr_assert_eq (mkfifo (path, 0600), 0, "mkfifo %s: %s", path, strerror (errno));
    return path;
}

//  Writes all of data unless stopped or the reader is gone. Returns 0, -1.
static int
s_feed_write (int fd, const char *data, size_t len)
{
    while (len > 0 && !atomic_load (&s_feed.stop)) {
        struct pollfd item = { fd, POLLOUT, 0 };
        int rc = poll (&item, 1, 50);
        if (rc <= 0)
            continue;
        ssize_t n = write (fd, data, len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t) n;
    }
    return len? -1: 0;
}

static void *
s_feed_run (void *arg)
{
    (void) arg;
    int fd = -1;
    while (!atomic_load (&s_feed.stop)) {
        fd = open (s_feed.fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 || (errno != ENXIO && errno != EINTR))
            break;
        h_sleep_ms (5);
    }
    if (fd < 0)
        return NULL;
    if (!s_feed.data) {
        while (!atomic_load (&s_feed.stop))
            h_sleep_ms (10);
        close (fd);
        return NULL;
    }
    uint64_t written = 0;
    size_t offset = 0;
    while (!atomic_load (&s_feed.stop) && written < s_feed.max_bytes) {
        bool finish = atomic_load (&s_feed.finish);
        if (finish && offset == 0)
            break;              //  A whole number of repetitions written
        //  Held at the limit (not when finishing: the repetition is
        //  written to its end), the reader waits for more input as long
        //  as the test wants, however fast it is.
        uint64_t limit = finish? UINT64_MAX: atomic_load (&s_feed.limit);
        if (written >= limit) {
            h_sleep_ms (2);
            continue;
        }
        size_t n = s_feed.piece;
        if (n > s_feed.len - offset)
            n = s_feed.len - offset;
        if (n > s_feed.max_bytes - written)
            n = (size_t) (s_feed.max_bytes - written);
        if (n > limit - written)
            n = (size_t) (limit - written);
        if (s_feed_write (fd, s_feed.data + offset, n))
            break;
        written += n;
        atomic_store (&s_feed.written, written);
        offset = (offset + n) % s_feed.len;
        if (s_feed.pause_ms)
            h_sleep_ms (s_feed.pause_ms);
    }
    close (fd);
    return NULL;
}

void
h_feed_start (const char *fifo, const char *source, size_t piece, int pause_ms,
              uint64_t max_bytes)
{
    h_feed_start_held (fifo, source, piece, pause_ms, max_bytes, UINT64_MAX);
}

void
h_feed_start_held (const char *fifo, const char *source, size_t piece, int pause_ms,
                   uint64_t max_bytes, uint64_t limit)
{
    cr_assert (!s_feed.started, "one feeder at a time");
    memset (&s_feed, 0, sizeof s_feed);
    s_feed.fifo = h_strf ("%s", fifo);
    if (source) {
        s_feed.data = s_read_file (source, &s_feed.len);
        cr_assert_not_null (s_feed.data, "cannot read %s", source);
        cr_assert (s_feed.len > 0, "%s is empty", source);
    }
    s_feed.piece = piece? piece: 16384;
    s_feed.pause_ms = pause_ms;
    s_feed.max_bytes = max_bytes;
    atomic_store (&s_feed.limit, limit);
    atomic_store (&s_feed.written, 0);
    atomic_store (&s_feed.finish, false);
    atomic_store (&s_feed.stop, false);
    cr_assert_eq (pthread_create (&s_feed.thread, NULL, s_feed_run, NULL), 0);
    s_feed.started = true;
}

void
h_feed_limit (uint64_t bytes)
{
    atomic_store (&s_feed.limit, bytes);
}

uint64_t
h_feed_written (void)
{
    return atomic_load (&s_feed.written);
}

uint64_t
h_feed_finish (int timeout_ms)
{
    cr_assert (s_feed.started && s_feed.data, "no feeder of a source to finish");
    atomic_store (&s_feed.finish, true);
    //  The feeder ends by itself at the end of the repetition (a reader
    //  that is there takes what it writes); stopped only past the bound.
    int64_t deadline = h_now_ms () + timeout_ms;
    bool finished;
    while (!(finished = pthread_tryjoin_np (s_feed.thread, NULL) == 0)
    &&     h_now_ms () < deadline)
        h_sleep_ms (5);
    if (!finished) {
        atomic_store (&s_feed.stop, true);
        pthread_join (s_feed.thread, NULL);
    }
    free (s_feed.data);
    s_feed.data = NULL;
    s_feed.started = false;
    uint64_t written = atomic_load (&s_feed.written);
    cr_assert (finished, "the feeder did not finish its repetition within %d ms "
               "(%llu bytes written)", timeout_ms, (unsigned long long) written);
    return written;
}

void
h_feed_stop (void)
{
    if (!s_feed.started)
        return;
    atomic_store (&s_feed.stop, true);
    pthread_join (s_feed.thread, NULL);
    free (s_feed.data);
    s_feed.data = NULL;
    s_feed.started = false;
}

//  ---------------------------------------------------------------------
//  Word counts

void
h_counts_free (h_counts_t *counts)
{
    h_release (counts->pairs);
    h_release (counts->buf);
    memset (counts, 0, sizeof *counts);
}

static bool
s_is_space (unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

const char *
h_show (const unsigned char *word, size_t len)
{
    size_t shown = len > 40? 40: len;
    char *out = s_keep (malloc (shown * 4 + 64));
    size_t o = 0;
    out[o++] = '\'';
    for (size_t i = 0; i < shown; i++) {
        if (word[i] >= 0x21 && word[i] < 0x7f && word[i] != '\\')
            out[o++] = (char) word[i];
        else
            o += (size_t) sprintf (out + o, "\\x%02x", word[i]);
    }
    out[o++] = '\'';
    out[o] = 0;
    if (shown < len)
        sprintf (out + o, "...(%zu bytes)", len);
    return out;
}

static void
s_add_pair (h_counts_t *counts, size_t *cap, const char *word, size_t len, uint64_t count)
{
    if (counts->n == *cap) {
        *cap = *cap? *cap * 2: 1024;
        h_pair_t *pairs = realloc (counts->pairs, *cap * sizeof *pairs);
        cr_assert_not_null (pairs, "out of memory");
        s_retrack (counts->pairs, pairs);
        counts->pairs = pairs;
    }
    counts->pairs[counts->n++] = (h_pair_t) { (const unsigned char *) word, len, count };
}

//  Runs the reference pipeline over input into output (uniq -c lines).
static void
s_reference_to (const char *input, const char *output)
{
    struct stat info;
    cr_assert_eq (stat (input, &info), 0, "reference input %s: %s", input, strerror (errno));
    char *command = h_strf (
        "export LC_ALL=C; tr -s ' \\t\\n\\v\\f\\r' '\\n' < '%s' | sed '/^$/d' | sort | uniq -c",
        input);
    h_io_t io = { .stdout_path = output };
    int code = h_run (&io, 120000, "/bin/sh", "-c", command, NULL);
    cr_assert_eq (code, 0, "the reference pipeline exited with %d", code);
}

//  Parses uniq -c output: "%7d word\n" lines.
static void
s_parse_uniq (const char *path, h_counts_t *out)
{
    memset (out, 0, sizeof *out);
    size_t len;
    out->buf = h_read (path, &len);
    cr_assert_not_null (out->buf, "cannot read the reference %s", path);
    size_t cap = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && out->buf[i] == ' ')
            i++;
        uint64_t count = 0;
        size_t digits = 0;
        while (i < len && out->buf[i] >= '0' && out->buf[i] <= '9') {
            count = count * 10 + (uint64_t) (out->buf[i] - '0');
            i++;
            digits++;
        }
        cr_assert (digits > 0 && i < len && out->buf[i] == ' ',
                   "reference %s: unexpected line at byte %zu", path, i);
        i++;
        size_t start = i;
        while (i < len && out->buf[i] != '\n')
            i++;
        cr_assert (i > start, "reference %s: empty word at byte %zu", path, start);
        s_add_pair (out, &cap, out->buf + start, i - start, count);
        i++;
    }
}

void
h_reference_file (const char *file, h_counts_t *out)
{
    char *output = h_strf ("%s/ref-%03d.txt", s_dir, ++s_seq);
    s_reference_to (file, output);
    s_parse_uniq (output, out);
}

void
h_reference (const char *const *files, size_t nfiles, h_counts_t *out)
{
    char *joined = h_strf ("%s/ref-input-%03d.txt", s_dir, ++s_seq);
    FILE *file = fopen (joined, "wb");
    cr_assert_not_null (file, "cannot create %s", joined);
    for (size_t i = 0; i < nfiles; i++) {
        size_t len;
        char *text = h_read (files[i], &len);
        cr_assert_not_null (text, "cannot read %s", files[i]);
        cr_assert_eq (fwrite (text, 1, len, file), len);
        fputc ('\n', file);
        h_release (text);
    }
    cr_assert_eq (fclose (file), 0);
    h_reference_file (joined, out);
}

//  Bytewise order of words: memcmp, the shorter first on a common prefix.
static int
s_word_cmp (const h_pair_t *a, const h_pair_t *b)
{
    size_t n = a->len < b->len? a->len: b->len;
    int rc = memcmp (a->word, b->word, n);
    if (rc)
        return rc;
    return a->len < b->len? -1: a->len > b->len? 1: 0;
}

static int
s_qsort_word (const void *a, const void *b)
{
    return s_word_cmp (a, b);
}

int
h_parse_result (const char *path, h_counts_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof *out);
    size_t len;
    out->buf = h_read (path, &len);
    if (!out->buf) {
        snprintf (err, errlen, "cannot read the result %s: %s", path, strerror (errno));
        return -1;
    }
    if (len && out->buf[len - 1] != '\n') {
        snprintf (err, errlen, "%s does not end with a newline", path);
        return -1;
    }
    size_t cap = 0;
    size_t i = 0, line = 0;
    while (i < len) {
        line++;
        size_t start = i;
        while (i < len && out->buf[i] != '\t' && out->buf[i] != '\n')
            i++;
        if (i == len || out->buf[i] != '\t') {
            snprintf (err, errlen, "%s line %zu: no tab before the end of the line", path, line);
            return -1;
        }
        size_t wlen = i - start;
        const unsigned char *word = (const unsigned char *) out->buf + start;
        if (wlen == 0) {
            snprintf (err, errlen, "%s line %zu: empty word", path, line);
            return -1;
        }
        for (size_t k = 0; k < wlen; k++)
            if (s_is_space (word[k])) {
                snprintf (err, errlen, "%s line %zu: word %s holds whitespace", path,
                          line, h_show (word, wlen));
                return -1;
            }
        i++;
        size_t digits = 0;
        uint64_t count = 0;
        bool overflow = false;
        while (i < len && out->buf[i] >= '0' && out->buf[i] <= '9') {
            uint64_t d = (uint64_t) (out->buf[i] - '0');
            if (count > (UINT64_MAX - d) / 10)
                overflow = true;
            count = count * 10 + d;
            digits++;
            i++;
        }
        if (i == len || out->buf[i] != '\n' || digits == 0 || overflow
        ||  (digits > 1 && out->buf[i - digits] == '0') || count == 0) {
            snprintf (err, errlen, "%s line %zu (word %s): count is not a positive decimal "
                      "number followed by a newline", path, line, h_show (word, wlen));
            return -1;
        }
        i++;
        s_add_pair (out, &cap, (const char *) word, wlen, count);
        if (out->n > 1) {
            const h_pair_t *a = &out->pairs[out->n - 2];
            const h_pair_t *b = &out->pairs[out->n - 1];
            bool ordered = a->count > b->count
                        || (a->count == b->count && s_word_cmp (a, b) < 0);
            if (!ordered) {
                snprintf (err, errlen, "%s line %zu: %s %llu comes after %s %llu: not most "
                          "frequent first, ties in byte order", path, line,
                          h_show (b->word, b->len), (unsigned long long) b->count,
                          h_show (a->word, a->len), (unsigned long long) a->count);
                return -1;
            }
        }
    }
    return 0;
}

int
h_counts_compare (const h_counts_t *got, const h_counts_t *ref, char *err, size_t errlen)
{
    h_pair_t *a = h_alloc ((got->n + 1) * sizeof *a);
    h_pair_t *b = h_alloc ((ref->n + 1) * sizeof *b);
    if (got->n)
        memcpy (a, got->pairs, got->n * sizeof *a);
    if (ref->n)
        memcpy (b, ref->pairs, ref->n * sizeof *b);
    qsort (a, got->n, sizeof *a, s_qsort_word);
    qsort (b, ref->n, sizeof *b, s_qsort_word);
    int rc = 0;
    for (size_t i = 1; i < got->n && rc == 0; i++)
        if (s_word_cmp (&a[i - 1], &a[i]) == 0) {
            snprintf (err, errlen, "the word %s appears more than once in the result",
                      h_show (a[i].word, a[i].len));
            rc = -1;
        }
    size_t i = 0, j = 0;
    while (rc == 0 && (i < got->n || j < ref->n)) {
        int cmp = i == got->n? 1: j == ref->n? -1: s_word_cmp (&a[i], &b[j]);
        if (cmp < 0) {
            snprintf (err, errlen, "the result has %s (count %llu), the reference does not "
                      "(%zu words in the result, %zu in the reference)",
                      h_show (a[i].word, a[i].len), (unsigned long long) a[i].count,
                      got->n, ref->n);
            rc = -1;
        }
        else
        if (cmp > 0) {
            snprintf (err, errlen, "the reference has %s (count %llu), the result does not "
                      "(%zu words in the result, %zu in the reference)",
                      h_show (b[j].word, b[j].len), (unsigned long long) b[j].count,
                      got->n, ref->n);
            rc = -1;
        }
        else
        if (a[i].count != b[j].count) {
            snprintf (err, errlen, "%s is counted %llu times in the result, %llu in the "
                      "reference", h_show (a[i].word, a[i].len),
                      (unsigned long long) a[i].count, (unsigned long long) b[j].count);
            rc = -1;
        }
        else {
            i++;
            j++;
        }
    }
    h_release (a);
    h_release (b);
    return rc;
}

int
h_check_result (const char *path, const h_counts_t *ref, char *err, size_t errlen)
{
    h_counts_t got;
    int rc = h_parse_result (path, &got, err, errlen);
    if (rc == 0)
        rc = h_counts_compare (&got, ref, err, errlen);
    h_counts_free (&got);
    return rc;
}

void
h_assert_result (const char *path, const h_counts_t *ref)
{
    char err[1024];
    int rc = h_check_result (path, ref, err, sizeof err);
    cr_assert_eq (rc, 0, "%s", err);
}

//  ---------------------------------------------------------------------
//  The King James Bible

static const char *
s_cache_path (const char *name)
{
    mkdir (ZMR_TEST_CACHE_DIR, 0777);
    return h_strf ("%s/%s", ZMR_TEST_CACHE_DIR, name);
}

static bool
s_file_size_at_least (const char *path, off_t size)
{
    struct stat info;
    return stat (path, &info) == 0 && S_ISREG (info.st_mode) && info.st_size >= size;
}

const char *
h_kjv (void)
{
    const char *path = s_cache_path ("kjv.txt");
    if (s_file_size_at_least (path, 4000000))
        return path;
    //  Written under a private name and renamed: tests running at once
    //  never see half a file.
    char *temp = h_strf ("%s.tmp-%d", path, (int) getpid ());
    char *command = h_strf ("bible gen1:1-rev22:21 > '%s'", temp);
    static const char *const env[] = { "COLUMNS=80", NULL };
    h_io_t io = { .env = env };
    int code = h_run (&io, 60000, "/bin/sh", "-c", command, NULL);
    cr_assert_eq (code, 0, "'bible gen1:1-rev22:21' failed (%d): is bible-kjv installed?", code);
    cr_assert (s_file_size_at_least (temp, 4000000), "'bible' wrote less than 4 MB");
    cr_assert_eq (rename (temp, path), 0, "rename %s: %s", temp, strerror (errno));
    return path;
}

void
h_kjv_reference (h_counts_t *out)
{
    const char *text = h_kjv ();
    struct stat info;
    cr_assert_eq (stat (text, &info), 0);
    //  Named after the text's size and time, so a new text gets a new one.
    const char *path = s_cache_path (h_strf ("kjv-%lld-%lld.ref", (long long) info.st_size,
                                             (long long) info.st_mtime));
    if (!s_file_size_at_least (path, 100000)) {
        char *temp = h_strf ("%s.tmp-%d", path, (int) getpid ());
        s_reference_to (text, temp);
        cr_assert_eq (rename (temp, path), 0, "rename %s: %s", temp, strerror (errno));
    }
    s_parse_uniq (path, out);
    cr_assert (out->n > 10000, "the KJV reference has only %zu words", out->n);
}

void
h_kjv_reference_times (uint64_t times, h_counts_t *out)
{
    //  The text ends with a newline: copies put end to end join no words,
    //  and every count is the single text's times copies.
    size_t len;
    char *text = s_read_file (h_kjv (), &len);
    cr_assert (text && len > 0, "cannot read the KJV");
    char last = text[len - 1];
    free (text);
    cr_assert_eq (last, '\n', "the KJV does not end with a newline");
    h_kjv_reference (out);
    for (size_t i = 0; i < out->n; i++)
        out->pairs[i].count *= times;
}

void
h_assert_kjv_result (const char *path)
{
    h_counts_t ref;
    h_kjv_reference (&ref);
    h_assert_result (path, &ref);
    h_counts_free (&ref);
}

char *
h_kjv_slice (const char *name, size_t bytes)
{
    size_t len;
    char *text = h_read (h_kjv (), &len);
    cr_assert_not_null (text);
    cr_assert (len >= bytes);
    char *path = h_write (name, text, bytes);
    h_release (text);
    return path;
}

//  ---------------------------------------------------------------------
//  Status lines: a small JSON reader for the monitor's objects

typedef struct {
    const char *p;
    const char *end;
} s_json_t;

static void
s_json_ws (s_json_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool
s_json_char (s_json_t *j, char c)
{
    s_json_ws (j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

//  A string into out (\u escapes below 0x100 become that byte; others '?').
static bool
s_json_string (s_json_t *j, char *out, size_t size)
{
    if (!s_json_char (j, '"'))
        return false;
    size_t o = 0;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\') {
            if (j->p >= j->end)
                return false;
            char e = *j->p++;
            switch (e) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'u': {
                    if (j->end - j->p < 4)
                        return false;
                    char hex[5] = { j->p[0], j->p[1], j->p[2], j->p[3], 0 };
                    unsigned long v = strtoul (hex, NULL, 16);
                    c = v < 0x100? (char) v: '?';
                    j->p += 4;
                    break;
                }
                default: c = e;
            }
        }
        if (out && o + 1 < size)
            out[o++] = c;
    }
    if (out && size)
        out[o] = 0;
    return s_json_char (j, '"');
}

static bool
s_json_number (s_json_t *j, uint64_t *value)
{
    s_json_ws (j);
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return false;
    uint64_t v = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        v = v * 10 + (uint64_t) (*j->p++ - '0');
    *value = v;
    return true;
}

static bool s_json_skip (s_json_t *j);

static bool
s_json_skip_container (s_json_t *j, char open, char close)
{
    if (!s_json_char (j, open))
        return false;
    if (s_json_char (j, close))
        return true;
    while (true) {
        if (open == '{') {
            if (!s_json_string (j, NULL, 0) || !s_json_char (j, ':'))
                return false;
        }
        if (!s_json_skip (j))
            return false;
        if (s_json_char (j, close))
            return true;
        if (!s_json_char (j, ','))
            return false;
    }
}

static bool
s_json_skip (s_json_t *j)
{
    s_json_ws (j);
    if (j->p >= j->end)
        return false;
    char c = *j->p;
    if (c == '"')
        return s_json_string (j, NULL, 0);
    if (c == '{')
        return s_json_skip_container (j, '{', '}');
    if (c == '[')
        return s_json_skip_container (j, '[', ']');
    if (c == '-' || (c >= '0' && c <= '9')) {
        j->p++;
        while (j->p < j->end && strchr ("0123456789.eE+-", *j->p))
            j->p++;
        return true;
    }
    static const char *const words[] = { "true", "false", "null" };
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen (words[i]);
        if ((size_t) (j->end - j->p) >= n && !memcmp (j->p, words[i], n)) {
            j->p += n;
            return true;
        }
    }
    return false;
}

typedef struct {
    const char *key;
    size_t offset;
} s_field_t;

#define JOB(name) { #name, offsetof (h_status_t, name) }
static const s_field_t s_job_fields[] = {
    JOB (seq), JOB (reducers), JOB (input_bytes), JOB (bytes_read), JOB (bytes_done),
    JOB (chunks_read), JOB (chunks_issued), JOB (chunks_done), JOB (chunks_reissued),
    JOB (in_flight), JOB (words), JOB (words_too_long), JOB (mappers_alive), JOB (malformed),
    JOB (duplicates)
};
#define WORKER(name) { #name, offsetof (h_worker_t, name) }
static const s_field_t s_worker_fields[] = {
    WORKER (partition), WORKER (chunks), WORKER (words), WORKER (malformed),
    WORKER (duplicates)
};
#define COUNT(a) (sizeof (a) / sizeof ((a)[0]))

static uint64_t *
s_field (void *base, const s_field_t *fields, size_t nfields, const char *key)
{
    for (size_t i = 0; i < nfields; i++)
        if (!strcmp (fields[i].key, key))
            return (uint64_t *) ((char *) base + fields[i].offset);
    return NULL;
}

static bool
s_json_bool (s_json_t *j, bool *value)
{
    s_json_ws (j);
    if (j->end - j->p >= 4 && !memcmp (j->p, "true", 4)) {
        j->p += 4;
        *value = true;
        return true;
    }
    if (j->end - j->p >= 5 && !memcmp (j->p, "false", 5)) {
        j->p += 5;
        *value = false;
        return true;
    }
    return false;
}

static bool
s_json_worker (s_json_t *j, h_worker_t *worker)
{
    memset (worker, 0, sizeof *worker);
    worker->pid = -1;
    if (!s_json_char (j, '{'))
        return false;
    if (s_json_char (j, '}'))
        return true;
    while (true) {
        char key[64];
        if (!s_json_string (j, key, sizeof key) || !s_json_char (j, ':'))
            return false;
        uint64_t *number = s_field (worker, s_worker_fields, COUNT (s_worker_fields), key);
        bool ok;
        if (number)
            ok = s_json_number (j, number);
        else
        if (!strcmp (key, "role"))
            ok = s_json_string (j, worker->role, sizeof worker->role);
        else
        if (!strcmp (key, "name"))
            ok = s_json_string (j, worker->name, sizeof worker->name);
        else
        if (!strcmp (key, "state"))
            ok = s_json_string (j, worker->state, sizeof worker->state);
        else
            ok = s_json_skip (j);
        if (!ok)
            return false;
        if (s_json_char (j, '}'))
            break;
        if (!s_json_char (j, ','))
            return false;
    }
    const char *colon = strrchr (worker->name, ':');
    if (colon && colon[1]) {
        char *end;
        long pid = strtol (colon + 1, &end, 10);
        if (!*end)
            worker->pid = pid;
    }
    return true;
}

int
h_status_parse (const char *line, size_t len, h_status_t *out)
{
    memset (out, 0, sizeof *out);
    s_json_t j = { line, line + len };
    if (!s_json_char (&j, '{'))
        return -1;
    bool have_phase = false;
    if (!s_json_char (&j, '}'))
        while (true) {
            char key[64];
            if (!s_json_string (&j, key, sizeof key) || !s_json_char (&j, ':'))
                return -1;
            uint64_t *number = s_field (out, s_job_fields, COUNT (s_job_fields), key);
            bool ok;
            if (number)
                ok = s_json_number (&j, number);
            else
            if (!strcmp (key, "phase"))
                ok = have_phase = s_json_string (&j, out->phase, sizeof out->phase);
            else
            if (!strcmp (key, "reason"))
                ok = s_json_string (&j, out->reason, sizeof out->reason);
            else
            if (!strcmp (key, "job"))
                ok = s_json_string (&j, out->job, sizeof out->job);
            else
            if (!strcmp (key, "input_known"))
                ok = s_json_bool (&j, &out->input_known);
            else
            if (!strcmp (key, "input_eof"))
                ok = s_json_bool (&j, &out->input_eof);
            else
            if (!strcmp (key, "workers")) {
                ok = s_json_char (&j, '[');
                if (ok && !s_json_char (&j, ']'))
                    while (ok) {
                        h_worker_t worker;
                        ok = s_json_worker (&j, &worker);
                        if (ok && out->nworkers < H_MAX_WORKERS)
                            out->workers[out->nworkers++] = worker;
                        if (!ok || s_json_char (&j, ']'))
                            break;
                        ok = s_json_char (&j, ',');
                    }
            }
            else
                ok = s_json_skip (&j);
            if (!ok)
                return -1;
            if (s_json_char (&j, '}'))
                break;
            if (!s_json_char (&j, ','))
                return -1;
        }
    return have_phase? 0: -1;
}

int
h_status_last (const char *path, h_status_t *out)
{
    size_t len;
    char *text = s_read_file (path, &len);
    if (!text)
        return -1;
    int rc = -1;
    //  Only complete lines: the monitor may be writing the last one.
    size_t end = len;
    while (end > 0 && text[end - 1] != '\n')
        end--;
    while (rc != 0 && end > 0) {
        size_t stop = end - 1;
        size_t start = stop;
        while (start > 0 && text[start - 1] != '\n')
            start--;
        rc = h_status_parse (text + start, stop - start, out);
        end = start;
    }
    free (text);
    return rc;
}

uint64_t
h_status_max (const char *path, const char *key)
{
    h_status_t status;
    cr_assert_not_null (s_field (&status, s_job_fields, COUNT (s_job_fields), key),
                        "no job field %s", key);
    size_t len;
    char *text = s_read_file (path, &len);
    if (!text)
        return 0;
    uint64_t max = 0;
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n') {
            if (h_status_parse (text + start, i - start, &status) == 0) {
                uint64_t value = *s_field (&status, s_job_fields, COUNT (s_job_fields), key);
                if (value > max)
                    max = value;
            }
            start = i + 1;
        }
    free (text);
    return max;
}

bool
h_status_wait (const char *path, h_status_pred_t pred, void *arg, int timeout_ms,
               h_status_t *out)
{
    int64_t deadline = h_now_ms () + timeout_ms;
    h_status_t status;
    memset (&status, 0, sizeof status);
    bool met = false;
    while (true) {
        if (h_status_last (path, &status) == 0 && pred (&status, arg)) {
            met = true;
            break;
        }
        if (h_now_ms () >= deadline)
            break;
        h_sleep_ms (20);
    }
    if (out)
        *out = status;
    return met;
}

size_t
h_status_count_role (const h_status_t *status, const char *role)
{
    size_t n = 0;
    for (size_t i = 0; i < status->nworkers; i++)
        if (!strcmp (status->workers[i].role, role))
            n++;
    return n;
}

const h_worker_t *
h_status_worker (const h_status_t *status, long pid)
{
    for (size_t i = 0; i < status->nworkers; i++)
        if (status->workers[i].pid == pid)
            return &status->workers[i];
    return NULL;
}

//  ---------------------------------------------------------------------
//  A job started by hand

pid_t
h_job_add_mapper (h_job_t *job, int delay_ms)
{
    cr_assert (job->nmappers < H_JOB_MAX_MAPPERS, "too many mappers");
    char *delay = h_strf ("--delay-ms=%d", delay_ms);
    pid_t pid = delay_ms > 0? h_spawnl (NULL, "zmr-mapper", delay, job->control, NULL)
                            : h_spawnl (NULL, "zmr-mapper", job->control, NULL);
    job->mapper_delay[job->nmappers] = delay_ms;
    job->mapper[job->nmappers++] = pid;
    return pid;
}

void
h_job_start (h_job_t *job, const char *input, const h_job_opts_t *opts)
{
    static const h_job_opts_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    memset (job, 0, sizeof *job);
    job->reducers = opts->reducers? opts->reducers: 2;
    cr_assert (job->reducers <= H_JOB_MAX_REDUCERS);
    job->control = h_strf ("ipc://%s/c", s_dir);
    job->chunks = h_strf ("ipc://%s/k", s_dir);
    job->status = h_strf ("ipc://%s/s", s_dir);
    job->sink_ep = h_strf ("ipc://%s/sink", s_dir);
    job->output = h_path ("out.txt");
    job->monitor_out = h_path ("monitor.json");

    const char *args[32];
    size_t n = 0;
    args[n++] = h_strf ("--reducers=%d", job->reducers);
    args[n++] = h_strf ("--control=%s", job->control);
    args[n++] = h_strf ("--chunks=%s", job->chunks);
    args[n++] = h_strf ("--status=%s", job->status);
    args[n++] = h_strf ("--chunk-size=%s", opts->chunk_size? opts->chunk_size: "16K");
    args[n++] = h_strf ("--dead-ms=%d", opts->dead_ms? opts->dead_ms: 1000);
    if (opts->status_ms)
        args[n++] = h_strf ("--status-ms=%d", opts->status_ms);
    if (opts->by_reference)
        args[n++] = "--by-reference";
    if (opts->live) {
        args[n++] = "--live-ms=10";
        args[n++] = "--flush-ms=10";
    }
    args[n++] = "--";
    args[n++] = input;
    args[n] = NULL;
    h_io_t io = { .stdin_path = opts->stdin_path, .stderr_path = h_path ("ventilator.err") };
    job->ventilator = h_spawnv ("zmr-ventilator", args, &io);
    if (!opts->no_monitor) {
        h_io_t mon = { .stdout_path = job->monitor_out };
        job->monitor = h_spawnl (&mon, "zmr-monitor", "--json", job->status, NULL);
        //  The workers start once the monitor hears the job: it sees every
        //  phase from "waiting" on. (The bound is for a loaded machine
        //  under ASan, where starting two processes can take seconds.)
        int64_t deadline = h_now_ms () + 60000;
        while (h_count_lines (job->monitor_out) < 1 && h_now_ms () < deadline)
            h_sleep_ms (5);
        cr_assert_geq (h_count_lines (job->monitor_out), 1,
                       "the monitor heard nothing from the ventilator in 60 s");
    }
    for (int p = 0; p < job->reducers; p++) {
        job->reducer_ep[p] = h_strf ("ipc://%s/r%d", s_dir, p);
        job->reducer[p] = h_spawnl (NULL, "zmr-reducer", "-p", h_strf ("%d", p),
                                    h_strf ("--bind=%s", job->reducer_ep[p]),
                                    job->control, NULL);
    }
    job->follow_out = h_path ("follow.txt");
    h_io_t sink_io = { .stdout_path = job->follow_out };
    job->sink = h_spawnl (&sink_io, "zmr-sink", "-o", job->output,
                          h_strf ("--bind=%s", job->sink_ep),
                          opts->live? "--follow": job->control,
                          opts->live? job->control: NULL, NULL);
    for (int m = 0; m < opts->mappers; m++)
        h_job_add_mapper (job, opts->delay_ms);
}

typedef struct {
    double fraction;
} s_progress_t;

static bool
s_progressed (const h_status_t *status, void *arg)
{
    const s_progress_t *progress = arg;
    return !strcmp (status->phase, "mapping") && status->input_known
        && status->input_bytes > 0
        && (double) status->bytes_done >= progress->fraction * (double) status->input_bytes;
}

void
h_job_wait_progress (h_job_t *job, double fraction, int timeout_ms, h_status_t *out)
{
    s_progress_t progress = { fraction };
    h_status_t status;
    bool met = h_status_wait (job->monitor_out, s_progressed, &progress, timeout_ms, &status);
    cr_assert (met, "the job did not reach %.0f%% of its input in phase mapping within "
               "%d ms (last status: phase '%s', %llu of %llu bytes done)", fraction * 100,
               timeout_ms, status.phase, (unsigned long long) status.bytes_done,
               (unsigned long long) status.input_bytes);
    if (out)
        *out = status;
}

static bool
s_over (const h_status_t *status, void *arg)
{
    (void) arg;
    return !strcmp (status->phase, "done") || !strcmp (status->phase, "failed");
}

void
h_job_wait_done (h_job_t *job, int timeout_ms, h_status_t *final)
{
    int code = h_exit_code (h_wait (job->ventilator, timeout_ms, "the ventilator"));
    size_t len;
    char *log = h_read (h_path ("ventilator.err"), &len);
    cr_assert_eq (code, 0, "the ventilator exited with %d: %s", code, log? log: "");
    //  Once the ventilator is done, the others end soon: the bounds are
    //  for a loaded machine under ASan.
    code = h_exit_code (h_wait (job->sink, 60000, "the sink"));
    cr_assert_eq (code, 0, "the sink exited with %d", code);
    for (int p = 0; p < job->reducers; p++) {
        code = h_exit_code (h_wait (job->reducer[p], 60000, "a reducer"));
        cr_assert_eq (code, 0, "reducer %d exited with %d", p, code);
    }
    if (job->monitor) {
        h_status_t status;
        bool over = h_status_wait (job->monitor_out, s_over, NULL, 30000, &status);
        cr_assert (over, "the monitor did not see the end of the job (last phase '%s')",
                   status.phase);
        cr_assert_str_eq (status.phase, "done", "the job ended '%s': %s", status.phase,
                          status.reason);
        if (final)
            *final = status;
    }
}
