/*  zmr-reducer: serves one partition of a job. */
#include "zmr_reducer.h"
#include <getopt.h>

static void
s_help (void)
{
    printf (
"Usage: zmr-reducer [OPTION]... -p N CONTROL\n"
"Serve partition N of the zmr job whose ventilator listens at CONTROL.\n"
"\n"
"  -p, --partition=N       partition to serve, from 0 (required)\n"
"  -r, --reducers=R        partitions the job must have (default: the job's)\n"
"      --bind=EP           where mappers send batches (default tcp://*:*,\n"
"                          a free port)\n"
"      --advertise=EP      endpoint to give the job instead of the bound one\n"
"      --state=DIR         keep the partition durable in DIR: killed and started\n"
"                          again with the same DIR, the reducer loses nothing\n"
"      --discard-state     if DIR holds this partition of another job than the\n"
"                          ventilator's, drop it and start empty (without it:\n"
"                          exit 1 saying so; the ventilator's own job's state\n"
"                          is always kept)\n"
"      --checkpoint-ms=MS  snapshot period of the durable state (default 5000)\n"
"      --max-distinct=N    fail the job when the partition holds more than N\n"
"                          distinct words (default: no limit but memory)\n"
"      --name=NAME         name shown in the status (default host:pid)\n"
"      --heartbeat-ms=MS   heartbeat period (default 250)\n"
"      --wait-ms=MS        give up if the job does not answer within MS\n"
"  -v, --verbose           say more on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
);
    zmr_common_help (ZMR_CURVE_BINDS | ZMR_CURVE_CONNECTS);
    printf (
"\n"
"Exit status: 0 job done or stopped by a signal, 1 failed, 2 usage error.\n");
}

int
main (int argc, char *argv[])
{
    zmr_log_init ("zmr-reducer");
    zmr_tune_malloc ();
    zmr_reducer_config_t config = { .bind = "tcp://*:*", .heartbeat_ms = 250,
                                    .checkpoint_ms = 5000 };
    enum { O_BIND = 256, O_ADVERTISE, O_NAME, O_HEARTBEAT, O_WAIT, O_STATE, O_DISCARD_STATE,
           O_CHECKPOINT, O_MAX_DISTINCT, O_VERSION };
    static const struct option options[] = {
        { "partition", required_argument, NULL, 'p' },
        { "reducers", required_argument, NULL, 'r' },
        { "bind", required_argument, NULL, O_BIND },
        { "advertise", required_argument, NULL, O_ADVERTISE },
        { "name", required_argument, NULL, O_NAME },
        { "heartbeat-ms", required_argument, NULL, O_HEARTBEAT },
        { "wait-ms", required_argument, NULL, O_WAIT },
        { "state", required_argument, NULL, O_STATE },
        { "discard-state", no_argument, NULL, O_DISCARD_STATE },
        { "checkpoint-ms", required_argument, NULL, O_CHECKPOINT },
        { "max-distinct", required_argument, NULL, O_MAX_DISTINCT },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        ZMR_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    int verbose = 0;
    bool have_partition = false;
    zmr_curve_config_t curve = { 0 };
    zmr_config_apply (&argc, &argv, options);
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":p:r:vh", options, NULL)) != -1) {
        switch (opt) {
            case 'p':
                config.partition = (uint32_t) zmr_option_u64 ("--partition", optarg, 0, ZMR_MAX_REDUCERS - 1);
                have_partition = true;
                break;
            case 'r': config.reducers = (uint32_t) zmr_option_u64 ("--reducers", optarg, 1, ZMR_MAX_REDUCERS); break;
            case O_BIND: config.bind = zmr_option_endpoint ("--bind", optarg); break;
            case O_ADVERTISE: config.advertise = zmr_option_endpoint ("--advertise", optarg); break;
            case O_NAME:
                if (strlen (optarg) >= ZMR_NAME_MAX)
                    zmr_usage_error ("option --name: at most %d bytes", ZMR_NAME_MAX - 1);
                config.name = optarg;
                break;
            case O_HEARTBEAT: config.heartbeat_ms = (uint32_t) zmr_option_u64 ("--heartbeat-ms", optarg, 10, 60000); break;
            case O_WAIT: config.wait_ms = (uint32_t) zmr_option_u64 ("--wait-ms", optarg, 0, 86400000); break;
            case O_STATE: config.state_dir = optarg; break;
            case O_DISCARD_STATE: config.discard_state = true; break;
            case O_CHECKPOINT: config.checkpoint_ms = (uint32_t) zmr_option_u64 ("--checkpoint-ms", optarg, 10, 3600000); break;
            case O_MAX_DISTINCT: config.max_distinct = zmr_option_u64 ("--max-distinct", optarg, 1, UINT32_MAX); break;
            case 'v': verbose++; break;
            case 'h': s_help (); return 0;
            case O_VERSION: zmr_print_version ("zmr-reducer"); return 0;
            case ':': zmr_usage_error ("option %s needs a value", argv[optind - 1]);
            default:
                if (zmr_common_option (opt, optarg, &curve))
                    break;
                zmr_usage_error ("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!have_partition)
        zmr_usage_error ("option --partition is required");
    if (config.reducers && config.partition >= config.reducers)
        zmr_usage_error ("option --partition: %u is not below --reducers %u",
                         config.partition, config.reducers);
    if (config.discard_state && !config.state_dir)
        zmr_usage_error ("option --discard-state needs --state DIR");
    if (optind != argc - 1)
        zmr_usage_error ("expected one argument, the ventilator's control endpoint");
    config.control = zmr_option_endpoint ("CONTROL", argv[optind]);
    zmr_log_set_level (verbose);
    zmr_signals_install ();
    if (zmr_curve_setup (&curve, ZMR_CURVE_BINDS | ZMR_CURVE_CONNECTS))
        return 1;
    int code = zmr_reducer_run (&config);
    zmr_curve_teardown ();
    return code;
}
