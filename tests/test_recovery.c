/*  Issue 3: a job survives the crash of any one process, whenever, however
    often, with a result equal to the reference. zmr run on the King James
    Bible (4.3 MB), hit at 25, 50 and 75 percent; each case over three runs
    with different chunk sizes.

    No case depends on the machine's speed (issue 13): a job that must
    still be running when it is hit reads standard input from a FIFO the
    test feeds and holds (h_feed_start_held): the feeder stops at the kill
    point until the test has struck, so the job cannot end first, however
    fast; a job on files gets a held standard input as its last input for
    the same reason. Every wait is for an event (a status, a line on
    stderr, an exit) with a bound sized for a loaded sanitizer build. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"

TestSuite (recovery, .init = h_setup, .fini = h_teardown, .timeout = 280);

//  Bounds: a whole job, and one event (a kill point, a restart), under
//  ASan+UBSan on a loaded 2-core machine.
#define S_RUN_TIMEOUT 180000
#define S_EVENT_TIMEOUT 120000

typedef struct {
    pid_t zmr;                   //  The launcher
    char *output;                //  Its -o file
    char *err;                   //  Its stderr
    char *monitor_out;           //  A JSON monitor's lines
    char *receipt;               //  Its --receipt file
    uint64_t total;              //  Input bytes when the status cannot know
    uint64_t slack;              //  Bytes short of a gate that may wait in a
                                 //  chunk not yet cut (with a gated input)
} s_run_t;

//  Starts zmr run (-vv, so that the ventilator says when it writes its
//  journal anew) on input (and input2 after it, if not NULL) with a status
//  endpoint and a monitor; extra environment in env (may be NULL);
//  standard input from stdin_path (NULL: /dev/null).
static void
s_start_io (s_run_t *run, const char *input, const char *input2, const char *chunk_size,
            const char *const *env, const char *stdin_path)
{
    char *status_ep = h_strf ("ipc://%s/st", h_dir ());
    run->output = h_path ("out.txt");
    run->err = h_path ("zmr.err");
    run->monitor_out = h_path ("monitor.json");
    run->receipt = h_path ("receipt.json");
    const char *env_all[8] = { h_strf ("TMPDIR=%s", h_dir ()) };
    for (size_t i = 0; env && env[i] && i < 6; i++)
        env_all[i + 1] = env[i];
    h_io_t io = { .stdin_path = stdin_path, .stderr_path = run->err, .env = env_all };
    run->zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-vv", "-m", "2", "-r", "2",
                         "--dead-ms", "1000", "--chunk-size", chunk_size,
                         "--status", status_ep, "--receipt", run->receipt, "-o", run->output,
                         input, input2, NULL);
    h_io_t mon = { .stdout_path = run->monitor_out };
    h_spawnl (&mon, "zmr-monitor", "--json", "--keep", status_ep, NULL);
}

static void
s_start (s_run_t *run, const char *input, const char *chunk_size, const char *const *env)
{
    run->total = 0;
    s_start_io (run, input, NULL, chunk_size, env, NULL);
}

static size_t
s_kjv_len (void)
{
    size_t len;
    h_release (h_read (h_kjv (), &len));
    return len;
}

static uint64_t
s_size (const char *chunk_size)
{
    return strtoull (chunk_size, NULL, 10) << 10;       //  "16K" and the like
}

//  zmr run on the KJV as standard input, from a FIFO fed in pieces of piece
//  bytes and held at fraction of it: the job reaches that point and waits
//  there for more input, until the test moves the limit (h_feed_limit).
static void
s_start_gated (s_run_t *run, double fraction, size_t piece, const char *chunk_size,
               const char *const *env)
{
    size_t len = s_kjv_len ();
    char *fifo = h_fifo ("input");
    h_feed_start_held (fifo, h_kjv (), piece, 0, len, (uint64_t) (fraction * (double) len));
    *run = (s_run_t) { .total = len, .slack = 2 * s_size (chunk_size) + 4096 };
    s_start_io (run, "-", NULL, chunk_size, env, fifo);
}

//  zmr run on the KJV file, then standard input from a FIFO held open
//  with nothing written: the job maps the file and cannot end before the
//  test closes the FIFO (h_feed_stop), however fast it maps.
static void
s_start_file_held (s_run_t *run, const char *chunk_size, const char *const *env)
{
    char *fifo = h_fifo ("tail");
    h_feed_start (fifo, NULL, 0, 0, 0);
    *run = (s_run_t) { .total = s_kjv_len () };
    s_start_io (run, h_kjv (), "-", chunk_size, env, fifo);
}

typedef struct {
    double fraction;
    uint64_t total;              //  Input bytes, or 0: as the status says
    uint64_t slack;              //  Bytes short of the fraction that will do
    const char *role;            //  A worker role that must be listed alive, or NULL
    uint64_t partition;          //  Its partition, if a reducer
} s_progress_t;

//  The first live worker of role (and partition, for a reducer), or NULL.
//  Under load a worker can be listed dead for a moment and then back.
static const h_worker_t *
s_live (const h_status_t *status, const char *role, uint64_t partition)
{
    for (size_t i = 0; i < status->nworkers; i++) {
        const h_worker_t *worker = &status->workers[i];
        if (!strcmp (worker->role, role) && !strcmp (worker->state, "alive")
        &&  (strcmp (role, "reducer") || worker->partition == partition))
            return worker;
    }
    return NULL;
}

static bool
s_reached (const h_status_t *status, void *arg)
{
    s_progress_t *progress = (s_progress_t *) arg;
    //  Past the fraction and not over: flushing is as good a moment to
    //  crash as any.
    bool running = !strcmp (status->phase, "mapping") || !strcmp (status->phase, "flushing");
    uint64_t total = progress->total? progress->total: status->input_bytes;
    double target = progress->fraction * (double) total - (double) progress->slack;
    return running && total
        && (double) status->bytes_done >= target
        && h_status_count_role (status, "mapper") >= 2
        && (!progress->role || s_live (status, progress->role, progress->partition));
}

//  Waits for the job past fraction with a live worker of role (NULL: any
//  status) to hit.
static void
s_wait_victim (s_run_t *run, double fraction, const char *role, uint64_t partition,
               h_status_t *status)
{
    s_progress_t progress = { fraction, run->total, run->slack, role, partition };
    cr_assert (h_status_wait (run->monitor_out, s_reached, &progress, S_EVENT_TIMEOUT, status),
               "the job did not reach %.0f%% with a live %s within %d s (phase '%s', "
               "%llu bytes done)", fraction * 100, role? role: "worker",
               S_EVENT_TIMEOUT / 1000, status->phase,
               (unsigned long long) status->bytes_done);
}

static void
s_wait_progress (s_run_t *run, double fraction, h_status_t *status)
{
    s_wait_victim (run, fraction, NULL, 0, status);
}

//  The ventilator: the child of zmr run that the status does not list.
static pid_t
s_ventilator (s_run_t *run, const h_status_t *status)
{
    pid_t children[64];
    size_t n = h_children_of (run->zmr, children, 64);
    for (size_t i = 0; i < n; i++)
        if (!h_status_worker (status, children[i]))
            return children[i];
    cr_assert_fail ("no ventilator among the children of zmr run");
    return 0;
}

static pid_t
s_worker (const h_status_t *status, const char *role, uint64_t partition)
{
    const h_worker_t *worker = s_live (status, role, partition);
    cr_assert_not_null (worker, "no live %s in the status", role);
    return (pid_t) worker->pid;
}

//  Kills the victim, and waits until it is gone (its files closed, among
//  them its end of a FIFO).
static void
s_kill9 (pid_t victim, const char *what)
{
    cr_assert_eq (kill (victim, SIGKILL), 0, "kill %s (pid %d): %s", what, (int) victim,
                  strerror (errno));
    int64_t deadline = h_now_ms () + 30000;
    while (h_pid_alive (victim) && h_now_ms () < deadline)
        h_sleep_ms (5);
    cr_assert_not (h_pid_alive (victim), "the %s (pid %d) outlived SIGKILL by 30 s", what,
                   (int) victim);
}

//  zmr run ended with code, and its result equals the KJV reference.
static void
s_assert_exact (s_run_t *run, int expected_code)
{
    int code = h_exit_code (h_wait (run->zmr, S_RUN_TIMEOUT, "zmr run"));
    size_t len;
    char *err = h_read (run->err, &len);
    cr_assert_eq (code, expected_code, "zmr run exited %d: %s", code, err? err: "");
    h_release (err);
    h_assert_kjv_result (run->output);
}

static bool
s_stderr_has (s_run_t *run, const char *text)
{
    size_t len;
    char *err = h_read (run->err, &len);
    bool found = err && strstr (err, text);
    h_release (err);
    return found;
}

//  Waits for a line of zmr run's stderr (one of its roles'), bounded.
static void
s_wait_stderr (s_run_t *run, const char *text, const char *what)
{
    int64_t deadline = h_now_ms () + S_EVENT_TIMEOUT;
    while (!s_stderr_has (run, text) && h_now_ms () < deadline && h_running (run->zmr))
        h_sleep_ms (20);
    cr_assert (s_stderr_has (run, text), "%s: no '%s' on zmr run's stderr within %d s",
               what, text, S_EVENT_TIMEOUT / 1000);
}

static const char *s_chunk_sizes[] = { "16K", "32K", "64K" };
static const double s_fractions[] = { 0.25, 0.5, 0.75 };

//  One run of each: kill -9 a reducer or the sink at a fraction of the
//  input, which is held there until the kill.
static void
s_kill_at (const char *role, int seed)
{
    s_run_t run;
    s_start_gated (&run, s_fractions[seed], 65536, s_chunk_sizes[seed], NULL);
    h_status_t status;
    s_wait_victim (&run, s_fractions[seed], role, (uint64_t) seed % 2, &status);
    s_kill9 (s_worker (&status, role, (uint64_t) seed % 2), role);
    h_feed_limit (UINT64_MAX);
    s_assert_exact (&run, 0);
    cr_assert (s_stderr_has (&run, "starting it again"), "zmr run did not restart the %s", role);
}

Test (recovery, a_reducer_killed_at_25_percent_comes_back_exact) { s_kill_at ("reducer", 0); }
Test (recovery, a_reducer_killed_at_50_percent_comes_back_exact) { s_kill_at ("reducer", 1); }
Test (recovery, a_reducer_killed_at_75_percent_comes_back_exact) { s_kill_at ("reducer", 2); }
Test (recovery, the_sink_killed_at_25_percent_comes_back_exact) { s_kill_at ("sink", 0); }
Test (recovery, the_sink_killed_at_50_percent_comes_back_exact) { s_kill_at ("sink", 1); }
Test (recovery, the_sink_killed_at_75_percent_comes_back_exact) { s_kill_at ("sink", 2); }

//  The ventilator on a file, killed once past a fraction of it (with
//  compact set, once it also wrote its journal anew): the new one resumes
//  from the journal and reads the file on at its offsets.
static void
s_ventilator_on_file (double fraction, const char *chunk_size, const char *const *compact)
{
    s_run_t run;
    s_start_file_held (&run, chunk_size, compact);
    h_status_t status;
    s_wait_progress (&run, fraction, &status);
    if (compact)
        s_wait_stderr (&run, "journal written anew", "the ventilator");
    //  (The status is read again: the one of the fraction may be older
    //  than a restart of a worker, whose pid would be taken for the
    //  ventilator's.)
    if (compact)
        s_wait_progress (&run, fraction, &status);
    s_kill9 (s_ventilator (&run, &status), "ventilator");
    h_feed_stop ();
    s_assert_exact (&run, 0);
    cr_assert (s_stderr_has (&run, "starting it again"), "zmr run did not restart the ventilator");
    cr_assert (s_stderr_has (&run, "resuming job"), "the new ventilator did not resume");
}

Test (recovery, the_ventilator_killed_at_25_percent_resumes_exact)
{
    s_ventilator_on_file (s_fractions[0], s_chunk_sizes[0], NULL);
}

Test (recovery, the_ventilator_killed_at_50_percent_resumes_exact)
{
    s_ventilator_on_file (s_fractions[1], s_chunk_sizes[1], NULL);
}

Test (recovery, the_ventilator_killed_at_75_percent_resumes_exact)
{
    s_ventilator_on_file (s_fractions[2], s_chunk_sizes[2], NULL);
}

//  Standard input is a pipe fed in odd-sized pieces: what the killed
//  ventilator read is gone from the pipe, and only its spool has it. The
//  feed is held at the kill point: the ventilator holds read text not yet
//  cut into a chunk when it dies.
static void
s_ventilator_on_stdin (int seed, const char *const *compact)
{
    static const size_t pieces[] = { 4093, 65521, 1000003 };
    s_run_t run;
    s_start_gated (&run, s_fractions[seed], pieces[seed], s_chunk_sizes[seed], compact);
    h_status_t status;
    s_wait_progress (&run, s_fractions[seed], &status);
    if (compact) {
        s_wait_stderr (&run, "journal written anew", "the ventilator");
        s_wait_progress (&run, s_fractions[seed], &status);
    }
    s_kill9 (s_ventilator (&run, &status), "ventilator");
    h_feed_limit (UINT64_MAX);
    s_assert_exact (&run, 0);
    cr_assert (s_stderr_has (&run, "starting it again"), "zmr run did not restart the ventilator");
    cr_assert (s_stderr_has (&run, "resuming job"), "the new ventilator did not resume");
}

//  A stream's journal is written anew once it holds that many records (16
//  here, 65536 by default), its done prefix summed up in one record: a
//  ventilator killed after that resumes from the summary, the input read
//  on from where the first chunk not done starts (a pipe's from its spool,
//  a file's at its offset). The journal is written anew at a sync, once a
//  second: the test waits for the ventilator to say it did (-vv), the job
//  held meanwhile by its input.
static const char *const s_compact_env[] = { "ZMR_JOURNAL_COMPACT=16", NULL };

Test (recovery, the_ventilator_on_stdin_resumes_exact_from_a_journal_written_anew)
{
    s_ventilator_on_stdin (2, s_compact_env);
    s_run_t run = { .err = h_path ("zmr.err") };
    cr_assert (s_stderr_has (&run, "the journal was written anew"),
               "the new ventilator did not resume from a journal written anew");
}

Test (recovery, the_ventilator_on_files_resumes_exact_from_a_journal_written_anew)
{
    s_ventilator_on_file (0.6, "16K", s_compact_env);
    s_run_t run = { .err = h_path ("zmr.err") };
    cr_assert (s_stderr_has (&run, "the journal was written anew"),
               "the new ventilator did not resume from a journal written anew");
}

Test (recovery, the_ventilator_on_stdin_killed_at_25_percent_resumes_exact)
{
    s_ventilator_on_stdin (0, NULL);
}

Test (recovery, the_ventilator_on_stdin_killed_at_50_percent_resumes_exact)
{
    s_ventilator_on_stdin (1, NULL);
}

Test (recovery, the_ventilator_on_stdin_killed_at_75_percent_resumes_exact)
{
    s_ventilator_on_stdin (2, NULL);
}

Test (recovery, a_reducer_stopped_with_sigterm_leaves_and_comes_back_exact)
{
    s_run_t run;
    s_start_gated (&run, 0.4, 65536, "32K", NULL);
    h_status_t status;
    s_wait_victim (&run, 0.4, "reducer", 1, &status);
    pid_t reducer = s_worker (&status, "reducer", 1);
    int64_t start = h_now_ms ();
    cr_assert_eq (kill (reducer, SIGTERM), 0);
    while (h_pid_alive (reducer) && h_now_ms () - start < 30000)
        h_sleep_ms (5);
    cr_assert_not (h_pid_alive (reducer), "the reducer did not leave on SIGTERM within 30 s");
    h_feed_limit (UINT64_MAX);
    s_assert_exact (&run, 0);
}

//  Kills throughout the job: a mapper at each of these fractions of the
//  input, always one that is still running, while the job is mapping.
static const double s_kill_marks[] = { 0.15, 0.4, 0.65 };
#define S_KILLS (sizeof s_kill_marks / sizeof s_kill_marks[0])

typedef struct {
    double fraction;            //  Of the input bytes done
    uint64_t total, slack;
    pid_t killed[S_KILLS];      //  Mappers killed so far
    size_t nkilled;
    pid_t victim;               //  Out: a live mapper not killed yet
} s_mark_t;

//  The job is mapping, at the mark, and a mapper it lists runs still.
static bool
s_mark_reached (const h_status_t *status, void *arg)
{
    s_mark_t *mark = (s_mark_t *) arg;
    if (strcmp (status->phase, "mapping")
    ||  (double) status->bytes_done < mark->fraction * (double) mark->total
                                      - (double) mark->slack)
        return false;
    for (size_t i = 0; i < status->nworkers; i++) {
        const h_worker_t *worker = &status->workers[i];
        bool killed = false;
        for (size_t k = 0; k < mark->nkilled; k++)
            killed = killed || worker->pid == mark->killed[k];
        if (!strcmp (worker->role, "mapper") && !strcmp (worker->state, "alive")
        &&  worker->pid > 0 && !killed && h_pid_alive ((pid_t) worker->pid)) {
            mark->victim = (pid_t) worker->pid;
            return true;
        }
    }
    return false;
}

typedef struct {
    long pid;
} s_dead_t;

static bool
s_listed_dead (const h_status_t *status, void *arg)
{
    const h_worker_t *worker = h_status_worker (status, ((s_dead_t *) arg)->pid);
    return worker && strcmp (worker->state, "alive");
}

//  At each mark the input is held; the victim is frozen (SIGSTOP), the
//  input let on to the next mark, so that chunks go to the frozen mapper
//  too; once the ventilator declares it dead (its chunks go to the other
//  mapper again), it is killed.
Test (recovery, mappers_killed_throughout_the_job_leave_it_exact)
{
    s_run_t run;
    s_start_gated (&run, s_kill_marks[0], 65536, "16K", NULL);
    s_mark_t mark = { .nkilled = 0, .total = run.total, .slack = run.slack };
    for (size_t k = 0; k < S_KILLS; k++) {
        mark.fraction = s_kill_marks[k];
        h_status_t status;
        cr_assert (h_status_wait (run.monitor_out, s_mark_reached, &mark, S_EVENT_TIMEOUT,
                                  &status),
                   "kill %zu of %zu: the job was not mapping at %.0f%% with a mapper to "
                   "kill (phase '%s')", k + 1, (size_t) S_KILLS, mark.fraction * 100,
                   status.phase);
        pid_t victim = mark.victim;
        cr_assert_eq (kill (victim, SIGSTOP), 0, "stop mapper %d", (int) victim);
        h_feed_limit (k + 1 < S_KILLS? (uint64_t) (s_kill_marks[k + 1] * (double) run.total)
                                     : UINT64_MAX);
        s_dead_t dead = { victim };
        cr_assert (h_status_wait (run.monitor_out, s_listed_dead, &dead, S_EVENT_TIMEOUT,
                                  &status),
                   "the frozen mapper %d was not declared dead", (int) victim);
        //  (zmr run may have killed it as frozen already)
        kill (victim, SIGKILL);
        mark.killed[mark.nkilled++] = victim;
    }
    s_assert_exact (&run, 0);
    cr_assert_gt (h_status_max (run.monitor_out, "chunks_reissued"), 0,
                  "%zu mappers were killed mid-job and no chunk was issued again",
                  (size_t) S_KILLS);
}

//  A hand-started job on the KJV as standard input, fed from a FIFO held
//  at fraction of it.
static size_t
s_job_start_gated (h_job_t *job, double fraction, const h_job_opts_t *base)
{
    size_t len = s_kjv_len ();
    char *fifo = h_fifo ("input");
    h_feed_start_held (fifo, h_kjv (), 65536, 0, len, (uint64_t) (fraction * (double) len));
    h_job_opts_t opts = *base;
    opts.stdin_path = fifo;
    h_job_start (job, "-", &opts);
    return len;
}

typedef struct {
    uint64_t bytes;
    const char *key;            //  Or a job field that must be over 0
} s_past_t;

static bool
s_past (const h_status_t *status, void *arg)
{
    const s_past_t *past = (const s_past_t *) arg;
    if (strcmp (status->phase, "mapping") || status->bytes_done < past->bytes)
        return false;
    if (!past->key)
        return true;
    if (!strcmp (past->key, "duplicates"))
        return status->duplicates > 0;
    return status->chunks_reissued > 0;
}

Test (recovery, a_frozen_mapper_is_declared_dead_and_its_late_batches_are_dropped)
{
    //  By hand: three mappers, one of them slow so that it is caught holding
    //  a chunk when it is stopped (the input is held at 60%: the job is
    //  still mapping, between 30 and 60%, at the stop, and cannot end
    //  before the late batches came).
    h_job_t job;
    h_job_opts_t opts = { .mappers = 2, .delay_ms = 20, .dead_ms = 1000 };
    size_t len = s_job_start_gated (&job, 0.6, &opts);
    pid_t slow = h_job_add_mapper (&job, 300);
    h_status_t status;
    s_past_t past = { (uint64_t) (0.3 * (double) len), NULL };
    cr_assert (h_status_wait (job.monitor_out, s_past, &past, S_EVENT_TIMEOUT, &status),
               "the job did not reach 30%% (phase '%s')", status.phase);
    cr_assert_eq (kill (slow, SIGSTOP), 0);
    s_dead_t dead = { slow };
    cr_assert (h_status_wait (job.monitor_out, s_listed_dead, &dead, S_EVENT_TIMEOUT, &status),
               "the stopped mapper was not declared dead");
    past.key = "chunks_reissued";
    cr_assert (h_status_wait (job.monitor_out, s_past, &past, S_EVENT_TIMEOUT, &status),
               "the frozen mapper's chunk was not issued again");
    cr_assert_eq (kill (slow, SIGCONT), 0);
    past.key = "duplicates";
    cr_assert (h_status_wait (job.monitor_out, s_past, &past, S_EVENT_TIMEOUT, &status),
               "its late batches were not dropped as duplicates");
    h_feed_limit (UINT64_MAX);
    h_status_t final;
    h_job_wait_done (&job, S_RUN_TIMEOUT, &final);
    h_assert_kjv_result (job.output);
}

Test (recovery, a_reducer_back_without_its_state_fails_the_job_clearly)
{
    //  By hand, reducers without --state: counts die with the process. The
    //  input is held at 60%, so the job cannot end before the kill.
    h_job_t job;
    h_job_opts_t opts = { .mappers = 2, .delay_ms = 20, .dead_ms = 1000 };
    size_t len = s_job_start_gated (&job, 0.6, &opts);
    h_status_t status;
    s_past_t past = { (uint64_t) (0.3 * (double) len), NULL };
    cr_assert (h_status_wait (job.monitor_out, s_past, &past, S_EVENT_TIMEOUT, &status),
               "the job did not reach 30%% (phase '%s')", status.phase);
    cr_assert_eq (kill (job.reducer[1], SIGKILL), 0);
    h_wait (job.reducer[1], 30000, "the killed reducer");
    char *err = h_path ("new-reducer.err");
    h_io_t io = { .stderr_path = err };
    pid_t again = h_spawnl (&io, "zmr-reducer", "-p", "1", "--bind", job.reducer_ep[1],
                            job.control, NULL);
    int code = h_exit_code (h_wait (job.ventilator, S_EVENT_TIMEOUT, "the ventilator"));
    cr_assert_eq (code, 1, "the ventilator exited %d, not 1", code);
    h_wait (again, 60000, "the new reducer");
    h_status_t last;
    cr_assert_eq (h_status_last (job.monitor_out, &last), 0);
    cr_assert_str_eq (last.phase, "failed");
    cr_assert (strstr (last.reason, "came back holding"), "reason: %s", last.reason);
    cr_assert_eq (access (job.output, F_OK), -1, "a failed job wrote a result");
}

//  A mapper that dies after its batches went and before its MAPPED did:
//  every reducer applies the chunk, so it is done, but its words are not
//  known. The job must not wait for them forever: the chunk is mapped
//  again to learn them (the reducers drop the batches as duplicates), and
//  the result and the total are exact.
Test (recovery, a_chunk_done_without_its_mapped_is_counted_after_all)
{
    const char *env[] = { "ZMR_TEST_UNMAPPED=Mahershalalhashbaz",
                          h_strf ("ZMR_TEST_UNMAPPED_ONCE=%s/unmapped", h_dir ()), NULL };
    s_run_t run;
    s_start (&run, h_kjv (), "64K", env);
    s_assert_exact (&run, 0);
    cr_assert (s_stderr_has (&run, "ZMR_TEST_UNMAPPED"), "the fault did not strike");
    cr_assert_gt (h_status_max (run.monitor_out, "duplicates"), 0,
                  "the chunk was not mapped again (no duplicate batch)");
}

Test (recovery, a_chunk_that_kills_mappers_is_quarantined_and_reported)
{
    //  The test fault: mappers die on any chunk holding this rare name
    //  (it appears once in the KJV, in Isaiah 8).
    const char *env[] = { "ZMR_TEST_POISON=Mahershalalhashbaz", NULL };
    s_run_t run;
    s_start (&run, h_kjv (), "64K", env);
    int code = h_exit_code (h_wait (run.zmr, S_RUN_TIMEOUT, "zmr run"));
    cr_assert_eq (code, 3, "zmr run exited %d, not 3", code);
    cr_assert (s_stderr_has (&run, "quarantined"), "stderr does not report the quarantine");
    //  The receipt names the chunk; the result is the reference of the
    //  input without it.
    size_t len;
    char *receipt = h_read (run.receipt, &len);
    cr_assert_not_null (receipt);
    cr_assert (strstr (receipt, "\"chunks_quarantined\": 1"), "receipt: %s", receipt);
    const char *at = strstr (receipt, "\"offset\": ");
    cr_assert_not_null (at);
    unsigned long long offset = strtoull (at + 10, NULL, 10);
    at = strstr (receipt, "\"length\": ");
    cr_assert_not_null (at);
    unsigned long long length = strtoull (at + 10, NULL, 10);
    h_release (receipt);
    size_t kjv_len;
    char *kjv = h_read (h_kjv (), &kjv_len);
    cr_assert (offset + length <= kjv_len);
    cr_assert_not_null (memmem (kjv + offset, length, "Mahershalalhashbaz", 18),
                        "the quarantined chunk does not hold the poison");
    char *rest = h_alloc (kjv_len - length);
    memcpy (rest, kjv, offset);
    memcpy (rest + offset, kjv + offset + length, kjv_len - offset - length);
    //  The chunk ends at whitespace, so the rest splits no word.
    char *without = h_write ("without.txt", rest, kjv_len - length);
    h_release (kjv);
    h_release (rest);
    h_counts_t ref;
    h_reference_file (without, &ref);
    h_assert_result (run.output, &ref);
    h_counts_free (&ref);
}

Test (recovery, the_receipt_verifies_and_catches_a_changed_count)
{
    s_run_t run;
    s_start (&run, h_kjv_slice ("slice.txt", 1000000), "64K", NULL);
    cr_assert_eq (h_exit_code (h_wait (run.zmr, S_RUN_TIMEOUT, "zmr run")), 0);
    const char *verify = ZMR_SOURCE_DIR "/scripts/verify-receipt";
    cr_assert_eq (h_exit_code (h_wait (h_spawnl (NULL, "/usr/bin/python3", verify, run.output,
                                                 run.receipt, NULL), 30000, "verify")), 0,
                  "the receipt does not verify");
    //  One count changed by one: the digest (and the total) must say so.
    size_t len;
    char *text = h_read (run.output, &len);
    char *tab = memchr (text, '\t', len);
    cr_assert_not_null (tab);
    tab[1] = tab[1] == '9'? '8': (char) (tab[1] + 1);
    char *changed = h_write ("changed.txt", text, len);
    h_release (text);
    cr_assert_eq (h_exit_code (h_wait (h_spawnl (NULL, "/usr/bin/python3", verify, changed,
                                                 run.receipt, NULL), 30000, "verify")), 1,
                  "a changed count verified");
}
