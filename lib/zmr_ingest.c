/*  zmr_ingest: many producers into one chunker input. One thread owns the
    listening socket, its connections, the ingest ROUTER, the log and the
    write end of the pipe; the ventilator's loop never waits for any of
    them. Text goes into the pipe only in whole lines, so no word joins
    two producers' text, and only once it is in the log (with a journal):
    whatever the chunker holds is in the log, so a restart can feed it the
    rest from there. Backpressure: while more than S_HIGH bytes wait to go
    into the pipe, no connection is read and no batch taken, so TCP holds
    the producers back. */
#define _GNU_SOURCE             //  pipe2, F_SETPIPE_SZ, fallocate
#include "zmr_ingest.h"
#include "zmr.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_HIGH        (4u << 20)    //  Bytes waiting for the pipe before producers wait
#define S_READ        (64u << 10)   //  One read from a connection
#define S_RECV_BATCH  256           //  Batches taken per turn
#define S_END_IDLE_MS 2000          //  After the end, a silent connection is closed
#define S_END_MAX_MS  10000         //  ... and any, after reading this long
#define S_SEQ_COMPACT 65536         //  Sequence records before the file is written anew
#define S_SLOTS       (2 * ZMR_INGEST_PRODUCERS)

typedef struct {
    int fd;
    char *buf;                  //  Bytes read, not yet a whole line
    size_t len;
    size_t cap;
    char peer[64];              //  Who, for the log
    int64_t last_read;          //  When it last gave bytes (or could not be read)
} s_conn_t;

typedef struct {
    uint8_t idlen;              //  0: a free slot
    char id[ZMR_INGEST_ID_MAX];
    uint64_t last;              //  Last sequence number taken
} s_producer_t;

typedef struct {
    zmq_msg_t identity;         //  Whom to answer
    uint8_t idlen;
    char id[ZMR_INGEST_ID_MAX];
    uint64_t seq;
    int type;                   //  INGESTED or REFUSED
    const char *reason;         //  REFUSED: why (static text)
} s_reply_t;

struct _zmr_ingest_t {
    int pipe_read;              //  The chunker's input
    int pipe_write;             //  Fed here, closed at the end
    int wake[2];                //  end() and destroy() wake the thread
    char path[32];              //  "/dev/fd/N"
    zmr_ingest_config_t config;
    char *listen_ep;            //  Copies of the config's strings
    char *ingest_ep;
    char text_path[PATH_MAX];   //  The log: text
    char seq_path[PATH_MAX];    //  ... and sequence records
    char spool_path[PATH_MAX];
    int listen_fd;
    zsock_t *router;
    int text_fd;                //  -1 without a journal
    int seq_fd;
    uint64_t seq_records;       //  Records in the sequence file
    uint64_t total;             //  Text taken (the log's text size)
    uint64_t fed;               //  Text written into the pipe
    uint64_t punched;           //  The log's text below this is given back
    char *mem;                  //  Without a log: the text not fed yet
    size_t mem_len;
    size_t mem_cap;
    char *stage;                //  With a log: bytes on their way to the pipe
    size_t stage_len;
    size_t stage_off;
    s_conn_t conns[ZMR_LISTEN_MAX_CONN];
    size_t nconns;
    s_producer_t *producers;    //  Open addressing, S_SLOTS slots
    size_t nproducers;
    s_reply_t *replies;         //  Answers held until the log is synced
    size_t nreplies;
    bool listen_text;           //  Line text taken since the last record
    bool splice;                //  The log goes into the pipe by splice(2)
    bool started;
    pthread_t thread;
    atomic_bool ending;         //  end() was called
    atomic_bool stopping;       //  destroy() was called
    atomic_bool failed;
    char error[512];
    pthread_mutex_t lock;       //  Guards stats
    zmr_ingest_stats_t stats;
    int64_t end_reading;        //  Time spent reading since the end (not held back)
    int64_t end_tick;           //  ... counted up to here
    int64_t said_at[3];         //  When each kind of complaint was last logged
    uint64_t unsaid[3];         //  ... and how many since went unsaid
};

//  Complaints a peer can repeat at will: one line a second at most, per
//  kind, saying how many were not logged in between.
enum { S_SAY_CONN, S_SAY_LINE, S_SAY_FRAME };

static bool
s_say (zmr_ingest_t *self, int kind)
{
    int64_t now = zmr_now_ms ();
    if (self->said_at[kind] && now - self->said_at[kind] < 1000) {
        self->unsaid[kind]++;
        return false;
    }
    if (self->unsaid[kind])
        zmr_log (0, "(%llu more like the next one in the last second)",
                 (unsigned long long) self->unsaid[kind]);
    self->said_at[kind] = now;
    self->unsaid[kind] = 0;
    return true;
}

//  ---------------------------------------------------------------------
//  The log

//  FNV-1a, to tell a torn record from a whole one.
static uint32_t
s_check (const uint8_t *data, size_t len)
{
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ data[i]) * 16777619u;
    return hash;
}

//  A sequence record: idlen u8, id, seq u64, end u64, check u32 (little
//  endian). Returns its length in out (at least 1 + 128 + 20 bytes).
static size_t
s_record (uint8_t *out, const char *id, uint8_t idlen, uint64_t seq, uint64_t end)
{
    size_t n = 0;
    out[n++] = idlen;
    memcpy (out + n, id, idlen);
    n += idlen;
    for (int i = 0; i < 8; i++)
        out[n++] = (uint8_t) (seq >> (8 * i));
    for (int i = 0; i < 8; i++)
        out[n++] = (uint8_t) (end >> (8 * i));
    uint32_t check = s_check (out, n);
    for (int i = 0; i < 4; i++)
        out[n++] = (uint8_t) (check >> (8 * i));
    return n;
}

static uint64_t
s_u64 (const uint8_t *p)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--)
        value = (value << 8) | p[i];
    return value;
}

static int
s_write_all (int fd, const void *data, size_t len, off_t at)
{
    const char *p = (const char *) data;
    while (len) {
        ssize_t rc = pwrite (fd, p, len, at);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            if (rc == 0)
                errno = ENOSPC;
            return -1;
        }
        p += rc;
        len -= (size_t) rc;
        at += rc;
    }
    return 0;
}

static s_producer_t *
s_producer (zmr_ingest_t *self, const char *id, uint8_t idlen, bool add)
{
    uint32_t hash = s_check ((const uint8_t *) id, idlen);
    for (size_t probe = 0; probe < S_SLOTS; probe++) {
        s_producer_t *slot = &self->producers[(hash + probe) % S_SLOTS];
        if (slot->idlen == idlen && memcmp (slot->id, id, idlen) == 0)
            return slot;
        if (slot->idlen == 0) {
            if (!add || self->nproducers >= ZMR_INGEST_PRODUCERS)
                return NULL;
            slot->idlen = idlen;
            memcpy (slot->id, id, idlen);
            slot->last = 0;
            self->nproducers++;
            return slot;
        }
    }
    return NULL;
}

//  Writes the sequence file anew: one record per producer, each with the
//  text's end, through a temporary name and a rename, so that it is whole
//  at every moment. Returns 0 or -1.
static int
s_seq_rewrite (zmr_ingest_t *self)
{
    char tmp[PATH_MAX + 8];
    snprintf (tmp, sizeof tmp, "%s.new", self->seq_path);
    int fd = open (tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    uint8_t record[ZMR_INGEST_ID_MAX + 32];
    off_t at = 0;
    uint64_t records = 0;
    int rc = 0;
    for (size_t i = 0; i < S_SLOTS && rc == 0; i++) {
        s_producer_t *slot = &self->producers[i];
        if (!slot->idlen)
            continue;
        size_t n = s_record (record, slot->id, slot->idlen, slot->last, self->total);
        rc = s_write_all (fd, record, n, at);
        at += (off_t) n;
        records++;
    }
    if (rc == 0) {
        //  The text's end, even with no producer yet
        size_t n = s_record (record, "", 0, 0, self->total);
        rc = s_write_all (fd, record, n, at);
        records++;
    }
    if (rc || fdatasync (fd) || rename (tmp, self->seq_path)) {
        close (fd);
        unlink (tmp);
        return -1;
    }
    if (self->seq_fd >= 0)
        close (self->seq_fd);
    self->seq_fd = fd;
    self->seq_records = records;
    //  The rename itself is durable once the directory is
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s", self->seq_path);
    char *slash = strrchr (dir, '/');
    if (slash)
        *(slash == dir? slash + 1: slash) = 0;
    else
        snprintf (dir, sizeof dir, ".");
    int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync (dfd);
        close (dfd);
    }
    return 0;
}

//  Opens the log; with resume, reads the producers' last sequence numbers
//  and cuts what no record covers (it was never fed nor acknowledged).
//  Returns 0, or -1 with a reason.
static int
s_log_open (zmr_ingest_t *self)
{
    const char *journal = self->config.journal;
    snprintf (self->text_path, sizeof self->text_path, "%s.ingest", journal);
    snprintf (self->seq_path, sizeof self->seq_path, "%s.ingest.seq", journal);
    int flags = O_RDWR | O_CREAT | O_CLOEXEC | (self->config.resume? 0: O_TRUNC);
    self->text_fd = open (self->text_path, flags, 0600);
    self->seq_fd = open (self->seq_path, flags, 0600);
    if (self->text_fd < 0 || self->seq_fd < 0) {
        snprintf (self->error, sizeof self->error, "cannot open the ingest log '%.300s': %s",
                  self->text_fd < 0? self->text_path: self->seq_path, strerror (errno));
        return -1;
    }
    uint64_t end = 0;
    if (self->config.resume) {
        //  Whole records up to the first torn or damaged one
        FILE *in = fdopen (dup (self->seq_fd), "rb");
        if (!in) {
            snprintf (self->error, sizeof self->error, "cannot read '%.300s': %s",
                      self->seq_path, strerror (errno));
            return -1;
        }
        uint8_t record[ZMR_INGEST_ID_MAX + 32];
        while (true) {
            int idlen = fgetc (in);
            if (idlen == EOF || idlen > ZMR_INGEST_ID_MAX)
                break;
            record[0] = (uint8_t) idlen;
            size_t rest = (size_t) idlen + 20;
            if (fread (record + 1, 1, rest, in) != rest)
                break;
            size_t body = 1 + (size_t) idlen + 16;
            const uint8_t *c = record + body;
            uint32_t check = (uint32_t) c[0] | (uint32_t) c[1] << 8
                           | (uint32_t) c[2] << 16 | (uint32_t) c[3] << 24;
            if (s_check (record, body) != check)
                break;
            uint64_t seq = s_u64 (record + 1 + idlen);
            uint64_t at = s_u64 (record + 1 + idlen + 8);
            if (at < end)
                break;          //  Ends only grow
            end = at;
            if (idlen) {
                s_producer_t *producer = s_producer (self, (const char *) record + 1,
                                                     (uint8_t) idlen, true);
                if (producer && seq > producer->last)
                    producer->last = seq;
            }
        }
        fclose (in);
    }
    struct stat st;
    if (fstat (self->text_fd, &st)) {
        snprintf (self->error, sizeof self->error, "cannot read '%.300s': %s",
                  self->text_path, strerror (errno));
        return -1;
    }
    if ((uint64_t) st.st_size < end) {
        snprintf (self->error, sizeof self->error, "the ingest log '%.300s' holds %llu bytes "
                  "of text, its records say %llu: it is damaged", self->text_path,
                  (unsigned long long) st.st_size, (unsigned long long) end);
        return -1;
    }
    //  Text after the last record was never fed nor acknowledged
    if ((uint64_t) st.st_size > end && ftruncate (self->text_fd, (off_t) end)) {
        snprintf (self->error, sizeof self->error, "cannot cut '%.300s': %s",
                  self->text_path, strerror (errno));
        return -1;
    }
    self->total = end;
    //  The chunker's spool holds the start of the text already; the rest
    //  goes into the pipe (it reads the spool, then the pipe).
    uint64_t spooled = 0;
    if (self->config.resume && self->config.spool && stat (self->config.spool, &st) == 0)
        spooled = (uint64_t) st.st_size;
    if (spooled > self->total) {
        snprintf (self->error, sizeof self->error, "the spool '%.300s' holds %llu bytes, "
                  "more than the ingest log's %llu: they do not belong together",
                  self->config.spool, (unsigned long long) spooled,
                  (unsigned long long) self->total);
        return -1;
    }
    self->fed = spooled;
    self->punched = 0;
    if (s_seq_rewrite (self)) {
        snprintf (self->error, sizeof self->error, "cannot write '%.300s': %s",
                  self->seq_path, strerror (errno));
        return -1;
    }
    return 0;
}

//  Takes text (whole lines) into the log, or memory. Returns 0 or -1.
static int
s_take (zmr_ingest_t *self, const char *text, size_t len)
{
    if (len == 0)
        return 0;
    if (self->text_fd >= 0) {
        if (s_write_all (self->text_fd, text, len, (off_t) self->total)) {
            snprintf (self->error, sizeof self->error, "cannot write the ingest log "
                      "'%.300s': %s", self->text_path, strerror (errno));
            return -1;
        }
    }
    else {
        if (self->mem_len + len > self->mem_cap) {
            size_t cap = self->mem_cap? self->mem_cap: 1 << 16;
            while (cap < self->mem_len + len)
                cap *= 2;
            char *mem = (char *) realloc (self->mem, cap);
            if (!mem) {
                snprintf (self->error, sizeof self->error, "out of memory taking input");
                return -1;
            }
            self->mem = mem;
            self->mem_cap = cap;
        }
        memcpy (self->mem + self->mem_len, text, len);
        self->mem_len += len;
    }
    self->total += len;
    pthread_mutex_lock (&self->lock);
    self->stats.bytes += len;
    pthread_mutex_unlock (&self->lock);
    return 0;
}

//  Bytes taken and not in the pipe yet.
static uint64_t
s_waiting (zmr_ingest_t *self)
{
    return self->total - self->fed;
}

//  Writes what it can into the pipe without waiting. Returns 0 or -1.
static int
s_feed (zmr_ingest_t *self)
{
    for (int turn = 0; turn < 64 && self->fed < self->total; turn++) {
        const char *from;
        size_t len;
        if (self->text_fd < 0) {
            from = self->mem;
            len = self->mem_len;
        }
        else
        if (self->splice && self->stage_off == self->stage_len) {
            //  The log's pages go into the pipe without a copy through us
            loff_t at = (loff_t) self->fed;
            uint64_t want = self->total - self->fed;
            ssize_t moved = splice (self->text_fd, &at, self->pipe_write, NULL,
                                    want > (1u << 20)? (1u << 20): (size_t) want,
                                    SPLICE_F_NONBLOCK);
            if (moved > 0) {
                self->fed += (uint64_t) moved;
                continue;
            }
            if (moved < 0 && errno == EAGAIN)
                return 0;
            if (moved < 0 && errno == EINTR)
                continue;
            //  This file system takes no splice (or the log is short, which
            //  the read below says): read, then write
            self->splice = false;
            turn--;
            continue;
        }
        else {
            if (self->stage_off == self->stage_len) {
                uint64_t want = self->total - self->fed;
                if (want > S_READ)
                    want = S_READ;
                ssize_t got = pread (self->text_fd, self->stage, (size_t) want,
                                     (off_t) self->fed);
                if (got <= 0) {
                    snprintf (self->error, sizeof self->error, "cannot read the ingest log "
                              "'%.300s': %s", self->text_path,
                              got? strerror (errno): "it is shorter than written");
                    return -1;
                }
                self->stage_len = (size_t) got;
                self->stage_off = 0;
            }
            from = self->stage + self->stage_off;
            len = self->stage_len - self->stage_off;
        }
        ssize_t put = write (self->pipe_write, from, len);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0 && errno == EAGAIN)
            return 0;
        if (put < 0) {
            snprintf (self->error, sizeof self->error, "cannot feed the chunker: %s",
                      strerror (errno));
            return -1;
        }
        self->fed += (uint64_t) put;
        if (self->text_fd < 0) {
            memmove (self->mem, self->mem + put, self->mem_len - (size_t) put);
            self->mem_len -= (size_t) put;
        }
        else
            self->stage_off += (size_t) put;
    }
    return 0;
}

//  Gives back the disk space of the log's text that the chunker's spool
//  holds (it never goes into the pipe again). Whole blocks, size kept.
static void
s_punch (zmr_ingest_t *self)
{
    struct stat st;
    if (self->text_fd < 0 || !self->config.spool || stat (self->config.spool, &st))
        return;
    uint64_t upto = (uint64_t) st.st_size;
    if (upto > self->fed)
        upto = self->fed;
    upto &= ~(uint64_t) 4095;
    if (upto > self->punched
    &&  fallocate (self->text_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                   (off_t) self->punched, (off_t) (upto - self->punched)) == 0)
        self->punched = upto;
}

//  ---------------------------------------------------------------------
//  Line-TCP producers

static void
s_conn_close (zmr_ingest_t *self, size_t index)
{
    s_conn_t *conn = &self->conns[index];
    close (conn->fd);
    free (conn->buf);
    self->conns[index] = self->conns[--self->nconns];
}

static void
s_accept (zmr_ingest_t *self)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage addr;
        socklen_t addrlen = sizeof addr;
        int fd = accept4 (self->listen_fd, (struct sockaddr *) &addr, &addrlen,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        char host[48] = "?", port[8] = "?";
        getnameinfo ((struct sockaddr *) &addr, addrlen, host, sizeof host, port, sizeof port,
                     NI_NUMERICHOST | NI_NUMERICSERV);
        if (self->nconns == ZMR_LISTEN_MAX_CONN) {
            if (s_say (self, S_SAY_CONN))
                zmr_log (0, "--listen: %d connections already: %s:%s closed",
                         ZMR_LISTEN_MAX_CONN, host, port);
            close (fd);
            pthread_mutex_lock (&self->lock);
            self->stats.refused_conn++;
            pthread_mutex_unlock (&self->lock);
            continue;
        }
        s_conn_t *conn = &self->conns[self->nconns++];
        memset (conn, 0, sizeof *conn);
        conn->fd = fd;
        conn->last_read = zmr_now_ms ();
        snprintf (conn->peer, sizeof conn->peer, "%s:%s", host, port);
        zmr_log (2, "--listen: %s connected", conn->peer);
        pthread_mutex_lock (&self->lock);
        self->stats.connections++;
        pthread_mutex_unlock (&self->lock);
    }
}

//  Ends connection index (its producer is gone, or the input ended): its
//  last line ends here, as a file's last line without a newline does.
//  Returns 0, or -1 on a log error.
static int
s_conn_end (zmr_ingest_t *self, size_t index)
{
    s_conn_t *conn = &self->conns[index];
    int rc = 0;
    if (conn->len) {
        conn->buf[conn->len++] = '\n';      //  buf has cap + 1 bytes
        rc = s_take (self, conn->buf, conn->len);
        self->listen_text = true;
    }
    zmr_log (2, "--listen: %s closed", conn->peer);
    s_conn_close (self, index);
    return rc;
}

//  Reads what connection index has (once). Whole lines are taken; a line
//  cut by the connection's end is taken with a newline after it. Returns
//  1 when the connection is gone (closed here), 0, or -1 on a log error.
static int
s_conn_read (zmr_ingest_t *self, size_t index)
{
    s_conn_t *conn = &self->conns[index];
    size_t max_line = self->config.max_line;
    if (conn->cap < conn->len + S_READ) {
        size_t cap = conn->len + S_READ;
        if (cap > max_line + 1)
            cap = max_line + 1;
        if (cap > conn->cap) {
            //  One byte more: the newline that ends a cut last line
            char *buf = (char *) realloc (conn->buf, cap + 1);
            if (!buf) {
                snprintf (self->error, sizeof self->error, "out of memory reading --listen");
                return -1;
            }
            conn->buf = buf;
            conn->cap = cap;
        }
    }
    ssize_t got = read (conn->fd, conn->buf + conn->len, conn->cap - conn->len);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (got <= 0)
        return s_conn_end (self, index) < 0? -1: 1;
    conn->last_read = zmr_now_ms ();
    size_t seen = conn->len;
    conn->len += (size_t) got;
    size_t cut = 0;
    for (size_t i = conn->len; i > seen; i--)
        if (conn->buf[i - 1] == '\n') {
            cut = i;
            break;
        }
    if (cut == 0) {
        for (size_t i = seen; i > 0; i--)
            if (conn->buf[i - 1] == '\n') {
                cut = i;
                break;
            }
    }
    if (cut) {
        if (s_take (self, conn->buf, cut))
            return -1;
        self->listen_text = true;
        memmove (conn->buf, conn->buf + cut, conn->len - cut);
        conn->len -= cut;
    }
    if (conn->len > max_line) {
        if (s_say (self, S_SAY_LINE))
            zmr_log (0, "--listen: %s sent a line longer than %zu bytes: connection "
                     "closed, the line left out", conn->peer, max_line);
        pthread_mutex_lock (&self->lock);
        self->stats.long_lines++;
        pthread_mutex_unlock (&self->lock);
        s_conn_close (self, index);
        return 1;
    }
    return 0;
}

//  Splits "tcp://HOST:PORT" into host (without [ ]) and port. Returns 0
//  or -1.
static int
s_listen_split (const char *endpoint, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *at = strncmp (endpoint, "tcp://", 6) == 0? endpoint + 6: NULL;
    const char *colon = at? strrchr (at, ':'): NULL;
    if (!colon || colon == at || !colon[1] || strlen (colon + 1) >= portlen
    ||  strspn (colon + 1, "0123456789") != strlen (colon + 1))
        return -1;
    const char *start = at, *end = colon;
    if (*start == '[' && end - start >= 2 && end[-1] == ']') {
        start++;
        end--;
    }
    if (end <= start || (size_t) (end - start) >= hostlen)
        return -1;
    memcpy (host, start, (size_t) (end - start));
    host[end - start] = 0;
    strcpy (port, colon + 1);
    return 0;
}

bool
zmr_ingest_listen_valid (const char *endpoint)
{
    char host[256], port[8];
    return endpoint && s_listen_split (endpoint, host, sizeof host, port, sizeof port) == 0
        && atoi (port) <= 65535;
}

//  Opens the listening socket of "tcp://HOST:PORT" (HOST * for any).
static int
s_listen (zmr_ingest_t *self, const char *endpoint)
{
    char host[256], port[8];
    if (!zmr_ingest_listen_valid (endpoint)
    ||  s_listen_split (endpoint, host, sizeof host, port, sizeof port)) {
        snprintf (self->error, sizeof self->error, "bad --listen '%s': expected "
                  "tcp://HOST:PORT", endpoint);
        return -1;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE };
    struct addrinfo *addresses;
    int rc = getaddrinfo (strcmp (host, "*")? host: NULL, port, &hints, &addresses);
    if (rc) {
        snprintf (self->error, sizeof self->error, "--listen '%s': %s", endpoint,
                  gai_strerror (rc));
        return -1;
    }
    int err = 0;
    for (struct addrinfo *a = addresses; a && self->listen_fd < 0; a = a->ai_next) {
        int fd = socket (a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         a->ai_protocol);
        int on = 1;
        if (fd >= 0)
            setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (fd >= 0 && bind (fd, a->ai_addr, a->ai_addrlen) == 0 && listen (fd, 128) == 0)
            self->listen_fd = fd;
        else {
            err = errno;
            if (fd >= 0)
                close (fd);
        }
    }
    freeaddrinfo (addresses);
    if (self->listen_fd < 0) {
        snprintf (self->error, sizeof self->error, "cannot listen on '%s': %s", endpoint,
                  strerror (err));
        return -1;
    }
    //  Port 0 takes a free one: say which, or no producer could find it
    struct sockaddr_storage bound;
    socklen_t boundlen = sizeof bound;
    char where[64] = "?", number[8] = "?";
    if (getsockname (self->listen_fd, (struct sockaddr *) &bound, &boundlen) == 0)
        getnameinfo ((struct sockaddr *) &bound, boundlen, where, sizeof where, number,
                     sizeof number, NI_NUMERICHOST | NI_NUMERICSERV);
    zmr_log (strcmp (port, "0")? 1: 0, "--listen: listening on tcp://%s%s%s:%s",
             strchr (where, ':')? "[": "", where, strchr (where, ':')? "]": "", number);
    return 0;
}

//  ---------------------------------------------------------------------
//  ZeroMQ producers

static void
s_count (zmr_ingest_t *self, uint64_t *counter)
{
    pthread_mutex_lock (&self->lock);
    (*counter)++;
    pthread_mutex_unlock (&self->lock);
}

//  Takes one message from the ROUTER. Returns 0, 1 when there was none,
//  or -1 on a log error.
static int
s_on_batch (zmr_ingest_t *self)
{
    void *router = zsock_resolve (self->router);
    zmq_msg_t identity, body;
    zmq_msg_init (&identity);
    if (zmq_msg_recv (&identity, router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&identity);
        return 1;
    }
    zmq_msg_init (&body);
    //  [identity, message]: a DEALER's one frame. More frames are read to
    //  the end (each within the socket's message size) and dropped.
    int frames = 1;
    if (zmq_msg_more (&identity) && zmq_msg_recv (&body, router, 0) >= 0)
        frames++;
    bool more = frames == 2 && zmq_msg_more (&body);
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init (&extra);
        more = zmq_msg_recv (&extra, router, 0) >= 0 && zmq_msg_more (&extra);
        zmq_msg_close (&extra);
        frames = 3;
    }
    bool bad_frames = frames != 2;
    const char *why = bad_frames? "not [identity, one frame]": NULL;
    zmr_mpr_t in;
    zmr_mpr_init (&in, zmq_msg_data (&body), zmq_msg_size (&body));
    uint32_t count = 0;
    uint64_t sig = 0, ver = 0, type = 0, seq = 0;
    const char *id = NULL, *text = NULL;
    uint32_t idlen = 0, textlen = 0;
    if (!why) {
        if (zmr_mpr_array (&in, &count) || count != 6 || zmr_mpr_uint (&in, &sig)
        ||  sig != ZMR_SIGNATURE || zmr_mpr_uint (&in, &ver) || ver != ZMR_INGEST_PROTOCOL
        ||  zmr_mpr_uint (&in, &type) || type != ZMR_INGEST_TYPE
        ||  zmr_mpr_str (&in, &id, &idlen) || zmr_mpr_uint (&in, &seq)
        ||  zmr_mpr_bin (&in, &text, &textlen) || zmr_mpr_finish (&in))
            why = zmr_mpr_error (&in)? zmr_mpr_error (&in): "not an INGEST message";
    }
    if (why) {
        s_count (self, &self->stats.malformed);
        if (s_say (self, S_SAY_FRAME))
            zmr_log (0, "--ingest: frame dropped: %s", why);
        zmq_msg_close (&identity);
        zmq_msg_close (&body);
        return 0;
    }
    const char *refuse = NULL;
    s_producer_t *producer = NULL;
    if (idlen == 0 || idlen > ZMR_INGEST_ID_MAX)
        refuse = "producer id must be 1 to 128 bytes";
    else
    if (seq == 0)
        refuse = "seq must be at least 1";
    else
    if (textlen > self->config.max_line)
        refuse = "text longer than the largest batch";
    else
    if (textlen && text[textlen - 1] != '\n')
        refuse = "text must be whole lines (end with a newline)";
    else
    if (!(producer = s_producer (self, id, (uint8_t) idlen, true)))
        refuse = "too many producers";
    int rc = 0;
    if (!refuse && seq <= producer->last)
        s_count (self, &self->stats.duplicates);
    else
    if (!refuse) {
        rc = s_take (self, text, textlen);
        producer->last = seq;
        s_count (self, &self->stats.batches);
    }
    else {
        s_count (self, &self->stats.refused);
        zmr_log (1, "--ingest: batch %llu refused: %s", (unsigned long long) seq, refuse);
    }
    s_reply_t *reply = &self->replies[self->nreplies++];
    zmq_msg_init (&reply->identity);
    zmq_msg_move (&reply->identity, &identity);
    reply->idlen = (uint8_t) (idlen > ZMR_INGEST_ID_MAX? ZMR_INGEST_ID_MAX: idlen);
    memcpy (reply->id, id, reply->idlen);
    reply->seq = seq;
    reply->type = refuse? ZMR_INGEST_REFUSED: ZMR_INGESTED_TYPE;
    reply->reason = refuse;
    if (!refuse && rc == 0) {
        //  Its record: after its text, so that a record never names text
        //  the log lacks
        uint8_t record[ZMR_INGEST_ID_MAX + 32];
        size_t n = s_record (record, id, (uint8_t) idlen, seq, self->total);
        struct stat st;
        if (self->seq_fd >= 0
        &&  (fstat (self->seq_fd, &st) || s_write_all (self->seq_fd, record, n, st.st_size))) {
            snprintf (self->error, sizeof self->error, "cannot write '%.300s': %s",
                      self->seq_path, strerror (errno));
            rc = -1;
        }
        self->seq_records++;
    }
    zmq_msg_close (&identity);
    zmq_msg_close (&body);
    return rc;
}

//  Makes what was taken durable, then answers. Returns 0 or -1.
static int
s_commit (zmr_ingest_t *self)
{
    if (self->text_fd >= 0 && self->listen_text) {
        //  Line text after the last batch: a record for its end, so that a
        //  restart keeps it (it may be in the chunker already)
        uint8_t record[32];
        size_t n = s_record (record, "", 0, 0, self->total);
        struct stat st;
        if (fstat (self->seq_fd, &st) || s_write_all (self->seq_fd, record, n, st.st_size)) {
            snprintf (self->error, sizeof self->error, "cannot write '%.300s': %s",
                      self->seq_path, strerror (errno));
            return -1;
        }
        self->seq_records++;
    }
    self->listen_text = false;
    if (self->nreplies == 0)
        return 0;
    //  The text before its records: a record never outlives its text
    if (self->text_fd >= 0 && (fdatasync (self->text_fd) || fdatasync (self->seq_fd))) {
        snprintf (self->error, sizeof self->error, "cannot sync the ingest log '%.300s': %s",
                  self->text_path, strerror (errno));
        return -1;
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    for (size_t i = 0; i < self->nreplies; i++) {
        s_reply_t *reply = &self->replies[i];
        msgpack_sbuffer_clear (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        msgpack_pack_array (&pk, reply->reason? 6: 5);
        msgpack_pack_uint64 (&pk, ZMR_SIGNATURE);
        msgpack_pack_uint64 (&pk, ZMR_INGEST_PROTOCOL);
        msgpack_pack_uint64 (&pk, (uint64_t) reply->type);
        msgpack_pack_str (&pk, reply->idlen);
        msgpack_pack_str_body (&pk, reply->id, reply->idlen);
        msgpack_pack_uint64 (&pk, reply->seq);
        if (reply->reason) {
            size_t len = strlen (reply->reason);
            msgpack_pack_str (&pk, len);
            msgpack_pack_str_body (&pk, reply->reason, len);
        }
        void *router = zsock_resolve (self->router);
        //  A producer gone or slow loses its answer (it sends again)
        if (zmq_msg_send (&reply->identity, router, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
            zmq_send (router, sbuf.data, sbuf.size, ZMQ_DONTWAIT);
        zmq_msg_close (&reply->identity);
    }
    msgpack_sbuffer_destroy (&sbuf);
    self->nreplies = 0;
    if (self->text_fd >= 0 && self->seq_records > S_SEQ_COMPACT && s_seq_rewrite (self)) {
        snprintf (self->error, sizeof self->error, "cannot write '%.300s' anew: %s",
                  self->seq_path, strerror (errno));
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  The thread

static void
s_drop_replies (zmr_ingest_t *self)
{
    for (size_t i = 0; i < self->nreplies; i++)
        zmq_msg_close (&self->replies[i].identity);
    self->nreplies = 0;
}

static void *
s_thread (void *arg)
{
    zmr_ingest_t *self = (zmr_ingest_t *) arg;
    //  Signals are the ventilator's loop's to see
    sigset_t all;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, NULL);
    int64_t next_punch = zmr_now_ms () + 1000;
    bool ended = false;
    int rc = 0;
    while (!atomic_load (&self->stopping) && rc == 0) {
        int64_t now = zmr_now_ms ();
        if (!ended && atomic_load (&self->ending)) {
            //  No more producers; connections open now may finish
            ended = true;
            self->end_tick = now;
            if (self->listen_fd >= 0)
                close (self->listen_fd);
            self->listen_fd = -1;
            zsock_destroy (&self->router);
        }
        bool open = s_waiting (self) < S_HIGH;
        if (ended) {
            //  Open connections are read until they close, are silent
            //  2 s, or 10 s of reading have passed (a producer that never
            //  stops would hold the job forever). Time held back by the
            //  pipeline counts for none of it.
            if (open)
                self->end_reading += now - self->end_tick;
            self->end_tick = now;
            for (size_t i = self->nconns; i > 0 && rc == 0; i--) {
                if (!open)
                    self->conns[i - 1].last_read = now;
                if (now - self->conns[i - 1].last_read >= S_END_IDLE_MS
                ||  self->end_reading >= S_END_MAX_MS)
                    rc = s_conn_end (self, i - 1);
            }
        }
        if (ended && self->nconns == 0 && self->fed == self->total)
            break;
        zmq_pollitem_t items[3 + ZMR_LISTEN_MAX_CONN];
        int n = 0;
        items[n++] = (zmq_pollitem_t) { NULL, self->wake[0], ZMQ_POLLIN, 0 };
        int feed_at = -1, listen_at = -1, router_at = -1, conns_at = -1;
        if (self->fed < self->total) {
            feed_at = n;
            items[n++] = (zmq_pollitem_t) { NULL, self->pipe_write, ZMQ_POLLOUT, 0 };
        }
        if (self->listen_fd >= 0) {
            listen_at = n;
            items[n++] = (zmq_pollitem_t) { NULL, self->listen_fd, ZMQ_POLLIN, 0 };
        }
        if (self->router && open) {
            router_at = n;
            items[n++] = (zmq_pollitem_t) { zsock_resolve (self->router), 0, ZMQ_POLLIN, 0 };
        }
        if (open) {
            conns_at = n;
            for (size_t i = 0; i < self->nconns; i++)
                items[n++] = (zmq_pollitem_t) { NULL, self->conns[i].fd, ZMQ_POLLIN, 0 };
        }
        if (zmq_poll (items, n, 500) < 0 && errno != EINTR) {
            snprintf (self->error, sizeof self->error, "poll: %s", zmq_strerror (errno));
            rc = -1;
            break;
        }
        if (items[0].revents) {
            char drain[64];
            while (read (self->wake[0], drain, sizeof drain) > 0)
                ;
        }
        if (listen_at >= 0 && items[listen_at].revents)
            s_accept (self);
        if (conns_at >= 0) {
            //  From the last, so that a connection closed (the last one
            //  moved into its place) is not skipped nor read twice
            size_t seen = (size_t) (n - conns_at);
            if (seen > self->nconns)
                seen = self->nconns;
            for (size_t i = seen; i > 0 && rc == 0; i--)
                if (items[conns_at + (int) i - 1].revents)
                    rc = s_conn_read (self, i - 1) < 0? -1: 0;
        }
        if (router_at >= 0 && self->router)
            for (int i = 0; i < S_RECV_BATCH && rc == 0 && s_waiting (self) < S_HIGH; i++) {
                int got = s_on_batch (self);
                if (got == 1)
                    break;
                rc = got;
            }
        if (rc == 0)
            rc = s_commit (self);
        if (rc == 0 && (feed_at >= 0 || self->fed < self->total))
            rc = s_feed (self);
        if (zmr_now_ms () >= next_punch) {
            s_punch (self);
            next_punch = zmr_now_ms () + 1000;
        }
    }
    s_drop_replies (self);
    if (rc) {
        atomic_store (&self->failed, true);
        zmr_log (0, "%s", self->error);
    }
    if (!atomic_load (&self->stopping) && rc == 0) {
        //  Everything is in the pipe: its end tells the chunker
        close (self->pipe_write);
        self->pipe_write = -1;
    }
    return NULL;
}

//  ---------------------------------------------------------------------
//  The interface

zmr_ingest_t *
zmr_ingest_new (char *errbuf, size_t errlen)
{
    zmr_ingest_t *self = (zmr_ingest_t *) calloc (1, sizeof *self);
    if (self) {
        self->producers = (s_producer_t *) calloc (S_SLOTS, sizeof *self->producers);
        self->replies = (s_reply_t *) calloc (S_RECV_BATCH, sizeof *self->replies);
        self->stage = (char *) malloc (S_READ);
    }
    if (!self || !self->producers || !self->replies || !self->stage) {
        if (self) {
            free (self->producers);
            free (self->replies);
            free (self->stage);
        }
        free (self);
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->listen_fd = self->text_fd = self->seq_fd = -1;
    self->splice = true;
    self->wake[0] = self->wake[1] = -1;
    pthread_mutex_init (&self->lock, NULL);
    int fds[2];
    if (pipe2 (fds, O_CLOEXEC) || pipe2 (self->wake, O_CLOEXEC | O_NONBLOCK)) {
        snprintf (errbuf, errlen, "cannot make a pipe: %s", strerror (errno));
        free (self->producers);
        free (self->replies);
        free (self->stage);
        free (self);
        return NULL;
    }
    self->pipe_read = fds[0];
    self->pipe_write = fds[1];
    fcntl (self->pipe_write, F_SETFL, O_NONBLOCK);
    //  A larger pipe: fewer turns at high rates (a limit just keeps 64 KiB)
    fcntl (self->pipe_write, F_SETPIPE_SZ, 1 << 20);
    snprintf (self->path, sizeof self->path, "/dev/fd/%d", self->pipe_read);
    return self;
}

const char *
zmr_ingest_path (zmr_ingest_t *self)
{
    assert (self);
    return self->path;
}

int
zmr_ingest_start (zmr_ingest_t *self, const zmr_ingest_config_t *config,
                  char *errbuf, size_t errlen)
{
    assert (self);
    assert (!self->started);
    self->config = *config;
    if (self->config.max_line == 0 || self->config.max_line > ZMR_INGEST_BATCH_MAX)
        self->config.max_line = ZMR_INGEST_BATCH_MAX;
    if (config->listen && s_listen (self, config->listen))
        goto fail;
    if (config->ingest) {
        //  A batch and its frame; few queued, so that TCP holds producers
        //  back while the pipeline is behind
        self->router = zmr_socket (ZMQ_ROUTER, (int64_t) self->config.max_line + 4096, 1000);
        if (!self->router) {
            snprintf (self->error, sizeof self->error, "cannot make the --ingest socket");
            goto fail;
        }
        zsock_set_rcvhwm (self->router, 64);
        zsock_set_sndhwm (self->router, 10000);
        if (zmr_bind (self->router, config->ingest, NULL)) {
            snprintf (self->error, sizeof self->error, "cannot bind --ingest '%s'",
                      config->ingest);
            goto fail;
        }
    }
    if (config->journal && s_log_open (self))
        goto fail;
    if (self->fed < self->total)
        zmr_log (1, "ingest: %llu bytes of the log go to the chunker again",
                 (unsigned long long) (self->total - self->fed));
    self->config.listen = self->config.ingest = self->config.journal = NULL;
    if (config->spool) {
        snprintf (self->spool_path, sizeof self->spool_path, "%s", config->spool);
        self->config.spool = self->spool_path;
    }
    if (pthread_create (&self->thread, NULL, s_thread, self)) {
        snprintf (self->error, sizeof self->error, "cannot start the ingest thread");
        goto fail;
    }
    self->started = true;
    return 0;
fail:
    snprintf (errbuf, errlen, "%s", self->error);
    return -1;
}

void
zmr_ingest_end (zmr_ingest_t *self)
{
    if (!self)
        return;
    atomic_store (&self->ending, true);
    ssize_t rc = write (self->wake[1], "e", 1);
    (void) rc;
}

bool
zmr_ingest_failed (zmr_ingest_t *self, char *errbuf, size_t errlen)
{
    assert (self);
    if (!atomic_load (&self->failed))
        return false;
    snprintf (errbuf, errlen, "%s", self->error);
    return true;
}

void
zmr_ingest_stats (zmr_ingest_t *self, zmr_ingest_stats_t *stats)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    *stats = self->stats;
    pthread_mutex_unlock (&self->lock);
}

void
zmr_ingest_remove (zmr_ingest_t *self)
{
    assert (self);
    if (self->text_path[0])
        unlink (self->text_path);
    if (self->seq_path[0])
        unlink (self->seq_path);
}

void
zmr_ingest_destroy (zmr_ingest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_ingest_t *self = *self_p;
    if (self->started) {
        atomic_store (&self->stopping, true);
        ssize_t rc = write (self->wake[1], "s", 1);
        (void) rc;
        pthread_join (self->thread, NULL);
    }
    while (self->nconns)
        s_conn_close (self, self->nconns - 1);
    if (self->listen_fd >= 0)
        close (self->listen_fd);
    zsock_destroy (&self->router);
    if (self->text_fd >= 0)
        close (self->text_fd);
    if (self->seq_fd >= 0)
        close (self->seq_fd);
    if (self->pipe_write >= 0)
        close (self->pipe_write);
    close (self->pipe_read);
    close (self->wake[0]);
    close (self->wake[1]);
    pthread_mutex_destroy (&self->lock);
    free (self->producers);
    free (self->replies);
    free (self->stage);
    free (self->mem);
    free (self);
    *self_p = NULL;
}
