/*  zmr_partition: the rule that decides which reducer owns a word.

    Every mapper must send a given word to the same reducer, whatever the
    machine, compiler or library version, or a word's count would be split
    across two partitions and the result would be wrong. So the rule is
    fixed by docs/design.md and depends on nothing local: take SHA-1 of the
    word's bytes exactly as they are, read the 20-byte digest as one 160-bit
    big-endian unsigned integer, and take it modulo R. Any other tool can
    check it (Python: int.from_bytes(hashlib.sha1(w).digest(), 'big') % R).

    The modulo needs no big-number library: Horner's rule over the digest,
    most significant bytes first, keeps a remainder below R < 2^32, so the
    digest can be taken four bytes at a time and remainder * 2^32 + digit
    still fits in 64 bits (five divisions, not twenty: the divisions were
    a third of the time per word). The hot path fetches the SHA-1
    implementation once and reuses one digest context, because fetching
    per word costs more than the hash itself. */
#include "zmr_partition.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef ZMR_MAX_REDUCERS
#define ZMR_MAX_REDUCERS 256
#endif

#define ZMR_SHA1_LEN 20

struct _zmr_partitioner_t {
    uint32_t reducers;          //  R, in 1 .. ZMR_MAX_REDUCERS
    EVP_MD *sha1;               //  Fetched once, owned
    EVP_MD_CTX *ctx;            //  Reused for every word, owned
};

//  A failing digest after SHA-1 was fetched means the crypto library is
//  broken; a made-up partition would silently corrupt the count, so stop.
static void
s_digest_failed (void)
{
    fprintf (stderr, "zmr: SHA-1 digest failed in OpenSSL\n");
    abort ();
}

//  SHA-1 from OpenSSL's default provider, without reading the system's
//  openssl.cnf: a word's partition must not depend on a machine's crypto
//  policy, and the configuration code alone was some 600 KB of libcrypto
//  paged into every mapper (a job's memory is summed over its processes).
static void
s_openssl_init (void)
{
    OPENSSL_init_crypto (OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

zmr_partitioner_t *
zmr_partitioner_new (uint32_t reducers)
{
    assert (reducers >= 1 && reducers <= ZMR_MAX_REDUCERS);
    zmr_partitioner_t *self = (zmr_partitioner_t *) calloc (1, sizeof (*self));
    if (!self)
        return NULL;
    self->reducers = reducers;
    if (reducers == 1)
        return self;            //  Never hashes (nor pages OpenSSL in)
    s_openssl_init ();
    self->sha1 = EVP_MD_fetch (NULL, "SHA1", NULL);
    self->ctx = EVP_MD_CTX_new ();
    if (!self->sha1 || !self->ctx) {
        zmr_partitioner_destroy (&self);
        return NULL;
    }
    return self;
}

void
zmr_partitioner_destroy (zmr_partitioner_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_partitioner_t *self = *self_p;
    EVP_MD_CTX_free (self->ctx);
    EVP_MD_free (self->sha1);
    free (self);
    *self_p = NULL;
}

uint32_t
zmr_partitioner_of (zmr_partitioner_t *self, const void *word, size_t len)
{
    assert (self);
    assert (word || len == 0);
    //  One partition: every word's, whatever its digest
    if (self->reducers == 1)
        return 0;
    uint8_t digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (EVP_DigestInit_ex2 (self->ctx, self->sha1, NULL) != 1
    ||  EVP_DigestUpdate (self->ctx, word, len) != 1
    ||  EVP_DigestFinal_ex (self->ctx, digest, &digest_len) != 1
    ||  digest_len != ZMR_SHA1_LEN)
        s_digest_failed ();
    return zmr_partition_mod (digest, self->reducers);
}

uint32_t
zmr_partition_mod (const uint8_t digest [20], uint32_t reducers)
{
    assert (digest);
    assert (reducers >= 1);
    //  Four bytes per step: five divisions instead of twenty, the same sum
    uint64_t remainder = 0;
    for (int at = 0; at < ZMR_SHA1_LEN; at += 4) {
        uint64_t digit = (uint64_t) digest [at] << 24 | (uint64_t) digest [at + 1] << 16
                       | (uint64_t) digest [at + 2] << 8 | digest [at + 3];
        remainder = ((remainder << 32) | digit) % reducers;
    }
    return (uint32_t) remainder;
}

uint32_t
zmr_partition_of (const void *word, size_t len, uint32_t reducers)
{
    assert (reducers >= 1 && reducers <= ZMR_MAX_REDUCERS);
    assert (word || len == 0);
    uint8_t digest [EVP_MAX_MD_SIZE];
    size_t digest_len = 0;
    s_openssl_init ();
    if (!EVP_Q_digest (NULL, "SHA1", NULL, word, len, digest, &digest_len)
    ||  digest_len != ZMR_SHA1_LEN)
        s_digest_failed ();
    return zmr_partition_mod (digest, reducers);
}
