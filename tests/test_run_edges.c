/*  test_run_edges: zmr run's edges: outputs that reach stdout exactly once, outputs that are inputs, typed input, lasting failures that are not retried, nothing left behind (issue 13). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite (test_run_edges, .init = h_setup, .fini = h_teardown, .timeout = 120);
