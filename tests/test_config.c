/*  zmr_config: options from a file. What a user writes becomes exactly the
    options they meant, and every mistake is refused with its line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "zmr.h"

static const struct option s_options[] = {
    { "name", required_argument, NULL, 1 },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 2 },
    ZMR_CURVE_OPTIONS,
    { NULL, 0, NULL, 0 }
};

static int
s_parse (const char *text, char ***args, char *err)
{
    return zmr_config_parse (text, strlen (text), s_options, args, err, 320);
}

Test (config, lines_become_the_options_they_name)
{
    char **args;
    char err[320] = "";
    int n = s_parse ("# a mapper\n\n  name =  \"mapper b\"  \r\nverbose\n"
                     "curve-cert=/etc/zmr/m.cert_secret\n   # indented comment\n"
                     "name = plain value", &args, err);
    cr_assert_eq (n, 4, "%d options (%s)", n, err);
    cr_assert_str_eq (args[0], "--name=mapper b");
    cr_assert_str_eq (args[1], "--verbose");
    cr_assert_str_eq (args[2], "--curve-cert=/etc/zmr/m.cert_secret");
    cr_assert_str_eq (args[3], "--name=plain value");
    zmr_config_free (args, n);
    cr_assert_eq (s_parse ("", &args, err), 0);
    zmr_config_free (args, 0);
}

Test (config, every_mistake_is_refused_with_its_line)
{
    static const struct { const char *text, *why; } cases[] = {
        { "verbose\nnmae = x\n", "line 2: unknown option 'nmae'" },
        { "name\n", "line 1: option 'name' needs a value" },
        { "verbose = yes\n", "line 1: option 'verbose' takes no value" },
        { "help\n", "line 1: unknown option 'help'" },
        { "version\n", "line 1: unknown option 'version'" },
        { "config = other.conf\n", "line 1: unknown option 'config'" },
        { "= x\n", "line 1: expected 'option = value'" },
        { "Name = x\n", "line 1: expected 'option = value'" },
        { "name x\n", "line 1: expected '=' after 'name'" },
        { "name = \"a\"b\"\n", "line 1: a quote" },
        { "name = \"a\n", "line 1: a quote" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char **args = (char **) 1;
        char err[320] = "";
        cr_assert_eq (s_parse (cases[i].text, &args, err), -1, "accepted: %s", cases[i].text);
        cr_assert_null (args);
        cr_assert (strstr (err, cases[i].why), "'%s': said '%s', not '%s'", cases[i].text, err,
                   cases[i].why);
    }
}

Test (config, it_is_bounded)
{
    char **args;
    char err[320];
    //  A NUL byte, a line of 4 KiB + 1, a file over 64 KiB, 257 options.
    cr_assert_eq (zmr_config_parse ("name = a\0b\n", 11, s_options, &args, err, sizeof err), -1);
    cr_assert (strstr (err, "NUL"), "%s", err);
    size_t size = ZMR_CONFIG_MAX_BYTES + 1;
    char *big = malloc (size + 1);
    cr_assert_not_null (big);
    memset (big, '\n', size);
    memcpy (big, "name = ", 7);
    memset (big + 7, 'x', ZMR_CONFIG_MAX_LINE - 6);
    cr_assert_eq (zmr_config_parse (big, ZMR_CONFIG_MAX_LINE + 1, s_options, &args, err,
                                    sizeof err), -1);
    cr_assert (strstr (err, "line 1: longer than"), "%s", err);
    cr_assert_eq (zmr_config_parse (big, ZMR_CONFIG_MAX_LINE, s_options, &args, err,
                                    sizeof err), 1, "%s", err);
    zmr_config_free (args, 1);
    cr_assert_eq (zmr_config_parse (big, size, s_options, &args, err, sizeof err), -1);
    cr_assert (strstr (err, "larger than"), "%s", err);
    size_t len = 0;
    for (int i = 0; i <= ZMR_CONFIG_MAX_OPTIONS; i++)
        len += (size_t) sprintf (big + len, "verbose\n");
    cr_assert_eq (zmr_config_parse (big, len, s_options, &args, err, sizeof err), -1);
    cr_assert (strstr (err, "more than"), "%s", err);
    free (big);
}

Test (config, a_comment_after_a_value_is_not_part_of_it)
{
    char **args;
    char err[320] = "";
    int n = s_parse ("name = plain # the name\n"
                     "verbose   # a flag, and a comment\n"
                     "name = \"a # b\"  # quoted: the '#' is the value's\n"
                     "name = a#b\n"
                     "curve-cert = /etc/zmr/m.cert_secret\t# tab before\n", &args, err);
    cr_assert_eq (n, 5, "%d options (%s)", n, err);
    cr_assert_str_eq (args[0], "--name=plain");
    cr_assert_str_eq (args[1], "--verbose");
    cr_assert_str_eq (args[2], "--name=a # b");
    cr_assert_str_eq (args[3], "--name=a#b");
    cr_assert_str_eq (args[4], "--curve-cert=/etc/zmr/m.cert_secret");
    zmr_config_free (args, n);
    //  A flag's comment is no value; a comment does not hide a mistake.
    cr_assert_eq (s_parse ("verbose = yes # no\n", &args, err), -1);
    cr_assert (strstr (err, "line 1: option 'verbose' takes no value"), "%s", err);
    cr_assert_eq (s_parse ("name # no value\n", &args, err), -1);
    cr_assert (strstr (err, "line 1: option 'name' needs a value"), "%s", err);
}

//  In a child: applies a config file of text to "prog --config FILE rest",
//  then parses --count as a program does (zmr_option_u64). Returns the
//  child's exit code; its stderr into err.
static int
s_apply_in_child (const char *text, const char *rest, char *err, size_t errlen)
{
    char dir[] = "/tmp/zmr-config-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path[64], errpath[64];
    snprintf (path, sizeof path, "%s/run.conf", dir);
    snprintf (errpath, sizeof errpath, "%s/err", dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    fclose (file);
    fflush (NULL);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        if (!freopen (errpath, "w", stderr))
            _exit (99);
        zmr_log_init ("prog");
        static const struct option options[] = {
            { "count", required_argument, NULL, 'c' },
            { "verbose", no_argument, NULL, 'v' },
            { NULL, 0, NULL, 0 }
        };
        char *argv_in[] = { "prog", "--config", path, (char *) rest, NULL };
        int argc = rest? 4: 3;
        char **argv = argv_in;
        zmr_config_apply (&argc, &argv, options);
        int opt;
        while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1)
            if (opt == 'c')
                zmr_option_u64 ("--count", optarg, 1, 9);
        _exit (0);
    }
    int status;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    file = fopen (errpath, "r");
    cr_assert_not_null (file);
    size_t n = fread (err, 1, errlen - 1, file);
    err[n] = 0;
    fclose (file);
    unlink (errpath);
    unlink (path);
    rmdir (dir);
    //  Where the error said the file was, as the test knows it: FILE:LINE.
    char *at = strstr (err, path);
    if (at) {
        size_t len = strlen (path);
        memmove (at + 4, at + len, strlen (at + len) + 1);
        memcpy (at, "FILE", 4);
    }
    return WIFEXITED (status)? WEXITSTATUS (status): 128 + WTERMSIG (status);
}

Test (config, a_value_refused_later_names_the_file_and_line)
{
    char err[1024];
    //  The value is checked by the program, after the file is read: the
    //  error still names the file and line the value came from.
    cr_assert_eq (s_apply_in_child ("# counts\nverbose\ncount = 0\n", NULL, err, sizeof err), 2,
                  "%s", err);
    cr_assert (strstr (err, "prog: FILE:3: option --count: expected a whole number from 1 to 9, "
                       "got '0'\n"), "%s", err);
    //  With a comment after it, the same.
    cr_assert_eq (s_apply_in_child ("count = 12 # too many\n", NULL, err, sizeof err), 2);
    cr_assert (strstr (err, "prog: FILE:1: option --count:") && strstr (err, "got '12'"),
               "%s", err);
    //  The command line's value is the command line's: no file named.
    cr_assert_eq (s_apply_in_child ("count = 3\n", "--count=0", err, sizeof err), 2);
    cr_assert (strstr (err, "prog: option --count:") && !strstr (err, "FILE"), "%s", err);
    //  Good values pass.
    cr_assert_eq (s_apply_in_child ("count = 3 # fine\n", "--count=4", err, sizeof err), 0,
                  "%s", err);
}
