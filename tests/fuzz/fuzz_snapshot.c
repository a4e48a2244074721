/*  Fuzz target: a reducer's snapshot (zmr_store_load). The input is the
    snapshot file, DIR/partition-1.snap, as it is on disk (raw MessagePack,
    no checksum); the log beside it is empty. Whatever the input, a loaded
    snapshot must give the reducer a set of applied ids it can trust
    (ranges increasing, disjoint, never adjacent) and a table whose every
    word is found again, and a refused one must say why. */
#include "zmr.h"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

//  Checked in every build, NDEBUG or not.
#define S_CHECK(cond) do { if (!(cond)) abort (); } while (0)

#define S_PARTITION 1

static char s_dir[64];
static char s_snap[96];
static char s_log[96];

static void
s_cleanup (void)
{
    unlink (s_snap);
    unlink (s_log);
    rmdir (s_dir);
}

//  One store directory per process, in memory where Linux offers it:
//  fuzzing writes the snapshot millions of times.
static void
s_setup (void)
{
    if (s_snap[0])
        return;
    snprintf (s_dir, sizeof s_dir, "/dev/shm/zmr-fuzz-snapshot-XXXXXX");
    if (!mkdtemp (s_dir)) {
        snprintf (s_dir, sizeof s_dir, "/tmp/zmr-fuzz-snapshot-XXXXXX");
        S_CHECK (mkdtemp (s_dir));
    }
    snprintf (s_snap, sizeof s_snap, "%s/partition-%u.snap", s_dir, S_PARTITION);
    snprintf (s_log, sizeof s_log, "%s/partition-%u.log", s_dir, S_PARTITION);
    //  An empty log: the snapshot is all there is to load.
    int fd = open (s_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    S_CHECK (fd >= 0);
    close (fd);
    atexit (s_cleanup);
}

static int
s_replay (const void *frame, size_t len, void *arg)
{
    abort ();                   //  The log is empty: nothing to replay.
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_setup ();
    int fd = open (s_snap, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    S_CHECK (fd >= 0);
    S_CHECK (write (fd, data, size) == (ssize_t) size);
    close (fd);

    char err[512] = "";
    zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, err, sizeof err);
    S_CHECK (store);
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_u64set_t *applied = zmr_u64set_new ();
    S_CHECK (counts && applied);
    uint64_t job = 0xdead, pair_count = 0xfeed;
    uint32_t reducers = 0xbeef;
    int reduce = 0xcafe;
    int rc = zmr_store_load (store, &job, &reducers, &reduce, &pair_count, counts, applied,
                             s_replay, NULL, err, sizeof err);
    if (rc) {
        S_CHECK (rc == -1 && err[0]);
        goto done;
    }
    S_CHECK (zmr_store_log_bytes (store) == 0);
    if (size == 0) {
        //  An empty file is taken for no snapshot at all.
        S_CHECK (job == 0 && reducers == 0 && reduce == -1 && pair_count == 0);
        S_CHECK (zmr_counts_size (counts) == 0 && zmr_u64set_size (applied) == 0);
        goto done;
    }
    S_CHECK (reducers >= 1 && reducers <= ZMR_MAX_REDUCERS);
    S_CHECK (reduce >= ZMR_REDUCE_SUM && reduce <= ZMR_REDUCE_MAX);
    S_CHECK (job != 0);             //  "No job yet" to a reducer: refused

    //  The applied ids: ranges increasing, disjoint, never adjacent, each
    //  end a member and each neighbour outside.
    size_t nranges;
    const zmr_u64range_t *ranges = zmr_u64set_ranges (applied, &nranges);
    S_CHECK (nranges == 0 || ranges);
    uint64_t members = 0;
    bool overflow = false;
    for (size_t i = 0; i < nranges; i++) {
        const zmr_u64range_t *range = &ranges[i];
        S_CHECK (range->first <= range->last);
        if (i > 0)
            S_CHECK (ranges[i - 1].last < UINT64_MAX
                     && ranges[i - 1].last + 1 < range->first);
        S_CHECK (zmr_u64set_contains (applied, range->first));
        S_CHECK (zmr_u64set_contains (applied, range->last));
        S_CHECK (zmr_u64set_contains (applied, range->first + (range->last - range->first) / 2));
        if (range->first > 0)
            S_CHECK (!zmr_u64set_contains (applied, range->first - 1));
        if (range->last < UINT64_MAX)
            S_CHECK (!zmr_u64set_contains (applied, range->last + 1));
        uint64_t span = range->last - range->first;
        if (span == UINT64_MAX || members + span + 1 < members)
            overflow = true;
        members += span + 1;
    }
    size_t expected = overflow || members > SIZE_MAX? SIZE_MAX: (size_t) members;
    S_CHECK (zmr_u64set_size (applied) == expected);

    //  The counts: every word found again at its own entry, NUL-terminated,
    //  and the total their sum.
    size_t n = zmr_counts_size (counts);
    zmr_entry_t *entries = zmr_counts_entries (counts);
    S_CHECK (n == 0 || entries);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        S_CHECK (entries[i].word && entries[i].word[entries[i].len] == '\0');
        S_CHECK (zmr_counts_lookup (counts, entries[i].word, entries[i].len) == &entries[i]);
        total += entries[i].count;
    }
    S_CHECK (zmr_counts_total (counts) == total);
    //  Every word of the table is one of the input's: a snapshot cannot
    //  hold more words than bytes.
    S_CHECK (n <= size);
done:
    zmr_u64set_destroy (&applied);
    zmr_counts_destroy (&counts);
    zmr_store_destroy (&store);
    S_CHECK (!applied && !counts && !store);
    return 0;
}
