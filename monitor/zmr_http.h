/*  zmr_http: the monitor's HTTP face. Serves the newest status it is handed
    as /status.json, /metrics (Prometheus), /events (Server-Sent Events) and
    the dashboard page at /, from libmicrohttpd's own threads: the caller's
    loop only swaps in a new snapshot, so no client can slow it or the job. */
#ifndef ZMR_HTTP_H
#define ZMR_HTTP_H
#include "zmr.h"

typedef struct _zmr_http_t zmr_http_t;

//  Parses ADDR:PORT (an IPv4 address, a [IPv6] address or a host name, and
//  a port 1-65535) and binds a listening socket to it. Returns the socket,
//  or -1 with one line in err: the text is not ADDR:PORT (*usage set: a
//  command-line error), or the address cannot be bound (in use, not local).
int
    zmr_http_listen (const char *address, bool *usage, char *err, size_t size);

//  Serves on the socket from zmr_http_listen (taken over: closed by the
//  destructor). endpoint is the status endpoint the states come from (shown
//  in the "monitor" object). Returns the server, or NULL with one line in err.
zmr_http_t *
    zmr_http_new (int listener, const char *endpoint, char *err, size_t size);

//  Makes status (copied) the state served from now on, received now.
void
    zmr_http_publish (zmr_http_t *self, const zmr_status_t *status);

//  Stops serving: ends every connection, joins the server's threads.
void
    zmr_http_destroy (zmr_http_t **self_p);

//  Milliseconds without a status after which it is not fresh.
#define ZMR_HTTP_FRESH_MS 2000

#endif
