/*  zmr_worker: see zmr_worker.h. */
#include "zmr.h"
#include "zmr_worker.h"
#include <errno.h>

int
zmr_worker_recv (zsock_t *sock, const char *name, zmq_msg_t *frames, int max_frames,
                 zmr_msg_t *msg, uint64_t *malformed)
{
    assert (sock && name && frames && max_frames > 0 && msg && malformed);
    int n;
    if (zmr_msg_recv (sock, frames, max_frames, &n, ZMQ_DONTWAIT) == -1) {
        if (errno == EPROTO) {
            (*malformed)++;
            zmr_log_dropped (name, "too many frames");
        }
        return 0;
    }
    const char *why;
    if (zmr_msg_decode (zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]), msg, &why)) {
        (*malformed)++;
        zmr_log_dropped (name, why);
        zmr_msg_close (frames, n);
        return 0;
    }
    return n;
}
