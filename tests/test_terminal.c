/*  test_terminal: what a person sees on a terminal: the progress bar and zmr-monitor at 80 columns in a real pty, and scripts/verify-receipt (issue 13). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite (test_terminal, .init = h_setup, .fini = h_teardown, .timeout = 120);
