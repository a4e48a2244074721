/*  zmr_curve: CURVE encryption and authentication of a process's sockets.

    One certificate per process (--curve-cert, a CZMQ secret certificate as
    `zmr keygen` writes it). A process that binds admits only the clients
    whose public certificates are in its allow-list directory
    (--curve-allow), re-read whenever it changes; a process that connects to
    the ventilator knows its public certificate (--curve-server); the
    reducers' and the sink's keys come from the ventilator with their
    endpoints (HELLO, WELCOME, FLUSH, LIVE). See docs/security.md.

    The ZAP handler is this module's own actor, started before the first
    CURVE socket binds, and every CURVE server socket enforces its domain:
    no handler, no connection. It answers refusals late to a client that
    keeps trying with the same unknown key (doubling up to 5 s), and logs
    every refused attempt with the peer's address, as it also does for the
    handshakes that fail before ZAP is asked (no security, PLAIN, the wrong
    server key), which it learns from a monitor on each server socket. */
#ifndef ZMR_CURVE_H
#define ZMR_CURVE_H
#include <czmq.h>
#include <getopt.h>
#include <stdbool.h>

typedef struct {
    const char *cert;        //  Own secret certificate file, or NULL
    const char *allow;       //  Directory of allowed clients' public certificates
    const char *server;      //  The ventilator's public certificate file
    bool require;            //  Refuse tcp:// beyond loopback without CURVE
} zmr_curve_config_t;

//  What a role does with sockets: whether it binds (needs --curve-allow)
//  and whether it connects to the ventilator (needs --curve-server).
typedef enum {
    ZMR_CURVE_BINDS = 1,
    ZMR_CURVE_CONNECTS = 2
} zmr_curve_use_t;

//  The options every role takes, for its getopt_long table, and their help.
enum {
    ZMR_O_CURVE_CERT = 1000, ZMR_O_CURVE_ALLOW, ZMR_O_CURVE_SERVER, ZMR_O_REQUIRE_CURVE
};
#define ZMR_CURVE_OPTIONS \
    { "curve-cert", required_argument, NULL, ZMR_O_CURVE_CERT }, \
    { "curve-allow", required_argument, NULL, ZMR_O_CURVE_ALLOW }, \
    { "curve-server", required_argument, NULL, ZMR_O_CURVE_SERVER }, \
    { "require-curve", no_argument, NULL, ZMR_O_REQUIRE_CURVE }

//  Help lines of the options that apply to use.
void
    zmr_curve_help (int use);

//  Takes option opt with its argument into config if it is one of
//  ZMR_CURVE_OPTIONS. Returns whether it was.
bool
    zmr_curve_option (int opt, const char *arg, zmr_curve_config_t *config);

//  Why config does not fit a role that does use (a constant sentence
//  naming the options, for a usage error), or NULL if it does.
const char *
    zmr_curve_misuse (const zmr_curve_config_t *config, int use);

//  Sets the process up from config for a role that does use: loads the
//  certificates. Returns 0, or -1 with one line logged if config does not
//  fit use (zmr_curve_misuse) or a file cannot be used. Without any CURVE
//  option the process runs without CURVE. Exits never: main's
//  zmr_curve_setup (zmr_config.h) turns misuse into a usage error.
int
    zmr_curve_load (const zmr_curve_config_t *config, int use);

//  Stops the ZAP handler alone, sockets still bound: for the test that
//  shows they then admit no one.
void
    zmr_curve_guard_stop (void);

//  Stops the ZAP handler and frees the certificates. Call after every
//  socket is closed.
void
    zmr_curve_teardown (void);

//  Whether this process uses CURVE.
bool
    zmr_curve_on (void);

//  This process's public key in Z85 ("" without CURVE): what it advertises.
const char *
    zmr_curve_public_key (void);

//  Before sock binds endpoint: makes it a CURVE server under the ZAP
//  handler, or, without CURVE, warns (or with --require-curve refuses:
//  returns -1) when endpoint is tcp:// beyond loopback.
int
    zmr_curve_server (zsock_t *sock, const char *endpoint);

//  Before sock connects to endpoint: makes it a CURVE client of the server
//  whose public key is key (Z85; NULL: the ventilator's). Returns -1 with a
//  line logged if this process uses CURVE and the server has no key, or if
//  it does not, has --require-curve and endpoint is tcp:// beyond loopback.
int
    zmr_curve_client (zsock_t *sock, const char *endpoint, const char *key);

//  Writes a new certificate pair: path (public) and path_secret (secret,
//  mode 0600). Returns 0, or -1 with a line logged.
int
    zmr_curve_keygen (const char *path, const char *name);

//  Whether endpoint is tcp:// on a host other than loopback.
bool
    zmr_endpoint_beyond_loopback (const char *endpoint);

#endif
