/*  Option parsing and endpoint handling that every role's command line uses. */
#include <criterion/criterion.h>
#include "zmr.h"

Test (util, parses_sizes_with_binary_suffixes)
{
    uint64_t v;
    cr_assert_eq (zmr_parse_size ("64K", 1, UINT64_MAX, &v), 0);
    cr_assert_eq (v, 65536);
    cr_assert_eq (zmr_parse_size ("1M", 1, UINT64_MAX, &v), 0);
    cr_assert_eq (v, 1048576);
    cr_assert_eq (zmr_parse_size ("2GiB", 1, UINT64_MAX, &v), 0);
    cr_assert_eq (v, 2147483648ull);
    cr_assert_eq (zmr_parse_size ("100", 1, UINT64_MAX, &v), 0);
    cr_assert_eq (v, 100);
    cr_assert_eq (zmr_parse_size ("5Q", 1, UINT64_MAX, &v), -1);
    cr_assert_eq (zmr_parse_size ("-1", 0, UINT64_MAX, &v), -1);
    cr_assert_eq (zmr_parse_size ("", 0, UINT64_MAX, &v), -1);
    cr_assert_eq (zmr_parse_size ("99999999999999999999K", 0, UINT64_MAX, &v), -1);
    cr_assert_eq (zmr_parse_size ("65M", 1, 64u << 20, &v), -1, "above the maximum");
}

Test (util, parses_whole_numbers_in_range_only)
{
    uint64_t v;
    cr_assert_eq (zmr_parse_u64 ("8", 1, 8, &v), 0);
    cr_assert_eq (v, 8);
    cr_assert_eq (zmr_parse_u64 ("0", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 ("9", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 ("3x", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 (" 3", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 ("+3", 1, 8, &v), -1);
    cr_assert_eq (zmr_parse_u64 ("18446744073709551616", 0, UINT64_MAX, &v), -1);
}

Test (util, replaces_only_wildcard_tcp_hosts)
{
    char out[ZMR_ENDPOINT_MAX];
    cr_assert_eq (zmr_endpoint_with_host ("tcp://*:5560", "10.1.2.3", out, sizeof out), 0);
    cr_assert_str_eq (out, "tcp://10.1.2.3:5560");
    zmr_endpoint_with_host ("tcp://0.0.0.0:5560", "host.example", out, sizeof out);
    cr_assert_str_eq (out, "tcp://host.example:5560");
    zmr_endpoint_with_host ("tcp://*:5560", "::1", out, sizeof out);
    cr_assert_str_eq (out, "tcp://[::1]:5560");
    zmr_endpoint_with_host ("tcp://192.168.0.5:5560", "10.1.2.3", out, sizeof out);
    cr_assert_str_eq (out, "tcp://192.168.0.5:5560");
    zmr_endpoint_with_host ("ipc:///tmp/x", "10.1.2.3", out, sizeof out);
    cr_assert_str_eq (out, "ipc:///tmp/x");
    zmr_endpoint_with_host ("tcp://*:5560", NULL, out, sizeof out);
    cr_assert_str_eq (out, "tcp://*:5560");
    char tiny[8];
    cr_assert_eq (zmr_endpoint_with_host ("tcp://*:5560", "10.1.2.3", tiny, sizeof tiny), -1);
}

Test (util, extracts_the_host_of_tcp_endpoints)
{
    char host[64];
    zmr_endpoint_host ("tcp://vent.example:5550", host, sizeof host);
    cr_assert_str_eq (host, "vent.example");
    zmr_endpoint_host ("tcp://[::1]:5550", host, sizeof host);
    cr_assert_str_eq (host, "[::1]");
    zmr_endpoint_host ("ipc:///tmp/c", host, sizeof host);
    cr_assert_str_eq (host, "");
}

Test (json, escapes_controls_quotes_and_invalid_utf8)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    zmr_json_string (out, "a\"b\\c\n\t\x01\x7f\xc3\xa9\xff\xc3", 13);
    fclose (out);
    cr_assert_str_eq (text, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\xc3\xa9\\u00ff\\u00c3\"");
    free (text);
}
