/*  zmr_sink: collects every partition of a job from the reducers, writes
    the result (and per-partition files), and tells the ventilator DONE. */
#ifndef ZMR_SINK_H
#define ZMR_SINK_H
#include "zmr.h"

typedef struct {
    const char *control;     //  Ventilator's control endpoint
    const char *bind;        //  Where reducers send results (PULL)
    const char *advertise;   //  Endpoint to give the ventilator, or NULL
    const char *output;      //  Result file, or NULL for stdout
    const char *parts_dir;   //  Directory for part-NNNNN files, or NULL
    const char *receipt;     //  Receipt (JSON) file, or NULL
    const char *name;        //  Worker name, or NULL for host:pid
    uint32_t heartbeat_ms;   //  Heartbeat period
    uint32_t wait_ms;        //  Give up if no WELCOME within this (0: never)
    bool follow;             //  Running totals on stdout, as they change
    const char *snapshot;    //  File of all running totals, or NULL
    const char *publish;     //  PUB endpoint of running totals, or NULL
    uint32_t follow_ms;      //  --follow and --publish: changes coalesced
    uint32_t snapshot_ms;    //  Snapshot period
    uint32_t top;            //  Words in the status's top list
    const char *window_dir;  //  One file per closed window, or NULL
} zmr_sink_config_t;

//  Collects and writes the result. Returns the exit code: 0 written (or
//  stopped by a signal), 1 failed (said why in one line; starting again
//  would not help), 2 an endpoint could not be bound at start, 141
//  standard output was closed (quietly), 128 + the signal when SIGINT or
//  SIGTERM interrupted the writing of an output (quietly).
int
    zmr_sink_run (const zmr_sink_config_t *config);

#endif
