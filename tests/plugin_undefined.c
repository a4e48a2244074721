/*  A plugin calling a function no library defines: dlopen (RTLD_NOW)
    fails on it, and tests/test_plugin.c checks that the mapper refuses it
    when it starts, not when a job comes. */
#include "zmr_plugin.h"

extern int zmr_test_no_such_function (const char *line, size_t len);

static int
s_map (const char *line, size_t len, zmr_emit_t *emit, void *state)
{
    (void) emit;
    (void) state;
    return zmr_test_no_such_function (line, len);
}

const zmr_plugin_t zmr_plugin = { .abi = ZMR_PLUGIN_ABI, .name = "undefined", .map = s_map };
