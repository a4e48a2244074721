/*  A shared object that is no plugin (no zmr_plugin symbol): tests/test_plugin.c
    checks it is refused. */
#include "zmr_plugin.h"

const zmr_plugin_t not_the_plugin = { .abi = ZMR_PLUGIN_ABI, .name = "misnamed" };
