/*  Issue 2, point 7: the mapper combines, batches and hashes as promised.
    Seen from outside, through the status: each mapper computes SHA-1 once
    per distinct word it meets (its "distinct" counter), never per
    occurrence, and each reducer gets exactly one batch per chunk: it
    applies one per chunk and drops none as a duplicate. */
#include <criterion/criterion.h>
#include <string.h>
#include "harness.h"

TestSuite (mapper, .init = h_setup, .fini = h_teardown, .timeout = 120);

Test (mapper, hashes_each_distinct_word_once_and_sends_one_batch_per_chunk_and_reducer)
{
    char *status_ep = h_strf ("ipc://%s/st", h_dir ());
    char *output = h_path ("out.txt");
    char *monitor_out = h_path ("monitor.json");
    h_io_t mon = { .stdout_path = monitor_out };
    pid_t monitor = h_spawnl (&mon, "zmr-monitor", "--json", status_ep, NULL);
    const char *env[] = { h_strf ("TMPDIR=%s", h_dir ()), NULL };
    h_io_t io = { .env = env };
    //  --map-cost keeps the job long enough for the monitor to be there.
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-m", "2", "-r", "3",
                          "--chunk-size", "64K", "--map-cost", "150", "--status", status_ep,
                          "-o", output, h_kjv (), NULL);
    cr_assert_eq (h_exit_code (h_wait (zmr, 100000, "zmr run")), 0);
    h_wait (monitor, 20000, "the monitor");
    //  An independent reading of the final state and of the result.
    const char *check =
        "import json, sys\n"
        "final = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]\n"
        "distinct = sum(1 for _ in open(sys.argv[2], 'rb'))\n"
        "assert final['phase'] == 'done', final['phase']\n"
        "mappers = [w for w in final['workers'] if w['role'] == 'mapper']\n"
        "reducers = [w for w in final['workers'] if w['role'] == 'reducer']\n"
        "assert len(mappers) == 2 and len(reducers) == 3\n"
        "for m in mappers:\n"
        "    assert 0 < m['distinct'] <= distinct, (m['distinct'], distinct)\n"
        "assert sum(m['words'] for m in mappers) == final['words'] > 10 * distinct\n"
        "for r in reducers:\n"
        "    assert r['chunks'] == final['chunks_done'], (r['chunks'], final['chunks_done'])\n"
        //  Applied once and sent once: no batch came twice to any reducer.
        "    assert r['duplicates'] == 0, (r['partition'], r['duplicates'],\n"
        "                                  final['chunks_reissued'])\n"
        "assert final['duplicates'] == 0, final['duplicates']\n";
    char *script = h_write ("check.py", check, strlen (check));
    int code = h_exit_code (h_wait (h_spawnl (NULL, "/usr/bin/python3", script, monitor_out,
                                              output, NULL), 30000, "check.py"));
    cr_assert_eq (code, 0, "the status does not show one hash per distinct word and "
                  "one batch per chunk and reducer (see log-*-python3.err)");
}
