/*  zmr_reducer: owns one partition of a job. Applies each chunk's batch
    exactly once, ACKs it to the ventilator, and on FLUSH sends the
    partition's counts to the sink. */
#ifndef ZMR_REDUCER_H
#define ZMR_REDUCER_H
#include "zmr.h"

typedef struct {
    const char *control;     //  Ventilator's control endpoint
    const char *bind;        //  Where mappers reach us (PULL)
    const char *advertise;   //  Endpoint to give the ventilator, or NULL
    uint32_t partition;      //  The partition served
    uint32_t reducers;       //  R expected, or 0 to take the job's
    const char *name;        //  Worker name, or NULL for host:pid
    uint32_t heartbeat_ms;   //  Heartbeat period
    uint32_t wait_ms;        //  Give up if no WELCOME within this (0: never)
    const char *state_dir;   //  Durable state here (NULL: in memory only)
    bool discard_state;      //  State of another job than the ventilator's
                             //  is dropped (else: exit 1 saying so)
    uint32_t checkpoint_ms;  //  Snapshot period when the log has grown
    uint64_t max_distinct;   //  Distinct words held before the job fails (0: no limit)
} zmr_reducer_config_t;

//  Serves the partition until FINISH or a signal. Returns the exit code.
int
    zmr_reducer_run (const zmr_reducer_config_t *config);

#endif
