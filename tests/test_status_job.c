/*  What STATUS says of the job (issue 16 part 2, item 2): its label, kind
    and reduce, the mappers that refused it, a worker state 'refused', and
    top values that may be negative. New keys only: a status without them
    (an older ventilator) still decodes, the new fields empty. */
#include <criterion/criterion.h>
#include "zmr.h"

//  Packs status, decodes it back into *out (zeroed; caller resets).
static int
s_roundtrip (const zmr_status_t *status, zmr_status_t *out, const char **why)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    zmr_status_pack (&pk, status);
    zmr_msg_t msg;
    memset (out, 0, sizeof *out);
    int rc = zmr_msg_decode (sbuf.data, sbuf.size, &msg, why);
    if (rc == 0)
        rc = zmr_status_decode (&msg, out, why);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

Test (status_job, the_job_refusals_and_signed_top_values_roundtrip)
{
    zmr_status_t in;
    memset (&in, 0, sizeof in);
    in.job = 42;
    snprintf (in.phase, sizeof in.phase, "mapping");
    snprintf (in.job_label, sizeof in.job_label, "awk '{print $1 \"\\t\" $NF}'");
    snprintf (in.job_kind, sizeof in.job_kind, "command");
    snprintf (in.reduce, sizeof in.reduce, "min");
    in.mappers_refused = 2;
    in.ntop = 3;
    snprintf (in.top[0].word, sizeof in.top[0].word, "198.18.0.1");
    in.top[0].count = INT64_MAX;
    snprintf (in.top[1].word, sizeof in.top[1].word, "198.18.0.2");
    in.top[1].count = -5;
    snprintf (in.top[2].word, sizeof in.top[2].word, "198.18.0.3");
    in.top[2].count = INT64_MIN;
    zmr_worker_status_t worker;
    memset (&worker, 0, sizeof worker);
    snprintf (worker.role, sizeof worker.role, "mapper");
    snprintf (worker.name, sizeof worker.name, "m:1");
    snprintf (worker.state, sizeof worker.state, "refused");
    in.workers = &worker;
    in.nworkers = 1;
    zmr_status_t out;
    const char *why = NULL;
    cr_assert_eq (s_roundtrip (&in, &out, &why), 0, "%s", why);
    cr_assert_str_eq (out.job_label, in.job_label);
    cr_assert_str_eq (out.job_kind, "command");
    cr_assert_str_eq (out.reduce, "min");
    cr_assert_eq (out.mappers_refused, 2);
    cr_assert_eq (out.ntop, 3);
    cr_assert_eq (out.top[0].count, INT64_MAX);
    cr_assert_eq (out.top[1].count, -5);
    cr_assert_eq (out.top[2].count, INT64_MIN);
    cr_assert_str_eq (out.workers[0].state, "refused");
    //  JSON: the label apart from the id, values signed
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream (&text, &size);
    zmr_status_write_json (&out, mem);
    fclose (mem);
    cr_assert (strstr (text, "\"job\":\"000000000000002a\""), "%s", text);
    cr_assert (strstr (text, "\"job_label\":\"awk '{print $1 \\\"\\\\t\\\" $NF}'\""), "%s", text);
    cr_assert (strstr (text, "\"mappers_refused\":2"), "%s", text);
    cr_assert (strstr (text, "\"count\":-5}"), "%s", text);
    cr_assert (strstr (text, "\"count\":-9223372036854775808}"), "%s", text);
    free (text);
    zmr_status_reset (&out);
}

//  A STATUS from before jobs: no job keys, top counts as uints.
Test (status_job, a_status_without_the_job_keys_still_decodes)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    zmr_msg_begin (&pk, ZMR_STATUS, 7, 1);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str (&pk, 5);
    msgpack_pack_str_body (&pk, "phase", 5);
    msgpack_pack_str (&pk, 4);
    msgpack_pack_str_body (&pk, "done", 4);
    msgpack_pack_str (&pk, 3);
    msgpack_pack_str_body (&pk, "top", 3);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str (&pk, 4);
    msgpack_pack_str_body (&pk, "word", 4);
    msgpack_pack_str (&pk, 3);
    msgpack_pack_str_body (&pk, "the", 3);
    msgpack_pack_str (&pk, 5);
    msgpack_pack_str_body (&pk, "count", 5);
    msgpack_pack_uint64 (&pk, 1ull << 40);
    zmr_msg_t msg;
    const char *why = NULL;
    cr_assert_eq (zmr_msg_decode (sbuf.data, sbuf.size, &msg, &why), 0, "%s", why);
    zmr_status_t out;
    memset (&out, 0, sizeof out);
    cr_assert_eq (zmr_status_decode (&msg, &out, &why), 0, "%s", why);
    cr_assert_str_eq (out.phase, "done");
    cr_assert_str_eq (out.job_label, "");
    cr_assert_eq (out.mappers_refused, 0);
    cr_assert_eq (out.top[0].count, 1ll << 40);
    zmr_status_reset (&out);
    msgpack_sbuffer_destroy (&sbuf);
}

//  Bounded: a top value past the signed range, a label too long, a job kind
//  that is not a string are refused with a reason, not read.
Test (status_job, out_of_range_values_and_long_labels_are_refused)
{
    for (int c = 0; c < 3; c++) {
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        zmr_msg_begin (&pk, ZMR_STATUS, 7, 1);
        msgpack_pack_map (&pk, 1);
        if (c == 0) {
            msgpack_pack_str (&pk, 3);
            msgpack_pack_str_body (&pk, "top", 3);
            msgpack_pack_array (&pk, 1);
            msgpack_pack_map (&pk, 1);
            msgpack_pack_str (&pk, 5);
            msgpack_pack_str_body (&pk, "count", 5);
            msgpack_pack_uint64 (&pk, (uint64_t) INT64_MAX + 1);
        }
        else
        if (c == 1) {
            char label[300];
            memset (label, 'a', sizeof label);
            msgpack_pack_str (&pk, 3);
            msgpack_pack_str_body (&pk, "job", 3);
            msgpack_pack_str (&pk, sizeof label);
            msgpack_pack_str_body (&pk, label, sizeof label);
        }
        else {
            msgpack_pack_str (&pk, 8);
            msgpack_pack_str_body (&pk, "job_kind", 8);
            msgpack_pack_uint8 (&pk, 1);
        }
        zmr_msg_t msg;
        const char *why = NULL;
        cr_assert_eq (zmr_msg_decode (sbuf.data, sbuf.size, &msg, &why), 0, "%s", why);
        zmr_status_t out;
        memset (&out, 0, sizeof out);
        why = NULL;
        cr_assert_eq (zmr_status_decode (&msg, &out, &why), -1, "case %d decoded", c);
        cr_assert_not_null (why);
        zmr_status_reset (&out);
        msgpack_sbuffer_destroy (&sbuf);
    }
}
