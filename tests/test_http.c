/*  test_http: filled in by its owner (issue 15) */
#include <criterion/criterion.h>
