/*  The job status: published by the ventilator, read by monitors. It must
    come back whole, skip what it does not know, and print as valid JSON. */
#include <criterion/criterion.h>
#include "zmr.h"

static void
s_sample (zmr_status_t *status, zmr_worker_status_t *workers)
{
    memset (status, 0, sizeof *status);
    status->job = 0x0123456789abcdefull;
    status->seq = 17;
    snprintf (status->phase, sizeof status->phase, "mapping");
    snprintf (status->reason, sizeof status->reason, "no mapper alive: \"quoted\"\n");
    status->reducers = 3;
    status->input_bytes = 4298239;
    status->input_known = true;
    status->bytes_done = 1000;
    status->chunks_read = 62;
    status->chunks_reissued = 4;
    status->words = 823359;
    status->malformed = 2;
    memset (workers, 0, 2 * sizeof *workers);
    snprintf (workers[0].role, sizeof workers[0].role, "mapper");
    snprintf (workers[0].name, sizeof workers[0].name, "host\xff:1\x01");
    snprintf (workers[0].state, sizeof workers[0].state, "alive");
    workers[0].chunks = 34;
    workers[0].id = 4;
    snprintf (workers[1].role, sizeof workers[1].role, "reducer");
    snprintf (workers[1].name, sizeof workers[1].name, "caf\xc3\xa9:2");
    snprintf (workers[1].state, sizeof workers[1].state, "dead");
    workers[1].partition = 2;
    workers[1].last_seen_ms = 3100;
    status->workers = workers;
    status->nworkers = 2;
}

Test (status, roundtrips_the_whole_state)
{
    zmr_status_t in;
    zmr_worker_status_t workers[2];
    s_sample (&in, workers);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    zmr_status_pack (&pk, &in);
    zmr_msg_t msg;
    const char *why = NULL;
    cr_assert_eq (zmr_msg_decode (sbuf.data, sbuf.size, &msg, &why), 0, "%s", why);
    cr_assert_eq (msg.type, ZMR_STATUS);
    zmr_status_t out;
    memset (&out, 0, sizeof out);
    cr_assert_eq (zmr_status_decode (&msg, &out, &why), 0, "%s", why);
    cr_assert_eq (out.job, in.job);
    cr_assert_eq (out.seq, 17);
    cr_assert_str_eq (out.phase, "mapping");
    cr_assert_str_eq (out.reason, in.reason);
    cr_assert (out.input_known);
    cr_assert_not (out.input_eof);
    cr_assert_eq (out.words, 823359);
    cr_assert_eq (out.chunks_reissued, 4);
    cr_assert_eq (out.nworkers, 2);
    cr_assert_str_eq (out.workers[0].name, workers[0].name);
    cr_assert_eq (out.workers[0].chunks, 34);
    cr_assert_str_eq (out.workers[1].state, "dead");
    cr_assert_eq (out.workers[1].partition, 2);
    cr_assert_eq (out.workers[1].last_seen_ms, 3100);
    zmr_status_reset (&out);
    cr_assert_null (out.workers);
    msgpack_sbuffer_destroy (&sbuf);
}

Test (status, skips_keys_it_does_not_know)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    zmr_msg_begin (&pk, ZMR_STATUS, 5, 1);
    msgpack_pack_map (&pk, 3);
    msgpack_pack_str (&pk, 6); msgpack_pack_str_body (&pk, "future", 6);
    msgpack_pack_array (&pk, 2); msgpack_pack_nil (&pk); msgpack_pack_double (&pk, 1.5);
    msgpack_pack_str (&pk, 5); msgpack_pack_str_body (&pk, "words", 5);
    msgpack_pack_uint64 (&pk, 42);
    msgpack_pack_str (&pk, 5); msgpack_pack_str_body (&pk, "phase", 5);
    msgpack_pack_str (&pk, 4); msgpack_pack_str_body (&pk, "done", 4);
    zmr_msg_t msg;
    const char *why = NULL;
    cr_assert_eq (zmr_msg_decode (sbuf.data, sbuf.size, &msg, &why), 0, "%s", why);
    zmr_status_t out;
    memset (&out, 0, sizeof out);
    cr_assert_eq (zmr_status_decode (&msg, &out, &why), 0, "%s", why);
    cr_assert_eq (out.words, 42);
    cr_assert_str_eq (out.phase, "done");
    zmr_status_reset (&out);
    msgpack_sbuffer_destroy (&sbuf);
}

Test (status, refuses_a_numeric_field_of_the_wrong_type)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    zmr_msg_begin (&pk, ZMR_STATUS, 5, 1);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str (&pk, 5); msgpack_pack_str_body (&pk, "words", 5);
    msgpack_pack_str (&pk, 2); msgpack_pack_str_body (&pk, "42", 2);
    zmr_msg_t msg;
    const char *why = NULL;
    cr_assert_eq (zmr_msg_decode (sbuf.data, sbuf.size, &msg, &why), 0, "%s", why);
    zmr_status_t out;
    memset (&out, 0, sizeof out);
    cr_assert_eq (zmr_status_decode (&msg, &out, &why), -1);
    zmr_status_reset (&out);
    msgpack_sbuffer_destroy (&sbuf);
}

Test (status, json_is_valid_for_any_bytes_in_names, .timeout = 30)
{
    zmr_status_t in;
    zmr_worker_status_t workers[2];
    s_sample (&in, workers);
    char path[] = "/tmp/zmr-status-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    FILE *out = fdopen (fd, "w");
    zmr_status_write_json (&in, out);
    fputc ('\n', out);
    fclose (out);
    //  An independent JSON parser judges the output.
    char command[1024];
    snprintf (command, sizeof command,
              "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
              "assert d[\"job\"]==\"0123456789abcdef\" and d[\"words\"]==823359 "
              "and d[\"workers\"][1][\"name\"]==\"caf\\u00e9:2\" "
              "and d[\"workers\"][0][\"name\"]==\"host\\u00ff:1\\u0001\" "
              "and d[\"reason\"].endswith(\"\\\"quoted\\\"\\n\")' %s", path);
    int rc = system (command);
    unlink (path);
    cr_assert_eq (rc, 0, "python3 rejected the JSON (exit %d)", rc);
}

Test (status, progress_line_shows_percent_and_phase)
{
    zmr_status_t in;
    zmr_worker_status_t workers[2];
    s_sample (&in, workers);
    in.input_bytes = 4000000;
    in.bytes_done = 2000000;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    zmr_status_write_progress (&in, out, 100);
    fclose (out);
    cr_assert (strstr (text, " 50%") != NULL, "line: %s", text);
    cr_assert (strstr (text, "mapping") != NULL, "line: %s", text);
    free (text);
}

//  The progress line as a string, for width.
static char *
s_progress (const zmr_status_t *status, int width)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    cr_assert_not_null (out);
    zmr_status_write_progress (status, out, width);
    fclose (out);
    return text;
}

//  Columns a terminal gives text: escape sequences (ESC [ ... letter) take
//  none, every other byte of this ASCII line one. A newline or carriage
//  return would break the line: -1.
static int
s_visible (const char *text)
{
    int columns = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n' || *p == '\r')
            return -1;
        if (*p == '\033' && p[1] == '[') {
            p += 2;
            while (*p && !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
                p++;
            if (!*p)
                break;
            continue;
        }
        columns++;
    }
    return columns;
}

//  A KJV-sized job two seconds in, half done, its last second without a
//  finished chunk (so its rate over that second is 0).
static void
s_half_done (zmr_status_t *status, zmr_worker_status_t *workers)
{
    s_sample (status, workers);
    status->input_bytes = 4000000;
    status->bytes_done = 2000000;
    status->bytes_per_s = 0;
    status->elapsed_ms = 2000;
    status->mappers_alive = 2;
}

Test (status, progress_line_fits_every_width_exactly)
{
    zmr_status_t in;
    zmr_worker_status_t workers[2];
    s_half_done (&in, workers);
    for (int phase = 0; phase < 3; phase++) {
        //  Known input, a stream (size unknown), a job done.
        in.input_known = phase != 1;
        snprintf (in.phase, sizeof in.phase, "%s", phase == 2? "done": "mapping");
        for (int width = 1; width <= 200; width++) {
            char *line = s_progress (&in, width);
            cr_assert_eq (s_visible (line), width, "phase %d width %d: %d columns: '%s'",
                          phase, width, s_visible (line), line);
            free (line);
        }
    }
    //  The numbers go before the bar: at 20 columns the percentage and the
    //  bytes are there, not the bar; at 200 the bar is there too.
    in.input_known = true;
    snprintf (in.phase, sizeof in.phase, "mapping");
    char *line = s_progress (&in, 20);
    cr_assert (strstr (line, " 50%") && strstr (line, "2.0M/4.0MB") && !strchr (line, '['),
               "'%s'", line);
    free (line);
    line = s_progress (&in, 200);
    cr_assert (strstr (line, "[####") && strstr (line, "words") && strstr (line, "2 mappers"),
               "'%s'", line);
    free (line);
}

Test (status, progress_line_shows_a_real_rate_and_an_eta)
{
    zmr_status_t in;
    zmr_worker_status_t workers[2];
    s_half_done (&in, workers);
    //  2 MB in 2 s: 1 MB/s, though the last second's rate is 0; 2 MB left
    //  at that rate: 2 s.
    char *line = s_progress (&in, 80);
    cr_assert (strstr (line, "1.0MB/s"), "'%s'", line);
    cr_assert (strstr (line, "ETA  0:02"), "'%s'", line);
    free (line);
    //  The status's own rate, when it has one: 500 kB/s, 2 MB left: 4 s.
    in.bytes_per_s = 500000;
    line = s_progress (&in, 80);
    cr_assert (strstr (line, "500.0kB/s") && strstr (line, "ETA  0:04"), "'%s'", line);
    free (line);
    //  No ETA without a known size, nor once done; no rate before a byte.
    in.input_known = false;
    line = s_progress (&in, 200);
    cr_assert (!strstr (line, "ETA"), "'%s'", line);
    free (line);
    in.input_known = true;
    snprintf (in.phase, sizeof in.phase, "done");
    line = s_progress (&in, 200);
    cr_assert (!strstr (line, "ETA") && strstr (line, "100%"), "'%s'", line);
    free (line);
    snprintf (in.phase, sizeof in.phase, "mapping");
    in.bytes_per_s = 0;
    in.bytes_done = 0;
    line = s_progress (&in, 200);
    cr_assert (strstr (line, "     0B/s") && !strstr (line, "ETA"), "'%s'", line);
    free (line);
}

//  Event time (issue 17 item 3): the format and the watermark come back,
//  and an ingest-time job has neither (absent, not "" and 0: 0 is a time).
Test (status, event_time_and_watermark_come_back_and_are_absent_for_ingest_time)
{
    zmr_status_t in;
    zmr_worker_status_t workers[2];
    for (int event = 0; event < 2; event++) {
        s_sample (&in, workers);
        in.late_records = 12;
        in.untimed_records = 3;
        if (event) {
            snprintf (in.event_time, sizeof in.event_time, "clf");
            in.has_watermark = true;
            in.watermark_ms = 0;
        }
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        zmr_status_pack (&pk, &in);
        zmr_msg_t msg;
        const char *why = NULL;
        cr_assert_eq (zmr_msg_decode (sbuf.data, sbuf.size, &msg, &why), 0, "%s", why);
        zmr_status_t out;
        memset (&out, 0, sizeof out);
        cr_assert_eq (zmr_status_decode (&msg, &out, &why), 0, "%s", why);
        cr_assert (out.late_records == 12 && out.untimed_records == 3);
        cr_assert_str_eq (out.event_time, event? "clf": "");
        cr_assert_eq (out.has_watermark, event != 0);
        cr_assert_eq (out.watermark_ms, 0);
        char *json = NULL;
        size_t len = 0;
        FILE *file = open_memstream (&json, &len);
        zmr_status_write_json (&out, file);
        fclose (file);
        cr_assert_eq (strstr (json, "\"event_time\":\"clf\"") != NULL, event != 0, "%s", json);
        cr_assert_eq (strstr (json, "\"watermark_ms\":0") != NULL, event != 0, "%s", json);
        cr_assert (strstr (json, "\"late_records\":12") && strstr (json, "\"untimed_records\":3"),
                   "%s", json);
        free (json);
        zmr_status_reset (&out);
        msgpack_sbuffer_destroy (&sbuf);
    }
}
