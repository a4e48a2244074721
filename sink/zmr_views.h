/*  zmr_views: the sink's live views of the running totals (--follow,
    --snapshot, --publish) and the LIVESTAT it sends the ventilator. */
#ifndef ZMR_VIEWS_H
#define ZMR_VIEWS_H
#include "zmr_sink_state.h"

//  Does what is due of the live views; forced: all of it now (the job
//  ends). A view that cannot go on fails the sink (zmr_sink_fail).
void
    zmr_views_tick (zmr_sink_state_t *self, bool forced);

//  --publish: every entry as TOTALS of window (0: the running totals), the
//  last message final.
void
    zmr_views_publish_entries (zmr_sink_state_t *self, zmr_entry_t *entries, size_t count,
                               uint64_t window);

#endif
