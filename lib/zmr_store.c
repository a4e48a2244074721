/*  zmr_store: snapshot + log for a reducer's partition.

    Log record: 4 bytes length, 4 bytes FNV-1a checksum of the frame (both
    little-endian), then the frame. A crash mid-append leaves a torn last
    record; its length or checksum gives it away and it is cut off on load.

    Snapshot: one MessagePack array [0x5A53, 1, job, partition, reducers,
    [applied chunk ids], [word bin, count uint, ...]], read back with the
    bounded reader like any frame from the network.

    Crash safety: the snapshot holds everything logged before it, so if the
    process dies after the rename and before the log is emptied, the replayed
    frames are all of applied chunks and the reducer drops them. */
#include "zmr.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_SNAP_SIGNATURE 0x5A53
#define S_SNAP_VERSION   1
#define S_RECORD_MAX     (4u << 28)   //  Longest record accepted on load

struct _zmr_store_t {
    char *dir;                   //  The store's directory
    char *snap_path;             //  partition-P.snap
    char *log_path;              //  partition-P.log
    uint32_t partition;          //  The partition stored
    int log_fd;                  //  Open for append
    uint64_t log_bytes;          //  Bytes in the log
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

//  Decodes a snapshot into counts and applied; returns 0, or -1 if it is
//  corrupt or of another partition.
static int
s_load_snapshot (const char *data, size_t size, uint32_t partition, uint64_t *job,
                 uint32_t *reducers, zmr_counts_t *counts, zmr_u64set_t *applied)
{
    zmr_mpr_t r;
    zmr_mpr_init (&r, data, size);
    uint32_t n, nids, npairs;
    uint64_t signature, version, snap_job, snap_partition, snap_reducers;
    if (zmr_mpr_array (&r, &n) || n != 7
    ||  zmr_mpr_uint (&r, &signature) || signature != S_SNAP_SIGNATURE
    ||  zmr_mpr_uint (&r, &version) || version != S_SNAP_VERSION
    ||  zmr_mpr_uint (&r, &snap_job) || zmr_mpr_uint (&r, &snap_partition)
    ||  zmr_mpr_uint (&r, &snap_reducers))
        return -1;
    if (snap_partition != partition || snap_reducers < 1
    ||  snap_reducers > ZMR_MAX_REDUCERS)
        return -1;
    *job = snap_job;
    *reducers = (uint32_t) snap_reducers;
    if (zmr_mpr_array (&r, &nids))
        return -1;
    for (uint32_t i = 0; i < nids; i++) {
        uint64_t id;
        if (zmr_mpr_uint (&r, &id) || zmr_u64set_insert (applied, id) < 0)
            return -1;
    }
    if (zmr_mpr_array (&r, &npairs) || npairs % 2)
        return -1;
    for (uint32_t i = 0; i < npairs / 2; i++) {
        const char *word;
        uint32_t len;
        uint64_t count;
        if (zmr_mpr_bin (&r, &word, &len) || zmr_mpr_uint (&r, &count)
        ||  !zmr_counts_add (counts, word, len, count, NULL))
            return -1;
    }
    return zmr_mpr_finish (&r);
}

int
zmr_store_load (zmr_store_t *self, uint64_t *job, uint32_t *reducers,
                zmr_counts_t *counts, zmr_u64set_t *applied,
                zmr_store_replay_fn *replay, void *arg, char *errbuf, size_t errlen)
{
    *job = 0;
    *reducers = 0;
    size_t size;
    int err;
    char *data = s_slurp (self->snap_path, &size, &err);
    if (err) {
        snprintf (errbuf, errlen, "cannot read '%s': %s", self->snap_path, strerror (err));
        return -1;
    }
    if (data) {
        int rc = s_load_snapshot (data, size, self->partition, job, reducers,
                                  counts, applied);
        free (data);
        if (rc < 0) {
            snprintf (errbuf, errlen, "corrupt snapshot '%s'", self->snap_path);
            return -1;
        }
    }
    if (zmr_records_read (self->log_fd, replay, arg, &self->log_bytes)) {
        snprintf (errbuf, errlen, "cannot replay '%s'", self->log_path);
        return -1;
    }
    return 0;
}

int
zmr_store_reset (zmr_store_t *self)
{
    if (unlink (self->snap_path) && errno != ENOENT)
        return -1;
    if (ftruncate (self->log_fd, 0) || lseek (self->log_fd, 0, SEEK_SET) < 0)
        return -1;
    self->log_bytes = 0;
    return 0;
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
    uint32_t header[2] = { (uint32_t) len, s_check (data, len) };
    //  One buffer, one write: a crash can only tear the tail.
    char *record = malloc (8 + len);
    if (!record)
        return -1;
    memcpy (record, header, 8);
    memcpy (record + 8, data, len);
    int rc = s_write_all (fd, record, 8 + len);
    free (record);
    return rc;
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
        if (len > S_RECORD_MAX || len > got - at - 8
        ||  s_check (data + at + 8, len) != check)
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

int
zmr_store_snapshot (zmr_store_t *self, uint64_t job, uint32_t reducers,
                    zmr_counts_t *counts, zmr_u64set_t *applied)
{
    size_t tmp_size = strlen (self->snap_path) + 8;
    char *tmp = malloc (tmp_size);
    size_t nids = zmr_u64set_size (applied);
    uint64_t *ids = malloc ((nids? nids: 1) * sizeof *ids);
    if (!tmp || !ids) {
        free (tmp);
        free (ids);
        return -1;
    }
    snprintf (tmp, tmp_size, "%s.tmp", self->snap_path);
    FILE *out = fopen (tmp, "we");
    int rc = -1;
    if (!out)
        goto done;
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, s_file_write);
    msgpack_pack_array (&pk, 7);
    msgpack_pack_uint16 (&pk, S_SNAP_SIGNATURE);
    msgpack_pack_uint8 (&pk, S_SNAP_VERSION);
    msgpack_pack_uint64 (&pk, job);
    msgpack_pack_uint32 (&pk, self->partition);
    msgpack_pack_uint32 (&pk, reducers);
    zmr_u64set_values (applied, ids);
    msgpack_pack_array (&pk, (uint32_t) nids);
    for (size_t i = 0; i < nids; i++)
        msgpack_pack_uint64 (&pk, ids[i]);
    size_t n = zmr_counts_size (counts);
    zmr_entry_t *entries = zmr_counts_entries (counts);
    msgpack_pack_array (&pk, (uint32_t) (2 * n));
    for (size_t i = 0; i < n; i++)
        zmr_msg_pack_pair (&pk, entries[i].word, entries[i].len, entries[i].count);
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
    free (ids);
    return rc;
}
