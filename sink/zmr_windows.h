/*  zmr_windows: the sink's windows, collected from WINDOW parts and
    written once every partition's are here. */
#ifndef ZMR_WINDOWS_H
#define ZMR_WINDOWS_H
#include "zmr_sink_state.h"

//  Takes a part of a window's counts (msg a WINDOW); a window found whole
//  is written, told to the ventilator (WSTORED) and freed.
void
    zmr_windows_on_part (zmr_sink_state_t *self, zmr_msg_t *msg);

//  A sink started again on a --window-dir kept (--force): cuts DIR/late.tsv
//  after the last whole line whose window's file is there. Returns 0, or
//  -1 after saying why.
int
    zmr_windows_late_recover (const char *dir);

//  Frees the window being collected, if any.
void
    zmr_windows_free (zmr_sink_state_t *self);

#endif
