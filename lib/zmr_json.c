/*  zmr_json: JSON string escaping for the monitor's --json output. */
#include "zmr_json.h"
#include <stdint.h>

//  Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one.
static size_t
s_utf8_len (const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t min;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; cp = c & 0x1f; }
    else
    if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; cp = c & 0x0f; }
    else
    if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; cp = c & 0x07; }
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void
zmr_json_string (FILE *out, const char *data, size_t len)
{
    const unsigned char *s = (const unsigned char *) data;
    fputc ('"', out);
    for (size_t i = 0; i < len; ) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            fputc ('\\', out);
            fputc (c, out);
            i++;
        }
        else
        if (c == '\n') { fputs ("\\n", out); i++; }
        else
        if (c == '\t') { fputs ("\\t", out); i++; }
        else
        if (c < 0x20 || c == 0x7f) { fprintf (out, "\\u%04x", c); i++; }
        else
        if (c < 0x80) { fputc (c, out); i++; }
        else {
            size_t n = s_utf8_len (s + i, len - i);
            if (n) {
                fwrite (s + i, 1, n, out);
                i += n;
            }
            else {
                fprintf (out, "\\u%04x", c);
                i++;
            }
        }
    }
    fputc ('"', out);
}
