/*  test_pool: a standing pool of mappers (issue 14). A mapper serves job
    after job at one ventilator address: a new job there (another R, other
    reducers), its own job's ventilator killed and started again with its
    journal, its reducers started again on each other's ports with their
    CURVE keys; --once makes it leave after one job. Every result is
    checked against the reference of docs/design.md (the harness's, which
    uses no zmr code). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"

static void
s_setup (void)
{
    h_setup ();
    //  CURVE's leaks inside libzmq, as test_curve does (the file beside
    //  this one: CMake compiles it by its full path).
    const char *slash = strrchr (__FILE__, '/');
    if (slash)
        setenv ("LSAN_OPTIONS", h_strf ("suppressions=%.*s/lsan-libzmq.supp",
                                        (int) (slash - __FILE__), __FILE__), 1);
}

TestSuite (pool, .init = s_setup, .fini = h_teardown, .timeout = 280);

//  Bounds for a loaded machine under ASan: never a measure of speed.
#define S_JOB_MS      180000
#define S_PROGRESS_MS 120000

//  ---------------------------------------------------------------------
//  A job started by hand, its parts at chosen endpoints

#define S_MAX_R 3

typedef struct {
    const char *tag;                //  Names its files: TAG-out.txt, TAG-ventilator.err ...
    int reducers;
    bool curve;                     //  CURVE on every link (certs/, allow/)
    const char *input;
    const char *journal;            //  The ventilator's --journal, or NULL
    char *control, *chunks, *status, *sink_ep, *reducer_ep[S_MAX_R], *state[S_MAX_R];
    char *output, *monitor_out;
    pid_t ventilator, reducer[S_MAX_R], sink, monitor;
} s_job_t;

//  The CURVE options of a process named name (its certificate), that binds
//  (allow-list) and/or connects (the ventilator's certificate), into args.
static size_t
s_curve_args (const s_job_t *job, const char *name, bool binds, bool connects,
              const char **args, size_t n)
{
    if (!job->curve)
        return n;
    args[n++] = h_strf ("--curve-cert=%s", h_path (h_strf ("certs/%s.cert_secret", name)));
    if (binds)
        args[n++] = h_strf ("--curve-allow=%s", h_path ("allow"));
    if (connects)
        args[n++] = h_strf ("--curve-server=%s", h_path ("certs/ventilator.cert"));
    return n;
}

static char *
s_tcp (void)
{
    return h_strf ("tcp://127.0.0.1:%d", h_free_port ());
}

static void
s_ventilator_start (s_job_t *job)
{
    const char *args[32];
    size_t n = 0;
    args[n++] = h_strf ("--reducers=%d", job->reducers);
    args[n++] = h_strf ("--control=%s", job->control);
    args[n++] = h_strf ("--chunks=%s", job->chunks);
    args[n++] = h_strf ("--status=%s", job->status);
    args[n++] = "--chunk-size=16K";
    args[n++] = "--dead-ms=1000";
    if (job->journal)
        args[n++] = h_strf ("--journal=%s", job->journal);
    n = s_curve_args (job, "ventilator", true, false, args, n);
    args[n++] = "--";
    args[n++] = job->input;
    args[n] = NULL;
    //  Appended to, over restarts: a fresh name per start.
    static int starts;
    h_io_t io = { .stderr_path = h_path (h_strf ("%s-ventilator-%d.err", job->tag, starts++)) };
    job->ventilator = h_spawnv ("zmr-ventilator", args, &io);
}

static void
s_reducer_start (s_job_t *job, int p, const char *bind)
{
    const char *args[16];
    size_t n = 0;
    args[n++] = h_strf ("--partition=%d", p);
    args[n++] = h_strf ("--bind=%s", bind);
    if (job->state[p])
        args[n++] = h_strf ("--state=%s", job->state[p]);
    n = s_curve_args (job, h_strf ("reducer%d", p), true, true, args, n);
    args[n++] = job->control;
    args[n] = NULL;
    job->reducer[p] = h_spawnv ("zmr-reducer", args, NULL);
}

//  Starts the job: ventilator, a monitor that has heard it, reducers,
//  sink. No mapper: those are the test's.
static void
s_job_start (s_job_t *job)
{
    job->output = h_path (h_strf ("%s-out.txt", job->tag));
    job->monitor_out = h_path (h_strf ("%s-monitor.json", job->tag));
    s_ventilator_start (job);
    const char *args[16];
    size_t n = 0;
    args[n++] = "--json";
    n = s_curve_args (job, "monitor", false, true, args, n);
    args[n++] = job->status;
    args[n] = NULL;
    h_io_t mon = { .stdout_path = job->monitor_out };
    job->monitor = h_spawnv ("zmr-monitor", args, &mon);
    int64_t deadline = h_now_ms () + 60000;
    while (h_count_lines (job->monitor_out) < 1 && h_now_ms () < deadline)
        h_sleep_ms (5);
    cr_assert_geq (h_count_lines (job->monitor_out), 1,
                   "the monitor heard nothing from the ventilator in 60 s");
    for (int p = 0; p < job->reducers; p++)
        s_reducer_start (job, p, job->reducer_ep[p]);
    n = 0;
    args[n++] = "-o";
    args[n++] = job->output;
    args[n++] = h_strf ("--bind=%s", job->sink_ep);
    n = s_curve_args (job, "sink", true, true, args, n);
    args[n++] = job->control;
    args[n] = NULL;
    job->sink = h_spawnv ("zmr-sink", args, NULL);
}

//  Waits for the job's end (ventilator, sink and reducers exit 0) and
//  checks its result against the reference of its input.
static void
s_job_finish (s_job_t *job)
{
    int code = h_exit_code (h_wait (job->ventilator, S_JOB_MS, "the ventilator"));
    cr_assert_eq (code, 0, "%s: the ventilator exited with %d", job->tag, code);
    code = h_exit_code (h_wait (job->sink, 60000, "the sink"));
    cr_assert_eq (code, 0, "%s: the sink exited with %d", job->tag, code);
    for (int p = 0; p < job->reducers; p++) {
        code = h_exit_code (h_wait (job->reducer[p], 60000, "a reducer"));
        cr_assert_eq (code, 0, "%s: reducer %d exited with %d", job->tag, p, code);
    }
    h_counts_t ref;
    h_reference_file (job->input, &ref);
    h_assert_result (job->output, &ref);
    h_counts_free (&ref);
}

static void
s_job_ipc (s_job_t *job, const char *tag, int reducers, const char *input)
{
    memset (job, 0, sizeof *job);
    job->tag = tag;
    job->reducers = reducers;
    job->input = input;
    //  The ventilator's endpoints are the pool's one address: the same for
    //  every job. Reducers and sink are the job's own.
    job->control = h_strf ("ipc://%s/c", h_dir ());
    job->chunks = h_strf ("ipc://%s/k", h_dir ());
    job->status = h_strf ("ipc://%s/s", h_dir ());
    job->sink_ep = h_strf ("ipc://%s/%s-sink", h_dir (), tag);
    for (int p = 0; p < reducers; p++)
        job->reducer_ep[p] = h_strf ("ipc://%s/%s-r%d", h_dir (), tag, p);
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

//  The status lists the worker of that pid (a long).
static bool
s_has_worker (const h_status_t *status, void *arg)
{
    return h_status_worker (status, *(const long *) arg) != NULL;
}

//  Waits until the job has done fraction of its input, still mapping.
static void
s_wait_progress (const s_job_t *job, double fraction)
{
    s_progress_t progress = { fraction };
    h_status_t status;
    cr_assert (h_status_wait (job->monitor_out, s_progressed, &progress, S_PROGRESS_MS,
                              &status),
               "%s did not reach %.0f%% of its input while mapping (last: phase '%s', "
               "%llu of %llu bytes)", job->tag, fraction * 100, status.phase,
               (unsigned long long) status.bytes_done,
               (unsigned long long) status.input_bytes);
}

static char *
s_text (const char *path)
{
    size_t len;
    char *text = h_read (path, &len);
    return text? text: "";
}

//  A different text for each job: a slice of the KJV from offset, cut at
//  a line's end.
static char *
s_slice (const char *name, size_t offset, size_t bytes)
{
    size_t len;
    char *text = h_read (h_kjv (), &len);
    cr_assert (text && len >= offset + bytes);
    size_t end = offset + bytes;
    while (end < len && text[end - 1] != '\n')
        end++;
    char *path = h_write (name, text + offset, end - offset);
    h_release (text);
    return path;
}

//  ---------------------------------------------------------------------

//  Two jobs, one after the other, at the same control address: the second
//  ventilator starts only once the first has ended, with another R (3, not
//  2), other reducer and sink endpoints, another text. The one mapper of
//  the pool does both jobs (no other mapper exists), says in one line that
//  it joined the next, and is still there after.
Test (pool, a_mapper_serves_two_jobs_in_a_row_at_the_same_address)
{
    char *mapper_err = h_path ("mapper.err");
    pid_t mapper = h_spawnl (&(h_io_t) { .stderr_path = mapper_err }, "zmr-mapper",
                             h_strf ("ipc://%s/c", h_dir ()), NULL);
    s_job_t first;
    s_job_ipc (&first, "first", 2, s_slice ("first.txt", 0, 600000));
    s_job_start (&first);
    s_job_finish (&first);
    cr_assert (h_running (mapper), "the mapper left after the first job: %s",
               s_text (mapper_err));

    s_job_t second;
    s_job_ipc (&second, "second", 3, s_slice ("second.txt", 2000000, 900000));
    s_job_start (&second);
    s_job_finish (&second);
    cr_assert (h_running (mapper), "the mapper left after the second job: %s",
               s_text (mapper_err));
    const char *said = s_text (mapper_err);
    cr_assert (strstr (said, "joined job") && strstr (said, "with 3 reducers"),
               "the mapper did not say it joined the next job: %s", said);
    //  Its last status in the second job: it did that job's chunks.
    h_status_t last;
    cr_assert_eq (h_status_last (second.monitor_out, &last), 0);
    const h_worker_t *worker = h_status_worker (&last, (long) mapper);
    cr_assert (worker && worker->chunks > 0, "the mapper is not in the second job's final "
               "status with chunks");
    //  A pool mapper still leaves cleanly on SIGTERM.
    kill (mapper, SIGTERM);
    int code = h_exit_code (h_wait (mapper, 30000, "the mapper sent SIGTERM"));
    cr_assert_eq (code, 0, "the mapper exited %d: %s", code, s_text (mapper_err));
}

//  The ventilator is kill -9'd mid-job and started again with its journal:
//  the same job, at the same address. The one mapper carries on (no other
//  mapper could finish the job) and never thinks it is another job.
Test (pool, a_mapper_carries_on_when_its_ventilator_comes_back_with_its_journal)
{
    s_job_t job;
    s_job_ipc (&job, "journal", 2, s_slice ("input.txt", 0, 2000000));
    job.journal = h_path ("journal");
    char *mapper_err = h_path ("mapper.err");
    s_job_start (&job);
    //  Slow enough (>= 6 s of chunks) that the kill lands mid-job.
    pid_t mapper = h_spawnl (&(h_io_t) { .stderr_path = mapper_err }, "zmr-mapper",
                             "--delay-ms=50", job.control, NULL);
    s_wait_progress (&job, 0.3);
    cr_assert_eq (kill (job.ventilator, SIGKILL), 0);
    int code = h_exit_code (h_wait (job.ventilator, 30000, "the killed ventilator"));
    cr_assert_eq (code, 128 + SIGKILL);
    h_status_t before;
    cr_assert_eq (h_status_last (job.monitor_out, &before), 0);
    cr_assert_str_eq (before.phase, "mapping", "the job was over before the kill");
    h_sleep_ms (500);
    s_ventilator_start (&job);
    s_job_finish (&job);
    cr_assert (h_running (mapper), "the mapper left: %s", s_text (mapper_err));
    cr_assert_null (strstr (s_text (mapper_err), "unfinished"),
                    "the mapper took its own job for another: %s", s_text (mapper_err));
    kill (mapper, SIGTERM);
    code = h_exit_code (h_wait (mapper, 30000, "the mapper sent SIGTERM"));
    cr_assert_eq (code, 0, "the mapper exited %d: %s", code, s_text (mapper_err));
}

//  Kills the job's ventilator (kill -9, mid-job, after fraction of its
//  input), then its reducers and sink: the job is gone for good.
static void
s_job_kill (s_job_t *job, double fraction)
{
    s_wait_progress (job, fraction);
    cr_assert_eq (kill (job->ventilator, SIGKILL), 0);
    h_wait (job->ventilator, 30000, "the killed ventilator");
    h_status_t before;
    cr_assert_eq (h_status_last (job->monitor_out, &before), 0);
    cr_assert_str_eq (before.phase, "mapping", "%s was over before the kill", job->tag);
    kill (job->sink, SIGKILL);
    for (int p = 0; p < job->reducers; p++)
        kill (job->reducer[p], SIGKILL);
}

//  The ventilator dies for good mid-job (the mapper likely mid-chunk), and
//  a new one with another job (another R, text, reducers) answers at the
//  same address: the mapper drops the old job and does the new one, the
//  only mapper there is, saying so.
Test (pool, a_mapper_whose_ventilator_died_joins_the_new_job_at_its_address)
{
    s_job_t first;
    s_job_ipc (&first, "gone", 2, s_slice ("first.txt", 0, 2000000));
    s_job_start (&first);
    char *mapper_err = h_path ("mapper.err");
    pid_t mapper = h_spawnl (&(h_io_t) { .stderr_path = mapper_err }, "zmr-mapper",
                             "--delay-ms=50", first.control, NULL);
    s_job_kill (&first, 0.3);
    s_job_t second;
    s_job_ipc (&second, "new", 3, s_slice ("second.txt", 2000000, 600000));
    s_job_start (&second);
    s_job_finish (&second);
    cr_assert (h_running (mapper), "the mapper left: %s", s_text (mapper_err));
    cr_assert (strstr (s_text (mapper_err), "is left unfinished")
               && strstr (s_text (mapper_err), "with 3 reducers"),
               "the mapper did not say it joined another job: %s", s_text (mapper_err));
}

//  The same with --once: the mapper's one job is gone; it exits 1 saying so.
Test (pool, once_leaves_when_another_job_answers_at_its_address)
{
    s_job_t first;
    s_job_ipc (&first, "gone", 2, s_slice ("first.txt", 0, 2000000));
    s_job_start (&first);
    char *mapper_err = h_path ("mapper.err");
    pid_t mapper = h_spawnl (&(h_io_t) { .stderr_path = mapper_err }, "zmr-mapper", "--once",
                             "--delay-ms=50", first.control, NULL);
    s_job_kill (&first, 0.3);
    s_job_t second;
    s_job_ipc (&second, "new", 2, s_slice ("second.txt", 2000000, 600000));
    s_job_start (&second);
    int code = h_exit_code (h_wait (mapper, 60000, "the mapper with --once"));
    cr_assert_eq (code, 1, "the mapper exited %d: %s", code, s_text (mapper_err));
    cr_assert (strstr (s_text (mapper_err), "left unfinished (--once"),
               "stderr: %s", s_text (mapper_err));
}

//  --once: the mapper leaves after its job, exit 0; another mapper of the
//  same job without it stays for the next.
Test (pool, once_exits_0_after_the_first_job)
{
    s_job_t job;
    s_job_ipc (&job, "once", 2, s_slice ("input.txt", 0, 300000));
    s_job_start (&job);
    char *once_err = h_path ("once.err");
    pid_t once = h_spawnl (&(h_io_t) { .stderr_path = once_err }, "zmr-mapper", "--once",
                           job.control, NULL);
    //  The --once mapper must be in the job before the pool mapper can end
    //  it: one that comes after its job ended waits for a ventilator at the
    //  address, as any mapper started first does (a loaded machine can hold
    //  its start back that long).
    long once_pid = (long) once;
    h_status_t seen;
    cr_assert (h_status_wait (job.monitor_out, s_has_worker, &once_pid, S_PROGRESS_MS, &seen),
               "the mapper with --once never joined: %s", s_text (once_err));
    pid_t pool = h_spawnl (NULL, "zmr-mapper", job.control, NULL);
    s_job_finish (&job);
    int code = h_exit_code (h_wait (once, 30000, "the mapper with --once"));
    cr_assert_eq (code, 0, "the mapper with --once exited %d: %s", code, s_text (once_err));
    //  (A bound, not a measure: the pool mapper would have gone with it.)
    h_sleep_ms (1000);
    cr_assert (h_running (pool), "the mapper without --once left after the job");
}

//  With a pool mapper waiting after its job, --wait-ms bounds the wait for
//  the next: it leaves, exit 0, saying so.
Test (pool, wait_ms_bounds_the_wait_for_the_next_job)
{
    s_job_t job;
    s_job_ipc (&job, "wait", 2, s_slice ("input.txt", 0, 300000));
    s_job_start (&job);
    char *err = h_path ("mapper.err");
    pid_t mapper = h_spawnl (&(h_io_t) { .stderr_path = err }, "zmr-mapper", "--wait-ms=3000",
                             job.control, NULL);
    s_job_finish (&job);
    int code = h_exit_code (h_wait (mapper, 60000, "the mapper with --wait-ms"));
    cr_assert_eq (code, 0, "the mapper exited %d: %s", code, s_text (err));
    cr_assert (strstr (s_text (err), "no new job at"), "stderr: %s", s_text (err));
}

//  Issue 14, item 2. Two reducers with CURVE and durable state are kill -9'd
//  mid-job and started again, each bound to the port the OTHER had: a
//  mapper's connection to port A now reaches the other reducer, whose key
//  is not the one it dialled with. The mappers must drop it and dial each
//  reducer where it is now, with its key: the job ends, exact. (Before the
//  fix, every handshake failed and the job hung.)
Test (pool, reducers_started_again_on_each_others_ports_are_found)
{
    mkdir (h_path ("certs"), 0700);
    mkdir (h_path ("allow"), 0700);
    static const char *names[] = { "ventilator", "reducer0", "reducer1", "sink", "monitor",
                                   "mapper0", "mapper1" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *base = h_path (h_strf ("certs/%s", names[i]));
        h_io_t io = { .stdout_path = h_path (h_strf ("keygen-%s.out", names[i])) };
        cr_assert_eq (h_run (&io, 60000, "zmr", "keygen", base, NULL), 0);
        size_t len;
        char *cert = h_read (h_strf ("%s.cert", base), &len);
        cr_assert_not_null (cert);
        h_write (h_strf ("allow/%s.cert", names[i]), cert, len);
        h_release (cert);
    }
    s_job_t job;
    memset (&job, 0, sizeof job);
    job.tag = "swap";
    job.reducers = 2;
    job.curve = true;
    job.input = s_slice ("input.txt", 0, 2000000);
    job.control = s_tcp ();
    job.chunks = s_tcp ();
    job.status = s_tcp ();
    job.sink_ep = s_tcp ();
    for (int p = 0; p < 2; p++) {
        job.reducer_ep[p] = s_tcp ();
        job.state[p] = h_path (h_strf ("state%d", p));
    }
    s_job_start (&job);
    pid_t mappers[2];
    for (int m = 0; m < 2; m++)
        mappers[m] = h_spawnl (&(h_io_t) { .stderr_path = h_path (h_strf ("mapper%d.err", m)) },
                               "zmr-mapper", "--delay-ms=60",
                               h_strf ("--curve-cert=%s",
                                       h_path (h_strf ("certs/mapper%d.cert_secret", m))),
                               h_strf ("--curve-server=%s", h_path ("certs/ventilator.cert")),
                               job.control, NULL);
    s_wait_progress (&job, 0.25);
    for (int p = 0; p < 2; p++)
        cr_assert_eq (kill (job.reducer[p], SIGKILL), 0);
    for (int p = 0; p < 2; p++)
        h_wait (job.reducer[p], 30000, "a killed reducer");
    h_status_t before;
    cr_assert_eq (h_status_last (job.monitor_out, &before), 0);
    cr_assert_str_eq (before.phase, "mapping", "the job was over before the kill");
    s_reducer_start (&job, 0, job.reducer_ep[1]);
    s_reducer_start (&job, 1, job.reducer_ep[0]);
    s_job_finish (&job);
    for (int m = 0; m < 2; m++)
        cr_assert (h_running (mappers[m]), "mapper %d left", m);
}
