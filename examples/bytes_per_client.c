/*  An example zmr map plugin: bytes sent per client, over a web server's
    access log in the Common Log Format

        10.0.0.7 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5120

    key: the line's first field (the client), value: its last field (the
    bytes sent) when that is a whole number; a line whose last field is not
    (a "-" for no body, a blank line) is skipped. Run it with the sum:

        zmr run --plugin build/examples/libzmr_example.so access.log

    The same job as a command: --map 'awk "\$NF ~ /^[0-9]+$/ {print \$1 \"\t\" \$NF}"'.
    Built by examples/CMakeLists.txt; it needs nothing but zmr_plugin.h. */
#include "zmr_plugin.h"
#include <stdint.h>

static int
s_is_space (char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int
s_map (const char *line, size_t len, zmr_emit_t *emit, void *state)
{
    (void) state;
    //  The last field
    size_t end = len;
    while (end > 0 && s_is_space (line[end - 1]))
        end--;
    size_t begin = end;
    while (begin > 0 && !s_is_space (line[begin - 1]))
        begin--;
    if (begin == end || end - begin > 18)
        return 0;       //  No last field, or more digits than surely fit
    int64_t bytes = 0;
    for (size_t i = begin; i < end; i++) {
        if (line[i] < '0' || line[i] > '9')
            return 0;   //  Not a number ("-": no body)
        bytes = bytes * 10 + (line[i] - '0');
    }
    //  The first field
    size_t first = 0;
    while (first < len && s_is_space (line[first]))
        first++;
    size_t key_end = first;
    while (key_end < len && !s_is_space (line[key_end]))
        key_end++;
    if (key_end >= begin)
        return 0;       //  One field only: no client
    return emit->fn (emit, line + first, key_end - first, bytes);
}

const zmr_plugin_t zmr_plugin = {
    .abi = ZMR_PLUGIN_ABI,
    .name = "bytes-per-client",
    .map = s_map,
};
