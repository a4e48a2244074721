/*  zmr_http: libmicrohttpd in thread-per-connection mode, with a bounded
    number of connections. The caller publishes a state as an immutable,
    reference-counted snapshot swapped in under a mutex; a request takes a
    reference and answers from it without holding the lock, so a slow
    client holds a snapshot, never the caller. An /events client's thread
    sleeps on a condition variable until a state, a tick or the end: each
    client holds at most one event's text, and one that stops reading stops
    being written to and is dropped after MHD's connection timeout. */
#include "zmr_http.h"
#include "zmr_metrics.h"
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

//  The dashboard page, embedded at build time (dashboard.c, from
//  dashboard.html by embed.cmake).
extern const unsigned char zmr_dashboard_html[];
extern const size_t zmr_dashboard_html_size;

#define S_CONNECTIONS 256        //  Clients at once; more wait in the backlog
#define S_TIMEOUT_S 30           //  A connection idle (or not read) this long is closed
#define S_REQUEST_MEMORY 32768   //  Per connection: bigger request headers get 431
#define S_EVENT_BLOCK 16384      //  Bytes MHD asks an event stream for at once
#define S_SEND_BUFFER 65536      //  Kernel send buffer per connection (bounded)
#define S_COALESCE_MS 250        //  At most 4 status events a second per client
#define S_STALE_TICK_MS 1000     //  A monitor event this often while not fresh
#define S_KEEPALIVE_MS 15000     //  A comment line this often on a quiet stream

//  One state as received: immutable once published.
typedef struct {
    atomic_int refs;             //  Holders: the server, requests
    uint64_t version;            //  Publication number here (1, 2, ...)
    int64_t at;                  //  When it was received (monotonic ms)
    zmr_status_t status;         //  A deep copy
    char *json;                  //  zmr_status_write_json's object
    size_t json_len;
} s_snapshot_t;

struct _zmr_http_t {
    struct MHD_Daemon *daemon;   //  The server, with its threads
    pthread_mutex_t lock;        //  Guards latest, version, stopping
    pthread_cond_t changed;      //  A new state, or stopping
    s_snapshot_t *latest;        //  The newest state, or NULL
    uint64_t version;            //  Of the last one published
    bool stopping;               //  The destructor runs: streams end
    int64_t started;             //  When the server started
    char *endpoint_json;         //  The status endpoint as a JSON string
};

static void
s_snapshot_unref (s_snapshot_t **snap_p)
{
    s_snapshot_t *snap = *snap_p;
    *snap_p = NULL;
    if (snap && atomic_fetch_sub (&snap->refs, 1) == 1) {
        zmr_status_reset (&snap->status);
        free (snap->json);
        free (snap);
    }
}

//  The newest snapshot with a reference for the caller, or NULL.
static s_snapshot_t *
s_latest (zmr_http_t *self)
{
    pthread_mutex_lock (&self->lock);
    s_snapshot_t *snap = self->latest;
    if (snap)
        atomic_fetch_add (&snap->refs, 1);
    pthread_mutex_unlock (&self->lock);
    return snap;
}

//  The "monitor" object: is the state fresh, how old, from where.
static void
s_monitor_json (zmr_http_t *self, const s_snapshot_t *snap, FILE *out)
{
    int64_t age = zmr_now_ms () - (snap? snap->at: self->started);
    if (age < 0)
        age = 0;
    fprintf (out, "{\"fresh\":%s,\"age_ms\":%lld,\"endpoint\":%s,\"received\":%s}",
             snap && age <= ZMR_HTTP_FRESH_MS? "true": "false", (long long) age,
             self->endpoint_json, snap? "true": "false");
}

//  The /status.json object: the state's JSON with the monitor object added
//  as its last key, or the monitor object alone. Returns a malloc'd string
//  (*len its length), or NULL.
static char *
s_state_json (zmr_http_t *self, const s_snapshot_t *snap, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream (&text, len);
    if (!out)
        return NULL;
    if (snap)
        //  Without its closing brace: the monitor key follows.
        fwrite (snap->json, 1, snap->json_len - 1, out);
    fputs (snap? ",\"monitor\":": "{\"monitor\":", out);
    s_monitor_json (self, snap, out);
    fputc ('}', out);
    if (fclose (out)) {
        free (text);
        return NULL;
    }
    return text;
}

static enum MHD_Result
s_queue (struct MHD_Connection *connection, unsigned int code, const char *type,
         struct MHD_Response *response)
{
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response (connection, code, response);
    MHD_destroy_response (response);
    return rc;
}

//  A short text answer (errors).
static enum MHD_Result
s_text (struct MHD_Connection *connection, unsigned int code, const char *text)
{
    return s_queue (connection, code, "text/plain; charset=utf-8",
                    MHD_create_response_from_buffer (strlen (text), (void *) text,
                                                     MHD_RESPMEM_PERSISTENT));
}

//  A malloc'd body, or 500 when making it failed.
static enum MHD_Result
s_owned (struct MHD_Connection *connection, unsigned int code, const char *type,
         char *body, size_t len)
{
    if (!body)
        return s_text (connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return s_queue (connection, code, type,
                    MHD_create_response_from_buffer (len, body, MHD_RESPMEM_MUST_FREE));
}

static enum MHD_Result
s_status_json (zmr_http_t *self, struct MHD_Connection *connection)
{
    s_snapshot_t *snap = s_latest (self);
    size_t len = 0;
    char *body = s_state_json (self, snap, &len);
    //  Before any state: 503, the server is up but has nothing to say yet.
    unsigned int code = snap? MHD_HTTP_OK: MHD_HTTP_SERVICE_UNAVAILABLE;
    s_snapshot_unref (&snap);
    return s_owned (connection, code, "application/json", body, len);
}

static enum MHD_Result
s_metrics (zmr_http_t *self, struct MHD_Connection *connection)
{
    s_snapshot_t *snap = s_latest (self);
    int64_t age = zmr_now_ms () - (snap? snap->at: self->started);
    if (age < 0)
        age = 0;
    char *body = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&body, &len);
    if (out) {
        zmr_metrics_write (snap? &snap->status: NULL, snap && age <= ZMR_HTTP_FRESH_MS,
                           (uint64_t) age, out);
        if (fclose (out)) {
            free (body);
            body = NULL;
        }
    }
    s_snapshot_unref (&snap);
    return s_owned (connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                    body, len);
}

//  ---------------------------------------------------------------------
//  /events: one client's stream.

typedef struct {
    zmr_http_t *server;
    char *event;                 //  The event being written (malloc'd), or NULL
    size_t len, sent;            //  Its length, and what MHD has taken of it
    uint64_t version;            //  The last state sent (0: none)
    int64_t status_at;           //  When it was sent
    int64_t monitor_at;          //  When the last monitor event was sent
    int64_t wrote_at;            //  When anything was last handed to MHD
} s_client_t;

static void
s_client_free (void *cls)
{
    s_client_t *client = cls;
    free (client->event);
    free (client);
}

//  Makes client->event a status event of snap, or a monitor event (snap
//  NULL: the latest is stale or absent, latest says which). 0 or -1.
static int
s_compose (s_client_t *client, const s_snapshot_t *snap, const s_snapshot_t *latest)
{
    free (client->event);
    client->event = NULL;
    client->sent = client->len = 0;
    FILE *out = open_memstream (&client->event, &client->len);
    if (!out)
        return -1;
    if (snap) {
        size_t len;
        char *json = s_state_json (client->server, snap, &len);
        if (json)
            fprintf (out, "event: status\ndata: %s\n\n", json);
        free (json);
    }
    else {
        fputs ("event: monitor\ndata: ", out);
        s_monitor_json (client->server, latest, out);
        fputs ("\n\n", out);
    }
    if (fclose (out) || client->len == 0) {
        free (client->event);
        client->event = NULL;
        client->len = 0;
        return -1;
    }
    return 0;
}

static void
s_wait_until (zmr_http_t *self, int64_t wait_ms)
{
    struct timespec until;
    clock_gettime (CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long) (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait (&self->changed, &self->lock, &until);
}

//  MHD asks for the stream's next bytes (this connection's own thread, so
//  it may wait): the rest of the current event, else the next one when it
//  is due. A client that does not read is not asked.
static ssize_t
s_events_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    s_client_t *client = cls;
    zmr_http_t *self = client->server;
    while (client->sent == client->len) {
        pthread_mutex_lock (&self->lock);
        if (self->stopping) {
            pthread_mutex_unlock (&self->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        int64_t now = zmr_now_ms ();
        s_snapshot_t *latest = self->latest;
        if (latest)
            atomic_fetch_add (&latest->refs, 1);
        bool fresh = latest && now - latest->at <= ZMR_HTTP_FRESH_MS;
        bool newer = latest && latest->version != client->version;
        int64_t wait = S_STALE_TICK_MS;
        int what = 0;                   //  1 status, 2 monitor, 3 keep-alive
        if (newer && (client->version == 0 || now - client->status_at >= S_COALESCE_MS))
            what = 1;
        else
        if (!fresh && (client->monitor_at == 0 || now - client->monitor_at >= S_STALE_TICK_MS))
            what = 2;
        else
        if (now - client->wrote_at >= S_KEEPALIVE_MS)
            what = 3;
        else {
            //  Sleep until the next thing is due, or a state comes.
            if (newer)
                wait = client->status_at + S_COALESCE_MS - now;
            else
            if (fresh)
                wait = latest->at + ZMR_HTTP_FRESH_MS + 1 - now;
            else
                wait = client->monitor_at + S_STALE_TICK_MS - now;
            if (wait > client->wrote_at + S_KEEPALIVE_MS - now)
                wait = client->wrote_at + S_KEEPALIVE_MS - now;
            if (wait < 1)
                wait = 1;
            s_wait_until (self, wait);
        }
        pthread_mutex_unlock (&self->lock);
        int rc = 0;
        if (what == 1) {
            rc = s_compose (client, latest, latest);
            client->version = latest->version;
            client->status_at = now;
        }
        else
        if (what == 2) {
            rc = s_compose (client, NULL, latest);
            client->monitor_at = now;
        }
        else
        if (what == 3) {
            free (client->event);
            client->event = strdup (": keep-alive\n\n");
            client->sent = 0;
            client->len = client->event? strlen (client->event): 0;
            rc = client->event? 0: -1;
        }
        s_snapshot_unref (&latest);
        if (rc)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (what)
            client->wrote_at = now;
    }
    size_t n = client->len - client->sent;
    if (n > max)
        n = max;
    memcpy (buf, client->event + client->sent, n);
    client->sent += n;
    return (ssize_t) n;
}

static enum MHD_Result
s_events (zmr_http_t *self, struct MHD_Connection *connection)
{
    s_client_t *client = calloc (1, sizeof *client);
    if (!client)
        return s_text (connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    client->server = self;
    client->wrote_at = zmr_now_ms ();
    struct MHD_Response *response =
        MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, S_EVENT_BLOCK, s_events_read,
                                           client, s_client_free);
    if (!response) {
        s_client_free (client);
        return MHD_NO;
    }
    //  Proxies in between must pass each event on at once.
    MHD_add_response_header (response, "X-Accel-Buffering", "no");
    return s_queue (connection, MHD_HTTP_OK, "text/event-stream; charset=utf-8", response);
}

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **con_cls)
{
    zmr_http_t *self = cls;
    if (strcmp (method, MHD_HTTP_METHOD_GET) && strcmp (method, MHD_HTTP_METHOD_HEAD))
        return s_text (connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                       "method not allowed: this server only answers GET\n");
    if (!strcmp (url, "/"))
        return s_queue (connection, MHD_HTTP_OK, "text/html; charset=utf-8",
                        MHD_create_response_from_buffer (zmr_dashboard_html_size,
                                                         (void *) zmr_dashboard_html,
                                                         MHD_RESPMEM_PERSISTENT));
    if (!strcmp (url, "/status.json"))
        return s_status_json (self, connection);
    if (!strcmp (url, "/metrics"))
        return s_metrics (self, connection);
    if (!strcmp (url, "/events"))
        return s_events (self, connection);
    return s_text (connection, MHD_HTTP_NOT_FOUND,
                   "not found: try /, /status.json, /events or /metrics\n");
}

//  A new connection: its kernel send buffer is bounded (not left to grow
//  to megabytes), so a client that stops reading holds little memory and
//  its stream stops within seconds, after which MHD's timeout drops it.
static void
s_on_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                 enum MHD_ConnectionNotificationCode code)
{
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    int size = S_SEND_BUFFER;
    if (info)
        setsockopt (info->connect_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

//  ---------------------------------------------------------------------

int
zmr_http_listen (const char *address, bool *usage, char *err, size_t size)
{
    *usage = true;
    char host[256];
    const char *colon;
    if (address[0] == '[') {
        const char *end = strchr (address, ']');
        colon = end && end[1] == ':'? end + 1: NULL;
        if (colon && (size_t) (end - address - 1) < sizeof host) {
            memcpy (host, address + 1, (size_t) (end - address - 1));
            host[end - address - 1] = 0;
        }
        else
            colon = NULL;
    }
    else {
        colon = strrchr (address, ':');
        if (colon && (size_t) (colon - address) < sizeof host
        &&  memchr (address, ':', (size_t) (colon - address)) == NULL) {
            memcpy (host, address, (size_t) (colon - address));
            host[colon - address] = 0;
        }
        else
            colon = NULL;
    }
    uint64_t port;
    if (!colon || !host[0] || zmr_parse_u64 (colon + 1, 1, 65535, &port)) {
        snprintf (err, size, "expected ADDR:PORT (e.g. 127.0.0.1:9464, [::1]:9464), got '%s'",
                  address);
        return -1;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *found = NULL;
    int rc = getaddrinfo (host, colon + 1, &hints, &found);
    if (rc) {
        snprintf (err, size, "cannot serve HTTP at %s: %s", address, gai_strerror (rc));
        return -1;
    }
    *usage = false;
    int fd = -1, error = 0;
    for (struct addrinfo *ai = found; ai && fd == -1; ai = ai->ai_next) {
        fd = socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                     ai->ai_protocol);
        if (fd == -1) {
            error = errno;
            continue;
        }
        int on = 1;
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind (fd, ai->ai_addr, ai->ai_addrlen) || listen (fd, 128)) {
            error = errno;
            close (fd);
            fd = -1;
        }
    }
    freeaddrinfo (found);
    if (fd == -1)
        snprintf (err, size, "cannot serve HTTP at %s: %s", address, strerror (error));
    return fd;
}

zmr_http_t *
zmr_http_new (int listener, const char *endpoint, char *err, size_t size)
{
    zmr_http_t *self = calloc (1, sizeof *self);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    if (!self || !out) {
        if (out)
            fclose (out);
        free (text);
        free (self);
        close (listener);
        snprintf (err, size, "out of memory");
        return NULL;
    }
    zmr_json_string (out, endpoint, strlen (endpoint));
    fclose (out);
    self->endpoint_json = text;
    self->started = zmr_now_ms ();
    pthread_mutex_init (&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&self->changed, &attr);
    pthread_condattr_destroy (&attr);
    struct sockaddr_storage local;
    socklen_t local_len = sizeof local;
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                       | MHD_USE_POLL;
    if (getsockname (listener, (struct sockaddr *) &local, &local_len) == 0
    &&  local.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon (
        flags, 0, NULL, NULL, s_answer, self,
        MHD_OPTION_LISTEN_SOCKET, listener,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) S_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) S_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) S_REQUEST_MEMORY,
        MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, NULL,
        MHD_OPTION_END);
    if (!self->daemon) {
        close (listener);
        snprintf (err, size, "cannot start the HTTP server");
        zmr_http_destroy (&self);
        return NULL;
    }
    return self;
}

void
zmr_http_publish (zmr_http_t *self, const zmr_status_t *status)
{
    s_snapshot_t *snap = calloc (1, sizeof *snap);
    if (!snap)
        return;
    FILE *out = open_memstream (&snap->json, &snap->json_len);
    if (out) {
        zmr_status_write_json (status, out);
        if (fclose (out))
            snap->json_len = 0;
    }
    if (!out || snap->json_len < 2 || zmr_status_copy (&snap->status, status)) {
        //  Out of memory: the last state stays, and goes stale.
        free (snap->json);
        free (snap);
        return;
    }
    atomic_init (&snap->refs, 1);
    pthread_mutex_lock (&self->lock);
    snap->version = ++self->version;
    snap->at = zmr_now_ms ();
    s_snapshot_t *old = self->latest;
    self->latest = snap;
    pthread_cond_broadcast (&self->changed);
    pthread_mutex_unlock (&self->lock);
    s_snapshot_unref (&old);
}

void
zmr_http_destroy (zmr_http_t **self_p)
{
    zmr_http_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    //  Wake every stream so that it ends, then wait for the threads.
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_broadcast (&self->changed);
    pthread_mutex_unlock (&self->lock);
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    s_snapshot_unref (&self->latest);
    pthread_cond_destroy (&self->changed);
    pthread_mutex_destroy (&self->lock);
    free (self->endpoint_json);
    free (self);
}
