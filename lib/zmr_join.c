/*  zmr_join: the HELLO/WELCOME handshake of docs/protocol.md, one copy for
    the three worker roles. */
#include "zmr.h"
#include <errno.h>
#include <string.h>

#define S_FIRST_SAY_MS  5000    //  A wait is said after this ...
#define S_SAY_AGAIN_MS  30000   //  ... and again this often

//  When this process began to join, and when it says next that it still
//  waits. A worker joins a job maybe over several calls (told "not yet",
//  it calls again): the wait is counted over all of them, and starts again
//  for a mapper of a pool waiting for the job after s_over_of.
static int64_t s_joining_since;
static int64_t s_say_at;
static uint64_t s_over_of;

//  Says, after S_FIRST_SAY_MS and then every S_SAY_AGAIN_MS, what a worker
//  that has not joined yet waits for: the last "not yet" from the
//  ventilator (a place taken), or no answer at all.
static void
s_say_waiting (const zmr_join_t *join, const char *not_yet, int64_t now)
{
    if (now < s_say_at)
        return;
    long waited = (long) ((now - s_joining_since) / 1000);
    if (join->over)
        //  An idle pool is no trouble: said with -v only.
        zmr_log (1, "no new job at %s for %lds since job %016llx; still waiting",
                 join->control, waited, (unsigned long long) join->over);
    else
    if (*not_yet)
        zmr_log (0, "waiting %lds to join the job at %s: %s; still trying", waited,
                 join->control, not_yet);
    else
        zmr_log (0, "no answer from the ventilator at %s for %lds (it answers once its job "
                 "has every reducer and the sink); still trying", join->control, waited);
    s_say_at = now + S_SAY_AGAIN_MS;
}

//  ---------------------------------------------------------------------
//  Handshakes that fail. libzmq retries a failed handshake at once and
//  again (the reconnect interval starts over after each one): a mapper
//  with the wrong --curve-server made ~600 attempts a second. A monitor on
//  the control socket sees each failure; the socket is then disconnected
//  and dialed again after a delay that doubles, and the failure is said
//  once, from what this side can know, then at most every 30 s.

#define S_BACKOFF_FIRST_MS  100
#define S_BACKOFF_MAX_MS    5000
#define S_RESAY_MS          30000

typedef struct {
    zsock_t *pair;               //  Monitor events, or NULL
    bool dialed;                 //  Connected (else: redial at redial_at)
    int64_t redial_at;
    int64_t backoff;             //  Next delay
    int last_kind;               //  What was said last (0: nothing)
    int64_t said_at;             //  When
    uint32_t unsaid;             //  Failures since
} s_watch_t;

static void
s_watch_start (s_watch_t *watch, zsock_t *control)
{
    memset (watch, 0, sizeof *watch);
    watch->dialed = true;
    watch->backoff = S_BACKOFF_FIRST_MS;
    //  A new name each time: a reducer told "not yet" joins again.
    static unsigned serial;
    char name[64];
    snprintf (name, sizeof name, "inproc://zmr-join-monitor-%u", serial++);
    if (zmq_socket_monitor (zsock_resolve (control), name,
                            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                          | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                          | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                          | ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
        return;
    watch->pair = zsock_new (ZMQ_PAIR);
    if (watch->pair && zsock_connect (watch->pair, "%s", name) == -1)
        zsock_destroy (&watch->pair);
    if (!watch->pair)
        zmq_socket_monitor (zsock_resolve (control), NULL, 0);
}

static void
s_watch_stop (s_watch_t *watch, zsock_t *control, const char *endpoint)
{
    if (watch->pair) {
        zmq_socket_monitor (zsock_resolve (control), NULL, 0);
        zsock_destroy (&watch->pair);
    }
    if (!watch->dialed)
        zmr_connect (control, endpoint, NULL);
}

//  Says what a failed handshake means, as far as this side can tell.
static void
s_say_failure (s_watch_t *watch, const char *endpoint, uint16_t event, uint32_t value,
               int64_t now)
{
    int kind = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH? 1
             : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
               && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH? 2
             : event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL? 3: 4;
    if (kind == watch->last_kind && now - watch->said_at < S_RESAY_MS) {
        watch->unsaid++;
        return;
    }
    char more[64] = "";
    if (kind == watch->last_kind && watch->unsaid)
        snprintf (more, sizeof more, " (%u failed handshakes since)", watch->unsaid);
    if (kind == 1)
        zmr_log (0, "the ventilator at %s refused this process's CURVE key %s (ZAP %u): its "
                 "public certificate is not in the ventilator's --curve-allow directory; "
                 "retrying%s", endpoint, zmr_curve_public_key (), value, more);
    else
    if (kind == 2 && !zmr_curve_on ())
        zmr_log (0, "the ventilator at %s speaks CURVE and this process does not: give "
                 "--curve-cert and --curve-server; retrying%s", endpoint, more);
    else
    if (kind == 2)
        zmr_log (0, "the ventilator at %s does not speak CURVE and this process does: start "
                 "both with CURVE or both without; retrying%s", endpoint, more);
    else
    if (kind == 3 && zmr_curve_on ())
        zmr_log (0, "the CURVE handshake with %s failed without a reason: most likely "
                 "--curve-server is not this ventilator's public certificate; "
                 "retrying%s", endpoint, more);
    else
    if (kind == 3)
        //  (A CURVE server hangs up on a client without CURVE, often
        //  before the client has read the server's greeting.)
        zmr_log (0, "the ventilator at %s hung up during the handshake: most likely it "
                 "speaks CURVE and this process does not: give --curve-cert and "
                 "--curve-server; retrying%s", endpoint, more);
    else
        zmr_log (0, "the handshake with %s failed: protocol error 0x%x; retrying%s",
                 endpoint, value, more);
    watch->last_kind = kind;
    watch->said_at = now;
    watch->unsaid = 0;
}

//  Takes the monitor's events: a failed handshake hangs up and dials again
//  later; a good one resets the delay.
static void
s_watch_events (s_watch_t *watch, zsock_t *control, const char *endpoint)
{
    for (int i = 0; watch->pair && i < 64 && (zsock_events (watch->pair) & ZMQ_POLLIN); i++) {
        zmsg_t *event = zmsg_recv (watch->pair);
        if (!event)
            break;
        zframe_t *head = zmsg_first (event);
        if (!head || zframe_size (head) != 6) {
            zmsg_destroy (&event);
            continue;
        }
        uint16_t id;
        uint32_t value;
        memcpy (&id, zframe_data (head), 2);
        memcpy (&value, zframe_data (head) + 2, 4);
        zmsg_destroy (&event);
        int64_t now = zmr_now_ms ();
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            watch->backoff = S_BACKOFF_FIRST_MS;
            continue;
        }
        s_say_failure (watch, endpoint, id, value, now);
        if (watch->dialed) {
            //  With a linger, the session would stay to deliver the HELLOs
            //  queued for it, dialing on: it goes at once, with them.
            int linger = zsock_linger (control);
            zsock_set_linger (control, 0);
            zsock_disconnect (control, "%s", endpoint);
            zsock_set_linger (control, linger);
            zmr_log (2, "hung up on %s after a failed handshake: dialing again in %lld ms",
                     endpoint, (long long) watch->backoff);
            watch->dialed = false;
            watch->redial_at = now + watch->backoff;
            watch->backoff = watch->backoff * 2 > S_BACKOFF_MAX_MS? S_BACKOFF_MAX_MS
                                                                : watch->backoff * 2;
        }
    }
}

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
    memset (welcome, 0, sizeof *welcome);
    if (!s_joining_since || join->over != s_over_of) {
        s_joining_since = start;
        s_say_at = start + (join->over? S_SAY_AGAIN_MS: S_FIRST_SAY_MS);
        s_over_of = join->over;
    }
    static char not_yet[ZMR_REASON_MAX];
    int64_t redial_ms = 2000, redial_at = start + redial_ms;
    s_watch_t watch;
    s_watch_start (&watch, control);
    int rc = 3;                 //  Still joining
    while (rc == 3) {
        if (zmr_interrupted ()) {
            rc = 1;
            break;
        }
        int64_t now = zmr_now_ms ();
        if (join->wait_ms && now - start > join->wait_ms && join->over) {
            zmr_log (0, "no new job at %s within %u ms after job %016llx: leaving",
                     join->control, join->wait_ms, (unsigned long long) join->over);
            welcome->type = 0;
            rc = 1;
            break;
        }
        if (join->wait_ms && now - start > join->wait_ms) {
            zmr_log (0, "no answer from %s within %u ms", join->control, join->wait_ms);
            welcome->type = 0;
            rc = -1;
            break;
        }
        if (!watch.dialed && now >= watch.redial_at) {
            //  Dialed again after a failed handshake, later each time: a
            //  certificate added to the allow-list meanwhile lets us in.
            if (zmr_connect (control, join->control, NULL) == 0)
                watch.dialed = true;
            else
                watch.redial_at = now + S_BACKOFF_MAX_MS;
        }
        if (!watch.pair && zmr_curve_on () && now >= redial_at) {
            //  Without a monitor: libzmq gives up on a connection whose
            //  handshake was refused (our key is not allowed, yet): dial
            //  again, less and less often.
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
        }
        s_say_waiting (join, not_yet, now);
        zmq_pollitem_t items[] = {
            { zsock_resolve (control), 0, ZMQ_POLLIN, 0 },
            { watch.pair? zsock_resolve (watch.pair): NULL, 0, ZMQ_POLLIN, 0 }
        };
        int ready = zmq_poll (items, watch.pair? 2: 1, 100);
        if (ready > 0 && watch.pair && (items[1].revents & ZMQ_POLLIN))
            s_watch_events (&watch, control, join->control);
        if (ready <= 0 || !(items[0].revents & ZMQ_POLLIN))
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
            snprintf (not_yet, sizeof not_yet, "%s", welcome->reason);
            zclock_sleep (500);
            rc = 2;
        }
        else
        if (welcome->type == ZMR_REJECT && join->job && welcome->job
        &&  welcome->job != join->job) {
            //  The state this worker holds is of another job: the caller
            //  says what to do about it (welcome->job is the ventilator's).
            zmr_log (1, "rejected by the ventilator: %s", welcome->reason);
            rc = -2;
        }
        else
        if (welcome->type == ZMR_REJECT) {
            zmr_log (0, "rejected by the ventilator: %s", welcome->reason);
            rc = -1;
        }
        else
        if (welcome->type == ZMR_FINISH && join->over && welcome->job == join->over)
            //  The ventilator of the job just served, still there: no news.
            zmr_log (2, "job %016llx is still over at %s", (unsigned long long) join->over,
                     join->control);
        else
        if (welcome->type == ZMR_FINISH && join->pool)
            //  A job that ended before we came: the caller waits past it.
            rc = 1;
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
    s_watch_stop (&watch, control, join->control);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}
