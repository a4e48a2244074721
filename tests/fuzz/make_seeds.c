/*  Writes the fuzz targets' seed corpora into DIR/frame, DIR/chunk,
    DIR/batch, DIR/status, DIR/control and DIR/config: every message the roles send,
    encoded by the real encoders (whole frames for frame; for the typed
    targets, type selector, field count and the fields), and for frame a
    few hostile ones measured elsewhere to hurt (an array32 declaring 268 M
    elements: msgpack-c's unpacker reserves gigabytes for it).
    usage: make_seeds DIR */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "fuzz_families.h"

static const char *s_dir;
static int s_seq;

static void
s_write (const char *family, const void *data, size_t len)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", s_dir, family);
    if (mkdir (path, 0777) && errno != EEXIST) {
        perror (path);
        exit (1);
    }
    snprintf (path, sizeof path, "%s/%s/seed-%03d", s_dir, family, s_seq++);
    FILE *out = fopen (path, "wb");
    if (!out || fwrite (data, 1, len, out) != len || fclose (out)) {
        perror (path);
        exit (1);
    }
}

//  The family (and index in it) a type belongs to.
static const char *
s_family (int type, int *index)
{
    static const struct { const char *name; const int *types; size_t n; } families[] = {
        { "chunk", zmr_fuzz_chunk, ZMR_FUZZ_COUNT (zmr_fuzz_chunk) },
        { "batch", zmr_fuzz_batch, ZMR_FUZZ_COUNT (zmr_fuzz_batch) },
        { "status", zmr_fuzz_status, ZMR_FUZZ_COUNT (zmr_fuzz_status) },
        { "control", zmr_fuzz_control, ZMR_FUZZ_COUNT (zmr_fuzz_control) },
    };
    for (size_t f = 0; f < 4; f++)
        for (size_t i = 0; i < families[f].n; i++)
            if (families[f].types[i] == type) {
                *index = (int) i;
                return families[f].name;
            }
    return NULL;
}

//  One message in sbuf: as a whole frame, and as its family's seed.
static void
s_seed (msgpack_sbuffer *sbuf)
{
    s_write ("frame", sbuf->data, sbuf->size);
    zmr_msg_t msg;
    const char *why;
    if (zmr_msg_decode (sbuf->data, sbuf->size, &msg, &why)) {
        fprintf (stderr, "make_seeds: a seed does not decode: %s\n", why);
        exit (1);
    }
    //  The header as zmr_msg_begin packs it for this message.
    msgpack_sbuffer head;
    msgpack_packer pk;
    msgpack_sbuffer_init (&head);
    msgpack_packer_init (&pk, &head, msgpack_sbuffer_write);
    uint32_t fields = (uint32_t) ((uint8_t) sbuf->data[0] & 0x0f) - 4;
    zmr_msg_begin (&pk, msg.type, msg.job, fields);
    int index;
    const char *family = s_family (msg.type, &index);
    if (family) {
        char seed[1 << 16];
        size_t len = sbuf->size - head.size;
        if (len + 2 <= sizeof seed) {
            seed[0] = (char) index;
            seed[1] = (char) fields;
            memcpy (seed + 2, sbuf->data + head.size, len);
            s_write (family, seed, len + 2);
        }
    }
    msgpack_sbuffer_destroy (&head);
    msgpack_sbuffer_clear (sbuf);
}

int
main (int argc, char *argv[])
{
    if (argc != 2) {
        fprintf (stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    s_dir = argv[1];
    if (mkdir (s_dir, 0777) && errno != EEXIST) {
        perror (s_dir);
        return 1;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    uint64_t job = 0x1234;
    //  A CURVE public key (the example server key of ZeroMQ's RFC 26).
    const char *key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

    zmr_msg_pack_hello (&pk, job, ZMR_ROLE_REDUCER, 1, 2, "tcp://*:5560", "box:42", 7, key);
    s_seed (&sbuf);
    const char *eps[] = { "ipc:///tmp/r0", "tcp://10.0.0.2:6004" };
    const char *keys[] = { key, "" };
    zmr_msg_pack_welcome (&pk, job, 2, "ipc:///tmp/chunks", "ipc:///tmp/status", eps, keys, 0,
                          ZMR_DEFAULT_MAX_MESSAGE);
    s_seed (&sbuf);
    zmr_msg_pack_reason (&pk, ZMR_REJECT, job, true, "partition 1 is already served");
    s_seed (&sbuf);
    zmr_msg_pack_chunk (&pk, job, 5, 0, 1000, 1, 4096, NULL, 1795000000000ull);
    s_seed (&sbuf);
    zmr_file_ref_t ref = { "/data/corpus.txt", 2049, 77 };
    zmr_msg_pack_chunk (&pk, job, 6, 1, 0, 0, 65536, &ref, 1795000000001ull);
    s_seed (&sbuf);
    zmr_msg_pack_take (&pk, job, 5);
    s_seed (&sbuf);
    zmr_msg_pack_mapped (&pk, job, 5, 812, 0);
    s_seed (&sbuf);
    zmr_msg_pack_mapped (&pk, job, 6, 700, 12);
    s_seed (&sbuf);
    zmr_msg_begin_batch (&pk, job, 5, 1, 2, 1795000000000ull, 3);
    zmr_msg_pack_pair (&pk, "the", 3, 62);
    zmr_msg_pack_pair (&pk, "\0nul\xff", 5, 1);
    zmr_msg_pack_pair (&pk, "caf\xc3\xa9", 5, 2);
    s_seed (&sbuf);
    zmr_msg_pack_ack (&pk, job, 1, 5, 65, false);
    s_seed (&sbuf);
    zmr_counters_t counters = { 3, 2000, 10000, 1, 0, 300 };
    zmr_msg_pack_heartbeat (&pk, job, 1, &counters);
    s_seed (&sbuf);
    zmr_msg_pack_bye (&pk, job, &counters);
    s_seed (&sbuf);
    zmr_msg_pack_flush (&pk, job, "ipc:///tmp/sink", key);
    s_seed (&sbuf);
    zmr_msg_begin_result (&pk, job, 0, 2, 0, 2, 1);
    zmr_msg_pack_pair (&pk, "whale", 5, 1234);
    s_seed (&sbuf);
    zmr_msg_pack_stored (&pk, job, 0);
    s_seed (&sbuf);
    zmr_msg_pack_done (&pk, job, 823359, 29049);
    s_seed (&sbuf);
    zmr_msg_pack_again (&pk, job);
    s_seed (&sbuf);
    zmr_msg_pack_live (&pk, job, "ipc:///tmp/sink", 10, 10000, "");
    s_seed (&sbuf);
    zmr_msg_begin_update (&pk, job, 1, 2, 2);
    for (uint64_t v = 1; v <= 4; v++)
        msgpack_pack_uint64 (&pk, v * 1000);
    zmr_msg_begin_pairs (&pk, 1);
    zmr_msg_pack_pair (&pk, "sea", 3, 90);
    s_seed (&sbuf);
    zmr_msg_begin_totals (&pk, job, true, 0, 1);
    zmr_msg_pack_pair (&pk, "sea", 3, 90);
    s_seed (&sbuf);
    zmr_msg_begin_livestat (&pk, job, 12, 48, 900, 1);
    zmr_msg_pack_pair (&pk, "the", 3, 62051);
    s_seed (&sbuf);
    zmr_msg_pack_close (&pk, job, 1795000000000ull);
    s_seed (&sbuf);
    zmr_msg_begin_window (&pk, job, 1, 2, 1795000000000ull, 0, 1, 1);
    zmr_msg_pack_pair (&pk, "ship", 4, 3);
    s_seed (&sbuf);
    zmr_msg_pack_wstored (&pk, job, 1795000000000ull, 4242);
    s_seed (&sbuf);
    zmr_msg_pack_fail (&pk, job, "partition 1 holds more than 100 distinct words");
    s_seed (&sbuf);

    zmr_status_t status = { .job = job, .seq = 3, .reducers = 2, .words = 100, .ntop = 1 };
    snprintf (status.phase, sizeof status.phase, "mapping");
    snprintf (status.reason, sizeof status.reason, "no mapper alive: waiting for one");
    zmr_status_set_word (&status.top[0], "the", 3);
    status.top[0].count = 62;
    zmr_worker_status_t worker = { .id = 1, .chunks = 4 };
    snprintf (worker.role, sizeof worker.role, "mapper");
    snprintf (worker.name, sizeof worker.name, "box:\xff\x01");
    snprintf (worker.state, sizeof worker.state, "alive");
    status.workers = &worker;
    status.nworkers = 1;
    zmr_quarantine_t quarantined = { .offset = 4096, .length = 100 };
    snprintf (quarantined.file, sizeof quarantined.file, "/data/poison.txt");
    status.quarantine = &quarantined;
    status.nquarantine = 1;
    zmr_status_pack (&pk, &status);
    s_seed (&sbuf);
    zmr_status_pack_finish (&pk, &status, true, "");
    s_seed (&sbuf);
    msgpack_sbuffer_destroy (&sbuf);

    //  Hostile whole frames.
    static const unsigned char array32[] = { 0xdd, 0x10, 0x00, 0x00, 0x00 };
    s_write ("frame", array32, sizeof array32);
    static const unsigned char map32[] = { 0x94, 0xcd, 0x5a, 0x4d, 0x01, 0x10, 0x00,
                                           0xdf, 0x7f, 0xff, 0xff, 0xff };
    s_write ("frame", map32, sizeof map32);
    static const unsigned char str32[] = { 0x95, 0xcd, 0x5a, 0x4d, 0x01, 0x0f, 0x00,
                                           0xc3, 0xdb, 0xff, 0xff, 0xff, 0xf0 };
    s_write ("frame", str32, sizeof str32);
    s_write ("frame", "", 0);
    //  Config files: good ones, and each kind of mistake.
    static const char *configs[] = {
        "# a mapper\nname = \"mapper b\"\nheartbeat-ms=250\nverbose\n",
        "curve-cert = /etc/zmr/m.cert_secret\r\ncurve-server = /etc/zmr/v.cert\r\n",
        "  by-reference  \n\n#\n", "name =\n", "name\n", "verbose = yes\n",
        "nmae = x\n", "help\n", "= x\n", "name = \"a\"b\"\n", "Name = x\n",
        "name x\n", "require-curve\nrequire-curve\nrequire-curve\n",
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        s_write ("config", configs[i], strlen (configs[i]));
    s_write ("config", "name = a\0b\n", 11);
    static char long_line[5000];
    memset (long_line, 'x', sizeof long_line - 1);
    memcpy (long_line, "name = ", 7);
    s_write ("config", long_line, sizeof long_line - 1);
    printf ("make_seeds: %d seeds in %s\n", s_seq, s_dir);
    return 0;
}
