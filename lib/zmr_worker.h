/*  zmr_worker: what the three workers (mapper, reducer, sink) share around
    their own work. A worker holds the control link to the ventilator (a
    DEALER with a random routing id, CURVE when this process has keys),
    joins the job over it (zmr_join: HELLO until WELCOME, REJECT, AGAIN),
    heartbeats with its counters, says BYE, and can watch the link's
    handshakes to learn that a ventilator answers at the address again.
    What a message means stays with the role: the worker only takes
    messages off a socket, dropping (counted, said) what is not one. */
#ifndef ZMR_WORKER_H
#define ZMR_WORKER_H
#include "zmr_join.h"
#include "zmr_msg.h"
#include <czmq.h>

typedef struct _zmr_worker_t zmr_worker_t;

//  Creates a worker of the ventilator at control (connected now; the link
//  comes up in the background). name is the worker's name (NULL:
//  host:pid). With never_block, a message the ventilator's queue does not
//  take is dropped rather than waited for (a mapper of a pool outlives its
//  ventilators); else a send waits up to the socket's send timeout.
//  Returns the worker, or NULL after saying why.
zmr_worker_t *
    zmr_worker_new (const char *control, const char *name, uint32_t heartbeat_ms,
                    bool never_block);

//  Destroys the worker (the control socket with its linger). Accepts NULL.
void
    zmr_worker_destroy (zmr_worker_t **self_p);

//  The control socket, to poll (borrowed).
zsock_t *
    zmr_worker_control (zmr_worker_t *self);

//  The worker's name, as sent in HELLO (borrowed).
const char *
    zmr_worker_name (zmr_worker_t *self);

//  The counters sent with every heartbeat and BYE (the role's to update).
zmr_counters_t *
    zmr_worker_counters (zmr_worker_t *self);

//  The packer of the next control message: pack one message into it, then
//  zmr_worker_send.
msgpack_packer *
    zmr_worker_packer (zmr_worker_t *self);

//  Sends the message packed (dropped if it cannot go, see never_block).
void
    zmr_worker_send (zmr_worker_t *self);

//  Joins the job (zmr_join, whose return codes these are), filling in the
//  worker's name and control endpoint; frames that are no message are
//  counted as malformed.
int
    zmr_worker_join (zmr_worker_t *self, zmr_join_t *join, zmq_msg_t *frame,
                     zmr_msg_t *welcome);

//  Sends a HEARTBEAT of job with state and the counters; the next is due
//  a heartbeat period from now.
void
    zmr_worker_heartbeat (zmr_worker_t *self, uint64_t job, uint32_t state);

//  Milliseconds until the next heartbeat is due (0 or less: now).
int64_t
    zmr_worker_heartbeat_in (zmr_worker_t *self);

//  Sends BYE for job with the counters.
void
    zmr_worker_bye (zmr_worker_t *self, uint64_t job);

//  Sets how long destroying the worker waits for what is still queued.
void
    zmr_worker_set_linger (zmr_worker_t *self, int linger_ms);

//  Takes one message off the control socket (zmr_worker_recv), counting
//  what is dropped in the worker's counters. Returns as zmr_worker_recv.
int
    zmr_worker_recv_control (zmr_worker_t *self, zmq_msg_t *frame, zmr_msg_t *msg);

//  Starts watching the control link's handshakes (once per job). Returns
//  the socket to poll for them (borrowed), or NULL if it cannot be watched.
zsock_t *
    zmr_worker_watch_start (zmr_worker_t *self);

//  Reads one event of the watch. Returns true when a handshake succeeded
//  afresh: a ventilator (started again, or a new one) answers at the
//  address, and knows us only after a HELLO.
bool
    zmr_worker_watch_event (zmr_worker_t *self);

//  Stops the watch, if any.
void
    zmr_worker_watch_stop (zmr_worker_t *self);

//  Takes one message of at most max_frames frames off sock without waiting
//  and decodes its first frame into *msg (views into frames[0]). Returns
//  the number of frames (the caller closes them with zmr_msg_close), or 0
//  when there is nothing to handle: nothing was waiting, or the message was
//  dropped (more than max_frames frames, or a first frame that does not
//  decode), which is counted in *malformed and said, naming the socket as
//  name. The caller checks the rest (type, job, frame count).
int
    zmr_worker_recv (zsock_t *sock, const char *name, zmq_msg_t *frames, int max_frames,
                     zmr_msg_t *msg, uint64_t *malformed);

#endif
