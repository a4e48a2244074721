/*  test_outputs: the sink's outputs: part directories, snapshots and receipts that are whole, refused or failed, never silently missing (issue 13). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite (test_outputs, .init = h_setup, .fini = h_teardown, .timeout = 120);
