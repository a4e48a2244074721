/*  zmr_monitor: a read-only view of a job's status channel. Attaches at any
    moment, gets the full state within one status period, and can never slow
    the job: it only subscribes, and its queue keeps the newest state only. */
#ifndef ZMR_MONITOR_H
#define ZMR_MONITOR_H
#include "zmr.h"
#include "zmr_http.h"

typedef enum {
    ZMR_VIEW_LIVE,           //  Redrawn terminal view
    ZMR_VIEW_LINES,          //  One summary line per update (not a terminal)
    ZMR_VIEW_JSON,           //  One JSON object per update
    ZMR_VIEW_NONE            //  Nothing on stdout (--http without a terminal)
} zmr_view_t;

typedef struct {
    const char *endpoint;    //  The ventilator's status endpoint
    zmr_view_t view;         //  How to show updates
    bool once;               //  Exit after the first update
    bool keep;               //  Stay after the job ends (wait for the next)
    uint32_t wait_ms;        //  Give up if no update within this (0: never)
    zmr_http_t *http;        //  Serves each update too, or NULL (borrowed)
} zmr_monitor_config_t;

//  Shows the job until it ends (done or failed), a signal, or --once.
//  Returns 0, or 1 when nothing was heard within wait_ms or the job failed.
int
    zmr_monitor_run (const zmr_monitor_config_t *config);

#endif
