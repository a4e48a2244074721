/*  test_plugin: the plugin loader (mapper/zmr_loader.c) with the example
    plugin (examples/bytes_per_client.c), checked against awk over the same
    log, and with broken plugins: another ABI, no zmr_plugin symbol, no
    such file, not a shared object. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zmr_loader.h"

typedef struct {
    zmr_emit_t emit;
    char keys[64][64];
    int64_t values[64];
    int n;
    int stop_after;          //  fn says stop after this many (0: never)
} s_sink_t;

//  Sums by key, in a small table: the test's own merge
static int
s_emit (zmr_emit_t *emit, const char *key, size_t keylen, int64_t value)
{
    s_sink_t *sink = emit->mapper;
    cr_assert_lt (keylen, 64);
    for (int i = 0; i < sink->n; i++)
        if (strlen (sink->keys[i]) == keylen && !memcmp (sink->keys[i], key, keylen)) {
            sink->values[i] += value;
            return sink->stop_after && sink->n >= sink->stop_after;
        }
    cr_assert_lt (sink->n, 64);
    memcpy (sink->keys[sink->n], key, keylen);
    sink->keys[sink->n][keylen] = 0;
    sink->values[sink->n++] = value;
    return sink->stop_after && sink->n >= sink->stop_after;
}

static void
s_sink_init (s_sink_t *sink)
{
    memset (sink, 0, sizeof *sink);
    sink->emit.fn = s_emit;
    sink->emit.mapper = sink;
}

static int
s_compare_lines (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

Test (plugin, example_matches_awk)
{
    const char *log =
        "10.0.0.7 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5120\n"
        "10.0.0.8 - - [07/Dec/2026:10:00:01 +0000] \"GET /a HTTP/1.1\" 200 77\n"
        "10.0.0.7 - - [07/Dec/2026:10:00:02 +0000] \"GET /b HTTP/1.1\" 304 -\n"
        "\n"
        "10.0.0.7 - - [07/Dec/2026:10:00:03 +0000] \"POST /c HTTP/1.1\" 201 1000  \n"
        "lonely\n"
        "10.0.0.9 - - [07/Dec/2026:10:00:04 +0000] \"GET /d HTTP/1.1\" 200 0\n"
        "10.0.0.8 - - [07/Dec/2026:10:00:05 +0000] \"GET /e HTTP/1.1\" 500 12x\n"
        "  10.0.0.8 x 3";
    char err[512];
    zmr_loader_t *plugin = zmr_loader_open (ZMR_EXAMPLE_PLUGIN, err, sizeof err);
    cr_assert_not_null (plugin, "%s", err);
    cr_assert_str_eq (zmr_loader_name (plugin), "bytes-per-client");
    s_sink_t sink;
    s_sink_init (&sink);
    for (const char *at = log; *at;) {
        const char *nl = strchr (at, '\n');
        size_t len = nl? (size_t) (nl - at): strlen (at);
        cr_assert_eq (zmr_loader_map (plugin, at, len, &sink.emit), 0);
        at += len + (nl? 1: 0);
    }
    zmr_loader_close (&plugin);
    cr_assert_null (plugin);

    //  awk: the first field, the sum of the last where it is a number
    char dir[] = "/tmp/zmr_test_plugin_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path[128], command[512];
    snprintf (path, sizeof path, "%s/log", dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs (log, file);
    fclose (file);
    snprintf (command, sizeof command, "awk 'NF > 1 && $NF ~ /^[0-9]+$/ { s[$1] += $NF } "
              "END { for (k in s) printf \"%%s %%d\\n\", k, s[k] }' %s | LC_ALL=C sort", path);
    FILE *awk = popen (command, "r");
    cr_assert_not_null (awk);
    char expected[4096] = "", line[256];
    while (fgets (line, sizeof line, awk))
        strcat (expected, line);
    cr_assert_eq (pclose (awk), 0);
    unlink (path);
    rmdir (dir);

    char *lines[64];
    for (int i = 0; i < sink.n; i++)
        cr_assert_gt (asprintf (&lines[i], "%s %" PRId64 "\n", sink.keys[i], sink.values[i]), 0);
    qsort (lines, (size_t) sink.n, sizeof lines[0], s_compare_lines);
    char got[4096] = "";
    for (int i = 0; i < sink.n; i++) {
        strcat (got, lines[i]);
        free (lines[i]);
    }
    cr_assert_str_eq (got, expected);
    cr_assert_str_eq (got, "10.0.0.7 6120\n10.0.0.8 80\n10.0.0.9 0\n", "the awk reference moved");
}

Test (plugin, state_and_failure)
{
    char dir[] = "/tmp/zmr_test_plugin_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char fini[128];
    snprintf (fini, sizeof fini, "%s/fini", dir);
    setenv ("ZMR_TEST_PLUGIN_FINI", fini, 1);
    char err[512];
    zmr_loader_t *plugin = zmr_loader_open (ZMR_STATEFUL_PLUGIN, err, sizeof err);
    cr_assert_not_null (plugin, "%s", err);
    s_sink_t sink;
    s_sink_init (&sink);
    cr_assert_eq (zmr_loader_map (plugin, "a", 1, &sink.emit), 0);
    cr_assert_eq (zmr_loader_map (plugin, "b", 1, &sink.emit), 0);
    cr_assert_neq (zmr_loader_map (plugin, "fail", 4, &sink.emit), 0, "map's failure is told");
    //  The emit's stop reaches the plugin's return
    sink.stop_after = 3;
    cr_assert_neq (zmr_loader_map (plugin, "c", 1, &sink.emit), 0, "emit's stop is told");
    cr_assert_eq (sink.n, 3);
    cr_assert_eq (sink.values[1], 2, "the state lives across calls");
    zmr_loader_close (&plugin);
    FILE *file = fopen (fini, "r");
    cr_assert_not_null (file, "fini was not called");
    long long seen = 0;
    cr_assert_eq (fscanf (file, "%lld", &seen), 1);
    fclose (file);
    cr_assert_eq (seen, 3);
    unlink (fini);
    rmdir (dir);
}

Test (plugin, broken_ones_are_refused)
{
    char err[512];
    zmr_loader_t *plugin = zmr_loader_open (ZMR_BAD_ABI_PLUGIN, err, sizeof err);
    cr_assert_null (plugin);
    cr_assert (strstr (err, "is built for plugin ABI 2, this mapper takes 1"), "%s", err);
    cr_assert (strstr (err, ZMR_BAD_ABI_PLUGIN), "%s", err);

    plugin = zmr_loader_open (ZMR_NO_SYMBOL_PLUGIN, err, sizeof err);
    cr_assert_null (plugin);
    cr_assert (strstr (err, "defines no symbol 'zmr_plugin'"), "%s", err);

    plugin = zmr_loader_open ("/nonexistent/libnothing.so", err, sizeof err);
    cr_assert_null (plugin);
    cr_assert (strstr (err, "cannot load plugin /nonexistent/libnothing.so: "), "%s", err);

    //  Not a shared object
    char dir[] = "/tmp/zmr_test_plugin_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path[128];
    snprintf (path, sizeof path, "%s/text.so", dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs ("not an ELF file\n", file);
    fclose (file);
    plugin = zmr_loader_open (path, err, sizeof err);
    cr_assert_null (plugin);
    cr_assert (strstr (err, "cannot load plugin "), "%s", err);
    unlink (path);
    rmdir (dir);

    //  The good one still loads after them: no error is left behind
    plugin = zmr_loader_open (ZMR_EXAMPLE_PLUGIN, err, sizeof err);
    cr_assert_not_null (plugin, "%s", err);
    zmr_loader_close (&plugin);
    zmr_loader_close (&plugin);
    zmr_loader_close (NULL);
}

//  zmr-mapper ARGS, its stderr into a file of dir: returns its exit status
//  and the lines it wrote (counted) and the first of them in first.
static int
s_mapper (const char *dir, const char *args, int *lines, char *first, size_t size)
{
    char command[1024], path[256];
    snprintf (path, sizeof path, "%s/stderr", dir);
    snprintf (command, sizeof command, "'%s' %s >/dev/null 2>'%s'", ZMR_MAPPER, args, path);
    int status = system (command);
    cr_assert (status != -1 && WIFEXITED (status), "%s did not exit", command);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    char line[1024];
    *lines = 0;
    first[0] = 0;
    while (fgets (line, sizeof line, file))
        if ((*lines)++ == 0)
            snprintf (first, size, "%s", line);
    fclose (file);
    unlink (path);
    return WEXITSTATUS (status);
}

//  A plugin the mapper cannot run is refused when it starts, in one line,
//  exit 2, before any job comes (issue 16 part 2, F1 item 3)
Test (plugin, mapper_checks_its_plugins_at_start)
{
    char dir[] = "/tmp/zmr_test_plugin_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char text[128];
    snprintf (text, sizeof text, "%s/text.so", dir);
    FILE *file = fopen (text, "w");
    cr_assert_not_null (file);
    fputs ("not an ELF file\n", file);
    fclose (file);
    struct { const char *path, *says; } broken[] = {
        { ZMR_BAD_ABI_PLUGIN, "is built for plugin ABI 2" },
        { ZMR_NO_SYMBOL_PLUGIN, "defines no symbol 'zmr_plugin'" },
        { ZMR_NO_MAP_PLUGIN, "has no map function" },
        { ZMR_UNDEFINED_PLUGIN, "undefined symbol: zmr_test_no_such_function" },
        { text, "cannot load plugin" },
    };
    char args[1024], first[1024];
    int lines;
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        //  Nothing answers at the endpoint: a mapper that started would
        //  wait there (--wait-ms) and exit 1
        snprintf (args, sizeof args, "--once --wait-ms 3000 --plugin '%s' "
                  "ipc://%s/nobody", broken[i].path, dir);
        int code = s_mapper (dir, args, &lines, first, sizeof first);
        cr_expect_eq (code, 2, "--plugin %s: exit %d: %s", broken[i].path, code, first);
        cr_expect_eq (lines, 1, "--plugin %s: %d lines: %s", broken[i].path, lines, first);
        cr_expect (strstr (first, broken[i].says), "--plugin %s: %s", broken[i].path, first);
    }
    //  --help: exit 0 (under ASan, no leak of the allow list either)
    int code = s_mapper (dir, "--map cat --plugin " ZMR_EXAMPLE_PLUGIN " --help", &lines, first,
                         sizeof first);
    cr_expect_eq (code, 0, "--help: exit %d: %s", code, first);
    cr_expect_eq (lines, 0, "--help wrote to stderr: %s", first);
    unlink (text);
    rmdir (dir);
}
