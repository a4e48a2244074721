/*  zmr_store: snapshot + log for a reducer's partition.

    Log record: 4 bytes length, 4 bytes checksum of the frame (both
    little-endian), then the frame. The length's top bit set means the
    checksum is the fast one (s_check_fast, a multiply-and-fold over 16
    bytes at a time), written since; clear, FNV-1a, byte by byte, as logs
    written before hold (they still load). A crash mid-append leaves a torn
    last record; its length or checksum gives it away and it is cut off on
    load.

    Snapshot: one MessagePack array [0x5A53, 3, job, partition, reducers,
    reduce, pair_count, [first, last, first, last, ...], [key bin, value
    int, ...]], read back with the bounded reader like any frame from the
    network. The applied chunk ids go as the set's ranges (both ends
    included, increasing, disjoint, not adjacent), so a snapshot grows with
    the holes in the ids, not with their number. Versions 1 and 2, written
    before, were word counts ([0x5A53, V, job, partition, reducers, ids,
    pairs]: reduce sum, pair count unknown, taken as 0); version 1 held
    every id ([id, id, ...] in no order). They still load, and the next
    snapshot is written as version 3.

    Version 4, for a streaming job with windows: version 3's nine elements,
    then window_ms and the open windows, [start, [key bin, value int, ...],
    start, [...], ...] (each start once). Written only with windows, so a
    job without them still writes version 3. An event-time job's tables
    are windows of window_ms 0: panes by their start (not aligned to
    anything the store knows) and the side table (ZMR_SIDE_TABLE), whose
    id is above any pane's, so it comes last.

    The log's batches merge by the snapshot's reduce, so a log with frames
    and no snapshot is refused: the reducer writes a snapshot before it logs
    a job's first batch, and empties the log before it removes a snapshot.

    Crash safety: the snapshot holds everything logged before it, so if the
    process dies after the rename and before the log is emptied, the replayed
    frames are all of applied chunks and the reducer drops them. */
#include "zmr.h"
#include "zmr_hash.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_SNAP_SIGNATURE 0x5A53
#define S_SNAP_VERSION   4          //  Highest read; 1 and 2 (word counts) still load
#define S_SNAP_PLAIN     3          //  Written without windows
#define S_RECORD_MAX     (4u << 28)   //  Longest record accepted on load

struct _zmr_store_t {
    char *dir;                   //  The store's directory
    char *snap_path;             //  partition-P.snap
    char *log_path;              //  partition-P.log
    uint32_t partition;          //  The partition stored
    int log_fd;                  //  Open for append
    uint64_t log_bytes;          //  Bytes in the log
    uint64_t *window_ms;         //  At load: the snapshot's window length
    zmr_store_window_fn *window_fn;  //  ... and who takes its windows
    void *window_arg;
};

static uint32_t
s_check (const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *) data;
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ p[i]) * 16777619u;
    return hash;
}

//  The checksum records are written with: FNV-1a cost a reducer ~4 cycles
//  a byte of every batch it logged, 3% of all CPU on the Zipf bench.
static uint32_t
s_check_fast (const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *) data;
    uint64_t seed = ZMR_HASH_K0 ^ len;
    for (; len >= 16; p += 16, len -= 16)
        seed = zmr_hash_fold (zmr_hash_load64 (p) ^ ZMR_HASH_K1, zmr_hash_load64 (p + 8) ^ seed);
    uint8_t tail [16] = { 0 };
    memcpy (tail, p, len);
    seed = zmr_hash_fold (zmr_hash_load64 (tail) ^ ZMR_HASH_K2 ^ len,
                          zmr_hash_load64 (tail + 8) ^ seed);
    seed = zmr_hash_fold (seed ^ ZMR_HASH_K3, ZMR_HASH_K1);
    return (uint32_t) seed ^ (uint32_t) (seed >> 32);
}

static char *
s_path (const char *dir, uint32_t partition, const char *ext)
{
    size_t size = strlen (dir) + 64;
    char *path = malloc (size);
    if (path)
        snprintf (path, size, "%s/partition-%u.%s", dir, partition, ext);
    return path;
}

zmr_store_t *
zmr_store_open (const char *dir, uint32_t partition, char *errbuf, size_t errlen)
{
    if (mkdir (dir, 0700) && errno != EEXIST) {
        snprintf (errbuf, errlen, "cannot create state directory '%s': %s", dir,
                  strerror (errno));
        return NULL;
    }
    zmr_store_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->partition = partition;
    self->log_fd = -1;
    self->dir = strdup (dir);
    self->snap_path = s_path (dir, partition, "snap");
    self->log_path = s_path (dir, partition, "log");
    if (!self->dir || !self->snap_path || !self->log_path) {
        zmr_store_destroy (&self);
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->log_fd = open (self->log_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->log_fd < 0) {
        snprintf (errbuf, errlen, "cannot open '%s': %s", self->log_path, strerror (errno));
        zmr_store_destroy (&self);
        return NULL;
    }
    return self;
}

void
zmr_store_destroy (zmr_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_store_t *self = *self_p;
    if (self->log_fd >= 0)
        close (self->log_fd);
    free (self->log_path);
    free (self->snap_path);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

//  Reads a whole file into memory. Returns the bytes (caller frees) or NULL
//  with *size 0 when it does not exist.
static char *
s_slurp (const char *path, size_t *size, int *err)
{
    *size = 0;
    *err = 0;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno == ENOENT? 0: errno;
        return NULL;
    }
    struct stat st;
    char *data = NULL;
    if (fstat (fd, &st) == 0 && st.st_size > 0) {
        data = malloc ((size_t) st.st_size);
        if (!data)
            *err = ENOMEM;      //  Not "no snapshot": the reducer would start empty
        size_t got = 0;
        while (data && got < (size_t) st.st_size) {
            ssize_t n = read (fd, data + got, (size_t) st.st_size - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t) n;
        }
        *size = got;
    }
    close (fd);
    return data;
}

static int
s_compare_ids (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

//  Reads version 1's applied ids: every id, in the old hash table's order.
//  That order is the worst for the set of ranges (each insert would move
//  the ranges after it), so they are sorted first and go in at the end.
static int
s_load_ids (zmr_mpr_t *r, zmr_u64set_t *applied)
{
    uint32_t nids;
    if (zmr_mpr_array (r, &nids))
        return -1;
    //  nids is at most the bytes left in the file: a bounded allocation.
    uint64_t *ids = malloc ((nids? nids: 1) * sizeof *ids);
    if (!ids)
        return zmr_mpr_fail (r, "out of memory");
    int rc = 0;
    for (uint32_t i = 0; i < nids && rc == 0; i++)
        rc = zmr_mpr_uint (r, &ids[i]);
    if (rc == 0)
        qsort (ids, nids, sizeof *ids, s_compare_ids);
    for (uint32_t i = 0; i < nids && rc == 0; i++)
        if (zmr_u64set_insert (applied, ids[i]) < 0)
            rc = zmr_mpr_fail (r, "out of memory");
    free (ids);
    return rc;
}

//  Reads version 2's applied ranges: first and last of each, increasing,
//  with at least one id between two ranges, as zmr_u64set_ranges gives them.
static int
s_load_ranges (zmr_mpr_t *r, zmr_u64set_t *applied)
{
    uint32_t nbounds;
    if (zmr_mpr_array (r, &nbounds))
        return -1;
    if (nbounds % 2)
        return zmr_mpr_fail (r, "odd number of applied range bounds");
    uint64_t prev_last = 0;
    for (uint32_t i = 0; i < nbounds / 2; i++) {
        uint64_t first, last;
        if (zmr_mpr_uint (r, &first) || zmr_mpr_uint (r, &last))
            return -1;
        if (last < first)
            return zmr_mpr_fail (r, "empty applied range (last before first)");
        if (i > 0 && (prev_last == UINT64_MAX || first <= prev_last + 1))
            return zmr_mpr_fail (r, "applied ranges overlap, touch or are out of order");
        if (zmr_u64set_insert_range (applied, first, last))
            return zmr_mpr_fail (r, "out of memory");
        prev_last = last;
    }
    return 0;
}

//  Reads an array of key/value pairs into counts (empty). Returns 0 or -1.
static int
s_load_pairs (zmr_mpr_t *r, zmr_counts_t *counts)
{
    uint32_t npairs;
    if (zmr_mpr_array (r, &npairs))
        return -1;
    if (npairs % 2)
        return zmr_mpr_fail (r, "odd number of word/count items");
    for (uint32_t i = 0; i < npairs / 2; i++) {
        const char *word;
        uint32_t len;
        int64_t value;
        bool is_new;
        if (zmr_mpr_bin (r, &word, &len) || zmr_mpr_int (r, &value))
            return -1;
        //  Each key once: a repeat would merge (a sum might even pass 64
        //  bits), which no snapshot written here holds.
        if (!zmr_counts_add (counts, word, len, (uint64_t) value, &is_new))
            return zmr_mpr_fail (r, errno == EOVERFLOW? "a key listed twice": "out of memory");
        if (!is_new)
            return zmr_mpr_fail (r, "a key listed twice");
    }
    return 0;
}

//  Decodes a snapshot into counts and applied; returns 0, or -1 with the
//  reason in *why if it is corrupt, of another partition, or too big for
//  memory.
static int
s_load_snapshot (zmr_store_t *store, const char *data, size_t size, uint32_t partition,
                 uint64_t *job,
                 uint32_t *reducers, int *reduce, uint64_t *pair_count,
                 zmr_counts_t *counts, zmr_u64set_t *applied, const char **why)
{
    zmr_mpr_t r;
    zmr_mpr_init (&r, data, size);
    uint32_t n;
    uint64_t signature, version, snap_job, snap_partition, snap_reducers;
    uint64_t snap_reduce = ZMR_REDUCE_SUM, snap_pairs = 0;
    int rc = -1;
    if (zmr_mpr_array (&r, &n)
    ||  zmr_mpr_uint (&r, &signature)
    ||  (signature != S_SNAP_SIGNATURE && zmr_mpr_fail (&r, "not a snapshot"))
    ||  zmr_mpr_uint (&r, &version)
    ||  ((version < 1 || version > S_SNAP_VERSION)
         && zmr_mpr_fail (&r, "unknown snapshot version"))
    ||  (n != (version < 3? 7: version < 4? 9: 11)
         && zmr_mpr_fail (&r, version < 3? "not a 7-element array"
                            : version < 4? "not a 9-element array": "not an 11-element array"))
    ||  zmr_mpr_uint (&r, &snap_job) || zmr_mpr_uint (&r, &snap_partition)
    ||  zmr_mpr_uint (&r, &snap_reducers)
    ||  (version >= 3 && (zmr_mpr_uint (&r, &snap_reduce) || zmr_mpr_uint (&r, &snap_pairs))))
        goto done;
    if (snap_reduce > ZMR_REDUCE_MAX) {
        zmr_mpr_fail (&r, "unknown reduce");
        goto done;
    }
    if (snap_partition != partition) {
        zmr_mpr_fail (&r, "snapshot of another partition");
        goto done;
    }
    if (snap_reducers < 1 || snap_reducers > ZMR_MAX_REDUCERS) {
        zmr_mpr_fail (&r, "reducer count out of range");
        goto done;
    }
    if (snap_job == 0) {
        //  Job 0 is "no job yet" to the reducer: it would take the log's
        zmr_mpr_fail (&r, "snapshot of job 0");
        goto done;
    }
    *job = snap_job;
    *reducers = (uint32_t) snap_reducers;
    *reduce = (int) snap_reduce;
    *pair_count = snap_pairs;
    zmr_counts_set_reduce (counts, (int) snap_reduce);
    if (version == 1? s_load_ids (&r, applied): s_load_ranges (&r, applied))
        goto done;
    if (s_load_pairs (&r, counts))
        goto done;
    if (version >= 4) {
        //  The windows open: each into the table the reducer gives
        uint64_t window_ms, id, last = 0;
        uint32_t nwindows;
        if (zmr_mpr_uint (&r, &window_ms) || zmr_mpr_array (&r, &nwindows))
            goto done;
        if (nwindows % 2) {
            zmr_mpr_fail (&r, "bad windows");
            goto done;
        }
        if (store->window_ms)
            *store->window_ms = window_ms;
        for (uint32_t i = 0; i < nwindows / 2; i++) {
            if (zmr_mpr_uint (&r, &id))
                goto done;
            if ((i > 0 && id <= last) || (window_ms && id % window_ms)) {
                zmr_mpr_fail (&r, "windows out of order or misaligned");
                goto done;
            }
            last = id;
            zmr_counts_t *table = store->window_fn? store->window_fn (id, store->window_arg)
                                                  : zmr_counts_new ();
            if (!table) {
                zmr_mpr_fail (&r, "out of memory");
                goto done;
            }
            zmr_counts_set_reduce (table, (int) snap_reduce);
            int failed = s_load_pairs (&r, table);
            if (!store->window_fn)
                zmr_counts_destroy (&table);
            if (failed)
                goto done;
        }
    }
    rc = zmr_mpr_finish (&r);
done:
    *why = zmr_mpr_error (&r);
    return rc;
}

//  The replay of a log without a snapshot: its first frame stops it.
static int
s_no_snapshot (const void *frame, size_t len, void *arg)
{
    (void) frame;
    (void) len;
    (void) arg;
    return -1;
}

int
zmr_store_load (zmr_store_t *self, uint64_t *job, uint32_t *reducers,
                int *reduce, uint64_t *pair_count,
                zmr_counts_t *counts, zmr_u64set_t *applied,
                zmr_store_replay_fn *replay, void *arg, char *errbuf, size_t errlen)
{
    *job = 0;
    *reducers = 0;
    *reduce = -1;
    *pair_count = 0;
    if (self->window_ms)
        *self->window_ms = 0;
    size_t size;
    int err;
    char *data = s_slurp (self->snap_path, &size, &err);
    if (err) {
        snprintf (errbuf, errlen, "cannot read '%s': %s", self->snap_path, strerror (err));
        return -1;
    }
    bool snapshot = data != NULL;
    if (snapshot) {
        const char *why = NULL;
        int rc = s_load_snapshot (self, data, size, self->partition, job, reducers, reduce,
                                  pair_count, counts, applied, &why);
        free (data);
        if (rc < 0) {
            snprintf (errbuf, errlen, "cannot load snapshot '%s': %s", self->snap_path,
                      why? why: "unreadable");
            return -1;
        }
    }
    if (!snapshot && zmr_records_read (self->log_fd, s_no_snapshot, NULL, &self->log_bytes)) {
        snprintf (errbuf, errlen, "cannot replay '%s': it holds batches but there is no "
                  "snapshot '%s' to say how they merge (remove the directory to start "
                  "empty)", self->log_path, self->snap_path);
        return -1;
    }
    if (snapshot && zmr_records_read (self->log_fd, replay, arg, &self->log_bytes)) {
        snprintf (errbuf, errlen, "cannot replay '%s'", self->log_path);
        return -1;
    }
    return 0;
}

int
zmr_store_reset (zmr_store_t *self)
{
    //  The log first: a log left without its snapshot would be refused.
    if (ftruncate (self->log_fd, 0) || lseek (self->log_fd, 0, SEEK_SET) < 0)
        return -1;
    self->log_bytes = 0;
    if (unlink (self->snap_path) && errno != ENOENT)
        return -1;
    return 0;
}

int
zmr_store_remove (zmr_store_t **self_p)
{
    if (!self_p || !*self_p)
        return 0;
    zmr_store_t *self = *self_p;
    int rc = 0;
    char tmp[PATH_MAX];
    snprintf (tmp, sizeof tmp, "%s.tmp", self->snap_path);
    //  The log first: a log left without its snapshot would be refused.
    if ((unlink (self->log_path) && errno != ENOENT)
    ||  (unlink (self->snap_path) && errno != ENOENT)
    ||  (unlink (tmp) && errno != ENOENT))
        rc = -1;
    char *dir = strdup (self->dir);
    zmr_store_destroy (self_p);
    //  The directory goes with its last partition (others may share it).
    if (dir)
        rmdir (dir);
    free (dir);
    return rc;
}

static int
s_write_all (int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write (fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

int
zmr_records_append (int fd, const void *data, size_t len)
{
    if (len > S_RECORD_MAX)
        return -1;
    uint32_t header[2] = { (uint32_t) len | ZMR_RECORD_FAST, s_check_fast (data, len) };
    //  One write: a crash can only tear the tail.
    struct iovec parts[2] = { { header, 8 }, { (void *) data, len } };
    ssize_t n;
    do
        n = writev (fd, parts, 2);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t) n == 8 + len)
        return 0;
    //  A short write (a signal, a full disk): the rest, as plain writes
    if ((size_t) n < 8)
        return s_write_all (fd, (const char *) header + n, 8 - (size_t) n)
            || s_write_all (fd, data, len)? -1: 0;
    return s_write_all (fd, (const char *) data + ((size_t) n - 8), len - ((size_t) n - 8));
}

int
zmr_records_read (int fd, zmr_store_replay_fn *each, void *arg, uint64_t *bytes)
{
    struct stat st;
    if (fstat (fd, &st))
        return -1;
    size_t size = (size_t) st.st_size;
    char *data = malloc (size? size: 1);
    if (!data)
        return -1;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread (fd, data + got, size - got, (off_t) got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    size_t at = 0;
    int rc = 0;
    while (at + 8 <= got) {
        uint32_t len, check;
        memcpy (&len, data + at, 4);
        memcpy (&check, data + at + 4, 4);
        bool fast = (len & ZMR_RECORD_FAST) != 0;
        len &= ~ZMR_RECORD_FAST;
        if (len > S_RECORD_MAX || len > got - at - 8
        ||  (fast? s_check_fast (data + at + 8, len): s_check (data + at + 8, len)) != check)
            break;              //  A torn or damaged tail: cut it off.
        if (each (data + at + 8, len, arg)) {
            rc = -1;
            break;
        }
        at += 8 + (size_t) len;
    }
    free (data);
    if (rc == 0 && (ftruncate (fd, (off_t) at) || lseek (fd, (off_t) at, SEEK_SET) < 0))
        rc = -1;
    *bytes = at;
    return rc;
}

int
zmr_store_append (zmr_store_t *self, const void *frame, size_t len)
{
    if (zmr_records_append (self->log_fd, frame, len))
        return -1;
    self->log_bytes += 8 + len;
    return 0;
}

int
zmr_store_sync (zmr_store_t *self)
{
    return fdatasync (self->log_fd);
}

uint64_t
zmr_store_log_bytes (zmr_store_t *self)
{
    return self->log_bytes;
}

//  msgpack write callback into a stdio stream.
static int
s_file_write (void *data, const char *buf, size_t len)
{
    return fwrite (buf, 1, len, (FILE *) data) == len? 0: -1;
}

void
zmr_store_on_windows (zmr_store_t *self, uint64_t *window_ms, zmr_store_window_fn *fn,
                      void *arg)
{
    self->window_ms = window_ms;
    self->window_fn = fn;
    self->window_arg = arg;
}

int
zmr_store_snapshot (zmr_store_t *self, uint64_t job, uint32_t reducers,
                    int reduce, uint64_t pair_count,
                    zmr_counts_t *counts, zmr_u64set_t *applied)
{
    return zmr_store_snapshot_windows (self, job, reducers, reduce, pair_count, counts,
                                       applied, 0, NULL, 0);
}

//  Packs a table's pairs.
static void
s_pack_pairs (msgpack_packer *pk, zmr_counts_t *counts)
{
    size_t n = zmr_counts_size (counts);
    zmr_entry_t *entries = zmr_counts_entries (counts);
    msgpack_pack_array (pk, (uint32_t) (2 * n));
    for (size_t i = 0; i < n; i++)
        zmr_msg_pack_pair (pk, entries[i].word, entries[i].len, entries[i].count);
}

int
zmr_store_snapshot_windows (zmr_store_t *self, uint64_t job, uint32_t reducers,
                            int reduce, uint64_t pair_count,
                            zmr_counts_t *counts, zmr_u64set_t *applied,
                            uint64_t window_ms, const zmr_store_window_t *windows,
                            size_t nwindows)
{
    size_t tmp_size = strlen (self->snap_path) + 8;
    char *tmp = malloc (tmp_size);
    if (!tmp)
        return -1;
    snprintf (tmp, tmp_size, "%s.tmp", self->snap_path);
    size_t nranges, n = zmr_counts_size (counts);
    const zmr_u64range_t *ranges = zmr_u64set_ranges (applied, &nranges);
    int rc = -1;
    //  MessagePack arrays count in 32 bits.
    bool windowed = window_ms > 0 || nwindows > 0;
    for (size_t i = 0; i < nwindows; i++)
        if (zmr_counts_size (windows[i].counts) > UINT32_MAX / 2)
            n = SIZE_MAX;
    if (nranges > UINT32_MAX / 2 || n > UINT32_MAX / 2 || nwindows > UINT32_MAX / 2) {
        errno = EOVERFLOW;
        goto done;
    }
    FILE *out = fopen (tmp, "we");
    if (!out)
        goto done;
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, s_file_write);
    msgpack_pack_array (&pk, windowed? 11: 9);
    msgpack_pack_uint16 (&pk, S_SNAP_SIGNATURE);
    msgpack_pack_uint8 (&pk, windowed? S_SNAP_VERSION: S_SNAP_PLAIN);
    msgpack_pack_uint64 (&pk, job);
    msgpack_pack_uint32 (&pk, self->partition);
    msgpack_pack_uint32 (&pk, reducers);
    msgpack_pack_uint32 (&pk, (uint32_t) reduce);
    msgpack_pack_uint64 (&pk, pair_count);
    msgpack_pack_array (&pk, (uint32_t) (2 * nranges));
    for (size_t i = 0; i < nranges; i++) {
        msgpack_pack_uint64 (&pk, ranges[i].first);
        msgpack_pack_uint64 (&pk, ranges[i].last);
    }
    s_pack_pairs (&pk, counts);
    if (windowed) {
        //  In order of their starts, as the load checks
        msgpack_pack_uint64 (&pk, window_ms);
        msgpack_pack_array (&pk, (uint32_t) (2 * nwindows));
        uint64_t last = 0;
        for (size_t done = 0; done < nwindows; done++) {
            size_t next = SIZE_MAX;
            for (size_t i = 0; i < nwindows; i++)
                if ((done == 0 || windows[i].id > last)
                &&  (next == SIZE_MAX || windows[i].id < windows[next].id))
                    next = i;
            last = windows[next].id;
            msgpack_pack_uint64 (&pk, last);
            s_pack_pairs (&pk, windows[next].counts);
        }
    }
    bool ok = !ferror (out) && fflush (out) == 0 && fsync (fileno (out)) == 0;
    if (fclose (out))
        ok = false;
    if (!ok || rename (tmp, self->snap_path)) {
        unlink (tmp);
        goto done;
    }
    //  The rename itself must survive a power cut: sync the directory.
    int dir = open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        fsync (dir);
        close (dir);
    }
    if (ftruncate (self->log_fd, 0) == 0 && lseek (self->log_fd, 0, SEEK_SET) == 0)
        self->log_bytes = 0;
    rc = 0;
done:
    free (tmp);
    return rc;
}
