/*  zmr_command: runs a job's map command on one chunk, in the manner of
    Hadoop Streaming: `/bin/sh -c COMMAND` in a process group of its own,
    the chunk's bytes on its stdin, each line of its stdout a pair.

    A line is `key<TAB>value`, split at its FIRST tab, the value a signed
    64-bit decimal integer (an optional '-', then digits, nothing else: no
    '+', no spaces; a bad line's reason names the first wrong byte); one
    trailing '\r' is taken off each line first (CRLF output); a line without a tab is the key whole with
    the value 1 (an empty line is the empty key, 1). The last line may lack
    its '\n' (what `printf %s` or a program that forgot it prints is still
    a line). The chunk fails, with a one-line reason naming it, when a line
    is bad (its value not an integer or out of range, its key longer than
    the job allows), the command exits non-zero, dies by a signal, or runs
    past its timeout (then its whole group is killed with SIGKILL).

    stdin, stdout and stderr are served by one poll() loop, so a command
    that prints before it has read all its input never deadlocks with us;
    a command that stops reading early is fine when it exits 0 (SIGPIPE is
    ignored here; the command gets it back at its default). The last 4 KiB
    of stderr are kept for the mapper's log. The command's process group is
    killed once its leader exits (a background process it left would hold
    the pipes open), so a run leaves no process, zombie or descriptor.

    The group's leader is a small guardian process between the mapper and
    the shell: it has PR_SET_PDEATHSIG, so when the mapper dies for any
    reason (kill -9, a crash) it kills the whole group at once; otherwise
    it ends as the shell ended (its status, or its signal raised again). */
#ifndef ZMR_COMMAND_H
#define ZMR_COMMAND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZMR_COMMAND_REASON  256         //  A failure's reason, with its NUL
#define ZMR_COMMAND_STDERR  4096        //  stderr kept: its last bytes

//  Takes one pair (key not terminated). Returns 0, or -1 to fail the run
//  after writing a one-line reason into reason (size bytes).
typedef int (zmr_command_pair_fn) (void *arg, const char *key, size_t len,
                                   int64_t value, char *reason, size_t size);

//  Called about every tick_ms while the command runs (a mapper says it is
//  busy). Returns 0 to go on, non-zero to stop: the command is killed and
//  the run returns as interrupted.
typedef int (zmr_command_tick_fn) (void *arg);

typedef struct {
    const char *command;          //  Run by /bin/sh -c
    uint64_t timeout_ms;          //  Longest run (0: no limit)
    size_t max_key;               //  Longest key in bytes (at least 1)
    const char *what;             //  Names the input in reasons ("chunk 7")
    zmr_command_pair_fn *pair;    //  Each pair, in the order printed
    zmr_command_tick_fn *tick;    //  May be NULL
    uint32_t tick_ms;             //  How often tick is called (0: 1000)
    void *arg;                    //  For pair and tick
} zmr_command_t;

typedef struct {
    uint64_t lines;               //  Pairs taken (lines of stdout)
    uint64_t input_lines;         //  Lines of the input (a last one without
                                  //  '\n' counted), when the run succeeded
    bool interrupted;             //  tick said stop
    bool cannot_run;              //  The shell exited 126 or 127 (the
                                  //  command not found or not executable:
                                  //  this machine's fault, not the chunk's)
    int exit_status;              //  The command's exit status, when it
                                  //  exited (else 0)
    char reason[ZMR_COMMAND_REASON];    //  Why the run failed ("" if not)
    char err[ZMR_COMMAND_STDERR + 1];   //  The last bytes of stderr, NUL ended
    size_t err_len;               //  ... their number
    size_t err_lost;              //  stderr bytes before them, not kept
} zmr_command_result_t;

//  Runs cmd with input on its stdin: the bytes data[0 .. len), or, when
//  fd >= 0, len bytes of fd read from offset (pread: a chunk by reference
//  goes through a small buffer). Returns 0 when the command exited 0 and
//  every line was a good pair, else -1 with result->reason set (or
//  result->interrupted). result is filled in either case.
int
    zmr_command_run (const zmr_command_t *cmd, const void *data, size_t len,
                     int fd, uint64_t offset, zmr_command_result_t *result);

//  Logs the kept stderr of a run, one line each, led by prefix, at level.
void
    zmr_command_log_stderr (const zmr_command_result_t *result, int level,
                            const char *prefix);

//  Parses a value: an optional '-', then 1 to 19 digits, in the signed
//  64-bit range, nothing else. Returns 0, or -1 with a static reason.
int
    zmr_command_parse_value (const char *text, size_t len, int64_t *value,
                             const char **why);

//  Writes text[0 .. len) into out (size bytes, NUL ended) for a log line:
//  a tab as "<TAB>", other control bytes and bytes over 126 as \xNN, cut
//  to about 60 bytes with "..." when longer.
void
    zmr_command_quote (const char *text, size_t len, char *out, size_t size);

#endif
