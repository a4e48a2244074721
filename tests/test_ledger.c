/*  test_ledger: filled in by its owner (issue 16) */
#include <criterion/criterion.h>
