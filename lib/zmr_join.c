/*  zmr_join: the HELLO/WELCOME handshake of docs/protocol.md, one copy for
    the three worker roles. */
#include "zmr.h"
#include <errno.h>

int
zmr_join (zsock_t *control, const zmr_join_t *join, zmq_msg_t *frame,
          zmr_msg_t *welcome, uint64_t *malformed)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    int64_t start = zmr_now_ms ();
    int64_t next_hello = 0;
    bool said_waiting = false;
    int64_t redial_ms = 2000, redial_at = start + redial_ms;
    int rc = 3;                 //  Still joining
    while (rc == 3) {
        if (zmr_interrupted ()) {
            rc = 1;
            break;
        }
        int64_t now = zmr_now_ms ();
        if (join->wait_ms && now - start > join->wait_ms) {
            zmr_log (0, "no answer from %s within %u ms", join->control, join->wait_ms);
            rc = -1;
            break;
        }
        if (zmr_curve_on () && now >= redial_at) {
            //  libzmq gives up on a connection whose handshake was refused
            //  (our key is not allowed, yet): dial again, less and less
            //  often, so that a certificate added later lets us in.
            zsock_disconnect (control, "%s", join->control);
            zmr_connect (control, join->control, NULL);
            redial_ms = redial_ms * 2 > 16000? 16000: redial_ms * 2;
            redial_at = now + redial_ms;
        }
        if (now >= next_hello) {
            zmr_msg_pack_hello (&pk, join->job, join->role, join->partition,
                                join->reducers, join->endpoint, join->name,
                                join->applied,
                                *join->endpoint? zmr_curve_public_key (): "");
            if (zmr_msg_send (control, &sbuf, ZMQ_DONTWAIT) == -1)
                msgpack_sbuffer_clear (&sbuf);
            next_hello = now + 1000;
            if (now - start > 3000 && !said_waiting) {
                zmr_log (0, "waiting for the job at %s%s", join->control,
                         zmr_curve_on ()? " (CURVE: is this process's certificate in "
                                          "its --curve-allow directory?)": "");
                said_waiting = true;
            }
        }
        zmq_pollitem_t item = { zsock_resolve (control), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 200) <= 0)
            continue;
        int n;
        if (zmr_msg_recv (control, frame, 1, &n, ZMQ_DONTWAIT) == -1) {
            if (errno == EPROTO)
                (*malformed)++;
            continue;
        }
        const char *why;
        if (zmr_msg_decode (zmq_msg_data (frame), zmq_msg_size (frame), welcome, &why)) {
            (*malformed)++;
            zmr_log_dropped ("control", why);
        }
        else
        if (welcome->type == ZMR_WELCOME && welcome->max_message > zmr_max_message ()) {
            //  Its messages would be cut off by our sockets: say so now,
            //  rather than lose them one by one.
            zmr_log (0, "the job at %s sends messages of up to %llu bytes, over this "
                     "process's --max-message %llu", join->control,
                     (unsigned long long) welcome->max_message,
                     (unsigned long long) zmr_max_message ());
            rc = -1;
        }
        else
        if (welcome->type == ZMR_WELCOME) {
            rc = 0;         //  The frame stays open: the caller reads it.
            break;
        }
        else
        if (welcome->type == ZMR_REJECT && welcome->flag) {
            zmr_log (1, "not yet: %s", welcome->reason);
            zclock_sleep (500);
            rc = 2;
        }
        else
        if (welcome->type == ZMR_REJECT) {
            zmr_log (0, "rejected by the ventilator: %s", welcome->reason);
            rc = -1;
        }
        else
        if (welcome->type == ZMR_FINISH) {
            if (welcome->flag)
                zmr_log (0, "the job is already over");
            else
                zmr_log (0, "the job is over and failed: %s", welcome->reason);
            rc = welcome->flag? 1: -1;
        }
        zmq_msg_close (frame);
    }
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}
