/*  test_partition: the partition rule of docs/design.md (property 2), checked
    against vectors computed outside this code base. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "zmr_partition.h"

Test (partition, design_vectors_with_two_reducers)
{
    cr_assert_eq (zmr_partition_of ("Everyone", 8, 2), 1);
    cr_assert_eq (zmr_partition_of ("Hello", 5, 2), 0);
    cr_assert_eq (zmr_partition_of ("Welcome", 7, 2), 0);
    zmr_partitioner_t *partitioner = zmr_partitioner_new (2);
    cr_assert_not_null (partitioner);
    cr_assert_eq (zmr_partitioner_of (partitioner, "Everyone", 8), 1);
    cr_assert_eq (zmr_partitioner_of (partitioner, "Hello", 5), 0);
    cr_assert_eq (zmr_partitioner_of (partitioner, "Welcome", 7), 0);
    zmr_partitioner_destroy (&partitioner);
    cr_assert_null (partitioner);
}

//  Expected partitions computed independently with Python's hashlib:
//      int.from_bytes(hashlib.sha1(word).digest(), 'big') % R
//  for R in (1, 2, 3, 7, 8, 251, 256). The 1000-byte word is b"x" * 1000.
#define NREDUCERS 7
static const uint32_t s_reducers [NREDUCERS] = { 1, 2, 3, 7, 8, 251, 256 };

typedef struct {
    const char *word;           //  Bytes of the word (may hold NUL)
    size_t len;                 //  Its length; the 1000-byte word is built
    uint32_t expected [NREDUCERS];  //  Partition for each of s_reducers
} s_vector_t;

static const s_vector_t s_vectors [] = {
    { "",          0, { 0, 1, 1, 3, 1, 142, 9 } },
    { "Everyone",  8, { 0, 1, 1, 1, 3, 52, 243 } },
    { "Hello",     5, { 0, 0, 0, 4, 0, 140, 240 } },
    { "Welcome",   7, { 0, 0, 2, 6, 0, 177, 248 } },
    { "a",         1, { 0, 0, 1, 4, 0, 149, 184 } },
    { "the",       3, { 0, 0, 0, 4, 6, 8, 110 } },
    { "zmr",       3, { 0, 1, 0, 3, 3, 89, 59 } },
    { "nul\0byte", 8, { 0, 0, 0, 0, 4, 82, 252 } },
    { "\0",        1, { 0, 1, 1, 0, 7, 199, 79 } },
    { "caf\xc3\xa9", 5, { 0, 1, 2, 4, 7, 212, 215 } },
    { "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9, { 0, 0, 1, 4, 2, 95, 202 } },
    { "\xff\xfe",  2, { 0, 1, 0, 1, 3, 89, 187 } },
    { NULL,     1000, { 0, 0, 0, 3, 0, 222, 56 } },
    { "MapReduce", 9, { 0, 1, 2, 2, 5, 25, 77 } },
};
#define NVECTORS (sizeof (s_vectors) / sizeof (s_vectors [0]))

static const char *
s_word (const s_vector_t *vector, char *thousand)
{
    if (vector->word)
        return vector->word;
    memset (thousand, 'x', 1000);
    return thousand;
}

Test (partition, one_shot_matches_python_hashlib)
{
    char thousand [1000];
    for (size_t at = 0; at < NVECTORS; at++) {
        const char *word = s_word (&s_vectors [at], thousand);
        for (size_t r = 0; r < NREDUCERS; r++)
            cr_assert_eq (zmr_partition_of (word, s_vectors [at].len, s_reducers [r]),
                          s_vectors [at].expected [r],
                          "vector %zu, R=%u", at, s_reducers [r]);
    }
}

Test (partition, partitioner_matches_python_hashlib)
{
    char thousand [1000];
    for (size_t r = 0; r < NREDUCERS; r++) {
        zmr_partitioner_t *partitioner = zmr_partitioner_new (s_reducers [r]);
        cr_assert_not_null (partitioner);
        //  Twice over, so a context left dirty by the previous word shows
        for (int round = 0; round < 2; round++)
            for (size_t at = 0; at < NVECTORS; at++) {
                const char *word = s_word (&s_vectors [at], thousand);
                cr_assert_eq (zmr_partitioner_of (partitioner, word, s_vectors [at].len),
                              s_vectors [at].expected [r],
                              "vector %zu, R=%u", at, s_reducers [r]);
            }
        zmr_partitioner_destroy (&partitioner);
    }
}

Test (partition, partitioner_agrees_with_one_shot_on_many_words)
{
    zmr_partitioner_t *partitioner = zmr_partitioner_new (7);
    cr_assert_not_null (partitioner);
    size_t seen [7] = { 0 };
    char word [64];
    for (int at = 0; at < 5000; at++) {
        int len = snprintf (word, sizeof (word), "w%d\xc3\xa9%d", at, at * 31);
        uint32_t part = zmr_partitioner_of (partitioner, word, (size_t) len);
        cr_assert_lt (part, 7);
        cr_assert_eq (part, zmr_partition_of (word, (size_t) len, 7), "word %s", word);
        seen [part]++;
    }
    //  SHA-1 spreads words evenly; a constant or biased rule would not
    for (int part = 0; part < 7; part++)
        cr_assert (seen [part] > 5000 / 7 / 2, "partition %d got %zu words", part, seen [part]);
    zmr_partitioner_destroy (&partitioner);
}

//  Expected remainders computed with Python: int(hex, 16) % R
Test (partition, mod_reads_the_digest_as_a_big_endian_160_bit_number)
{
    uint8_t ones [20], top [20], low [20], mixed [20];
    memset (ones, 0xff, 20);                //  2^160 - 1
    memset (top, 0, 20);
    top [0] = 0x01;                         //  2^152
    memset (low, 0, 20);
    low [19] = 0x01;                        //  1
    const char *hex = "0123456789abcdef0123456789abcdef01234567";
    for (int at = 0; at < 20; at++) {
        unsigned int byte;
        sscanf (hex + 2 * at, "%2x", &byte);
        mixed [at] = (uint8_t) byte;
    }
    struct { uint32_t reducers, ones, top, mixed; } cases [] = {
        { 1,          0,          0,          0 },
        { 2,          1,          0,          1 },
        { 3,          0,          1,          1 },
        { 7,          1,          4,          4 },
        { 8,          7,          0,          7 },
        { 251,        19,         4,          20 },
        { 256,        255,        0,          103 },
        { 1000003,    48099,      703315,     618636 },
        { 4294967291u, 3124,      1895825418, 3455062451u },
        { 4294967295u, 0,         16777216,   381774868 },
    };
    for (size_t at = 0; at < sizeof (cases) / sizeof (cases [0]); at++) {
        uint32_t reducers = cases [at].reducers;
        cr_assert_eq (zmr_partition_mod (ones, reducers), cases [at].ones, "R=%u", reducers);
        cr_assert_eq (zmr_partition_mod (top, reducers), cases [at].top, "R=%u", reducers);
        cr_assert_eq (zmr_partition_mod (mixed, reducers), cases [at].mixed, "R=%u", reducers);
        cr_assert_eq (zmr_partition_mod (low, reducers), reducers == 1 ? 0 : 1, "R=%u", reducers);
    }
}

Test (partition, single_reducer_owns_every_word)
{
    zmr_partitioner_t *partitioner = zmr_partitioner_new (1);
    cr_assert_not_null (partitioner);
    cr_assert_eq (zmr_partitioner_of (partitioner, "anything", 8), 0);
    cr_assert_eq (zmr_partitioner_of (partitioner, NULL, 0), 0);
    zmr_partitioner_destroy (&partitioner);
}

Test (partition, destroy_accepts_null)
{
    zmr_partitioner_t *partitioner = NULL;
    zmr_partitioner_destroy (&partitioner);
    zmr_partitioner_destroy (NULL);
}
