/*  Fuzz target: any bytes as a config file (--config), parsed against an
    options table like a role's. Every option it yields must be one of the
    table's, with a value exactly when that option takes one. */
#include "zmr.h"
#include <stdlib.h>

//  Checked in every build, NDEBUG or not.
#define S_CHECK(cond) do { if (!(cond)) abort (); } while (0)

static const struct option s_options[] = {
    { "name", required_argument, NULL, 1 },
    { "heartbeat-ms", required_argument, NULL, 2 },
    { "by-reference", no_argument, NULL, 3 },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    ZMR_CURVE_OPTIONS,
    { NULL, 0, NULL, 0 }
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char **args;
    char err[320];
    int n = zmr_config_parse ((const char *) data, size, s_options, &args, err, sizeof err);
    if (n < 0) {
        S_CHECK (args == NULL && err[0]);
        return 0;
    }
    S_CHECK (n <= ZMR_CONFIG_MAX_OPTIONS);
    for (int i = 0; i < n; i++) {
        S_CHECK (args[i][0] == '-' && args[i][1] == '-');
        const char *eq = strchr (args[i], '=');
        size_t len = eq? (size_t) (eq - args[i] - 2): strlen (args[i] + 2);
        const struct option *found = NULL;
        for (const struct option *o = s_options; o->name; o++)
            if (strlen (o->name) == len && !memcmp (o->name, args[i] + 2, len))
                found = o;
        S_CHECK (found && strcmp (found->name, "help"));
        S_CHECK ((found->has_arg == required_argument) == (eq != NULL));
    }
    zmr_config_free (args, n);
    return 0;
}
