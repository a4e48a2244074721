/*  The message families of the typed fuzz targets (fuzz_typed.c) and of
    their seeds (make_seeds.c). */
#ifndef ZMR_FUZZ_FAMILIES_H
#define ZMR_FUZZ_FAMILIES_H
#include "zmr.h"

static const int zmr_fuzz_chunk[] = { ZMR_CHUNK };
static const int zmr_fuzz_batch[] = { ZMR_BATCH, ZMR_RESULT, ZMR_UPDATE, ZMR_WINDOW,
                                      ZMR_TOTALS, ZMR_LIVESTAT };
static const int zmr_fuzz_status[] = { ZMR_STATUS, ZMR_FINISH };
static const int zmr_fuzz_control[] = { ZMR_HELLO, ZMR_WELCOME, ZMR_REJECT, ZMR_TAKE,
                                        ZMR_MAPPED, ZMR_ACK, ZMR_HEARTBEAT, ZMR_BYE,
                                        ZMR_FLUSH, ZMR_STORED, ZMR_DONE, ZMR_AGAIN,
                                        ZMR_LIVE, ZMR_CLOSE, ZMR_WSTORED, ZMR_FAIL,
                                        ZMR_REST };
#define ZMR_FUZZ_COUNT(a) (sizeof (a) / sizeof ((a)[0]))

#endif
