/*  test_u64set: the set of chunk ids a reducer has applied. Every 64-bit
    value is a member like any other, 0 and UINT64_MAX included. */
#include <criterion/criterion.h>

#include "zmr_u64set.h"

Test (u64set, insert_reports_new_then_present)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    cr_assert_not_null (set);
    cr_assert_eq (zmr_u64set_size (set), 0);
    cr_assert_not (zmr_u64set_contains (set, 7));
    cr_assert_eq (zmr_u64set_insert (set, 7), 1);
    cr_assert_eq (zmr_u64set_insert (set, 7), 0);
    cr_assert (zmr_u64set_contains (set, 7));
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
    zmr_u64set_destroy (&set);
}

//  A bijection from small ids to values spread over all 64 bits
static uint64_t
s_scatter (uint64_t value)
{
    return (value + (1ull << 32)) * 0x9e3779b97f4a7c15ull;
}

Test (u64set, many_values_survive_growth)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    const uint64_t count = 200000;
    //  Consecutive ids (as chunk ids are) and scattered ones
    for (uint64_t value = 0; value < count; value++) {
        if (zmr_u64set_insert (set, value) != 1)
            cr_assert_fail ("%llu not new", (unsigned long long) value);
        if (zmr_u64set_insert (set, s_scatter (value)) != 1)
            cr_assert_fail ("scattered %llu not new", (unsigned long long) value);
    }
    cr_assert_eq (zmr_u64set_size (set), 2 * count);
    for (uint64_t value = 0; value < count; value++) {
        if (!zmr_u64set_contains (set, value)
        ||  !zmr_u64set_contains (set, s_scatter (value)))
            cr_assert_fail ("%llu lost after growth", (unsigned long long) value);
        if (zmr_u64set_insert (set, value) != 0)
            cr_assert_fail ("%llu inserted twice", (unsigned long long) value);
    }
    for (uint64_t value = count; value < 2 * count; value++)
        if (zmr_u64set_contains (set, value))
            cr_assert_fail ("%llu never inserted but found", (unsigned long long) value);
    cr_assert_eq (zmr_u64set_size (set), 2 * count);
    zmr_u64set_destroy (&set);
}

Test (u64set, values_lists_every_member_once)
{
    zmr_u64set_t *set = zmr_u64set_new ();
    uint64_t expected_sum = 0;
    for (uint64_t v = 0; v < 1000; v += 3) {
        zmr_u64set_insert (set, v);
        expected_sum += v;
    }
    zmr_u64set_insert (set, UINT64_MAX);
    uint64_t *out = malloc (zmr_u64set_size (set) * sizeof *out);
    size_t n = zmr_u64set_values (set, out);
    cr_assert_eq (n, zmr_u64set_size (set));
    uint64_t sum = 0;
    bool saw_zero = false, saw_max = false;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == UINT64_MAX)
            saw_max = true;
        else
            sum += out[i];
        saw_zero |= out[i] == 0;
    }
    cr_assert (saw_zero && saw_max);
    cr_assert_eq (sum, expected_sum);
    free (out);
    zmr_u64set_destroy (&set);
}
