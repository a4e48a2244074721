/*  test_ingest: the ingest log's recovery (lib/zmr_ingest.c), alone: what a
    ventilator started again on a journal feeds its chunker, and which
    batches it takes. A first ingest takes batches and is stopped; its log
    is then given what a kill can leave (text no record covers, a torn
    record) and a spool that holds part of the text; a second one, resumed,
    must feed exactly the rest, answer the old batches as duplicates and
    take a new one once. The end of the input ends the pipe. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zmr.h"
#include "zmr_ingest.h"

static char s_dir[] = "/tmp/zmr-test-ingest.XXXXXX";

static void
s_init (void)
{
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_fini (void)
{
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_assert_eq (system (cmd), 0);
}

TestSuite (ingest, .init = s_init, .fini = s_fini, .timeout = 120);

//  Sends one INGEST and returns the answer's type (30, 31), or -1.
static int
s_send (zsock_t *dealer, const char *producer, uint64_t seq, const char *text)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 6);
    msgpack_pack_uint64 (&pk, 0x5A4D);
    msgpack_pack_uint64 (&pk, 2);
    msgpack_pack_uint64 (&pk, 29);
    msgpack_pack_str (&pk, strlen (producer));
    msgpack_pack_str_body (&pk, producer, strlen (producer));
    msgpack_pack_uint64 (&pk, seq);
    msgpack_pack_bin (&pk, strlen (text));
    msgpack_pack_bin_body (&pk, text, strlen (text));
    int rc = zmq_send (zsock_resolve (dealer), sbuf.data, sbuf.size, 0);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc < 0)
        return -1;
    zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, 20000) != 1)
        return -1;
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, zsock_resolve (dealer), 0) < 0) {
        zmq_msg_close (&msg);
        return -1;
    }
    zmr_mpr_t in;
    zmr_mpr_init (&in, zmq_msg_data (&msg), zmq_msg_size (&msg));
    uint32_t count;
    uint64_t sig, ver, type, answered;
    const char *id;
    uint32_t idlen;
    int kind = -1;
    if (zmr_mpr_array (&in, &count) == 0 && zmr_mpr_uint (&in, &sig) == 0
    &&  zmr_mpr_uint (&in, &ver) == 0 && zmr_mpr_uint (&in, &type) == 0
    &&  zmr_mpr_str (&in, &id, &idlen) == 0 && zmr_mpr_uint (&in, &answered) == 0
    &&  sig == 0x5A4D && answered == seq && idlen == strlen (producer))
        kind = (int) type;
    zmq_msg_close (&msg);
    return kind;
}

//  Reads the pipe until want bytes came or it ends (*ended), bounded.
static size_t
s_read (int fd, char *buf, size_t want, bool *ended)
{
    size_t got = 0;
    *ended = false;
    for (int i = 0; i < 400 && got < want; i++) {
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, 50) <= 0)
            continue;
        ssize_t rc = read (fd, buf + got, want - got);
        if (rc == 0) {
            *ended = true;
            break;
        }
        if (rc > 0)
            got += (size_t) rc;
    }
    return got;
}

static void
s_append (const char *path, const void *data, size_t len)
{
    int fd = open (path, O_WRONLY | O_APPEND);
    cr_assert_geq (fd, 0, "cannot open %s", path);
    cr_assert_eq (write (fd, data, len), (ssize_t) len);
    close (fd);
}

//  Waits (at most 10 s) until nothing accepts on the ipc:// endpoint: libzmq
//  closes a socket in its I/O thread, after zsock_destroy has returned, and
//  a bind before that finds the address in use.
static void
s_wait_unbound (const char *endpoint)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    const char *path = endpoint + strlen ("ipc://");
    cr_assert_lt (strlen (path), sizeof addr.sun_path);
    memcpy (addr.sun_path, path, strlen (path) + 1);
    for (int i = 0; i < 200; i++) {
        int fd = socket (AF_UNIX, SOCK_STREAM, 0);
        cr_assert_geq (fd, 0);
        bool live = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
        close (fd);
        if (!live)
            return;
        usleep (50000);
    }
    cr_assert_fail ("%s still accepts 10 s after its socket was closed", endpoint);
}

static zmr_ingest_t *
s_start (const char *journal, const char *spool, const char *endpoint, bool resume)
{
    char error[512];
    zmr_ingest_t *ingest = zmr_ingest_new (error, sizeof error);
    cr_assert_not_null (ingest, "%s", error);
    zmr_ingest_config_t config = { .ingest = endpoint, .journal = journal,
                                   .resume = resume, .spool = spool };
    cr_assert_eq (zmr_ingest_start (ingest, &config, error, sizeof error), 0, "%s", error);
    return ingest;
}

Test (ingest, recovery_feeds_the_rest_and_keeps_sequence_numbers)
{
    char journal[256], spool[256], endpoint[256], path[300];
    snprintf (journal, sizeof journal, "%s/journal", s_dir);
    snprintf (spool, sizeof spool, "%s/journal.spool.0", s_dir);
    snprintf (endpoint, sizeof endpoint, "ipc://%s/ingest", s_dir);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (dealer);
    zsock_set_linger (dealer, 0);
    cr_assert_eq (zsock_connect (dealer, "%s", endpoint), 0);

    //  The first ventilator: two batches, fed whole, then stopped
    zmr_ingest_t *ingest = s_start (journal, spool, endpoint, false);
    int fd = open (zmr_ingest_path (ingest), O_RDONLY | O_NONBLOCK);
    cr_assert_geq (fd, 0);
    cr_assert_eq (s_send (dealer, "p", 1, "alpha beta\n"), 30);
    cr_assert_eq (s_send (dealer, "p", 2, "gamma\n"), 30);
    cr_assert_eq (s_send (dealer, "q", 7, ""), 30);       //  An empty batch: only its number
    char buf[256];
    bool ended;
    size_t got = s_read (fd, buf, 17, &ended);
    cr_assert_eq (got, 17);
    cr_assert (memcmp (buf, "alpha beta\ngamma\n", 17) == 0);
    close (fd);
    zmr_ingest_destroy (&ingest);

    //  What a kill can leave: text no record covers, a torn record. The
    //  chunker's spool holds the first 6 bytes.
    snprintf (path, sizeof path, "%s.ingest", journal);
    s_append (path, "orphan\n", 7);
    snprintf (path, sizeof path, "%s.ingest.seq", journal);
    s_append (path, "\x01p\x09", 3);
    FILE *file = fopen (spool, "w");
    cr_assert_not_null (file);
    fputs ("alpha ", file);
    fclose (file);

    //  Started again: the rest of the text, not the orphan
    s_wait_unbound (endpoint);
    ingest = s_start (journal, spool, endpoint, true);
    fd = open (zmr_ingest_path (ingest), O_RDONLY | O_NONBLOCK);
    cr_assert_geq (fd, 0);
    got = s_read (fd, buf, 11, &ended);
    cr_assert_eq (got, 11, "fed %zu bytes: '%.*s'", got, (int) got, buf);
    cr_assert (memcmp (buf, "beta\ngamma\n", 11) == 0);
    //  Old batches: duplicates, answered and not taken; a new one, once
    cr_assert_eq (s_send (dealer, "p", 1, "alpha beta\n"), 30);
    cr_assert_eq (s_send (dealer, "p", 2, "gamma\n"), 30);
    cr_assert_eq (s_send (dealer, "q", 5, "old\n"), 30);
    cr_assert_eq (s_send (dealer, "p", 3, "delta\n"), 30);
    cr_assert_eq (s_send (dealer, "p", 3, "delta\n"), 30);
    cr_assert_eq (s_send (dealer, "q", 8, "no newline"), 31);
    zmr_ingest_end (ingest);
    got = s_read (fd, buf, sizeof buf, &ended);
    cr_assert (ended, "the pipe did not end after the input did");
    cr_assert_eq (got, 6, "fed %zu bytes: '%.*s'", got, (int) got, buf);
    cr_assert (memcmp (buf, "delta\n", 6) == 0);
    zmr_ingest_stats_t stats;
    zmr_ingest_stats (ingest, &stats);
    cr_assert_eq (stats.batches, 1);
    cr_assert_eq (stats.duplicates, 4);
    cr_assert_eq (stats.refused, 1);
    close (fd);
    zmr_ingest_destroy (&ingest);

    //  The log: the text taken, each byte once
    snprintf (path, sizeof path, "%s.ingest", journal);
    file = fopen (path, "r");
    cr_assert_not_null (file);
    size_t len = fread (buf, 1, sizeof buf, file);
    fclose (file);
    cr_assert_eq (len, 23);
    cr_assert (memcmp (buf, "alpha beta\ngamma\ndelta\n", 23) == 0);
    zsock_destroy (&dealer);
}
