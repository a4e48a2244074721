/* zipf.c — deterministic Zipf-distributed text for the bench.
 *
 *   zipf [-w WORDLIST] [-a EXPONENT] [-s SEED] SIZE > out.txt
 *
 * SIZE in bytes, or with a suffix: K, M, G (powers of 1000) or KiB, MiB,
 * GiB.  The words of WORDLIST (default /usr/share/dict/american-english-huge,
 * Debian's wamerican-huge; one word per line, bytes kept as they are, empty
 * lines and lines with whitespace skipped) are put in a fixed pseudo-random
 * order by SEED, and the word of rank k (1-based) is drawn with probability
 * proportional to 1/k^EXPONENT (default 1.0).  Words are separated by one
 * space, with a newline instead after every 10th word.  The output stops at
 * the first word that reaches SIZE bytes and always ends with a newline, so
 * it is SIZE bytes or a few more.  Same arguments, same bytes, on any
 * machine (the generator is integer-only but for the rank table, which is
 * computed in IEEE double precision in a fixed order).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *msg)
{
    fprintf(stderr, "zipf: %s%s%s\n", msg, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static uint64_t rng_state;

static uint64_t rng_next(void) /* splitmix64 */
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return 0;
    uint64_t mult = 1;
    if (!strcmp(end, "") || !strcmp(end, "B")) mult = 1;
    else if (!strcmp(end, "K") || !strcmp(end, "KB")) mult = 1000;
    else if (!strcmp(end, "M") || !strcmp(end, "MB")) mult = 1000000;
    else if (!strcmp(end, "G") || !strcmp(end, "GB")) mult = 1000000000;
    else if (!strcmp(end, "KiB")) mult = 1 << 10;
    else if (!strcmp(end, "MiB")) mult = 1 << 20;
    else if (!strcmp(end, "GiB")) mult = 1 << 30;
    else return 0;
    return (uint64_t)(v * (double)mult);
}

int main(int argc, char **argv)
{
    const char *wl = "/usr/share/dict/american-english-huge";
    double expo = 1.0;
    uint64_t seed = 20240601;
    int c;
    while ((c = getopt(argc, argv, "w:a:s:h")) != -1) {
        switch (c) {
        case 'w': wl = optarg; break;
        case 'a': expo = atof(optarg); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: zipf [-w WORDLIST] [-a EXPONENT] [-s SEED] SIZE\n");
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: zipf [-w WORDLIST] [-a EXPONENT] [-s SEED] SIZE\n");
        return 2;
    }
    uint64_t size = parse_size(argv[optind]);
    if (size == 0) {
        fprintf(stderr, "zipf: bad size '%s'\n", argv[optind]);
        return 2;
    }

    /* the word list */
    FILE *f = fopen(wl, "rb");
    if (!f) die(wl);
    size_t cap = 1 << 16, n = 0;
    char **words = malloc(cap * sizeof *words);
    size_t *lens = malloc(cap * sizeof *lens);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len == 0) continue;
        int bad = 0;
        for (ssize_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)line[i];
            if (ch == ' ' || (unsigned char)(ch - 9) < 5) bad = 1;
        }
        if (bad) continue;
        if (n == cap) {
            cap *= 2;
            words = realloc(words, cap * sizeof *words);
            lens = realloc(lens, cap * sizeof *lens);
            if (!words || !lens) die("realloc");
        }
        words[n] = malloc((size_t)len);
        if (!words[n]) die("malloc");
        memcpy(words[n], line, (size_t)len);
        lens[n] = (size_t)len;
        n++;
    }
    free(line);
    fclose(f);
    if (n == 0) die("empty word list");

    /* fixed order: Fisher-Yates with the seeded generator */
    rng_state = seed;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rng_next() % (i + 1));
        char *tw = words[i];
        words[i] = words[j];
        words[j] = tw;
        size_t tl = lens[i];
        lens[i] = lens[j];
        lens[j] = tl;
    }

    /* cumulative weights as 64-bit integers (2^62 total), plus a guide table
       so a draw is a short search */
    double *cum = malloc(n * sizeof *cum);
    double tot = 0;
    for (size_t k = 0; k < n; k++) {
        tot += pow((double)(k + 1), -expo);
        cum[k] = tot;
    }
    uint64_t *cu = malloc(n * sizeof *cu);
    const double scale = 4611686018427387904.0; /* 2^62 */
    for (size_t k = 0; k < n; k++) cu[k] = (uint64_t)(cum[k] / tot * scale);
    cu[n - 1] = (uint64_t)1 << 62;
    free(cum);
    const unsigned GB = 16; /* guide: 2^16 buckets over the top bits */
    size_t *guide = malloc(((size_t)1 << GB) * sizeof *guide);
    {
        size_t k = 0;
        for (size_t b = 0; b < ((size_t)1 << GB); b++) {
            uint64_t lo = (uint64_t)b << (62 - GB);
            while (cu[k] <= lo) k++;
            guide[b] = k;
        }
    }

    /* generate */
    rng_state = seed ^ UINT64_C(0x5deece66d);
    size_t bcap = 1 << 20, blen = 0;
    char *buf = malloc(bcap + 4096);
    uint64_t written = 0;
    unsigned col = 0;
    while (written + blen < size) {
        uint64_t u = rng_next() >> 2; /* uniform in [0, 2^62) */
        size_t k = guide[u >> (62 - GB)];
        while (cu[k] <= u) k++;
        size_t wl2 = lens[k];
        if (blen + wl2 + 1 > bcap) {
            if (fwrite(buf, 1, blen, stdout) != blen) die("write");
            written += blen;
            blen = 0;
            if (wl2 + 1 > bcap) { /* cannot happen with dictionary words */
                if (fwrite(words[k], 1, wl2, stdout) != wl2) die("write");
                written += wl2;
                wl2 = 0;
            }
        }
        memcpy(buf + blen, words[k], wl2);
        blen += wl2;
        if (++col == 10) {
            buf[blen++] = '\n';
            col = 0;
        } else {
            buf[blen++] = ' ';
        }
    }
    if (blen > 0 && buf[blen - 1] == ' ') buf[blen - 1] = '\n';
    if (fwrite(buf, 1, blen, stdout) != blen || fflush(stdout) != 0) die("write");
    return 0;
}
