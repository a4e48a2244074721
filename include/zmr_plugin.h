/*  zmr_plugin.h: the interface of a zmr map plugin, a shared object whose
    C function maps each line of the input to (key, value) pairs.

    This header is all a plugin needs: it includes nothing of zmr's and
    only <stddef.h> and <stdint.h>. A plugin defines one symbol,

        const zmr_plugin_t zmr_plugin = {
            .abi = ZMR_PLUGIN_ABI,
            .name = "bytes-per-client",
            .map = my_map,                  //  required
            .init = my_init,                //  optional (NULL)
            .fini = my_fini,                //  optional (NULL)
        };

    and is built with `cc -shared -fPIC -o libmine.so mine.c`. It runs in
    a mapper started with `zmr-mapper --plugin ./libmine.so` (or `zmr run
    --plugin ./libmine.so FILE...`); the mapper loads it with dlopen
    (RTLD_NOW | RTLD_LOCAL) and refuses one whose abi is not the mapper's.

    How it is called. Input is cut into chunks at line ends; for each line
    of a chunk, in order, the mapper calls map with the line's bytes (its
    '\n' not included; a last line without one is a line too; bytes are
    not NUL ended and may hold any byte). map emits zero or more pairs with
    emit->fn (emit, key, keylen, value): key is any bytes (copied before
    emit returns), value a signed 64-bit integer. Pairs of one key merge by
    the job's reduce (sum by default, or min or max; a sum that would
    overflow fails the chunk). emit->fn returns 0, or non-zero when the
    chunk has failed (a key longer than the job allows, an overflow, out of
    memory): map should then stop and return non-zero; the chunk fails
    either way. map returns 0, or non-zero to fail the chunk (the chunk is
    then counted as failed and given to another mapper; after
    --poison-limit failures the job stops naming it).

    State. init, if not NULL, is called once when the mapper loads the
    plugin, before any map, and sets *state (returns 0, or non-zero: the
    mapper cannot run the job); the state is passed to every map and to
    fini, called once before the plugin is unloaded. One mapper calls its
    plugin from one thread only, never two calls at once; several mappers
    are several processes. map must not keep pointers to line or key past
    its return, must not exit, and should not write to stdout or stderr
    except to say why it fails. */
#ifndef ZMR_PLUGIN_H
#define ZMR_PLUGIN_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The version of this interface. A plugin built against another is
//  refused; it changes whenever zmr_plugin_t or zmr_emit_t change.
#define ZMR_PLUGIN_ABI 1

//  The symbol the mapper looks up.
#define ZMR_PLUGIN_SYMBOL "zmr_plugin"

typedef struct zmr_emit zmr_emit_t;
struct zmr_emit {
    //  Emits one pair. Returns 0, or non-zero: stop and return non-zero.
    int (*fn) (zmr_emit_t *emit, const char *key, size_t keylen, int64_t value);
    void *mapper;       //  The mapper's; a plugin does not touch it
};

typedef struct {
    uint32_t abi;               //  ZMR_PLUGIN_ABI
    const char *name;           //  For logs
    //  Per mapper: sets *state; returns 0, or non-zero to fail loading.
    int (*init) (void **state);
    //  Maps one line; returns 0, or non-zero to fail the chunk.
    int (*map) (const char *line, size_t len, zmr_emit_t *emit, void *state);
    //  Frees the state of init.
    void (*fini) (void *state);
} zmr_plugin_t;

#ifdef __cplusplus
}
#endif
#endif
