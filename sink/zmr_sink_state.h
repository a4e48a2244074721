/*  zmr_sink_state: the state of one sink, which its files share: the actor
    (zmr_sink.c), its live views (zmr_views.c) and its windows
    (zmr_windows.c). Private to the sink. */
#ifndef ZMR_SINK_STATE_H
#define ZMR_SINK_STATE_H
#include "zmr_sink.h"
#include "zmr_worker.h"

//  A window being collected (zmr_windows.c).
typedef struct _zmr_sink_window_t zmr_sink_window_t;

typedef struct {
    zmr_counts_t *counts;    //  The partition's words
    zmr_u64set_t *seqs;      //  Parts received
    uint64_t parts;          //  Parts expected (0: none seen)
    uint64_t pair_count;     //  Pairs the partition applied (its parts'
                             //  pair_count, the same in each)
    bool complete;           //  Every part is here
} zmr_sink_partition_t;

typedef struct {
    const zmr_sink_config_t *config;
    zmr_worker_t *worker;            //  Control link to the ventilator
    zmr_counters_t *counters;        //  The worker's, for heartbeats
    char endpoint[ZMR_ENDPOINT_MAX]; //  As advertised
    uint64_t job;                    //  Adopted from WELCOME
    uint32_t reducers;               //  R
    int reduce;                      //  The job's (zmr_reduce_t), from WELCOME
    int job_kind;                    //  ... its kind (zmr_job_kind_t)
    char label[ZMR_JOB_LABEL_MAX];   //  ... and its label, for the receipt
    zsock_t *results;                //  PULL from reducers
    zmr_sink_partition_t *partitions;       //  R of them
    uint32_t complete;               //  Partitions complete
    msgpack_sbuffer sbuf;            //  TOTALS being sent
    msgpack_packer pk;               //  Packs into sbuf
    bool finished;                   //  FINISH or REJECT received
    bool finish_ok;                  //  ... for a job that was done
    zmr_status_t final;              //  The job's state at FINISH
    uint64_t digest;                 //  Of the result (see zmr_result.h)
    zmr_live_t *live;                //  Running totals
    zsock_t *publish;                //  PUB of TOTALS, or NULL
    int64_t next_follow;             //  When changes go out next
    int64_t next_snapshot;           //  When the snapshot is due
    uint64_t snapshot_updates;       //  Updates the last snapshot holds
    int64_t next_livestat;           //  When LIVESTAT is due
    uint32_t npublish;               //  Pairs in the TOTALS being packed
    msgpack_sbuffer pubbuf;          //  Its pairs
    msgpack_packer pubpk;
    zmr_sink_window_t *window;              //  The window being collected, or NULL
    uint64_t stored_1;               //  Last window written, + 1 (0: none)
    uint64_t stored_words;           //  Its words
    bool end_stored;                 //  Event time: the end's close written
    uint64_t sides_unwritten;        //  Side records without --window-dir
    int fail;                        //  Exit code of a lasting failure
                                     //  (said already), or 0
} zmr_sink_state_t;

//  A failure that starting the sink again cannot cure: the loop ends and
//  the sink exits with code (1 after one line saying why, 141 quietly when
//  standard output was closed). The first one stands. Here, with the
//  state, so that the views and the windows need nothing of the actor.
static inline void
zmr_sink_fail (zmr_sink_state_t *self, int code)
{
    if (!self->fail)
        self->fail = code;
}

#endif
