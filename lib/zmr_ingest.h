/*  zmr_ingest: text from many producers at once, as one more input of the
    chunker. A thread takes whole lines from line-TCP connections (--listen)
    and numbered batches from a ZeroMQ ROUTER (--ingest, acknowledged once
    durable, see docs/protocol.md "Ingest") and writes them, whole lines at
    a time, into a pipe that the chunker reads as a stream (its path is
    zmr_ingest_path). With a journal, every byte goes first to an ingest
    log next to it (JOURNAL.ingest: the text; JOURNAL.ingest.seq: each
    producer's last sequence number with the text's end), and the pipe is
    fed from the log: a ventilator killed and started again on the same
    journal feeds the chunker what its spool lacks, and remembers every
    batch it acknowledged. */
#ifndef ZMR_INGEST_H
#define ZMR_INGEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZMR_INGEST_TYPE      29       //  INGEST: producer -> ventilator
#define ZMR_INGESTED_TYPE    30       //  INGESTED: the acknowledgement
#define ZMR_INGEST_REFUSED   31       //  REFUSED: a batch that is never taken
#define ZMR_INGEST_ID_MAX    128      //  Longest producer id, in bytes
#define ZMR_INGEST_PRODUCERS 4096     //  Producers tracked at most
#define ZMR_LISTEN_MAX_CONN  256      //  Line-TCP connections at once
#define ZMR_INGEST_BATCH_MAX (1u << 20)  //  Largest batch and longest line

typedef struct {
    const char *listen;      //  tcp://ADDR:PORT for line-TCP producers, or NULL
    const char *ingest;      //  ZeroMQ endpoint of the ROUTER, or NULL
    const char *journal;     //  The job's journal (the log goes next to it), or NULL
    bool resume;             //  The journal was resumed: so is the log
    const char *spool;       //  The chunker's spool of this input (with a
                             //  journal): its size is what it holds already
    size_t max_line;         //  Longest line and largest batch text
} zmr_ingest_config_t;

typedef struct {
    uint64_t connections;    //  Line-TCP connections accepted and served
    uint64_t refused_conn;   //  ... closed at once (too many)
    uint64_t long_lines;     //  ... closed on a line too long
    uint64_t batches;        //  Batches taken (each once)
    uint64_t duplicates;     //  Batches acknowledged again, not taken
    uint64_t refused;        //  Batches answered REFUSED
    uint64_t malformed;      //  Frames dropped as malformed
    uint64_t bytes;          //  Text taken, from both
} zmr_ingest_stats_t;

typedef struct _zmr_ingest_t zmr_ingest_t;

//  Whether endpoint has the form of --listen, tcp://HOST:PORT (HOST may be
//  *, a name, an address or [v6]; PORT digits). Does not resolve HOST.
bool
    zmr_ingest_listen_valid (const char *endpoint);

//  Makes the pipe whose read end the chunker opens by zmr_ingest_path.
//  Returns NULL with a reason in errbuf.
zmr_ingest_t *
    zmr_ingest_new (char *errbuf, size_t errlen);

//  "/dev/fd/N": the read end of the pipe, for the chunker's input list.
const char *
    zmr_ingest_path (zmr_ingest_t *self);

//  Binds, opens (and with resume recovers) the log and starts the thread.
//  Returns 0, or -1 with a one-line reason in errbuf.
int
    zmr_ingest_start (zmr_ingest_t *self, const zmr_ingest_config_t *config,
                      char *errbuf, size_t errlen);

//  Ends the input: no new connection or batch is taken; open connections
//  are read until they close, stay silent 2 s, or 10 s of reading have
//  passed; what is taken is fed to the pipe, which then ends (the chunker
//  sees its end). Async-signal-safe.
void
    zmr_ingest_end (zmr_ingest_t *self);

//  Whether the thread failed (the log cannot be written): the reason is
//  copied into errbuf.
bool
    zmr_ingest_failed (zmr_ingest_t *self, char *errbuf, size_t errlen);

//  Counters so far.
void
    zmr_ingest_stats (zmr_ingest_t *self, zmr_ingest_stats_t *stats);

//  Deletes the log (the job is done).
void
    zmr_ingest_remove (zmr_ingest_t *self);

//  Stops the thread at once and frees everything; accepts NULL.
void
    zmr_ingest_destroy (zmr_ingest_t **self_p);

#endif
