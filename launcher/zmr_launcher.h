/*  zmr_launcher: `zmr run`, the whole pipeline on one machine as child
    processes over ipc:// endpoints in a private directory, supervised: the
    job completes exactly or fails with a reason, and nothing is left behind. */
#ifndef ZMR_LAUNCHER_H
#define ZMR_LAUNCHER_H
#include "zmr.h"

typedef struct {
    uint32_t mappers;            //  Mapper processes
    uint32_t reducers;           //  Reducer processes (R)
    const char *output;          //  Result file, or NULL for stdout
    const char *parts_dir;       //  part-NNNNN directory, or NULL
    const char *receipt;         //  Receipt file, or NULL
    uint64_t chunk_size;         //  Bytes per chunk
    uint32_t dead_ms;            //  Worker liveness timeout
    uint32_t poison_limit;       //  Mappers that may die on a chunk (0: the ventilator's)
    const char *status;          //  Extra status endpoint to bind, or NULL
    const char *http;            //  ADDR:PORT to serve the status over HTTP, or NULL
    uint64_t http_linger_ms;     //  ... and its final state this long after the job
    const char *expose;          //  tcp://HOST:PORT base for all endpoints, or NULL
    bool curve;                  //  CURVE on every socket, with certificates made
                                 //  for this job
    bool require_curve;          //  Refuse --expose beyond loopback without it
    bool progress;               //  Progress bar on stderr
    bool stats;                  //  Print wall time and summed peak RSS
    bool force;                  //  Replace what an earlier run left in
                                 //  parts_dir / window_dir
    uint32_t map_cost;           //  Extra per-word work in mappers (bench)
    bool stream;                 //  Running totals while the job runs
    bool follow;                 //  ... on stdout as they change
    const char *snapshot;        //  ... in this file, or NULL
    const char *publish;         //  ... on a PUB at this endpoint, or NULL
    uint32_t flush_ms;           //  Ventilator --flush-ms (0: its default)
    uint32_t live_ms;            //  Ventilator --live-ms with stream
    uint32_t follow_ms;          //  Sink --follow-ms (0: its default)
    uint64_t max_distinct;       //  Reducers' --max-distinct (0: none)
    uint64_t max_word;           //  Ventilator --max-word (0: none)
    uint64_t max_message;        //  Every process's --max-message (0: default)
    uint64_t window_ms;          //  Tumbling windows (0: none)
    const char *window_dir;      //  Where the sink writes them, or NULL
    int event_format;            //  Event time (zmr_evtime.h; 0: ingest time)
    uint64_t every_ms;           //  Event time: a window every MS (0: window_ms)
    uint64_t lateness_ms;        //  Event time: --allowed-lateness
    const char *map;             //  The job's map command (--map), or NULL
    const char *plugin;          //  ... or its plugin (--plugin), or NULL;
                                 //  neither: the word count
    const char *reduce;          //  --reduce (sum, min, max), or NULL: sum
    uint64_t map_timeout_ms;     //  Mappers' --map-timeout (0: theirs)
    int verbose;                 //  Passed on to the roles
    const char *const *inputs;   //  Paths, "-" for stdin
    size_t ninputs;              //  Number of inputs
    const char *listen;          //  Ventilator --listen, or NULL
    const char *ingest;          //  Ventilator --ingest, or NULL
} zmr_launcher_config_t;

//  Runs the job. Returns the exit code: 0 done, 1 failed, 2 an output or
//  endpoint that cannot be used (said before anything starts), 3 done
//  without quarantined chunks, 128 + the signal that stopped it (130
//  SIGINT, 143 SIGTERM, 129 SIGHUP), 141 when stdout's reader is gone.
int
    zmr_launcher_run (const zmr_launcher_config_t *config);

#endif
