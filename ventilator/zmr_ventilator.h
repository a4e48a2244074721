/*  zmr_ventilator: the job's coordinator. Reads the input, cuts it into
    chunks (at whitespace for the word count, at line ends for a command or
    plugin job), leases them to mappers, keeps the ledger until every
    reducer has applied every chunk, and publishes the job's state. */
#ifndef ZMR_VENTILATOR_H
#define ZMR_VENTILATOR_H
#include "zmr.h"
#include <signal.h>

#define ZMR_VENTILATOR_MAX_STATUS 8   //  Status endpoints one ventilator binds

typedef struct {
    const char *control;             //  Bind: ROUTER for every worker
    const char *chunks;              //  Bind: PUSH of chunks to mappers
    const char *status[ZMR_VENTILATOR_MAX_STATUS];  //  Bind: PUB of status
    size_t nstatus;                  //  Endpoints in status
    const char *const *inputs;       //  Paths, "-" for stdin
    size_t ninputs;                  //  Number of inputs
    uint32_t reducers;               //  R
    size_t chunk_size;               //  Bytes per chunk, cut at whitespace
    uint32_t in_flight;              //  Chunks read and not done, at most
    uint32_t dead_ms;                //  Silence after which a worker is dead
    uint32_t status_ms;              //  Status period
    uint64_t job;                    //  Job id, 0 for a random one
    const char *journal;             //  Ledger on disk for resuming, or NULL
    uint64_t journal_compact;        //  Records before it is written anew
    uint32_t poison_limit;           //  Mapper deaths before a chunk is quarantined
    bool by_reference;               //  Chunks of regular files go as (file,
                                     //  offset, length): every mapper reads
                                     //  the same files (one machine)
    uint32_t flush_ms;               //  A stream's text waits at most this
                                     //  long for its chunk to fill
    uint32_t live_ms;                //  Reducers send running totals to the
                                     //  sink this often (0: only at the end)
    uint64_t window_ms;              //  Tumbling windows of ingest time (0:
                                     //  none): counts per window at the sink
    int event_format;                //  Event time (zmr_evtime.h): windows of
                                     //  window_ms on each line's own time
                                     //  (0: ingest time)
    uint64_t every_ms;               //  Event time: a window starts every MS
                                     //  (window_ms a multiple of it)
    uint64_t lateness_ms;            //  Event time: lines this much older than
                                     //  the largest time before are on time
    uint64_t max_word;               //  Longer words are left out and counted
                                     //  (0: no limit but the chunk's)
    const zmr_job_t *spec;           //  The job (zmr_job.h; NULL: the word
                                     //  count), named in WELCOME
    const char *listen;              //  tcp://ADDR:PORT for line-TCP producers,
                                     //  one more input after inputs, or NULL
    const char *ingest;              //  Endpoint of the acked ingest (the same
                                     //  input), or NULL
    volatile sig_atomic_t *end_input;  //  Set (by a signal): --listen and
                                     //  --ingest take no more, the job ends
} zmr_ventilator_config_t;

//  Runs the job to its end. Returns the process exit code: 0 when the job
//  is done, 1 when it failed (the reason was logged), 3 when it is done
//  without chunks it had to quarantine, 128 + the signal when a signal
//  stopped it first.
int
    zmr_ventilator_run (const zmr_ventilator_config_t *config);

#endif
