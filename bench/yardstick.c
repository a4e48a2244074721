/* yardstick.c — a tuned single-process word counter, the bench's yardstick.
 *
 * Written for the bench; shares no code with zmr.  Same word semantics: a
 * word is a maximal run of bytes that are not ASCII whitespace (space, \t,
 * \n, \v, \f, \r), bytes kept as they are.  Same output: one "word<TAB>count"
 * line per word, count descending, ties in bytewise order of the word.
 *
 *   yardstick [-t THREADS] [-o OUT] [-b BYTES] [-v] FILE
 *
 * FILE may be '-' or a pipe (then one thread).  -v prints timings on stderr.
 *
 * How it goes fast:
 *  - the file is cut into one byte range per thread, at whitespace; each
 *    thread preads its range through one reused 1 MiB buffer (kept in cache,
 *    faulted in once), carrying a word cut by the buffer's end over.  Not
 *    mmap: on the VMs this was tuned on a page fault costs tens of
 *    microseconds, and touching a 100 MB mapping costs more than copying it;
 *  - the scan classifies 64 bytes at a time into a whitespace bitmask
 *    (AVX-512BW, AVX2 or SSE2, whichever the compiler targets) and pairs
 *    the word-start and word-end bits with count-trailing-zeros;
 *  - words are hashed with a wyhash-style multiply-fold over 8-byte loads,
 *    in batches whose table slots are prefetched before they are touched;
 *  - each thread has its own open-addressing (linear probing) table whose
 *    32-byte slots hold the word's first 8 bytes (which settle most
 *    comparisons without leaving the slot), length, count and a pointer to
 *    its bytes, copied once per distinct word into an arena;
 *  - large memory is 2 MiB-aligned with MADV_HUGEPAGE (fewer faults);
 *  - the tables are merged, the entries sorted once (halves in parallel),
 *    and the result written through one large buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__AVX512BW__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#define PAD 4096 /* readable zero bytes after the data */
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static void die(const char *what)
{
    fprintf(stderr, "yardstick: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("malloc");
    return p;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* keep the low n bytes of v (n <= 8) */
static inline uint64_t keep_bytes(uint64_t v, size_t n)
{
#if defined(__BMI2__)
    /* bzhi reads only the low 8 bits of the index: clamp n first */
    return n >= 8 ? v : _bzhi_u64(v, (unsigned)(n * 8));
#endif
    return n >= 8 ? v : v & ((UINT64_C(1) << (n * 8)) - 1);
}

/* ---- whitespace classification, 64 bytes -> 64 bits ----------------- */

static inline uint64_t ws_mask64(const uint8_t *p)
{
#if defined(__AVX512BW__)
    __m512i v = _mm512_loadu_si512((const void *)p);
    __mmask64 sp = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' '));
    __mmask64 ct = _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(9)),
                                          _mm512_set1_epi8(4));
    return (uint64_t)(sp | ct);
#elif defined(__AVX2__)
    const __m256i s = _mm256_set1_epi8(' '), nine = _mm256_set1_epi8(9),
                  four = _mm256_set1_epi8(4);
    uint64_t m = 0;
    for (int k = 1; k >= 0; k--) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * k));
        __m256i t = _mm256_sub_epi8(v, nine);
        __m256i ct = _mm256_cmpeq_epi8(_mm256_min_epu8(t, four), t);
        __m256i w = _mm256_or_si256(_mm256_cmpeq_epi8(v, s), ct);
        m = (m << 32) | (uint32_t)_mm256_movemask_epi8(w);
    }
    return m;
#elif defined(__SSE2__)
    const __m128i s = _mm_set1_epi8(' '), nine = _mm_set1_epi8(9),
                  four = _mm_set1_epi8(4);
    uint64_t m = 0;
    for (int k = 3; k >= 0; k--) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        __m128i t = _mm_sub_epi8(v, nine);
        __m128i ct = _mm_cmpeq_epi8(_mm_min_epu8(t, four), t);
        __m128i w = _mm_or_si128(_mm_cmpeq_epi8(v, s), ct);
        m = (m << 16) | (uint16_t)_mm_movemask_epi8(w);
    }
    return m;
#else
    uint64_t m = 0;
    for (int i = 63; i >= 0; i--) {
        uint8_t c = p[i];
        m = (m << 1) | (uint64_t)(c == ' ' || (uint8_t)(c - 9) < 5);
    }
    return m;
#endif
}

/* ---- hashing --------------------------------------------------------- */

#define K0 UINT64_C(0xa0761d6478bd642f)
#define K1 UINT64_C(0xe7037ed1a0b428db)
#define K2 UINT64_C(0x8ebc6af09c88c6e3)

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* w0 = the word's first 8 bytes (zero-padded); loads may over-read */
static inline uint64_t hash_word(const uint8_t *p, size_t n, uint64_t w0)
{
    if (LIKELY(n <= 8))
        return mix(w0 ^ K0, n ^ K1);
    uint64_t h = mix(w0 ^ K0, n ^ K1);
    size_t i = 8;
    for (; i + 8 <= n; i += 8)
        h = mix(h ^ load64(p + i) ^ K2, K1);
    if (i < n)
        h = mix(h ^ keep_bytes(load64(p + i), n - i) ^ K2, K0);
    return h;
}

/* bytes 8..n of two words of equal length n > 8 */
static inline int tail_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i = 8;
    for (; i + 8 <= n; i += 8)
        if (load64(a + i) != load64(b + i)) return 0;
    return i == n || keep_bytes(load64(a + i) ^ load64(b + i), n - i) == 0;
}

/* ---- memory ---------------------------------------------------------- */

/* Anonymous memory in 2 MiB-aligned blocks with MADV_HUGEPAGE: on the VMs
   this bench was written on, a 4 KiB page fault costs tens of microseconds,
   a huge page fault about as much for 512 times the memory. */
#define HUGE_SZ ((size_t)2 << 20)

static size_t huge_round(size_t n) { return (n + HUGE_SZ - 1) & ~(HUGE_SZ - 1); }

static void *huge_alloc(size_t n)
{
    n = huge_round(n);
    uint8_t *r = mmap(NULL, n + HUGE_SZ, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) die("mmap");
    uint8_t *a = (uint8_t *)(((uintptr_t)r + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1));
    if (a > r) munmap(r, (size_t)(a - r));
    if (a + n < r + n + HUGE_SZ) munmap(a + n, (size_t)(r + n + HUGE_SZ - (a + n)));
    (void)madvise(a, n, MADV_HUGEPAGE);
    return a;
}

static void huge_free(void *p, size_t n)
{
    if (p) munmap(p, huge_round(n));
}

/* word bytes, copied once per distinct word per thread; 8 spare bytes
   after each so that 8-byte loads never leave the block */
typedef struct {
    uint8_t *cur, *end;
} arena_t;

static const uint8_t *arena_copy(arena_t *a, const uint8_t *p, size_t n)
{
    if ((size_t)(a->end - a->cur) < n + 8) {
        size_t sz = n + 8 > HUGE_SZ ? n + 8 : HUGE_SZ;
        a->cur = huge_alloc(sz);
        a->end = a->cur + huge_round(sz);
    }
    uint8_t *d = a->cur;
    memcpy(d, p, n);
    a->cur += n;
    return d;
}

/* ---- per-thread open-addressing table -------------------------------- */

typedef struct {
    uint64_t w0;      /* first 8 bytes, zero-padded */
    const uint8_t *p; /* the word's bytes (arena); NULL = empty slot */
    uint64_t cnt;
    uint32_t len;
    uint32_t h;       /* low 32 bits of the hash */
} slot_t;

typedef struct {
    slot_t *s;
    size_t mask, used, limit;
    arena_t *arena;   /* NULL: keys are stable already (merging) */
} table_t;

static void table_init(table_t *t, size_t cap, arena_t *arena)
{
    t->s = huge_alloc(cap * sizeof(slot_t)); /* zero-filled */
    t->mask = cap - 1;
    t->used = 0;
    t->limit = cap / 2;
    t->arena = arena;
}

static void table_grow(table_t *t)
{
    size_t ncap = (t->mask + 1) * 2;
    slot_t *ns = huge_alloc(ncap * sizeof(slot_t));
    size_t nmask = ncap - 1;
    for (size_t i = 0; i <= t->mask; i++) {
        slot_t *o = &t->s[i];
        if (!o->p) continue;
        size_t j = o->h & nmask;
        while (ns[j].p) j = (j + 1) & nmask;
        ns[j] = *o;
    }
    huge_free(t->s, (t->mask + 1) * sizeof(slot_t));
    t->s = ns;
    t->mask = nmask;
    t->limit = ncap / 2;
}

static inline void table_add(table_t *t, const uint8_t *p, size_t n,
                             uint64_t w0, uint64_t h, uint64_t cnt)
{
    size_t i = h & t->mask;
    for (;;) {
        slot_t *s = &t->s[i];
        if (!s->p) {
            s->w0 = w0;
            s->p = t->arena ? arena_copy(t->arena, p, n) : p;
            s->cnt = cnt;
            s->len = (uint32_t)n;
            s->h = (uint32_t)h;
            if (UNLIKELY(++t->used > t->limit)) table_grow(t);
            return;
        }
        if (s->w0 == w0 && s->len == n && (n <= 8 || tail_eq(s->p, p, n))) {
            s->cnt += cnt;
            return;
        }
        i = (i + 1) & t->mask;
    }
}

/* ---- the scan -------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    uint64_t w0, h;
    size_t n;
} wref_t;

#define BATCH 32

static inline void flush_batch(table_t *t, wref_t *q, int nq)
{
    for (int k = 0; k < nq; k++)
        table_add(t, q[k].p, q[k].n, q[k].w0, q[k].h, 1);
}

static inline void emit(table_t *t, wref_t *q, int *nq, const uint8_t *wp, size_t n)
{
    if (UNLIKELY(n > UINT32_MAX)) {
        fprintf(stderr, "yardstick: a word of 4 GiB or more\n");
        exit(1);
    }
    uint64_t w0 = keep_bytes(load64(wp), n);
    uint64_t h = hash_word(wp, n, w0);
    __builtin_prefetch(&t->s[h & t->mask]);
    wref_t *r = &q[(*nq)++];
    r->p = wp;
    r->n = n;
    r->w0 = w0;
    r->h = h;
}

/* Count the words of buf[0, len).  buf[0] starts a word or is whitespace,
   the last word ends at len, and at least 64 readable bytes follow len. */
static uint64_t scan(table_t *t, const uint8_t *buf, size_t len)
{
    wref_t q[BATCH + 64];
    int nq = 0;
    uint64_t words = 0;
    size_t pos = 0;
    uint64_t prev_word = 0;   /* 1 if the byte before pos is in a word */
    size_t start = 0;         /* start of a word still open at pos */
    int open = 0;
    while (pos < len) {
        uint64_t ws = ws_mask64(buf + pos);
        if (UNLIKELY(len - pos < 64))
            ws |= ~UINT64_C(0) << (len - pos); /* past the end: whitespace */
        uint64_t inw = ~ws;
        uint64_t before = (inw << 1) | prev_word; /* byte i-1 is in a word */
        uint64_t starts = inw & ~before;
        uint64_t ends = ws & before;              /* byte i ends a word */
        prev_word = inw >> 63;
        /* starts and ends alternate: pair each end with the oldest start */
        while (ends) {
            if (LIKELY(!open)) {
                start = pos + (size_t)__builtin_ctzll(starts);
                starts &= starts - 1;
            }
            open = 0;
            size_t n = pos + (size_t)__builtin_ctzll(ends) - start;
            ends &= ends - 1;
            emit(t, q, &nq, buf + start, n);
        }
        if (starts) { /* a word begins here and goes on past this block */
            start = pos + (size_t)__builtin_ctzll(starts);
            open = 1;
        }
        if (nq >= BATCH) {
            words += (uint64_t)nq;
            flush_batch(t, q, nq);
            nq = 0;
        }
        pos += 64;
    }
    if (open) /* the data ends inside a word, at a multiple of 64 */
        emit(t, q, &nq, buf + start, len - start);
    words += (uint64_t)nq;
    flush_batch(t, q, nq);
    return words;
}

static inline int is_ws(uint8_t c) { return c == ' ' || (uint8_t)(c - 9) < 5; }

typedef struct {
    int fd;
    int seekable;
    uint64_t a, b;   /* byte range [a, b) of the file (seekable only) */
    size_t bufsz;
    table_t t;
    arena_t arena;
    uint64_t words;
    pthread_t tid;
} job_t;

static ssize_t xread(job_t *j, uint8_t *dst, size_t n, uint64_t off)
{
    for (;;) {
        ssize_t r = j->seekable ? pread(j->fd, dst, n, (off_t)off) : read(j->fd, dst, n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("read");
        return r;
    }
}

/* Read the range through one reused buffer (it stays in cache and its pages
   are faulted in once), carrying a word cut by the buffer's end over. */
static void *count_range(void *arg)
{
    job_t *j = arg;
    size_t cap = j->bufsz;
    uint8_t *buf = huge_alloc(cap + PAD);
    size_t keep = 0;
    uint64_t off = j->a, words = 0;
    for (;;) {
        size_t want = cap - keep;
        if (j->seekable && want > j->b - off) want = (size_t)(j->b - off);
        ssize_t r = want ? xread(j, buf + keep, want, off) : 0;
        off += (uint64_t)r;
        size_t len = keep + (size_t)r;
        int last = r == 0 || (j->seekable && off >= j->b);
        if (last) {
            memset(buf + len, 0, 64);
            words += scan(&j->t, buf, len);
            break;
        }
        /* scan up to the last whitespace; carry the rest over */
        size_t cut = len;
        while (cut > 0 && !is_ws(buf[cut - 1])) cut--;
        if (cut == 0) { /* no whitespace yet */
            if (len < cap) { /* a short read: read on */
                keep = len;
                continue;
            }
            /* one word fills the buffer: make room */
            uint8_t *nb = huge_alloc(cap * 2 + PAD);
            memcpy(nb, buf, len);
            huge_free(buf, cap + PAD);
            buf = nb;
            cap *= 2;
            keep = len;
            continue;
        }
        words += scan(&j->t, buf, cut); /* buf[cut..] is readable */
        keep = len - cut;
        memmove(buf, buf + cut, keep);
    }
    huge_free(buf, cap + PAD);
    j->words = words;
    return NULL;
}

/* the first whitespace at or after pos, or size */
static uint64_t next_ws(int fd, uint64_t pos, uint64_t size)
{
    uint8_t tmp[4096];
    while (pos < size) {
        ssize_t r = pread(fd, tmp, sizeof tmp, (off_t)pos);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("pread");
        for (ssize_t i = 0; i < r; i++)
            if (is_ws(tmp[i])) return pos + (uint64_t)i;
        pos += (uint64_t)r;
    }
    return size;
}

/* ---- sorting the result ---------------------------------------------- */

typedef struct {
    uint64_t cnt;
    uint64_t key; /* first 8 bytes, big-endian, zero-padded */
    const uint8_t *p;
    size_t n;
} ent_t;

/* 1 if a sorts before b: count desc, then bytes asc */
static inline int ent_lt(const ent_t *a, const ent_t *b)
{
    if (a->cnt != b->cnt) return a->cnt > b->cnt;
    if (a->key != b->key) return a->key < b->key;
    size_t m = a->n < b->n ? a->n : b->n;
    if (m > 8) {
        int c = memcmp(a->p + 8, b->p + 8, m - 8);
        if (c) return c < 0;
    }
    return a->n < b->n;
}

static void ent_sort(ent_t *v, size_t n)
{
    while (n > 24) {
        /* median of three to v[0] */
        size_t mid = n / 2;
        ent_t *a = &v[0], *b = &v[mid], *c = &v[n - 1], *m;
        if (ent_lt(a, b))
            m = ent_lt(b, c) ? b : (ent_lt(a, c) ? c : a);
        else
            m = ent_lt(a, c) ? a : (ent_lt(b, c) ? c : b);
        ent_t piv = *m;
        *m = v[0];
        v[0] = piv;
        /* Hoare partition */
        size_t i = 0, j = n;
        for (;;) {
            do i++; while (i < n && ent_lt(&v[i], &piv));
            do j--; while (ent_lt(&piv, &v[j]));
            if (i >= j) break;
            ent_t tmp = v[i];
            v[i] = v[j];
            v[j] = tmp;
        }
        v[0] = v[j];
        v[j] = piv;
        /* recurse into the smaller side */
        if (j < n - j - 1) {
            ent_sort(v, j);
            v += j + 1;
            n -= j + 1;
        } else {
            ent_sort(v + j + 1, n - j - 1);
            n = j;
        }
    }
    for (size_t i = 1; i < n; i++) {
        ent_t x = v[i];
        size_t k = i;
        while (k > 0 && ent_lt(&x, &v[k - 1])) {
            v[k] = v[k - 1];
            k--;
        }
        v[k] = x;
    }
}

typedef struct {
    ent_t *v;
    size_t n;
} sortjob_t;

static void *sort_thread(void *arg)
{
    sortjob_t *s = arg;
    ent_sort(s->v, s->n);
    return NULL;
}

/* ---- output ---------------------------------------------------------- */

typedef struct {
    int fd;
    char *buf;
    size_t len, cap;
} out_t;

static void out_flush(out_t *o)
{
    size_t off = 0;
    while (off < o->len) {
        ssize_t w = write(o->fd, o->buf + off, o->len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        off += (size_t)w;
    }
    o->len = 0;
}

static void out_line(out_t *o, const uint8_t *p, size_t n, uint64_t cnt)
{
    if (o->len + n + 22 > o->cap) {
        out_flush(o);
        if (n + 22 > o->cap) { /* a huge word: write it directly */
            size_t off = 0;
            while (off < n) {
                ssize_t w = write(o->fd, p + off, n - off);
                if (w < 0) {
                    if (errno == EINTR) continue;
                    die("write");
                }
                off += (size_t)w;
            }
            n = 0;
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->buf[o->len++] = '\t';
    char d[24];
    int k = 0;
    do {
        d[k++] = (char)('0' + cnt % 10);
        cnt /= 10;
    } while (cnt);
    while (k) o->buf[o->len++] = d[--k];
    o->buf[o->len++] = '\n';
}

static void usage(void)
{
    fprintf(stderr, "usage: yardstick [-t THREADS] [-o OUT] [-b BYTES] [-v] FILE\n"
                    "  -t N   threads (default 1)\n"
                    "  -o F   write the result to F (default stdout)\n"
                    "  -b N   read buffer bytes per thread (default 1 MiB)\n"
                    "  -v     timings and totals on stderr\n");
    exit(2);
}

#include <time.h>
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int nthreads = 1, verbose = 0;
    const char *outpath = NULL;
    int c;
    size_t bufsz = (size_t)1 << 20;
    while ((c = getopt(argc, argv, "t:o:b:vh")) != -1) {
        switch (c) {
        case 't':
            nthreads = atoi(optarg);
            if (nthreads < 1 || nthreads > 256) usage();
            break;
        case 'o': outpath = optarg; break;
        case 'v': verbose = 1; break;
        case 'b':
            bufsz = (size_t)strtoull(optarg, NULL, 10);
            if (bufsz < 64) usage();
            break;
        default: usage();
        }
    }
    if (optind != argc - 1) usage();
    double t0 = now();

    const char *path = argv[optind];
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY);
    if (fd < 0) die(path);
    struct stat st;
    if (fstat(fd, &st) != 0) die(path);
    int seekable = S_ISREG(st.st_mode);
    uint64_t size = seekable ? (uint64_t)st.st_size : 0;
    if (!seekable) nthreads = 1;
    if (seekable) (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

    /* one range per thread, cut at whitespace */
    job_t *jobs = xmalloc(sizeof(job_t) * (size_t)nthreads);
    uint64_t cut = 0;
    for (int k = 0; k < nthreads; k++) {
        uint64_t a = cut;
        uint64_t b = (k == nthreads - 1) ? size : size / (uint64_t)nthreads * (uint64_t)(k + 1);
        if (b < a) b = a;
        b = next_ws(fd, b, size);
        jobs[k].fd = fd;
        jobs[k].seekable = seekable;
        jobs[k].a = a;
        jobs[k].b = b;
        jobs[k].bufsz = bufsz;
        jobs[k].words = 0;
        jobs[k].arena.cur = jobs[k].arena.end = NULL;
        table_init(&jobs[k].t, 1 << 16, &jobs[k].arena);
        cut = b;
    }
    for (int k = 1; k < nthreads; k++)
        if (pthread_create(&jobs[k].tid, NULL, count_range, &jobs[k]) != 0)
            die("pthread_create");
    count_range(&jobs[0]);
    for (int k = 1; k < nthreads; k++) pthread_join(jobs[k].tid, NULL);
    double t1 = now();

    /* merge into the largest table */
    int big = 0;
    for (int k = 1; k < nthreads; k++)
        if (jobs[k].t.used > jobs[big].t.used) big = k;
    table_t *t = &jobs[big].t;
    t->arena = NULL; /* keys from the other tables stay where they are */
    uint64_t words = 0;
    for (int k = 0; k < nthreads; k++) {
        words += jobs[k].words;
        if (k == big) continue;
        table_t *o = &jobs[k].t;
        for (size_t i = 0; i <= o->mask; i++) {
            slot_t *s = &o->s[i];
            if (!s->p) continue;
            /* the hash's low 32 bits are kept; rebuild the full probe start
               from them (tables are never larger than 2^32 slots) */
            table_add(t, s->p, s->len, s->w0, s->h, s->cnt);
        }
        huge_free(o->s, (o->mask + 1) * sizeof(slot_t));
    }
    double t2 = now();

    size_t ne = t->used;
    ent_t *ents = huge_alloc(sizeof(ent_t) * ne);
    size_t e = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        slot_t *s = &t->s[i];
        if (!s->p) continue;
        ents[e].cnt = s->cnt;
        ents[e].key = __builtin_bswap64(s->w0);
        ents[e].p = s->p;
        ents[e].n = s->len;
        e++;
    }
    huge_free(t->s, (t->mask + 1) * sizeof(slot_t));

    /* sort: with two or more threads, two halves in parallel, then merge */
    if (nthreads >= 2 && ne > 50000) {
        size_t h = ne / 2;
        sortjob_t sj = {ents + h, ne - h};
        pthread_t st;
        if (pthread_create(&st, NULL, sort_thread, &sj) != 0) die("pthread_create");
        ent_sort(ents, h);
        pthread_join(st, NULL);
        ent_t *m = huge_alloc(sizeof(ent_t) * ne);
        size_t i = 0, j = h, k = 0;
        while (i < h && j < ne) m[k++] = ent_lt(&ents[j], &ents[i]) ? ents[j++] : ents[i++];
        while (i < h) m[k++] = ents[i++];
        while (j < ne) m[k++] = ents[j++];
        huge_free(ents, sizeof(ent_t) * ne);
        ents = m;
    } else {
        ent_sort(ents, ne);
    }
    double t3 = now();

    out_t o;
    o.fd = 1;
    if (outpath) {
        o.fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o.fd < 0) die(outpath);
    }
    o.cap = HUGE_SZ;
    o.buf = huge_alloc(o.cap);
    o.len = 0;
    for (size_t i = 0; i < ne; i++) out_line(&o, ents[i].p, ents[i].n, ents[i].cnt);
    out_flush(&o);
    if (outpath && close(o.fd) != 0) die(outpath);
    double t4 = now();
    if (verbose)
        fprintf(stderr,
                "yardstick: %zu bytes, %llu words, %zu distinct, %d threads: "
                "count %.1f ms, merge %.1f ms, sort %.1f ms, write %.1f ms, "
                "total %.1f ms (%.0f MB/s)\n",
                (size_t)size, (unsigned long long)words, ne, nthreads, (t1 - t0) * 1e3,
                (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3, (t4 - t0) * 1e3,
                (double)size / 1e6 / (t4 - t0));
    huge_free(ents, sizeof(ent_t) * ne);
    huge_free(o.buf, o.cap);
    free(jobs);
    return 0;
}
