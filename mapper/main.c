/*  zmr-mapper: an elastic worker; start as many as you like, any time. */
#include "zmr_mapper.h"
#include "zmr_loader.h"
#include <getopt.h>

static void
s_help (void)
{
    printf (
"Usage: zmr-mapper [OPTION]... CONTROL\n"
"Join the zmr job whose ventilator listens at CONTROL (e.g. tcp://host:5550)\n"
"and map its chunks; when it is over (or a ventilator of another job answers\n"
"at CONTROL), join the next job there, and so on: a standing pool. SIGTERM or\n"
"Ctrl-C: finish the chunk in hand and leave; the ventilator re-issues anything\n"
"not finished.\n"
"\n"
"      --once              exit after one job (0 if it was done), as a batch\n"
"                          script or a Kubernetes Job wants\n"
"      --name=NAME         name shown in the status (default host:pid)\n"
"      --heartbeat-ms=MS   heartbeat period (default 250)\n"
"      --wait-ms=MS        give up if no job answers within MS: exit 1; after\n"
"                          a job, if no next job answers within MS: exit 0\n"
"                          (default 0: wait for ever)\n"
"      --delay-ms=MS       sleep MS before each chunk (to test a slow mapper)\n"
"      --map-cost=N        N rounds of extra work per word (bench only)\n"
"      --map=COMMAND       may run jobs of this map command (/bin/sh -c\n"
"                          COMMAND, a chunk's lines on its stdin, one\n"
"                          key<TAB>value pair per line it prints, one\n"
"                          trailing CR taken off each line); the\n"
"                          ventilator's --map must be the very same text\n"
"      --plugin=PATH       may run jobs of this map plugin (a shared object,\n"
"                          see zmr_plugin.h), the very file the ventilator's\n"
"                          --plugin names (same bytes); --map and --plugin\n"
"                          repeat: any job whose definition is not one of\n"
"                          them is refused (the word count is always run)\n"
"      --map-timeout=DUR   fail a chunk whose map command runs longer\n"
"                          (ms, s, m or h; default 10m)\n"
"  -v, --verbose           say more on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
);
    zmr_common_help (ZMR_CURVE_CONNECTS);
    printf (
"\n"
"Exit status: 0 job done (--once), or left cleanly; 1 rejected or failed (with\n"
"--once: the job failed, another took its place, or the job is not one this\n"
"mapper may run); 2 usage error, a --plugin it cannot load (checked at start),\n"
"or, with --once, a map command that cannot run here (the shell's exit 126 or\n"
"127: not found, not executable; the job is refused, not its chunks failed; a\n"
"pool mapper refuses that job and waits for the next).\n");
}

int
main (int argc, char *argv[])
{
    zmr_log_init ("zmr-mapper");
    zmr_tune_malloc ();
    zmr_mapper_config_t config = { .heartbeat_ms = 250, .map_timeout_ms = 600000 };
    config.allow = zmr_job_allow_new ();
    if (!config.allow) {
        zmr_log (0, "out of memory");
        return 1;
    }
    char err[ZMR_JOB_SPEC_MAX + 256];
    enum { O_NAME = 256, O_HEARTBEAT, O_WAIT, O_DELAY, O_MAP_COST, O_ONCE, O_VERSION,
           O_MAP, O_PLUGIN, O_MAP_TIMEOUT };
    static const struct option options[] = {
        { "once", no_argument, NULL, O_ONCE },
        { "name", required_argument, NULL, O_NAME },
        { "heartbeat-ms", required_argument, NULL, O_HEARTBEAT },
        { "wait-ms", required_argument, NULL, O_WAIT },
        { "delay-ms", required_argument, NULL, O_DELAY },
        { "map-cost", required_argument, NULL, O_MAP_COST },
        { "map", required_argument, NULL, O_MAP },
        { "plugin", required_argument, NULL, O_PLUGIN },
        { "map-timeout", required_argument, NULL, O_MAP_TIMEOUT },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        ZMR_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    int verbose = 0;
    zmr_curve_config_t curve = { 0 };
    zmr_config_apply (&argc, &argv, options);
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":vh", options, NULL)) != -1) {
        switch (opt) {
            case O_NAME:
                if (strlen (optarg) >= ZMR_NAME_MAX)
                    zmr_usage_error ("option --name: at most %d bytes", ZMR_NAME_MAX - 1);
                config.name = optarg;
                break;
            case O_HEARTBEAT: config.heartbeat_ms = (uint32_t) zmr_option_u64 ("--heartbeat-ms", optarg, 10, 60000); break;
            case O_WAIT: config.wait_ms = (uint32_t) zmr_option_u64 ("--wait-ms", optarg, 0, 86400000); break;
            case O_DELAY: config.delay_ms = (uint32_t) zmr_option_u64 ("--delay-ms", optarg, 0, 1000); break;
            case O_ONCE: config.once = true; break;
            case O_MAP_COST: config.map_cost = (uint32_t) zmr_option_u64 ("--map-cost", optarg, 0, 100000); break;
            case O_MAP:
            case O_PLUGIN:
                if (zmr_job_allow_add (config.allow, opt == O_MAP? optarg: NULL,
                                       opt == O_PLUGIN? optarg: NULL, err, sizeof err))
                    zmr_option_error (optarg, "%s", err);
                //  Loaded and checked now, as a job would: a plugin this
                //  mapper cannot run is an error at start (exit 2, one
                //  line naming it), not a refusal when a job comes
                if (opt == O_PLUGIN && zmr_loader_check (optarg, err, sizeof err)) {
                    zmr_log (0, "%s", err);
                    zmr_job_allow_destroy (&config.allow);
                    return 2;
                }
                break;
            case O_MAP_TIMEOUT: config.map_timeout_ms = zmr_option_duration ("--map-timeout", optarg, 1, 7 * 86400000ull); break;
            case 'v': verbose++; break;
            case 'h': s_help (); zmr_job_allow_destroy (&config.allow); return 0;
            case O_VERSION:
                zmr_print_version ("zmr-mapper");
                zmr_job_allow_destroy (&config.allow);
                return 0;
            case ':': zmr_usage_error ("option %s needs a value", argv[optind - 1]);
            default:
                if (zmr_common_option (opt, optarg, &curve))
                    break;
                zmr_usage_error ("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        zmr_usage_error ("expected one argument, the ventilator's control endpoint");
    config.control = zmr_option_endpoint ("CONTROL", argv[optind]);
    //  For fault-injection tests only: see tests/test_recovery.c.
    const char *poison = getenv ("ZMR_TEST_POISON");
    if (poison && *poison)
        config.poison = poison;
    const char *unmapped = getenv ("ZMR_TEST_UNMAPPED");
    const char *once = getenv ("ZMR_TEST_UNMAPPED_ONCE");
    if (unmapped && *unmapped && once && *once) {
        config.unmapped = unmapped;
        config.unmapped_once = once;
    }
    zmr_log_set_level (verbose);
    zmr_signals_install ();
    if (zmr_curve_setup (&curve, ZMR_CURVE_CONNECTS))
        return 1;
    int code = zmr_mapper_run (&config);
    zmr_curve_teardown ();
    zmr_job_allow_destroy (&config.allow);
    return code;
}
