/*  test_store: a reducer's durable state. A snapshot keeps the counts
    (signed values), the applied chunk ids as ranges, the job's reduce and
    the pair count; snapshots of the formats before it still load; a
    damaged one is refused with a reason, never trusted and never a crash;
    a log without a snapshot (its reduce unknown) is refused. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zmr.h"

#define S_PARTITION 3

static char s_dir[] = "/tmp/zmr-store-XXXXXX";

static void
s_setup (void)
{
    strcpy (s_dir, "/tmp/zmr-store-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    char path[256];
    snprintf (path, sizeof path, "%s/partition-%u.snap", s_dir, S_PARTITION);
    unlink (path);
    snprintf (path, sizeof path, "%s/partition-%u.snap.tmp", s_dir, S_PARTITION);
    unlink (path);
    snprintf (path, sizeof path, "%s/partition-%u.log", s_dir, S_PARTITION);
    unlink (path);
    rmdir (s_dir);
}

TestSuite (store, .init = s_setup, .fini = s_teardown);

static char *
s_snap_path (void)
{
    static char path[256];
    snprintf (path, sizeof path, "%s/partition-%u.snap", s_dir, S_PARTITION);
    return path;
}

static void
s_write_snap (const void *data, size_t len)
{
    FILE *file = fopen (s_snap_path (), "wb");
    cr_assert_not_null (file);
    cr_assert_eq (fwrite (data, 1, len, file), len);
    fclose (file);
}

//  Reads the snapshot file; caller frees.
static char *
s_read_snap (size_t *len)
{
    FILE *file = fopen (s_snap_path (), "rb");
    cr_assert_not_null (file);
    fseek (file, 0, SEEK_END);
    *len = (size_t) ftell (file);
    fseek (file, 0, SEEK_SET);
    char *data = malloc (*len? *len: 1);
    cr_assert_eq (fread (data, 1, *len, file), *len);
    fclose (file);
    return data;
}

static int
s_count_frame (const void *frame, size_t len, void *arg)
{
    (void) frame;
    (void) len;
    (*(size_t *) arg)++;
    return 0;
}

//  What a reducer finds in the store after a restart.
typedef struct {
    uint64_t job;
    uint32_t reducers;
    int reduce;
    uint64_t pair_count;
    zmr_counts_t *counts;
    zmr_u64set_t *applied;
    size_t frames;                  //  Log frames replayed
    char error[512];
} s_loaded_t;

static int
s_load (s_loaded_t *loaded)
{
    memset (loaded, 0, sizeof *loaded);
    loaded->counts = zmr_counts_new ();
    loaded->applied = zmr_u64set_new ();
    zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, loaded->error,
                                         sizeof loaded->error);
    cr_assert_not_null (store, "%s", loaded->error);
    int rc = zmr_store_load (store, &loaded->job, &loaded->reducers, &loaded->reduce,
                             &loaded->pair_count, loaded->counts, loaded->applied,
                             s_count_frame, &loaded->frames, loaded->error,
                             sizeof loaded->error);
    zmr_store_destroy (&store);
    return rc;
}

static void
s_loaded_destroy (s_loaded_t *loaded)
{
    zmr_counts_destroy (&loaded->counts);
    zmr_u64set_destroy (&loaded->applied);
}

static void
s_assert_same_ranges (zmr_u64set_t *a, zmr_u64set_t *b)
{
    size_t na, nb;
    const zmr_u64range_t *ra = zmr_u64set_ranges (a, &na);
    const zmr_u64range_t *rb = zmr_u64set_ranges (b, &nb);
    cr_assert_eq (na, nb, "%zu ranges, expected %zu", nb, na);
    for (size_t i = 0; i < na; i++)
        cr_assert (ra[i].first == rb[i].first && ra[i].last == rb[i].last,
                   "range %zu differs", i);
    cr_assert_eq (zmr_u64set_size (a), zmr_u64set_size (b));
}

Test (store, a_snapshot_round_trips_the_applied_ranges_and_the_counts)
{
    char error[256];
    zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_not_null (store, "%s", error);
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_counts_add (counts, "alpha", 5, 3, NULL);
    zmr_counts_add (counts, "beta", 4, 1ull << 40, NULL);
    zmr_u64set_t *applied = zmr_u64set_new ();
    for (uint64_t id = 0; id < 1000; id++)
        if (id % 97 != 5)           //  Holes, as chunks in flight leave
            zmr_u64set_insert (applied, id);
    zmr_u64set_insert (applied, UINT64_MAX);
    zmr_u64set_insert (applied, UINT64_MAX - 2);
    cr_assert_eq (zmr_store_append (store, "x", 1), 0);
    cr_assert_eq (zmr_store_snapshot (store, 0xabcdef, 4, ZMR_REDUCE_SUM, 1003, counts,
                                      applied), 0);
    cr_assert_eq (zmr_store_log_bytes (store), 0, "a snapshot empties the log");
    cr_assert_eq (zmr_store_append (store, "after", 5), 0);
    zmr_store_destroy (&store);

    s_loaded_t loaded;
    cr_assert_eq (s_load (&loaded), 0, "%s", loaded.error);
    cr_assert_eq (loaded.job, 0xabcdef);
    cr_assert_eq (loaded.reducers, 4);
    cr_assert_eq (loaded.reduce, ZMR_REDUCE_SUM);
    cr_assert_eq (loaded.pair_count, 1003);
    cr_assert_eq (loaded.frames, 1, "only the frame logged after the snapshot replays");
    s_assert_same_ranges (applied, loaded.applied);
    cr_assert (zmr_u64set_contains (loaded.applied, UINT64_MAX));
    cr_assert_not (zmr_u64set_contains (loaded.applied, 5));
    cr_assert_eq (zmr_counts_size (loaded.counts), 2);
    cr_assert_eq (zmr_counts_lookup (loaded.counts, "alpha", 5)->count, 3);
    cr_assert_eq (zmr_counts_lookup (loaded.counts, "beta", 4)->count, 1ull << 40);
    s_loaded_destroy (&loaded);
    zmr_u64set_destroy (&applied);
    zmr_counts_destroy (&counts);
}

//  A long stream's snapshot grows with the holes in its ids, not their
//  number: a million ids applied nearly in order make one range.
Test (store, a_snapshot_of_a_million_ids_in_near_order_stays_small)
{
    char error[256];
    zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_u64set_t *applied = zmr_u64set_new ();
    const uint64_t total = 1000000, window = 32;
    for (uint64_t at = 0; at < total; at += window)
        for (uint64_t i = 0; i < window; i++)
            zmr_u64set_insert (applied, at + (i * 7) % window);
    cr_assert_eq (zmr_store_snapshot (store, 1, 1, ZMR_REDUCE_SUM, 0, counts, applied), 0);
    size_t len;
    free (s_read_snap (&len));
    cr_assert_lt (len, 64, "snapshot of %llu ids is %zu bytes",
                  (unsigned long long) total, len);
    s_loaded_t loaded;
    cr_assert_eq (s_load (&loaded), 0, "%s", loaded.error);
    cr_assert_eq (zmr_u64set_size (loaded.applied), total);
    s_loaded_destroy (&loaded);
    zmr_store_destroy (&store);
    zmr_u64set_destroy (&applied);
    zmr_counts_destroy (&counts);
}

//  The snapshot as the code before ranges wrote it: version 1, every
//  applied id (in the hash table's order, here shuffled), packed by the
//  same msgpack-c calls.
static void
s_pack_version_1 (msgpack_sbuffer *sbuf, const uint64_t *ids, size_t nids)
{
    msgpack_packer pk;
    msgpack_sbuffer_init (sbuf);
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 7);
    msgpack_pack_uint16 (&pk, 0x5A53);
    msgpack_pack_uint8 (&pk, 1);
    msgpack_pack_uint64 (&pk, 0x1234);
    msgpack_pack_uint32 (&pk, S_PARTITION);
    msgpack_pack_uint32 (&pk, 2);
    msgpack_pack_array (&pk, (uint32_t) nids);
    for (size_t i = 0; i < nids; i++)
        msgpack_pack_uint64 (&pk, ids[i]);
    msgpack_pack_array (&pk, 2);
    zmr_msg_pack_pair (&pk, "word", 4, 77);
}

//  Large enough that loading the ids in their stored order, one by one,
//  would be too slow: the old table's order is the worst for ranges.
Test (store, a_version_1_snapshot_of_every_id_still_loads, .timeout = 60)
{
    //  Ids 0..299999 but for every 10th from 100, plus UINT64_MAX, shuffled.
    size_t nids = 0;
    uint64_t *ids = malloc (300001 * sizeof *ids);
    zmr_u64set_t *expected = zmr_u64set_new ();
    for (uint64_t id = 0; id < 300000; id++)
        if (id < 100 || id % 10) {
            ids[nids++] = id;
            zmr_u64set_insert (expected, id);
        }
    ids[nids++] = UINT64_MAX;
    zmr_u64set_insert (expected, UINT64_MAX);
    uint64_t state = 99;
    for (size_t i = nids; i > 1; i--) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t j = (size_t) ((state >> 33) % i);
        uint64_t tmp = ids[i - 1];
        ids[i - 1] = ids[j];
        ids[j] = tmp;
    }
    msgpack_sbuffer sbuf;
    s_pack_version_1 (&sbuf, ids, nids);
    s_write_snap (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);

    s_loaded_t loaded;
    cr_assert_eq (s_load (&loaded), 0, "%s", loaded.error);
    cr_assert_eq (loaded.job, 0x1234);
    cr_assert_eq (loaded.reducers, 2);
    s_assert_same_ranges (expected, loaded.applied);
    cr_assert_eq (zmr_u64set_size (loaded.applied), nids);
    cr_assert_eq (zmr_counts_lookup (loaded.counts, "word", 4)->count, 77);

    //  The next snapshot is written as ranges and loads the same.
    char error[256];
    zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_eq (loaded.reduce, ZMR_REDUCE_SUM, "a word count's");
    cr_assert_eq (zmr_store_snapshot (store, loaded.job, loaded.reducers, loaded.reduce,
                                      loaded.pair_count, loaded.counts, loaded.applied), 0);
    zmr_store_destroy (&store);
    size_t len;
    unsigned char *data = (unsigned char *) s_read_snap (&len);
    cr_assert (len > 5 && data[0] == 0x99 && data[4] == 3, "rewritten as version 3");
    free (data);
    s_loaded_t again;
    cr_assert_eq (s_load (&again), 0, "%s", again.error);
    s_assert_same_ranges (expected, again.applied);
    cr_assert_eq (zmr_counts_lookup (again.counts, "word", 4)->count, 77);
    s_loaded_destroy (&again);
    s_loaded_destroy (&loaded);
    zmr_u64set_destroy (&expected);
    free (ids);
}

//  The same, from bytes written out by hand rather than by msgpack-c.
Test (store, a_version_1_snapshot_spelled_out_byte_by_byte_loads)
{
    //  [0x5A53, 1, job 5, partition 3, 1 reducer, [9, 7, 8, 0], ["a": 2]]
    const unsigned char bytes[] = {
        0x97, 0xcd, 0x5a, 0x53, 0x01, 0x05, S_PARTITION, 0x01,
        0x94, 0x09, 0x07, 0x08, 0x00,
        0x92, 0xc4, 0x01, 'a', 0x02
    };
    s_write_snap (bytes, sizeof bytes);
    s_loaded_t loaded;
    cr_assert_eq (s_load (&loaded), 0, "%s", loaded.error);
    cr_assert_eq (loaded.job, 5);
    size_t count;
    const zmr_u64range_t *ranges = zmr_u64set_ranges (loaded.applied, &count);
    cr_assert_eq (count, 2);
    cr_assert (ranges[0].first == 0 && ranges[0].last == 0);
    cr_assert (ranges[1].first == 7 && ranges[1].last == 9);
    cr_assert_eq (zmr_counts_lookup (loaded.counts, "a", 1)->count, 2);
    s_loaded_destroy (&loaded);
}

//  A version 2 snapshot whose applied list is the given bounds.
static void
s_write_version_2 (const uint64_t *bounds, uint32_t nbounds)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 7);
    msgpack_pack_uint16 (&pk, 0x5A53);
    msgpack_pack_uint8 (&pk, 2);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint32 (&pk, S_PARTITION);
    msgpack_pack_uint32 (&pk, 1);
    msgpack_pack_array (&pk, nbounds);
    for (uint32_t i = 0; i < nbounds; i++)
        msgpack_pack_uint64 (&pk, bounds[i]);
    msgpack_pack_array (&pk, 0);
    s_write_snap (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
}

Test (store, applied_ranges_must_be_increasing_disjoint_and_apart)
{
    const struct {
        uint64_t bounds[6];
        uint32_t nbounds;
        const char *reason;         //  NULL: loads
    } cases[] = {
        { { 0, 4, 6, 9 }, 4, NULL },
        { { 0, UINT64_MAX }, 2, NULL },
        { { 3, 3, UINT64_MAX, UINT64_MAX }, 4, NULL },
        { { 0, 4, 6 }, 3, "odd number" },
        { { 5, 4 }, 2, "empty applied range" },
        { { 0, 4, 3, 9 }, 4, "overlap" },
        { { 0, 4, 5, 9 }, 4, "touch" },
        { { 6, 9, 0, 4 }, 4, "out of order" },
        { { 0, UINT64_MAX, 0, 0 }, 4, "out of order" },
        { { 0, 4, 4, 9 }, 4, "overlap" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_write_version_2 (cases[i].bounds, cases[i].nbounds);
        s_loaded_t loaded;
        int rc = s_load (&loaded);
        if (!cases[i].reason)
            cr_assert_eq (rc, 0, "case %zu: %s", i, loaded.error);
        else {
            cr_assert_eq (rc, -1, "case %zu loaded", i);
            cr_assert_not_null (strstr (loaded.error, cases[i].reason),
                                "case %zu: '%s' does not say '%s'", i, loaded.error,
                                cases[i].reason);
        }
        s_loaded_destroy (&loaded);
    }
}

Test (store, snapshots_of_another_kind_are_refused_with_a_reason)
{
    const struct {
        unsigned char bytes[24];
        size_t len;
        const char *reason;
    } cases[] = {
        //  Version 5 (from the future)
        { { 0x99, 0xcd, 0x5a, 0x53, 0x05, 0x01, S_PARTITION, 0x01, 0x00, 0x00, 0x90, 0x90 },
          12, "unknown snapshot version" },
        //  Version 3 with an unknown reduce
        { { 0x99, 0xcd, 0x5a, 0x53, 0x03, 0x01, S_PARTITION, 0x01, 0x03, 0x00, 0x90, 0x90 },
          12, "unknown reduce" },
        //  Version 3 in version 2's 7 elements
        { { 0x97, 0xcd, 0x5a, 0x53, 0x03, 0x01, S_PARTITION, 0x01, 0x90, 0x90 }, 10,
          "not a 9-element array" },
        //  A key listed twice
        { { 0x99, 0xcd, 0x5a, 0x53, 0x03, 0x01, S_PARTITION, 0x01, 0x00, 0x00, 0x90, 0x94,
            0xc4, 0x01, 'k', 0x01, 0xc4, 0x01, 'k', 0x01 }, 20, "a key listed twice" },
        //  Another partition
        { { 0x97, 0xcd, 0x5a, 0x53, 0x02, 0x01, S_PARTITION + 1, 0x01, 0x90, 0x90 }, 10,
          "another partition" },
        //  Another signature
        { { 0x97, 0xcd, 0x5a, 0x4a, 0x02, 0x01, S_PARTITION, 0x01, 0x90, 0x90 }, 10,
          "not a snapshot" },
        //  Job 0, "no job yet" to a reducer (found by the snapshot fuzz target)
        { { 0x97, 0xcd, 0x5a, 0x53, 0x02, 0x00, S_PARTITION, 0x01, 0x90, 0x90 }, 10,
          "job 0" },
        //  A list of 2^32 - 1 bounds in a few bytes
        { { 0x97, 0xcd, 0x5a, 0x53, 0x02, 0x01, S_PARTITION, 0x01, 0xdd, 0xff, 0xff,
            0xff, 0xff, 0x90 }, 14, "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_write_snap (cases[i].bytes, cases[i].len);
        s_loaded_t loaded;
        cr_assert_eq (s_load (&loaded), -1, "case %zu loaded", i);
        cr_assert_not_null (strstr (loaded.error, cases[i].reason),
                            "case %zu: '%s'", i, loaded.error);
        s_loaded_destroy (&loaded);
    }
}

//  Every prefix of a snapshot and many random corruptions of it load or
//  are refused, and what loads is a well-formed set (ASan watches).
Test (store, a_damaged_snapshot_is_refused_or_loads_never_crashes)
{
    char error[256];
    zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_counts_add (counts, "gamma", 5, 9, NULL);
    zmr_u64set_t *applied = zmr_u64set_new ();
    for (uint64_t id = 0; id < 300; id += 3)
        zmr_u64set_insert_range (applied, id * 1000, id * 1000 + 1000);
    zmr_u64set_insert (applied, UINT64_MAX);
    cr_assert_eq (zmr_store_snapshot (store, 77, 2, ZMR_REDUCE_SUM, 5, counts, applied), 0);
    zmr_store_destroy (&store);
    size_t len;
    unsigned char *good = (unsigned char *) s_read_snap (&len);
    unsigned char *bad = malloc (len);
    uint64_t state = 2024;
    size_t refused = 0;
    for (size_t trial = 0; trial < len + 2000; trial++) {
        size_t bad_len = len;
        memcpy (bad, good, len);
        if (trial < len)
            bad_len = trial;        //  A prefix
        else {
            for (int flips = 0; flips < 3; flips++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                bad[(state >> 33) % len] ^= (unsigned char) (1u << ((state >> 20) % 8));
            }
        }
        s_write_snap (bad, bad_len);
        s_loaded_t loaded;
        if (s_load (&loaded))
            refused++;
        else {
            size_t count;
            const zmr_u64range_t *ranges = zmr_u64set_ranges (loaded.applied, &count);
            for (size_t i = 0; i < count; i++) {
                cr_assert_leq (ranges[i].first, ranges[i].last);
                if (i > 0)
                    cr_assert_gt (ranges[i].first, ranges[i - 1].last + 1);
            }
        }
        s_loaded_destroy (&loaded);
    }
    cr_assert_geq (refused, len - 1, "every proper prefix but the empty file is refused");
    free (bad);
    free (good);
    zmr_u64set_destroy (&applied);
    zmr_counts_destroy (&counts);
}

//  Issue 16 part 2: a restarted reducer has its job's reduce and pair count
//  back from the snapshot, with every value as it was, negative ones and
//  the extremes too, and the table it loads merges by that reduce.
Test (store, a_snapshot_keeps_the_reduce_the_pair_count_and_signed_values)
{
    const struct { const char *key; int64_t value; } pairs[] = {
        { "low", INT64_MIN }, { "minus one", -1 }, { "zero", 0 }, { "high", INT64_MAX },
        { "198.18.0.7", -4096 },
    };
    const size_t npairs = sizeof pairs / sizeof pairs[0];
    for (int reduce = ZMR_REDUCE_SUM; reduce <= ZMR_REDUCE_MAX; reduce++) {
        char error[256];
        zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
        cr_assert_not_null (store, "%s", error);
        zmr_counts_t *counts = zmr_counts_new ();
        zmr_counts_set_reduce (counts, reduce);
        zmr_u64set_t *applied = zmr_u64set_new ();
        for (size_t i = 0; i < npairs; i++)
            cr_assert_not_null (zmr_counts_add (counts, pairs[i].key, strlen (pairs[i].key),
                                                (uint64_t) pairs[i].value, NULL));
        zmr_u64set_insert_range (applied, 0, 40);
        //  More pairs than 32 bits hold, as a long stream may apply.
        const uint64_t pair_count = (1ull << 40) + 17 + (uint64_t) reduce;
        cr_assert_eq (zmr_store_snapshot (store, 0x5eed, 2, reduce, pair_count, counts,
                                          applied), 0);
        zmr_store_destroy (&store);

        s_loaded_t loaded;
        cr_assert_eq (s_load (&loaded), 0, "%s", loaded.error);
        cr_assert_eq (loaded.job, 0x5eed);
        cr_assert_eq (loaded.reduce, reduce, "reduce %d came back as %d", reduce,
                      loaded.reduce);
        cr_assert_eq (loaded.pair_count, pair_count, "pair count %llu came back as %llu",
                      (unsigned long long) pair_count,
                      (unsigned long long) loaded.pair_count);
        cr_assert_eq (zmr_counts_size (loaded.counts), npairs);
        for (size_t i = 0; i < npairs; i++) {
            zmr_entry_t *entry = zmr_counts_lookup (loaded.counts, pairs[i].key,
                                                    strlen (pairs[i].key));
            cr_assert_not_null (entry, "'%s' is gone", pairs[i].key);
            cr_assert_eq ((int64_t) entry->count, pairs[i].value, "'%s': %lld, not %lld",
                          pairs[i].key, (long long) (int64_t) entry->count,
                          (long long) pairs[i].value);
        }
        //  The loaded table merges by the snapshot's reduce: -4096 and
        //  4096 give 0 (sum), -4096 (min), 4096 (max).
        zmr_entry_t *entry = zmr_counts_add (loaded.counts, "198.18.0.7", 10, 4096, NULL);
        cr_assert_not_null (entry);
        const int64_t merged[] = { 0, -4096, 4096 };
        cr_assert_eq ((int64_t) entry->count, merged[reduce], "reduce %d merged to %lld",
                      reduce, (long long) (int64_t) entry->count);
        s_loaded_destroy (&loaded);
        zmr_u64set_destroy (&applied);
        zmr_counts_destroy (&counts);
    }
}

//  The log's batches merge by the snapshot's reduce: a log holding batches
//  with no snapshot beside it cannot be replayed right, and is refused
//  with a reason (an empty one, or none, is a fresh start).
Test (store, a_log_without_a_snapshot_is_refused_and_an_empty_one_is_a_fresh_start)
{
    char error[256];
    zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_not_null (store, "%s", error);
    zmr_store_destroy (&store);
    s_loaded_t loaded;
    cr_assert_eq (s_load (&loaded), 0, "%s", loaded.error);
    cr_assert (loaded.job == 0 && loaded.reduce == -1 && loaded.pair_count == 0
               && loaded.frames == 0);
    s_loaded_destroy (&loaded);

    store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_eq (zmr_store_append (store, "batch", 5), 0);
    zmr_store_destroy (&store);
    cr_assert_eq (s_load (&loaded), -1, "a log without its snapshot loaded");
    cr_assert_not_null (strstr (loaded.error, "no snapshot"), "'%s'", loaded.error);
    cr_assert_eq (loaded.frames, 0, "a frame was replayed");
    s_loaded_destroy (&loaded);

    //  Emptied by a reset (the log goes first), it is a fresh start again.
    store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_eq (zmr_store_reset (store), 0);
    zmr_store_destroy (&store);
    cr_assert_eq (s_load (&loaded), 0, "%s", loaded.error);
    s_loaded_destroy (&loaded);
}
