/*  Fuzz target: any bytes as a frame, header included (signature, version,
    type, field count: every check before the fields). */
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zmr_fuzz_walk (data, size);
    return 0;
}
