/*  zmr_metrics: names and types follow Prometheus's naming guide: a zmr_
    prefix, counters end in _total, times in _seconds, sizes in _bytes.
    Labels are bounded: roles, states, phases and partitions are few, and
    workers are those the status lists (at most ZMR_STATUS_MAX_WORKERS);
    no word is ever a label. A counter the job restarts from zero (a
    ventilator started again) is a reset, which Prometheus's rate() takes. */
#include "zmr_metrics.h"
#include "zmr_http.h"
#include <string.h>

#define S_STR(x) S_STR_ (x)
#define S_STR_(x) #x

static void
s_help (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
s_one (FILE *out, const char *name, const char *type, const char *help, uint64_t value)
{
    s_help (out, name, type, help);
    fprintf (out, "%s %llu\n", name, (unsigned long long) value);
}

static void
s_seconds (FILE *out, const char *name, const char *type, const char *help, uint64_t ms)
{
    s_help (out, name, type, help);
    fprintf (out, "%s %.3f\n", name, (double) ms / 1000);
}

//  A label value, escaped as the exposition format asks (\\, \", \n).
static void
s_label (FILE *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            fputc ('\\', out);
        if (*p == '\n')
            fputs ("\\n", out);
        else
            fputc (*p, out);
    }
}

static const char *s_phases[] = { "waiting", "mapping", "flushing", "done", "failed" };
static const char *s_roles[] = { "mapper", "reducer", "sink" };
static const char *s_states[] = { "alive", "dead", "left", "refused" };
#define COUNT(a) (sizeof (a) / sizeof ((a)[0]))

//  The reducer that speaks for partition p: the alive one, else the one
//  the ventilator numbered last (a reducer started again after a death).
static const zmr_worker_status_t *
s_reducer_of (const zmr_status_t *status, uint64_t p)
{
    const zmr_worker_status_t *best = NULL;
    for (uint32_t i = 0; i < status->nworkers; i++) {
        const zmr_worker_status_t *w = &status->workers[i];
        if (strcmp (w->role, "reducer") || w->partition != p)
            continue;
        bool alive = !strcmp (w->state, "alive");
        bool best_alive = best && !strcmp (best->state, "alive");
        if (!best || (alive && !best_alive) || (alive == best_alive && w->id > best->id))
            best = w;
    }
    return best;
}

typedef enum { S_CHUNKS, S_WORDS, S_BYTES } s_mapper_field_t;

static void
s_mappers (FILE *out, const zmr_status_t *status, const char *name, const char *help,
           s_mapper_field_t field)
{
    s_help (out, name, "counter", help);
    for (uint32_t i = 0; i < status->nworkers; i++) {
        const zmr_worker_status_t *w = &status->workers[i];
        if (strcmp (w->role, "mapper"))
            continue;
        uint64_t value = field == S_CHUNKS? w->chunks: field == S_WORDS? w->words: w->bytes;
        fprintf (out, "%s{worker=\"", name);
        s_label (out, w->name);
        fprintf (out, "\",id=\"%llu\"} %llu\n", (unsigned long long) w->id,
                 (unsigned long long) value);
    }
}

void
zmr_metrics_write (const zmr_status_t *status, bool fresh, uint64_t age_ms, FILE *out)
{
    s_one (out, "zmr_status_fresh", "gauge",
           "1 when a status came within the last " S_STR (ZMR_HTTP_FRESH_MS)
           " ms (the job publishes every 250 ms)",
           fresh);
    s_seconds (out, "zmr_status_age_seconds", "gauge",
               "Time since the last status (since the monitor started, before any)", age_ms);
    s_one (out, "zmr_status_received", "gauge", "1 once any status has come", status != NULL);
    if (!status)
        return;
    s_help (out, "zmr_job_info", "gauge", "The job being watched (its id), always 1");
    fprintf (out, "zmr_job_info{job=\"%016llx\"} 1\n", (unsigned long long) status->job);
    s_help (out, "zmr_job_phase", "gauge", "1 for the job's current phase, 0 for the others");
    for (size_t p = 0; p < COUNT (s_phases); p++)
        fprintf (out, "zmr_job_phase{phase=\"%s\"} %d\n", s_phases[p],
                 !strcmp (status->phase, s_phases[p]));
    s_seconds (out, "zmr_job_elapsed_seconds", "gauge", "Time since the ventilator started",
               status->elapsed_ms);
    s_one (out, "zmr_reducers", "gauge", "Partitions (R)", status->reducers);
    s_one (out, "zmr_inputs", "gauge", "Input files (stdin counts as one)", status->inputs);
    if (status->input_known)
        s_one (out, "zmr_input_size_bytes", "gauge", "The input's size, when known",
               status->input_bytes);
    s_one (out, "zmr_input_eof", "gauge", "1 once all input has been read", status->input_eof);
    s_one (out, "zmr_input_read_bytes_total", "counter", "Input bytes cut into chunks",
           status->bytes_read);
    s_one (out, "zmr_input_done_bytes_total", "counter", "Input bytes in completed chunks",
           status->bytes_done);
    s_one (out, "zmr_words_total", "counter", "Words (a job of your own: lines) in completed chunks",
           status->words);
    s_one (out, "zmr_words_too_long_total", "counter",
           "Words over --max-word, left out of the count", status->words_too_long);
    s_one (out, "zmr_chunks_read_total", "counter", "Chunks cut from the input",
           status->chunks_read);
    s_one (out, "zmr_chunks_issued_total", "counter", "Chunk issues to mappers, re-issues included",
           status->chunks_issued);
    s_one (out, "zmr_chunks_reissued_total", "counter",
           "Chunks issued again (their mapper died or was slow)", status->chunks_reissued);
    s_one (out, "zmr_chunks_quarantined_total", "counter",
           "Chunks set aside because they kept killing mappers", status->chunks_quarantined);
    s_help (out, "zmr_chunks", "gauge", "Chunks by state: done (applied at every reducer), "
            "in_flight (issued, not done), quarantined");
    fprintf (out, "zmr_chunks{state=\"done\"} %llu\n", (unsigned long long) status->chunks_done);
    fprintf (out, "zmr_chunks{state=\"in_flight\"} %llu\n",
             (unsigned long long) status->in_flight);
    fprintf (out, "zmr_chunks{state=\"quarantined\"} %llu\n",
             (unsigned long long) status->chunks_quarantined);
    s_one (out, "zmr_duplicates_dropped_total", "counter",
           "Duplicate batches the reducers dropped", status->duplicates);
    s_one (out, "zmr_malformed_frames_total", "counter", "Frames the ventilator dropped",
           status->malformed);
    s_one (out, "zmr_backpressured", "gauge",
           "1 while the input waits because the pipeline is full", status->backpressured);
    s_seconds (out, "zmr_backpressure_seconds_total", "counter",
               "Time the input has waited for the pipeline", status->backpressure_ms);

    //  Workers by role and liveness: every pair, so a role with no dead
    //  worker says 0 rather than nothing.
    s_help (out, "zmr_workers", "gauge", "Workers the ventilator knows, by role and state");
    for (size_t r = 0; r < COUNT (s_roles); r++)
        for (size_t s = 0; s < COUNT (s_states); s++) {
            uint64_t n = 0;
            for (uint32_t i = 0; i < status->nworkers; i++)
                n += !strcmp (status->workers[i].role, s_roles[r])
                  && !strcmp (status->workers[i].state, s_states[s]);
            fprintf (out, "zmr_workers{role=\"%s\",state=\"%s\"} %llu\n", s_roles[r],
                     s_states[s], (unsigned long long) n);
        }
    s_one (out, "zmr_mappers_alive", "gauge", "Mappers heard from recently",
           status->mappers_alive);
    s_one (out, "zmr_mappers_refused", "gauge",
           "Mappers that refused the job (their own --map/--plugin do not define it)",
           status->mappers_refused);
    s_mappers (out, status, "zmr_mapper_chunks_total", "Chunks each mapper mapped", S_CHUNKS);
    s_mappers (out, status, "zmr_mapper_words_total", "Words each mapper counted", S_WORDS);
    s_mappers (out, status, "zmr_mapper_bytes_total", "Bytes each mapper mapped", S_BYTES);

    //  Partitions: one series each, from the reducer serving it.
    const char *names[] = { "zmr_partition_words_total", "zmr_partition_distinct_words" };
    const char *types[] = { "counter", "gauge" };
    const char *helps[] = { "Words each partition's reducer applied (skew across partitions)",
                            "Distinct words each partition's reducer holds" };
    for (size_t m = 0; m < 2; m++) {
        s_help (out, names[m], types[m], helps[m]);
        for (uint64_t p = 0; p < status->reducers && p < ZMR_STATUS_MAX_WORKERS; p++) {
            const zmr_worker_status_t *w = s_reducer_of (status, p);
            if (w)
                fprintf (out, "%s{partition=\"%llu\"} %llu\n", names[m], (unsigned long long) p,
                         (unsigned long long) (m? w->distinct: w->words));
        }
    }

    //  Latency from text in to count visible: what the status carries, two
    //  quantiles over the last minute (running totals only), so a summary
    //  without _sum and _count, and the chunks it is over as a gauge.
    if (status->latency_samples) {
        s_help (out, "zmr_latency_seconds", "summary",
                "Time from text in to its count visible at the sink, over the last minute");
        fprintf (out, "zmr_latency_seconds{quantile=\"0.5\"} %.3f\n",
                 (double) status->latency_p50_ms / 1000);
        fprintf (out, "zmr_latency_seconds{quantile=\"0.99\"} %.3f\n",
                 (double) status->latency_p99_ms / 1000);
        s_one (out, "zmr_latency_chunks", "gauge", "Chunks the latency quantiles are over",
               status->latency_samples);
    }
    if (status->window_ms) {
        s_seconds (out, "zmr_window_length_seconds", "gauge", "Tumbling window length",
                   status->window_ms);
        s_one (out, "zmr_windows_closed_total", "counter", "Windows the sink has written",
               status->windows_closed);
        s_one (out, "zmr_last_window_words", "gauge", "Words in the last closed window",
               status->last_window_words);
    }
    if (status->event_time[0]) {
        s_one (out, "zmr_late_records_total", "counter",
               "Event time: lines later than the watermark (written to late.tsv)",
               status->late_records);
        s_one (out, "zmr_untimed_records_total", "counter",
               "Event time: lines without a time (written to late.tsv)",
               status->untimed_records);
    }
}
