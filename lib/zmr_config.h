/*  zmr_config: options from a file, for every program (--config FILE).

    A config file holds one option per line, by its long name, as on the
    command line without the dashes:

        # a mapper on host B
        curve-cert = /etc/zmr/mapper-b.cert_secret
        curve-server = /etc/zmr/ventilator.cert
        name = "mapper b"
        verbose

    Blank lines and lines starting with '#' are skipped, and so is a '#'
    after a space and what follows it outside double quotes (a comment
    after the option); spaces around the key and the value are not part of
    them; a value in double quotes keeps its spaces and '#' (no escapes). The file's options come before the command
    line's, so where an option keeps its last value the command line wins.
    Bounded: at most 64 KiB, 4 KiB a line, 256 options. */
#ifndef ZMR_CONFIG_H
#define ZMR_CONFIG_H
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include "zmr_curve.h"

#define ZMR_CONFIG_MAX_BYTES   (64 << 10)
#define ZMR_CONFIG_MAX_LINE    4096
#define ZMR_CONFIG_MAX_OPTIONS 256

//  Parses config text (len bytes, any bytes) into *args: "--key=value" or
//  "--key", each checked against options (a getopt_long table: the key must
//  be one of its long names; a value if and only if it takes one). Returns
//  the number of arguments, or -1 with "line N: why" in err (errlen bytes).
//  The caller frees *args with zmr_config_free.
int
    zmr_config_parse (const char *text, size_t len, const struct option *options,
                      char ***args, char *err, size_t errlen);

//  Frees what zmr_config_parse made.
void
    zmr_config_free (char **args, int nargs);

//  In main, before getopt_long: if argv holds --config FILE (or
//  --config=FILE), replaces *argv by argv[0], FILE's options, then the
//  other arguments, and *argc accordingly. Exits 2 with "FILE:N: why" if
//  the file cannot be used, "--config FILE: why" if it cannot be read (a
//  directory, no such file, no permission). Each option taken from the file
//  is told to zmr_option_origin, so that a value the program refuses later
//  is reported as "FILE:N: ...".
void
    zmr_config_apply (int *argc, char ***argv, const struct option *options);

//  The options every program takes besides its own: the CURVE ones
//  (zmr_curve.h) and --max-message. For its getopt_long table:
enum { ZMR_O_MAX_MESSAGE = 1100 };
#define ZMR_COMMON_OPTIONS \
    ZMR_CURVE_OPTIONS, \
    { "max-message", required_argument, NULL, ZMR_O_MAX_MESSAGE }

//  Takes opt if it is one of ZMR_COMMON_OPTIONS (the CURVE ones into
//  curve; --max-message for the process, exiting 2 if out of range).
//  Returns whether it was.
bool
    zmr_common_option (int opt, const char *arg, zmr_curve_config_t *curve);

//  For main, after its options: sets CURVE up from them for a role that
//  does use (zmr_curve_use_t). Exits 2 with the reason if they do not fit
//  the role (zmr_curve_misuse), as for any other misused option; logs one
//  line and returns -1 if a file cannot be used (zmr_curve_load).
int
    zmr_curve_setup (const zmr_curve_config_t *config, int use);

//  Help lines of --config, --max-message and the CURVE options for use
//  (zmr_curve_use_t).
void
    zmr_common_help (int use);

#endif
