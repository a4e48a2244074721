/*  zmr_job: what a job is (the kind, the reduce, the cut), its digest, and
    the allow list a mapper checks the ventilator's job against. Nothing
    here runs user code: a plugin's file is only read, to digest it. */
#include "zmr_job.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_PLUGIN_MAX   (256u << 20)  //  Largest plugin file digested
#define S_READ_PIECE   (64u << 10)   //  Bytes read at once from a plugin

struct _zmr_job_allow_t {
    zmr_job_t *jobs;            //  jobs[0] is the word count
    size_t count;               //  Jobs in use
    size_t capacity;            //  Jobs allocated
};


//  --------------------------------------------------------------------------
//  The digest

//  Lower-case hex of the digest md[0 .. len) into out (ZMR_DIGEST_HEX bytes).
static void
s_hex (const unsigned char *md, unsigned int len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    assert (len * 2 + 1 <= ZMR_DIGEST_HEX);
    for (unsigned int i = 0; i < len; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * len] = 0;
}

//  Starts a SHA-256 over "<tag>\0" (the tag alone for the word count, whose
//  definition is nothing but its name). Returns the context or NULL.
static EVP_MD_CTX *
s_digest_start (const char *tag, bool with_nul)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    if (ctx && EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL)
    &&  EVP_DigestUpdate (ctx, tag, strlen (tag) + (with_nul? 1: 0)))
        return ctx;
    EVP_MD_CTX_free (ctx);
    return NULL;
}

//  Ends the digest into hex and frees the context. Returns 0 or -1.
static int
s_digest_end (EVP_MD_CTX *ctx, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int rc = EVP_DigestFinal_ex (ctx, md, &len) && len == 32? 0: -1;
    EVP_MD_CTX_free (ctx);
    if (rc == 0)
        s_hex (md, len, hex);
    return rc;
}

//  Digests "plugin\0" and the file's bytes. The file is read in pieces and
//  never past the size it had when opened (a file growing as it is read
//  cannot make us read forever); one that is not a regular file, is too
//  large, or shrinks meanwhile is refused. Returns 0, or -1 with a reason.
static int
s_digest_plugin (const char *path, char *hex, char *err, size_t errlen)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf (err, errlen, "--plugin %s: cannot read: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st)) {
        snprintf (err, errlen, "--plugin %s: cannot read: %s", path, strerror (errno));
        close (fd);
        return -1;
    }
    if (!S_ISREG (st.st_mode)) {
        snprintf (err, errlen, "--plugin %s: cannot read: not a regular file", path);
        close (fd);
        return -1;
    }
    if ((uint64_t) st.st_size > S_PLUGIN_MAX) {
        snprintf (err, errlen, "--plugin %s: cannot read: larger than %u MiB",
                  path, S_PLUGIN_MAX >> 20);
        close (fd);
        return -1;
    }
    EVP_MD_CTX *ctx = s_digest_start ("plugin", true);
    char *piece = malloc (S_READ_PIECE);
    if (!ctx || !piece) {
        snprintf (err, errlen, "--plugin %s: cannot digest: out of memory", path);
        EVP_MD_CTX_free (ctx);
        free (piece);
        close (fd);
        return -1;
    }
    uint64_t left = (uint64_t) st.st_size;
    const char *problem = NULL;
    while (left > 0 && !problem) {
        size_t want = left < S_READ_PIECE? (size_t) left: S_READ_PIECE;
        ssize_t got = read (fd, piece, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            problem = strerror (errno);
        else
        if (got == 0)
            problem = "the file shrank while it was read";
        else
        if (!EVP_DigestUpdate (ctx, piece, (size_t) got))
            problem = "cannot digest";
        else
            left -= (uint64_t) got;
    }
    free (piece);
    close (fd);
    if (problem) {
        EVP_MD_CTX_free (ctx);
        snprintf (err, errlen, "--plugin %s: cannot read: %s", path, problem);
        return -1;
    }
    if (s_digest_end (ctx, hex)) {
        snprintf (err, errlen, "--plugin %s: cannot digest", path);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  The label

//  Copies text into label, cut to fit at a UTF-8 character's start (a
//  continuation byte is 10xxxxxx), control bytes as spaces: the label goes
//  into one-line log messages.
static void
s_label (char *label, const char *text)
{
    size_t len = strlen (text);
    if (len > ZMR_JOB_LABEL_MAX - 1) {
        len = ZMR_JOB_LABEL_MAX - 1;
        while (len > 0 && ((unsigned char) text[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        label[i] = c < 0x20 || c == 0x7f? ' ': (char) c;
    }
    label[len] = 0;
}


//  --------------------------------------------------------------------------

void
zmr_job_words (zmr_job_t *job)
{
    assert (job);
    memset (job, 0, sizeof *job);
    job->kind = ZMR_JOB_WORDS;
    job->reduce = ZMR_REDUCE_SUM;
    strcpy (job->label, "words");
    EVP_MD_CTX *ctx = s_digest_start ("words", false);
    //  SHA-256 of a constant fails only when OpenSSL cannot work at all
    int rc = ctx? s_digest_end (ctx, job->digest): -1;
    assert (rc == 0);
    (void) rc;
}

int
zmr_job_define (zmr_job_t *job, const char *command, const char *plugin,
                const char *reduce, char *err, size_t errlen)
{
    assert (job);
    assert (err || errlen == 0);
    if (command && plugin) {
        snprintf (err, errlen, "--map and --plugin cannot go together");
        return -1;
    }
    int op = reduce? zmr_reduce_parse (reduce): ZMR_REDUCE_SUM;
    if (op < 0) {
        snprintf (err, errlen, "--reduce: '%s' is not sum, min or max", reduce);
        return -1;
    }
    if (op != ZMR_REDUCE_SUM && !command && !plugin) {
        snprintf (err, errlen, "--reduce %s needs --map or --plugin (the word count sums)",
                  zmr_reduce_name (op));
        return -1;
    }
    //  Built aside, so that a failure leaves *job as it was
    zmr_job_t made;
    zmr_job_words (&made);
    made.reduce = op;
    if (command) {
        size_t len = strlen (command);
        if (len == 0) {
            snprintf (err, errlen, "--map: empty command");
            return -1;
        }
        if (len >= ZMR_JOB_SPEC_MAX) {
            snprintf (err, errlen, "--map: command longer than %d bytes", ZMR_JOB_SPEC_MAX - 1);
            return -1;
        }
        made.kind = ZMR_JOB_COMMAND;
        memcpy (made.spec, command, len + 1);
        EVP_MD_CTX *ctx = s_digest_start ("command", true);
        if (ctx && !EVP_DigestUpdate (ctx, command, len)) {
            EVP_MD_CTX_free (ctx);
            ctx = NULL;
        }
        if (!ctx || s_digest_end (ctx, made.digest)) {
            snprintf (err, errlen, "--map: cannot digest the command");
            return -1;
        }
        s_label (made.label, command);
    }
    else
    if (plugin) {
        size_t len = strlen (plugin);
        if (len == 0) {
            snprintf (err, errlen, "--plugin: empty path");
            return -1;
        }
        if (len >= ZMR_JOB_SPEC_MAX) {
            snprintf (err, errlen, "--plugin: path longer than %d bytes", ZMR_JOB_SPEC_MAX - 1);
            return -1;
        }
        made.kind = ZMR_JOB_PLUGIN;
        memcpy (made.spec, plugin, len + 1);
        if (s_digest_plugin (plugin, made.digest, err, errlen))
            return -1;
        const char *base = strrchr (plugin, '/');
        s_label (made.label, base? base + 1: plugin);
    }
    *job = made;
    return 0;
}

zmr_cut_t
zmr_job_cut (const zmr_job_t *job)
{
    assert (job);
    return job->kind == ZMR_JOB_WORDS? ZMR_CUT_WORDS: ZMR_CUT_LINES;
}

const char *
zmr_job_kind_name (int kind)
{
    static const char *names[] = { "words", "command", "plugin" };
    return kind >= 0 && kind <= ZMR_JOB_PLUGIN? names[kind]: NULL;
}

const char *
zmr_reduce_name (int reduce)
{
    static const char *names[] = { "sum", "min", "max" };
    return reduce >= 0 && reduce <= ZMR_REDUCE_MAX? names[reduce]: NULL;
}

int
zmr_reduce_parse (const char *text)
{
    if (!text)
        return -1;
    for (int reduce = ZMR_REDUCE_SUM; reduce <= ZMR_REDUCE_MAX; reduce++)
        if (strcmp (text, zmr_reduce_name (reduce)) == 0)
            return reduce;
    return -1;
}


//  --------------------------------------------------------------------------
//  The allow list

zmr_job_allow_t *
zmr_job_allow_new (void)
{
    zmr_job_allow_t *self = (zmr_job_allow_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = 4;
    self->jobs = (zmr_job_t *) malloc (self->capacity * sizeof (zmr_job_t));
    if (!self->jobs) {
        free (self);
        return NULL;
    }
    zmr_job_words (&self->jobs[0]);
    self->count = 1;
    return self;
}

void
zmr_job_allow_destroy (zmr_job_allow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->jobs);
    free (*self_p);
    *self_p = NULL;
}

int
zmr_job_allow_add (zmr_job_allow_t *self, const char *command,
                   const char *plugin, char *err, size_t errlen)
{
    assert (self);
    zmr_job_t job;
    if (!command && !plugin) {
        snprintf (err, errlen, "--map or --plugin: nothing to allow");
        return -1;
    }
    //  The reduce is the ventilator's to name (WELCOME): it runs no user code
    if (zmr_job_define (&job, command, plugin, NULL, err, errlen))
        return -1;
    if (self->count == self->capacity) {
        size_t capacity = self->capacity * 2;
        zmr_job_t *jobs = (zmr_job_t *) realloc (self->jobs, capacity * sizeof (zmr_job_t));
        if (!jobs) {
            snprintf (err, errlen, "%s: out of memory", command? "--map": "--plugin");
            return -1;
        }
        self->jobs = jobs;
        self->capacity = capacity;
    }
    self->jobs[self->count++] = job;
    return 0;
}

const zmr_job_t *
zmr_job_allow_find (const zmr_job_allow_t *self, int kind, const char *digest)
{
    assert (self);
    if (!digest)
        return NULL;
    for (size_t i = 0; i < self->count; i++)
        if (self->jobs[i].kind == kind && strcmp (self->jobs[i].digest, digest) == 0)
            return &self->jobs[i];
    return NULL;
}
