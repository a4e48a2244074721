/*  zmr_worker: what the three workers (mapper, reducer, sink) share around
    their own work: taking a message off a socket and dropping, counted and
    said, what is not one. */
#ifndef ZMR_WORKER_H
#define ZMR_WORKER_H
#include "zmr_msg.h"
#include <czmq.h>

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
