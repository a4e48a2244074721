/*  Fuzz targets for the fields of one family of messages (built once per
    family, ZMR_FUZZ_FAMILY): a valid header is put in front of the input,
    so the fuzzer spends its time in the fields' decoders. Input byte 0
    picks the type among the family's, byte 1 the array's element count
    (4 + 0..15); the rest are the fields.
      1 chunk:   CHUNK
      2 batch:   BATCH, RESULT, UPDATE, WINDOW, TOTALS, LIVESTAT (pairs)
      3 status:  STATUS, FINISH (the state map)
      4 control: every other message */
#include "fuzz_common.h"
#include <string.h>

#include "fuzz_families.h"

#if ZMR_FUZZ_FAMILY == 1
#define s_types zmr_fuzz_chunk
#elif ZMR_FUZZ_FAMILY == 2
#define s_types zmr_fuzz_batch
#elif ZMR_FUZZ_FAMILY == 3
#define s_types zmr_fuzz_status
#elif ZMR_FUZZ_FAMILY == 4
#define s_types zmr_fuzz_control
#else
#error "ZMR_FUZZ_FAMILY must be 1..4"
#endif

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2 || size > (1u << 20))
        return 0;
    int type = s_types[data[0] % ZMR_FUZZ_COUNT (s_types)];
    uint32_t fields = data[1] % 16;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    zmr_msg_begin (&pk, type, 0x1234, fields);
    msgpack_sbuffer_write (&sbuf, (const char *) data + 2, size - 2);
    zmr_fuzz_walk (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return 0;
}
