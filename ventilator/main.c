/*  zmr-ventilator: reads the input and coordinates a job. */
#include "zmr_ventilator.h"
#include <getopt.h>
#include "zmr_ingest.h"

//  SIGUSR1 ends the input of --listen and --ingest (the job then finishes).
static volatile sig_atomic_t s_end_input;

static void
s_on_end_input (int signum)
{
    (void) signum;
    s_end_input = 1;
}

//  A usage error from zmr_job_define, led by the place (a --config file's
//  FILE:LINE) of the option it is about: its message starts with the
//  option's name.
static void
    s_job_error (const char *error, const char *map, const char *plugin,
                 const char *reduce) __attribute__ ((noreturn));
static void
s_job_error (const char *error, const char *map, const char *plugin, const char *reduce)
{
    const char *text = !strncmp (error, "--reduce", 8)? reduce:
                       !strncmp (error, "--plugin", 8)? plugin: map;
    zmr_option_error (text, "%s", error);
}

static void
s_help (void)
{
    printf (
"Usage: zmr-ventilator [OPTION]... [FILE]...\n"
"Coordinate a zmr job over FILEs (none or '-': standard input; none with\n"
"--listen or --ingest: only their text): the word count, or a map command\n"
"or plugin of your own (--map, --plugin).\n"
"Reducers, the sink and mappers connect to the control endpoint.\n"
"\n"
"      --map=COMMAND     the job: run COMMAND (sh -c) on each chunk of whole\n"
"                        lines; each line it prints, KEY<TAB>VALUE (a signed\n"
"                        64-bit integer; no TAB: the line, 1), is a pair.\n"
"                        Mappers run it only if their own --map names it\n"
"      --plugin=PATH     the job: the map function of the C plugin PATH\n"
"                        (zmr_plugin.h), per line; mappers load it only if\n"
"                        their own --plugin names the same file\n"
"      --reduce=OP       how two values of a key merge: sum (default), min or\n"
"                        max (sum only for the word count)\n"
"  -r, --reducers=N      partitions of the job, 1..%d (default 2)\n"
"      --control=EP      control endpoint to bind (default tcp://*:5550)\n"
"      --chunks=EP       chunk endpoint to bind (default tcp://*:5551)\n"
"      --status=EP       status endpoint to bind, may repeat (default\n"
"                        tcp://*:5552)\n"
"      --chunk-size=SIZE\n"
"                        bytes per chunk, cut at whitespace (at line ends\n"
"                        for --map and --plugin) (default 4M; 1M with\n"
"                        --live-ms)\n"
"      --in-flight=N     chunks read and not yet done, at most (default 16)\n"
"      --dead-ms=MS      silence after which a worker is dead (default 3000)\n"
"      --status-ms=MS    status period (default 250)\n"
"      --poison-limit=N  mappers that may die on one chunk before it is\n"
"                        quarantined and the job finishes without it (default 3)\n"
"      --max-word=SIZE   leave out words longer than SIZE bytes (K/M suffixes),\n"
"                        counted as words_too_long in the status (default: none;\n"
"                        a word over 64 MiB always fails the job; the word\n"
"                        count only: refused with --map or --plugin)\n"
"      --job=ID          job id, a number (default: random, or the journal's)\n"
"      --journal=FILE    keep the ledger in FILE: a ventilator killed mid-job and\n"
"                        started again with the same FILE and input resumes,\n"
"                        without recounting finished chunks; a stream (stdin,\n"
"                        a pipe) is spooled to FILE.spool.N until the job ends,\n"
"                        and a new ventilator goes on with the rest of it\n"
"      --by-reference    send chunks of regular files as (file, offset, length)\n"
"                        and let mappers read them: faster, for mappers that\n"
"                        see the same files (this machine); stdin and pipes\n"
"                        still go as bytes\n"
"      --flush-ms=MS     a stream's text waits for its chunk to fill at most MS\n"
"                        (default 20), and only while chunks keep being cut,\n"
"                        then it is cut at its last whitespace\n"
"      --live-ms=MS      reducers send running totals to the sink at most every\n"
"                        MS, at once after a quiet MS (default 0: only at the\n"
"                        end), for zmr-sink --follow,\n"
"                        --snapshot, --publish and the status's top words\n"
"      --window-ms=MS    tumbling windows of MS of ingest time (--event-time: of\n"
"                        each line's own time, --every-ms: hopping): the counts\n"
"                        of each window go to the sink once it is over (zmr-sink\n"
"                        --window-dir, --publish); kept across restarts of\n"
"                        this ventilator (with --journal) and of a reducer\n"
"                        (with --state)\n"
"      --event-time=FORMAT\n"
"                        windows of each line's own time instead: FORMAT epoch\n"
"                        (first field, seconds since 1970), rfc3339 (first\n"
"                        field) or clf (the first [DD/Mon/YYYY:HH:MM:SS +HHMM]);\n"
"                        needs --window-ms, the word count only; chunks are cut\n"
"                        at line ends; a window closes once the largest time\n"
"                        read minus the lateness is past its end; late lines\n"
"                        and lines without a time are counted in the totals and\n"
"                        written to the sink's late.tsv\n"
"      --every-ms=MS     with --event-time: a window starts every MS, windows\n"
"                        overlap (--window-ms a multiple of MS, at most %d\n"
"                        times it) (default: --window-ms, tumbling)\n"
"      --allowed-lateness-ms=MS\n"
"                        with --event-time: a line up to MS older than the\n"
"                        largest time before it is still on time (default 0)\n"
"      --listen=tcp://ADDR:PORT\n"
"                        take newline-ended text from any number of TCP\n"
"                        producers at once, whole lines at a time, as one more\n"
"                        input after the FILEs; it ends on SIGUSR1 (then the\n"
"                        job finishes)\n"
"      --ingest=EP       take numbered batches of lines from ZeroMQ producers on\n"
"                        a ROUTER at EP (tcp:// or ipc://), each acknowledged\n"
"                        once durable, never counted twice (docs/protocol.md,\n"
"                        \"Ingest\"); the same input as --listen\n"
"  -v, --verbose         say more on stderr (twice: debug)\n"
"  -h, --help            show this help and exit\n"
"      --version         show the version and exit\n",
        ZMR_MAX_REDUCERS, ZMR_EVENT_PANES_MAX);
    zmr_common_help (ZMR_CURVE_BINDS);
    printf (
"\n"
"Exit status: 0 job done, 1 job failed, 2 usage error, 3 job done without\n"
"chunks that were quarantined (listed on stderr), 130 or 143 stopped by SIGINT\n"
"or SIGTERM before the job was done (start it again with --journal).\n");
}

int
main (int argc, char *argv[])
{
    zmr_log_init ("zmr-ventilator");
    zmr_tune_malloc ();
    zmr_ventilator_config_t config = {
        .control = "tcp://*:5550", .chunks = "tcp://*:5551",
        .reducers = 2, .chunk_size = ZMR_DEFAULT_CHUNK, .in_flight = 16,
        .dead_ms = 3000, .status_ms = 250, .poison_limit = 3, .flush_ms = 20
    };
    enum { O_CONTROL = 256, O_CHUNKS, O_STATUS, O_CHUNK_SIZE, O_IN_FLIGHT,
           O_DEAD_MS, O_STATUS_MS, O_JOB, O_JOURNAL, O_POISON, O_MAX_WORD, O_BY_REFERENCE,
           O_FLUSH_MS, O_LIVE_MS, O_WINDOW_MS, O_OLD_WINDOW, O_VERSION,
           O_MAP, O_PLUGIN, O_REDUCE, O_LISTEN, O_INGEST,
           O_EVENT_TIME, O_EVERY_MS, O_LATENESS_MS };
    static const struct option options[] = {
        { "reducers", required_argument, NULL, 'r' },
        { "control", required_argument, NULL, O_CONTROL },
        { "chunks", required_argument, NULL, O_CHUNKS },
        { "status", required_argument, NULL, O_STATUS },
        { "chunk-size", required_argument, NULL, O_CHUNK_SIZE },
        { "in-flight", required_argument, NULL, O_IN_FLIGHT },
        { "dead-ms", required_argument, NULL, O_DEAD_MS },
        { "status-ms", required_argument, NULL, O_STATUS_MS },
        { "job", required_argument, NULL, O_JOB },
        { "journal", required_argument, NULL, O_JOURNAL },
        { "by-reference", no_argument, NULL, O_BY_REFERENCE },
        { "flush-ms", required_argument, NULL, O_FLUSH_MS },
        { "live-ms", required_argument, NULL, O_LIVE_MS },
        { "window-ms", required_argument, NULL, O_WINDOW_MS },
        { "event-time", required_argument, NULL, O_EVENT_TIME },
        { "every-ms", required_argument, NULL, O_EVERY_MS },
        { "allowed-lateness-ms", required_argument, NULL, O_LATENESS_MS },
        //  The old name of --in-flight: taken as a prefix of --window-ms it
        //  would quietly make windows of N ms.
        { "window", required_argument, NULL, O_OLD_WINDOW },
        { "poison-limit", required_argument, NULL, O_POISON },
        { "max-word", required_argument, NULL, O_MAX_WORD },
        { "map", required_argument, NULL, O_MAP },
        { "plugin", required_argument, NULL, O_PLUGIN },
        { "reduce", required_argument, NULL, O_REDUCE },
        { "listen", required_argument, NULL, O_LISTEN },
        { "ingest", required_argument, NULL, O_INGEST },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        ZMR_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    int verbose = 0;
    zmr_curve_config_t curve = { 0 };
    bool chunk_set = false, lateness_set = false;
    const char *map = NULL, *plugin = NULL, *reduce = NULL;
    zmr_config_apply (&argc, &argv, options);
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":r:vh", options, NULL)) != -1) {
        switch (opt) {
            case 'r': config.reducers = (uint32_t) zmr_option_u64 ("--reducers", optarg, 1, ZMR_MAX_REDUCERS); break;
            case O_CONTROL: config.control = zmr_option_endpoint ("--control", optarg); break;
            case O_CHUNKS: config.chunks = zmr_option_endpoint ("--chunks", optarg); break;
            case O_STATUS:
                if (config.nstatus == ZMR_VENTILATOR_MAX_STATUS)
                    zmr_usage_error ("option --status: at most %d endpoints", ZMR_VENTILATOR_MAX_STATUS);
                config.status[config.nstatus++] = zmr_option_endpoint ("--status", optarg);
                break;
            case O_CHUNK_SIZE:
                config.chunk_size = zmr_option_size ("--chunk-size", optarg, 1, ZMR_MAX_CHUNK);
                chunk_set = true;
                break;
            case O_IN_FLIGHT: config.in_flight = (uint32_t) zmr_option_u64 ("--in-flight", optarg, 1, 1 << 20); break;
            case O_DEAD_MS: config.dead_ms = (uint32_t) zmr_option_u64 ("--dead-ms", optarg, 100, 3600000); break;
            case O_STATUS_MS: config.status_ms = (uint32_t) zmr_option_u64 ("--status-ms", optarg, 10, 500); break;
            case O_JOB: config.job = zmr_option_u64 ("--job", optarg, 1, UINT64_MAX); break;
            case O_JOURNAL: config.journal = optarg; break;
            case O_BY_REFERENCE: config.by_reference = true; break;
            case O_FLUSH_MS: config.flush_ms = (uint32_t) zmr_option_u64 ("--flush-ms", optarg, 1, 60000); break;
            case O_LIVE_MS: config.live_ms = (uint32_t) zmr_option_u64 ("--live-ms", optarg, 0, 60000); break;
            case O_WINDOW_MS: config.window_ms = zmr_option_u64 ("--window-ms", optarg, 10, 7 * 86400000ull); break;
            case O_EVENT_TIME:
                config.event_format = zmr_evtime_format (optarg);
                if (config.event_format <= 0)
                    zmr_option_error (optarg, "option --event-time: expected epoch, rfc3339 "
                                      "or clf, not '%s'", optarg);
                break;
            case O_EVERY_MS:
                config.every_ms = zmr_option_u64 ("--every-ms", optarg, 1, ZMR_EVENT_WINDOW_MAX);
                break;
            case O_LATENESS_MS:
                config.lateness_ms = zmr_option_u64 ("--allowed-lateness-ms", optarg, 0,
                                                     ZMR_EVENT_WINDOW_MAX);
                lateness_set = true;
                break;
            case O_MAX_WORD: config.max_word = zmr_option_size ("--max-word", optarg, 1, ZMR_MAX_CHUNK); break;
            case O_OLD_WINDOW:
                zmr_usage_error ("option --window is gone: --in-flight=N for the chunks in "
                                 "flight, --window-ms=MS for tumbling windows");
            case O_MAP:
                if (map)
                    zmr_option_error (optarg, "option --map: given twice (a job has one map)");
                map = optarg;
                break;
            case O_PLUGIN:
                if (plugin)
                    zmr_option_error (optarg, "option --plugin: given twice (a job has one map)");
                plugin = optarg;
                break;
            case O_REDUCE: reduce = optarg; break;
            case O_POISON: config.poison_limit = (uint32_t) zmr_option_u64 ("--poison-limit", optarg, 1, 1000); break;
            case O_LISTEN:
                if (!zmr_ingest_listen_valid (optarg))
                    zmr_usage_error ("option --listen: expected tcp://ADDR:PORT, not '%s'", optarg);
                config.listen = optarg;
                break;
            case O_INGEST: config.ingest = zmr_option_endpoint ("--ingest", optarg);
                if (!strncmp (config.ingest, "inproc://", 9))
                    zmr_usage_error ("option --ingest: producers are other processes: "
                                     "tcp:// or ipc://, not '%s'", config.ingest); break;
            case 'v': verbose++; break;
            case 'h': s_help (); return 0;
            case O_VERSION: zmr_print_version ("zmr-ventilator"); return 0;
            case ':': zmr_usage_error ("option %s needs a value", argv[optind - 1]);
            default:
                if (zmr_common_option (opt, optarg, &curve))
                    break;
                zmr_usage_error ("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (config.nstatus == 0)
        config.status[config.nstatus++] = "tcp://*:5552";
    static const char *const standard_input[] = { "-" };
    if (optind < argc) {
        config.inputs = (const char *const *) argv + optind;
        config.ninputs = (size_t) (argc - optind);
    }
    else
    if (!config.listen && !config.ingest) {
        config.inputs = standard_input;
        config.ninputs = 1;
    }
    zmr_log_set_level (verbose);
    //  The job: its digest is what mappers match against their own
    //  definitions (nothing of it runs here).
    static zmr_job_t spec;
    char error[512];
    if (zmr_job_define (&spec, map, plugin, reduce, error, sizeof error))
        s_job_error (error, map, plugin, reduce);
    //  A key's limit is the mapper's (its command's lines); --max-word
    //  leaves out words of the word count, it means nothing else
    if (config.max_word && spec.kind != ZMR_JOB_WORDS)
        zmr_usage_error ("option --max-word: the word count only, not with %s",
                         map? "--map": "--plugin");
    if (config.event_format && !config.window_ms)
        zmr_usage_error ("option --event-time needs --window-ms (the windows' length)");
    if (config.every_ms && !config.event_format)
        zmr_usage_error ("option --every-ms needs --event-time (ingest-time windows "
                         "are tumbling)");
    if (lateness_set && !config.event_format)
        zmr_usage_error ("option --allowed-lateness-ms needs --event-time");
    if (config.event_format && spec.kind != ZMR_JOB_WORDS)
        zmr_usage_error ("option --event-time: the word count only, not with %s",
                         map? "--map": "--plugin");
    if (config.event_format && !config.every_ms)
        config.every_ms = config.window_ms;
    if (config.event_format && (config.window_ms % config.every_ms
                            ||  config.window_ms / config.every_ms > ZMR_EVENT_PANES_MAX))
        zmr_usage_error ("option --every-ms: --window-ms=%llu must be a multiple of "
                         "--every-ms=%llu, at most %d times it",
                         (unsigned long long) config.window_ms,
                         (unsigned long long) config.every_ms, ZMR_EVENT_PANES_MAX);
    config.spec = &spec;
    if (config.live_ms && !chunk_set)
        config.chunk_size = ZMR_STREAM_CHUNK;
    config.chunk_size = (size_t) zmr_option_chunk_fit (config.chunk_size, chunk_set);
    const char *compact = getenv ("ZMR_JOURNAL_COMPACT");
    config.journal_compact = 65536;
    if (compact && zmr_parse_size (compact, 2, UINT32_MAX, &config.journal_compact))
        zmr_usage_error ("ZMR_JOURNAL_COMPACT='%s': expected a number of journal records, "
                         "2 .. 4294967295", compact);
    zmr_signals_install ();
    if (config.listen || config.ingest) {
        struct sigaction action;
        memset (&action, 0, sizeof action);
        action.sa_handler = s_on_end_input;
        sigemptyset (&action.sa_mask);
        sigaction (SIGUSR1, &action, NULL);
        config.end_input = &s_end_input;
    }
    //  zmr run blocks it for us until now: one it sent early waits here
    sigset_t usr1;
    sigemptyset (&usr1);
    sigaddset (&usr1, SIGUSR1);
    sigprocmask (SIG_UNBLOCK, &usr1, NULL);
    if (zmr_curve_setup (&curve, ZMR_CURVE_BINDS))
        return 1;
    int code = zmr_ventilator_run (&config);
    zmr_curve_teardown ();
    return code;
}
