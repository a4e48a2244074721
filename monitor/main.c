/*  zmr-monitor: watch a job live; attach and detach at any time. */
#include "zmr_monitor.h"
#include <getopt.h>
#include <unistd.h>

static void
s_help (void)
{
    printf (
"Usage: zmr-monitor [OPTION]... STATUS\n"
"Watch the zmr job that publishes its status at STATUS (e.g. tcp://host:5552).\n"
"On a terminal: a live view (progress, rate, ETA, workers) in the terminal's\n"
"width, saying what it waits for until a job publishes. Otherwise one line per\n"
"update. Exits when the job is done or failed.\n"
"\n"
"      --json          one JSON object per update on stdout, for scripts\n"
"      --once          exit after the first update\n"
"      --keep          stay after the job ends\n"
"      --wait-ms=MS    exit 1 if no update comes for MS (default 0: wait)\n"
"  -h, --help          show this help and exit\n"
"      --version       show the version and exit\n"
);
    zmr_common_help (ZMR_CURVE_CONNECTS);
    printf (
"\n"
"Exit status: 0 job done (or stopped), 1 job failed or no status, 2 usage error.\n");
}

int
main (int argc, char *argv[])
{
    zmr_log_init ("zmr-monitor");
    zmr_tune_malloc ();
    zmr_monitor_config_t config = {
        .view = isatty (STDOUT_FILENO)? ZMR_VIEW_LIVE: ZMR_VIEW_LINES
    };
    enum { O_JSON = 256, O_ONCE, O_KEEP, O_WAIT, O_VERSION };
    static const struct option options[] = {
        { "json", no_argument, NULL, O_JSON },
        { "once", no_argument, NULL, O_ONCE },
        { "keep", no_argument, NULL, O_KEEP },
        { "wait-ms", required_argument, NULL, O_WAIT },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        ZMR_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    zmr_curve_config_t curve = { 0 };
    zmr_config_apply (&argc, &argv, options);
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
            case O_JSON: config.view = ZMR_VIEW_JSON; break;
            case O_ONCE: config.once = true; break;
            case O_KEEP: config.keep = true; break;
            case O_WAIT: config.wait_ms = (uint32_t) zmr_option_u64 ("--wait-ms", optarg, 1, 86400000); break;
            case 'h': s_help (); return 0;
            case O_VERSION: zmr_print_version ("zmr-monitor"); return 0;
            case ':': zmr_usage_error ("option %s needs a value", argv[optind - 1]);
            default:
                if (zmr_common_option (opt, optarg, &curve))
                    break;
                zmr_usage_error ("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        zmr_usage_error ("expected one argument, the job's status endpoint");
    config.endpoint = zmr_option_endpoint ("STATUS", argv[optind]);
    zmr_signals_install ();
    if (zmr_curve_setup (&curve, ZMR_CURVE_CONNECTS))
        return 1;
    int code = zmr_monitor_run (&config);
    zmr_curve_teardown ();
    return code;
}
