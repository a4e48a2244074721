/*  zmr_worker: the control link every worker role stands on (see
    zmr_worker.h). One control socket, one encoding buffer for what goes
    over it, the counters the heartbeats carry. */
#include "zmr.h"
#include "zmr_worker.h"
#include <errno.h>

struct _zmr_worker_t {
    char control_at[ZMR_ENDPOINT_MAX];   //  The ventilator's control endpoint
    char name[ZMR_NAME_MAX];             //  As sent in HELLO
    uint32_t heartbeat_ms;               //  Heartbeat period
    int send_flags;                      //  ZMQ_DONTWAIT, or 0 to wait
    zsock_t *control;                    //  DEALER to the ventilator
    zsock_t *watch;                      //  Monitor of control's handshakes, or NULL
    msgpack_sbuffer sbuf;                //  The control message being packed
    msgpack_packer pk;                   //  Packs into sbuf
    zmr_counters_t counters;             //  For heartbeats and BYE
    int64_t next_heartbeat;              //  When the next HEARTBEAT is due
};

zmr_worker_t *
zmr_worker_new (const char *control, const char *name, uint32_t heartbeat_ms,
                bool never_block)
{
    assert (control);
    zmr_worker_t *self = (zmr_worker_t *) calloc (1, sizeof *self);
    if (!self) {
        zmr_log (0, "out of memory");
        return NULL;
    }
    snprintf (self->control_at, sizeof self->control_at, "%s", control);
    if (name)
        snprintf (self->name, sizeof self->name, "%s", name);
    else
        zmr_default_name (self->name, sizeof self->name);
    self->heartbeat_ms = heartbeat_ms;
    self->send_flags = never_block? ZMQ_DONTWAIT: 0;
    msgpack_sbuffer_init (&self->sbuf);
    msgpack_packer_init (&self->pk, &self->sbuf, msgpack_sbuffer_write);
    self->control = zmr_socket (ZMQ_DEALER, 1 << 20, 2000);
    if (!self->control) {
        zmr_worker_destroy (&self);
        return NULL;
    }
    zmr_set_random_identity (self->control);
    if (zmr_connect (self->control, control, NULL))
        zmr_worker_destroy (&self);
    return self;
}

void
zmr_worker_destroy (zmr_worker_t **self_p)
{
    assert (self_p);
    zmr_worker_t *self = *self_p;
    if (!self)
        return;
    zmr_worker_watch_stop (self);
    zsock_destroy (&self->control);
    msgpack_sbuffer_destroy (&self->sbuf);
    free (self);
    *self_p = NULL;
}

zsock_t *
zmr_worker_control (zmr_worker_t *self)
{
    assert (self);
    return self->control;
}

const char *
zmr_worker_name (zmr_worker_t *self)
{
    assert (self);
    return self->name;
}

zmr_counters_t *
zmr_worker_counters (zmr_worker_t *self)
{
    assert (self);
    return &self->counters;
}

msgpack_packer *
zmr_worker_packer (zmr_worker_t *self)
{
    assert (self);
    return &self->pk;
}

void
zmr_worker_send (zmr_worker_t *self)
{
    assert (self);
    if (zmr_msg_send (self->control, &self->sbuf, self->send_flags) == -1)
        msgpack_sbuffer_clear (&self->sbuf);
}

int
zmr_worker_join (zmr_worker_t *self, zmr_join_t *join, zmq_msg_t *frame, zmr_msg_t *welcome)
{
    assert (self && join);
    join->name = self->name;
    join->control = self->control_at;
    return zmr_join (self->control, join, frame, welcome, &self->counters.malformed);
}

void
zmr_worker_heartbeat (zmr_worker_t *self, uint64_t job, uint32_t state)
{
    assert (self);
    zmr_msg_pack_heartbeat (&self->pk, job, state, &self->counters);
    zmr_worker_send (self);
    self->next_heartbeat = zmr_now_ms () + self->heartbeat_ms;
}

int64_t
zmr_worker_heartbeat_in (zmr_worker_t *self)
{
    assert (self);
    return self->next_heartbeat - zmr_now_ms ();
}

void
zmr_worker_bye (zmr_worker_t *self, uint64_t job)
{
    assert (self);
    zmr_msg_pack_bye (&self->pk, job, &self->counters);
    zmr_worker_send (self);
}

void
zmr_worker_set_linger (zmr_worker_t *self, int linger_ms)
{
    assert (self);
    zsock_set_linger (self->control, linger_ms);
}

int
zmr_worker_recv_control (zmr_worker_t *self, zmq_msg_t *frame, zmr_msg_t *msg)
{
    assert (self);
    return zmr_worker_recv (self->control, "control", frame, 1, msg,
                            &self->counters.malformed);
}

zsock_t *
zmr_worker_watch_start (zmr_worker_t *self)
{
    assert (self);
    if (self->watch)
        return self->watch;
    //  A new name each time: a mapper of a pool watches once per job.
    static unsigned serial;
    char name[64];
    snprintf (name, sizeof name, "inproc://zmr-worker-link-%u", serial++);
    if (zmq_socket_monitor (zsock_resolve (self->control), name,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
        return NULL;
    self->watch = zsock_new (ZMQ_PAIR);
    if (self->watch && zsock_connect (self->watch, "%s", name) == -1)
        zsock_destroy (&self->watch);
    if (!self->watch)
        zmq_socket_monitor (zsock_resolve (self->control), NULL, 0);
    return self->watch;
}

bool
zmr_worker_watch_event (zmr_worker_t *self)
{
    assert (self);
    if (!self->watch)
        return false;
    zmsg_t *event = zmsg_recv (self->watch);
    if (!event)
        return false;
    zframe_t *head = zmsg_first (event);
    uint16_t id = 0;
    if (head && zframe_size (head) == 6)
        memcpy (&id, zframe_data (head), 2);
    zmsg_destroy (&event);
    return id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
}

void
zmr_worker_watch_stop (zmr_worker_t *self)
{
    assert (self);
    if (self->watch) {
        zmq_socket_monitor (zsock_resolve (self->control), NULL, 0);
        zsock_destroy (&self->watch);
    }
}

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
