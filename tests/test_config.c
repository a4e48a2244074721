/*  zmr_config: options from a file. What a user writes becomes exactly the
    options they meant, and every mistake is refused with its line. */
#include <criterion/criterion.h>
#include <string.h>
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
