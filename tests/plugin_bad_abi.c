/*  A plugin built for another ABI: tests/test_plugin.c checks it is refused. */
#include "zmr_plugin.h"

static int
s_map (const char *line, size_t len, zmr_emit_t *emit, void *state)
{
    return emit->fn (emit, line, len, 1);
}

const zmr_plugin_t zmr_plugin = { .abi = ZMR_PLUGIN_ABI + 1, .name = "bad-abi", .map = s_map };
