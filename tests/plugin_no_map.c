/*  A plugin with no map function: tests/test_plugin.c checks that the
    mapper refuses it when it starts. */
#include "zmr_plugin.h"

const zmr_plugin_t zmr_plugin = { .abi = ZMR_PLUGIN_ABI, .name = "no-map" };
