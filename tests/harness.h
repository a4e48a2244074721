/*  harness: what the integration tests share. A fresh directory per test,
    child processes that never outlive the test, an independent reference
    count (tr | sed | sort | uniq -c, as docs/design.md gives it), a checker for
    zmr's result format, a reader for zmr-monitor --json lines, and a hand-
    started job (ventilator, reducers, sink, mappers, monitor over ipc://).

    Nothing here uses libzmr: the comparison must not share code with what
    it checks. Every helper that can fail the test does so with a Criterion
    assertion; the teardown kills and reaps every child even then. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef ZMR_BIN_DIR
#   error "ZMR_BIN_DIR must name the directory of the zmr binaries"
#endif
#ifndef ZMR_TEST_CACHE_DIR
#   error "ZMR_TEST_CACHE_DIR must name a directory for cached test data"
#endif

//  ---------------------------------------------------------------------
//  Lifecycle: use as TestSuite (name, .init = h_setup, .fini = h_teardown).

//  Creates the test's directory under /tmp, makes this process a child
//  subreaper (orphaned grandchildren come back to it), ignores SIGPIPE.
void h_setup (void);

//  Stops the feeder, SIGKILLs every child still running and everything
//  they started, reaps them all, removes the directory (unless the
//  environment has ZMR_TEST_KEEP=1, then it says where it is).
void h_teardown (void);

//  The test's directory (short: ipc:// paths must stay under 100 bytes).
const char *h_dir (void);

//  printf into a string that lives until the teardown.
char *h_strf (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  A path in the test's directory; lives until the teardown.
char *h_path (const char *name);

//  Writes len bytes to name in the test's directory; returns its path.
char *h_write (const char *name, const void *data, size_t len);

//  Memory that lives until the teardown (so that a failed assertion leaks
//  nothing), zeroed; h_release frees it earlier.
void *h_alloc (size_t size);
void h_release (void *ptr);

//  Reads a whole file, NUL-terminated; *len gets its size. The memory lives
//  until the teardown or h_release. NULL if it cannot be read.
char *h_read (const char *path, size_t *len);

//  Lines in a file (a last line without newline counts), -1 if unreadable.
int h_count_lines (const char *path);

//  ---------------------------------------------------------------------
//  Processes

typedef struct {
    const char *stdin_path;         //  NULL: /dev/null. May be a FIFO.
    const char *stdout_path;        //  NULL: a fresh file in the test dir
    const char *stderr_path;        //  NULL: a fresh file in the test dir
    const char *const *env;         //  Extra NAME=VALUE, NULL-terminated
} h_io_t;

//  Starts program (a name in ZMR_BIN_DIR, or a path with a '/') with the
//  NULL-terminated args (argv[1]..). The child dies with the test process
//  (PR_SET_PDEATHSIG) and is killed and reaped by the teardown at the
//  latest. io may be NULL. Returns its pid; fails the test if it cannot.
pid_t h_spawnv (const char *program, const char *const *args, const h_io_t *io);

//  The same with the arguments listed, NULL last.
pid_t h_spawnl (const h_io_t *io, const char *program, ...) __attribute__ ((sentinel));

//  Waits up to timeout_ms for a child. On timeout it SIGKILLs and reaps it
//  and fails the test, naming what. Returns the wait status.
int h_wait (pid_t pid, int timeout_ms, const char *what);

//  Waits up to timeout_ms; true with *status if it ended, false if it
//  still runs (it is left running).
bool h_try_wait (pid_t pid, int timeout_ms, int *status);

//  Whether a child started by h_spawn has not ended yet (reaps it if so).
bool h_running (pid_t pid);

//  Exit code of a wait status: the code, or 128 + signal.
int h_exit_code (int status);

//  Runs a program to its end within timeout_ms; returns its exit code.
int h_run (const h_io_t *io, int timeout_ms, const char *program, ...) __attribute__ ((sentinel));

//  Whether any process (not only a child) with this pid exists and is not
//  a zombie.
bool h_pid_alive (pid_t pid);

//  Pids of the processes whose parent is ppid (from /proc). Returns how
//  many were found (at most max).
size_t h_children_of (pid_t ppid, pid_t *out, size_t max);

//  Sleeps ms milliseconds.
void h_sleep_ms (int ms);

//  A loopback TCP port free now, below the kernel's ephemeral range: no
//  outgoing connection of another test can be holding it when a role binds
//  it (one that is, blocks the bind). Picked at random, checked by binding.
int h_free_port (void);

//  Milliseconds on a monotonic clock.
int64_t h_now_ms (void);

//  ---------------------------------------------------------------------
//  Feeding a FIFO from a thread, to make a live, paced input.

//  Creates a FIFO in the test dir and returns its path.
char *h_fifo (const char *name);

//  Starts a thread that opens fifo for writing (once a reader is there)
//  and writes source (a file, repeated) in pieces of piece bytes with
//  pause_ms between them, until max_bytes are written, then closes it. With
//  source NULL it only holds the FIFO open, writing nothing, until stopped.
void h_feed_start (const char *fifo, const char *source, size_t piece,
                   int pause_ms, uint64_t max_bytes);

//  The same, but the feeder writes no byte past limit until h_feed_limit
//  moves it: a job on this input cannot end, nor read past that point,
//  before the test says so, however fast the machine.
void h_feed_start_held (const char *fifo, const char *source, size_t piece,
                        int pause_ms, uint64_t max_bytes, uint64_t limit);

//  Moves the feeder's limit (UINT64_MAX: none).
void h_feed_limit (uint64_t bytes);

//  Bytes the feeder has written so far.
uint64_t h_feed_written (void);

//  Tells the feeder (of a source) to write on, past any limit, to the end
//  of the source's current repetition, then close. Waits up to timeout_ms
//  for it (fails the test after) and returns the bytes written: a whole
//  number of repetitions of the source.
uint64_t h_feed_finish (int timeout_ms);

//  Stops the feeder (closes its end: the reader sees the end of input).
void h_feed_stop (void);

//  ---------------------------------------------------------------------
//  Word counts: parsed references and results

typedef struct {
    const unsigned char *word;      //  Bytes of the word (not terminated)
    size_t len;                     //  Its length
    uint64_t count;                 //  Occurrences
} h_pair_t;

typedef struct {
    h_pair_t *pairs;                //  In file order
    size_t n;                       //  Number of pairs
    char *buf;                      //  The text they point into (owned)
} h_counts_t;

//  Releases what a parse or reference allocated (else the teardown does).
void h_counts_free (h_counts_t *counts);

//  The reference count of the concatenation of files, with a newline put
//  between files (a word never spans two inputs), computed by
//  export LC_ALL=C; tr -s ' \t\n\v\f\r' '\n' < INPUT | sed '/^$/d' | sort | uniq -c
//  Fails the test if the pipeline fails.
void h_reference (const char *const *files, size_t nfiles, h_counts_t *out);

//  The same for one file.
void h_reference_file (const char *file, h_counts_t *out);

//  Parses a zmr result ("word\tcount\n" lines) and checks its form and
//  order: count descending, then bytewise word ascending (shorter first on
//  a common prefix). Returns 0, or -1 with the first problem in err.
int h_parse_result (const char *path, h_counts_t *out, char *err, size_t errlen);

//  Compares two multisets of words. Returns 0 if equal, else -1 with the
//  first difference in err. Duplicated words in got are a difference.
int h_counts_compare (const h_counts_t *got, const h_counts_t *ref,
                      char *err, size_t errlen);

//  Parses and compares a result file; 0 or -1 with err.
int h_check_result (const char *path, const h_counts_t *ref, char *err, size_t errlen);

//  Asserts that the result file is exactly the reference, in order.
void h_assert_result (const char *path, const h_counts_t *ref);

//  Escapes a word for a message (non-printable bytes as \xHH, long words
//  cut). Returns a string that lives until the teardown.
const char *h_show (const unsigned char *word, size_t len);

//  ---------------------------------------------------------------------
//  Real text: the King James Bible (`bible gen1:1-rev22:21`), generated
//  once into ZMR_TEST_CACHE_DIR, with its reference count.

//  Path of the cached text (about 4.3 MB).
const char *h_kjv (void);

//  Its reference count (parsed from the cached reference).
void h_kjv_reference (h_counts_t *out);

//  The reference count of times copies of the text end to end (as a feeder
//  repeating it writes them).
void h_kjv_reference_times (uint64_t times, h_counts_t *out);

//  Asserts that the result file at path is exactly the KJV's reference.
void h_assert_kjv_result (const char *path);

//  The first bytes of the text as a file in the test dir.
char *h_kjv_slice (const char *name, size_t bytes);

//  ---------------------------------------------------------------------
//  Status: lines of zmr-monitor --json

#define H_MAX_WORKERS 64

typedef struct {
    char role[16];                  //  mapper, reducer, sink
    char name[128];                 //  host:pid
    char state[16];                 //  alive, dead, left
    long pid;                       //  From the name, or -1
    uint64_t partition;
    uint64_t chunks;
    uint64_t words;
    uint64_t malformed;
    uint64_t duplicates;
} h_worker_t;

typedef struct {
    char job[32];                   //  Job id, hex
    char phase[16];                 //  waiting, mapping, flushing, done, failed
    char reason[256];
    bool input_known;
    bool input_eof;
    uint64_t seq, reducers, input_bytes, bytes_read, bytes_done;
    uint64_t chunks_read, chunks_issued, chunks_done, chunks_reissued, in_flight;
    uint64_t words, words_too_long, mappers_alive, malformed, duplicates;
    size_t nworkers;
    h_worker_t workers[H_MAX_WORKERS];
} h_status_t;

//  Parses one JSON line. Returns 0, or -1 if it is not a status object.
int h_status_parse (const char *line, size_t len, h_status_t *out);

//  The last complete line of a monitor's output. Returns 0, or -1 if none.
int h_status_last (const char *path, h_status_t *out);

//  Largest value of a job-level numeric field over every line of the file.
uint64_t h_status_max (const char *path, const char *key);

typedef bool (*h_status_pred_t) (const h_status_t *status, void *arg);

//  Polls the last line of path until pred holds; *out gets that status.
//  Returns true, or false after timeout_ms (out holds the last seen, if any).
bool h_status_wait (const char *path, h_status_pred_t pred, void *arg,
                    int timeout_ms, h_status_t *out);

//  Workers of a role in a status; with pid >= 0 only that one.
size_t h_status_count_role (const h_status_t *status, const char *role);
const h_worker_t *h_status_worker (const h_status_t *status, long pid);

//  ---------------------------------------------------------------------
//  A job started by hand over ipc:// in the test dir

#define H_JOB_MAX_REDUCERS 16
#define H_JOB_MAX_MAPPERS 32

typedef struct {
    int reducers;                   //  R (default 2)
    int mappers;                    //  Mappers started at once
    int delay_ms;                   //  --delay-ms of those mappers
    const char *chunk_size;         //  Ventilator --chunk-size (default 16K)
    int dead_ms;                    //  Ventilator --dead-ms (default 1000)
    int status_ms;                  //  Ventilator --status-ms (0: default)
    bool no_monitor;                //  Do not start the JSON monitor
    const char *stdin_path;         //  Ventilator's stdin, with input "-"
    bool by_reference;              //  Ventilator --by-reference
    bool live;                      //  Running totals: ventilator --live-ms=10
                                    //  --flush-ms=10, sink --follow to
                                    //  job->follow_out
} h_job_opts_t;

typedef struct {
    int reducers;
    char *control, *chunks, *status;    //  Endpoints
    char *reducer_ep[H_JOB_MAX_REDUCERS];
    char *sink_ep;
    char *output;                   //  The sink's -o file
    char *monitor_out;              //  The monitor's JSON lines
    char *follow_out;               //  The sink's stdout (--follow)
    pid_t ventilator, sink, monitor;
    pid_t reducer[H_JOB_MAX_REDUCERS];
    pid_t mapper[H_JOB_MAX_MAPPERS];
    int mapper_delay[H_JOB_MAX_MAPPERS];
    int nmappers;
} h_job_t;

//  Starts ventilator (over input), R reducers, the sink, the mappers and a
//  monitor writing JSON lines to job->monitor_out.
void h_job_start (h_job_t *job, const char *input, const h_job_opts_t *opts);

//  Starts one more mapper; returns its pid.
pid_t h_job_add_mapper (h_job_t *job, int delay_ms);

//  Waits until the job's status says at least fraction of the input bytes
//  are done, still in phase mapping. Fails the test after timeout_ms.
void h_job_wait_progress (h_job_t *job, double fraction, int timeout_ms, h_status_t *out);

//  Waits for the ventilator and the sink to exit 0 within timeout_ms and
//  for the monitor to report the final state; *final gets it.
void h_job_wait_done (h_job_t *job, int timeout_ms, h_status_t *final);

#endif
