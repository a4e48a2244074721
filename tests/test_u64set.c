/*  test_u64set: the set of chunk ids a reducer has applied. Every 64-bit
    value is a member like any other, 0 and UINT64_MAX included. The set
    keeps runs of consecutive values as ranges; the random tests check it
    against a plain bitmap of a small universe that spans both ends of the
    64-bit space. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "zmr_u64set.h"

//  A seeded generator (splitmix64), so a failure can be replayed.
static uint64_t
s_next (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void
s_shuffle (uint64_t *values, size_t n, uint64_t *state)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t) (s_next (state) % i);
        uint64_t tmp = values[i - 1];
        values[i - 1] = values[j];
        values[j] = tmp;
    }
}

//  The universe of the random tests: indices 0 .. S_HALF-1 are the values
//  0 .. S_HALF-1, the next S_HALF are the top S_HALF values up to
//  UINT64_MAX. Both ends of the space, and a gap in between.
#define S_HALF     2048
#define S_UNIVERSE (2 * S_HALF)

static uint64_t
s_value (size_t index)
{
    return index < S_HALF? index: UINT64_MAX - (S_UNIVERSE - 1 - index);
}

//  Checks the set against the reference bitmap: the same members, the same
//  size, and ranges that are exactly the bitmap's runs (so sorted, disjoint
//  and never adjacent).
static void
s_assert_matches (zmr_u64set_t *set, const bool *member, const char *when)
{
    size_t expected_size = 0;
    for (size_t i = 0; i < S_UNIVERSE; i++) {
        expected_size += member[i];
        if (zmr_u64set_contains (set, s_value (i)) != member[i])
            cr_assert_fail ("%s: contains (%llu) says %d", when,
                            (unsigned long long) s_value (i), !member[i]);
    }
    cr_assert_eq (zmr_u64set_size (set), expected_size, "%s: size", when);
    //  The reference's runs (the gap between the two halves splits a run)
    zmr_u64range_t runs[S_UNIVERSE];
    size_t nruns = 0;
    for (size_t i = 0; i < S_UNIVERSE; i++) {
        if (!member[i])
            continue;
        if (nruns && i != S_HALF && member[i - 1])
            runs[nruns - 1].last = s_value (i);
        else
            runs[nruns++] = (zmr_u64range_t) { s_value (i), s_value (i) };
    }
    size_t count;
    const zmr_u64range_t *ranges = zmr_u64set_ranges (set, &count);
    cr_assert_eq (count, nruns, "%s: %zu ranges, expected %zu", when, count, nruns);
    for (size_t i = 0; i < count; i++)
        if (ranges[i].first != runs[i].first || ranges[i].last != runs[i].last)
            cr_assert_fail ("%s: range %zu is [%llu, %llu], expected [%llu, %llu]", when, i,
                            (unsigned long long) ranges[i].first,
                            (unsigned long long) ranges[i].last,
                            (unsigned long long) runs[i].first,
                            (unsigned long long) runs[i].last);
}

//  Checks the ranges' own invariants, for sets too large for the bitmap.
static void
s_assert_well_formed (zmr_u64set_t *set)
{
    size_t count;
    const zmr_u64range_t *ranges = zmr_u64set_ranges (set, &count);
    uint64_t values = 0;
    for (size_t i = 0; i < count; i++) {
        cr_assert_leq (ranges[i].first, ranges[i].last, "range %zu is empty", i);
        if (i > 0)
            cr_assert_gt (ranges[i].first, ranges[i - 1].last + 1,
                          "ranges %zu and %zu overlap, touch or are out of order", i - 1, i);
        values += ranges[i].last - ranges[i].first + 1;
    }
    cr_assert_eq (values, zmr_u64set_size (set));
}

Test (u64set, insert_reports_new_then_present)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    cr_assert_not_null (set);
    cr_assert_eq (zmr_u64set_size (set), 0);
    size_t count = 99;
    zmr_u64set_ranges (set, &count);
    cr_assert_eq (count, 0, "an empty set has no ranges");
    cr_assert_not (zmr_u64set_contains (set, 7));
    cr_assert_eq (zmr_u64set_insert (set, 7), 1);
    cr_assert_eq (zmr_u64set_insert (set, 7), 0);
    cr_assert (zmr_u64set_contains (set, 7));
    cr_assert_not (zmr_u64set_contains (set, 6));
    cr_assert_not (zmr_u64set_contains (set, 8));
    cr_assert_eq (zmr_u64set_size (set), 1);
    zmr_u64set_destroy (&set);
    cr_assert_null (set);
    zmr_u64set_destroy (&set);
    zmr_u64set_destroy (NULL);
}

Test (u64set, zero_and_max_are_ordinary_members)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    cr_assert_not (zmr_u64set_contains (set, 0), "an empty set does not hold 0");
    cr_assert_not (zmr_u64set_contains (set, UINT64_MAX));
    cr_assert_eq (zmr_u64set_insert (set, 0), 1);
    cr_assert_eq (zmr_u64set_size (set), 1);
    cr_assert (zmr_u64set_contains (set, 0));
    cr_assert_not (zmr_u64set_contains (set, UINT64_MAX));
    cr_assert_eq (zmr_u64set_insert (set, UINT64_MAX), 1);
    cr_assert_eq (zmr_u64set_insert (set, 0), 0);
    cr_assert_eq (zmr_u64set_insert (set, UINT64_MAX), 0);
    cr_assert (zmr_u64set_contains (set, UINT64_MAX));
    cr_assert_eq (zmr_u64set_size (set), 2);
    cr_assert_not (zmr_u64set_contains (set, 1));
    cr_assert_not (zmr_u64set_contains (set, UINT64_MAX - 1));
    //  UINT64_MAX - 1 joins UINT64_MAX's range, 1 joins 0's.
    cr_assert_eq (zmr_u64set_insert (set, UINT64_MAX - 1), 1);
    cr_assert_eq (zmr_u64set_insert (set, 1), 1);
    size_t count;
    const zmr_u64range_t *ranges = zmr_u64set_ranges (set, &count);
    cr_assert_eq (count, 2);
    cr_assert (ranges[0].first == 0 && ranges[0].last == 1);
    cr_assert (ranges[1].first == UINT64_MAX - 1 && ranges[1].last == UINT64_MAX);
    cr_assert_eq (zmr_u64set_size (set), 4);
    zmr_u64set_destroy (&set);
}

Test (u64set, in_order_inserts_leave_one_range)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    for (uint64_t id = 0; id < 100000; id++)
        if (zmr_u64set_insert (set, id) != 1)
            cr_assert_fail ("%llu not new", (unsigned long long) id);
    size_t count;
    const zmr_u64range_t *ranges = zmr_u64set_ranges (set, &count);
    cr_assert_eq (count, 1);
    cr_assert_eq (ranges[0].first, 0);
    cr_assert_eq (ranges[0].last, 99999);
    cr_assert_eq (zmr_u64set_size (set), 100000);
    cr_assert_not (zmr_u64set_contains (set, 100000));
    zmr_u64set_destroy (&set);
}

//  Chunk ids reach a reducer nearly in order: shuffled within windows of
//  in-flight chunks. The holes are only ever those of the current window.
Test (u64set, ids_shuffled_within_a_window_keep_few_ranges)
{
    const size_t total = 100000, window = 32;
    uint64_t *ids = malloc (total * sizeof *ids);
    for (size_t i = 0; i < total; i++)
        ids[i] = i;
    uint64_t state = 42;
    for (size_t at = 0; at < total; at += window)
        s_shuffle (ids + at, total - at < window? total - at: window, &state);
    zmr_u64set_t *set = zmr_u64set_new ();
    size_t most = 0, count;
    for (size_t i = 0; i < total; i++) {
        cr_assert_eq (zmr_u64set_insert (set, ids[i]), 1);
        zmr_u64set_ranges (set, &count);
        if (count > most)
            most = count;
    }
    cr_assert_leq (most, window / 2 + 1, "%zu ranges at most for windows of %zu", most, window);
    const zmr_u64range_t *ranges = zmr_u64set_ranges (set, &count);
    cr_assert_eq (count, 1, "a window filled in closes its holes");
    cr_assert (ranges[0].first == 0 && ranges[0].last == total - 1);
    cr_assert_eq (zmr_u64set_size (set), total);
    s_assert_well_formed (set);
    zmr_u64set_destroy (&set);
    free (ids);
}

Test (u64set, random_inserts_match_a_bitmap)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        uint64_t state = seed;
        zmr_u64set_t *set = zmr_u64set_new ();
        bool member[S_UNIVERSE] = { false };
        //  A dense seed fills most of the universe, a sparse one a little.
        size_t inserts = (size_t) (s_next (&state) % (2 * S_UNIVERSE));
        for (size_t i = 0; i < inserts; i++) {
            size_t index = (size_t) (s_next (&state) % S_UNIVERSE);
            int expected = member[index]? 0: 1;
            member[index] = true;
            int rc = zmr_u64set_insert (set, s_value (index));
            if (rc != expected)
                cr_assert_fail ("seed %llu: insert (%llu) gave %d, expected %d",
                                (unsigned long long) seed,
                                (unsigned long long) s_value (index), rc, expected);
            if (i % 256 == 0)
                s_assert_matches (set, member, "while inserting");
        }
        s_assert_matches (set, member, "after inserting");
        zmr_u64set_destroy (&set);
    }
}

Test (u64set, every_value_in_shuffled_order_ends_as_the_two_ends)
{
    uint64_t order[S_UNIVERSE];
    for (size_t i = 0; i < S_UNIVERSE; i++)
        order[i] = i;
    uint64_t state = 7;
    s_shuffle (order, S_UNIVERSE, &state);
    zmr_u64set_t *set = zmr_u64set_new ();
    bool member[S_UNIVERSE] = { false };
    for (size_t i = 0; i < S_UNIVERSE; i++) {
        member[order[i]] = true;
        cr_assert_eq (zmr_u64set_insert (set, s_value ((size_t) order[i])), 1);
    }
    s_assert_matches (set, member, "all inserted");
    size_t count;
    zmr_u64set_ranges (set, &count);
    cr_assert_eq (count, 2, "[0, S_HALF - 1] and [UINT64_MAX - S_HALF + 1, UINT64_MAX]");
    zmr_u64set_destroy (&set);
}

Test (u64set, insert_range_matches_a_bitmap)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        uint64_t state = seed * 1000;
        zmr_u64set_t *set = zmr_u64set_new ();
        bool member[S_UNIVERSE] = { false };
        for (size_t i = 0; i < 200; i++) {
            //  Short ranges within one half, so they are ranges of values
            size_t half = (size_t) (s_next (&state) % 2) * S_HALF;
            size_t a = half + (size_t) (s_next (&state) % S_HALF);
            size_t len = (size_t) (s_next (&state) % 40);
            size_t b = a + len < half + S_HALF? a + len: half + S_HALF - 1;
            for (size_t k = a; k <= b; k++)
                member[k] = true;
            cr_assert_eq (zmr_u64set_insert_range (set, s_value (a), s_value (b)), 0);
            s_assert_matches (set, member, "after insert_range");
        }
        //  Singles between the ranges, which join them
        for (size_t i = 0; i < 500; i++) {
            size_t index = (size_t) (s_next (&state) % S_UNIVERSE);
            int expected = member[index]? 0: 1;
            member[index] = true;
            cr_assert_eq (zmr_u64set_insert (set, s_value (index)), expected);
        }
        s_assert_matches (set, member, "after singles");
        zmr_u64set_destroy (&set);
    }
}

Test (u64set, insert_range_swallows_the_ranges_it_covers)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    for (uint64_t v = 10; v < 100; v += 10)
        zmr_u64set_insert (set, v);
    size_t count;
    zmr_u64set_ranges (set, &count);
    cr_assert_eq (count, 9);
    //  [11, 89] touches 10 and 90: everything becomes [10, 90]
    cr_assert_eq (zmr_u64set_insert_range (set, 11, 89), 0);
    const zmr_u64range_t *ranges = zmr_u64set_ranges (set, &count);
    cr_assert_eq (count, 1);
    cr_assert (ranges[0].first == 10 && ranges[0].last == 90);
    cr_assert_eq (zmr_u64set_size (set), 81);
    //  A range already held changes nothing
    cr_assert_eq (zmr_u64set_insert_range (set, 20, 30), 0);
    cr_assert_eq (zmr_u64set_size (set), 81);
    //  One that ends at UINT64_MAX
    cr_assert_eq (zmr_u64set_insert_range (set, UINT64_MAX - 4, UINT64_MAX), 0);
    cr_assert_eq (zmr_u64set_size (set), 86);
    cr_assert (zmr_u64set_contains (set, UINT64_MAX));
    cr_assert_not (zmr_u64set_contains (set, UINT64_MAX - 5));
    s_assert_well_formed (set);
    zmr_u64set_destroy (&set);
}

Test (u64set, every_value_is_one_range_of_saturated_size)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    cr_assert_eq (zmr_u64set_insert_range (set, 5, UINT64_MAX - 5), 0);
    cr_assert_eq (zmr_u64set_insert (set, 0), 1);
    cr_assert_eq (zmr_u64set_insert_range (set, 0, 4), 0);
    cr_assert_eq (zmr_u64set_size (set), UINT64_MAX - 4 - 1 + 1);
    cr_assert_eq (zmr_u64set_insert_range (set, UINT64_MAX - 4, UINT64_MAX), 0);
    //  2^64 values do not fit a size_t: the size says as many as it can.
    cr_assert_eq (zmr_u64set_size (set), SIZE_MAX);
    size_t count;
    const zmr_u64range_t *ranges = zmr_u64set_ranges (set, &count);
    cr_assert_eq (count, 1);
    cr_assert (ranges[0].first == 0 && ranges[0].last == UINT64_MAX);
    cr_assert_eq (zmr_u64set_insert (set, 12345), 0);
    cr_assert_eq (zmr_u64set_insert (set, UINT64_MAX), 0);
    zmr_u64set_destroy (&set);
}

Test (u64set, duplicates_change_nothing)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    uint64_t state = 3;
    for (size_t i = 0; i < 1000; i++)
        zmr_u64set_insert (set, s_next (&state) % 3000);
    size_t count, size = zmr_u64set_size (set);
    const zmr_u64range_t *ranges = zmr_u64set_ranges (set, &count);
    zmr_u64range_t *before = malloc (count * sizeof *before);
    memcpy (before, ranges, count * sizeof *before);
    for (size_t i = 0; i < count; i++)
        for (uint64_t v = before[i].first; v <= before[i].last; v++)
            if (zmr_u64set_insert (set, v) != 0)
                cr_assert_fail ("%llu inserted twice", (unsigned long long) v);
    cr_assert_eq (zmr_u64set_size (set), size);
    size_t after_count;
    ranges = zmr_u64set_ranges (set, &after_count);
    cr_assert_eq (after_count, count);
    cr_assert_eq (memcmp (ranges, before, count * sizeof *before), 0);
    free (before);
    zmr_u64set_destroy (&set);
}

//  A bijection from small ids to values spread over all 64 bits
static uint64_t
s_scatter (uint64_t value)
{
    return (value + (1ull << 32)) * 0x9e3779b97f4a7c15ull;
}

//  Scattered values are the set's worst case (a range each, and an insert
//  moves the ranges after it); it must still be right.
Test (u64set, consecutive_and_scattered_values_survive_growth)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    const uint64_t count = 200000, scattered = 10000;
    for (uint64_t value = 0; value < count; value++) {
        if (zmr_u64set_insert (set, value) != 1)
            cr_assert_fail ("%llu not new", (unsigned long long) value);
        if (value < scattered && zmr_u64set_insert (set, s_scatter (value)) != 1)
            cr_assert_fail ("scattered %llu not new", (unsigned long long) value);
    }
    cr_assert_eq (zmr_u64set_size (set), count + scattered);
    for (uint64_t value = 0; value < count; value++) {
        if (!zmr_u64set_contains (set, value)
        ||  (value < scattered && !zmr_u64set_contains (set, s_scatter (value))))
            cr_assert_fail ("%llu lost after growth", (unsigned long long) value);
        if (zmr_u64set_insert (set, value) != 0)
            cr_assert_fail ("%llu inserted twice", (unsigned long long) value);
    }
    for (uint64_t value = count; value < 2 * count; value++)
        if (zmr_u64set_contains (set, value))
            cr_assert_fail ("%llu never inserted but found", (unsigned long long) value);
    cr_assert_eq (zmr_u64set_size (set), count + scattered);
    s_assert_well_formed (set);
    zmr_u64set_destroy (&set);
}
