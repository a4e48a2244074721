/*  zmr_mpr: bounded MessagePack reader. See zmr_mpr.h for why it exists;
    the format is the MessagePack specification's, nothing more. */
#include "zmr_mpr.h"
#include <string.h>

void
zmr_mpr_init (zmr_mpr_t *self, const void *data, size_t len)
{
    self->pos = (const uint8_t *) data;
    self->end = self->pos + len;
    self->error = NULL;
}

int
zmr_mpr_fail (zmr_mpr_t *self, const char *reason)
{
    if (!self->error)
        self->error = reason;
    return -1;
}

size_t
zmr_mpr_left (const zmr_mpr_t *self)
{
    return (size_t) (self->end - self->pos);
}

const char *
zmr_mpr_error (const zmr_mpr_t *self)
{
    return self->error;
}

//  Reads an n-byte big-endian number following the type byte.
static int
s_take_be (zmr_mpr_t *self, size_t n, uint64_t *value)
{
    if (zmr_mpr_left (self) < n)
        return zmr_mpr_fail (self, "truncated number");
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | self->pos[i];
    self->pos += n;
    *value = v;
    return 0;
}

//  Reads the type byte, without consuming it on failure paths that matter:
//  the reader is dead after any failure anyway.
static int
s_type (zmr_mpr_t *self, uint8_t *type)
{
    if (self->error)
        return -1;
    if (self->pos >= self->end)
        return zmr_mpr_fail (self, "truncated frame");
    *type = *self->pos++;
    return 0;
}

static int
s_container (zmr_mpr_t *self, uint32_t *count, bool is_map)
{
    uint8_t type;
    if (s_type (self, &type))
        return -1;
    uint64_t n;
    if (!is_map && (type & 0xf0) == 0x90)
        n = type & 0x0f;
    else
    if (is_map && (type & 0xf0) == 0x80)
        n = type & 0x0f;
    else
    if (type == (is_map ? 0xde : 0xdc)) {
        if (s_take_be (self, 2, &n))
            return -1;
    }
    else
    if (type == (is_map ? 0xdf : 0xdd)) {
        if (s_take_be (self, 4, &n))
            return -1;
    }
    else
        return zmr_mpr_fail (self, is_map ? "expected a map" : "expected an array");
    //  Each element takes at least one byte: a count beyond the bytes left
    //  is a lie, refused before anyone sizes anything by it.
    if (n * (is_map ? 2 : 1) > zmr_mpr_left (self))
        return zmr_mpr_fail (self, is_map ? "map count beyond frame"
                                          : "array count beyond frame");
    *count = (uint32_t) n;
    return 0;
}

int
zmr_mpr_array (zmr_mpr_t *self, uint32_t *count)
{
    return s_container (self, count, false);
}

int
zmr_mpr_map (zmr_mpr_t *self, uint32_t *count)
{
    return s_container (self, count, true);
}

int
zmr_mpr_uint (zmr_mpr_t *self, uint64_t *value)
{
    uint8_t type;
    if (s_type (self, &type))
        return -1;
    if (type <= 0x7f) {
        *value = type;
        return 0;
    }
    uint64_t v;
    switch (type) {
        case 0xcc: return s_take_be (self, 1, value);
        case 0xcd: return s_take_be (self, 2, value);
        case 0xce: return s_take_be (self, 4, value);
        case 0xcf: return s_take_be (self, 8, value);
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            size_t n = (size_t) 1 << (type - 0xd0);
            if (s_take_be (self, n, &v))
                return -1;
            //  A signed encoding is fine as long as the value is not negative.
            if (v >> (n * 8 - 1))
                return zmr_mpr_fail (self, "negative integer");
            *value = v;
            return 0;
        }
        default:
            return zmr_mpr_fail (self, "expected an unsigned integer");
    }
}

int
zmr_mpr_int (zmr_mpr_t *self, int64_t *value)
{
    uint8_t type;
    if (s_type (self, &type))
        return -1;
    if (type <= 0x7f || type >= 0xe0) {
        *value = (int8_t) type;
        return 0;
    }
    uint64_t v;
    switch (type) {
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            if (s_take_be (self, (size_t) 1 << (type - 0xcc), &v))
                return -1;
            if (v > INT64_MAX)
                return zmr_mpr_fail (self, "integer out of the signed 64-bit range");
            *value = (int64_t) v;
            return 0;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            size_t n = (size_t) 1 << (type - 0xd0);
            if (s_take_be (self, n, &v))
                return -1;
            //  Sign-extend the n-byte two's complement value.
            if (n < 8 && (v >> (n * 8 - 1)))
                v |= ~(uint64_t) 0 << (n * 8);
            *value = (int64_t) v;
            return 0;
        }
        default:
            return zmr_mpr_fail (self, "expected an integer");
    }
}

int
zmr_mpr_bool (zmr_mpr_t *self, bool *value)
{
    uint8_t type;
    if (s_type (self, &type))
        return -1;
    if (type != 0xc2 && type != 0xc3)
        return zmr_mpr_fail (self, "expected a boolean");
    *value = type == 0xc3;
    return 0;
}

//  Reads the length of a str (is_bin false) or bin, then the view.
static int
s_raw (zmr_mpr_t *self, const char **data, uint32_t *len, bool is_bin)
{
    uint8_t type;
    if (s_type (self, &type))
        return -1;
    uint64_t n;
    if (!is_bin && (type & 0xe0) == 0xa0)
        n = type & 0x1f;
    else
    if (type == (is_bin ? 0xc4 : 0xd9)) {
        if (s_take_be (self, 1, &n))
            return -1;
    }
    else
    if (type == (is_bin ? 0xc5 : 0xda)) {
        if (s_take_be (self, 2, &n))
            return -1;
    }
    else
    if (type == (is_bin ? 0xc6 : 0xdb)) {
        if (s_take_be (self, 4, &n))
            return -1;
    }
    else
        return zmr_mpr_fail (self, is_bin ? "expected a binary" : "expected a string");
    if (n > zmr_mpr_left (self))
        return zmr_mpr_fail (self, "length beyond frame");
    *data = (const char *) self->pos;
    *len = (uint32_t) n;
    self->pos += n;
    return 0;
}

int
zmr_mpr_str (zmr_mpr_t *self, const char **data, uint32_t *len)
{
    return s_raw (self, data, len, false);
}

int
zmr_mpr_bin (zmr_mpr_t *self, const char **data, uint32_t *len)
{
    return s_raw (self, data, len, true);
}

int
zmr_mpr_cstr (zmr_mpr_t *self, char *buf, size_t size)
{
    const char *data;
    uint32_t len;
    if (zmr_mpr_str (self, &data, &len))
        return -1;
    if (len >= size)
        return zmr_mpr_fail (self, "string too long");
    if (memchr (data, 0, len))
        return zmr_mpr_fail (self, "string holds a NUL byte");
    memcpy (buf, data, len);
    buf[len] = 0;
    return 0;
}

//  Bytes that follow a type byte for the fixed-size types, or -1.
static int
s_fixed_size (uint8_t type)
{
    if (type <= 0x7f || type >= 0xe0 || type == 0xc0 || type == 0xc2 || type == 0xc3)
        return 0;
    switch (type) {
        case 0xcc: case 0xd0: return 1;
        case 0xcd: case 0xd1: return 2;
        case 0xce: case 0xd2: case 0xca: return 4;
        case 0xcf: case 0xd3: case 0xcb: return 8;
        case 0xd4: return 2;        //  fixext 1: type + 1
        case 0xd5: return 3;
        case 0xd6: return 5;
        case 0xd7: return 9;
        case 0xd8: return 17;
        default: return -1;
    }
}

int
zmr_mpr_skip (zmr_mpr_t *self, int max_depth)
{
    if (self->error)
        return -1;
    if (self->pos >= self->end)
        return zmr_mpr_fail (self, "truncated frame");
    uint8_t type = *self->pos;
    int fixed = s_fixed_size (type);
    if (fixed >= 0) {
        if (zmr_mpr_left (self) < (size_t) fixed + 1)
            return zmr_mpr_fail (self, "truncated value");
        self->pos += fixed + 1;
        return 0;
    }
    const char *data;
    uint32_t n;
    if ((type & 0xe0) == 0xa0 || type == 0xd9 || type == 0xda || type == 0xdb)
        return zmr_mpr_str (self, &data, &n);
    if (type == 0xc4 || type == 0xc5 || type == 0xc6)
        return zmr_mpr_bin (self, &data, &n);
    if (type == 0xc7 || type == 0xc8 || type == 0xc9) {
        uint64_t len;
        self->pos++;
        if (s_take_be (self, (size_t) 1 << (type - 0xc7), &len))
            return -1;
        if (len + 1 > zmr_mpr_left (self))
            return zmr_mpr_fail (self, "length beyond frame");
        self->pos += len + 1;
        return 0;
    }
    bool is_map = (type & 0xf0) == 0x80 || type == 0xde || type == 0xdf;
    bool is_array = (type & 0xf0) == 0x90 || type == 0xdc || type == 0xdd;
    if (!is_map && !is_array)
        return zmr_mpr_fail (self, "unknown type byte");
    if (max_depth <= 0)
        return zmr_mpr_fail (self, "nested too deep");
    if (s_container (self, &n, is_map))
        return -1;
    uint64_t items = (uint64_t) n * (is_map ? 2 : 1);
    for (uint64_t i = 0; i < items; i++)
        if (zmr_mpr_skip (self, max_depth - 1))
            return -1;
    return 0;
}

int
zmr_mpr_finish (zmr_mpr_t *self)
{
    if (self->error)
        return -1;
    if (self->pos != self->end)
        return zmr_mpr_fail (self, "trailing bytes");
    return 0;
}
