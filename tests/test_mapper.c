/*  Issue 2, point 7: the mapper combines, batches and hashes as promised.
    Seen from outside, through the status: each mapper computes SHA-1 once
    per distinct word it meets (its "distinct" counter), never per
    occurrence, and each reducer gets exactly one batch per chunk: it
    applies one per chunk and drops none as a duplicate. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

TestSuite (mapper, .init = h_setup, .fini = h_teardown, .timeout = 240);

static bool
s_two_mappers (const h_status_t *status, void *arg)
{
    (void) arg;
    return h_status_count_role (status, "mapper") == 2;
}

Test (mapper, hashes_each_distinct_word_once_and_sends_one_batch_per_chunk_and_reducer)
{
    char *status_ep = h_strf ("ipc://%s/st", h_dir ());
    char *output = h_path ("out.txt");
    char *monitor_out = h_path ("monitor.json");
    h_io_t mon = { .stdout_path = monitor_out };
    pid_t monitor = h_spawnl (&mon, "zmr-monitor", "--json", status_ep, NULL);
    const char *env[] = { h_strf ("TMPDIR=%s", h_dir ()), NULL };
    //  The text comes on standard input, held back until the monitor lists
    //  both mappers: the job cannot end before the monitor is there, nor
    //  before both mappers can take chunks, however fast it is (a
    //  --map-cost made it last long enough on one machine).
    size_t len;
    h_release (h_read (h_kjv (), &len));
    char *fifo = h_fifo ("input");
    h_feed_start_held (fifo, h_kjv (), 65536, 0, len, 0);
    h_io_t io = { .stdin_path = fifo, .env = env };
    pid_t zmr = h_spawnl (&io, "zmr", "run", "--no-progress", "-m", "2", "-r", "3",
                          "--chunk-size", "64K", "--status", status_ep, "-o", output, NULL);
    cr_assert (h_status_wait (monitor_out, s_two_mappers, NULL, 120000, NULL),
               "the monitor did not list two mappers within 120 s");
    h_feed_limit (UINT64_MAX);
    cr_assert_eq (h_exit_code (h_wait (zmr, 180000, "zmr run")), 0);
    h_wait (monitor, 60000, "the monitor");
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
                                              output, NULL), 60000, "check.py"));
    cr_assert_eq (code, 0, "the status does not show one hash per distinct word and "
                  "one batch per chunk and reducer (see log-*-python3.err)");
}

//  A job's memory is the sum over its processes. Once every chunk is
//  applied the ventilator says REST, and each mapper gives back its word
//  table then, before the sink sorts, not when the job is over. (Without
//  REST a mapper gives it back only after 5 s without a chunk: later than
//  this job's end.)
Test (mapper, gives_back_its_word_table_once_every_chunk_is_applied)
{
    h_job_t job;
    h_job_opts_t opts = { .reducers = 2, .mappers = 0 };
    h_job_start (&job, h_kjv (), &opts);
    char *log_path = h_path ("mapper.err");
    h_io_t io = { .stderr_path = log_path };
    pid_t mapper = h_spawnl (&io, "zmr-mapper", "--once", "-v", job.control, NULL);
    h_job_wait_done (&job, 180000, NULL);
    cr_assert_eq (h_exit_code (h_wait (mapper, 60000, "the mapper")), 0);
    h_counts_t ref;
    h_reference_file (h_kjv (), &ref);
    h_assert_result (job.output, &ref);
    h_counts_free (&ref);

    size_t len;
    char *log = h_read (log_path, &len);
    cr_assert_not_null (log);
    const char *said = strstr (log, "every chunk is applied: giving back ");
    cr_assert_not_null (said, "the mapper did not give back its table on REST:\n%s", log);
    unsigned long kib = strtoul (said + strlen ("every chunk is applied: giving back "),
                                 NULL, 10);
    //  The KJV's ~13k words of mixed case fill a table of 1 MiB or more.
    cr_assert_geq (kib, 1024, "it gave back only %lu KiB", kib);
}

//  A chunk that takes longer to map than --dead-ms (a costly map function)
//  must not make its mapper look dead: the mapper heartbeats while it maps.
//  Before, it was silent for the whole chunk and was declared dead, its
//  chunk was issued again (and, with a low --poison-limit, quarantined
//  while its batches still reached the reducers). A chunk waiting in a busy
//  mapper's queue may still go to a mapper that is idle: that is no death.
Test (mapper, a_chunk_longer_to_map_than_dead_ms_is_not_a_death, .timeout = 280)
{
    size_t kjv_len;
    char *kjv = h_read (h_kjv (), &kjv_len);
    cr_assert (kjv && kjv_len > (600u << 10));
    //  ~600 KB, cut after a newline: three chunks of 256K
    size_t len = 600u << 10;
    while (kjv[len - 1] != '\n')
        len--;
    const char *input = h_write ("slice.txt", kjv, len);
    h_job_t job;
    h_job_opts_t opts = { .reducers = 2, .mappers = 0, .chunk_size = "256K", .dead_ms = 1000 };
    h_job_start (&job, input, &opts);
    //  --map-cost 8000: about 2 s a chunk here, twice --dead-ms
    for (int m = 0; m < 2; m++)
        h_spawnl (NULL, "zmr-mapper", "--map-cost", "8000", job.control, NULL);
    h_status_t final;
    h_job_wait_done (&job, 240000, &final);
    h_counts_t ref;
    h_reference_file (input, &ref);
    h_assert_result (job.output, &ref);
    h_counts_free (&ref);
    size_t log_len;
    char *log = h_read (h_path ("ventilator.err"), &log_len);
    cr_assert_not_null (log);
    cr_assert_null (strstr (log, "declared dead"), "a busy mapper was taken for dead:\n%s", log);
    cr_assert_null (strstr (log, "its mapper is dead"), "%s", log);
}
