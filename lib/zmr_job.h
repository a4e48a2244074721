/*  zmr_job: what a job is, in one place.

    A job says
    - how input is cut into records: at whitespace (a record is a word) or
      at line ends (a record is a line, its '\n' not part of it; a chunk
      always holds whole lines);
    - the map step: a chunk's records to (key, value) pairs. Three kinds:
      the built-in word count (each word, 1; the mapper's fused fast path),
      an external command in the manner of Hadoop Streaming (the chunk's
      text on its stdin, one `key<TAB>value` pair per line it prints), and a
      C plugin (zmr_plugin.h: a shared object's map function, called per
      line);
    - how two values of one key merge: sum, min or max of signed 64-bit
      integers (a sum that would overflow fails the job, never wraps);
    - the value on the wire: a MessagePack int (signed 64-bit); word counts
      are positive, so their bytes are those of protocol version 1;
    - the result's order and format: `key<TAB>value` lines, the largest
      value first (signed), ties in bytewise order of the key.

    Code never runs because a message said so: the ventilator names the
    job's kind and the digest of its definition (WELCOME), and a mapper runs
    only a job its own command line or config defines (zmr_job_allow), the
    one whose digest matches. See docs/security.md. */
#ifndef ZMR_JOB_H
#define ZMR_JOB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    ZMR_JOB_WORDS = 0,        //  The built-in word count
    ZMR_JOB_COMMAND = 1,      //  An external map command (--map)
    ZMR_JOB_PLUGIN = 2        //  A C plugin (--plugin)
} zmr_job_kind_t;

typedef enum {
    ZMR_REDUCE_SUM = 0,
    ZMR_REDUCE_MIN = 1,
    ZMR_REDUCE_MAX = 2
} zmr_reduce_t;

typedef enum {
    ZMR_CUT_WORDS = 0,        //  Cut after whitespace: records are words
    ZMR_CUT_LINES = 1         //  Cut after '\n': records are lines
} zmr_cut_t;

#define ZMR_JOB_SPEC_MAX   4096   //  Longest command or plugin path, with its NUL
#define ZMR_DIGEST_HEX     65     //  SHA-256 in lower-case hex, with its NUL
#define ZMR_JOB_LABEL_MAX  128    //  A job's label for logs, with its NUL

typedef struct {
    int kind;                         //  zmr_job_kind_t
    int reduce;                       //  zmr_reduce_t
    char spec[ZMR_JOB_SPEC_MAX];      //  The command (COMMAND), the plugin's
                                      //  path (PLUGIN), "" (WORDS)
    char digest[ZMR_DIGEST_HEX];      //  Of the definition: see zmr_job_digest
    char label[ZMR_JOB_LABEL_MAX];    //  For logs and the status: "words",
                                      //  the command cut to fit, the
                                      //  plugin's file name (control
                                      //  bytes as spaces)
} zmr_job_t;

//  The word count, reduce sum: every program's job when none is named.
void
    zmr_job_words (zmr_job_t *job);

//  A job from the options (--map COMMAND or --plugin PATH, at most one of
//  them; reduce "sum", "min" or "max", NULL for sum). For a plugin the
//  file is read whole to digest it (nothing of it runs here; over 256 MiB
//  is refused). Returns 0, or
//  -1 with a one-line reason naming the option in err (errlen bytes): both
//  given, an empty or too long command, a plugin that cannot be read, an
//  unknown reduce, a reduce other than sum for the word count.
int
    zmr_job_define (zmr_job_t *job, const char *command, const char *plugin,
                    const char *reduce, char *err, size_t errlen);

//  The job's digest, SHA-256 in hex, of what runs: for the word count of
//  "words"; for a command of "command\0" and its text; for a plugin of
//  "plugin\0" and the file's bytes. The reduce is not part of it (it is
//  named apart on the wire and runs no user code). zmr_job_define fills
//  job->digest with it.

//  How the job's input is cut.
zmr_cut_t
    zmr_job_cut (const zmr_job_t *job);

//  "words", "command", "plugin"; "sum", "min", "max". NULL when out of range.
const char *
    zmr_job_kind_name (int kind);
const char *
    zmr_reduce_name (int reduce);

//  The reduce named by text, or -1.
int
    zmr_reduce_parse (const char *text);

//  Merges value into *into by reduce. Returns 0, or -1 when a sum would
//  overflow 64 signed bits (*into unchanged).
static inline int
zmr_reduce_merge (int reduce, int64_t *into, int64_t value)
{
    if (reduce == ZMR_REDUCE_MIN) {
        if (value < *into)
            *into = value;
        return 0;
    }
    if (reduce == ZMR_REDUCE_MAX) {
        if (value > *into)
            *into = value;
        return 0;
    }
    int64_t sum;
    if (__builtin_add_overflow (*into, value, &sum))
        return -1;
    *into = sum;
    return 0;
}

//  What a mapper may run: the jobs its own options define (every mapper
//  may run the word count, which runs no user code).
typedef struct _zmr_job_allow_t zmr_job_allow_t;

//  Creates an empty list (the word count only). NULL on out-of-memory.
zmr_job_allow_t *
    zmr_job_allow_new (void);

//  Destroys the list; accepts NULL.
void
    zmr_job_allow_destroy (zmr_job_allow_t **self_p);

//  Adds a job the mapper's options define (--map COMMAND or --plugin PATH;
//  the other NULL). Returns 0, or -1 with a one-line reason in err.
int
    zmr_job_allow_add (zmr_job_allow_t *self, const char *command,
                       const char *plugin, char *err, size_t errlen);

//  Returns the allowed job of that kind and digest (borrowed; its spec is
//  what runs, never the message's), or NULL: the mapper refuses the job.
const zmr_job_t *
    zmr_job_allow_find (const zmr_job_allow_t *self, int kind,
                        const char *digest);

#endif
