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
"      --http=ADDR:PORT\n"
"                      serve the status over HTTP at ADDR:PORT (e.g.\n"
"                      127.0.0.1:9464): / a live dashboard, /status.json the\n"
"                      latest state, /events its stream (Server-Sent Events),\n"
"                      /metrics for Prometheus. Stays after the job ends,\n"
"                      serving its final state, until stopped; quiet on\n"
"                      stdout unless it is a terminal or --json is given\n"
"                      (not with --once)\n"
"  -h, --help          show this help and exit\n"
"      --version       show the version and exit\n"
);
    zmr_common_help (ZMR_CURVE_CONNECTS);
    printf (
"\n"
"Exit status: 0 job done (or stopped), 1 job failed or no status, 2 usage error\n"
"(or an --http address that cannot be served).\n");
}

int
main (int argc, char *argv[])
{
    zmr_log_init ("zmr-monitor");
    zmr_tune_malloc ();
    zmr_monitor_config_t config = {
        .view = isatty (STDOUT_FILENO)? ZMR_VIEW_LIVE: ZMR_VIEW_LINES
    };
    enum { O_JSON = 256, O_ONCE, O_KEEP, O_WAIT, O_HTTP, O_VERSION };
    static const struct option options[] = {
        { "json", no_argument, NULL, O_JSON },
        { "once", no_argument, NULL, O_ONCE },
        { "keep", no_argument, NULL, O_KEEP },
        { "wait-ms", required_argument, NULL, O_WAIT },
        { "http", required_argument, NULL, O_HTTP },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        ZMR_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    zmr_curve_config_t curve = { 0 };
    const char *http = NULL;
    zmr_config_apply (&argc, &argv, options);
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
            case O_JSON: config.view = ZMR_VIEW_JSON; break;
            case O_ONCE: config.once = true; break;
            case O_KEEP: config.keep = true; break;
            case O_WAIT: config.wait_ms = (uint32_t) zmr_option_u64 ("--wait-ms", optarg, 1, 86400000); break;
            case O_HTTP: http = optarg; break;
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
    int listener = -1;
    if (http) {
        if (config.once)
            zmr_usage_error ("--once and --http do not go together: a server stays");
        //  An address that cannot be bound is a bad argument, as an
        //  endpoint is: said before anything starts, exit 2.
        char err[512];
        bool usage;
        listener = zmr_http_listen (http, &usage, err, sizeof err);
        if (listener == -1) {
            if (usage)
                zmr_usage_error ("option --http: %s", err);
            zmr_log (0, "%s", err);
            return 2;
        }
        config.keep = true;
        if (config.view == ZMR_VIEW_LINES)
            config.view = ZMR_VIEW_NONE;
    }
    zmr_signals_install ();
    if (zmr_curve_setup (&curve, ZMR_CURVE_CONNECTS)) {
        if (listener != -1)
            close (listener);
        return 1;
    }
    if (listener != -1) {
        char err[512];
        config.http = zmr_http_new (listener, config.endpoint, err, sizeof err);
        if (!config.http) {
            zmr_log (0, "%s", err);
            zmr_curve_teardown ();
            return 1;
        }
    }
    int code = zmr_monitor_run (&config);
    zmr_http_destroy (&config.http);
    zmr_curve_teardown ();
    return code;
}
