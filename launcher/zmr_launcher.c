/*  zmr_launcher: starts ventilator, sink, reducers and mappers as children,
    watches them and the status channel, and ends them all, whatever
    happens. A mapper that dies is only reported: the ledger re-issues its
    chunks. Any other role that dies before the job is done fails it. */
#define _GNU_SOURCE             //  pipe2
#include "zmr_launcher.h"
#include "zmr_output.h"
#include "zmr_http.h"
#include "zmr_argv.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

typedef enum { C_VENTILATOR, C_SINK, C_REDUCER, C_MAPPER } s_kind_t;
static const char *s_kind_names[] = { "ventilator", "sink", "reducer", "mapper" };

//  SIGINT, SIGTERM and SIGHUP only count here, the second too: zmr run
//  always stops its children and removes its directory (a second signal
//  only skips their grace). `timeout -s INT` sends its signal twice (to
//  the process, then to its group): exiting at once on the second left
//  the directory behind.
static volatile sig_atomic_t s_signals;        //  Stop signals so far
static volatile sig_atomic_t s_first_signal;   //  The first one
static volatile sig_atomic_t s_winch;          //  The terminal was resized
//  --listen, --ingest: the first stop signal only ends their input (the
//  ventilator's SIGUSR1), and the job finishes with what it took; the
//  second stops the job.
static volatile sig_atomic_t s_end_input_pid;  //  The ventilator, if so
static volatile sig_atomic_t s_input_ended;    //  That first signal came

static void
s_on_stop (int signum)
{
    if (s_end_input_pid && !s_input_ended) {
        s_input_ended = 1;
        kill ((pid_t) s_end_input_pid, SIGUSR1);
        return;
    }
    if (!s_first_signal)
        s_first_signal = signum;
    s_signals = s_signals + 1;
}

static void
s_on_winch (int signum)
{
    (void) signum;
    s_winch = 1;
}

#define S_CRASH_LIMIT   5        //  Crashes of one child ...
#define S_CRASH_WINDOW  30000    //  ... within this many ms fail the job
#define S_STABLE_MS     2000     //  A child up this long was not crash-looping

typedef struct {
    pid_t pid;               //  0 when not running
    int kind;                //  s_kind_t
    uint32_t index;          //  Partition or mapper number
    char **argv;             //  What it runs, for restarts (owned)
    int status;              //  waitpid status once reaped
    long maxrss_kb;          //  Peak resident memory over its runs
    int64_t crashes[S_CRASH_LIMIT];  //  When it last crashed, a ring
    uint32_t ncrashes;       //  Crashes so far
    int64_t restart_at;      //  When to start it again, or 0
    char restart_note[192];  //  Said when it is started again: how it ended
    int64_t started_at;      //  When it was last started
    uint64_t done_at_crash;  //  The job's chunks done at its last crash
} s_child_t;

typedef struct {
    const zmr_launcher_config_t *config;
    char dir[160];                   //  Private directory, or ""
    char bindir[PATH_MAX];           //  Where the role binaries are
    char control[ZMR_ENDPOINT_MAX];  //  Endpoints, bind form
    char chunks[ZMR_ENDPOINT_MAX];
    char status[ZMR_ENDPOINT_MAX];
    char sink[ZMR_ENDPOINT_MAX];
    char connect_control[ZMR_ENDPOINT_MAX];  //  Endpoint the workers dial
    char journal[PATH_MAX];          //  The ventilator's journal
    char certs[200];                 //  --curve: secret certificates, and
    char allow[200];                 //  every public one (the allow-list)
    s_child_t *children;             //  Everyone started
    size_t nchildren;                //  Entries in children
    char reason[512];                //  Why the job failed ("": said already)
    int lock_fd;                     //  flock'ed dir/lock: this run is alive
    char result[PATH_MAX];           //  The sink's result, copied to stdout
                                     //  once the job is done, or ""
    //  Typed input: stdin is a terminal that the ventilator, in its own
    //  process group, may not read. zmr run reads it and relays it through
    //  one pipe it keeps both ends of, so a ventilator started again finds
    //  the text not read yet.
    int relay_read, relay_write;     //  The pipe, or -1
    char relay_buf[4096];            //  Read from the terminal, not yet
    size_t relay_len, relay_off;     //  written to the pipe
    //  --follow: the sink's stdout is a pipe (a new one per start) that zmr
    //  run forwards in whole lines, so that a sink that dies mid-line
    //  tears nothing on stdout.
    int follow_fd;                   //  Read end, or -1
    char *fbuf;                      //  What came from it: [0, fout) written,
    size_t fcap, flen, fready, fout; //  [fout, fready) whole lines, then a part
    bool writes_stdout;              //  The result or --follow's lines
    bool stdout_fifo;                //  Written PIPE_BUF at a time, on POLLOUT
    bool stdout_closed;              //  EPIPE: the reader is gone (| head)
    int64_t held_back_at;            //  When --follow's lines last waited
    int stdout_errno;                //  Another write error, or 0
    //  The progress bar, on stderr.
    bool drawn;                      //  A bar is on the screen
    bool bar_used;                   //  One was drawn
    bool bar_shares_stdout;          //  stdout is the bar's terminal
    int width;                       //  The terminal's columns
    zmr_status_t *last;              //  The newest status, to redraw
} s_launcher_t;

static void
s_describe (int status, char *out, size_t size)
{
    if (WIFEXITED (status))
        snprintf (out, size, "exited with status %d", WEXITSTATUS (status));
    else
    if (WIFSIGNALED (status))
        snprintf (out, size, "was killed by signal %d (%s)", WTERMSIG (status),
                  strsignal (WTERMSIG (status)));
    else
        snprintf (out, size, "stopped");
}

//  Starts (or starts again) one child; argv[0] is the binary's name in bindir.
static int
s_launch (s_launcher_t *self, s_child_t *child)
{
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/%s", self->bindir, child->argv[0]);
    //  --follow: each sink gets a pipe of its own for stdout; what a dead
    //  one left in its pipe is read to the end first (s_follow_eof).
    int follow[2] = { -1, -1 };
    if (child->kind == C_SINK && self->config->follow
    &&  pipe2 (follow, O_CLOEXEC)) {
        snprintf (self->reason, sizeof self->reason, "cannot make a pipe for the sink: %s",
                  strerror (errno));
        return -1;
    }
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        snprintf (self->reason, sizeof self->reason, "cannot start %s: %s",
                  child->argv[0], strerror (errno));
        if (follow[0] >= 0) {
            close (follow[0]);
            close (follow[1]);
        }
        return -1;
    }
    if (pid == 0) {
        //  Die with the launcher, even if it is killed with SIGKILL.
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (1);
        //  Ctrl-C on the terminal reaches the launcher only; it stops the
        //  children in the right order.
        setpgid (0, 0);
        signal (SIGPIPE, SIG_DFL);
        //  Only zmr run writes its stdout: the result once, or --follow's
        //  lines through the pipe.
        int null = open ("/dev/null", O_RDWR);
        if (child->kind == C_VENTILATOR && (self->config->listen || self->config->ingest)) {
            //  Held until its handler is there (it unblocks it): a
            //  SIGUSR1 that comes first would kill it
            sigset_t usr1;
            sigemptyset (&usr1);
            sigaddset (&usr1, SIGUSR1);
            sigprocmask (SIG_BLOCK, &usr1, NULL);
        }
        if (child->kind == C_VENTILATOR && self->relay_read >= 0)
            dup2 (self->relay_read, STDIN_FILENO);
        else
        if (child->kind != C_VENTILATOR)
            dup2 (null, STDIN_FILENO);
        dup2 (follow[1] >= 0? follow[1]: null, STDOUT_FILENO);
        if (null > 2)
            close (null);
        execv (path, child->argv);
        fprintf (stderr, "zmr: cannot run %s: %s\n", path, strerror (errno));
        _exit (127);
    }
    if (follow[0] >= 0) {
        close (follow[1]);
        fcntl (follow[0], F_SETFL, O_NONBLOCK);
        self->follow_fd = follow[0];
    }
    child->pid = pid;
    child->restart_at = 0;
    child->started_at = zmr_now_ms ();
    if (child->kind == C_VENTILATOR && (self->config->listen || self->config->ingest)) {
        //  A ventilator started again after the input ended ends it too
        s_end_input_pid = pid;
        if (s_input_ended)
            kill (pid, SIGUSR1);
    }
    return 0;
}

//  Adds a child running argv (copied) and starts it.
static int
s_spawn (s_launcher_t *self, int kind, uint32_t index, char **argv)
{
    s_child_t *children = realloc (self->children, (self->nchildren + 1) * sizeof *children);
    if (!children)
        return -1;
    self->children = children;
    s_child_t *child = &self->children[self->nchildren];
    memset (child, 0, sizeof *child);
    child->kind = kind;
    child->index = index;
    size_t n = 0;
    while (argv[n])
        n++;
    child->argv = calloc (n + 1, sizeof *child->argv);
    if (!child->argv)
        return -1;
    self->nchildren++;
    for (size_t i = 0; i < n; i++)
        if (!(child->argv[i] = strdup (argv[i])))
            return -1;
    return s_launch (self, child);
}

//  --curve: one certificate pair per process, made now, in the private
//  directory; every public one goes in the allow-list every role reads.
static int
s_make_cert (s_launcher_t *self, const char *name)
{
    char secret[256], public[256];
    snprintf (secret, sizeof secret, "%s/%s.cert", self->certs, name);
    snprintf (public, sizeof public, "%s/%s.cert", self->allow, name);
    zcert_t *cert = zcert_new ();
    int rc = cert? zcert_save_secret (cert, secret) | zcert_save_public (cert, public): -1;
    zcert_destroy (&cert);
    if (rc)
        snprintf (self->reason, sizeof self->reason, "cannot write certificate %s: %s",
                  secret, strerror (errno));
    return rc? -1: 0;
}

static int
s_make_certs (s_launcher_t *self)
{
    const zmr_launcher_config_t *config = self->config;
    snprintf (self->certs, sizeof self->certs, "%s/certs", self->dir);
    snprintf (self->allow, sizeof self->allow, "%s/allow", self->dir);
    if (mkdir (self->certs, 0700) || mkdir (self->allow, 0700)) {
        snprintf (self->reason, sizeof self->reason, "cannot create %s: %s", self->certs,
                  strerror (errno));
        return -1;
    }
    char name[32];
    if (s_make_cert (self, "ventilator") || s_make_cert (self, "sink")
    ||  s_make_cert (self, "run"))
        return -1;
    for (uint32_t p = 0; p < config->reducers; p++) {
        snprintf (name, sizeof name, "reducer-%u", p);
        if (s_make_cert (self, name))
            return -1;
    }
    for (uint32_t m = 0; m < config->mappers; m++) {
        snprintf (name, sizeof name, "mapper-%u", m);
        if (s_make_cert (self, name))
            return -1;
    }
    return 0;
}

//  The options every child gets: --max-message, and with --curve the
//  child's certificate (name), the allow-list if it binds, the
//  ventilator's certificate if it connects.
static void
s_common_args (s_launcher_t *self, const char *name, int use, zmr_argv_t *argv)
{
    if (self->config->max_message)
        zmr_argv_addf (argv, "--max-message=%llu",
                       (unsigned long long) self->config->max_message);
    if (!self->config->curve)
        return;
    zmr_argv_addf (argv, "--curve-cert=%s/%s.cert", self->certs, name);
    if (use & ZMR_CURVE_BINDS)
        zmr_argv_addf (argv, "--curve-allow=%s", self->allow);
    if (use & ZMR_CURVE_CONNECTS)
        zmr_argv_addf (argv, "--curve-server=%s/ventilator.cert", self->allow);
}

//  Builds the endpoints: ipc:// in the private directory, or tcp:// on
//  consecutive ports when exposed. Returns 0, -1 (a failure) or -2 (a
//  misused --expose), with self->reason.
static int
s_endpoints (s_launcher_t *self)
{
    const zmr_launcher_config_t *config = self->config;
    if (config->expose) {
        char host[200];
        zmr_endpoint_host (config->expose, host, sizeof host);
        const char *colon = strrchr (config->expose, ':');
        uint64_t port;
        //  PORT .. PORT+3 for the ventilator and the sink, then one per
        //  reducer: the last is PORT+3+R.
        if (!host[0] || !colon || zmr_parse_u64 (colon + 1, 1, 65535 - 3 - config->reducers, &port)) {
            snprintf (self->reason, sizeof self->reason,
                      "option --expose: expected tcp://HOST:PORT with room for %u ports, got '%s'",
                      4 + config->reducers, config->expose);
            return -2;
        }
        snprintf (self->control, sizeof self->control, "tcp://%s:%llu", host, (unsigned long long) port);
        snprintf (self->chunks, sizeof self->chunks, "tcp://%s:%llu", host, (unsigned long long) port + 1);
        snprintf (self->status, sizeof self->status, "tcp://%s:%llu", host, (unsigned long long) port + 2);
        snprintf (self->sink, sizeof self->sink, "tcp://%s:%llu", host, (unsigned long long) port + 3);
        zmr_endpoint_with_host (self->control, "127.0.0.1", self->connect_control,
                                sizeof self->connect_control);
        return 0;
    }
    snprintf (self->control, sizeof self->control, "ipc://%s/control", self->dir);
    snprintf (self->chunks, sizeof self->chunks, "ipc://%s/chunks", self->dir);
    snprintf (self->status, sizeof self->status, "ipc://%s/status", self->dir);
    snprintf (self->sink, sizeof self->sink, "ipc://%s/sink", self->dir);
    snprintf (self->connect_control, sizeof self->connect_control, "%s", self->control);
    if (strlen (self->control) + 16 >= 108) {
        snprintf (self->reason, sizeof self->reason,
                  "temporary directory path too long for ipc:// (%s): set TMPDIR shorter",
                  self->dir);
        return -1;
    }
    return 0;
}

static void
s_reducer_endpoint (s_launcher_t *self, uint32_t p, char *out, size_t size)
{
    if (self->config->expose) {
        const char *colon = strrchr (self->control, ':');
        unsigned long port = strtoul (colon + 1, NULL, 10) + 4 + p;
        snprintf (out, size, "%.*s:%lu", (int) (colon - self->control), self->control, port);
    }
    else
        snprintf (out, size, "ipc://%s/reducer-%u", self->dir, p);
}

//  Most arguments a child gets besides the ventilator's input files:
//  twice what the longest list below adds, so that one more option cannot
//  silently overflow it, and a slip fails the start with a reason instead.
#define S_ARGV_OPTIONS 64

//  The -q, -v.. a child gets, or NULL when zmr run is neither (the child's
//  own default).
static const char *
s_verbosity (const zmr_launcher_config_t *config, char *out, size_t size)
{
    if (!config->verbose)
        return NULL;
    snprintf (out, size, "-%.*s", config->verbose > 3? 3: config->verbose, "vvv");
    return out;
}

//  Adds a child running argv, or fails the start with a reason if argv
//  could not be built. Destroys argv.
static int
s_spawn_built (s_launcher_t *self, int kind, uint32_t index, zmr_argv_t **argv_p)
{
    char **items = *argv_p? zmr_argv_items (*argv_p): NULL;
    int rc = -1;
    if (!items)
        snprintf (self->reason, sizeof self->reason,
                  "cannot build the command line of a %s: too many arguments or no memory",
                  s_kind_names[kind]);
    else
        rc = s_spawn (self, kind, index, items);
    zmr_argv_destroy (argv_p);
    return rc;
}

//  The ventilator: it binds what the others dial, so it starts first.
static int
s_start_ventilator (s_launcher_t *self)
{
    const zmr_launcher_config_t *config = self->config;
    char verbose[8];
    zmr_argv_t *argv = zmr_argv_new (S_ARGV_OPTIONS + config->ninputs);
    if (!argv)
        return s_spawn_built (self, C_VENTILATOR, 0, &argv);
    zmr_argv_add (argv, "zmr-ventilator");
    zmr_argv_addf (argv, "--control=%s", self->control);
    zmr_argv_addf (argv, "--chunks=%s", self->chunks);
    zmr_argv_addf (argv, "--status=%s", self->status);
    if (config->status)
        zmr_argv_addf (argv, "--status=%s", config->status);
    zmr_argv_add (argv, "--reducers");
    zmr_argv_addf (argv, "%u", config->reducers);
    zmr_argv_add (argv, "--chunk-size");
    zmr_argv_addf (argv, "%llu", (unsigned long long) config->chunk_size);
    zmr_argv_add (argv, "--dead-ms");
    zmr_argv_addf (argv, "%u", config->dead_ms);
    if (config->poison_limit)
        zmr_argv_addf (argv, "--poison-limit=%u", config->poison_limit);
    //  A fixed job id and a journal: a ventilator started again resumes.
    uint64_t job = 0;
    while (job == 0)
        zmr_random (&job, sizeof job);
    zmr_argv_addf (argv, "--job=%llu", (unsigned long long) job);
    snprintf (self->journal, sizeof self->journal, "%s/journal", self->dir);
    zmr_argv_addf (argv, "--journal=%s", self->journal);
    //  Mappers on this machine read the files themselves; exposed, others
    //  may join from elsewhere and need the bytes.
    if (!config->expose)
        zmr_argv_add (argv, "--by-reference");
    if (config->max_word)
        zmr_argv_addf (argv, "--max-word=%llu", (unsigned long long) config->max_word);
    //  The job: the ventilator names it (kind and digest) in WELCOME.
    if (config->map)
        zmr_argv_addf (argv, "--map=%s", config->map);
    if (config->plugin)
        zmr_argv_addf (argv, "--plugin=%s", config->plugin);
    if (config->reduce)
        zmr_argv_addf (argv, "--reduce=%s", config->reduce);
    if (config->window_ms)
        zmr_argv_addf (argv, "--window-ms=%llu", (unsigned long long) config->window_ms);
    if (config->event_format) {
        zmr_argv_addf (argv, "--event-time=%s", zmr_evtime_format_name (config->event_format));
        if (config->every_ms)
            zmr_argv_addf (argv, "--every-ms=%llu", (unsigned long long) config->every_ms);
        zmr_argv_addf (argv, "--allowed-lateness-ms=%llu",
                       (unsigned long long) config->lateness_ms);
    }
    if (config->flush_ms)
        zmr_argv_addf (argv, "--flush-ms=%u", config->flush_ms);
    if (config->stream)
        zmr_argv_addf (argv, "--live-ms=%u", config->live_ms);
    if (config->listen)
        zmr_argv_addf (argv, "--listen=%s", config->listen);
    if (config->ingest)
        zmr_argv_addf (argv, "--ingest=%s", config->ingest);
    if (s_verbosity (config, verbose, sizeof verbose))
        zmr_argv_add (argv, verbose);
    s_common_args (self, "ventilator", ZMR_CURVE_BINDS, argv);
    zmr_argv_add (argv, "--");
    for (size_t i = 0; i < config->ninputs; i++)
        zmr_argv_add (argv, config->inputs[i]);
    return s_spawn_built (self, C_VENTILATOR, 0, &argv);
}

static int
s_start_sink (s_launcher_t *self)
{
    const zmr_launcher_config_t *config = self->config;
    char verbose[8];
    zmr_argv_t *argv = zmr_argv_new (S_ARGV_OPTIONS);
    if (!argv)
        return s_spawn_built (self, C_SINK, 0, &argv);
    zmr_argv_add (argv, "zmr-sink");
    zmr_argv_addf (argv, "--bind=%s", self->sink);
    if (config->window_dir)
        zmr_argv_addf (argv, "--window-dir=%s", config->window_dir);
    if (config->follow)
        zmr_argv_add (argv, "--follow");
    if (config->follow_ms)
        zmr_argv_addf (argv, "--follow-ms=%u", config->follow_ms);
    if (config->snapshot)
        zmr_argv_addf (argv, "--snapshot=%s", config->snapshot);
    if (config->publish)
        zmr_argv_addf (argv, "--publish=%s", config->publish);
    if (config->output || self->result[0])
        zmr_argv_addf (argv, "--output=%s", config->output? config->output: self->result);
    //  zmr run checked --parts and --window-dir before the job (refused
    //  files of an earlier run, or removed them with --force): what the
    //  sink finds there when it is started again is its own.
    if (config->parts_dir || config->window_dir)
        zmr_argv_add (argv, "--force");
    if (config->parts_dir)
        zmr_argv_addf (argv, "--parts=%s", config->parts_dir);
    if (config->receipt)
        zmr_argv_addf (argv, "--receipt=%s", config->receipt);
    if (s_verbosity (config, verbose, sizeof verbose))
        zmr_argv_add (argv, verbose);
    s_common_args (self, "sink", ZMR_CURVE_BINDS | ZMR_CURVE_CONNECTS, argv);
    zmr_argv_add (argv, self->connect_control);
    return s_spawn_built (self, C_SINK, 0, &argv);
}

static int
s_start_reducer (s_launcher_t *self, uint32_t p)
{
    const zmr_launcher_config_t *config = self->config;
    char verbose[8], endpoint[ZMR_ENDPOINT_MAX], name[32];
    zmr_argv_t *argv = zmr_argv_new (S_ARGV_OPTIONS);
    if (!argv)
        return s_spawn_built (self, C_REDUCER, p, &argv);
    s_reducer_endpoint (self, p, endpoint, sizeof endpoint);
    zmr_argv_add (argv, "zmr-reducer");
    zmr_argv_add (argv, "--partition");
    zmr_argv_addf (argv, "%u", p);
    zmr_argv_add (argv, "--reducers");
    zmr_argv_addf (argv, "%u", config->reducers);
    zmr_argv_addf (argv, "--bind=%s", endpoint);
    //  Durable state: a reducer started again loses nothing.
    zmr_argv_addf (argv, "--state=%s/state", self->dir);
    if (config->max_distinct)
        zmr_argv_addf (argv, "--max-distinct=%llu", (unsigned long long) config->max_distinct);
    if (s_verbosity (config, verbose, sizeof verbose))
        zmr_argv_add (argv, verbose);
    snprintf (name, sizeof name, "reducer-%u", p);
    s_common_args (self, name, ZMR_CURVE_BINDS | ZMR_CURVE_CONNECTS, argv);
    zmr_argv_add (argv, self->connect_control);
    return s_spawn_built (self, C_REDUCER, p, &argv);
}

static int
s_start_mapper (s_launcher_t *self, uint32_t m)
{
    const zmr_launcher_config_t *config = self->config;
    char verbose[8], name[32];
    zmr_argv_t *argv = zmr_argv_new (S_ARGV_OPTIONS);
    if (!argv)
        return s_spawn_built (self, C_MAPPER, m, &argv);
    zmr_argv_add (argv, "zmr-mapper");
    //  --once: zmr run is one job; a mapper must not wait for a next.
    zmr_argv_add (argv, "--once");
    if (config->map_cost)
        zmr_argv_addf (argv, "--map-cost=%u", config->map_cost);
    //  What this mapper may run: the job's own definition, so that it
    //  accepts the digest the ventilator names (a mapper runs nothing a
    //  message names; docs/security.md).
    if (config->map)
        zmr_argv_addf (argv, "--map=%s", config->map);
    if (config->plugin)
        zmr_argv_addf (argv, "--plugin=%s", config->plugin);
    if (config->map_timeout_ms)
        zmr_argv_addf (argv, "--map-timeout=%llums", (unsigned long long) config->map_timeout_ms);
    if (s_verbosity (config, verbose, sizeof verbose))
        zmr_argv_add (argv, verbose);
    snprintf (name, sizeof name, "mapper-%u", m);
    s_common_args (self, name, ZMR_CURVE_CONNECTS, argv);
    zmr_argv_add (argv, self->connect_control);
    return s_spawn_built (self, C_MAPPER, m, &argv);
}

static int
s_start (s_launcher_t *self)
{
    if (s_start_ventilator (self) || s_start_sink (self))
        return -1;
    for (uint32_t p = 0; p < self->config->reducers; p++)
        if (s_start_reducer (self, p))
            return -1;
    for (uint32_t m = 0; m < self->config->mappers; m++)
        if (s_start_mapper (self, m))
            return -1;
    return 0;
}

//  Reaps whatever has ended. Returns the number of children reaped.
static int
s_reap (s_launcher_t *self, int *ended_status, s_child_t **ended)
{
    int status;
    struct rusage usage;
    pid_t pid = wait4 (-1, &status, WNOHANG, &usage);
    if (pid <= 0)
        return 0;
    for (size_t i = 0; i < self->nchildren; i++)
        if (self->children[i].pid == pid) {
            self->children[i].pid = 0;
            self->children[i].status = status;
            if (usage.ru_maxrss > self->children[i].maxrss_kb)
                self->children[i].maxrss_kb = usage.ru_maxrss;
            *ended = &self->children[i];
            *ended_status = status;
            return 1;
        }
    return s_reap (self, ended_status, ended);
}

//  Ends every child still running, or only those of kind when kind >= 0:
//  lets them leave by themselves for leave_ms, then SIGTERM, then SIGKILL
//  after grace_ms more.
static void
s_stop_all (s_launcher_t *self, int kind, int leave_ms, int grace_ms)
{
    int64_t term_at = zmr_now_ms () + leave_ms;
    int64_t deadline = term_at + grace_ms;
    bool termed = false, killed = false;
    while (true) {
        bool running = false;
        for (size_t i = 0; i < self->nchildren; i++) {
            s_child_t *child = &self->children[i];
            if (!child->pid || (kind >= 0 && (int) child->kind != kind))
                continue;
            struct rusage usage;
            pid_t rc = wait4 (child->pid, &child->status, WNOHANG, &usage);
            if (rc == child->pid && usage.ru_maxrss > child->maxrss_kb)
                child->maxrss_kb = usage.ru_maxrss;
            if (rc == child->pid || (rc < 0 && errno == ECHILD))
                child->pid = 0;
            else {
                running = true;
                int64_t now = zmr_now_ms ();
                if (s_signals > 1 && !killed) {
                    deadline = now - 1;         //  Asked twice: no grace
                    termed = true;
                }
                if ((now >= term_at && !termed) || (now > deadline && !killed))
                    kill (child->pid, now > deadline? SIGKILL: SIGTERM);
            }
        }
        if (!running)
            break;
        int64_t now = zmr_now_ms ();
        termed = termed || now >= term_at;
        killed = killed || now > deadline;
        zclock_sleep (2);
    }
}

//  Removes dir and everything in it (sockets, journal, reducer state).
static void
s_remove_dir (const char *dir)
{
    if (!dir[0])
        return;
    DIR *handle = opendir (dir);
    if (handle) {
        struct dirent *entry;
        while ((entry = readdir (handle))) {
            if (!strcmp (entry->d_name, ".") || !strcmp (entry->d_name, ".."))
                continue;
            char path[PATH_MAX];
            if (snprintf (path, sizeof path, "%s/%s", dir, entry->d_name) >= (int) sizeof path)
                continue;
            struct stat st;
            if (lstat (path, &st) == 0 && S_ISDIR (st.st_mode))
                s_remove_dir (path);
            else
                unlink (path);
        }
        closedir (handle);
    }
    rmdir (dir);
}

//  Checks every input before anything starts: the job does not start on a
//  missing or unreadable file.
static int
s_check_inputs (const zmr_launcher_config_t *config)
{
    char error[512];
    zmr_chunker_t *chunker = zmr_chunker_new (config->inputs, config->ninputs,
                                              1, ZMR_MAX_CHUNK, error, sizeof error);
    if (!chunker) {
        if (!s_signals)         //  Ctrl-C while a FIFO waits for its writer
            zmr_log (0, "%s", error);
        return -1;
    }
    zmr_chunker_destroy (&chunker);
    return 0;
}

//  The terminal's width, from stderr (the bar's terminal); 80 if unknown.
static int
s_term_width (void)
{
    struct winsize size;
    if (ioctl (STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
        return size.ws_col;
    return 80;
}

//  Draws the bar in place: back to the start of the line, the bar, clear
//  to the end. One column is left free: a line that fills the last column
//  leaves the cursor pending a wrap, and some terminals then wrap it.
static void
s_draw (s_launcher_t *self, const zmr_status_t *status)
{
    if (s_winch) {
        s_winch = 0;
        self->width = s_term_width ();
    }
    fputs ("\r", stderr);
    zmr_status_write_progress (status, stderr, self->width > 1? self->width - 1: 1);
    fputs ("\033[K", stderr);
    fflush (stderr);
    self->drawn = self->bar_used = true;
}

//  Takes the bar off the screen before lines go to the same terminal on
//  stdout, so that no line has the bar glued to it.
static void
s_undraw (s_launcher_t *self)
{
    if (self->drawn && self->bar_shares_stdout) {
        fputs ("\r\033[K", stderr);
        fflush (stderr);
        self->drawn = false;
    }
}

//  Reads what the status channel has (without waiting); keeps the newest
//  state in *last and draws it if asked.
static void
s_read_status (s_launcher_t *self, zsock_t *sub, zmr_status_t *last)
{
    zmq_msg_t frame;
    int frames;
    while (zmr_msg_recv (sub, &frame, 1, &frames, ZMQ_DONTWAIT) == 0) {
        zmr_msg_t msg;
        zmr_status_t status;
        memset (&status, 0, sizeof status);
        const char *why;
        if (zmr_msg_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &msg, &why) == 0
        &&  msg.type == ZMR_STATUS && zmr_status_decode (&msg, &status, &why) == 0) {
            zmr_status_reset (last);
            *last = status;
            if (self->config->progress)
                s_draw (self, last);
        }
        else
            zmr_status_reset (&status);
        zmq_msg_close (&frame);
    }
}

//  Writes what can go to stdout now of --follow's whole lines: PIPE_BUF at
//  a time to a pipe (POLLOUT promises that much, so zmr run never blocks
//  on a slow reader and goes on watching the job), all of it to anything
//  else. EPIPE marks stdout closed.
static void
s_follow_write (s_launcher_t *self, bool all)
{
    bool undrawn = false;
    while (self->fout < self->fready && !self->stdout_closed && !self->stdout_errno) {
        size_t n = self->fready - self->fout;
        if (self->stdout_fifo && !all && n > PIPE_BUF)
            n = PIPE_BUF;
        if (!undrawn && self->drawn && self->bar_shares_stdout) {
            s_undraw (self);
            undrawn = true;
        }
        ssize_t rc = write (STDOUT_FILENO, self->fbuf + self->fout, n);
        if (rc > 0)
            self->fout += (size_t) rc;
        else
        if (rc < 0 && errno == EPIPE)
            self->stdout_closed = true;
        else
        if (rc < 0 && errno == EINTR && s_signals)
            break;
        else
        if (rc < 0 && errno != EINTR && errno != EAGAIN)
            self->stdout_errno = errno;
        else
        if (rc < 0 && errno == EAGAIN && all) {
            struct pollfd out = { STDOUT_FILENO, POLLOUT, 0 };
            poll (&out, 1, 100);
        }
        if (!all && (rc <= 0 || self->stdout_fifo))
            break;
    }
    if (self->fout == self->fready && self->fout) {
        memmove (self->fbuf, self->fbuf + self->fout, self->flen - self->fout);
        self->flen -= self->fout;
        self->fready = self->fout = 0;
    }
    if (undrawn && self->config->progress && self->last && self->last->seq)
        s_draw (self, self->last);
}

//  Reads what the sink's pipe has. Whole lines become ready to write; at
//  the end of the pipe (that sink is gone) a last part of a line is
//  dropped: the next sink sends every total again, whole.
static void
s_follow_read (s_launcher_t *self)
{
    while (self->follow_fd >= 0) {
        if (self->flen == self->fcap) {
            if (self->fready)
                return;         //  Room comes as stdout takes lines
            //  One line longer than the buffer (a word may be 64 MiB)
            size_t cap = self->fcap? self->fcap * 2: 1 << 16;
            char *buf = realloc (self->fbuf, cap);
            if (!buf) {
                self->stdout_errno = ENOMEM;
                return;
            }
            self->fbuf = buf;
            self->fcap = cap;
        }
        ssize_t n = read (self->follow_fd, self->fbuf + self->flen, self->fcap - self->flen);
        if (n > 0) {
            size_t scan = self->flen;
            self->flen += (size_t) n;
            for (size_t i = self->flen; i > scan; i--)
                if (self->fbuf[i - 1] == '\n') {
                    self->fready = i;
                    break;
                }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        close (self->follow_fd);
        self->follow_fd = -1;
        self->flen = self->fready;
    }
}

//  Typed input: reads the terminal when the relay has nothing pending, and
//  writes what it read to the ventilator's pipe without blocking. The end
//  of the terminal's input (Ctrl-D: read returns 0; or an error, e.g. the
//  terminal hung up) closes the pipe: the ventilator sees the end of its
//  input.
static void
s_relay (s_launcher_t *self, bool readable)
{
    if (self->relay_write < 0)
        return;
    if (readable && self->relay_off == self->relay_len) {
        ssize_t n = read (STDIN_FILENO, self->relay_buf, sizeof self->relay_buf);
        if (n > 0) {
            self->relay_len = (size_t) n;
            self->relay_off = 0;
        }
        else
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close (self->relay_write);
            self->relay_write = -1;
            return;
        }
    }
    while (self->relay_off < self->relay_len) {
        ssize_t n = write (self->relay_write, self->relay_buf + self->relay_off,
                           self->relay_len - self->relay_off);
        if (n <= 0)
            break;              //  EAGAIN: the pipe is full, POLLOUT tells
        self->relay_off += (size_t) n;
    }
}

//  Waits up to wait_ms for any of: a status, typed input, room in the relay
//  pipe, the sink's --follow lines, room on stdout (or a closed one).
static void
s_wait (s_launcher_t *self, zsock_t *sub, zmr_status_t *last, int wait_ms)
{
    zmq_pollitem_t items[5];
    int n = 0, i_sub = -1, i_tty = -1, i_relay = -1, i_follow = -1, i_out = -1;
    if (sub) {
        items[n] = (zmq_pollitem_t) { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 };
        i_sub = n++;
    }
    if (self->relay_write >= 0) {
        if (self->relay_off == self->relay_len) {
            items[n] = (zmq_pollitem_t) { NULL, STDIN_FILENO, ZMQ_POLLIN, 0 };
            i_tty = n++;
        }
        else {
            items[n] = (zmq_pollitem_t) { NULL, self->relay_write, ZMQ_POLLOUT, 0 };
            i_relay = n++;
        }
    }
    if (self->follow_fd >= 0 && (self->flen < self->fcap || !self->fready)) {
        items[n] = (zmq_pollitem_t) { NULL, self->follow_fd, ZMQ_POLLIN, 0 };
        i_follow = n++;
    }
    //  A pipe on stdout is watched even with nothing to write: its reader
    //  gone (POLLERR), the job ends at once, like any filter's.
    if (self->fout < self->fready || (self->stdout_fifo && self->writes_stdout)) {
        items[n] = (zmq_pollitem_t) { NULL, STDOUT_FILENO,
                                      (short) (self->fout < self->fready? ZMQ_POLLOUT: 0), 0 };
        i_out = n++;
    }
    if (zmq_poll (items, n, wait_ms) <= 0)
        return;
    if (i_sub >= 0 && items[i_sub].revents)
        s_read_status (self, sub, last);
    if ((i_tty >= 0 && items[i_tty].revents) || (i_relay >= 0 && items[i_relay].revents))
        s_relay (self, i_tty >= 0);
    if (i_follow >= 0 && items[i_follow].revents)
        s_follow_read (self);
    if (i_out >= 0 && (items[i_out].revents & ZMQ_POLLERR) && self->stdout_fifo)
        self->stdout_closed = true;     //  POLLERR on a pipe: no reader
    else
    if (i_out >= 0 && (items[i_out].revents & ZMQ_POLLOUT))
        s_follow_write (self, false);
    if (!self->stdout_fifo && self->fout < self->fready)
        s_follow_write (self, false);
}

//  Whether the ventilator has ended and is not reaped yet (WNOWAIT leaves
//  it for s_reap, which tells how it ended).
static bool
s_ventilator_ended (s_launcher_t *self)
{
    for (size_t i = 0; i < self->nchildren; i++)
        if (self->children[i].kind == C_VENTILATOR && self->children[i].pid) {
            siginfo_t info;
            memset (&info, 0, sizeof info);
            return waitid (P_PID, (id_t) self->children[i].pid, &info,
                           WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0;
        }
    return false;
}

//  A child ended before the job was done: start it again after a backoff,
//  unless it keeps crashing (chunks_done: the job's, from its last status).
//  Returns true if the job must fail.
static bool
s_crashed (s_launcher_t *self, s_child_t *child, const char *how, uint64_t chunks_done)
{
    char name[64];
    if (child->kind == C_REDUCER || child->kind == C_MAPPER)
        snprintf (name, sizeof name, "%s %u", s_kind_names[child->kind], child->index);
    else
        snprintf (name, sizeof name, "the %s", s_kind_names[child->kind]);
    int64_t now = zmr_now_ms ();
    //  Mappers are elastic, and a chunk that kills them is quarantined by
    //  the ventilator: a mapper that ran a while and was killed is just
    //  started again. Only one that dies as it starts is crash-looping.
    if (child->kind == C_MAPPER && now - child->started_at >= 1000) {
        child->restart_at = now + 100;
        snprintf (child->restart_note, sizeof child->restart_note, "%s %s", name, how);
        return false;
    }
    //  Crash-looping is dying soon after each start, or while the job
    //  stands still. A child that ran a while (S_STABLE_MS) and died after
    //  the job moved on since its last crash starts its count again: with
    //  one reducer on 2 cores, bench/chaos.sh (a kill -9 every 1-3 s, a
    //  quarter of them at reducers) failed 2 of 6 jobs that were going
    //  fine, for 5 kills of reducer 0 within 30 s.
    if (now - child->started_at >= S_STABLE_MS && chunks_done > child->done_at_crash)
        child->ncrashes = 0;
    child->done_at_crash = chunks_done;
    child->crashes[child->ncrashes % S_CRASH_LIMIT] = now;
    child->ncrashes++;
    //  The oldest of the last S_CRASH_LIMIT crashes, this one included.
    int64_t oldest = child->crashes[child->ncrashes % S_CRASH_LIMIT];
    if (child->ncrashes >= S_CRASH_LIMIT && now - oldest < S_CRASH_WINDOW) {
        snprintf (self->reason, sizeof self->reason, "%s crashed %d times in %d s (last: %s)",
                  name, S_CRASH_LIMIT, S_CRASH_WINDOW / 1000, how);
        return true;
    }
    //  Backoff: 100 ms, doubling with each recent crash of this child (within
    //  the window), at most 3 s.
    uint32_t recent = 0;
    for (uint32_t i = 0; i < S_CRASH_LIMIT && i < child->ncrashes; i++)
        recent += now - child->crashes[i] < S_CRASH_WINDOW;
    uint32_t shift = recent - 1;
    int64_t backoff = 100ll << shift;
    if (backoff > 3000)
        backoff = 3000;
    child->restart_at = now + backoff;
    snprintf (child->restart_note, sizeof child->restart_note, "%s %s", name, how);
    return false;
}

//  A child that is frozen (SIGSTOP, a hang) does not end by itself: the
//  status shows it dead for longer than the timeout, or, for the
//  ventilator, the status stops. It is killed, and so started again.
static void
s_kill_frozen (s_launcher_t *self, zmr_status_t *last, int64_t last_status_at,
               uint32_t dead_ms)
{
    int64_t now = zmr_now_ms ();
    if (self->fout < self->fready)
        self->held_back_at = now;       //  Lines wait for stdout
    for (size_t i = 0; i < self->nchildren; i++) {
        s_child_t *child = &self->children[i];
        if (!child->pid)
            continue;
        //  A --follow sink blocked on its pipe because stdout's reader is
        //  slow is held back, not frozen (killed, the next one would send
        //  every total again into the same slow reader): its silence
        //  counts from the end of the hold-up.
        if (child->kind == C_SINK && now - self->held_back_at <= 2 * (int64_t) dead_ms)
            continue;
        bool frozen = false;
        if (child->kind == C_VENTILATOR) {
            //  Silent for long, counted from its start: the last status
            //  may be from the ventilator before it
            int64_t since = last_status_at > child->started_at? last_status_at
                          : child->started_at;
            frozen = last_status_at && now - since > 2 * (int64_t) dead_ms;
        }
        for (uint32_t w = 0; !frozen && w < last->nworkers; w++) {
            const char *colon = strrchr (last->workers[w].name, ':');
            frozen = colon && atol (colon + 1) == (long) child->pid
                  && !strcmp (last->workers[w].state, "dead")
                  && last->workers[w].last_seen_ms > 2 * (uint64_t) dead_ms;
        }
        if (frozen) {
            zmr_log (0, "%s %u (pid %d) is frozen: killing it to start it again",
                     s_kind_names[child->kind], child->index, (int) child->pid);
            kill (child->pid, SIGKILL);
        }
    }
}

//  Whether every child of kind has ended.
static bool
s_gone (s_launcher_t *self, int kind)
{
    for (size_t i = 0; i < self->nchildren; i++)
        if (self->children[i].kind == kind && self->children[i].pid)
            return false;
    return true;
}

//  Proportional set size of a process in KiB (each shared page divided
//  among the processes that map it), or 0 if it cannot be read.
static long
s_pss_kb (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line[256];
    long kb = 0;
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "Pss: %ld kB", &kb) == 1)
            break;
    fclose (file);
    return kb;
}

//  The job's memory now: the sum of the PSS of the launcher and every live
//  child. Summed RSS counts the pages of libzmq, libc and the rest once per
//  process; summed PSS counts every page once, so it is what the whole
//  pipeline holds.
static long
s_pss_now (s_launcher_t *self)
{
    long total = s_pss_kb (getpid ());
    for (size_t i = 0; i < self->nchildren; i++)
        if (self->children[i].pid)
            total += s_pss_kb (self->children[i].pid);
    return total;
}

//  SIGCHLD interrupts the wait for a status (poll(2) is never restarted,
//  whatever SA_RESTART says; other calls are): the loop then reaps at once
//  instead of up to 50 ms later.
static void
s_on_child (int signum)
{
    (void) signum;
}

static void
s_signals_install (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    sigemptyset (&action.sa_mask);
    action.sa_handler = s_on_child;
    action.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction (SIGCHLD, &action, NULL);
    action.sa_handler = s_on_winch;
    action.sa_flags = SA_RESTART;
    sigaction (SIGWINCH, &action, NULL);
    //  No SA_RESTART: a blocking call returns EINTR and the loop looks.
    action.sa_handler = s_on_stop;
    action.sa_flags = 0;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGHUP, &action, NULL);
    signal (SIGPIPE, SIG_IGN);          //  EPIPE tells instead
}

//  What names a file as an output: the file itself when it exists, else
//  its directory and its last name (two outputs not made yet can still be
//  one file).
typedef struct {
    dev_t dev;
    ino_t ino;
    char name[NAME_MAX + 1];            //  "" when the file exists
} s_file_id_t;

static bool
s_file_id (const char *path, s_file_id_t *id)
{
    struct stat st;
    memset (id, 0, sizeof *id);
    if (stat (path, &st) == 0) {
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        return true;
    }
    char copy[PATH_MAX], name[PATH_MAX];
    snprintf (copy, sizeof copy, "%s", path);
    snprintf (name, sizeof name, "%s", path);
    if (stat (dirname (copy), &st))
        return false;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    snprintf (id->name, sizeof id->name, "%s", basename (name));
    return true;
}

//  Refuses an output that is one of the inputs (it would be replaced by
//  the result) or that another output names too. Returns 0, or -1 with a
//  one-line reason in err.
static int
s_check_same_files (const zmr_launcher_config_t *config, char *err, size_t size)
{
    const char *options[] = { "--output", "--receipt", "--snapshot" };
    const char *paths[] = { config->output, config->receipt, config->snapshot };
    s_file_id_t ids[3];
    bool known[3];
    for (int o = 0; o < 3; o++)
        known[o] = paths[o] && s_file_id (paths[o], &ids[o]);
    for (size_t i = 0; i < config->ninputs; i++) {
        const char *input = config->inputs[i];
        struct stat st;
        if (!strncmp (input, "tcp://", 6))
            continue;
        //  stdin redirected from the output file (zmr run -o x < x) too
        if (strcmp (input, "-")? stat (input, &st): fstat (STDIN_FILENO, &st))
            continue;
        if (!S_ISREG (st.st_mode))
            continue;
        for (int o = 0; o < 3; o++)
            if (known[o] && !ids[o].name[0] && ids[o].dev == st.st_dev
            &&  ids[o].ino == st.st_ino) {
                snprintf (err, size, "%s: '%s' is the input '%s': writing it would replace "
                          "the input", options[o], paths[o], input);
                return -1;
            }
    }
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            if (known[a] && known[b] && ids[a].dev == ids[b].dev && ids[a].ino == ids[b].ino
            &&  !strcmp (ids[a].name, ids[b].name)) {
                snprintf (err, size, "%s: '%s' is also the %s file", options[b], paths[b],
                          options[a]);
                return -1;
            }
    return 0;
}

//  Whether endpoint can be bound now, tried before any process starts: a
//  tcp port in use, an address not of this machine, an ipc:// path in a
//  missing directory or one another process listens on. Returns 0, or -1
//  with a one-line reason naming option.
static int
s_probe_bind (const char *option, const char *endpoint, char *err, size_t size)
{
    if (!strncmp (endpoint, "ipc://", 6) && endpoint[6] != '@') {
        //  Not bound here: binding an ipc path takes it over from whoever
        //  listens there, and leaves a socket file.
        const char *path = endpoint + 6;
        char dir[PATH_MAX];
        snprintf (dir, sizeof dir, "%s", path);
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        if (strlen (path) >= sizeof addr.sun_path) {
            snprintf (err, size, "%s: the path of %s is too long for a socket", option,
                      endpoint);
            return -1;
        }
        const char *parent = dirname (dir);
        if (access (parent, W_OK)) {
            snprintf (err, size, "%s: cannot bind %s: %s: %s", option, endpoint, parent,
                      strerror (errno));
            return -1;
        }
        strcpy (addr.sun_path, path);
        int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
        if (fd >= 0)
            close (fd);
        if (live) {
            snprintf (err, size, "%s: cannot bind %s: another process listens there", option,
                      endpoint);
            return -1;
        }
        return 0;
    }
    //  A context of its own, terminated before returning: the port is
    //  free again when the job binds it.
    void *ctx = zmq_ctx_new ();
    void *sock = ctx? zmq_socket (ctx, ZMQ_PUB): NULL;
    int rc = -1;
    if (sock) {
        int zero = 0;
        zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
        rc = zmq_bind (sock, endpoint);
        if (rc)
            snprintf (err, size, "%s: cannot bind %s: %s", option, endpoint,
                      zmq_strerror (zmq_errno ()));
        zmq_close (sock);
    }
    else
        snprintf (err, size, "%s: cannot try to bind %s: %s", option, endpoint,
                  zmq_strerror (zmq_errno ()));
    if (ctx)
        zmq_ctx_term (ctx);
    return rc;
}

//  Everything about the outputs that can be known before the job starts,
//  so that a lasting failure does not wait for all the counting to be
//  done: each output can be written, none is an input, every endpoint zmr
//  run binds can be bound. Returns 0, or -1 with a one-line reason.
static int
s_check_outputs (s_launcher_t *self, char *err, size_t size)
{
    const zmr_launcher_config_t *config = self->config;
    if (s_check_same_files (config, err, size))
        return -1;
    if ((config->output && zmr_output_check_file ("--output", config->output, err, size))
    ||  (config->receipt && zmr_output_check_file ("--receipt", config->receipt, err, size))
    ||  (config->snapshot && zmr_output_check_file ("--snapshot", config->snapshot, err, size)))
        return -1;
    if ((config->status && s_probe_bind ("--status", config->status, err, size))
    ||  (config->publish && s_probe_bind ("--publish", config->publish, err, size)))
        return -1;
    if (config->expose) {
        //  Every port of the job: the ventilator's three, the sink's, one
        //  per reducer (s_endpoints).
        char endpoint[ZMR_ENDPOINT_MAX];
        const char *eps[] = { self->control, self->chunks, self->status, self->sink };
        for (int i = 0; i < 4; i++)
            if (s_probe_bind ("--expose", eps[i], err, size))
                return -1;
        for (uint32_t p = 0; p < config->reducers; p++) {
            s_reducer_endpoint (self, p, endpoint, sizeof endpoint);
            if (s_probe_bind ("--expose", endpoint, err, size))
                return -1;
        }
    }
    //  Last: with --force this removes what an earlier run wrote there.
    if ((config->parts_dir
         && zmr_output_check_dir ("--parts", config->parts_dir, config->force, err, size))
    ||  (config->window_dir
         && zmr_output_check_dir ("--window-dir", config->window_dir, config->force, err, size)))
        return -1;
    return 0;
}

//  Removes the directories of runs that were killed (kill -9 leaves its
//  directory: sockets, journal, the stdin spool): a zmr-XXXXXX directory
//  of ours whose lock nobody holds. A live run holds its lock from before
//  its lock file has that name (s_make_dir) to after its directory is gone.
static void
s_sweep (const char *tmp)
{
    DIR *handle = opendir (tmp);
    if (!handle)
        return;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (strncmp (entry->d_name, "zmr-", 4) || strlen (entry->d_name) != 10)
            continue;
        char dir[PATH_MAX], lock[PATH_MAX + 8];
        if (snprintf (dir, sizeof dir, "%s/%s", tmp, entry->d_name) >= (int) sizeof dir)
            continue;
        struct stat st;
        if (lstat (dir, &st) || !S_ISDIR (st.st_mode) || st.st_uid != geteuid ())
            continue;
        snprintf (lock, sizeof lock, "%s/lock", dir);
        int fd = open (lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        if (flock (fd, LOCK_EX | LOCK_NB) == 0) {
            zmr_log (1, "removing %s, left by a zmr run that was killed", dir);
            s_remove_dir (dir);
        }
        close (fd);
    }
    closedir (handle);
}

//  Makes the private directory and takes its lock: the lock file is made
//  and locked under another name, then renamed, so that no sweep ever sees
//  it unlocked.
static int
s_make_dir (s_launcher_t *self, const char *tmp)
{
    int n = snprintf (self->dir, sizeof self->dir, "%s/zmr-XXXXXX", tmp);
    if (n < 0 || (size_t) n >= sizeof self->dir) {
        self->dir[0] = 0;
        zmr_log (0, "TMPDIR is too long for ipc:// endpoints: %s", tmp);
        return -1;
    }
    if (!mkdtemp (self->dir)) {
        zmr_log (0, "cannot create a directory in %s: %s", tmp, strerror (errno));
        self->dir[0] = 0;
        return -1;
    }
    char fresh[PATH_MAX], lock[PATH_MAX];
    snprintf (fresh, sizeof fresh, "%s/lock.new", self->dir);
    snprintf (lock, sizeof lock, "%s/lock", self->dir);
    self->lock_fd = open (fresh, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (self->lock_fd < 0 || flock (self->lock_fd, LOCK_EX) || rename (fresh, lock)) {
        zmr_log (0, "cannot lock %s: %s", lock, strerror (errno));
        return -1;
    }
    return 0;
}

//  Copies the result to stdout, once, the job done. Returns 0, or -1 with
//  self->stdout_closed (EPIPE: no message) or a line said.
static int
s_copy_result (s_launcher_t *self)
{
    int fd = open (self->result, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st)) {
        zmr_log (0, "cannot read the result %s: %s", self->result, strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    off_t offset = 0;
    bool plain = false;                 //  read/write when sendfile cannot
    char *buf = NULL;
    int rc = 0;
    while (offset < st.st_size && !s_signals) {
        ssize_t n;
        if (!plain) {
            n = sendfile (STDOUT_FILENO, fd, &offset, (size_t) (st.st_size - offset));
            if (n < 0 && (errno == EINVAL || errno == ENOSYS) && offset == 0) {
                plain = true;           //  e.g. stdout opened with O_APPEND
                continue;
            }
        }
        else {
            if (!buf && !(buf = malloc (1 << 20))) {
                errno = ENOMEM;
                n = -1;
            }
            else {
                n = pread (fd, buf, 1 << 20, offset);
                for (ssize_t done = 0, w; n > 0 && done < n; done += w) {
                    w = write (STDOUT_FILENO, buf + done, (size_t) (n - done));
                    if (w <= 0 && errno != EINTR) {
                        n = -1;
                        break;
                    }
                    if (w < 0)
                        w = 0;
                }
                if (n > 0)
                    offset += n;
            }
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd out = { STDOUT_FILENO, POLLOUT, 0 };
            poll (&out, 1, 100);
            continue;
        }
        if (n < 0 && errno == EPIPE) {
            self->stdout_closed = true;
            rc = -1;
            break;
        }
        if (n <= 0) {
            zmr_log (0, "cannot write the result to standard output: %s",
                     n < 0? strerror (errno): "the result file shrank");
            rc = -1;
            break;
        }
    }
    free (buf);
    close (fd);
    return rc;
}

//  The --status and --publish sockets' files: libzmq (4.3) leaves the file
//  of an ipc:// endpoint when its socket closes, and a killed role closes
//  nothing. Removed once every child is gone, if nobody listens there (zmr
//  run checked that nobody did before the job started).
static void
s_remove_sockets (const zmr_launcher_config_t *config)
{
    const char *endpoints[] = { config->status, config->publish };
    for (int i = 0; i < 2; i++) {
        const char *endpoint = endpoints[i];
        if (!endpoint || strncmp (endpoint, "ipc://", 6) || endpoint[6] == '@')
            continue;
        struct stat st;
        char err[16];
        if (lstat (endpoint + 6, &st) == 0 && S_ISSOCK (st.st_mode)
        &&  s_probe_bind ("", endpoint, err, sizeof err) == 0)
            unlink (endpoint + 6);
    }
}

//  What the supervision learns as the job runs.
typedef struct {
    bool done;                   //  The job is done (its state, or the ventilator's exit)
    bool some_quarantined;       //  The ventilator exited 3
    bool journal_seen;           //  The ventilator's journal existed
    int64_t last_status_at;      //  When the status last changed
    long peak_pss;               //  --stats: sampled every 10 ms
} s_watch_t;

//  A closed stdout (>&-) would be the next file this process opens, and
//  the result would be copied into that: refused when the result goes
//  there (and stdin when it is read), else the slots 0..2 get /dev/null.
//  Returns 0, or the exit status after a line logged.
static int
s_check_stdio (const zmr_launcher_config_t *config)
{
    if ((!config->output || config->follow) && fcntl (STDOUT_FILENO, F_GETFD) < 0) {
        zmr_log (0, "standard output is closed: say where the result goes with -o FILE");
        return 2;
    }
    for (size_t i = 0; i < config->ninputs; i++)
        if (!strcmp (config->inputs[i], "-") && fcntl (STDIN_FILENO, F_GETFD) < 0) {
            zmr_log (0, "standard input is closed: name the input FILEs");
            return 2;
        }
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl (fd, F_GETFD) < 0 && open ("/dev/null", O_RDWR) != fd) {
            zmr_log (0, "cannot open /dev/null: %s", strerror (errno));
            return 1;
        }
    return 0;
}

//  The role binaries are beside this one. Returns 0, or -1 after a line.
static int
s_find_bindir (s_launcher_t *self)
{
    char exe[PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        zmr_log (0, "cannot find my own binary: %s", strerror (errno));
        return -1;
    }
    exe[len] = 0;
    snprintf (self->bindir, sizeof self->bindir, "%s", exe);
    char *slash = strrchr (self->bindir, '/');
    if (slash)
        *slash = 0;
    return 0;
}

//  What must hold before anything starts: the endpoints (with --expose,
//  the ports to try; their ipc:// form is made later, in the directory
//  made then), every output, and --http, bound now (after fds 0-2 are in
//  place) into *http_fd. Returns 0, or the exit status after a line.
static int
s_check_before_start (s_launcher_t *self, int *http_fd)
{
    const zmr_launcher_config_t *config = self->config;
    char err[1024];
    int rc = config->expose? s_endpoints (self): 0;
    if (rc == -2)
        zmr_usage_error ("%s", self->reason);
    if (rc) {
        zmr_log (0, "%s", self->reason);
        return 1;
    }
    if (s_check_outputs (self, err, sizeof err)) {
        zmr_log (0, "%s", err);
        return 2;
    }
    if (config->http) {
        bool usage;
        *http_fd = zmr_http_listen (config->http, &usage, err, sizeof err);
        if (*http_fd == -1) {
            zmr_log (0, "option --http: %s", err);
            return 2;
        }
    }
    return 0;
}

//  Where the result and the progress bar go, and the relay of a terminal
//  on stdin. Returns 0, or -1 after a line.
static int
s_setup_stdio (s_launcher_t *self)
{
    const zmr_launcher_config_t *config = self->config;
    //  Without -o the sink writes the result here; zmr run copies it to
    //  stdout once the job is done: a sink started again never writes
    //  stdout twice.
    if (!config->output && !config->follow)
        snprintf (self->result, sizeof self->result, "%s/result", self->dir);
    self->writes_stdout = self->result[0] || config->follow;
    struct stat out;
    self->stdout_fifo = fstat (STDOUT_FILENO, &out) == 0 && S_ISFIFO (out.st_mode);
    if (config->progress && isatty (STDOUT_FILENO) && isatty (STDERR_FILENO)) {
        struct stat err_st;
        self->bar_shares_stdout = fstat (STDERR_FILENO, &err_st) == 0
                               && err_st.st_rdev == out.st_rdev;
    }
    bool reads_stdin = false;
    for (size_t i = 0; i < config->ninputs; i++)
        reads_stdin |= !strcmp (config->inputs[i], "-");
    if (reads_stdin && isatty (STDIN_FILENO)) {
        int relay[2];
        if (pipe2 (relay, O_CLOEXEC)) {
            zmr_log (0, "cannot make a pipe for the terminal's input: %s", strerror (errno));
            return -1;
        }
        self->relay_read = relay[0];
        self->relay_write = relay[1];
        fcntl (self->relay_write, F_SETFL, O_NONBLOCK);
    }
    return 0;
}

//  Starts every child, takes zmr run's own CURVE keys, and serves --http
//  from *http_fd (taken) into *http. Returns 0, or -1 after a line.
static int
s_start_job (s_launcher_t *self, int *http_fd, zmr_http_t **http)
{
    const zmr_launcher_config_t *config = self->config;
    if (s_endpoints (self) || (config->curve && s_make_certs (self)) || s_start (self)) {
        zmr_log (0, "%s", self->reason);
        return -1;
    }
    if (config->curve) {
        //  zmr run reads the status as one more CURVE client.
        char cert[PATH_MAX], server[PATH_MAX];
        snprintf (cert, sizeof cert, "%s/run.cert", self->certs);
        snprintf (server, sizeof server, "%s/ventilator.cert", self->allow);
        zmr_curve_config_t own = { .cert = cert, .server = server };
        if (zmr_curve_load (&own, ZMR_CURVE_CONNECTS))
            return -1;
        if (config->expose)
            zmr_log (0, "CURVE: the ventilator's public certificate is %s; a mapper joins "
                     "with --curve-server it and its own certificate in %s", server,
                     self->allow);
    }
    if (*http_fd != -1) {
        //  Served from the status zmr run reads anyway: no process more.
        char err[1024];
        *http = zmr_http_new (*http_fd, self->status, err, sizeof err);
        *http_fd = -1;
        if (!*http) {
            zmr_log (0, "%s", err);
            return -1;
        }
    }
    return 0;
}

//  The status subscription, for the bar and to know the job's end; NULL
//  if no socket could be made (the children's exits still tell).
static zsock_t *
s_subscribe (s_launcher_t *self)
{
    zsock_t *sub = zmr_socket (ZMQ_SUB, 16 << 20, 0);
    if (sub) {
        zsock_set_conflate (sub, 1);
        //  The ventilator may not have bound yet: try again soon, not in 100 ms.
        zsock_set_reconnect_ivl (sub, 10);
        zsock_set_subscribe (sub, "");
        char status[ZMR_ENDPOINT_MAX];
        zmr_endpoint_with_host (self->status, "127.0.0.1", status, sizeof status);
        zmr_connect (sub, status, NULL);
    }
    return sub;
}

//  A child ended with status: decides whether the job is done, failed,
//  or the child starts again. Returns whether the job failed.
static bool
s_child_ended (s_launcher_t *self, s_watch_t *watch, s_child_t *child, int status,
               const zmr_status_t *last)
{
    char how[128];
    s_describe (status, how, sizeof how);
    //  The ventilator exits 0 only for a job done, 3 for one done
    //  without quarantined chunks, and 128 + the signal when it was
    //  stopped first: its exit tells, whether or not we heard its
    //  last state (a short job may end before we subscribe).
    int code_of = WIFEXITED (status)? WEXITSTATUS (status): -1;
    bool vent = child->kind == C_VENTILATOR;
    bool sink = child->kind == C_SINK;
    if (vent && (code_of == 0 || code_of == 3))
        watch->done = true;
    if (vent && code_of == 3)
        watch->some_quarantined = true;
    bool clean = code_of == 0
              || (vent && (code_of == 128 + SIGTERM || code_of == 128 + SIGINT));
    if (!strcmp (last->phase, "done"))
        watch->done = true;
    //  The sink exits 1 for what a restart cannot cure (it said
    //  why: an output it cannot write...), and after the job it
    //  still writes the receipt: either fails the job. Exit 2 from
    //  any role is its check at start refusing (an output gone
    //  since zmr run checked it): no restart cures that either.
    if ((sink && code_of == 1) || code_of == 2) {
        self->reason[0] = 0;
        return true;
    }
    if (sink && watch->done && code_of != 0) {
        snprintf (self->reason, sizeof self->reason, "the sink %s after the job was "
                  "done: its outputs may be incomplete", how);
        return true;
    }
    if (watch->done)
        return false;           //  Leaving after the job, as it should
    if (vent && code_of == 1) {
        //  The ventilator said why the job failed.
        self->reason[0] = 0;
        return true;
    }
    if (clean && watch->journal_seen && access (self->journal, F_OK)) {
        //  The ventilator removes its journal when the job is done,
        //  before it sends FINISH: whoever leaves cleanly after that
        //  leaves a finished job, however short it was.
        watch->done = true;
        return false;
    }
    if (clean) {
        //  Left on a signal: starts again, like a crash, but it
        //  does not count as one.
        child->restart_at = zmr_now_ms () + 100;
        snprintf (child->restart_note, sizeof child->restart_note,
                  "%s %u left before the job was done", s_kind_names[child->kind],
                  child->index);
        return false;
    }
    return s_crashed (self, child, how, last->chunks_done);
}

//  Restarts that are due. A sink's starts once what the one before
//  wrote to its --follow pipe is read to the end. Each says how its
//  child ended only now: a worker that ended because the job
//  failed (it exits 1 on the failed FINISH, which may be reaped
//  before the ventilator) is never restarted, nor mentioned, once
//  the ventilator's end is seen; its reason is the one line.
//  Returns whether the job failed (a child could not be started).
static bool
s_restart_due (s_launcher_t *self, bool done)
{
    int64_t now = zmr_now_ms ();
    bool vent_ended = s_ventilator_ended (self);
    bool failed = false;
    for (size_t i = 0; i < self->nchildren && !vent_ended; i++) {
        s_child_t *c = &self->children[i];
        if (!c->pid && c->restart_at && now >= c->restart_at && !done
        &&  !(c->kind == C_SINK && self->follow_fd >= 0)) {
            if (c->restart_note[0])
                zmr_log (0, "%s: starting it again", c->restart_note);
            c->restart_note[0] = 0;
            if (s_launch (self, c)) {
                zmr_log (0, "%s", self->reason);
                self->reason[0] = 0;
                failed = true;
            }
        }
    }
    return failed;
}

//  Watches the status and the children until the job is done and the
//  ventilator and the sink are gone (returns 0), or it fails, a signal
//  comes or stdout is lost (returns 1).
static int
s_supervise (s_launcher_t *self, zsock_t *sub, zmr_http_t *http, zmr_status_t *last,
             s_watch_t *watch)
{
    const zmr_launcher_config_t *config = self->config;
    while (!s_signals && !self->stdout_closed && !self->stdout_errno) {
        if (!watch->journal_seen && access (self->journal, F_OK) == 0)
            watch->journal_seen = true;
        if (config->stats) {
            long pss = s_pss_now (self);
            if (pss > watch->peak_pss)
                watch->peak_pss = pss;
        }
        uint64_t seq = last->seq;
        s_wait (self, sub, last, config->stats? 10: 50);
        if (last->seq != seq || !watch->last_status_at)
            watch->last_status_at = zmr_now_ms ();
        if (http && last->seq != seq)
            zmr_http_publish (http, last);
        if (!strcmp (last->phase, "done"))
            watch->done = true;
        if (!strcmp (last->phase, "failed")) {
            //  The ventilator said why, in its line.
            self->reason[0] = 0;
            return 1;
        }
        int status;
        s_child_t *child;
        bool failed = false;
        while (!failed && s_reap (self, &status, &child))
            failed = s_child_ended (self, watch, child, status, last);
        if (failed)
            return 1;
        s_kill_frozen (self, last, watch->last_status_at, config->dead_ms);
        if (s_restart_due (self, watch->done))
            return 1;
        if (watch->done && s_gone (self, C_VENTILATOR) && s_gone (self, C_SINK))
            return 0;
    }
    return 1;
}

//  After the supervision (code 0: the job is done): the rest of --follow's
//  lines, the bar's last state, the result copied to stdout, the last
//  state served, the quarantined chunks said. Returns the exit status.
static int
s_finish (s_launcher_t *self, int code, zsock_t *sub, zmr_http_t *http, zmr_status_t *last,
          const s_watch_t *watch, int64_t started)
{
    const zmr_launcher_config_t *config = self->config;
    if (code == 0 && config->follow) {
        //  The last sink is gone: its pipe ends; every whole line goes out.
        while (self->follow_fd >= 0 && !s_signals && !self->stdout_closed
           && !self->stdout_errno) {
            struct pollfd in = { self->follow_fd, POLLIN, 0 };
            poll (&in, 1, 100);
            s_follow_read (self);
            s_follow_write (self, true);
        }
        s_follow_write (self, true);
    }
    if (self->stdout_errno) {
        zmr_log (0, "cannot write to standard output: %s", strerror (self->stdout_errno));
        code = 1;
    }
    if (self->bar_used) {
        if (code == 0) {
            //  The final state, then a newline to keep it on screen. Its
            //  rate is the whole job's: the last second's may be nothing.
            last->bytes_done = last->input_known? last->input_bytes: last->bytes_done;
            snprintf (last->phase, sizeof last->phase, "done");
            int64_t took = zmr_now_ms () - started;
            if (!last->bytes_per_s && took > 0)
                last->bytes_per_s = last->bytes_done * 1000 / (uint64_t) took;
            s_draw (self, last);
        }
        fputs ("\n", stderr);
        self->drawn = false;
    }
    if (code == 0 && self->result[0] && !s_signals && s_copy_result (self))
        code = 1;
    if (http && sub) {
        //  The ventilator's last state may have come after the last look.
        uint64_t seq = last->seq;
        s_read_status (self, sub, last);
        if (last->seq != seq)
            zmr_http_publish (http, last);
    }
    if (code == 0 && (last->chunks_quarantined || watch->some_quarantined)) {
        //  A short job's ventilator may exit 3 before its last state is
        //  heard: then the count is not known here (not 0), and the
        //  ventilator's own lines listed the chunks
        if (last->chunks_quarantined)
            zmr_log (0, "done WITHOUT %llu quarantined chunks (mappers failed (map command) or "
                     "died on them):", (unsigned long long) last->chunks_quarantined);
        else
            zmr_log (0, "done WITHOUT the quarantined chunks listed above (mappers failed "
                     "(map command) or died on them)");
        for (uint32_t q = 0; q < last->nquarantine; q++)
            zmr_log (0, "  '%s' offset %llu, %llu bytes", last->quarantine[q].file,
                     (unsigned long long) last->quarantine[q].offset,
                     (unsigned long long) last->quarantine[q].length);
        code = 3;
    }
    return code;
}

//  The exit status, whatever happened: a signal or a lost stdout wins,
//  and a failure says its reason if none was said yet.
static int
s_exit_code (s_launcher_t *self, int code)
{
    if (s_signals) {
        zmr_log (0, "interrupted: stopping the job");
        return 128 + s_first_signal;
    }
    if (self->stdout_closed)
        return 128 + SIGPIPE;           //  As a shell shows a filter ended by it
    if (code == 1 && self->reason[0])
        zmr_log (0, "job failed: %s", self->reason);
    return code;
}

//  Ends every child. Done: the rest got FINISH and leave by themselves,
//  but for a mapper that was still joining when the job ended (a short
//  job, many mappers): the job never knew it, so it waits for a FINISH
//  that will not come. Mappers hold nothing once the job is done: those
//  not gone within 100 ms are stopped. (A tiny job took 2-4 s one time
//  in 7.)
static void
s_stop_children (s_launcher_t *self, int code)
{
    bool finished = code == 0 || code == 3;
    if (finished)
        s_stop_all (self, C_MAPPER, 100, 2000);
    s_stop_all (self, -1, finished? 2000: 0, 2000);
}

//  --stats, for the bench: the memory of the whole pipeline, not one
//  process.
static void
s_print_stats (s_launcher_t *self, int64_t started, long peak_pss)
{
    struct rusage own;
    getrusage (RUSAGE_SELF, &own);
    long total = own.ru_maxrss;
    for (size_t i = 0; i < self->nchildren; i++)
        total += self->children[i].maxrss_kb;
    fprintf (stderr, "zmr: stats: wall_ms=%lld peak_rss_kb=%ld peak_pss_kb=%ld "
             "processes=%zu\n", (long long) (zmr_now_ms () - started), total, peak_pss,
             self->nchildren + 1);
}

//  Frees what the launcher holds and removes its directory. Every child
//  is reaped: nothing writes in the directory any more.
static void
s_release (s_launcher_t *self)
{
    for (size_t i = 0; i < self->nchildren; i++) {
        for (char **arg = self->children[i].argv; arg && *arg; arg++)
            free (*arg);
        free (self->children[i].argv);
    }
    free (self->children);
    free (self->fbuf);
    int fds[] = { self->relay_read, self->relay_write, self->follow_fd };
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close (fds[i]);
    s_remove_sockets (self->config);
    s_remove_dir (self->dir);
    if (self->lock_fd >= 0)
        close (self->lock_fd);
}

//  --http-linger: everything is stopped and removed; only the final state
//  is still served, for a browser or Prometheus to see the end.
static void
s_http_linger (const zmr_launcher_config_t *config, zmr_http_t *http)
{
    if (!http || !config->http_linger_ms || s_signals)
        return;
    zmr_log (0, "serving the final state at http://%s for %llu s more (Ctrl-C to stop)",
             config->http, (unsigned long long) (config->http_linger_ms + 999) / 1000);
    int64_t until = zmr_now_ms () + (int64_t) config->http_linger_ms;
    while (!s_signals && zmr_now_ms () < until)
        usleep (50000);
    s_signals = 0;              //  Ending the linger is not a stop of the job
}

int
zmr_launcher_run (const zmr_launcher_config_t *config)
{
    s_signals_install ();
    int64_t started = zmr_now_ms ();
    s_launcher_t self;
    memset (&self, 0, sizeof self);
    self.config = config;
    self.lock_fd = self.relay_read = self.relay_write = self.follow_fd = -1;
    self.width = s_term_width ();
    int code = s_check_stdio (config);
    if (code)
        return code;
    if (s_check_inputs (config))
        return s_signals? 128 + s_first_signal: 1;
    if (s_find_bindir (&self))
        return 1;
    int http_fd = -1;
    code = s_check_before_start (&self, &http_fd);
    if (code)
        return code;
    const char *tmp = getenv ("TMPDIR");
    tmp = tmp && *tmp? tmp: "/tmp";
    s_sweep (tmp);

    zmr_http_t *http = NULL;
    zsock_t *sub = NULL;
    s_watch_t watch;
    memset (&watch, 0, sizeof watch);
    zmr_status_t last;
    memset (&last, 0, sizeof last);
    self.last = &last;
    code = 1;
    if (s_make_dir (&self, tmp) == 0 && s_setup_stdio (&self) == 0
    &&  s_start_job (&self, &http_fd, &http) == 0) {
        sub = s_subscribe (&self);
        code = s_supervise (&self, sub, http, &last, &watch);
        code = s_finish (&self, code, sub, http, &last, &watch, started);
    }
    code = s_exit_code (&self, code);
    zmr_status_reset (&last);
    zsock_destroy (&sub);
    zmr_curve_teardown ();
    s_stop_children (&self, code);
    if (config->stats)
        s_print_stats (&self, started, watch.peak_pss);
    s_release (&self);
    s_http_linger (config, http);
    zmr_http_destroy (&http);
    if (http_fd != -1)
        close (http_fd);
    return code;
}
