/*  zmr_chunker: reads the job's inputs one after the other and cuts them into
    chunks just after a whitespace byte (or a '\n', cutting lines), carrying
    the partial word (line) at the end of each read into the next chunk of
    the same input. Memory stays bounded by one chunk, one read step and the
    carried partial word. */
#define _GNU_SOURCE             //  fallocate
#include "zmr_chunker.h"
#include "zmr_job.h"
#include "zmr_tokenize.h"

#include <assert.h>
#include <poll.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZMR_CHUNKER_STEP_MAX  (1u << 20)    //  Largest read past chunk_size
#define ZMR_CHUNKER_STEP_MIN  (64u << 10)   //  First read past chunk_size (at most)
#define ZMR_CHUNKER_READ_MAX  (1u << 30)    //  Largest single read(2)
#define ZMR_CHUNKER_BUDGET    (8u << 20)    //  Bytes one non-blocking next() reads
                                            //  for one chunk before it returns

typedef struct {
    uint32_t input;
    uint64_t offset;
    uint64_t len;
} s_cut_t;

struct _zmr_chunker_t {
    char **paths;               //  Copies of the input paths
    size_t npaths;              //  Number of inputs
    size_t chunk_size;          //  Shortest chunk, unless its input ends first
    size_t max_chunk;           //  Longest chunk
    size_t step_min;            //  First read past chunk_size, per chunk
    uint64_t known_bytes;       //  Sum of the regular files' sizes
    bool all_known;             //  Every input is a regular file
    uint64_t bytes_read;        //  Bytes handed out in chunks
    size_t current;             //  Index of the input being read
    int fd;                     //  Its descriptor, or -1 when none is open
    bool eof;                   //  read(2) returned 0 on fd
    bool may_block;             //  fd is not a regular file
    bool nonblocking;           //  next() returns 2 instead of waiting
    bool by_reference;          //  Regular files' chunks come without bytes
    bool lines;                 //  Cut after '\n' (records are lines), not
                                //  after any whitespace
    uint64_t size;              //  Size of the current input if regular
    uint64_t device;            //  Its st_dev
    uint64_t inode;             //  Its st_ino
    uint64_t offset;            //  Offset of buf[0] in the current input
    char *buf;                  //  Bytes read and not yet handed out
    size_t len;                 //  Bytes held in buf
    size_t cap;                 //  Bytes allocated for buf
    size_t scanned;             //  buf[chunk_size-1 .. scanned) holds no cut
    bool failed;                //  A -1 was returned; every later call fails too
    char *spool_prefix;         //  Spool files' prefix, or NULL: no spooling
    bool spool_resume;          //  Read what the spools hold before going on
    bool spool_splice;          //  The input is a pipe: splice(2) it to the spool
    int spool_fd;               //  Spool of the current input, or -1
    uint64_t spool_size;        //  Bytes in it
    uint64_t spool_released;    //  Its bytes below this are given back
    s_cut_t *cuts;              //  Chunks to cut again as they were cut
    size_t ncuts;               //  Number of them
    size_t cuts_cap;            //  Allocated
    size_t next_cut;            //  The first not cut yet
    bool scanning;              //  By reference: a cut is being looked for
    uint64_t scan_from;         //  ... from here (relative to offset)
    uint64_t scan_end;          //  ... up to here
    size_t scan_step;           //  ... in steps of this
    bool seek;                  //  The input seek_input starts at seek_offset
    uint64_t seek_offset;       //  ... where chunks resume after a restart
    char error [512];           //  Reason for the last -1
};

static bool
s_is_stdin (const char *path)
{
    return strcmp (path, "-") == 0;
}

//  A line stream from a TCP server: "tcp://HOST:PORT".
static bool
s_is_tcp (const char *path)
{
    return strncmp (path, "tcp://", 6) == 0;
}

//  Splits "tcp://HOST:PORT" (HOST may be [v6]) into host and port. Returns
//  0 or -1.
static int
s_tcp_split (const char *path, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *at = path + 6;
    const char *colon = strrchr (at, ':');
    if (!colon || colon == at || !colon[1] || strlen (colon + 1) >= portlen)
        return -1;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    const char *start = at, *end = colon;
    if (*start == '[' && end[-1] == ']') {
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

//  Connects to the TCP server of path. Returns the socket, or -1 with a
//  reason in self->error.
static int
s_tcp_connect (zmr_chunker_t *self, const char *path)
{
    char host[256], port[16];
    if (s_tcp_split (path, host, sizeof host, port, sizeof port)) {
        snprintf (self->error, sizeof (self->error), "bad TCP input '%s': expected "
                  "tcp://HOST:PORT", path);
        return -1;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *addresses;
    int rc = getaddrinfo (host, port, &hints, &addresses);
    if (rc) {
        snprintf (self->error, sizeof (self->error), "cannot resolve '%s': %s", path,
                  gai_strerror (rc));
        return -1;
    }
    int fd = -1, err = 0;
    //  Non-blocking, the connect goes on while the caller's loop does (a
    //  host that does not answer holds a blocking connect for minutes, and
    //  the ventilator's status with it); poll() then reports the socket
    //  when its text comes, or its error, which the first read returns.
    int type = SOCK_CLOEXEC | (self->nonblocking? SOCK_NONBLOCK: 0);
    for (struct addrinfo *a = addresses; a && fd < 0; a = a->ai_next) {
        fd = socket (a->ai_family, a->ai_socktype | type, a->ai_protocol);
        if (fd >= 0 && connect (fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS) {
            err = errno;
            close (fd);
            fd = -1;
        }
    }
    freeaddrinfo (addresses);
    if (fd < 0)
        snprintf (self->error, sizeof (self->error), "cannot connect to '%s': %s", path,
                  strerror (err? err: errno));
    return fd;
}

static void
s_close_input (zmr_chunker_t *self)
{
    if (self->fd >= 0 && !s_is_stdin (self->paths [self->current]))
        close (self->fd);
    self->fd = -1;
    if (self->spool_fd >= 0)
        close (self->spool_fd);
    self->spool_fd = -1;
}

//  Checks that path can be read and adds its size if it is a regular file.
//  Returns 0, or -1 with a reason in errbuf.
static int
s_check_input (zmr_chunker_t *self, const char *path, char *errbuf, size_t errlen)
{
    if (s_is_stdin (path)) {
        self->all_known = false;
        return 0;
    }
    if (s_is_tcp (path)) {
        //  Checked for form now, connected to when its turn comes.
        char host[256], port[16];
        self->all_known = false;
        if (s_tcp_split (path, host, sizeof host, port, sizeof port) == 0)
            return 0;
        if (errbuf && errlen)
            snprintf (errbuf, errlen, "bad TCP input '%s': expected tcp://HOST:PORT", path);
        return -1;
    }
    struct stat info;
    int err = 0;
    if (stat (path, &info))
        err = errno;
    else
    if (S_ISDIR (info.st_mode))
        err = EISDIR;
    else
    if (!S_ISREG (info.st_mode)) {
        //  Opening a named pipe would block, or wake its writer only to
        //  leave it writing to no reader: ask the kernel instead
        self->all_known = false;
        if (access (path, R_OK))
            err = errno;
    }
    else {
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            err = errno;
        else {
            if (fstat (fd, &info))
                err = errno;
            else
                self->known_bytes += (uint64_t) info.st_size;
            close (fd);
        }
    }
    if (err) {
        if (errbuf && errlen)
            snprintf (errbuf, errlen, "cannot read '%s': %s", path, strerror (err));
        return -1;
    }
    return 0;
}

zmr_chunker_t *
zmr_chunker_new (const char *const *paths, size_t npaths,
                 size_t chunk_size, size_t max_chunk,
                 char *errbuf, size_t errlen)
{
    assert (paths || npaths == 0);
    assert (npaths <= UINT32_MAX);
    assert (chunk_size >= 1 && chunk_size <= max_chunk);
    zmr_chunker_t *self = (zmr_chunker_t *) calloc (1, sizeof (*self));
    if (self)
        self->paths = (char **) calloc (npaths ? npaths : 1, sizeof (char *));
    if (!self || !self->paths) {
        free (self);
        if (errbuf && errlen)
            snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->npaths = npaths;
    self->chunk_size = chunk_size;
    self->max_chunk = max_chunk;
    self->step_min = chunk_size / 16;
    if (self->step_min < 1)
        self->step_min = 1;
    if (self->step_min > ZMR_CHUNKER_STEP_MIN)
        self->step_min = ZMR_CHUNKER_STEP_MIN;
    self->all_known = true;
    self->fd = -1;
    self->spool_fd = -1;
    for (size_t input = 0; input < npaths; input++) {
        assert (paths [input]);
        self->paths [input] = strdup (paths [input]);
        if (!self->paths [input]) {
            if (errbuf && errlen)
                snprintf (errbuf, errlen, "out of memory");
            zmr_chunker_destroy (&self);
            return NULL;
        }
        if (s_check_input (self, paths [input], errbuf, errlen)) {
            zmr_chunker_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
zmr_chunker_destroy (zmr_chunker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_chunker_t *self = *self_p;
    s_close_input (self);
    free (self->buf);
    free (self->cuts);
    free (self->spool_prefix);
    for (size_t input = 0; input < self->npaths; input++)
        free (self->paths [input]);
    free (self->paths);
    free (self);
    *self_p = NULL;
}

//  Makes this and every later next() fail; self->error holds the reason.
static int
s_fail (zmr_chunker_t *self)
{
    self->failed = true;
    return -1;
}

//  Opens the current input. Returns 0 or -1 with a reason.
static int
s_open_input (zmr_chunker_t *self)
{
    const char *path = self->paths [self->current];
    if (s_is_stdin (path))
        self->fd = 0;
    else
    if (s_is_tcp (path)) {
        self->fd = s_tcp_connect (self, path);
        if (self->fd < 0)
            return s_fail (self);
    }
    else {
        //  Non-blocking, a FIFO opens at once even with no writer yet (a
        //  blocking open waits for one, and the caller's loop with it);
        //  until a writer comes, poll() says nothing: no data, and no
        //  hangup either until a writer came and left.
        int flags = O_RDONLY | O_CLOEXEC | (self->nonblocking? O_NONBLOCK: 0);
        self->fd = open (path, flags);
        if (self->fd < 0) {
            snprintf (self->error, sizeof (self->error),
                      "cannot read '%s': %s", path, strerror (errno));
            return s_fail (self);
        }
    }
    self->eof = false;
    self->offset = 0;
    self->len = 0;
    self->scanned = 0;
    struct stat st;
    self->may_block = fstat (self->fd, &st) || !S_ISREG (st.st_mode);
    self->size = self->may_block? 0: (uint64_t) st.st_size;
    self->device = self->may_block? 0: (uint64_t) st.st_dev;
    self->inode = self->may_block? 0: (uint64_t) st.st_ino;
    if (self->spool_prefix && (self->may_block || s_is_stdin (path))) {
        //  A stream: what is read from it cannot be read again, so it goes
        //  to the spool first
        char spool [PATH_MAX];
        snprintf (spool, sizeof spool, "%s.%zu", self->spool_prefix, self->current);
        int flags = O_RDWR | O_CREAT | O_CLOEXEC | (self->spool_resume? 0: O_TRUNC);
        self->spool_fd = open (spool, flags, 0600);
        if (self->spool_fd < 0 || fstat (self->spool_fd, &st)) {
            snprintf (self->error, sizeof (self->error),
                      "cannot open spool '%.400s': %s", spool, strerror (errno));
            return s_fail (self);
        }
        self->spool_size = (uint64_t) st.st_size;
        self->spool_released = 0;
        struct stat input;
        self->spool_splice = fstat (self->fd, &input) == 0 && S_ISFIFO (input.st_mode);
    }
    if (self->seek) {
        //  A restart after a journal written anew: reading starts where the
        //  first chunk not done starts (a stream's from its spool)
        self->seek = false;
        const char *why = NULL;
        if (self->spool_fd >= 0) {
            if (self->seek_offset > self->spool_size)
                why = "its spool ends before";
        }
        else
        if (self->may_block)
            why = "it is a stream without a spool";
        else
        if (self->seek_offset > self->size || lseek (self->fd, (off_t) self->seek_offset,
                                                     SEEK_SET) < 0)
            why = "it ends before";
        if (why) {
            snprintf (self->error, sizeof (self->error),
                      "'%s' cannot resume at offset %llu, where the journal says the job "
                      "stands: %s", path, (unsigned long long) self->seek_offset, why);
            return s_fail (self);
        }
        self->offset = self->seek_offset;
    }
    return 0;
}

//  Reads up to want bytes of a spooled input into buf + len: the spool's
//  bytes first, then the live input's, each written to the spool before it
//  counts as read. Returns what read(2) would, 0 with *wait when a
//  non-blocking chunker finds no live input now, or -2 with a reason when
//  the spool cannot be written.
static ssize_t
s_read_spooled (zmr_chunker_t *self, size_t want, bool *wait)
{
    uint64_t at = self->offset + self->len;
    if (at < self->spool_size) {
        if (want > self->spool_size - at)
            want = (size_t) (self->spool_size - at);
        ssize_t got = pread (self->spool_fd, self->buf + self->len, want, (off_t) at);
        if (got == 0) {
            //  The spool shrank under us
            errno = EIO;
            return -1;
        }
        return got;
    }
    if (self->nonblocking && self->may_block) {
        struct pollfd item = { .fd = self->fd, .events = POLLIN };
        int ready = poll (&item, 1, 0);
        if (ready == 0 || (ready < 0 && errno == EINTR)) {
            *wait = true;
            return 0;
        }
    }
    if (self->spool_splice) {
        //  A pipe: the kernel moves its bytes straight into the spool, so
        //  no byte is ever out of the pipe and not yet in the spool (a
        //  read then a write leaves a window where a kill loses them).
        loff_t to = (loff_t) at;
        ssize_t moved = splice (self->fd, NULL, self->spool_fd, &to, want, 0);
        if (moved > 0) {
            self->spool_size = at + (uint64_t) moved;
            ssize_t got = pread (self->spool_fd, self->buf + self->len, (size_t) moved,
                                 (off_t) at);
            if (got == 0)
                errno = EIO;
            return got == 0? -1: got;
        }
        if (moved < 0 && errno == EAGAIN) {
            *wait = true;
            return 0;
        }
        if (moved == 0 || errno == EINTR)
            return moved;
        if (errno != EINVAL && errno != ENOSYS) {
            snprintf (self->error, sizeof (self->error), "cannot write the spool of '%s': %s",
                      self->paths [self->current], strerror (errno));
            return -2;
        }
        //  This file system takes no splice: read, then write
        self->spool_splice = false;
    }
    ssize_t got = read (self->fd, self->buf + self->len, want);
    if (got <= 0)
        return got;
    for (ssize_t put = 0; put < got;) {
        ssize_t rc = pwrite (self->spool_fd, self->buf + self->len + put,
                             (size_t) (got - put), (off_t) (at + (uint64_t) put));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            snprintf (self->error, sizeof (self->error), "cannot write the spool of '%s': %s",
                      self->paths [self->current], rc < 0? strerror (errno): "disk full");
            return -2;
        }
        put += rc;
    }
    self->spool_size = at + (uint64_t) got;
    return got;
}

//  Grows buf to cap bytes. Returns 0, or -1 with a reason.
static int
s_reserve (zmr_chunker_t *self, size_t cap)
{
    char *buf = (char *) realloc (self->buf, cap);
    if (!buf) {
        snprintf (self->error, sizeof (self->error),
                  "out of memory reading '%s'", self->paths [self->current]);
        return s_fail (self);
    }
    self->buf = buf;
    self->cap = cap;
    return 0;
}

//  Reads until buf holds target bytes or the input ends. Returns 0, 2 when
//  a non-blocking chunker would have to wait for input, or -1 with a reason.
static int
s_fill (zmr_chunker_t *self, size_t target)
{
    if (target > self->cap) {
        size_t cap = self->cap * 2;
        if (cap < self->chunk_size + self->step_min)
            cap = self->chunk_size + self->step_min;
        if (cap > self->max_chunk + 1)
            cap = self->max_chunk + 1;
        if (cap < target)
            cap = target;
        if (s_reserve (self, cap))
            return -1;
    }
    while (self->len < target && !self->eof) {
        size_t want = target - self->len;
        if (want > ZMR_CHUNKER_READ_MAX)
            want = ZMR_CHUNKER_READ_MAX;
        ssize_t got;
        if (self->spool_fd >= 0) {
            bool wait = false;
            got = s_read_spooled (self, want, &wait);
            if (wait)
                return 2;
            if (got == -2)
                return s_fail (self);
        }
        else {
            if (self->nonblocking && self->may_block) {
                //  A pipe, FIFO or terminal: read only what is there now.
                struct pollfd item = { .fd = self->fd, .events = POLLIN };
                int ready = poll (&item, 1, 0);
                if (ready == 0 || (ready < 0 && errno == EINTR))
                    return 2;
            }
            got = read (self->fd, self->buf + self->len, want);
        }
        if (got > 0)
            self->len += (size_t) got;
        else
        if (got == 0)
            self->eof = true;
        else
        if (errno == EAGAIN && self->nonblocking)
            return 2;           //  (opened O_NONBLOCK: nothing there after all)
        else
        if (errno != EINTR) {
            const char *path = self->paths [self->current];
            uint64_t at = self->offset + self->len;
            if (s_is_tcp (path) && at == 0)
                //  The connect, which went on without us, failed
                snprintf (self->error, sizeof (self->error), "cannot connect to '%s': %s",
                          path, strerror (errno));
            else
                snprintf (self->error, sizeof (self->error),
                          "cannot read '%s' at offset %llu: %s", path,
                          (unsigned long long) at, strerror (errno));
            return s_fail (self);
        }
    }
    return 0;
}

//  Where a chunk may end in buf[0 .. len): just after its last '\n' when
//  cutting lines, else just after its last whitespace byte; 0 for nowhere.
static size_t
s_last_cut (zmr_chunker_t *self, const char *buf, size_t len)
{
    if (!self->lines)
        return zmr_tokenize_last_cut (buf, len);
    const char *newline = (const char *) memrchr (buf, '\n', len);
    return newline? (size_t) (newline - buf) + 1: 0;
}

//  Hands buf[0 .. cut) to the caller as a chunk and keeps the rest in a new
//  buffer. Returns 1, or -1 with a reason.
static int
s_emit (zmr_chunker_t *self, size_t cut, zmr_chunk_t *chunk)
{
    assert (cut > 0 && cut <= self->len);
    size_t carry = self->len - cut;
    char *rest = NULL;
    size_t rest_cap = 0;
    if (carry) {
        rest_cap = self->chunk_size + self->step_min;
        if (rest_cap < carry + self->step_min)
            rest_cap = carry + self->step_min;
        rest = (char *) malloc (rest_cap);
        if (!rest) {
            snprintf (self->error, sizeof (self->error),
                      "out of memory reading '%s'", self->paths [self->current]);
            return s_fail (self);
        }
        memcpy (rest, self->buf + cut, carry);
    }
    //  The chunk keeps the read buffer itself; give back what it does not use
    char *data = self->buf;
    if (self->cap > cut) {
        char *shrunk = (char *) realloc (data, cut);
        if (shrunk)
            data = shrunk;
    }
    chunk->data = data;
    chunk->len = cut;
    chunk->input = (uint32_t) self->current;
    chunk->offset = self->offset;
    chunk->device = chunk->inode = 0;

    self->buf = rest;
    self->cap = rest_cap;
    self->len = carry;
    self->offset += cut;
    self->scanned = 0;
    self->bytes_read += cut;
    return 1;
}

//  Fails on a word or line longer than a chunk may be, which starts at the
//  offset of the chunk being cut (a line counts with its '\n'). Returns -1.
static int
s_too_long (zmr_chunker_t *self)
{
    if (self->lines)
        snprintf (self->error, sizeof (self->error),
                  "line longer than %zu bytes at %s:%llu", self->max_chunk,
                  self->paths [self->current], (unsigned long long) self->offset);
    else
        snprintf (self->error, sizeof (self->error),
                  "word longer than %zu bytes at '%s' offset %llu", self->max_chunk,
                  self->paths [self->current], (unsigned long long) self->offset);
    return s_fail (self);
}

//  Whether the current input's chunks go out by reference.
static bool
s_by_reference (zmr_chunker_t *self)
{
    return self->by_reference && !self->may_block
        && !s_is_stdin (self->paths [self->current]);
}

//  Hands out the next len bytes of the current input by reference.
static int
s_emit_reference (zmr_chunker_t *self, uint64_t len, zmr_chunk_t *chunk)
{
    assert (len > 0 && len <= self->max_chunk);
    self->scanning = false;
    chunk->data = NULL;
    chunk->len = (size_t) len;
    chunk->input = (uint32_t) self->current;
    chunk->offset = self->offset;
    chunk->device = self->device;
    chunk->inode = self->inode;
    self->offset += len;
    self->bytes_read += len;
    return 1;
}

//  Reads len bytes at offset at of the current input into buf. Returns 0,
//  or -1 with a reason (also when the input ends first: it shrank).
static int
s_window (zmr_chunker_t *self, uint64_t at, size_t len)
{
    if (len > self->cap && s_reserve (self, len))
        return -1;
    for (size_t got = 0; got < len;) {
        ssize_t rc = pread (self->fd, self->buf + got, len - got, (off_t) (at + got));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            snprintf (self->error, sizeof (self->error),
                      "cannot read '%s' at offset %llu: %s", self->paths [self->current],
                      (unsigned long long) (at + got),
                      rc? strerror (errno): "it is shorter than when it was opened");
            return s_fail (self);
        }
        got += (size_t) rc;
    }
    return 0;
}

//  The next chunk of a regular file, by reference: the same cut rule as
//  next(), reading only the bytes where a cut may fall. Returns what next()
//  does, or 3 when the input is over.
static int
s_next_by_reference (zmr_chunker_t *self, zmr_chunk_t *chunk)
{
    uint64_t left = self->size > self->offset? self->size - self->offset: 0;
    if (left == 0) {
        s_close_input (self);
        self->current++;
        return 3;
    }
    uint64_t from = self->chunk_size - 1;
    size_t step = self->step_min;
    uint64_t end = self->chunk_size + step;
    if (self->scanning) {
        //  Where the last call stopped, its budget spent (a long word)
        from = self->scan_from;
        end = self->scan_end;
        step = self->scan_step;
    }
    uint64_t spent = 0;
    while (true) {
        if (end > self->max_chunk)
            end = self->max_chunk;
        if (end >= left && left <= self->max_chunk)
            return s_emit_reference (self, left, chunk);
        if (end > from) {
            if (s_window (self, self->offset + from, (size_t) (end - from)))
                return -1;
            size_t cut = s_last_cut (self, self->buf, (size_t) (end - from));
            if (cut)
                return s_emit_reference (self, from + cut, chunk);
            spent += end - from;
            from = end;
        }
        if (end == self->max_chunk) {
            //  No cut fits: end the chunk before the long word if we can
            size_t before = self->chunk_size - 1;
            if (before && s_window (self, self->offset, before))
                return -1;
            size_t cut = before? s_last_cut (self, self->buf, before): 0;
            if (cut)
                return s_emit_reference (self, cut, chunk);
            //  A word of exactly max_chunk bytes is the chunk (left >
            //  max_chunk here, so the byte after it is in the file); a
            //  line's '\n' is part of it, and did not fit
            if (self->lines)
                return s_too_long (self);
            if (s_window (self, self->offset + self->max_chunk, 1))
                return -1;
            if (zmr_is_space ((uint8_t) self->buf [0]))
                return s_emit_reference (self, self->max_chunk, chunk);
            return s_too_long (self);
        }
        end += step;
        if (step < ZMR_CHUNKER_STEP_MAX)
            step *= 2;
        if (self->nonblocking && spent >= ZMR_CHUNKER_BUDGET) {
            //  A long word: the caller's loop gets a turn (its status, its
            //  peers) before the scan goes on where it stopped.
            self->scanning = true;
            self->scan_from = from;
            self->scan_end = end;
            self->scan_step = step;
            return 2;
        }
    }
}

//  The next chunk when it must be cut as before: returns what next() does,
//  or 3 when the current input has ended, as the cut said it would.
static int
s_next_replayed (zmr_chunker_t *self, zmr_chunk_t *chunk)
{
    s_cut_t *cut = &self->cuts [self->next_cut];
    const char *path = self->paths [self->current];
    if (s_by_reference (self)) {
        if (cut->input == self->current && cut->offset == self->offset
        &&  cut->len <= self->size - self->offset) {
            self->next_cut++;
            return s_emit_reference (self, cut->len, chunk);
        }
        if (cut->input > self->current && self->offset == self->size) {
            s_close_input (self);
            self->current++;
            return 3;
        }
    }
    else
    if (cut->input == self->current && cut->offset == self->offset) {
        int filled = s_fill (self, (size_t) cut->len);
        if (filled)
            return filled;
        if (self->len < cut->len) {
            snprintf (self->error, sizeof (self->error),
                      "'%s' ends at offset %llu, before the chunk cut there last time: "
                      "it is not the same input", path,
                      (unsigned long long) (self->offset + self->len));
            return s_fail (self);
        }
        self->next_cut++;
        return s_emit (self, (size_t) cut->len, chunk);
    }
    if (cut->input > self->current) {
        //  The cut is in a later input: this one must end here
        int filled = s_fill (self, 1);
        if (filled)
            return filled;
        if (self->len == 0) {
            s_close_input (self);
            self->current++;
            return 3;
        }
    }
    snprintf (self->error, sizeof (self->error),
              "'%s' at offset %llu is not cut as it was last time: it is not the same input",
              path, (unsigned long long) self->offset);
    return s_fail (self);
}

int
zmr_chunker_next (zmr_chunker_t *self, zmr_chunk_t *chunk)
{
    assert (self);
    assert (chunk);
    if (self->failed)
        return -1;
    size_t step = self->step_min;
    size_t target = self->chunk_size + step;
    size_t held = self->len;        //  Bytes in hand when called
    while (true) {
        if (self->fd < 0) {
            if (self->current == self->npaths && self->next_cut < self->ncuts) {
                snprintf (self->error, sizeof (self->error),
                          "the input ends before a chunk cut last time: "
                          "it is not the same input");
                return s_fail (self);
            }
            if (self->current == self->npaths)
                return 0;
            if (s_open_input (self))
                return -1;
        }
        if (self->next_cut < self->ncuts || s_by_reference (self)) {
            int rc = self->next_cut < self->ncuts? s_next_replayed (self, chunk)
                                                 : s_next_by_reference (self, chunk);
            if (rc != 3)
                return rc;
            continue;           //  This input is over: on to the next
        }
        if (target > self->max_chunk + 1)
            target = self->max_chunk + 1;
        int filled = s_fill (self, target);
        if (filled)
            return filled;
        if (self->eof && self->len <= self->max_chunk) {
            if (self->len)
                return s_emit (self, self->len, chunk);
            //  Input done: no word continues into the next one
            s_close_input (self);
            self->current++;
            target = self->chunk_size + step;
            continue;
        }

        //  A cut in buf[chunk_size-1 .. max_chunk) gives a chunk of at least
        //  chunk_size bytes and at most max_chunk; look only at new bytes
        if (self->len >= self->chunk_size) {
            size_t from = self->chunk_size - 1;
            if (from < self->scanned)
                from = self->scanned;
            size_t end = self->len < self->max_chunk ? self->len : self->max_chunk;
            if (end > from) {
                size_t cut = s_last_cut (self, self->buf + from, end - from);
                self->scanned = end;
                if (cut)
                    return s_emit (self, from + cut, chunk);
            }
        }
        if (self->len > self->max_chunk) {
            //  No cut fits: end the chunk before the long word if we can,
            //  so that the word gets a chunk of its own
            size_t cut = s_last_cut (self, self->buf, self->chunk_size - 1);
            if (cut)
                return s_emit (self, cut, chunk);
            //  A word of exactly max_chunk bytes is the chunk, cut just
            //  before the whitespace that ends it (which opens the next);
            //  a line's '\n' is part of it, and did not fit
            if (self->lines)
                return s_too_long (self);
            if (zmr_is_space ((uint8_t) self->buf [self->max_chunk]))
                return s_emit (self, self->max_chunk, chunk);
            return s_too_long (self);
        }
        //  A word runs past chunk_size: read on, in growing steps, and
        //  give the caller's loop a turn now and then (nothing is lost:
        //  what was read and scanned stays in buf)
        if (self->nonblocking && self->len - held >= ZMR_CHUNKER_BUDGET)
            return 2;
        target = self->len + step;
        if (step < ZMR_CHUNKER_STEP_MAX)
            step *= 2;
    }
}

size_t
zmr_chunker_pending (zmr_chunker_t *self)
{
    assert (self);
    //  A regular file's text is all there: it never waits to fill a chunk
    //  (a 2 from next() on one only gave the caller a turn).
    return self->fd >= 0 && self->may_block? self->len: 0;
}

int
zmr_chunker_flush (zmr_chunker_t *self, zmr_chunk_t *chunk)
{
    assert (self);
    assert (chunk);
    if (self->failed)
        return -1;
    if (self->fd < 0 || self->len == 0 || self->next_cut < self->ncuts
    ||  s_by_reference (self))
        return 0;
    size_t cut = s_last_cut (self, self->buf, self->len);
    return cut? s_emit (self, cut, chunk): 0;
}

const char *
zmr_chunker_error (zmr_chunker_t *self)
{
    assert (self);
    return self->error;
}

uint64_t
zmr_chunker_known_bytes (zmr_chunker_t *self, int *all_known)
{
    assert (self);
    if (all_known)
        *all_known = self->all_known ? 1 : 0;
    return self->known_bytes;
}

uint64_t
zmr_chunker_bytes_read (zmr_chunker_t *self)
{
    assert (self);
    return self->bytes_read;
}

void
zmr_chunker_set_nonblocking (zmr_chunker_t *self, bool nonblocking)
{
    assert (self);
    self->nonblocking = nonblocking;
}

int
zmr_chunker_fd (zmr_chunker_t *self)
{
    assert (self);
    return self->fd;
}

int
zmr_chunker_spool (zmr_chunker_t *self, const char *prefix, bool resume,
                   char *errbuf, size_t errlen)
{
    assert (self);
    assert (prefix);
    assert (self->fd < 0 && self->current == 0);
    if (strlen (prefix) + 24 > PATH_MAX) {
        snprintf (errbuf, errlen, "spool path '%s' is too long", prefix);
        return -1;
    }
    free (self->spool_prefix);
    self->spool_prefix = strdup (prefix);
    if (!self->spool_prefix) {
        snprintf (errbuf, errlen, "out of memory");
        return -1;
    }
    self->spool_resume = resume;
    return 0;
}

int
zmr_chunker_release (zmr_chunker_t *self, uint32_t input, uint64_t offset)
{
    assert (self);
    if (self->spool_fd < 0 || input != self->current)
        return 0;
    //  Whole blocks only; the file keeps its size (and offsets), the disk
    //  space goes back.
    offset &= ~(uint64_t) 4095;
    if (offset > self->spool_size)
        offset = self->spool_size & ~(uint64_t) 4095;
    if (offset <= self->spool_released)
        return 0;
    if (fallocate (self->spool_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                   (off_t) self->spool_released, (off_t) (offset - self->spool_released)))
        return -1;
    self->spool_released = offset;
    return 0;
}

int
zmr_chunker_sync (zmr_chunker_t *self)
{
    assert (self);
    return self->spool_fd >= 0? fdatasync (self->spool_fd): 0;
}

void
zmr_chunker_remove_spools (zmr_chunker_t *self)
{
    assert (self);
    if (!self->spool_prefix)
        return;
    for (size_t input = 0; input < self->npaths; input++) {
        char spool [PATH_MAX];
        snprintf (spool, sizeof spool, "%s.%zu", self->spool_prefix, input);
        unlink (spool);
    }
}

int
zmr_chunker_seek (zmr_chunker_t *self, uint32_t input, uint64_t offset)
{
    assert (self);
    if (self->fd >= 0 || self->current != 0 || self->next_cut || input >= self->npaths)
        return -1;
    self->current = input;
    self->seek = true;
    self->seek_offset = offset;
    return 0;
}

int
zmr_chunker_replay (zmr_chunker_t *self, uint32_t input, uint64_t offset, uint64_t len)
{
    assert (self);
    if (len == 0 || len > self->max_chunk)
        return -1;
    if (self->ncuts == self->cuts_cap) {
        size_t cap = self->cuts_cap? self->cuts_cap * 2: 64;
        s_cut_t *cuts = (s_cut_t *) realloc (self->cuts, cap * sizeof *cuts);
        if (!cuts)
            return -1;
        self->cuts = cuts;
        self->cuts_cap = cap;
    }
    self->cuts [self->ncuts++] = (s_cut_t) { input, offset, len };
    return 0;
}

void
zmr_chunker_set_by_reference (zmr_chunker_t *self, bool by_reference)
{
    assert (self);
    self->by_reference = by_reference;
}

void
zmr_chunker_set_cut (zmr_chunker_t *self, int cut)
{
    assert (self);
    assert (cut == ZMR_CUT_WORDS || cut == ZMR_CUT_LINES);
    self->lines = cut == ZMR_CUT_LINES;
}
