/*  zmr_store: a reducer's durable state, so that a reducer killed at any
    moment comes back with every batch it ever ACKed. Two files in a
    directory of its own: a log of the BATCH frames applied since the last
    snapshot (appended before the ACK goes out), and a snapshot of the counts,
    of the applied chunk ids, of the job's reduce and of the pairs applied
    (written to a temporary name, fsynced and renamed over the old one, then
    the log is emptied). Recovery loads the snapshot and replays the log
    through the reducer's own apply path. The log's batches merge by the
    reduce the snapshot names, so a reducer writes a snapshot (empty, at
    first) before it logs the first batch of a job. */
#ifndef ZMR_STORE_H
#define ZMR_STORE_H
#include <stddef.h>
#include <stdint.h>
#include "zmr_counts.h"
#include "zmr_u64set.h"

typedef struct _zmr_store_t zmr_store_t;

//  Called for each logged frame on replay, in the order they were logged.
//  Returns 0, or -1 to stop the load.
typedef int (zmr_store_replay_fn) (const void *frame, size_t len, void *arg);

//  Opens the store in dir (created if missing) for one partition. Returns
//  NULL with a one-line reason in errbuf when dir cannot be used.
zmr_store_t *
    zmr_store_open (const char *dir, uint32_t partition, char *errbuf, size_t errlen);

//  Closes the store; accepts NULL.
void
    zmr_store_destroy (zmr_store_t **self_p);

//  Loads what is stored: the snapshot's counts and applied ids into counts
//  and applied (both empty; counts is set to merge by the snapshot's
//  reduce), setting *job, *reducers, *reduce (zmr_reduce_t) and
//  *pair_count (the pairs of the batches applied) to the snapshot's (0, 0,
//  -1 and 0 when there is none), then every whole logged frame through
//  replay (which decides what a frame of which job means). A torn or
//  corrupt log tail is cut off. A log that holds frames without a snapshot
//  is refused (their reduce is unknown). Returns 0, or -1 with a reason in
//  errbuf.
int
    zmr_store_load (zmr_store_t *self, uint64_t *job, uint32_t *reducers,
                    int *reduce, uint64_t *pair_count,
                    zmr_counts_t *counts, zmr_u64set_t *applied,
                    zmr_store_replay_fn *replay, void *arg,
                    char *errbuf, size_t errlen);

//  Forgets everything stored (state of another job). Returns 0 or -1.
int
    zmr_store_reset (zmr_store_t *self);

//  Removes this partition's files (the job they held is over), then the
//  directory if nothing else is left in it, and closes the store (*self_p
//  becomes NULL). Returns 0, or -1 if a file could not be removed.
int
    zmr_store_remove (zmr_store_t **self_p);

//  Appends one frame to the log (written, not yet fsynced: it survives the
//  process, not the machine). Returns 0 or -1.
int
    zmr_store_append (zmr_store_t *self, const void *frame, size_t len);

//  fsyncs the log. Returns 0 or -1.
int
    zmr_store_sync (zmr_store_t *self);

//  Bytes in the log since the last snapshot.
uint64_t
    zmr_store_log_bytes (zmr_store_t *self);

//  Writes a snapshot of counts, applied, the job's reduce and the pair
//  count atomically, then empties the log. Returns 0, or -1 (the previous
//  snapshot and the log stay valid).
int
    zmr_store_snapshot (zmr_store_t *self, uint64_t job, uint32_t reducers,
                        int reduce, uint64_t pair_count,
                        zmr_counts_t *counts, zmr_u64set_t *applied);

//  Open windows of a streaming job (ingest time, window_ms long each):
//  their counts are part of the snapshot, so that a reducer killed with
//  windows open comes back with them (the log's batches carry their stamps
//  and count into their windows again on replay).
typedef struct {
    uint64_t id;                     //  Its start, ms since the epoch
    zmr_counts_t *counts;            //  The partition's words in it
} zmr_store_window_t;

//  At load, for each window a snapshot holds: the (empty) table to load
//  it into, or NULL on out-of-memory.
typedef zmr_counts_t *(zmr_store_window_fn) (uint64_t id, void *arg);

//  Before zmr_store_load: where the snapshot's window length goes (0: no
//  windows) and what takes its windows' tables; *window_ms is set before the
//  log is replayed, so the replay can count batches into their windows.
//  Without it, a snapshot's windows are read and dropped.
void
    zmr_store_on_windows (zmr_store_t *self, uint64_t *window_ms,
                          zmr_store_window_fn *fn, void *arg);

//  zmr_store_snapshot, with the window length and the windows open (window_ms
//  0 and no windows: none, as zmr_store_snapshot; window_ms 0 with windows:
//  an event-time job's panes and side table, ids not aligned). Returns 0
//  or -1.
int
    zmr_store_snapshot_windows (zmr_store_t *self, uint64_t job, uint32_t reducers,
                                int reduce, uint64_t pair_count,
                                zmr_counts_t *counts, zmr_u64set_t *applied,
                                uint64_t window_ms, const zmr_store_window_t *windows,
                                size_t nwindows);

//  The record file format the store's log uses, for other append-only
//  files (the ventilator's journal): each record is 4 bytes length, 4 bytes
//  checksum, then the bytes. ZMR_RECORD_FAST set in the length: the
//  checksum is the fast one (written now); clear: FNV-1a (written before).
#define ZMR_RECORD_FAST (1u << 31)

//  Appends one record to fd with a single write. Returns 0 or -1.
int
    zmr_records_append (int fd, const void *data, size_t len);

//  Reads every whole record of fd from its start through each (return -1 to
//  stop with an error), cuts a torn or corrupt tail off, and leaves fd
//  positioned for appending. Sets *bytes to the size kept. Returns 0, or -1
//  on a read error or when each said stop.
int
    zmr_records_read (int fd, zmr_store_replay_fn *each, void *arg, uint64_t *bytes);

#endif
