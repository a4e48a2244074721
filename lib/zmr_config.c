/*  zmr_config: options from a file. See zmr_config.h. */
#include "zmr.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
s_space (char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int
s_fail (char *err, size_t errlen, size_t line, const char *format, ...)
{
    char why[256];
    va_list args;
    va_start (args, format);
    vsnprintf (why, sizeof why, format, args);
    va_end (args);
    snprintf (err, errlen, "line %zu: %s", line, why);
    return -1;
}

//  A key or value as the error shows it: printable, at most 40 bytes.
static const char *
s_show (const char *text, size_t len, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < size && i < 40; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c >= 0x20 && c < 0x7f)
            out[n++] = (char) c;
        else
            n += (size_t) snprintf (out + n, size - n, "\\x%02x", c);
    }
    out[n] = 0;
    return out;
}

static const struct option *
s_find (const struct option *options, const char *key, size_t len)
{
    for (const struct option *o = options; o->name; o++)
        if (strlen (o->name) == len && !memcmp (o->name, key, len))
            return o;
    return NULL;
}

void
zmr_config_free (char **args, int nargs)
{
    for (int i = 0; args && i < nargs; i++)
        free (args[i]);
    free (args);
}

//  zmr_config_parse, and the line of each argument into lines (if not
//  NULL, room for ZMR_CONFIG_MAX_OPTIONS).
static int
s_parse (const char *text, size_t len, const struct option *options,
         char ***args, size_t *lines, char *err, size_t errlen)
{
    *args = NULL;
    if (len > ZMR_CONFIG_MAX_BYTES)
        return s_fail (err, errlen, 0, "larger than %d bytes", ZMR_CONFIG_MAX_BYTES);
    char **out = calloc (ZMR_CONFIG_MAX_OPTIONS, sizeof *out);
    if (!out)
        return s_fail (err, errlen, 0, "out of memory");
    int n = 0;
    size_t line = 0;
    char shown[200];
    for (size_t at = 0; at < len; ) {
        line++;
        const char *start = text + at;
        const char *nl = memchr (start, '\n', len - at);
        size_t width = nl? (size_t) (nl - start): len - at;
        at += width + (nl? 1: 0);
        if (width > ZMR_CONFIG_MAX_LINE) {
            s_fail (err, errlen, line, "longer than %d bytes", ZMR_CONFIG_MAX_LINE);
            goto fail;
        }
        if (memchr (start, 0, width)) {
            s_fail (err, errlen, line, "a NUL byte");
            goto fail;
        }
        const char *p = start, *end = start + width;
        while (p < end && s_space (*p))
            p++;
        while (end > p && s_space (end[-1]))
            end--;
        if (p == end || *p == '#')
            continue;
        const char *key = p;
        while (p < end && (*p == '-' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            p++;
        size_t key_len = (size_t) (p - key);
        if (key_len == 0) {
            s_fail (err, errlen, line, "expected 'option = value' or 'option', got '%s'",
                    s_show (key, (size_t) (end - key), shown, sizeof shown));
            goto fail;
        }
        const struct option *option = s_find (options, key, key_len);
        if (!option || !strcmp (option->name, "help") || !strcmp (option->name, "version")) {
            s_fail (err, errlen, line, "unknown option '%s'",
                    s_show (key, key_len, shown, sizeof shown));
            goto fail;
        }
        while (p < end && s_space (*p))
            p++;
        //  A comment after the option: a '#' after a space (or the key),
        //  outside double quotes ("a#b" and "x # y" in quotes are values).
        const char *cut = end;
        bool quoted = false;
        for (const char *q = p; q < end; q++) {
            if (*q == '"')
                quoted = !quoted;
            else
            if (*q == '#' && !quoted && (q == p || s_space (q[-1]))) {
                cut = q;
                break;
            }
        }
        end = cut;
        while (end > p && s_space (end[-1]))
            end--;
        const char *value = NULL;
        size_t value_len = 0;
        if (p < end) {
            if (*p != '=') {
                s_fail (err, errlen, line, "expected '=' after '%s'", option->name);
                goto fail;
            }
            p++;
            while (p < end && s_space (*p))
                p++;
            value = p;
            value_len = (size_t) (end - p);
            if (value_len >= 2 && value[0] == '"' && value[value_len - 1] == '"') {
                value++;
                value_len -= 2;
            }
            if (memchr (value, '"', value_len)) {
                s_fail (err, errlen, line, "a quote that does not enclose the whole value");
                goto fail;
            }
        }
        if (option->has_arg == required_argument && !value) {
            s_fail (err, errlen, line, "option '%s' needs a value", option->name);
            goto fail;
        }
        if (option->has_arg == no_argument && value) {
            s_fail (err, errlen, line, "option '%s' takes no value", option->name);
            goto fail;
        }
        if (n == ZMR_CONFIG_MAX_OPTIONS) {
            s_fail (err, errlen, line, "more than %d options", ZMR_CONFIG_MAX_OPTIONS);
            goto fail;
        }
        size_t size = 2 + strlen (option->name) + (value? 1 + value_len: 0) + 1;
        out[n] = malloc (size);
        if (!out[n]) {
            s_fail (err, errlen, line, "out of memory");
            goto fail;
        }
        if (value)
            snprintf (out[n], size, "--%s=%.*s", option->name, (int) value_len, value);
        else
            snprintf (out[n], size, "--%s", option->name);
        if (lines)
            lines[n] = line;
        n++;
    }
    *args = out;
    return n;
fail:
    zmr_config_free (out, n);
    return -1;
}

int
zmr_config_parse (const char *text, size_t len, const struct option *options,
                  char ***args, char *err, size_t errlen)
{
    return s_parse (text, len, options, args, NULL, err, errlen);
}

//  Reads the config file at path into *text (malloc, *len bytes). Returns
//  NULL, or why not, for the user: a directory, no such file, no
//  permission, too large.
static const char *
s_read (const char *path, char **text, ssize_t *len)
{
    static char why[160];
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf (why, sizeof why, "cannot open it: %s", strerror (errno));
        return why;
    }
    struct stat st;
    if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode)) {
        close (fd);
        return "it is a directory, not a config file";
    }
    *text = malloc (ZMR_CONFIG_MAX_BYTES + 1);
    if (!*text) {
        close (fd);
        return "out of memory";
    }
    //  Up to one byte more than allowed: the parser says it is too large.
    size_t got = 0;
    while (got < ZMR_CONFIG_MAX_BYTES + 1) {
        ssize_t n = read (fd, *text + got, ZMR_CONFIG_MAX_BYTES + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf (why, sizeof why, "cannot read it: %s", strerror (errno));
            close (fd);
            free (*text);
            *text = NULL;
            return why;
        }
        if (n == 0)
            break;
        got += (size_t) n;
    }
    close (fd);
    *len = (ssize_t) got;
    return NULL;
}

static char **s_argv;                //  What zmr_config_apply made, freed at exit
static char **s_args;
static int s_nargs;

static void
s_free_at_exit (void)
{
    free (s_argv);
    zmr_config_free (s_args, s_nargs);
}

void
zmr_config_apply (int *argc, char ***argv, const struct option *options)
{
    const char *path = NULL;
    int at = -1, width = 0;
    for (int i = 1; i < *argc; i++) {
        const char *arg = (*argv)[i];
        if (!strcmp (arg, "--"))
            break;
        if (!strcmp (arg, "--config")) {
            if (i + 1 >= *argc)
                zmr_usage_error ("option --config needs a value");
            path = (*argv)[i + 1];
            at = i, width = 2;
            break;
        }
        if (!strncmp (arg, "--config=", 9)) {
            path = arg + 9;
            at = i, width = 1;
            break;
        }
    }
    if (!path)
        return;
    //  One file: a second --config would otherwise be an "unknown option".
    for (int i = at + width; i < *argc; i++) {
        const char *arg = (*argv)[i];
        if (!strcmp (arg, "--"))
            break;
        if (!strcmp (arg, "--config") || !strncmp (arg, "--config=", 9))
            zmr_usage_error ("option --config given twice: one file of options at most "
                             "(the first is %s)", path);
    }
    char *text = NULL;
    ssize_t len = -1;
    const char *why = s_read (path, &text, &len);
    if (why)
        zmr_usage_error ("--config %s: %s", path, why);
    char err[320];
    size_t lines[ZMR_CONFIG_MAX_OPTIONS];
    int n = s_parse (text, (size_t) len, options, &s_args, lines, err, sizeof err);
    free (text);
    if (n < 0) {
        //  "line N: why" as "FILE:N: why", the form compilers use.
        unsigned long line;
        int skip = 0;
        if (sscanf (err, "line %lu: %n", &line, &skip) == 1 && skip > 0 && line > 0)
            zmr_usage_error ("%s:%lu: %s", path, line, err + skip);
        zmr_usage_error ("--config %s: %s", path, err + skip);
    }
    s_nargs = n;
    //  A value the program refuses later (zmr_option_*) names its line.
    for (int i = 0; i < n; i++) {
        char where[PATH_MAX + 32];
        snprintf (where, sizeof where, "%s:%zu", path, lines[i]);
        zmr_option_origin (s_args[i], where);
    }
    s_argv = calloc ((size_t) (*argc + n + 1), sizeof *s_argv);
    if (!s_argv)
        zmr_usage_error ("out of memory");
    atexit (s_free_at_exit);
    int k = 0;
    s_argv[k++] = (*argv)[0];
    for (int i = 0; i < n; i++)
        s_argv[k++] = s_args[i];
    for (int i = 1; i < *argc; i++)
        if (i < at || i >= at + width)
            s_argv[k++] = (*argv)[i];
    s_argv[k] = NULL;
    *argc = k;
    *argv = s_argv;
}

bool
zmr_common_option (int opt, const char *arg, zmr_curve_config_t *curve)
{
    if (opt == ZMR_O_MAX_MESSAGE) {
        zmr_set_max_message (zmr_option_size ("--max-message", arg, ZMR_MIN_MAX_MESSAGE,
                                              ZMR_DEFAULT_MAX_MESSAGE));
        return true;
    }
    return zmr_curve_option (opt, arg, curve);
}

int
zmr_curve_setup (const zmr_curve_config_t *config, int use)
{
    const char *misuse = zmr_curve_misuse (config, use);
    if (misuse)
        zmr_usage_error ("%s", misuse);
    return zmr_curve_load (config, use);
}

void
zmr_common_help (int use)
{
    printf ("      --config=FILE       read options from FILE first: one 'option = value'\n"
            "                          (or 'option') per line, # comments (also after a\n"
            "                          value); the command line wins\n"
            "      --max-message=SIZE  take no message over SIZE bytes on any socket (K/M/G;\n"
            "                          1M .. 128M + 8K, the default); the job's must fit\n");
    zmr_curve_help (use);
}
