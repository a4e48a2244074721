/*  zmr: the shared library of the five roles. One include for all modules,
    and the limits every role agrees on. */
#ifndef ZMR_H
#define ZMR_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef ZMR_VERSION
#define ZMR_VERSION "0.0.0"
#endif

#define ZMR_MAX_REDUCERS      256          //  Partitions a job may have
#define ZMR_DEFAULT_CHUNK     (4u << 20)   //  Bytes per chunk, cut at whitespace
#define ZMR_STREAM_CHUNK      (1u << 20)   //  ... when streaming (--stream, --live-ms)
#define ZMR_MAX_CHUNK         (64u << 20)  //  Longest chunk (hence word) accepted
#define ZMR_MAX_MSG           (ZMR_MAX_CHUNK + 4096)  //  Largest CHUNK frame
//  --max-message: the largest message a process takes on any socket, and
//  so the largest its job may send (a BATCH is at most twice its chunk).
#define ZMR_DEFAULT_MAX_MESSAGE (2 * (uint64_t) ZMR_MAX_MSG)
#define ZMR_MIN_MAX_MESSAGE     (1u << 20)

#include "zmr_tokenize.h"
#include "zmr_partition.h"
#include "zmr_counts.h"
#include "zmr_combiner.h"
#include "zmr_u64set.h"
#include "zmr_chunker.h"
#include "zmr_mpr.h"
#include "zmr_msg.h"
#include "zmr_status.h"
#include "zmr_json.h"
//  The process layers, each built only on those listed before it
//  (docs/architecture.md, "Layers"):
#include "zmr_util.h"
#include "zmr_log.h"
#include "zmr_option.h"
#include "zmr_curve.h"
#include "zmr_sock.h"
#include "zmr_config.h"
#include "zmr_join.h"
#include "zmr_store.h"
#include "zmr_journal.h"
#include "zmr_live.h"
#include "zmr_output.h"

#endif
