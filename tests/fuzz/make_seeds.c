/*  Writes the fuzz targets' seed corpora into DIR/frame, DIR/chunk,
    DIR/batch, DIR/status, DIR/control, DIR/config, DIR/journal and
    DIR/snapshot: every message the roles send, encoded by the real encoders
    (whole frames for frame; for the typed targets, type selector, field
    count and the fields), and for frame a few hostile ones measured
    elsewhere to hurt (an array32 declaring 268 M elements: msgpack-c's
    unpacker reserves gigabytes for it); journals written by zmr_journal
    (as fuzz_journal.c takes them: a mode byte and the records' payloads)
    and snapshots by zmr_store, plus one of version 1 as it was written.
    usage: make_seeds DIR */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

//  Reads a whole file (at most 64 KB: seeds are small); caller frees.
static char *
s_read (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    char *data = malloc (1 << 16);
    if (!file || !data) {
        perror (path);
        exit (1);
    }
    *size = fread (data, 1, 1 << 16, file);
    fclose (file);
    return data;
}

//  The journal at path as fuzz_journal.c takes it: mode, then each record's
//  payload behind its 2-byte length; without the last cut bytes of the last
//  payload (torn) when torn > 0. Removes the journal.
static void
s_journal_seed (const char *path, uint8_t mode, size_t torn)
{
    size_t size;
    char *file = s_read (path, &size);
    unlink (path);
    char seed[1 << 16];
    size_t len = 0;
    seed[len++] = (char) mode;
    for (size_t at = 0; at + 8 <= size; ) {
        uint32_t payload;
        memcpy (&payload, file + at, 4);
        payload &= ~ZMR_RECORD_FAST;
        if (payload > size - at - 8 || len + 2 + payload > sizeof seed) {
            fprintf (stderr, "make_seeds: journal '%s' does not read back\n", path);
            exit (1);
        }
        at += 8;
        if (at + payload == size && torn <= payload)
            payload -= (uint32_t) torn;
        seed[len++] = (char) (payload & 0xff);
        seed[len++] = (char) (payload >> 8);
        memcpy (seed + len, file + at, payload);
        len += payload;
        at += payload;
    }
    free (file);
    s_write ("journal", seed, len);
}

//  Opens a new journal at path for header, or exits.
static zmr_journal_t *
s_journal_new (const char *path, zmr_journal_header_t header)
{
    char err[256];
    unlink (path);
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    if (!journal) {
        fprintf (stderr, "make_seeds: %s\n", err);
        exit (1);
    }
    return journal;
}

//  Journals as the ventilator writes them, for the fixed request of
//  fuzz_journal.c (job 0x1234, R 2, chunk size 65536, 10000 bytes, 3 inputs).
static void
s_journal_seeds (const char *tmp)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/journal", tmp);
    const zmr_journal_header_t header = { .job = 0x1234, .reducers = 2, .chunk_size = 65536,
                                          .input_bytes = 10000, .inputs = 3 };
    //  No journal yet: opening writes the header.
    s_write ("journal", "", 0);
    s_write ("journal", "\x03", 1);

    //  The header alone, in every mode.
    zmr_journal_t *journal;
    for (uint8_t mode = 0; mode < 4; mode++) {
        journal = s_journal_new (path, header);
        zmr_journal_destroy (&journal);
        s_journal_seed (path, mode, 0);
    }

    //  Chunks cut and done, one with words over --max-word, one done twice
    //  (a restart between two acknowledgements), then the last cut torn.
    for (int torn = 0; torn < 2; torn++) {
        journal = s_journal_new (path, header);
        zmr_journal_cut_t cuts[] = { { 0, 0, 4096 }, { 0, 4096, 1904 }, { 1, 0, 3000 },
                                     { 2, 0, 1000 } };
        for (uint64_t i = 0; i < 4; i++)
            zmr_journal_cut (journal, i, &cuts[i]);
        zmr_journal_done (journal, 0, 812, 0, 640);
        zmr_journal_done (journal, 2, 500, 3, 410);
        zmr_journal_done (journal, 2, 500, 3, 410);
        zmr_journal_cut (journal, 4, &(zmr_journal_cut_t) { 2, 1000, 0xffffffffffull });
        zmr_journal_destroy (&journal);
        s_journal_seed (path, torn? 1: 0, torn? 1: 0);
        if (!torn) {
            journal = s_journal_new (path, header);
            zmr_journal_cut (journal, 0, &cuts[0]);
            zmr_journal_done (journal, 0, 812, 0, 640);
            zmr_journal_destroy (&journal);
            s_journal_seed (path, 3, 0);
        }
    }

    //  Written anew: the summary, then what followed it, and records
    //  appended after the rewrite.
    journal = s_journal_new (path, header);
    static const uint64_t panes[] = { 1796000000000, 1796000005000 };
    zmr_journal_summary_t summary = { 2, 1312, 3, 6000, 1, 0, 1000, 1796000009999, 4, 1,
                                      panes, 2 };
    if (zmr_journal_rewrite_begin (journal, &summary)) {
        perror ("make_seeds: rewrite");
        exit (1);
    }
    zmr_journal_cut (journal, 2, &(zmr_journal_cut_t) { 1, 0, 3000 });
    zmr_journal_done (journal, 2, 400, 0, 350);
    zmr_journal_rewrite_end (journal, true);
    zmr_journal_cut (journal, 3, &(zmr_journal_cut_t) { 2, 0, 1000 });
    zmr_journal_done (journal, 3, 99, 7, 90);
    zmr_journal_destroy (&journal);
    s_journal_seed (path, 0, 0);
    journal = s_journal_new (path, header);
    summary = (zmr_journal_summary_t) { UINT64_MAX - 1, UINT64_MAX, UINT64_MAX, UINT64_MAX,
                                        2, UINT64_MAX, UINT64_MAX, ZMR_EVTIME_UNKNOWN,
                                        UINT64_MAX, UINT64_MAX, NULL, 0 };
    zmr_journal_rewrite_begin (journal, &summary);
    zmr_journal_cut (journal, UINT64_MAX - 1, &(zmr_journal_cut_t) { 2, 1, UINT64_MAX });
    zmr_journal_done (journal, UINT64_MAX, UINT64_MAX, UINT32_MAX, UINT64_MAX);
    zmr_journal_rewrite_end (journal, true);
    zmr_journal_destroy (&journal);
    s_journal_seed (path, 1, 0);

    //  Another job's journal: taken when the request is the header's (mode
    //  0), refused for the fixed request (mode 1).
    zmr_journal_header_t other = { .job = UINT64_MAX, .reducers = 256, .chunk_size = 1,
                                  .input_bytes = UINT64_MAX, .inputs = 1 };
    for (uint8_t mode = 0; mode < 2; mode++) {
        journal = s_journal_new (path, other);
        zmr_journal_cut (journal, 0, &(zmr_journal_cut_t) { 0, 0, 1 });
        zmr_journal_done (journal, 0, 1, 0, 1);
        zmr_journal_destroy (&journal);
        s_journal_seed (path, mode, 0);
    }
}

//  The snapshot zmr_store wrote for partition in dir, as a seed.
static void
s_snapshot_seed (const char *dir, uint32_t partition)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/partition-%u.snap", dir, partition);
    size_t size;
    char *data = s_read (path, &size);
    s_write ("snapshot", data, size);
    free (data);
    unlink (path);
    snprintf (path, sizeof path, "%s/partition-%u.log", dir, partition);
    unlink (path);
}

//  Snapshots as a reducer writes them (partition 1, as fuzz_snapshot.c
//  loads), one of another partition, and version 1 (every id).
static void
s_snapshot_seeds (const char *dir)
{
    s_write ("snapshot", "", 0);         //  Taken for no snapshot
    char err[256];
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_u64set_t *applied = zmr_u64set_new ();
    for (uint32_t partition = 1; partition <= 2; partition++) {
        zmr_store_t *store = zmr_store_open (dir, partition, err, sizeof err);
        if (!store || !counts || !applied) {
            fprintf (stderr, "make_seeds: %s\n", store? "out of memory": err);
            exit (1);
        }
        //  Empty; then ranges and words; then the extremes.
        if (partition == 1) {
            zmr_store_snapshot (store, 0x1234, 2, ZMR_REDUCE_SUM, 0, counts, applied);
            s_snapshot_seed (dir, partition);
        }
        for (uint64_t id = 0; id < 10; id++)
            zmr_u64set_insert (applied, id);
        zmr_u64set_insert (applied, 12);
        zmr_u64set_insert_range (applied, 20, 29);
        zmr_counts_add (counts, "the", 3, 62, NULL);
        zmr_counts_add (counts, "\0nul\xff", 5, 1, NULL);
        zmr_counts_add (counts, "caf\xc3\xa9", 5, 2, NULL);
        zmr_store_snapshot (store, 0x1234, 2, ZMR_REDUCE_SUM, 65, counts, applied);
        s_snapshot_seed (dir, partition);
        if (partition == 1) {
            zmr_u64set_insert_range (applied, UINT64_MAX - 1, UINT64_MAX);
            zmr_counts_add (counts, "", 0, UINT64_MAX, NULL);
            zmr_store_snapshot (store, UINT64_MAX, ZMR_MAX_REDUCERS, ZMR_REDUCE_MAX, UINT64_MAX,
                                counts, applied);
            s_snapshot_seed (dir, partition);
        }
        zmr_store_destroy (&store);
        zmr_counts_clear (counts);
        zmr_u64set_destroy (&applied);
        applied = zmr_u64set_new ();
    }
    zmr_u64set_destroy (&applied);
    zmr_counts_destroy (&counts);

    //  Version 1, packed by the same msgpack-c calls as it was: every id,
    //  in no order, one twice; and none at all.
    static const uint64_t ids[] = { 7, 3, 5, 4, UINT64_MAX, 0, 3, 100000 };
    for (size_t nids = 0; nids <= 8; nids += 8) {
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        msgpack_pack_array (&pk, 7);
        msgpack_pack_uint16 (&pk, 0x5A53);
        msgpack_pack_uint8 (&pk, 1);
        msgpack_pack_uint64 (&pk, 0x1234);
        msgpack_pack_uint32 (&pk, 1);
        msgpack_pack_uint32 (&pk, 2);
        msgpack_pack_array (&pk, (uint32_t) nids);
        for (size_t i = 0; i < nids; i++)
            msgpack_pack_uint64 (&pk, ids[i]);
        msgpack_pack_array (&pk, 4);
        zmr_msg_pack_pair (&pk, "word", 4, 77);
        zmr_msg_pack_pair (&pk, "word", 4, 1);
        s_write ("snapshot", sbuf.data, sbuf.size);
        msgpack_sbuffer_destroy (&sbuf);
    }
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
                          ZMR_DEFAULT_MAX_MESSAGE, NULL, NULL);
    s_seed (&sbuf);
    zmr_job_t command;
    memset (&command, 0, sizeof command);
    command.kind = ZMR_JOB_COMMAND;
    command.reduce = ZMR_REDUCE_MIN;
    memset (command.digest, 'c', ZMR_DIGEST_HEX - 1);
    snprintf (command.label, sizeof command.label, "cut -f1");
    zmr_msg_pack_welcome (&pk, job, 2, "ipc:///tmp/chunks", "ipc:///tmp/status", eps, keys, 0,
                          ZMR_DEFAULT_MAX_MESSAGE, &command, NULL);
    s_seed (&sbuf);
    zmr_msg_pack_refuse (&pk, job, "map command 'cut -f1' is not allowed here");
    s_seed (&sbuf);
    zmr_msg_pack_failed (&pk, job, 5, "map command exited 1");
    s_seed (&sbuf);
    zmr_msg_pack_reason (&pk, ZMR_REJECT, job, true, "partition 1 is already served");
    s_seed (&sbuf);
    zmr_msg_pack_chunk (&pk, job, 5, 0, 1000, 1, 4096, NULL, 1795000000000ull, ZMR_EVTIME_UNKNOWN);
    s_seed (&sbuf);
    zmr_file_ref_t ref = { "/data/corpus.txt", 2049, 77 };
    zmr_msg_pack_chunk (&pk, job, 6, 1, 0, 0, 65536, &ref, 1795000000001ull, ZMR_EVTIME_UNKNOWN);
    s_seed (&sbuf);
    zmr_msg_pack_take (&pk, job, 5);
    s_seed (&sbuf);
    zmr_msg_pack_mapped (&pk, job, 5, 812, 0, 400);
    s_seed (&sbuf);
    zmr_msg_pack_mapped (&pk, job, 6, 700, 12, 350);
    s_seed (&sbuf);
    zmr_msg_begin_batch (&pk, job, 5, 1, 2, 1795000000000ull, NULL, 0, 3);
    zmr_msg_pack_pair (&pk, "the", 3, 62);
    zmr_msg_pack_pair (&pk, "\0nul\xff", 5, 1);
    zmr_msg_pack_pair (&pk, "caf\xc3\xa9", 5, 2);
    s_seed (&sbuf);
    zmr_msg_begin_batch (&pk, job, 7, 0, 2, 1795000000000ull, NULL, 0, 2);
    zmr_msg_pack_pair (&pk, "198.18.0.7", 10, (uint64_t) -5);
    zmr_msg_pack_pair (&pk, "198.18.0.9", 10, (uint64_t) INT64_MIN);
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
    zmr_msg_begin_result (&pk, job, 0, 2, 0, 2, 77, 1);
    zmr_msg_pack_pair (&pk, "whale", 5, 1234);
    s_seed (&sbuf);
    zmr_msg_pack_stored (&pk, job, 0);
    s_seed (&sbuf);
    zmr_msg_pack_done (&pk, job, 823359, 29049, 153);
    s_seed (&sbuf);
    zmr_msg_pack_again (&pk, job);
    s_seed (&sbuf);
    zmr_msg_pack_live (&pk, job, "ipc:///tmp/sink", 10, 10000, "", false);
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
    zmr_msg_pack_close (&pk, job, 1795000000000ull, 0, 0);
    s_seed (&sbuf);
    zmr_msg_begin_window (&pk, job, 1, 2, 1795000000000ull, 0, 1, 1);
    zmr_msg_pack_pair (&pk, "ship", 4, 3);
    s_seed (&sbuf);
    zmr_msg_pack_wstored (&pk, job, 1795000000000ull, 4242);
    s_seed (&sbuf);
    zmr_msg_pack_fail (&pk, job, "partition 1 holds more than 100 distinct words");
    s_seed (&sbuf);
    zmr_msg_pack_rest (&pk, job);
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

    //  Files: made in a directory of their own, then read back as seeds.
    char tmp[] = "/tmp/zmr-seeds-XXXXXX";
    if (!mkdtemp (tmp)) {
        perror (tmp);
        return 1;
    }
    s_journal_seeds (tmp);
    s_snapshot_seeds (tmp);
    if (rmdir (tmp)) {
        perror (tmp);
        return 1;
    }
    printf ("make_seeds: %d seeds in %s\n", s_seq, s_dir);
    return 0;
}
