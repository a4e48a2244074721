/*  test_command: the map command runner (mapper/zmr_command.c). Each case
    runs a real /bin/sh command and compares the pairs it printed with the
    pairs written out by hand in the test (or counted by the shell's own
    tools), and each failure's reason with the text the user is promised. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zmr_command.h"
#include "zmr_util.h"

typedef struct {
    char key[256];
    size_t len;
    int64_t value;
} s_pair_t;

typedef struct {
    s_pair_t *pairs;
    size_t n, cap;
    uint64_t total_len;      //  Of every key: for large outputs
    int ticks;
    int stop_at_tick;        //  tick says stop on this call (0: never)
    int refuse_at;           //  pair refuses its nth pair (0: never)
} s_got_t;

static int
s_pair (void *arg, const char *key, size_t len, int64_t value, char *reason, size_t size)
{
    s_got_t *got = arg;
    if (got->refuse_at && (int) got->n + 1 == got->refuse_at) {
        snprintf (reason, size, "pair %d refused", got->refuse_at);
        return -1;
    }
    if (got->n == got->cap) {
        got->cap = got->cap? got->cap * 2: 16;
        got->pairs = realloc (got->pairs, got->cap * sizeof *got->pairs);
        cr_assert_not_null (got->pairs);
    }
    s_pair_t *pair = &got->pairs[got->n++];
    pair->len = len;
    memcpy (pair->key, key, len < sizeof pair->key? len: sizeof pair->key);
    pair->value = value;
    got->total_len += len;
    return 0;
}

static int
s_tick (void *arg)
{
    s_got_t *got = arg;
    got->ticks++;
    return got->stop_at_tick && got->ticks >= got->stop_at_tick;
}

static int
s_run (const char *command, const void *input, size_t len, size_t max_key,
       uint64_t timeout_ms, s_got_t *got, zmr_command_result_t *result)
{
    zmr_command_t cmd = { .command = command, .timeout_ms = timeout_ms,
                          .max_key = max_key, .what = "chunk 7", .pair = s_pair,
                          .tick = s_tick, .arg = got };
    return zmr_command_run (&cmd, input, len, -1, 0, result);
}

static void
s_expect (s_got_t *got, size_t n, const char *const *keys, const int64_t *values)
{
    cr_assert_eq (got->n, n, "%zu pairs, expected %zu", got->n, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq (got->pairs[i].len, strlen (keys[i]), "pair %zu's key length", i);
        cr_assert_eq (memcmp (got->pairs[i].key, keys[i], got->pairs[i].len), 0,
                      "pair %zu's key", i);
        cr_assert_eq (got->pairs[i].value, values[i], "pair %zu: %" PRId64 ", expected %"
                      PRId64, i, got->pairs[i].value, values[i]);
    }
}

//  Descriptors open in this process.
static int
s_fds (void)
{
    DIR *dir = opendir ("/proc/self/fd");
    cr_assert_not_null (dir);
    int n = 0;
    while (readdir (dir))
        n++;
    closedir (dir);
    return n;
}

Test (command, pairs_as_printed)
{
    s_got_t got = { 0 };
    zmr_command_result_t result;
    //  Tab-split at the first tab; no tab: value 1; the empty line; the
    //  range's ends; a last line without its '\n'
    int rc = s_run ("printf 'a\\t3\\nb\\t-4\\nc\\nd\\t9223372036854775807\\n\\n"
                    "e\\t-9223372036854775808\\nf g\\t0\\nlast\\t-0'", "", 0, 64, 0,
                    &got, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    const char *keys[] = { "a", "b", "c", "d", "", "e", "f g", "last" };
    const int64_t values[] = { 3, -4, 1, INT64_MAX, 1, INT64_MIN, 0, 0 };
    s_expect (&got, 8, keys, values);
    cr_assert_eq (result.lines, 8);
    free (got.pairs);
}

Test (command, input_on_stdin)
{
    s_got_t got = { 0 };
    zmr_command_result_t result;
    const char *input = "x\t1\ny\t2\nx\t5\n";
    //  The key is everything before the first tab, the rest the value
    int rc = s_run ("cat", input, strlen (input), 64, 0, &got, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    const char *keys[] = { "x", "y", "x" };
    const int64_t values[] = { 1, 2, 5 };
    s_expect (&got, 3, keys, values);
    free (got.pairs);
}

//  10 MB of lines in; wc says how many it read
Test (command, large_input_read_whole)
{
    size_t len = 10u << 20;
    char *input = malloc (len);
    cr_assert_not_null (input);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        input[i] = i % 50 == 49? '\n': 'a' + (char) (i % 26);
        lines += input[i] == '\n';
    }
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int rc = s_run ("printf 'lines\\t%s\\n' $(wc -l)", input, len, 64, 0, &got, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    const char *keys[] = { "lines" };
    const int64_t values[] = { (int64_t) lines };
    s_expect (&got, 1, keys, values);
    cr_assert_eq (result.input_lines, lines + (input[len - 1] != '\n'), "the last line lacks its '\\n'");
    free (got.pairs);
    free (input);
}

//  A command that reads none of its input (or a little) and exits 0 is fine
Test (command, input_left_unread)
{
    size_t len = 10u << 20;
    char *input = malloc (len);
    cr_assert_not_null (input);
    memset (input, 'z', len);
    const char *commands[] = { "true", "head -c 10 > /dev/null; echo ok",
                               "exec 0<&-; echo ok" };
    for (int i = 0; i < 3; i++) {
        s_got_t got = { 0 };
        zmr_command_result_t result;
        int rc = s_run (commands[i], input, len, 64, 60000, &got, &result);
        cr_assert_eq (rc, 0, "%s: %s", commands[i], result.reason);
        cr_assert_eq (got.n, i? 1u: 0u, "%s", commands[i]);
        cr_assert_eq (result.input_lines, 1, "%s: one line, without its '\\n'", commands[i]);
        free (got.pairs);
    }
    free (input);
}

//  10 MB out before a byte is read, 10 MB in: a runner that writes all its
//  input before it reads would wait for ever (the timeout says so)
Test (command, writes_before_reading)
{
    size_t len = 10u << 20;
    char *input = malloc (len);
    cr_assert_not_null (input);
    memset (input, '\n', len);
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int rc = s_run ("awk 'BEGIN { s = sprintf (\"%100s\", \"\"); gsub (/ /, \"b\", s); "
                    "for (i = 0; i < 100000; i++) print s }'; "
                    "printf 'read\\t%s\\n' $(wc -c)", input, len, 100, 120000, &got, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    cr_assert_eq (got.n, 100001u);
    cr_assert_eq (got.total_len, 10000000u + 4);
    s_pair_t *last = &got.pairs[got.n - 1];
    cr_assert_eq (last->len, 4);
    cr_assert_eq (memcmp (last->key, "read", 4), 0);
    cr_assert_eq (last->value, (int64_t) len);
    free (got.pairs);
    free (input);
}

Test (command, exit_status)
{
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int rc = s_run ("echo a; exit 3", "", 0, 64, 0, &got, &result);
    cr_assert_eq (rc, -1);
    cr_assert_str_eq (result.reason, "map command exited 3 on chunk 7");
    cr_assert_not (result.interrupted);
    free (got.pairs);
}

Test (command, killed_by_signal)
{
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int rc = s_run ("echo a; kill -9 $$; echo b", "", 0, 64, 0, &got, &result);
    cr_assert_eq (rc, -1);
    cr_assert (strstr (result.reason, "map command was killed by signal 9"), "%s",
               result.reason);
    cr_assert (strstr (result.reason, "on chunk 7"), "%s", result.reason);
    free (got.pairs);
}

Test (command, timeout_kills_the_group)
{
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int64_t start = zmr_now_ms ();
    //  The sleep is the shell's child, in its group: killed with it, it
    //  does not hold stdout open for its 60 s
    int rc = s_run ("sleep 60; echo late", "", 0, 64, 300, &got, &result);
    cr_assert_eq (rc, -1);
    cr_assert_str_eq (result.reason, "map command ran past --map-timeout (300 ms) on "
                      "chunk 7, killed");
    cr_assert_lt (zmr_now_ms () - start, 50000, "the group was not killed");
    cr_assert_eq (got.n, 0);
    free (got.pairs);
}

//  A process left in the background would hold the pipes: the group goes
//  once its leader exits
Test (command, background_left_behind)
{
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int64_t start = zmr_now_ms ();
    int rc = s_run ("sleep 60 & echo done", "", 0, 64, 0, &got, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    cr_assert_eq (got.n, 1);
    cr_assert_lt (zmr_now_ms () - start, 50000, "waited for the background sleep");
    free (got.pairs);
}

Test (command, interrupted_by_tick)
{
    s_got_t got = { .stop_at_tick = 2 };
    zmr_command_result_t result;
    int rc = s_run ("sleep 60", "", 0, 64, 0, &got, &result);
    cr_assert_eq (rc, -1);
    cr_assert (result.interrupted);
    cr_assert_geq (got.ticks, 2);
    free (got.pairs);
}

Test (command, ticks_while_it_runs)
{
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int rc = s_run ("sleep 2.5", "", 0, 64, 0, &got, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    cr_assert_geq (got.ticks, 1, "no tick in 2.5 s");
    free (got.pairs);
}

Test (command, bad_lines)
{
    struct { const char *command; const char *reason; } cases[] = {
        { "printf 'ok\\t1\\nfoo\\tbar\\n'",
          "map command printed a bad line on chunk 7: 'foo<TAB>bar': value is not an integer: "
          "byte 1 is 'b' (an optional '-' then digits)" },
        { "printf 'foo\\t\\n'",
          "map command printed a bad line on chunk 7: 'foo<TAB>': value is empty" },
        { "printf 'foo\\t-\\n'",
          "map command printed a bad line on chunk 7: 'foo<TAB>-': value is not an integer" },
        { "printf 'foo\\t+5\\n'",
          "map command printed a bad line on chunk 7: 'foo<TAB>+5': value is not an integer: "
          "byte 1 is '+' (an optional '-' then digits)" },
        { "printf 'foo\\t 5\\n'",
          "map command printed a bad line on chunk 7: 'foo<TAB> 5': value is not an integer: "
          "byte 1 is ' ' (an optional '-' then digits)" },
        //  One '\r' is taken off (CRLF output); a second is a bad byte
        { "printf 'foo\\t5\\r\\r\\n'",
          "map command printed a bad line on chunk 7: 'foo<TAB>5\\x0d': value is not an integer: "
          "byte 2 is '\\x0d' (an optional '-' then digits)" },
        { "printf 'foo\\t1\\t2\\n'",
          "map command printed a bad line on chunk 7: 'foo<TAB>1<TAB>2': value is not an integer: "
          "byte 2 is '<TAB>' (an optional '-' then digits)" },
        { "printf 'foo\\t9223372036854775808\\n'",
          "map command printed a bad line on chunk 7: 'foo<TAB>9223372036854775808': value is "
          "out of the signed 64-bit range" },
        { "printf 'foo\\t-9223372036854775809\\n'",
          "map command printed a bad line on chunk 7: 'foo<TAB>-9223372036854775809': value is "
          "out of the signed 64-bit range" },
        { "printf 'abcdefghi\\t1\\n'",
          "map command printed a bad line on chunk 7: 'abcdefghi<TAB>1': its key is longer "
          "than the job allows" },
        { "printf 'abcdefghi'",
          "map command printed a bad line on chunk 7: 'abcdefghi': its key is longer than the "
          "job allows" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_got_t got = { 0 };
        zmr_command_result_t result;
        int rc = s_run (cases[i].command, "", 0, 8, 60000, &got, &result);
        cr_assert_eq (rc, -1, "%s", cases[i].command);
        cr_assert_str_eq (result.reason, cases[i].reason);
        free (got.pairs);
    }
    //  A line too long to be one, ended or not: how much of it came in
    //  the first read is the pipe's business
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int rc = s_run ("head -c 100 /dev/zero | tr '\\000' x", "", 0, 8, 60000, &got, &result);
    cr_assert_eq (rc, -1);
    const char *head = "map command printed a bad line on chunk 7: 'xxxxx";
    const char *tail = "': longer than 29 bytes (a key the job allows, a tab and a value)";
    cr_assert_eq (strncmp (result.reason, head, strlen (head)), 0, "%s", result.reason);
    cr_assert_str_eq (result.reason + strlen (result.reason) - strlen (tail), tail);
    free (got.pairs);
}

Test (command, pair_refused)
{
    s_got_t got = { .refuse_at = 2 };
    zmr_command_result_t result;
    int rc = s_run ("printf 'a\\nb\\nc\\n'", "", 0, 8, 60000, &got, &result);
    cr_assert_eq (rc, -1);
    cr_assert_str_eq (result.reason, "pair 2 refused");
    cr_assert_eq (got.n, 1);
    free (got.pairs);
}

Test (command, stderr_captured)
{
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int rc = s_run ("echo oops >&2; echo 'line two' >&2; exit 1", "", 0, 64, 0, &got, &result);
    cr_assert_eq (rc, -1);
    cr_assert_str_eq (result.err, "oops\nline two\n");
    cr_assert_eq (result.err_len, 14);
    cr_assert_eq (result.err_lost, 0);
    free (got.pairs);
    //  The last 4 KiB of more
    got = (s_got_t) { 0 };
    rc = s_run ("head -c 10000 /dev/zero | tr '\\000' e >&2; echo END >&2", "", 0, 64, 0,
                &got, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    cr_assert_eq (result.err_len, ZMR_COMMAND_STDERR);
    cr_assert_eq (result.err_lost, 10004 - ZMR_COMMAND_STDERR);
    cr_assert_str_eq (result.err + ZMR_COMMAND_STDERR - 4, "END\n");
    cr_assert_eq (result.err[0], 'e');
    free (got.pairs);
}

//  A chunk by reference: len bytes of a file from an offset
Test (command, input_from_a_file)
{
    char path[] = "/tmp/zmr_test_command_XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    unlink (path);
    const char *text = "skip\nx\t4\ny\ntail";
    cr_assert_eq (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    s_got_t got = { 0 };
    zmr_command_result_t result;
    zmr_command_t cmd = { .command = "cat", .max_key = 8, .what = "chunk 7",
                          .pair = s_pair, .arg = &got };
    int rc = zmr_command_run (&cmd, NULL, 6, fd, 5, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    const char *keys[] = { "x", "y" };
    const int64_t values[] = { 4, 1 };
    s_expect (&got, 2, keys, values);
    cr_assert_eq (result.input_lines, 2);
    free (got.pairs);
    //  Lines counted also where the command read none, the last without
    //  its '\n'
    got = (s_got_t) { 0 };
    cmd.command = "true";
    rc = zmr_command_run (&cmd, NULL, strlen (text) - 5, fd, 5, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    cr_assert_eq (result.input_lines, 3);
    cmd.command = "cat";
    free (got.pairs);
    //  Past the file's end
    got = (s_got_t) { 0 };
    rc = zmr_command_run (&cmd, NULL, 100, fd, 5, &result);
    cr_assert_eq (rc, -1);
    cr_assert_str_eq (result.reason, "cannot read chunk 7 for the map command: the file "
                      "is shorter than the chunk");
    free (got.pairs);
    close (fd);
}

//  No descriptor and no child outlive a run, whatever way it ends
Test (command, leaves_nothing)
{
    int before = s_fds ();
    const char *commands[] = { "echo a", "exit 3", "kill -9 $$", "printf 'a\\tb\\n'",
                               "sleep 60", "sleep 60 & echo x" };
    for (int i = 0; i < 6; i++) {
        s_got_t got = { 0 };
        zmr_command_result_t result;
        s_run (commands[i], "abc\n", 4, 8, 300, &got, &result);
        free (got.pairs);
    }
    cr_assert_eq (s_fds (), before, "a descriptor leaked");
    errno = 0;
    cr_assert_eq (waitpid (-1, NULL, WNOHANG), -1, "a child is left");
    cr_assert_eq (errno, ECHILD);
}

Test (command, parse_value)
{
    int64_t value;
    const char *why;
    cr_assert_eq (zmr_command_parse_value ("0", 1, &value, &why), 0);
    cr_assert_eq (value, 0);
    cr_assert_eq (zmr_command_parse_value ("-17", 3, &value, &why), 0);
    cr_assert_eq (value, -17);
    cr_assert_eq (zmr_command_parse_value ("00042", 5, &value, &why), 0);
    cr_assert_eq (value, 42);
    cr_assert_eq (zmr_command_parse_value ("12x", 3, &value, &why), -1);
    cr_assert_eq (zmr_command_parse_value ("", 0, &value, &why), -1);
    cr_assert_eq (zmr_command_parse_value ("-", 1, &value, &why), -1);
    cr_assert_eq (zmr_command_parse_value ("99999999999999999999", 20, &value, &why), -1);
}

//  The processes of group pgid that are not zombies (a zombie is dead,
//  waiting for init to reap it).
static int
s_group_alive (pid_t pgid)
{
    DIR *dir = opendir ("/proc");
    cr_assert_not_null (dir);
    int n = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        char path[300], stat[512];
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
            continue;
        snprintf (path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t got = fread (stat, 1, sizeof stat - 1, file);
        fclose (file);
        stat[got] = 0;
        //  pid (comm) state ppid pgrp ...: comm may hold spaces
        const char *close_paren = strrchr (stat, ')');
        char state;
        int ppid, pgrp;
        if (close_paren && sscanf (close_paren + 1, " %c %d %d", &state, &ppid, &pgrp) == 3
        &&  pgrp == pgid && state != 'Z')
            n++;
    }
    closedir (dir);
    return n;
}

//  A mapper killed with SIGKILL (no chance to clean up) takes its command's
//  whole group with it: the shell and the long sleep it started (issue 16
//  part 2, F1 item 1)
Test (command, group_dies_with_the_mapper)
{
    char dir[] = "/tmp/test_command_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path[sizeof dir + 16], command[200];
    snprintf (path, sizeof path, "%s/pgid", dir);
    //  The shell writes its group's id, then waits on a long sleep
    snprintf (command, sizeof command,
              "cut -d' ' -f5 /proc/$$/stat > %s.tmp && mv %s.tmp %s; sleep 60 & wait",
              path, path, path);
    pid_t mapper = fork ();
    cr_assert_geq (mapper, 0);
    if (mapper == 0) {
        s_got_t got = { 0 };
        zmr_command_result_t result;
        s_run (command, "", 0, 8, 0, &got, &result);
        _exit (0);
    }
    pid_t pgid = 0;
    for (int i = 0; i < 3000 && pgid == 0; i++) {
        FILE *file = fopen (path, "r");
        if (file) {
            if (fscanf (file, "%d", &pgid) != 1)
                pgid = 0;
            fclose (file);
        }
        if (pgid == 0)
            usleep (10000);
    }
    cr_assert_gt (pgid, 0, "the command did not start");
    //  Its sleep started too (the shell and the sleep, at least)
    for (int i = 0; i < 3000 && s_group_alive (pgid) < 2; i++)
        usleep (10000);
    cr_assert_geq (s_group_alive (pgid), 2);
    kill (mapper, SIGKILL);
    waitpid (mapper, NULL, 0);
    int alive = 1;
    for (int i = 0; i < 3000 && (alive = s_group_alive (pgid)) > 0; i++)
        usleep (10000);
    if (alive)
        kill (-pgid, SIGKILL);
    unlink (path);
    rmdir (dir);
    cr_assert_eq (alive, 0, "%d processes of the command's group outlived the mapper", alive);
}

//  Output of tools on CRLF files: one trailing '\r' is taken off each line
//  before it is parsed (issue 16 part 2, F1 item 6)
Test (command, crlf_lines)
{
    s_got_t got = { 0 };
    zmr_command_result_t result;
    int rc = s_run ("printf 'a\\t1\\r\\nb\\r\\nc\\t-7\\r'", "", 0, 64, 0, &got, &result);
    cr_assert_eq (rc, 0, "%s", result.reason);
    const char *keys[] = { "a", "b", "c" };
    const int64_t values[] = { 1, 1, -7 };
    s_expect (&got, 3, keys, values);
    free (got.pairs);
}
