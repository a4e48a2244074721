/*  zmr: the launcher. `zmr run` runs the whole pipeline on this machine. */
#include "zmr_launcher.h"
#include <getopt.h>
#include "zmr_ingest.h"
#include "zmr_plugin.h"
#include <dlfcn.h>
#include <unistd.h>

static void
s_help (void)
{
    printf (
"Usage: zmr run [OPTION]... [FILE]...\n"
"Run a job over FILEs (none or '-': standard input; none with --listen or\n"
"--ingest: only their text) with the whole zmr pipeline on this machine: a\n"
"ventilator, mappers, reducers and a sink, each its own process. By default\n"
"the word count: 'word<TAB>count' lines, most frequent first, ties in byte\n"
"order. With --map or --plugin, your own job: its 'key<TAB>value' lines,\n"
"the largest value first, ties in byte order.\n"
"\n"
"Your own job (README, 'Your own jobs'):\n"
"      --map=COMMAND     map each chunk of whole lines with COMMAND (sh -c; the\n"
"                        chunk on its stdin); each line it prints is a pair,\n"
"                        KEY<TAB>VALUE (a signed 64-bit integer) or a line\n"
"                        without TAB (the line, 1). A chunk whose command\n"
"                        fails goes to another mapper, and after --poison-limit\n"
"                        failures is quarantined (exit 3)\n"
"      --plugin=PATH     map with the C plugin PATH (zmr_plugin.h), per line;\n"
"                        checked (loaded) here before anything starts\n"
"      --reduce=OP       merge a key's values by sum (default), min or max\n"
"      --map-timeout=DURATION\n"
"                        a map command running longer on one chunk fails it\n"
"                        (e.g. 30s, 5m; default: the mapper's, 10m)\n"
"\n"
"  -m, --mappers=N       mapper processes, 1..256 (default: number of cores)\n"
"  -r, --reducers=N      reducer processes (partitions), 1..%d (default: half\n"
"                        the cores, at least 1)\n"
"  -o, --output=FILE     write the result to FILE (default standard output)\n"
"      --parts=DIR       also write DIR/part-00000... one per reducer\n"
"      --force           replace the part files or windows an earlier run left\n"
"                        in --parts or --window-dir (without it: refused)\n"
"      --receipt=FILE    write the job's receipt (JSON) to FILE; check it with\n"
"                        zmr-verify-receipt RESULT FILE (scripts/verify-receipt\n"
"                        in the source tree)\n"
"      --chunk-size=SIZE\n"
"                        bytes per chunk, cut at whitespace (at line ends for\n"
"                        --map and --plugin) (default 4M; 1M with --stream)\n"
"      --dead-ms=MS      silence after which a worker is dead (default 3000)\n"
"      --poison-limit=N  mappers that may die on one chunk before it is\n"
"                        quarantined and the job finishes without it (exit 3;\n"
"                        default 3)\n"
"      --max-word=SIZE   leave out words longer than SIZE bytes, counted in the\n"
"                        status as words_too_long (default: none; the word\n"
"                        count only: refused with --map or --plugin)\n"
"      --max-distinct=N  fail the job when a partition holds more than N\n"
"                        distinct words (default: no limit but memory)\n"
"      --status=EP       also publish the status at EP, for zmr-monitor\n"
"      --http=ADDR:PORT  serve the status over HTTP at ADDR:PORT (e.g.\n"
"                        127.0.0.1:9464), as zmr-monitor --http does: / a live\n"
"                        dashboard, /status.json, /events, /metrics (Prometheus)\n"
"      --http-linger=DURATION\n"
"                        after the job, keep serving its final state for\n"
"                        DURATION (e.g. 30s, 10m; default 0), so that a browser\n"
"                        or Prometheus sees the end; Ctrl-C stops it sooner and\n"
"                        the exit status stays the job's\n"
"      --expose=tcp://HOST:PORT\n"
"                        use tcp on HOST, ports PORT.. PORT+3+R, so mappers on\n"
"                        other machines can join: zmr-mapper tcp://HOST:PORT\n"
"      --curve           encrypt and authenticate every socket with CURVE, with\n"
"                        a certificate made for each process of this job; with\n"
"                        --expose, zmr run says where to add other machines'\n"
"                        certificates (docs/security.md)\n"
"      --max-message=SIZE\n"
"                        no process of the job takes a message over SIZE bytes\n"
"                        (1M .. 128M + 8K, the default); chunks are cut to fit\n"
"      --require-curve   refuse --expose, --status or --publish beyond loopback\n"
"                        without --curve (without it: a warning)\n"
"      --progress        progress bar on stderr (default: if it is a terminal,\n"
"                        unless the input is typed on a terminal)\n"
"      --no-progress     no progress bar\n"
"      --stats           at the end, print wall time and the peak memory summed\n"
"                        over every process of the job (stderr): RSS, and PSS\n"
"                        sampled every 10 ms (shared pages counted once)\n"
"Streaming (text that keeps coming, e.g. tail -f some.log | zmr run --stream):\n"
"      --stream          running totals while the job runs: the status (and\n"
"                        zmr-monitor) shows the top words and the latency from\n"
"                        text in to count visible; text from stdin waits at\n"
"                        most --flush-ms for its chunk to fill\n"
"      --listen=tcp://ADDR:PORT\n"
"                        take newline-ended text from any number of TCP\n"
"                        producers at once, whole lines at a time (after the\n"
"                        FILEs; no FILE: only this); the first SIGINT or\n"
"                        SIGTERM ends this input and the job finishes with the\n"
"                        text taken, a second stops it (implies --stream)\n"
"      --ingest=EP       take numbered batches of lines from ZeroMQ producers\n"
"                        on a ROUTER bound at EP, acknowledged once durable and\n"
"                        never counted twice (docs/protocol.md, \"Ingest\"); ends\n"
"                        like --listen (implies --stream)\n"
"      --follow          write 'word<TAB>total' on stdout each time a word's\n"
"                        total changes (at once, but a word at most once per\n"
"                        --follow-ms); the last line of each word is its\n"
"                        final count (implies --stream)\n"
"      --snapshot=FILE   keep FILE holding every total so far, replaced whole\n"
"                        when totals change, at most every 20 ms (implies\n"
"                        --stream)\n"
"      --publish=EP      send the changed totals as TOTALS messages on a PUB\n"
"                        socket bound at EP (implies --stream)\n"
"      --flush-ms=MS     longest wait of text for its chunk (default 20; 10 with\n"
"                        --stream), and only while chunks keep being cut\n"
"      --live-ms=MS      with --stream: reducers send running totals at most\n"
"                        every MS, at once after a quiet MS (default 10)\n"
"      --follow-ms=MS    --follow and --publish send a word's change at once,\n"
"                        or MS after the word last went out (default 100)\n"
"      --window=DURATION\n"
"                        tumbling windows of ingest time (e.g. 10s, 500ms, 1m),\n"
"                        or of the lines' own time with --event-time (hopping\n"
"                        with --every): each window's counts are written once\n"
"                        it is over, to --window-dir and/or --publish; the\n"
"                        status counts the windows closed (implies --stream)\n"
"      --window-dir=DIR  write DIR/window-START.tsv per window, START its start\n"
"                        in ms since the epoch (created if missing)\n"
"      --event-time=FORMAT\n"
"                        windows of each line's own time, not of ingest time:\n"
"                        FORMAT epoch (the first field, seconds since 1970),\n"
"                        rfc3339 (the first field) or clf (the first\n"
"                        [DD/Mon/YYYY:HH:MM:SS +HHMM]); needs --window and\n"
"                        --window-dir, the word count only. A window is written\n"
"                        once the largest time read minus the lateness is past\n"
"                        its end; late lines and lines without a time count in\n"
"                        the totals and go to DIR/late.tsv\n"
"      --every=DURATION  with --event-time: a window starts every DURATION, so\n"
"                        windows overlap (--window a multiple of it, at most\n"
"                        %d times it) (default: --window, tumbling)\n"
"      --allowed-lateness=DURATION\n"
"                        with --event-time: a line up to DURATION older than the\n"
"                        largest time before it is still on time (default 0)\n"
"      --map-cost=N      N rounds of extra work per word in the mappers, to\n"
"                        study scaling when map work dominates (bench only)\n"
"      --config=FILE     read options from FILE first: one 'option = value' (or\n"
"                        'option') per line, # comments; the command line wins\n"
"  -v, --verbose         the roles say more on stderr\n"
"  -h, --help            show this help and exit\n"
"      --version         show the version and exit\n"
"\n"
"Exit status: 0 done, 1 failed, 2 usage error (or an output or endpoint that\n"
"cannot be used, found before the job starts), 3 done without chunks on which\n"
"mappers failed (map command) or died --poison-limit times (quarantined;\n"
"listed on stderr and in the receipt), 128+N\n"
"stopped by signal N (130 SIGINT, 143 SIGTERM), 141 standard output closed\n"
"(e.g. | head: the job ends quietly). Any process of the job may crash: it is\n"
"started again and the result stays exact; one that crashes 5 times in 30 s\n"
"fails the job (a mapper counts only when it dies within a second of\n"
"starting). A run killed with SIGKILL leaves its $TMPDIR/zmr-XXXXXX\n"
"directory: the next zmr run removes it.\n",
        ZMR_MAX_REDUCERS, ZMR_EVENT_PANES_MAX);
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

//  zmr run starts the mappers that load the plugin: a plugin they cannot
//  load would fail the job only once they have started, over and over. So
//  zmr run loads it first, as a mapper does (the same checks, no init),
//  which trusts it no more than the job does. Returns 0, or -1 with a
//  one-line reason in err. (The ventilator never loads one: it runs no job
//  code, docs/security.md.)
static int
s_plugin_check (const char *path, char *err, size_t errlen)
{
    //  As the mapper: a name without a slash is the file, not a library
    //  looked up in the library path
    char local[4096];
    if (!strchr (path, '/') && snprintf (local, sizeof local, "./%s", path) < (int) sizeof local)
        path = local;
    dlerror ();
    void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror ();
        snprintf (err, errlen, "--plugin: cannot load %.300s: %s", path, why? why: "dlopen failed");
        return -1;
    }
    dlerror ();
    const zmr_plugin_t *plugin = (const zmr_plugin_t *) dlsym (handle, ZMR_PLUGIN_SYMBOL);
    const char *why = dlerror ();
    int rc = -1;
    if (why || !plugin)
        snprintf (err, errlen, "--plugin: %.300s defines no symbol '%s' (a const zmr_plugin_t, "
                  "see zmr_plugin.h)", path, ZMR_PLUGIN_SYMBOL);
    else
    if (plugin->abi != ZMR_PLUGIN_ABI)
        snprintf (err, errlen, "--plugin: %.300s is built for plugin ABI %u, zmr takes %u "
                  "(build it again against this zmr_plugin.h)", path, plugin->abi,
                  ZMR_PLUGIN_ABI);
    else
    if (!plugin->map)
        snprintf (err, errlen, "--plugin: %.300s has no map function", path);
    else
        rc = 0;
    dlclose (handle);
    return rc;
}

static int
s_run (int argc, char *argv[])
{
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    zmr_launcher_config_t config = {
        //  Reducers: half the cores. A mapper's table combines its chunk,
        //  so a reducer merges a fraction of the words a mapper counts; on
        //  2 cores a second reducer only adds a process to share them with,
        //  and R = 1 needs no SHA-1 at all (measured in the commit).
        .mappers = cores > 0? (uint32_t) cores: 1,
        .reducers = cores >= 4? (uint32_t) (cores / 2): 1,
        .chunk_size = ZMR_DEFAULT_CHUNK, .dead_ms = 3000,
        .progress = isatty (STDERR_FILENO), .live_ms = 10
    };
    enum { O_RECEIPT = 200, O_PARTS = 256, O_CHUNK_SIZE, O_DEAD_MS, O_POISON, O_STATUS, O_EXPOSE, O_PROGRESS,
           O_NO_PROGRESS, O_STATS, O_MAP_COST, O_STREAM, O_LISTEN, O_INGEST, O_FOLLOW, O_SNAPSHOT, O_PUBLISH,
           O_FLUSH_MS, O_LIVE_MS, O_FOLLOW_MS, O_WINDOW, O_WINDOW_DIR, O_MAX_DISTINCT,
           O_CURVE, O_REQUIRE_CURVE, O_MAX_WORD, O_MAX_MESSAGE, O_VERSION, O_FORCE,
           O_HTTP, O_HTTP_LINGER, O_MAP, O_PLUGIN, O_REDUCE, O_MAP_TIMEOUT,
           O_EVENT_TIME, O_EVERY, O_LATENESS };
    static const struct option options[] = {
        { "mappers", required_argument, NULL, 'm' },
        { "reducers", required_argument, NULL, 'r' },
        { "output", required_argument, NULL, 'o' },
        { "parts", required_argument, NULL, O_PARTS },
        { "receipt", required_argument, NULL, O_RECEIPT },
        { "force", no_argument, NULL, O_FORCE },
        { "chunk-size", required_argument, NULL, O_CHUNK_SIZE },
        { "dead-ms", required_argument, NULL, O_DEAD_MS },
        { "poison-limit", required_argument, NULL, O_POISON },
        { "status", required_argument, NULL, O_STATUS },
        { "http", required_argument, NULL, O_HTTP },
        { "http-linger", required_argument, NULL, O_HTTP_LINGER },
        { "expose", required_argument, NULL, O_EXPOSE },
        { "curve", no_argument, NULL, O_CURVE },
        { "require-curve", no_argument, NULL, O_REQUIRE_CURVE },
        { "progress", no_argument, NULL, O_PROGRESS },
        { "no-progress", no_argument, NULL, O_NO_PROGRESS },
        { "stats", no_argument, NULL, O_STATS },
        { "map-cost", required_argument, NULL, O_MAP_COST },
        { "stream", no_argument, NULL, O_STREAM },
        { "listen", required_argument, NULL, O_LISTEN },
        { "ingest", required_argument, NULL, O_INGEST },
        { "follow", no_argument, NULL, O_FOLLOW },
        { "snapshot", required_argument, NULL, O_SNAPSHOT },
        { "publish", required_argument, NULL, O_PUBLISH },
        { "flush-ms", required_argument, NULL, O_FLUSH_MS },
        { "live-ms", required_argument, NULL, O_LIVE_MS },
        { "follow-ms", required_argument, NULL, O_FOLLOW_MS },
        { "max-distinct", required_argument, NULL, O_MAX_DISTINCT },
        { "max-word", required_argument, NULL, O_MAX_WORD },
        { "max-message", required_argument, NULL, O_MAX_MESSAGE },
        { "window", required_argument, NULL, O_WINDOW },
        { "window-dir", required_argument, NULL, O_WINDOW_DIR },
        { "event-time", required_argument, NULL, O_EVENT_TIME },
        { "every", required_argument, NULL, O_EVERY },
        { "allowed-lateness", required_argument, NULL, O_LATENESS },
        { "map", required_argument, NULL, O_MAP },
        { "plugin", required_argument, NULL, O_PLUGIN },
        { "reduce", required_argument, NULL, O_REDUCE },
        { "map-timeout", required_argument, NULL, O_MAP_TIMEOUT },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 }
    };
    zmr_config_apply (&argc, &argv, options);
    bool chunk_set = false, progress_set = false, lateness_set = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":m:r:o:vh", options, NULL)) != -1) {
        switch (opt) {
            case 'm': config.mappers = (uint32_t) zmr_option_u64 ("--mappers", optarg, 1, 256); break;
            case 'r': config.reducers = (uint32_t) zmr_option_u64 ("--reducers", optarg, 1, ZMR_MAX_REDUCERS); break;
            case 'o': config.output = strcmp (optarg, "-")? optarg: NULL; break;
            case O_PARTS: config.parts_dir = optarg; break;
            case O_RECEIPT: config.receipt = optarg; break;
            case O_FORCE: config.force = true; break;
            case O_CHUNK_SIZE:
                config.chunk_size = zmr_option_size ("--chunk-size", optarg, 1, ZMR_MAX_CHUNK);
                chunk_set = true;
                break;
            case O_DEAD_MS: config.dead_ms = (uint32_t) zmr_option_u64 ("--dead-ms", optarg, 100, 3600000); break;
            case O_POISON: config.poison_limit = (uint32_t) zmr_option_u64 ("--poison-limit", optarg, 1, 1000); break;
            case O_STATUS: config.status = zmr_option_endpoint ("--status", optarg); break;
            case O_HTTP: config.http = optarg; break;
            case O_HTTP_LINGER:
                config.http_linger_ms = zmr_option_duration ("--http-linger", optarg, 0,
                                                             7 * 86400000ull);
                break;
            case O_EXPOSE:
                config.expose = zmr_option_endpoint ("--expose", optarg);
                if (strncmp (optarg, "tcp://", 6))
                    zmr_option_error (optarg, "option --expose: expected tcp://HOST:PORT, got '%s'",
                                      optarg);
                break;
            case O_CURVE: config.curve = true; break;
            case O_REQUIRE_CURVE: config.require_curve = true; break;
            case O_PROGRESS: config.progress = progress_set = true; break;
            case O_NO_PROGRESS: config.progress = false; progress_set = true; break;
            case O_STATS: config.stats = true; break;
            case O_MAP_COST: config.map_cost = (uint32_t) zmr_option_u64 ("--map-cost", optarg, 0, 100000); break;
            case O_STREAM: config.stream = true; break;
            case O_LISTEN:
                if (!zmr_ingest_listen_valid (optarg))
                    zmr_usage_error ("option --listen: expected tcp://ADDR:PORT, not '%s'", optarg);
                config.listen = optarg;
                config.stream = true;
                break;
            case O_INGEST:
                config.ingest = zmr_option_endpoint ("--ingest", optarg);
                if (!strncmp (config.ingest, "inproc://", 9))
                    zmr_usage_error ("option --ingest: producers are other processes: "
                                     "tcp:// or ipc://, not '%s'", config.ingest);
                config.stream = true;
                break;
            case O_FOLLOW: config.stream = config.follow = true; break;
            case O_SNAPSHOT: config.stream = true; config.snapshot = optarg; break;
            case O_PUBLISH: config.stream = true; config.publish = zmr_option_endpoint ("--publish", optarg); break;
            case O_FLUSH_MS: config.flush_ms = (uint32_t) zmr_option_u64 ("--flush-ms", optarg, 1, 60000); break;
            case O_LIVE_MS: config.live_ms = (uint32_t) zmr_option_u64 ("--live-ms", optarg, 1, 60000); break;
            case O_WINDOW:
                config.window_ms = zmr_option_duration ("--window", optarg, 10, 7 * 86400000ull);
                config.stream = true;
                break;
            case O_WINDOW_DIR: config.window_dir = optarg; break;
            case O_EVENT_TIME:
                config.event_format = zmr_evtime_format (optarg);
                if (config.event_format <= 0)
                    zmr_option_error (optarg, "option --event-time: expected epoch, rfc3339 "
                                      "or clf, not '%s'", optarg);
                break;
            case O_EVERY:
                config.every_ms = zmr_option_duration ("--every", optarg, 1, ZMR_EVENT_WINDOW_MAX);
                break;
            case O_LATENESS:
                config.lateness_ms = zmr_option_duration ("--allowed-lateness", optarg, 0,
                                                          ZMR_EVENT_WINDOW_MAX);
                lateness_set = true;
                break;
            case O_MAP:
                if (config.map)
                    zmr_option_error (optarg, "option --map: given twice (a job has one map)");
                config.map = optarg;
                break;
            case O_PLUGIN:
                if (config.plugin)
                    zmr_option_error (optarg, "option --plugin: given twice (a job has one map)");
                config.plugin = optarg;
                break;
            case O_REDUCE: config.reduce = optarg; break;
            case O_MAP_TIMEOUT:
                config.map_timeout_ms = zmr_option_duration ("--map-timeout", optarg, 1,
                                                             7 * 86400000ull);
                break;
            case O_MAX_MESSAGE:
                config.max_message = zmr_option_size ("--max-message", optarg, ZMR_MIN_MAX_MESSAGE,
                                                      ZMR_DEFAULT_MAX_MESSAGE);
                zmr_set_max_message (config.max_message);
                break;
            case O_MAX_WORD: config.max_word = zmr_option_size ("--max-word", optarg, 1, ZMR_MAX_CHUNK); break;
            case O_MAX_DISTINCT: config.max_distinct = zmr_option_u64 ("--max-distinct", optarg, 1, UINT32_MAX); break;
            case O_FOLLOW_MS: config.follow_ms = (uint32_t) zmr_option_u64 ("--follow-ms", optarg, 1, 60000); break;
            case 'v': config.verbose++; break;
            case 'h': s_help (); return 0;
            case O_VERSION: zmr_print_version ("zmr"); return 0;
            case ':': zmr_usage_error ("option %s needs a value", argv[optind - 1]);
            default: zmr_usage_error ("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (config.stream && !config.flush_ms)
        config.flush_ms = 10;
    if (config.event_format && !config.window_ms)
        zmr_usage_error ("option --event-time needs --window (the windows' length)");
    if (config.event_format && !config.window_dir)
        zmr_usage_error ("option --event-time needs --window-dir=DIR (late lines and lines "
                         "without a time go to DIR/late.tsv)");
    if (config.every_ms && !config.event_format)
        zmr_usage_error ("option --every needs --event-time (ingest-time windows are "
                         "tumbling)");
    if (lateness_set && !config.event_format)
        zmr_usage_error ("option --allowed-lateness needs --event-time");
    if (config.event_format && (config.map || config.plugin))
        zmr_usage_error ("option --event-time: the word count only, not with %s",
                         config.map? "--map": "--plugin");
    uint64_t every = config.every_ms? config.every_ms: config.window_ms;
    if (config.event_format && (config.window_ms % every
                            ||  config.window_ms / every > ZMR_EVENT_PANES_MAX))
        zmr_usage_error ("option --every: --window (%llu ms) must be a multiple of --every "
                         "(%llu ms), at most %d times it", (unsigned long long) config.window_ms,
                         (unsigned long long) every, ZMR_EVENT_PANES_MAX);
    if (config.window_ms && !config.window_dir && !config.publish)
        zmr_usage_error ("option --window: say where the windows go, with --window-dir=DIR "
                         "or --publish=EP");
    if (config.http_linger_ms && !config.http)
        zmr_usage_error ("option --http-linger needs --http");
    if (config.window_dir && !config.window_ms)
        zmr_usage_error ("option --window-dir needs --window");
    if (config.map_timeout_ms && !config.map && !config.plugin)
        zmr_usage_error ("option --map-timeout needs --map or --plugin");
    //  The job is checked here, before anything starts: a usage error is
    //  said once, by zmr run, not by a ventilator started again and again.
    static zmr_job_t spec;
    char error[512];
    if (zmr_job_define (&spec, config.map, config.plugin, config.reduce, error, sizeof error))
        s_job_error (error, config.map, config.plugin, config.reduce);
    //  A key's limit is the mapper's (its command's lines); --max-word
    //  leaves out words of the word count, it means nothing else
    if (config.max_word && spec.kind != ZMR_JOB_WORDS)
        zmr_usage_error ("option --max-word: the word count only, not with %s",
                         config.map? "--map": "--plugin");
    if (config.plugin && s_plugin_check (config.plugin, error, sizeof error))
        zmr_option_error (config.plugin, "%s", error);
    if (config.stream && !chunk_set)
        config.chunk_size = ZMR_STREAM_CHUNK;
    config.chunk_size = zmr_option_chunk_fit (config.chunk_size, chunk_set);
    const char *exposed[] = { config.expose, config.status, config.publish };
    for (size_t i = 0; i < 3; i++)
        if (config.require_curve && !config.curve && exposed[i]
        &&  zmr_endpoint_beyond_loopback (exposed[i]))
            zmr_usage_error ("refusing %s beyond loopback without --curve (--require-curve)",
                             exposed[i]);
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
    //  Text typed on the terminal is echoed where the bar is drawn: the
    //  bar would write over what is being typed. Off unless asked for.
    for (size_t i = 0; i < config.ninputs && !progress_set; i++)
        if (!strcmp (config.inputs[i], "-") && isatty (STDIN_FILENO))
            config.progress = false;
    zmr_log_set_level (config.verbose);
    zmr_signals_install ();
    return zmr_launcher_run (&config);
}

//  zmr keygen NAME: NAME.cert (public: goes in the allow-list directory of
//  the processes this one talks to) and NAME.cert_secret (this process's
//  --curve-cert, mode 0600).
static int
s_keygen (int argc, char *argv[])
{
    static const struct option options[] = {
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool force = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":fh", options, NULL)) != -1) {
        switch (opt) {
            case 'f': force = true; break;
            case 'h':
                printf ("Usage: zmr keygen [--force] NAME\n"
                        "Make a CURVE certificate pair for one process of a zmr job:\n"
                        "  NAME.cert         its public certificate: copy it into the\n"
                        "                    --curve-allow directory of the processes it\n"
                        "                    talks to (the ventilator's is their --curve-server)\n"
                        "  NAME.cert_secret  its secret certificate (mode 0600): its own\n"
                        "                    --curve-cert\n"
                        "Prints the public key on standard output.\n\n"
                        "  -f, --force       replace existing files\n"
                        "  -h, --help        show this help and exit\n");
                return 0;
            case ':': zmr_usage_error ("option %s needs a value", argv[optind - 1]);
            default: zmr_usage_error ("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        zmr_usage_error ("expected one argument, the certificate's NAME");
    const char *name = argv[optind];
    char path[PATH_MAX], secret[PATH_MAX + 8];
    if (!*name || snprintf (path, sizeof path, "%s.cert", name) >= (int) sizeof path)
        zmr_usage_error ("NAME: expected a file name, got '%s'", name);
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (!force && (access (path, F_OK) == 0 || access (secret, F_OK) == 0)) {
        zmr_log (0, "%s or %s exists already (--force replaces it)", path, secret);
        return 1;
    }
    const char *base = strrchr (name, '/');
    if (zmr_curve_keygen (path, base? base + 1: name))
        return 1;
    zcert_t *cert = zcert_load (secret);
    if (!cert) {
        zmr_log (0, "cannot read back %s", secret);
        return 1;
    }
    printf ("%s\n", zcert_public_txt (cert));
    zcert_destroy (&cert);
    zmr_log (0, "wrote %s (public) and %s (secret)", path, secret);
    return 0;
}

int
main (int argc, char *argv[])
{
    zmr_log_init ("zmr");
    zmr_tune_malloc ();
    if (argc >= 2 && !strcmp (argv[1], "run")) {
        zmr_log_set_help ("zmr run");
        return s_run (argc - 1, argv + 1);
    }
    if (argc >= 2 && !strcmp (argv[1], "keygen")) {
        zmr_log_set_help ("zmr keygen");
        return s_keygen (argc - 1, argv + 1);
    }
    if (argc >= 2 && (!strcmp (argv[1], "-h") || !strcmp (argv[1], "--help"))) {
        printf ("Usage: zmr COMMAND [OPTION]...\n"
                "MapReduce jobs on ZeroMQ: the word count, or your own map\n"
                "(--map COMMAND or --plugin PATH) with a sum, min or max reduce.\n\n"
                "Commands:\n"
                "  run     run a job on files or stdin here, all its processes on\n"
                "          this machine (the word count, or your own --map/--plugin)\n"
                "  keygen  make a CURVE certificate pair for a process of a job\n\n"
                "'zmr run --help' tells more. The roles run on their own as\n"
                "zmr-ventilator, zmr-mapper, zmr-reducer, zmr-sink and zmr-monitor.\n");
        return 0;
    }
    if (argc >= 2 && !strcmp (argv[1], "--version")) {
        zmr_print_version ("zmr");
        return 0;
    }
    if (argc < 2)
        zmr_usage_error ("missing command (try 'zmr run FILE')");
    zmr_usage_error ("unknown command '%s'", argv[1]);
}
