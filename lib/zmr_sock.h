/*  zmr_sock: ZeroMQ sockets set up the zmr way: a size limit on what a
    socket takes (under --max-message), CURVE on every bind and connect
    when the process has keys (zmr_curve), ipc:// files that are checked
    before a bind and removed at exit, and reconnects that start fast. The
    top of the shared layers: it uses zmr_curve, zmr_option and zmr_log,
    and nothing below calls it. */
#ifndef ZMR_SOCK_H
#define ZMR_SOCK_H
#include <czmq.h>
#include <stdint.h>

//  Creates a socket of type with a maximum inbound message size (bytes, at
//  least 4 KiB, the room CURVE's handshake needs, and at most the process's
//  --max-message; or -1 for outbound-only sockets) and linger (ms). Returns
//  NULL on failure.
zsock_t *
    zmr_socket (int type, int64_t max_message, int linger_ms);

//  Binds sock to endpoint, as a CURVE server if this process has keys
//  (zmr_curve.h); on failure logs "cannot bind ENDPOINT: reason" and
//  returns -1. On success copies the bound endpoint (with any ephemeral
//  port resolved) into bound (ZMR_ENDPOINT_MAX bytes) if not NULL.
int
    zmr_bind (zsock_t *sock, const char *endpoint, char *bound);

//  Connects sock to endpoint, as a CURVE client of the server with public
//  key key (NULL: the ventilator, "": a server without CURVE) if this
//  process has keys; logs and returns -1 on failure.
int
    zmr_connect (zsock_t *sock, const char *endpoint, const char *key);

//  Sets a random routing id on a DEALER, so the ventilator knows the same
//  worker across reconnects.
void
    zmr_set_random_identity (zsock_t *sock);

#endif
