/*  test_argv: filled in by its owner (issue 16) */
#include <criterion/criterion.h>
