/*  zmr_json: the little JSON that zmr writes (monitor --json): strings with
    every byte escaped safely, whatever the bytes are. */
#ifndef ZMR_JSON_H
#define ZMR_JSON_H
#include <stddef.h>
#include <stdio.h>

//  Writes data[0 .. len) as a JSON string literal (with quotes). Control
//  bytes, quote and backslash are escaped; bytes >= 0x80 that are not valid
//  UTF-8 are written as \u00XX of the byte so the output is always valid JSON.
void
    zmr_json_string (FILE *out, const char *data, size_t len);

#endif
