/*  zmr_command: a map command over one chunk. See zmr_command.h. */
#define _GNU_SOURCE
#include "zmr_command.h"
#include "zmr_log.h"
#include "zmr_util.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define S_PIECE   (64u << 10)   //  Bytes read or written at a time
#define S_TICK_MS 1000          //  How often tick is called, by default
#define S_VALUE_MAX 20          //  "-9223372036854775808"

typedef struct {
    const zmr_command_t *cmd;
    zmr_command_result_t *result;
    char *line;                 //  An unfinished line of stdout
    size_t have;                //  ... its bytes
    size_t cap;                 //  Longest line: key, tab, value
    bool failed;                //  A bad line or pair: reason is set
    char last_byte;             //  Of the input read from a file so far
} s_run_t;

int
zmr_command_parse_value (const char *text, size_t len, int64_t *value, const char **why)
{
    size_t at = 0;
    bool negative = len > 0 && text[0] == '-';
    if (negative)
        at = 1;
    if (at == len) {
        *why = len? "value is not an integer": "value is empty";
        return -1;
    }
    //  Counted as a negative number: its range holds INT64_MIN
    int64_t sum = 0;
    for (; at < len; at++) {
        if (text[at] < '0' || text[at] > '9') {
            *why = "value is not an integer";
            return -1;
        }
        if (__builtin_mul_overflow (sum, 10, &sum)
        ||  __builtin_sub_overflow (sum, text[at] - '0', &sum)) {
            *why = "value is out of the signed 64-bit range";
            return -1;
        }
    }
    if (!negative && sum == INT64_MIN) {
        *why = "value is out of the signed 64-bit range";
        return -1;
    }
    *value = negative? sum: -sum;
    return 0;
}

void
zmr_command_quote (const char *text, size_t len, char *out, size_t size)
{
    size_t at = 0;
    size_t shown = 0;
    for (size_t i = 0; i < len; i++) {
        char piece[8];
        uint8_t c = (uint8_t) text[i];
        if (c == '\t')
            snprintf (piece, sizeof piece, "<TAB>");
        else
        if (c < 32 || c > 126 || c == '\'' || c == '\\')
            snprintf (piece, sizeof piece, "\\x%02x", c);
        else
            snprintf (piece, sizeof piece, "%c", c);
        size_t n = strlen (piece);
        if (shown >= 60 || at + n + 4 > size) {
            if (at + 4 <= size) {
                memcpy (out + at, "...", 3);
                at += 3;
            }
            break;
        }
        memcpy (out + at, piece, n);
        at += n;
        shown++;
    }
    if (size)
        out[at < size? at: size - 1] = 0;
}

//  Writes a reason, once: the first failure is the one that is told.
static void
    s_fail (s_run_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_fail (s_run_t *self, const char *format, ...)
{
    if (self->failed)
        return;
    self->failed = true;
    va_list args;
    va_start (args, format);
    vsnprintf (self->result->reason, sizeof self->result->reason, format, args);
    va_end (args);
}

//  One whole line of stdout (no '\n'): a pair, or the run's failure.
static void
s_on_line (s_run_t *self, const char *line, size_t len)
{
    //  One trailing '\r': the line of a tool run on a CRLF file
    if (len && line[len - 1] == '\r')
        len--;
    const char *tab = memchr (line, '\t', len);
    size_t key_len = tab? (size_t) (tab - line): len;
    int64_t value = 1;
    const char *why = NULL;
    char reason[ZMR_COMMAND_REASON];
    if (key_len > self->cmd->max_key)
        why = "its key is longer than the job allows";
    else
    if (tab)
        zmr_command_parse_value (tab + 1, len - key_len - 1, &value, &why);
    if (why) {
        char quoted[128], detail[96] = "";
        zmr_command_quote (line, len, quoted, sizeof quoted);
        //  Which byte of the value is wrong (a '+', a space, a '\r'...)
        const char *text = tab? tab + 1: NULL;
        size_t value_len = tab? len - key_len - 1: 0;
        for (size_t i = 0; text && i < value_len; i++)
            if ((text[i] < '0' || text[i] > '9') && !(i == 0 && text[i] == '-')) {
                char bad[16];
                zmr_command_quote (text + i, 1, bad, sizeof bad);
                snprintf (detail, sizeof detail, ": byte %zu is '%s' (an optional '-' then "
                          "digits)", i + 1, bad);
                break;
            }
        s_fail (self, "map command printed a bad line on %s: '%s': %s%s", self->cmd->what,
                quoted, why, strcmp (why, "value is not an integer")? "": detail);
        return;
    }
    reason[0] = 0;
    if (self->cmd->pair (self->cmd->arg, line, key_len, value, reason, sizeof reason)) {
        s_fail (self, "%s", reason[0]? reason: "a pair was refused");
        return;
    }
    self->result->lines++;
}

//  Takes bytes of stdout: whole lines go to s_on_line, the rest waits.
static void
s_on_stdout (s_run_t *self, const char *data, size_t len)
{
    while (len > 0 && !self->failed) {
        const char *nl = memchr (data, '\n', len);
        size_t take = nl? (size_t) (nl - data): len;
        if (self->have + take > self->cap) {
            char quoted[128];
            zmr_command_quote (self->have? self->line: data, self->have? self->have: take,
                               quoted, sizeof quoted);
            s_fail (self, "map command printed a bad line on %s: '%s': longer than %zu "
                    "bytes (a key the job allows, a tab and a value)", self->cmd->what,
                    quoted, self->cap);
            return;
        }
        if (!nl) {
            memcpy (self->line + self->have, data, take);
            self->have += take;
            return;
        }
        if (self->have) {
            memcpy (self->line + self->have, data, take);
            s_on_line (self, self->line, self->have + take);
            self->have = 0;
        }
        else
            s_on_line (self, data, take);
        data += take + 1;
        len -= take + 1;
    }
}

//  Keeps the last ZMR_COMMAND_STDERR bytes of stderr.
static void
s_on_stderr (zmr_command_result_t *result, const char *data, size_t len)
{
    if (len >= ZMR_COMMAND_STDERR) {
        result->err_lost += result->err_len + len - ZMR_COMMAND_STDERR;
        memcpy (result->err, data + len - ZMR_COMMAND_STDERR, ZMR_COMMAND_STDERR);
        result->err_len = ZMR_COMMAND_STDERR;
    }
    else {
        size_t keep = result->err_len + len > ZMR_COMMAND_STDERR
                    ? ZMR_COMMAND_STDERR - len: result->err_len;
        result->err_lost += result->err_len - keep;
        memmove (result->err, result->err + result->err_len - keep, keep);
        memcpy (result->err + keep, data, len);
        result->err_len = keep + len;
    }
    result->err[result->err_len] = 0;
}

void
zmr_command_log_stderr (const zmr_command_result_t *result, int level, const char *prefix)
{
    const char *at = result->err, *end = result->err + result->err_len;
    if (result->err_lost)
        zmr_log (level, "%s(%zu earlier bytes of stderr not kept)", prefix, result->err_lost);
    while (at < end) {
        const char *nl = memchr (at, '\n', (size_t) (end - at));
        size_t len = nl? (size_t) (nl - at): (size_t) (end - at);
        zmr_log (level, "%s%.*s", prefix, (int) len, at);
        at += len + 1;
    }
}

//  Makes a pipe whose parent's end (side 0: read, 1: write) does not block.
static int
s_pipe (int fds[2], int parent)
{
    if (pipe2 (fds, O_CLOEXEC))
        return -1;
    int flags = fcntl (fds[parent], F_GETFL);
    if (flags == -1 || fcntl (fds[parent], F_SETFL, flags | O_NONBLOCK) == -1) {
        close (fds[0]);
        close (fds[1]);
        return -1;
    }
    return 0;
}

static void
s_close (int *fd)
{
    if (*fd >= 0)
        close (*fd);
    *fd = -1;
}

//  The guardian's answer to its parent's death (PR_SET_PDEATHSIG): the
//  whole group, itself included, dies at once.
static void
s_guardian_on_orphan (int signum)
{
    (void) signum;
    kill (0, SIGKILL);
}

//  The guardian: a small process between the mapper and the command, the
//  leader of the command's process group. When the mapper dies for any
//  reason (SIGKILL, a crash, Ctrl-C twice), the kernel tells the guardian
//  (PR_SET_PDEATHSIG), which kills the whole group: the shell and
//  whatever it started in the background. Otherwise it waits for the
//  shell and ends as it ended (its exit status, or its signal raised
//  again), so the mapper reads the command's own status. Runs after fork
//  in a threaded process: async-signal-safe calls only. Never returns.
static void
s_guardian (pid_t mapper, char *const argv[], int in, int out, int err)
{
    struct sigaction action = { .sa_handler = SIG_DFL };
    sigemptyset (&action.sa_mask);
    //  The mapper's handlers are not ours; SIGPIPE at its default again
    for (int signum = 1; signum < NSIG; signum++)
        if (signum != SIGKILL && signum != SIGSTOP)
            sigaction (signum, &action, NULL);
    action.sa_handler = s_guardian_on_orphan;
    sigaction (SIGTERM, &action, NULL);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    if (prctl (PR_SET_PDEATHSIG, SIGTERM) || getppid () != mapper)
        //  It died before prctl: no signal will come
        kill (0, SIGKILL);
    //  Only the three pipe ends: the mapper's other descriptors (the write
    //  end of stdin first) must not be held open here
    if (dup2 (in, 0) < 0 || dup2 (out, 1) < 0 || dup2 (err, 2) < 0)
        _exit (126);
    if (syscall (SYS_close_range, 3U, ~0U, 0U))
        for (int fd = 3; fd < 65536; fd++)
            close (fd);
    pid_t shell = fork ();
    if (shell < 0)
        _exit (126);
    if (shell == 0) {
        //  The shell: signals at their defaults (a pending SIGTERM handler
        //  is not inherited across exec), the death signal cleared by fork
        action.sa_handler = SIG_DFL;
        sigaction (SIGTERM, &action, NULL);
        execve ("/bin/sh", argv, environ);
        _exit (127);
    }
    //  Its stdio are the shell's business now
    close (0);
    close (1);
    close (2);
    int status;
    while (waitpid (shell, &status, 0) < 0)
        if (errno != EINTR)
            _exit (126);
    if (WIFSIGNALED (status)) {
        //  The same signal, without a core of ours
        struct rlimit none_core = { 0, 0 };
        setrlimit (RLIMIT_CORE, &none_core);
        prctl (PR_SET_PDEATHSIG, 0);
        action.sa_handler = SIG_DFL;
        sigaction (WTERMSIG (status), &action, NULL);
        kill (getpid (), WTERMSIG (status));
        _exit (128 + WTERMSIG (status));
    }
    _exit (WEXITSTATUS (status));
}

//  Starts /bin/sh -c command under a guardian (above) that leads a new
//  process group, with the three pipe ends as its stdin, stdout and
//  stderr, its signals at their defaults and none blocked. Returns the
//  guardian's pid (the group's id), or -1 with errno.
static pid_t
s_spawn (const char *command, int in, int out, int err)
{
    char *argv[] = { "sh", "-c", (char *) command, NULL };
    pid_t mapper = getpid ();
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid (0, 0);
        s_guardian (mapper, argv, in, out, err);
    }
    //  Here too: the group exists before we may killpg it
    setpgid (pid, pid);
    return pid;
}

//  Counts the '\n' in data[0 .. len).
static uint64_t
s_newlines (const char *data, size_t len)
{
    uint64_t n = 0;
    const char *end = data + len;
    while (data < end && (data = memchr (data, '\n', (size_t) (end - data)))) {
        n++;
        data++;
    }
    return n;
}

//  The next piece of input to write: from memory, or read from fd into
//  buf. Returns its length (0: no more), or -1 with a reason set.
static ssize_t
s_input (s_run_t *self, const char *data, size_t len, int fd, uint64_t offset,
         size_t *done, char *buf, size_t *buf_have, size_t *buf_at, const char **piece)
{
    if (fd < 0) {
        *piece = data + *done;
        return (ssize_t) (len - *done);
    }
    if (*buf_at == *buf_have) {
        size_t want = len - *done < S_PIECE? len - *done: S_PIECE;
        if (want == 0)
            return 0;
        ssize_t rc;
        do
            rc = pread (fd, buf, want, (off_t) (offset + *done));
        while (rc < 0 && errno == EINTR);
        if (rc <= 0) {
            s_fail (self, "cannot read %s for the map command: %s", self->cmd->what,
                    rc? strerror (errno): "the file is shorter than the chunk");
            return -1;
        }
        *buf_have = (size_t) rc;
        *buf_at = 0;
        self->result->input_lines += s_newlines (buf, (size_t) rc);
        self->last_byte = buf[rc - 1];
    }
    *piece = buf + *buf_at;
    return (ssize_t) (*buf_have - *buf_at);
}

int
zmr_command_run (const zmr_command_t *cmd, const void *data, size_t len, int fd,
                 uint64_t offset, zmr_command_result_t *result)
{
    memset (result, 0, sizeof *result);
    s_run_t self = { .cmd = cmd, .result = result };
    self.cap = cmd->max_key + 1 + S_VALUE_MAX;
    //  A write to a reader that is gone must fail with EPIPE, not kill us
    //  (the roles ignore SIGPIPE already; a test may not)
    struct sigaction old;
    if (sigaction (SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
        signal (SIGPIPE, SIG_IGN);
    char *buf = malloc (S_PIECE);
    char *io = malloc (S_PIECE);
    self.line = malloc (self.cap);
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    pid_t pid = -1;
    if (!buf || !io || !self.line) {
        s_fail (&self, "cannot run the map command on %s: out of memory", cmd->what);
        goto done;
    }
    if (s_pipe (in, 1) || s_pipe (out, 0) || s_pipe (err, 0)) {
        s_fail (&self, "cannot run the map command on %s: %s", cmd->what, strerror (errno));
        goto done;
    }
    pid = s_spawn (cmd->command, in[0], out[1], err[1]);
    if (pid < 0) {
        s_fail (&self, "cannot run the map command on %s: %s", cmd->what, strerror (errno));
        goto done;
    }
    s_close (&in[0]);
    s_close (&out[1]);
    s_close (&err[1]);

    int64_t start = zmr_now_ms ();
    int64_t tick_ms = cmd->tick_ms? cmd->tick_ms: S_TICK_MS;
    int64_t next_tick = start + tick_ms;
    size_t done_in = 0, buf_have = 0, buf_at = 0;
    bool exited = false;            //  The leader exited (not reaped yet)
    bool killed = false;            //  We sent the group SIGKILL
    bool timed_out = false;
    if (len == 0)
        s_close (&in[1]);
    while (out[0] >= 0 || err[0] >= 0 || !exited) {
        int64_t now = zmr_now_ms ();
        if (cmd->tick && now >= next_tick) {
            next_tick = now + tick_ms;
            if (cmd->tick (cmd->arg) && !killed) {
                result->interrupted = true;
                killpg (pid, SIGKILL);
                killed = true;
            }
        }
        if (cmd->timeout_ms && !killed && now - start >= (int64_t) cmd->timeout_ms) {
            timed_out = true;
            killpg (pid, SIGKILL);
            killed = true;
        }
        if (self.failed && !killed) {
            //  A bad line: the rest of the output does not matter
            killpg (pid, SIGKILL);
            killed = true;
        }
        if (killed || self.failed)
            s_close (&in[1]);
        if (!exited) {
            //  Seen, not reaped: the group keeps its id while its leader
            //  is a zombie, so the killpg below cannot hit another's
            siginfo_t info = { 0 };
            if (waitid (P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0
            &&  info.si_pid == pid) {
                exited = true;
                //  What it left running in the background would hold the
                //  pipes open (and outlive the chunk)
                killpg (pid, SIGKILL);
            }
        }
        if (exited && out[0] < 0 && err[0] < 0)
            break;
        struct pollfd fds[3];
        int nfds = 0;
        int at_in = -1, at_out = -1, at_err = -1;
        if (in[1] >= 0) {
            at_in = nfds;
            fds[nfds++] = (struct pollfd) { in[1], POLLOUT, 0 };
        }
        if (out[0] >= 0) {
            at_out = nfds;
            fds[nfds++] = (struct pollfd) { out[0], POLLIN, 0 };
        }
        if (err[0] >= 0) {
            at_err = nfds;
            fds[nfds++] = (struct pollfd) { err[0], POLLIN, 0 };
        }
        //  Wakes for the next tick, the timeout, and (pipes closed, leader
        //  alive) to look again for its exit
        int64_t wait = next_tick - now;
        if (cmd->timeout_ms && !killed && start + (int64_t) cmd->timeout_ms - now < wait)
            wait = start + (int64_t) cmd->timeout_ms - now;
        if (!exited && wait > 20 && (nfds == 0 || killed))
            wait = 20;
        if (!exited && nfds > 0 && wait > 100)
            wait = 100;     //  A leader's exit is seen without a pipe event
        if (wait < 0)
            wait = 0;
        int rc = poll (fds, (nfds_t) nfds, (int) wait);
        if (rc < 0 && errno != EINTR) {
            s_fail (&self, "cannot run the map command on %s: poll: %s", cmd->what,
                    strerror (errno));
            killpg (pid, SIGKILL);
            killed = true;
            s_close (&in[1]);
            s_close (&out[0]);
            s_close (&err[0]);
            continue;
        }
        if (rc <= 0)
            continue;
        if (at_in >= 0 && fds[at_in].revents) {
            const char *piece;
            ssize_t n = s_input (&self, data, len, fd, offset, &done_in, buf, &buf_have,
                                 &buf_at, &piece);
            if (n > 0) {
                ssize_t wrote = write (in[1], piece, (size_t) n);
                if (wrote > 0) {
                    done_in += (size_t) wrote;
                    buf_at += (size_t) wrote;
                }
                else
                if (wrote < 0 && errno != EAGAIN && errno != EINTR)
                    //  EPIPE: it stopped reading, its business (its
                    //  exit status tells whether that was right)
                    s_close (&in[1]);
            }
            if (n <= 0 || done_in == len)
                s_close (&in[1]);
        }
        if (at_out >= 0 && fds[at_out].revents) {
            ssize_t n = read (out[0], io, S_PIECE);
            if (n > 0)
                s_on_stdout (&self, io, (size_t) n);
            else
            if (n == 0 || (errno != EAGAIN && errno != EINTR))
                s_close (&out[0]);
        }
        if (at_err >= 0 && fds[at_err].revents) {
            ssize_t n = read (err[0], io, S_PIECE);
            if (n > 0)
                s_on_stderr (result, io, (size_t) n);
            else
            if (n == 0 || (errno != EAGAIN && errno != EINTR))
                s_close (&err[0]);
        }
    }
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (result->interrupted)
        s_fail (&self, "the map command on %s was stopped: interrupted", cmd->what);
    else
    if (timed_out)
        s_fail (&self, "map command ran past --map-timeout (%llu ms) on %s, killed",
                (unsigned long long) cmd->timeout_ms, cmd->what);
    else
    if (WIFSIGNALED (status) && !self.failed)
        s_fail (&self, "map command was killed by signal %d (%s) on %s", WTERMSIG (status),
                strsignal (WTERMSIG (status)), cmd->what);
    else
    if (WIFEXITED (status) && WEXITSTATUS (status) != 0) {
        result->exit_status = WEXITSTATUS (status);
        result->cannot_run = !self.failed && !killed
                          && (WEXITSTATUS (status) == 126 || WEXITSTATUS (status) == 127);
        s_fail (&self, "map command exited %d on %s", WEXITSTATUS (status), cmd->what);
    }
    else
    if (self.have && !self.failed)
        //  The last line, without its '\n'
        s_on_line (&self, self.line, self.have);
    //  The input's lines, also of what the command left unread
    if (!self.failed && fd < 0) {
        result->input_lines = s_newlines (data, len);
        if (len && ((const char *) data)[len - 1] != '\n')
            result->input_lines++;
    }
    else
    if (!self.failed) {
        //  Read and counted, not written: the rest of the piece in hand
        done_in += buf_have - buf_at;
        buf_at = buf_have;
        while (done_in < len && !self.failed) {
            const char *piece;
            if (s_input (&self, data, len, fd, offset, &done_in, buf, &buf_have, &buf_at,
                         &piece) <= 0)
                break;
            done_in += buf_have;
            buf_at = buf_have;
        }
        if (len && self.last_byte != '\n')
            result->input_lines++;
    }
done:
    if (pid > 0) {
        killpg (pid, SIGKILL);
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    s_close (&in[0]);
    s_close (&in[1]);
    s_close (&out[0]);
    s_close (&out[1]);
    s_close (&err[0]);
    s_close (&err[1]);
    free (buf);
    free (io);
    free (self.line);
    return self.failed? -1: 0;
}
