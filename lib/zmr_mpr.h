/*  zmr_mpr: a bounded MessagePack reader for frames from the network.
    msgpack-c's unpacker allocates what a frame declares before checking
    what the frame holds (five bytes can ask for gigabytes), so every decoder
    of zmr reads with this cursor instead: each declared length is checked
    against the bytes left before it is used, nothing is allocated, strings
    and binaries are views into the frame. The first failure sticks: after
    it every call fails and zmr_mpr_error says what went wrong. */
#ifndef ZMR_MPR_H
#define ZMR_MPR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *pos;      //  Next byte to read
    const uint8_t *end;      //  One past the last byte of the frame
    const char *error;       //  First failure, static text, or NULL
} zmr_mpr_t;

//  Starts reading data[0 .. len).
void
    zmr_mpr_init (zmr_mpr_t *self, const void *data, size_t len);

//  Each reader returns 0 and the value, or -1 (and sets the error) when the
//  next value is missing, truncated or of another type.

//  An array header; *count is checked against the bytes left (each element
//  takes at least one byte).
int zmr_mpr_array (zmr_mpr_t *self, uint32_t *count);
//  A map header; 2 * *count is checked against the bytes left.
int zmr_mpr_map (zmr_mpr_t *self, uint32_t *count);
//  A non-negative integer in any encoding (positive fixint, uint8..64, and
//  int8..64 holding a value >= 0).
int zmr_mpr_uint (zmr_mpr_t *self, uint64_t *value);
//  An integer in the signed 64-bit range in any encoding (fixints,
//  uint8..64 up to INT64_MAX, int8..64).
int zmr_mpr_int (zmr_mpr_t *self, int64_t *value);
//  A boolean.
int zmr_mpr_bool (zmr_mpr_t *self, bool *value);
//  A str; *data is a view into the frame, not NUL-terminated.
int zmr_mpr_str (zmr_mpr_t *self, const char **data, uint32_t *len);
//  A bin; *data is a view into the frame.
int zmr_mpr_bin (zmr_mpr_t *self, const char **data, uint32_t *len);
//  Skips one value of any type, nested at most max_depth levels.
int zmr_mpr_skip (zmr_mpr_t *self, int max_depth);
//  Reads a str into buf (size > 0) as a NUL-terminated string; fails if it
//  holds a NUL byte or does not fit.
int zmr_mpr_cstr (zmr_mpr_t *self, char *buf, size_t size);

//  Fails unless every byte has been read (no trailing bytes).
int zmr_mpr_finish (zmr_mpr_t *self);

//  Records a failure of the caller's own check (first failure wins); returns -1.
int zmr_mpr_fail (zmr_mpr_t *self, const char *reason);

//  Bytes not read yet.
size_t zmr_mpr_left (const zmr_mpr_t *self);

//  The first failure, or NULL. Static text.
const char *zmr_mpr_error (const zmr_mpr_t *self);

#endif
