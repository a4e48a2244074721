/*  test_argv: the launcher's argument vectors grow as needed, stop at their
    limit, and fail cleanly (nothing half-built, nothing leaked) when an
    argument does not fit or memory runs out. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zmr_argv.h"

Test (argv, an_empty_vector_is_just_its_ending_null)
{
    zmr_argv_t *argv = zmr_argv_new (4);
    cr_assert_not_null (argv);
    cr_assert_eq (zmr_argv_size (argv), 0);
    char **items = zmr_argv_items (argv);
    cr_assert_not_null (items);
    cr_assert_null (items[0]);
    cr_assert_not (zmr_argv_failed (argv));
    zmr_argv_destroy (&argv);
    cr_assert_null (argv);
    zmr_argv_destroy (&argv);   //  accepts NULL
}

Test (argv, arguments_are_copied_in_order_and_end_in_null)
{
    zmr_argv_t *argv = zmr_argv_new (10);
    char text[16] = "zmr-mapper";
    cr_assert_eq (zmr_argv_add (argv, text), 0);
    strcpy (text, "changed");   //  the vector holds its own copy
    cr_assert_eq (zmr_argv_addf (argv, "--map-cost=%u", 7u), 0);
    cr_assert_eq (zmr_argv_add (argv, ""), 0);
    char **items = zmr_argv_items (argv);
    cr_assert_str_eq (items[0], "zmr-mapper");
    cr_assert_str_eq (items[1], "--map-cost=7");
    cr_assert_str_eq (items[2], "");
    cr_assert_null (items[3]);
    cr_assert_eq (zmr_argv_size (argv), 3);
    zmr_argv_destroy (&argv);
}

Test (argv, it_grows_past_its_first_room_to_the_limit)
{
    //  Far more than any first allocation: every growth step is crossed.
    const size_t many = 5000;
    zmr_argv_t *argv = zmr_argv_new (many);
    for (size_t i = 0; i < many; i++)
        cr_assert_eq (zmr_argv_addf (argv, "input-%zu.txt", i), 0, "add %zu", i);
    char **items = zmr_argv_items (argv);
    cr_assert_not_null (items);
    for (size_t i = 0; i < many; i++) {
        char want[32];
        snprintf (want, sizeof want, "input-%zu.txt", i);
        cr_assert_str_eq (items[i], want);
    }
    cr_assert_null (items[many]);
    zmr_argv_destroy (&argv);
}

Test (argv, one_argument_over_the_limit_fails_the_whole_vector)
{
    zmr_argv_t *argv = zmr_argv_new (3);
    cr_assert_eq (zmr_argv_add (argv, "a"), 0);
    cr_assert_eq (zmr_argv_add (argv, "b"), 0);
    cr_assert_eq (zmr_argv_add (argv, "c"), 0);
    cr_assert_eq (zmr_argv_add (argv, "d"), -1);
    cr_assert (zmr_argv_failed (argv));
    //  Failed stays failed: a later add that would fit is refused, and
    //  nothing half-built can be run.
    cr_assert_eq (zmr_argv_addf (argv, "%s", "e"), -1);
    cr_assert_null (zmr_argv_items (argv));
    cr_assert_eq (zmr_argv_size (argv), 3);
    zmr_argv_destroy (&argv);
}

Test (argv, a_zero_limit_takes_nothing)
{
    zmr_argv_t *argv = zmr_argv_new (0);
    cr_assert_eq (zmr_argv_add (argv, "zmr-sink"), -1);
    cr_assert_null (zmr_argv_items (argv));
    zmr_argv_destroy (&argv);
}

Test (argv, a_null_argument_is_refused)
{
    zmr_argv_t *argv = zmr_argv_new (4);
    cr_assert_eq (zmr_argv_add (argv, NULL), -1);
    cr_assert (zmr_argv_failed (argv));
    zmr_argv_destroy (&argv);
}

//  An allocator that fails the nth call from now (1: the next), and counts.
static int s_fail_at;
static int s_calls;

static void *
s_failing_realloc (void *ptr, size_t size)
{
    if (++s_calls == s_fail_at)
        return NULL;
    return realloc (ptr, size);
}

//  Fills a vector until allocation number fail_at fails; checks that the
//  failure is clean. Returns the number of adds that succeeded.
static size_t
s_fill_until_failure (int fail_at, bool formatted)
{
    zmr_argv_t *argv = zmr_argv_new (1000);
    s_calls = 0;
    s_fail_at = fail_at;
    zmr_argv_set_realloc (argv, s_failing_realloc);
    size_t added = 0;
    for (size_t i = 0; i < 1000; i++) {
        int rc = formatted? zmr_argv_addf (argv, "--state=%zu", i)
                          : zmr_argv_add (argv, "--once");
        if (rc) {
            cr_assert (zmr_argv_failed (argv));
            cr_assert_null (zmr_argv_items (argv));
            break;
        }
        added++;
    }
    cr_assert_eq (zmr_argv_size (argv), added);
    zmr_argv_destroy (&argv);  //  LeakSanitizer checks that nothing stays
    return added;
}

Test (argv, a_failed_copy_fails_the_vector_and_leaks_nothing)
{
    //  The first allocation is the first argument's copy.
    cr_assert_eq (s_fill_until_failure (1, false), 0);
    cr_assert_eq (s_fill_until_failure (3, true), 2);
}

Test (argv, a_failed_growth_fails_the_vector_and_leaks_nothing)
{
    //  Copies 1-7 fit the first 8 slots (7 arguments and the NULL); the
    //  8th add must grow the array first: allocation 8 is that growth.
    cr_assert_eq (s_fill_until_failure (8, false), 7);
    cr_assert_eq (s_fill_until_failure (8, true), 7);
}

Test (argv, every_allocation_failure_is_clean)
{
    for (int at = 1; at <= 40; at++) {
        size_t added = s_fill_until_failure (at, at % 2);
        cr_assert_lt (added, 1000, "allocation %d failed, yet all adds passed", at);
    }
}
