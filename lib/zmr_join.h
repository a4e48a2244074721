/*  zmr_join: how a worker (mapper, reducer, sink) joins a job: HELLO to the
    ventilator's control endpoint, again every second, until WELCOME. */
#ifndef ZMR_JOIN_H
#define ZMR_JOIN_H
#include "zmr_msg.h"
#include <czmq.h>

typedef struct {
    zmr_role_t role;             //  Who we are
    uint32_t partition;          //  Reducers: the partition served
    uint32_t reducers;           //  Reducers: R expected (0: any)
    const char *endpoint;        //  Reducers and sink: bound endpoint
    const char *name;            //  Worker name
    const char *control;         //  For diagnostics
    uint32_t wait_ms;            //  Give up after this (0: never)
    uint64_t job;                //  Job of the state the worker holds, or 0
    uint64_t applied;            //  Chunks applied in that state (reducers)
    bool pool;                   //  Mappers that serve job after job
    uint64_t over;               //  ... the last job served, or 0
} zmr_join_t;

//  Joins over control (a connected DEALER). Returns 0 on WELCOME, with the
//  frame in *frame (the caller's, to zmq_msg_close) and decoded in *welcome
//  (views into the frame); 1 when the job is already over or a signal came
//  (exit 0); -1 on REJECT, a failed job or the wait limit (exit 1); 2 on a
//  REJECT that says try again (the place is taken for now: the caller may
//  refresh what it said in HELLO and call again); -2 on a REJECT from a
//  ventilator that runs another job than join->job (not 0), whose id is
//  then in welcome->job (the frame is closed: nothing else is valid). Frames
//  that fail to decode are counted in *malformed. A worker that has not
//  joined after 5 s, over every call, says what it waits for, and again
//  every 30 s. With join->pool (a mapper that serves job after job at the
//  same address), a FINISH of join->over (the job it served) is no answer; a
//  FINISH of another job returns 1 quietly, welcome->type ZMR_FINISH and
//  welcome->job that job; with join->over set, the wait is said only with -v
//  and the wait limit returns 1 (nothing more to do), welcome->type 0.
int
    zmr_join (zsock_t *control, const zmr_join_t *join, zmq_msg_t *frame,
              zmr_msg_t *welcome, uint64_t *malformed);

#endif
