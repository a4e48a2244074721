/*  zmr_metrics: a job's status as Prometheus text exposition (0.0.4), one
    pure function of the status, so every scrape of one state reads alike. */
#ifndef ZMR_METRICS_H
#define ZMR_METRICS_H
#include "zmr.h"

//  Writes the metrics of status (NULL: none received yet) to out. fresh
//  says whether it came within ZMR_HTTP_FRESH_MS, age_ms how long ago
//  (since the server started when none came).
void
    zmr_metrics_write (const zmr_status_t *status, bool fresh, uint64_t age_ms,
                       FILE *out);

#endif
