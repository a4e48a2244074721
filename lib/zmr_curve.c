/*  zmr_curve: CURVE on a process's sockets, with our own ZAP handler.

    Why not CZMQ's zauth: it logs in its own format without the socket or a
    rate limit, and it answers every request at once, so a client that keeps
    trying a refused key gets an answer per reconnect (every 10 ms for our
    own roles). This handler keeps zauth's model (CZMQ's zcertstore over a
    directory, re-read when it changes) and adds what issue 6 asks: fail
    closed, log each refused attempt with the peer, and slow a refused key
    down. */
#define _GNU_SOURCE             //  struct ucred
#include "zmr.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define S_ZAP_ENDPOINT    "inproc://zeromq.zap.01"
#define S_DOMAIN          "zmr"
#define S_MAX_WATCHED     32          //  Server sockets with a monitor
#define S_MAX_PENDING     256         //  Refusals held back at once
#define S_MAX_OFFENDERS   256         //  (address, key) pairs remembered
#define S_MAX_CONNS       1024        //  Connections in handshake, per socket
#define S_FIRST_DELAY_MS  100         //  A key refused again waits this, doubled
#define S_MAX_DELAY_MS    5000        //  ... up to this
#define S_FORGET_MS       60000       //  An offender quiet this long is forgotten

//  Global because it is the process's: libzmq asks one ZAP handler per
//  context (inproc://zeromq.zap.01) and CZMQ's context is the process's,
//  and every socket any module makes is bound or connected with these keys.
static struct {
    bool on;                         //  CURVE configured
    bool require;                    //  --require-curve
    zcert_t *cert;                   //  Own certificate, with its secret
    char server_key[ZMR_KEY_MAX];    //  The ventilator's public key
    char *allow;                     //  Allow-list directory
    zactor_t *guard;                 //  ZAP handler and monitors
    int watched;                     //  Monitors started (inproc names)
} s_curve;

//  ---------------------------------------------------------------------
//  Options

void
zmr_curve_help (int use)
{
    printf ("Security (docs/security.md):\n"
            "      --curve-cert=FILE   this process's CURVE certificate, as written by\n"
            "                          zmr keygen (FILE or FILE_secret)\n");
    if (use & ZMR_CURVE_BINDS)
        printf ("      --curve-allow=DIR   admit only clients whose public certificate is in\n"
                "                          DIR (re-read when it changes)\n");
    if (use & ZMR_CURVE_CONNECTS)
        printf ("      --curve-server=FILE\n"
                "                          the ventilator's public certificate\n");
    //  Each role is told what it does: a mapper or a monitor only connects.
    const char *does = (use & ZMR_CURVE_BINDS) && (use & ZMR_CURVE_CONNECTS)? "bind or connect to"
                     : (use & ZMR_CURVE_BINDS)? "bind": "connect to";
    printf ("      --require-curve     refuse to %s tcp:// beyond loopback\n"
            "                          without CURVE (without it: %s)\n", does,
            (use & ZMR_CURVE_BINDS)? "a warning on binding": "allowed");
}

bool
zmr_curve_option (int opt, const char *arg, zmr_curve_config_t *config)
{
    switch (opt) {
        case ZMR_O_CURVE_CERT: config->cert = arg; return true;
        case ZMR_O_CURVE_ALLOW: config->allow = arg; return true;
        case ZMR_O_CURVE_SERVER: config->server = arg; return true;
        case ZMR_O_REQUIRE_CURVE: config->require = true; return true;
        default: return false;
    }
}

//  Loads a certificate file; NULL after a line logged.
static zcert_t *
s_load (const char *option, const char *path)
{
    struct stat st;
    if (stat (path, &st) || !S_ISREG (st.st_mode)) {
        zmr_log (0, "%s %s: %s", option, path,
                 access (path, F_OK)? strerror (errno): "not a file");
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert || !zmr_key_valid (zcert_public_txt (cert))) {
        zmr_log (0, "%s %s: not a CURVE certificate (make one with zmr keygen)",
                 option, path);
        zcert_destroy (&cert);
    }
    return cert;
}

const char *
zmr_curve_misuse (const zmr_curve_config_t *config, int use)
{
    if (!config->cert && !config->allow && !config->server)
        return NULL;
    if (!config->cert)
        return "--curve-allow and --curve-server need --curve-cert";
    if ((use & ZMR_CURVE_BINDS) && !config->allow)
        return "with --curve-cert this role needs --curve-allow DIR: it binds";
    if (!(use & ZMR_CURVE_BINDS) && config->allow)
        return "--curve-allow does not apply: this role binds nothing";
    if ((use & ZMR_CURVE_CONNECTS) && !config->server)
        return "with --curve-cert this role needs --curve-server FILE, "
               "the ventilator's public certificate";
    if (!(use & ZMR_CURVE_CONNECTS) && config->server)
        return "--curve-server does not apply: this role is the ventilator";
    return NULL;
}

int
zmr_curve_load (const zmr_curve_config_t *config, int use)
{
    const char *misuse = zmr_curve_misuse (config, use);
    if (misuse) {
        zmr_log (0, "%s", misuse);
        return -1;
    }
    s_curve.require = config->require;
    if (!config->cert)
        return 0;
    s_curve.cert = s_load ("--curve-cert", config->cert);
    if (!s_curve.cert)
        return -1;
    //  A certificate loaded from a public file has a secret of zeros.
    static const char zeros[] = "0000000000000000000000000000000000000000";
    if (!strcmp (zcert_secret_txt (s_curve.cert), zeros)) {
        zmr_log (0, "--curve-cert %s: no secret key in it or in %s_secret",
                 config->cert, config->cert);
        zmr_curve_teardown ();
        return -1;
    }
    if (config->server) {
        zcert_t *server = s_load ("--curve-server", config->server);
        if (!server) {
            zmr_curve_teardown ();
            return -1;
        }
        snprintf (s_curve.server_key, sizeof s_curve.server_key, "%s",
                  zcert_public_txt (server));
        zcert_destroy (&server);
    }
    if (config->allow) {
        struct stat st;
        if (stat (config->allow, &st) || !S_ISDIR (st.st_mode)) {
            zmr_log (0, "--curve-allow %s: %s", config->allow,
                     access (config->allow, F_OK)? strerror (errno): "not a directory");
            zmr_curve_teardown ();
            return -1;
        }
        s_curve.allow = strdup (config->allow);
    }
    s_curve.on = true;
    return 0;
}

void
zmr_curve_guard_stop (void)
{
    zactor_destroy (&s_curve.guard);
}

void
zmr_curve_teardown (void)
{
    zactor_destroy (&s_curve.guard);
    zcert_destroy (&s_curve.cert);
    free (s_curve.allow);
    s_curve.allow = NULL;
    s_curve.on = false;
    s_curve.watched = 0;
}

bool
zmr_curve_on (void)
{
    return s_curve.on;
}

const char *
zmr_curve_public_key (void)
{
    return s_curve.on? zcert_public_txt (s_curve.cert): "";
}

int
zmr_curve_keygen (const char *path, const char *name)
{
    zcert_t *cert = zcert_new ();
    if (!cert) {
        zmr_log (0, "cannot make a key pair");
        return -1;
    }
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "created-by", "zmr keygen %s", ZMR_VERSION);
    char secret[PATH_MAX];
    snprintf (secret, sizeof secret, "%s_secret", path);
    //  The secret file is created 0600 before anything is written to it.
    mode_t mask = umask (077);
    int rc = zcert_save (cert, path);
    umask (mask);
    if (rc == 0)
        rc = chmod (path, 0644);
    if (rc)
        zmr_log (0, "cannot write %s and %s: %s", path, secret, strerror (errno));
    zcert_destroy (&cert);
    return rc? -1: 0;
}

//  ---------------------------------------------------------------------
//  Endpoints

bool
zmr_endpoint_beyond_loopback (const char *endpoint)
{
    char host[ZMR_ENDPOINT_MAX];
    zmr_endpoint_host (endpoint, host, sizeof host);
    if (!*host)
        return false;                //  ipc://, inproc://
    //  A tcp endpoint may name an interface: "tcp://eth0;127.0.0.1:5" is
    //  not a thing zmr parses; a host is loopback only by these names.
    if (!strcmp (host, "localhost") || !strcmp (host, "[::1]") || !strcmp (host, "::1")
    ||  !strcmp (host, "lo"))
        return false;
    struct in_addr v4;
    if (inet_pton (AF_INET, host, &v4) == 1)
        return (ntohl (v4.s_addr) >> 24) != 127;
    return true;
}

//  ---------------------------------------------------------------------
//  The guard: ZAP handler and server socket monitors, in one actor

typedef struct {
    int fd;
    char peer[96];
} s_conn_t;

typedef struct {
    zsock_t *pair;                   //  Monitor events of one server socket
    char endpoint[ZMR_ENDPOINT_MAX];
    s_conn_t *conns;                 //  Accepted, with their peers
    size_t nconns;
    const char *failed;              //  Handshake failure waiting for its
    bool failed_auth;                //  DISCONNECTED (auth: ZAP logged it)
} s_watch_t;

//  A client refused before: its next refusal is answered no sooner than
//  next_free, each one later than the one before.
typedef struct {
    char address[64];
    char key[ZMR_KEY_MAX];
    uint32_t refusals;               //  Answered so far
    uint32_t dropped;                //  Refused at once, unlogged (queue full)
    int64_t next_free;               //  When the next answer may go
    int64_t last;                    //  Last request
} s_offender_t;

typedef struct {
    zframe_t *route;                 //  ZAP requester and request id
    zframe_t *request_id;
    char address[64];
    char key[ZMR_KEY_MAX];
    bool curve;                      //  Else another mechanism (not ours)
    int64_t due;
} s_pending_t;

//  Peers whose handshakes failed before ZAP: at most a line a second each.
typedef struct {
    char host[64];
    int64_t logged;
    uint32_t unsaid;
} s_noisy_t;

#define S_MAX_NOISY 64

typedef struct {
    zsock_t *pipe;
    zsock_t *zap;
    zcertstore_t *store;
    const char *allow;
    s_watch_t watch[S_MAX_WATCHED];
    size_t nwatch;
    s_offender_t offenders[S_MAX_OFFENDERS];
    size_t noffenders;
    s_pending_t pending[S_MAX_PENDING];
    size_t npending;
    s_noisy_t noisy[S_MAX_NOISY];
    size_t nnoisy;
} s_guard_t;

static void
s_zap_reply (s_guard_t *self, zframe_t **route, zframe_t **request_id, bool ok,
             const char *key)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, route);
    zmsg_addmem (reply, "", 0);
    zmsg_addstr (reply, "1.0");
    zmsg_append (reply, request_id);
    zmsg_addstr (reply, ok? "200": "400");
    zmsg_addstr (reply, ok? "OK": "key not allowed");
    zmsg_addstr (reply, ok? key: "");
    zmsg_addmem (reply, "", 0);
    zmsg_send (&reply, self->zap);
}

static bool
s_allowed (s_guard_t *self, const char *key)
{
    return zcertstore_lookup (self->store, key) != NULL;
}

//  The record of refusals of (address, key), made if new: the oldest one
//  gives way when the table is full.
static s_offender_t *
s_offender (s_guard_t *self, const char *address, const char *key, int64_t now)
{
    s_offender_t *oldest = NULL;
    for (size_t i = 0; i < self->noffenders; i++) {
        s_offender_t *o = &self->offenders[i];
        if (now - o->last > S_FORGET_MS && now >= o->next_free)
            o->refusals = 0;
        if (!strcmp (o->address, address) && !strcmp (o->key, key))
            return o;
        if (!oldest || o->last < oldest->last)
            oldest = o;
    }
    s_offender_t *o = self->noffenders < S_MAX_OFFENDERS? &self->offenders[self->noffenders++]
                                                        : oldest;
    memset (o, 0, sizeof *o);
    snprintf (o->address, sizeof o->address, "%s", address);
    snprintf (o->key, sizeof o->key, "%s", key);
    return o;
}

static void
s_on_zap (s_guard_t *self)
{
    zmsg_t *request = zmsg_recv (self->zap);
    if (!request)
        return;
    //  route, "", version, request id, domain, address, routing id,
    //  mechanism, credentials...
    if (zmsg_size (request) < 8) {
        zmsg_destroy (&request);
        return;
    }
    zframe_t *route = zmsg_pop (request);
    zframe_t *empty = zmsg_pop (request);
    char *version = zmsg_popstr (request);
    zframe_t *request_id = zmsg_pop (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    zframe_t *identity = zmsg_pop (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);
    char key[ZMR_KEY_MAX] = "";
    if (credentials && zframe_size (credentials) == 32)
        zmq_z85_encode (key, zframe_data (credentials), 32);
    bool curve = mechanism && !strcmp (mechanism, "CURVE") && *key;
    if (version && !strcmp (version, "1.0") && curve && s_allowed (self, key))
        s_zap_reply (self, &route, &request_id, true, key);
    else
    if (version && !strcmp (version, "1.0")) {
        //  Refused: answered in turn, each refusal of the same (address,
        //  key) later than the one before, so that trying again and again
        //  (or many times at once) gets one answer per delay.
        int64_t now = zmr_now_ms ();
        s_offender_t *o = s_offender (self, address? address: "", key, now);
        o->last = now;
        if (self->npending < S_MAX_PENDING) {
            s_pending_t *p = &self->pending[self->npending++];
            p->route = route;
            p->request_id = request_id;
            route = request_id = NULL;
            snprintf (p->address, sizeof p->address, "%s", address? address: "");
            snprintf (p->key, sizeof p->key, "%s", key);
            p->curve = curve;
            uint32_t queued = o->refusals;
            for (size_t i = 0; i + 1 < self->npending; i++)
                queued += !strcmp (self->pending[i].address, p->address)
                       && !strcmp (self->pending[i].key, key);
            uint32_t delay = queued == 0? 0: S_FIRST_DELAY_MS << (queued > 6? 6: queued - 1);
            if (delay > S_MAX_DELAY_MS)
                delay = S_MAX_DELAY_MS;
            p->due = (o->next_free > now? o->next_free: now) + delay;
            o->next_free = p->due;
        }
        else {
            o->dropped++;
            s_zap_reply (self, &route, &request_id, false, key);
        }
    }
    zframe_destroy (&route);
    zframe_destroy (&empty);
    zframe_destroy (&request_id);
    zframe_destroy (&identity);
    zframe_destroy (&credentials);
    zstr_free (&version);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
    zmsg_destroy (&request);
}

//  Answers the refusals held back whose time has come, and logs each. The
//  allow-list is asked again: a key added meanwhile is let in.
static void
s_answer_due (s_guard_t *self, bool all)
{
    int64_t now = zmr_now_ms ();
    size_t kept = 0;
    for (size_t i = 0; i < self->npending; i++) {
        s_pending_t *p = &self->pending[i];
        if (!all && now < p->due) {
            self->pending[kept++] = *p;
            continue;
        }
        bool ok = !all && p->curve && s_allowed (self, p->key);
        s_zap_reply (self, &p->route, &p->request_id, ok, p->key);
        if (ok || all)
            continue;
        s_offender_t *o = s_offender (self, p->address, p->key, now);
        o->refusals++;
        char more[64] = "";
        if (o->dropped)
            snprintf (more, sizeof more, "; %u more refused unlogged", o->dropped);
        o->dropped = 0;
        if (p->curve)
            zmr_log (0, "refused CURVE client %s from %s: its key is not in %s (attempt %u%s)",
                     p->key, p->address, self->allow, o->refusals, more);
        else
            zmr_log (0, "refused a client from %s: not CURVE (attempt %u%s)", p->address,
                     o->refusals, more);
    }
    self->npending = kept;
}

static int64_t
s_next_due (s_guard_t *self)
{
    int64_t next = -1;
    for (size_t i = 0; i < self->npending; i++)
        if (next < 0 || self->pending[i].due < next)
            next = self->pending[i].due;
    return next;
}

//  "address:port" of a tcp peer, "pid N uid U" of an ipc one.
static void
s_peer_of (int fd, char *out, size_t size)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    snprintf (out, size, "an unknown peer");
    if (getpeername (fd, (struct sockaddr *) &addr, &len))
        return;
    char host[INET6_ADDRSTRLEN] = "";
    if (addr.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *) &addr;
        inet_ntop (AF_INET, &in->sin_addr, host, sizeof host);
        snprintf (out, size, "%s:%u", host, ntohs (in->sin_port));
    }
    else
    if (addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &addr;
        inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf (out, size, "[%s]:%u", host, ntohs (in6->sin6_port));
    }
    else
    if (addr.ss_family == AF_UNIX) {
        struct ucred cred;
        socklen_t clen = sizeof cred;
        if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
            snprintf (out, size, "local pid %d uid %d", (int) cred.pid, (int) cred.uid);
    }
}

//  Logs a handshake that failed before ZAP was asked, at most a line a
//  second per host; the next line says how many went unsaid.
static void
s_log_failed (s_guard_t *self, const char *peer, const char *endpoint, const char *why)
{
    char host[64];
    snprintf (host, sizeof host, "%s", peer);
    char *cut = host[0] == '[' ? strchr (host, ']'): strrchr (host, ':');
    if (cut && (host[0] == '[' || strchr (host, '.')))
        cut[host[0] == '['] = 0;     //  The host without its port
    int64_t now = zmr_now_ms ();
    s_noisy_t *n = NULL, *oldest = NULL;
    for (size_t i = 0; i < self->nnoisy && !n; i++) {
        if (!strcmp (self->noisy[i].host, host))
            n = &self->noisy[i];
        else
        if (!oldest || self->noisy[i].logged < oldest->logged)
            oldest = &self->noisy[i];
    }
    if (!n) {
        n = self->nnoisy < S_MAX_NOISY? &self->noisy[self->nnoisy++]: oldest;
        memset (n, 0, sizeof *n);
        snprintf (n->host, sizeof n->host, "%s", host);
        n->logged = now - 1000;
    }
    if (now - n->logged < 1000) {
        n->unsaid++;
        return;
    }
    char more[64] = "";
    if (n->unsaid)
        snprintf (more, sizeof more, " (and %u more from there since)", n->unsaid);
    zmr_log (0, "refused %s on %s: %s%s", peer, endpoint, why, more);
    n->logged = now;
    n->unsaid = 0;
}

static const char *
s_failure (uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        return "the connection ended during the handshake (a client without CURVE?)";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return "it does not speak CURVE (no security, or PLAIN)";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        return "its CURVE handshake does not decrypt (the wrong server key?)";
    return "a malformed handshake";
}

static void
s_on_event (s_guard_t *self, s_watch_t *watch)
{
    zmsg_t *event = zmsg_recv (watch->pair);
    if (!event)
        return;
    zframe_t *head = zmsg_first (event);
    if (!head || zframe_size (head) != 6) {
        zmsg_destroy (&event);
        return;
    }
    uint16_t id;
    uint32_t value;
    memcpy (&id, zframe_data (head), 2);
    memcpy (&value, zframe_data (head) + 2, 4);
    zmsg_destroy (&event);
    if (id == ZMQ_EVENT_ACCEPTED) {
        if (watch->nconns < S_MAX_CONNS) {
            s_conn_t *conn = &watch->conns[watch->nconns++];
            conn->fd = (int) value;
            s_peer_of (conn->fd, conn->peer, sizeof conn->peer);
        }
    }
    else
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        watch->failed = s_failure (id, value);
        watch->failed_auth = false;
    }
    else
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        watch->failed = "refused by ZAP";
        watch->failed_auth = true;
    }
    else
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        watch->failed = NULL;
    else
    if (id == ZMQ_EVENT_DISCONNECTED) {
        //  libzmq signals a failed handshake, then closes that connection:
        //  the failure belongs to this fd.
        char peer[96] = "an unknown peer";
        for (size_t i = 0; i < watch->nconns; i++)
            if (watch->conns[i].fd == (int) value) {
                snprintf (peer, sizeof peer, "%s", watch->conns[i].peer);
                watch->conns[i] = watch->conns[--watch->nconns];
                break;
            }
        if (watch->failed && !watch->failed_auth)
            s_log_failed (self, peer, watch->endpoint, watch->failed);
        watch->failed = NULL;
    }
}

static void
s_on_pipe (s_guard_t *self, bool *running)
{
    char *command = NULL, *endpoint = NULL, *label = NULL;
    if (zstr_recvx (self->pipe, &command, &endpoint, &label, NULL) < 1) {
        *running = false;
        return;
    }
    if (!strcmp (command, "$TERM"))
        *running = false;
    else
    if (!strcmp (command, "WATCH") && endpoint && label) {
        int rc = -1;
        if (self->nwatch < S_MAX_WATCHED) {
            s_watch_t *watch = &self->watch[self->nwatch];
            memset (watch, 0, sizeof *watch);
            watch->pair = zsock_new (ZMQ_PAIR);
            watch->conns = calloc (S_MAX_CONNS, sizeof *watch->conns);
            if (watch->pair && watch->conns && zsock_connect (watch->pair, "%s", endpoint) == 0) {
                snprintf (watch->endpoint, sizeof watch->endpoint, "%s", label);
                self->nwatch++;
                rc = 0;
            }
            else {
                zsock_destroy (&watch->pair);
                free (watch->conns);
            }
        }
        zsock_signal (self->pipe, rc? 1: 0);
    }
    zstr_free (&command);
    zstr_free (&endpoint);
    zstr_free (&label);
}

static void
s_guard (zsock_t *pipe, void *args)
{
    s_guard_t *self = calloc (1, sizeof *self);
    assert (self);
    self->pipe = pipe;
    self->allow = (const char *) args;
    self->zap = zsock_new (ZMQ_ROUTER);
    self->store = zcertstore_new (self->allow);
    if (!self->zap || !self->store || zsock_bind (self->zap, S_ZAP_ENDPOINT) == -1) {
        zsock_destroy (&self->zap);
        zcertstore_destroy (&self->store);
        free (self);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    bool running = true;
    while (running) {
        zmq_pollitem_t items[2 + S_MAX_WATCHED];
        items[0] = (zmq_pollitem_t) { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        items[1] = (zmq_pollitem_t) { zsock_resolve (self->zap), 0, ZMQ_POLLIN, 0 };
        for (size_t i = 0; i < self->nwatch; i++)
            items[2 + i] = (zmq_pollitem_t) { zsock_resolve (self->watch[i].pair), 0,
                                              ZMQ_POLLIN, 0 };
        int64_t due = s_next_due (self);
        long wait = -1;
        if (due >= 0) {
            int64_t left = due - zmr_now_ms ();
            wait = left < 0? 0: (long) left;
        }
        //  A WATCH taken below adds a socket this poll did not cover.
        size_t polled = self->nwatch;
        int rc = zmq_poll (items, (int) (2 + polled), wait);
        if (rc == -1 && errno != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            s_on_pipe (self, &running);
        if (items[1].revents & ZMQ_POLLIN)
            s_on_zap (self);
        for (size_t i = 0; i < polled; i++)
            if (items[2 + i].revents & ZMQ_POLLIN)
                s_on_event (self, &self->watch[i]);
        s_answer_due (self, false);
    }
    s_answer_due (self, true);
    for (size_t i = 0; i < self->nwatch; i++) {
        zsock_destroy (&self->watch[i].pair);
        free (self->watch[i].conns);
    }
    zsock_destroy (&self->zap);
    zcertstore_destroy (&self->store);
    free (self);
}

//  ---------------------------------------------------------------------
//  Sockets

int
zmr_curve_server (zsock_t *sock, const char *endpoint)
{
    if (!s_curve.on) {
        if (zmr_endpoint_beyond_loopback (endpoint)) {
            if (s_curve.require) {
                zmr_log (0, "refusing to bind %s without CURVE (--require-curve): give "
                         "--curve-cert and --curve-allow", endpoint);
                return -1;
            }
            zmr_log (0, "warning: %s is reachable beyond this machine without CURVE: anyone "
                     "who reaches it can read and inject (see --curve-cert)", endpoint);
        }
        return 0;
    }
    //  The handler runs before any CURVE socket binds, and each socket
    //  insists on it: without a handler, libzmq refuses every client.
    //  ZMR_TEST_NO_ZAP (tests only) leaves the handler out, to show that the
    //  socket then admits no one: it can only close, never open.
    if (!s_curve.guard && !getenv ("ZMR_TEST_NO_ZAP")) {
        s_curve.guard = zactor_new (s_guard, s_curve.allow);
        if (!s_curve.guard) {
            zmr_log (0, "cannot start the ZAP handler (is another one bound in this process?)");
            return -1;
        }
    }
    void *handle = zsock_resolve (sock);
    zcert_apply (s_curve.cert, handle);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, S_DOMAIN);
    int one = 1;
    if (zmq_setsockopt (handle, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one))
        zmr_log (1, "this libzmq cannot enforce the ZAP domain; the handler runs first anyway");
    //  A monitor on the socket names the peers whose handshakes fail.
    if (!s_curve.guard)
        return 0;
    char monitor[64];
    snprintf (monitor, sizeof monitor, "inproc://zmr-curve-monitor-%d", s_curve.watched++);
    if (zmq_socket_monitor (handle, monitor,
                            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED
                          | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                          | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                          | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                          | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == 0) {
        zstr_sendx (s_curve.guard, "WATCH", monitor, endpoint, NULL);
        if (zsock_wait (s_curve.guard) != 0)
            zmr_log (1, "no monitor on %s: refused peers are logged by key only", endpoint);
    }
    return 0;
}

int
zmr_curve_client (zsock_t *sock, const char *endpoint, const char *key)
{
    if (!s_curve.on) {
        //  A role that only connects has nothing to bind: --require-curve
        //  keeps it from talking in the clear beyond this machine.
        if (s_curve.require && zmr_endpoint_beyond_loopback (endpoint)) {
            zmr_log (0, "refusing to connect to %s without CURVE (--require-curve): give "
                     "--curve-cert and --curve-server", endpoint);
            return -1;
        }
        return 0;
    }
    if (!key)
        key = s_curve.server_key;
    if (!zmr_key_valid (key)) {
        zmr_log (0, "%s has no CURVE key: it runs without CURVE, and this process "
                 "talks only CURVE", endpoint);
        return -1;
    }
    zcert_apply (s_curve.cert, zsock_resolve (sock));
    zsock_set_curve_serverkey (sock, key);
    return 0;
}
