/*  A plugin with per-mapper state (init/fini) that fails on demand:
    tests/test_plugin.c. Each line "fail" makes map return 1; otherwise it
    emits (line, number of lines seen so far). fini writes the count to the
    file named by $ZMR_TEST_PLUGIN_FINI, so the test sees it was called. */
#include "zmr_plugin.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
s_init (void **state)
{
    *state = calloc (1, sizeof (int64_t));
    return *state? 0: 1;
}

static int
s_map (const char *line, size_t len, zmr_emit_t *emit, void *state)
{
    int64_t *seen = state;
    if (len == 4 && !memcmp (line, "fail", 4))
        return 1;
    ++*seen;
    return emit->fn (emit, line, len, *seen);
}

static void
s_fini (void *state)
{
    const char *path = getenv ("ZMR_TEST_PLUGIN_FINI");
    FILE *file = path? fopen (path, "w"): NULL;
    if (file) {
        fprintf (file, "%lld\n", (long long) *(int64_t *) state);
        fclose (file);
    }
    free (state);
}

const zmr_plugin_t zmr_plugin = {
    .abi = ZMR_PLUGIN_ABI, .name = "stateful", .init = s_init, .map = s_map, .fini = s_fini
};
