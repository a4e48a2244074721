/*  zmr_curve in one process: a socket bound through zmr_bind with CURVE on
    is a CURVE server that insists on ZAP; an allowed client gets through,
    an unknown one does not, and with no ZAP handler no one does (it fails
    closed: libzmq would let anyone in without the domain rule). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "zmr.h"

static char s_dir[] = "/tmp/zmr-zap-XXXXXX";
static zcert_t *s_server, *s_allowed, *s_stranger;
static zsock_t *s_pull;
static char s_endpoint[ZMR_ENDPOINT_MAX];

static void
s_setup (void)
{
    cr_assert_not_null (mkdtemp (s_dir));
    char allow[64], secret[128], public[128];
    snprintf (allow, sizeof allow, "%s/allow", s_dir);
    cr_assert_eq (mkdir (allow, 0700), 0);
    s_server = zcert_new ();
    s_allowed = zcert_new ();
    s_stranger = zcert_new ();
    snprintf (secret, sizeof secret, "%s/server.cert_secret", s_dir);
    cr_assert_eq (zcert_save_secret (s_server, secret), 0);
    snprintf (public, sizeof public, "%s/allowed.cert", allow);
    cr_assert_eq (zcert_save_public (s_allowed, public), 0);
    zmr_curve_config_t config = { .cert = secret, .allow = allow };
    cr_assert_eq (zmr_curve_setup (&config, ZMR_CURVE_BINDS), 0);
    s_pull = zmr_socket (ZMQ_PULL, 1 << 20, 0);
    cr_assert_eq (zmr_bind (s_pull, "tcp://127.0.0.1:*", s_endpoint), 0);
}

static void
s_teardown (void)
{
    zsock_destroy (&s_pull);
    zmr_curve_teardown ();
    zcert_destroy (&s_server);
    zcert_destroy (&s_allowed);
    zcert_destroy (&s_stranger);
    char command[300];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_assert_eq (system (command), 0);
}

TestSuite (zap, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  A client with cert sends one message; returns whether it arrived within ms.
static bool
s_gets_through (zcert_t *cert, int ms)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    zsock_set_linger (push, 0);
    zcert_apply (cert, zsock_resolve (push));
    zsock_set_curve_serverkey (push, zcert_public_txt (s_server));
    cr_assert_eq (zsock_connect (push, "%s", s_endpoint), 0);
    zstr_send (push, "counts");
    zmq_pollitem_t item = { zsock_resolve (s_pull), 0, ZMQ_POLLIN, 0 };
    bool arrived = zmq_poll (&item, 1, ms) == 1;
    if (arrived) {
        char *text = zstr_recv (s_pull);
        cr_assert_str_eq (text, "counts");
        zstr_free (&text);
    }
    zsock_destroy (&push);
    return arrived;
}

Test (zap, the_server_socket_insists_on_curve_and_zap)
{
    int value = 0;
    size_t size = sizeof value;
    cr_assert_eq (zmq_getsockopt (zsock_resolve (s_pull), ZMQ_CURVE_SERVER, &value, &size), 0);
    cr_assert_eq (value, 1);
    char *domain = zsock_zap_domain (s_pull);
    cr_assert_str_eq (domain, "zmr");
    zstr_free (&domain);
    value = 0;
    size = sizeof value;
    cr_assert_eq (zmq_getsockopt (zsock_resolve (s_pull), 93 /* ZMQ_ZAP_ENFORCE_DOMAIN */,
                                  &value, &size), 0);
    cr_assert_eq (value, 1, "the socket does not insist on its ZAP domain");
}

Test (zap, only_an_allowed_key_gets_through)
{
    cr_assert (s_gets_through (s_allowed, 30000), "the allowed client was refused");
    cr_assert_not (s_gets_through (s_stranger, 1000), "an unknown key got through");
}

//  The same socket with no ZAP handler in the process at all (the test
//  hook ZMR_TEST_NO_ZAP): libzmq alone would let any CURVE client in; the
//  socket insists on ZAP, so no one gets in.
static void
s_setup_without_handler (void)
{
    setenv ("ZMR_TEST_NO_ZAP", "1", 1);
    s_setup ();
}

TestSuite (zap_missing, .init = s_setup_without_handler, .fini = s_teardown, .timeout = 60);

Test (zap_missing, without_the_handler_no_one_gets_through)
{
    cr_assert_not (s_gets_through (s_allowed, 1500),
                   "with no ZAP handler a client got in: the socket does not fail closed");
    cr_assert_not (s_gets_through (s_stranger, 500), "with no ZAP handler a stranger got in");
}
