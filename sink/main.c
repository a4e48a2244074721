/*  zmr-sink: collects a job's partitions and writes the result. */
#include "zmr_sink.h"
#include "zmr_windows.h"
#include <dirent.h>
#include <getopt.h>
#include <sys/stat.h>

static void
s_help (void)
{
    printf (
"Usage: zmr-sink [OPTION]... CONTROL\n"
"Collect the result of the zmr job whose ventilator listens at CONTROL and\n"
"write it, one 'key<TAB>value' line per key (the value a signed integer),\n"
"largest value first, ties in byte order of the key: for the word count,\n"
"'word<TAB>count', most frequent first.\n"
"\n"
"  -o, --output=FILE       write the result to FILE (default standard output);\n"
"                          FILE appears whole or not at all, replacing any\n"
"                          FILE there (as sort -o and '>' do)\n"
"      --parts=DIR         also write DIR/part-00000... one per partition, then\n"
"                          an empty DIR/_SUCCESS once every part is whole; DIR\n"
"                          is made if missing and must be empty (see --force)\n"
"      --receipt=FILE      write the job's receipt (JSON) to FILE at the end\n"
"      --force             replace what an earlier run wrote in the directories\n"
"                          of --parts and --window-dir (part-*, window-*,\n"
"                          _SUCCESS, late.tsv); any other file there is still\n"
"                          refused. A --window-dir holding only window files\n"
"                          (and late.tsv, cut to the windows written) is kept\n"
"                          (a sink started again: a window comes again only\n"
"                          with the same counts, else the job fails)\n"
"Running totals, while the job runs (the ventilator's --live-ms):\n"
"      --follow            write 'key<TAB>total' on standard output for each\n"
"                          key whose total changed; without --output the final\n"
"                          result is not written again (the last line of each\n"
"                          key is its final value)\n"
"      --follow-ms=MS      a key's change goes out at once, unless the key \n"
"                          went out less than MS ago: then once MS have\n"
"                          passed, with its latest total (default 100); also\n"
"                          for --publish\n"
"      --snapshot=FILE     keep FILE holding every total so far, replaced whole\n"
"      --snapshot-ms=MS    as --follow-ms, for the whole file (default 20); at\n"
"                          most every 4 times the CPU time writing it takes\n"
"      --publish=EP        PUB socket at EP sending TOTALS messages of the\n"
"                          changed words (docs/protocol.md)\n"
"      --top=N             words in the status's top list, 0..20 (default 10)\n"
"      --window-dir=DIR    write each closed window's counts (the ventilator's\n"
"                          --window-ms) to DIR/window-START.tsv, START its\n"
"                          start in ms since the epoch (DIR: as for --parts);\n"
"                          with --event-time, also DIR/late.tsv, the late lines\n"
"                          and those without time, and window-end.tsv at the end\n"
"      --bind=EP           where reducers send results (default tcp://*:*)\n"
"      --advertise=EP      endpoint to give the job instead of the bound one\n"
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
"Every output is checked before the sink joins the job. Exit status: 0 result\n"
"written (or stopped by a signal before writing), 1 failed (an output that\n"
"cannot be written, or the job failed; starting the sink again does not help),\n"
"2 usage error, or an output or endpoint found unusable at start, 141 standard\n"
"output closed (as a filter ended by SIGPIPE), 128+N stopped by signal N while\n"
"writing an output.\n");
}

//  Whether two paths name one file: the same name, or one that exists
//  under both (same device and inode).
static bool
s_same_file (const char *a, const char *b)
{
    struct stat sa, sb;
    return !strcmp (a, b)
        || (stat (a, &sa) == 0 && stat (b, &sb) == 0 && S_ISREG (sa.st_mode)
            && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

//  With --force, a --window-dir that holds window files only (and what a
//  killed sink left of one being written) is kept: they are this job's,
//  written before this sink was started again (zmr run emptied the
//  directory before the job), and a window is written once. Temporary files
//  of dead writers are removed. Returns 1 when kept (and writable), 0 when
//  the usual check is to be made, -1 after saying why.
static int
s_keep_windows (const char *dir)
{
    DIR *listing = opendir (dir);
    if (!listing)
        return 0;
    struct dirent *entry;
    bool only_windows = true, any = false;
    while (only_windows && (entry = readdir (listing))) {
        const char *name = entry->d_name;
        if (!strcmp (name, ".") || !strcmp (name, ".."))
            continue;
        any = true;
        only_windows = (!strncmp (name, "window-", 7) && strstr (name, ".tsv"))
                    || !strcmp (name, "late.tsv");
    }
    if (!only_windows || !any) {
        closedir (listing);
        return 0;
    }
    rewinddir (listing);
    while ((entry = readdir (listing))) {
        const char *tmp = strstr (entry->d_name, ".tsv.tmp-");
        if (strncmp (entry->d_name, "window-", 7) || !tmp)
            continue;
        char path[4096 + 256];
        snprintf (path, sizeof path, "%s/%.*s", dir, (int) (tmp + 4 - entry->d_name),
                  entry->d_name);
        zmr_output_sweep (path);
    }
    closedir (listing);
    char probe[4096 + 64], err[4096 + 256];
    snprintf (probe, sizeof probe, "%s/window-check", dir);
    if (zmr_output_check_file ("--window-dir", probe, err, sizeof err)) {
        zmr_log (0, "%s", err);
        return -1;
    }
    //  Side records of windows whose file is not there were not confirmed:
    //  their CLOSE comes again
    if (zmr_windows_late_recover (dir))
        return -1;
    zmr_log (1, "--window-dir: keeping the window files in '%s' (--force)", dir);
    return 1;
}

//  Every output, before the job is joined: a place that cannot be written
//  fails now, in one line, not after all the counting. Also removes what a
//  sink killed before its rename left beside each file. Returns 0 or -1.
static int
s_check_outputs (const zmr_sink_config_t *config, bool force)
{
    const char *files[][2] = {
        { "--output", config->output }, { "--receipt", config->receipt },
        { "--snapshot", config->snapshot },
    };
    char err[4096 + 256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (!files[i][1])
            continue;
        for (size_t j = 0; j < i; j++)
            if (files[j][1] && s_same_file (files[i][1], files[j][1])) {
                zmr_log (0, "%s and %s name the same file '%s'", files[j][0], files[i][0],
                         files[i][1]);
                return -1;
            }
        zmr_output_sweep (files[i][1]);
        if (zmr_output_check_file (files[i][0], files[i][1], err, sizeof err)) {
            zmr_log (0, "%s", err);
            return -1;
        }
    }
    const char *dirs[][2] = {
        { "--parts", config->parts_dir }, { "--window-dir", config->window_dir },
    };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        int kept = i == 1 && dirs[i][1] && force? s_keep_windows (dirs[i][1]): 0;
        if (kept < 0)
            return -1;
        if (!kept && dirs[i][1]
        &&  zmr_output_check_dir (dirs[i][0], dirs[i][1], force, err, sizeof err)) {
            zmr_log (0, "%s", err);
            return -1;
        }
    }
    return 0;
}

int
main (int argc, char *argv[])
{
    zmr_log_init ("zmr-sink");
    zmr_tune_malloc ();
    zmr_sink_config_t config = { .bind = "tcp://*:*", .heartbeat_ms = 250,
                                 .follow_ms = 100, .snapshot_ms = 20, .top = 10 };
    enum { O_BIND = 256, O_ADVERTISE, O_PARTS, O_RECEIPT, O_NAME, O_HEARTBEAT, O_WAIT,
           O_FOLLOW, O_FOLLOW_MS, O_SNAPSHOT, O_SNAPSHOT_MS, O_PUBLISH, O_TOP, O_WINDOW_DIR,
           O_VERSION, O_FORCE };
    static const struct option options[] = {
        { "output", required_argument, NULL, 'o' },
        { "parts", required_argument, NULL, O_PARTS },
        { "receipt", required_argument, NULL, O_RECEIPT },
        { "bind", required_argument, NULL, O_BIND },
        { "advertise", required_argument, NULL, O_ADVERTISE },
        { "name", required_argument, NULL, O_NAME },
        { "heartbeat-ms", required_argument, NULL, O_HEARTBEAT },
        { "wait-ms", required_argument, NULL, O_WAIT },
        { "follow", no_argument, NULL, O_FOLLOW },
        { "follow-ms", required_argument, NULL, O_FOLLOW_MS },
        { "snapshot", required_argument, NULL, O_SNAPSHOT },
        { "snapshot-ms", required_argument, NULL, O_SNAPSHOT_MS },
        { "publish", required_argument, NULL, O_PUBLISH },
        { "top", required_argument, NULL, O_TOP },
        { "window-dir", required_argument, NULL, O_WINDOW_DIR },
        { "force", no_argument, NULL, O_FORCE },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        ZMR_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    int verbose = 0;
    bool force = false;
    zmr_curve_config_t curve = { 0 };
    zmr_config_apply (&argc, &argv, options);
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":o:vh", options, NULL)) != -1) {
        switch (opt) {
            case 'o': config.output = strcmp (optarg, "-")? optarg: NULL; break;
            case O_PARTS: config.parts_dir = optarg; break;
            case O_RECEIPT: config.receipt = optarg; break;
            case O_BIND: config.bind = zmr_option_endpoint ("--bind", optarg); break;
            case O_ADVERTISE: config.advertise = zmr_option_endpoint ("--advertise", optarg); break;
            case O_NAME:
                if (strlen (optarg) >= ZMR_NAME_MAX)
                    zmr_usage_error ("option --name: at most %d bytes", ZMR_NAME_MAX - 1);
                config.name = optarg;
                break;
            case O_HEARTBEAT: config.heartbeat_ms = (uint32_t) zmr_option_u64 ("--heartbeat-ms", optarg, 10, 60000); break;
            case O_WAIT: config.wait_ms = (uint32_t) zmr_option_u64 ("--wait-ms", optarg, 0, 86400000); break;
            case O_FOLLOW: config.follow = true; break;
            case O_FOLLOW_MS: config.follow_ms = (uint32_t) zmr_option_u64 ("--follow-ms", optarg, 1, 60000); break;
            case O_SNAPSHOT: config.snapshot = optarg; break;
            case O_SNAPSHOT_MS: config.snapshot_ms = (uint32_t) zmr_option_u64 ("--snapshot-ms", optarg, 1, 3600000); break;
            case O_PUBLISH: config.publish = zmr_option_endpoint ("--publish", optarg); break;
            case O_TOP: config.top = (uint32_t) zmr_option_u64 ("--top", optarg, 0, ZMR_TOP_MAX); break;
            case O_WINDOW_DIR: config.window_dir = optarg; break;
            case O_FORCE: force = true; break;
            case 'v': verbose++; break;
            case 'h': s_help (); return 0;
            case O_VERSION: zmr_print_version ("zmr-sink"); return 0;
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
    if (s_check_outputs (&config, force))
        return 2;
    zmr_log_set_level (verbose);
    zmr_signals_install ();
    if (zmr_curve_setup (&curve, ZMR_CURVE_BINDS | ZMR_CURVE_CONNECTS))
        return 1;
    int code = zmr_sink_run (&config);
    zmr_curve_teardown ();
    return code;
}
