/*  What every fuzz target does with a frame that decodes: walks all of it
    the way a role would (pairs, chunk lists, endpoints, the status map and
    its JSON), so that a bad frame the decoder let through would be caught
    by the sanitizers here, not in a role. */
#ifndef ZMR_FUZZ_COMMON_H
#define ZMR_FUZZ_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "zmr.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static inline void
zmr_fuzz_walk (const void *data, size_t size)
{
    zmr_msg_t msg;
    const char *why;
    if (zmr_msg_decode (data, size, &msg, &why))
        return;
    const char *word;
    uint32_t len;
    uint64_t count, chunk, stamp;
    volatile uint64_t sink = 0;
    while (zmr_msg_next_pair (&msg, &word, &len, &count))
        sink += count + (len? (uint8_t) word[len - 1]: 0);
    while (zmr_msg_next_chunk (&msg, &chunk, &stamp))
        sink += chunk ^ stamp;
    if (msg.type == ZMR_WELCOME) {
        char endpoint[ZMR_ENDPOINT_MAX], key[ZMR_KEY_MAX];
        while (zmr_msg_next_endpoint (&msg, endpoint, key) == 0)
            sink += (uint8_t) endpoint[0] + (uint8_t) key[0];
    }
    if (msg.type == ZMR_STATUS || msg.type == ZMR_FINISH) {
        zmr_status_t status = { 0 };
        if (zmr_status_decode (&msg, &status, &why) == 0) {
            char *text = NULL;
            size_t text_len = 0;
            FILE *out = open_memstream (&text, &text_len);
            if (out) {
                zmr_status_write_json (&status, out);
                zmr_status_write_progress (&status, out, 80);
                fclose (out);
            }
            free (text);
        }
        zmr_status_reset (&status);
    }
    (void) sink;
}

#endif
