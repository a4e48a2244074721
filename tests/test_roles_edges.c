/*  test_roles_edges: hand-started roles at their edges: waiting for input, state of another job, CURVE handshakes that fail, one line per failure (issue 13). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite (test_roles_edges, .init = h_setup, .fini = h_teardown, .timeout = 120);
