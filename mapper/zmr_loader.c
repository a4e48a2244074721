/*  zmr_loader: a map plugin, loaded. See zmr_loader.h. */
#define _GNU_SOURCE
#include "zmr_loader.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _zmr_loader_t {
    void *handle;                   //  dlopen's
    const zmr_plugin_t *plugin;     //  Its zmr_plugin
    void *state;                    //  What its init made
    char name[128];
};

//  dlopen()s path and checks its zmr_plugin (symbol, ABI, map). Returns
//  the handle with *plugin_p set, or NULL with a reason in err.
static void *
s_load (const char *path, const zmr_plugin_t **plugin_p, char *err, size_t errlen)
{
    //  A name without a slash would be looked up in the library path:
    //  the plugin is the file named, nothing else
    char local[4096];
    if (!strchr (path, '/') && snprintf (local, sizeof local, "./%s", path) < (int) sizeof local)
        path = local;
    dlerror ();                     //  Clears an earlier error
    void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror ();
        snprintf (err, errlen, "cannot load plugin %s: %s", path, why? why: "dlopen failed");
        return NULL;
    }
    dlerror ();
    const zmr_plugin_t *plugin = (const zmr_plugin_t *) dlsym (handle, ZMR_PLUGIN_SYMBOL);
    const char *why = dlerror ();
    if (why || !plugin) {
        snprintf (err, errlen, "plugin %s defines no symbol '%s' (a const zmr_plugin_t, "
                  "see zmr_plugin.h)", path, ZMR_PLUGIN_SYMBOL);
        dlclose (handle);
        return NULL;
    }
    if (plugin->abi != ZMR_PLUGIN_ABI) {
        snprintf (err, errlen, "plugin %s is built for plugin ABI %u, this mapper takes %u "
                  "(build it again against this zmr_plugin.h)", path, plugin->abi,
                  ZMR_PLUGIN_ABI);
        dlclose (handle);
        return NULL;
    }
    if (!plugin->map) {
        snprintf (err, errlen, "plugin %s has no map function", path);
        dlclose (handle);
        return NULL;
    }
    *plugin_p = plugin;
    return handle;
}

int
zmr_loader_check (const char *path, char *err, size_t errlen)
{
    const zmr_plugin_t *plugin;
    void *handle = s_load (path, &plugin, err, errlen);
    if (!handle)
        return -1;
    dlclose (handle);
    return 0;
}

zmr_loader_t *
zmr_loader_open (const char *path, char *err, size_t errlen)
{
    char local[4096];
    if (!strchr (path, '/') && snprintf (local, sizeof local, "./%s", path) < (int) sizeof local)
        path = local;
    const zmr_plugin_t *plugin;
    void *handle = s_load (path, &plugin, err, errlen);
    if (!handle)
        return NULL;
    zmr_loader_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "cannot load plugin %s: out of memory", path);
        dlclose (handle);
        return NULL;
    }
    self->handle = handle;
    self->plugin = plugin;
    const char *base = strrchr (path, '/');
    //  A name for logs: cut to fit
    const char *name = plugin->name? plugin->name: base? base + 1: path;
    size_t len = strnlen (name, sizeof self->name - 1);
    memcpy (self->name, name, len);
    self->name[len] = 0;
    if (plugin->init && plugin->init (&self->state)) {
        snprintf (err, errlen, "plugin %s: its init failed", path);
        //  No fini: init did not succeed, so there is nothing of it to free
        dlclose (handle);
        free (self);
        return NULL;
    }
    return self;
}

void
zmr_loader_close (zmr_loader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_loader_t *self = *self_p;
    if (self->plugin->fini)
        self->plugin->fini (self->state);
    dlclose (self->handle);
    free (self);
    *self_p = NULL;
}

const char *
zmr_loader_name (zmr_loader_t *self)
{
    return self->name;
}

int
zmr_loader_map (zmr_loader_t *self, const char *line, size_t len, zmr_emit_t *emit)
{
    return self->plugin->map (line, len, emit, self->state);
}
