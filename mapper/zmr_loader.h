/*  zmr_loader: loads a map plugin (include/zmr_plugin.h) and calls it.
    (Not named zmr_plugin.h: that is the plugin's public header, which this
    one includes.) */
#ifndef ZMR_LOADER_H
#define ZMR_LOADER_H
#include "zmr_plugin.h"

typedef struct _zmr_loader_t zmr_loader_t;

//  dlopen()s path (RTLD_NOW | RTLD_LOCAL: every symbol bound now, none
//  shown to the next plugin), finds its zmr_plugin, checks its ABI and
//  that it has a map, and calls its init. Returns the plugin, or NULL with
//  a one-line reason naming path in err (errlen bytes).
zmr_loader_t *
    zmr_loader_open (const char *path, char *err, size_t errlen);

//  Loads path and checks it as zmr_loader_open does (symbol, ABI, map),
//  without calling init, then dlclose()s it: a mapper checks its --plugin
//  when it starts. Returns 0, or -1 with a one-line reason in err.
int
    zmr_loader_check (const char *path, char *err, size_t errlen);

//  Calls fini, then dlclose()s. Accepts NULL and *self_p == NULL.
void
    zmr_loader_close (zmr_loader_t **self_p);

//  The plugin's name (its zmr_plugin.name, or the file's when NULL).
const char *
    zmr_loader_name (zmr_loader_t *self);

//  Calls map on one line with emit. Returns map's return.
int
    zmr_loader_map (zmr_loader_t *self, const char *line, size_t len, zmr_emit_t *emit);

#endif
