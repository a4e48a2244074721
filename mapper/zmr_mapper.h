/*  zmr_mapper: the elastic worker. Joins a job knowing only the
    ventilator's control endpoint, maps chunks into one combined batch per
    reducer, and leaves cleanly on SIGTERM. Serves job after job at that
    endpoint (a standing pool), or one (--once). */
#ifndef ZMR_MAPPER_H
#define ZMR_MAPPER_H
#include "zmr.h"

typedef struct {
    const char *control;     //  Ventilator's control endpoint
    const char *name;        //  Worker name for the status (host:pid if NULL)
    uint32_t heartbeat_ms;   //  Heartbeat period
    uint32_t wait_ms;        //  Give up if no WELCOME within this (0: never);
                             //  in a pool, counted again after each job
    bool once;               //  Exit after one job (else serve job after job)
    uint32_t delay_ms;       //  Sleep before each chunk (tests: a slow mapper)
    uint32_t map_cost;       //  Extra hashing rounds per word (bench: costly map)
    const char *poison;      //  Tests: die on a chunk holding these bytes
    const char *unmapped;    //  Tests: die once, after the batches of a chunk
                             //  holding these bytes went and before its
                             //  MAPPED, if the file unmapped_once can be made
    const char *unmapped_once;
    zmr_job_allow_t *allow;  //  The jobs it may run (--map, --plugin; the
                             //  word count always)
    uint64_t map_timeout_ms; //  Longest run of the map command on a chunk
} zmr_mapper_config_t;

//  Works for the job until it is over (with once; else for the next job at
//  the same endpoint, and so on) or a signal says leave. Returns the exit
//  code: 0 done or left cleanly, 1 rejected or failed.
int
    zmr_mapper_run (const zmr_mapper_config_t *config);

#endif
