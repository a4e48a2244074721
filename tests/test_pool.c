/*  test_pool: filled in by its owner (issue 14) */
#include <criterion/criterion.h>
