/*  test_ledger: the chunk ledger, a test per sentence of docs/design.md's
    property 3 ("Nothing lost, nothing doubled") and of docs/protocol.md's
    "Exactly once". The expected values come from those rules: a chunk is
    re-issued exactly when they say, complete only with R ACKs, and its
    words count once. No socket, no clock: time is passed in. */
#include <criterion/criterion.h>
#include "zmr.h"
#include "zmr_ledger.h"

#define DEAD 1000                   //  --dead-ms of these tests
#define POISON 3                    //  --poison-limit of these tests

static const char *const s_inputs[] = { "first.txt", "second.txt" };

static zmr_ledger_t *
s_ledger (uint32_t reducers)
{
    zmr_ledger_t *ledger = zmr_ledger_new (reducers, DEAD, POISON, s_inputs);
    cr_assert_not_null (ledger);
    return ledger;
}

//  Cuts n chunks of 100 bytes each from input 0, stamped at stamp.
static void
s_cut_chunks (zmr_ledger_t *ledger, int n, uint64_t stamp)
{
    for (int i = 0; i < n; i++) {
        uint64_t id = zmr_ledger_cut (ledger);
        char *data = malloc (100);
        cr_assert_not_null (data);
        memset (data, 'a', 100);
        cr_assert_eq (zmr_ledger_add (ledger, data, 100, 0, id * 100, stamp), (int64_t) id);
    }
}

//  Issues whatever is in line at now; returns how many went out.
static int
s_issue_all (zmr_ledger_t *ledger, int64_t now)
{
    int issued = 0;
    uint64_t id;
    while (zmr_ledger_next (ledger, &id)) {
        zmr_ledger_issued (ledger, id, now);
        issued++;
    }
    return issued;
}

//  The ids in line, in order, issued at now; returns how many.
static int
s_issue_ids (zmr_ledger_t *ledger, int64_t now, uint64_t *ids, int max)
{
    int n = 0;
    uint64_t id;
    while (n < max && zmr_ledger_next (ledger, &id)) {
        zmr_ledger_issued (ledger, id, now);
        ids[n++] = id;
    }
    return n;
}

static uint8_t
s_state (zmr_ledger_t *ledger, uint64_t id)
{
    const zmr_ledger_entry_t *entry = zmr_ledger_entry (ledger, id);
    cr_assert_not_null (entry);
    return entry->state;
}

//  Every reducer ACKs chunk id at now.
static void
s_ack_all (zmr_ledger_t *ledger, uint64_t id, uint32_t reducers, int64_t now)
{
    for (uint32_t p = 0; p < reducers; p++)
        zmr_ledger_ack (ledger, id, p, now);
}

//  ---------------------------------------------------------------------
//  Property 3: "A job completes only when every chunk has been applied
//  once at every reducer."

Test (ledger, a_chunk_acked_by_r_minus_1_reducers_is_not_done)
{
    zmr_ledger_t *ledger = s_ledger (3);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 1, 1);
    zmr_ledger_mapped (ledger, 0, 1, 42, 0, 42, 2);
    cr_assert_eq (zmr_ledger_ack (ledger, 0, 0, 3), 0);
    cr_assert_eq (zmr_ledger_ack (ledger, 0, 2, 3), 0);
    cr_assert_neq (s_state (ledger, 0), ZMR_LEDGER_DONE);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_done, 0);
    cr_assert_eq (zmr_ledger_counts (ledger)->in_flight, 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 0);
    cr_assert_eq (zmr_ledger_first_open (ledger), 0);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_chunk_acked_by_every_reducer_is_done_and_its_words_count)
{
    zmr_ledger_t *ledger = s_ledger (3);
    s_cut_chunks (ledger, 2, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 1, 1);
    cr_assert_eq (zmr_ledger_mapped (ledger, 0, 1, 42, 2, 42, 2), 0);
    zmr_ledger_ack (ledger, 0, 0, 3);
    zmr_ledger_ack (ledger, 0, 1, 3);
    cr_assert_eq (zmr_ledger_ack (ledger, 0, 2, 3),
                  ZMR_LEDGER_DONE_NOW | ZMR_LEDGER_COUNTED_NOW);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_DONE);
    const zmr_ledger_counts_t *counts = zmr_ledger_counts (ledger);
    cr_assert_eq (counts->chunks_done, 1);
    cr_assert_eq (counts->bytes_done, 100);
    cr_assert_eq (counts->in_flight, 1);
    cr_assert_eq (counts->words, 42);
    cr_assert_eq (counts->words_too_long, 2);
    cr_assert_eq (zmr_ledger_first_open (ledger), 1);
    for (uint32_t p = 0; p < 3; p++)
        cr_assert_eq (zmr_ledger_acks_by (ledger, p), 1);
    //  Its bytes are no longer needed once it is counted
    cr_assert_null (zmr_ledger_entry (ledger, 0)->data);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_job_is_complete_only_when_every_chunk_is_done)
{
    zmr_ledger_t *ledger = s_ledger (2);
    s_cut_chunks (ledger, 3, 0);
    s_issue_all (ledger, 0);
    for (uint64_t id = 0; id < 3; id++)
        zmr_ledger_mapped (ledger, id, 1, 10, 0, 10, 1);
    s_ack_all (ledger, 0, 2, 2);
    s_ack_all (ledger, 2, 2, 2);
    cr_assert_eq (zmr_ledger_counts (ledger)->in_flight, 1);
    cr_assert_eq (zmr_ledger_first_open (ledger), 1);
    s_ack_all (ledger, 1, 2, 2);
    cr_assert_eq (zmr_ledger_counts (ledger)->in_flight, 0);
    cr_assert_eq (zmr_ledger_first_open (ledger), 3);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 30);
    cr_assert_eq (zmr_ledger_uncounted (ledger), 0);
    zmr_ledger_destroy (&ledger);
}

//  ---------------------------------------------------------------------
//  "Reducers recognise a (job, chunk) they have already applied and drop
//  it" (and ACK it again): the ledger counts each partition's ACK once.

Test (ledger, a_duplicate_ack_counts_nothing)
{
    zmr_ledger_t *ledger = s_ledger (2);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_mapped (ledger, 0, 1, 5, 0, 5, 1);
    cr_assert_eq (zmr_ledger_ack (ledger, 0, 0, 2), 0);
    cr_assert_eq (zmr_ledger_ack (ledger, 0, 0, 2), 0);
    cr_assert_eq (zmr_ledger_ack (ledger, 0, 0, 2), 0);
    cr_assert_neq (s_state (ledger, 0), ZMR_LEDGER_DONE);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->acks, 1);
    cr_assert_eq (zmr_ledger_acks_by (ledger, 0), 1);
    cr_assert_eq (zmr_ledger_ack (ledger, 0, 1, 2),
                  ZMR_LEDGER_DONE_NOW | ZMR_LEDGER_COUNTED_NOW);
    //  ... and a duplicate after it is done changes nothing either
    cr_assert_eq (zmr_ledger_ack (ledger, 0, 1, 2), 0);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_done, 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 5);
    cr_assert_eq (zmr_ledger_acks_by (ledger, 1), 1);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, an_ack_for_a_chunk_not_cut_is_ignored)
{
    //  After a restart reducers ACK what the last ventilator issued.
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    cr_assert_eq (zmr_ledger_ack (ledger, 7, 0, 1), 0);
    cr_assert_eq (zmr_ledger_acks_by (ledger, 0), 0);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_done, 0);
    cr_assert_eq (zmr_ledger_mapped (ledger, 7, 1, 3, 0, 3, 1), -1);
    zmr_ledger_destroy (&ledger);
}

//  ---------------------------------------------------------------------
//  "Chunks are leased: one that is not acknowledged in time (its mapper
//  died, stalled or left) is issued again" -- protocol.md: "An entry is
//  re-issued (same chunk id, attempt + 1) when ..."

Test (ledger, a_chunk_whose_mapper_is_declared_dead_is_issued_again_same_id_next_attempt)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 2, 0);
    cr_assert_eq (s_issue_all (ledger, 0), 2);
    zmr_ledger_take (ledger, 1, 4, 1);
    zmr_ledger_take (ledger, 0, 5, 1);
    cr_assert_eq (zmr_ledger_mapper_gone (ledger, 4, "dead", true), 0);
    uint64_t ids[4];
    cr_assert_eq (s_issue_ids (ledger, 10, ids, 4), 1);
    cr_assert_eq (ids[0], 1);
    cr_assert_eq (zmr_ledger_entry (ledger, 1)->attempt, 1);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->attempt, 0);
    cr_assert_eq (zmr_ledger_entry (ledger, 1)->crashes, 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_reissued, 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_issued, 3);
    //  The chunk of the mapper still alive is its own
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_TAKEN);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_chunk_whose_mapper_says_bye_before_mapped_is_issued_again)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 2, 1);
    zmr_ledger_mapper_gone (ledger, 2, "left", false);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_QUEUED);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->holder, 0);
    uint64_t ids[2];
    cr_assert_eq (s_issue_ids (ledger, 5, ids, 2), 1);
    cr_assert_eq (ids[0], 0);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->attempt, 1);
    //  Leaving is no crash
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->crashes, 0);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_mappers_death_or_bye_reissues_every_chunk_issued_and_not_taken_at_once)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 3, 0);
    s_issue_all (ledger, 0);
    //  Chunk 0 taken by mapper 1 (alive); 1 and 2 sit in some queue
    zmr_ledger_take (ledger, 0, 1, 1);
    zmr_ledger_mapper_gone (ledger, 2, "left", false);
    uint64_t ids[4];
    cr_assert_eq (s_issue_ids (ledger, 2, ids, 4), 2);
    cr_assert_eq (ids[0], 1);
    cr_assert_eq (ids[1], 2);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_TAKEN);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_chunk_mapped_but_not_fully_acked_within_dead_ms_is_issued_again)
{
    zmr_ledger_t *ledger = s_ledger (2);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 1, 100);
    zmr_ledger_mapped (ledger, 0, 1, 9, 0, 9, 200);
    zmr_ledger_ack (ledger, 0, 0, 300);
    //  Not before dead_ms has passed since MAPPED
    zmr_ledger_expire (ledger, 200 + DEAD, false);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_MAPPED);
    cr_assert_eq (zmr_ledger_queued (ledger), 0);
    //  ... and then, busy mappers or not
    zmr_ledger_expire (ledger, 200 + DEAD + 1, false);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_QUEUED);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->attempt, 1);
    //  The ACK already in stays: the partition that has it drops the copy
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->acks, 1);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_chunk_issued_not_taken_within_dead_ms_is_issued_again_while_a_mapper_is_idle)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 1000);
    zmr_ledger_expire (ledger, 1000 + DEAD, true);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_ISSUED);
    zmr_ledger_expire (ledger, 1000 + DEAD + 1, true);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_QUEUED);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_reissued, 1);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_chunk_issued_again_and_again_not_taken_waits_twice_then_four_times_dead_ms)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    uint64_t id;
    int64_t now = 0;
    //  The first issue waits dead_ms, the second 2 x, then 4 x for good
    const int64_t patience[] = { DEAD, 2 * DEAD, 4 * DEAD, 4 * DEAD, 4 * DEAD };
    for (int attempt = 0; attempt < 5; attempt++) {
        cr_assert_not_null (zmr_ledger_next (ledger, &id));
        zmr_ledger_issued (ledger, id, now);
        zmr_ledger_expire (ledger, now + patience[attempt], true);
        cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_ISSUED, "attempt %d went early", attempt);
        now += patience[attempt] + 1;
        zmr_ledger_expire (ledger, now, true);
        cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_QUEUED, "attempt %d stayed", attempt);
        cr_assert_eq (zmr_ledger_entry (ledger, 0)->attempt, (uint32_t) attempt + 1);
    }
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_chunk_mapped_again_and_again_not_acked_waits_twice_then_four_times_dead_ms)
{
    zmr_ledger_t *ledger = s_ledger (2);
    s_cut_chunks (ledger, 1, 0);
    uint64_t id;
    int64_t now = 0;
    const int64_t patience[] = { DEAD, 2 * DEAD, 4 * DEAD, 4 * DEAD };
    for (int attempt = 0; attempt < 4; attempt++) {
        cr_assert_not_null (zmr_ledger_next (ledger, &id));
        zmr_ledger_issued (ledger, id, now);
        zmr_ledger_take (ledger, 0, 1, now);
        zmr_ledger_mapped (ledger, 0, 1, 9, 0, 9, now);
        zmr_ledger_expire (ledger, now + patience[attempt], false);
        cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_MAPPED, "attempt %d went early", attempt);
        now += patience[attempt] + 1;
        zmr_ledger_expire (ledger, now, false);
        cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_QUEUED, "attempt %d stayed", attempt);
    }
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_chunk_issued_not_taken_waits_its_turn_while_every_mapper_is_busy)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 2, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 1, 0);
    cr_assert (zmr_ledger_holds (ledger, 1));
    cr_assert_not (zmr_ledger_holds (ledger, 2));
    zmr_ledger_expire (ledger, 10 * DEAD, false);
    cr_assert_eq (s_state (ledger, 1), ZMR_LEDGER_ISSUED);
    //  A TAKEn chunk is never re-issued by time alone: its mapper's
    //  heartbeats say it is still at work
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_TAKEN);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_reissued, 0);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_take_of_a_chunk_back_in_line_means_it_was_not_lost_and_is_not_issued_twice)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_expire (ledger, DEAD + 1, true);
    cr_assert_eq (zmr_ledger_queued (ledger), 1);
    zmr_ledger_take (ledger, 0, 3, DEAD + 2);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_TAKEN);
    uint64_t id;
    cr_assert_null (zmr_ledger_next (ledger, &id));
    cr_assert_eq (zmr_ledger_queued (ledger), 0);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_done_chunk_is_never_issued_again)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 1, 0);
    zmr_ledger_mapped (ledger, 0, 1, 1, 0, 1, 0);
    zmr_ledger_ack (ledger, 0, 0, 0);
    zmr_ledger_mapper_gone (ledger, 1, "dead", true);
    zmr_ledger_expire (ledger, 100 * DEAD, true);
    zmr_ledger_partition_back (ledger, 0);
    uint64_t id;
    cr_assert_null (zmr_ledger_next (ledger, &id));
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_reissued, 0);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 1);
    zmr_ledger_destroy (&ledger);
}

//  ---------------------------------------------------------------------
//  "A chunk's words count once, from its MAPPED, when it is complete."

Test (ledger, a_reissued_chunks_late_mapped_from_the_dead_mapper_counts_once)
{
    zmr_ledger_t *ledger = s_ledger (2);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 1, 0);
    zmr_ledger_mapper_gone (ledger, 1, "dead", true);
    s_issue_all (ledger, 10);
    zmr_ledger_take (ledger, 0, 2, 11);
    //  The dead one's MAPPED arrives late, then the new one's
    cr_assert_eq (zmr_ledger_mapped (ledger, 0, 1, 7, 0, 7, 12), 0);
    cr_assert_eq (zmr_ledger_mapped (ledger, 0, 2, 7, 0, 7, 13), 0);
    s_ack_all (ledger, 0, 2, 14);
    //  Each reducer ACKs the second copy as a duplicate: nothing more
    s_ack_all (ledger, 0, 2, 15);
    cr_assert_eq (zmr_ledger_mapped (ledger, 0, 2, 7, 0, 7, 16), 0);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 7);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_done, 1);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, the_first_mappeds_words_are_the_chunks_a_later_one_cannot_change_them)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_mapped (ledger, 0, 1, 7, 1, 7, 1);
    zmr_ledger_mapped (ledger, 0, 2, 99, 9, 99, 2);
    zmr_ledger_ack (ledger, 0, 0, 3);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 7);
    cr_assert_eq (zmr_ledger_counts (ledger)->words_too_long, 1);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_chunk_complete_before_its_mapped_counts_when_the_mapped_comes)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 1, 0);
    cr_assert_eq (zmr_ledger_ack (ledger, 0, 0, 5), ZMR_LEDGER_DONE_NOW);
    cr_assert_eq (zmr_ledger_uncounted (ledger), 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 0);
    //  Its text is kept: it may have to be mapped again to learn its words
    cr_assert_not_null (zmr_ledger_entry (ledger, 0)->data);
    cr_assert_eq (zmr_ledger_first_needed (ledger), 0);
    cr_assert_eq (zmr_ledger_mapped (ledger, 0, 1, 12, 0, 12, 6), 1);
    cr_assert_eq (zmr_ledger_uncounted (ledger), 0);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 12);
    cr_assert_eq (zmr_ledger_first_needed (ledger), 1);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_DONE);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_complete_chunk_whose_words_are_unknown_for_dead_ms_is_mapped_again_once)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 1, 0);
    zmr_ledger_ack (ledger, 0, 0, 100);
    zmr_ledger_recount (ledger, 100 + DEAD);
    cr_assert_eq (zmr_ledger_queued (ledger), 0);
    zmr_ledger_recount (ledger, 100 + DEAD + 1);
    zmr_ledger_recount (ledger, 100 + 5 * DEAD);
    uint64_t ids[4];
    cr_assert_eq (s_issue_ids (ledger, 100 + 5 * DEAD, ids, 4), 1);
    cr_assert_eq (ids[0], 0);
    //  It stays done (no second completion), and its MAPPED counts it
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_DONE);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_done, 1);
    cr_assert_eq (zmr_ledger_mapped (ledger, 0, 2, 4, 0, 4, 100 + 6 * DEAD), 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 4);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_done, 1);
    zmr_ledger_destroy (&ledger);
}

//  ---------------------------------------------------------------------
//  "A reducer that comes back ... the ventilator re-issues only what that
//  partition has not ACKed."

Test (ledger, a_reducer_back_gets_again_only_what_its_partition_has_not_acked)
{
    zmr_ledger_t *ledger = s_ledger (2);
    s_cut_chunks (ledger, 3, 0);
    s_issue_all (ledger, 0);
    for (uint64_t id = 0; id < 3; id++)
        zmr_ledger_mapped (ledger, id, 1, 1, 0, 1, 1);
    zmr_ledger_ack (ledger, 0, 1, 2);
    zmr_ledger_ack (ledger, 1, 0, 2);
    zmr_ledger_ack (ledger, 2, 1, 2);
    zmr_ledger_partition_back (ledger, 1);
    uint64_t ids[4];
    cr_assert_eq (s_issue_ids (ledger, 3, ids, 4), 1);
    cr_assert_eq (ids[0], 1);
    zmr_ledger_destroy (&ledger);
}

//  ---------------------------------------------------------------------
//  Quarantine (--poison-limit): "or was quarantined, which the end says
//  loudly".

Test (ledger, a_chunk_that_killed_poison_limit_mappers_is_quarantined)
{
    zmr_ledger_t *ledger = s_ledger (2);
    uint64_t id0 = zmr_ledger_cut (ledger);
    char *data = strdup ("poison");
    cr_assert_eq (zmr_ledger_add (ledger, data, 6, 1, 4096, 0), (int64_t) id0);
    for (uint32_t mapper = 1; mapper < POISON; mapper++) {
        s_issue_all (ledger, mapper);
        zmr_ledger_take (ledger, 0, mapper, mapper);
        zmr_ledger_mapper_gone (ledger, mapper, "dead", true);
        cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_QUEUED);
        cr_assert_eq (zmr_ledger_counts (ledger)->chunks_quarantined, 0);
    }
    s_issue_all (ledger, POISON);
    zmr_ledger_take (ledger, 0, POISON, POISON);
    zmr_ledger_mapper_gone (ledger, POISON, "dead", true);
    const zmr_ledger_entry_t *entry = zmr_ledger_entry (ledger, 0);
    cr_assert_eq (entry->state, ZMR_LEDGER_DONE);
    cr_assert (entry->quarantined);
    const zmr_ledger_counts_t *counts = zmr_ledger_counts (ledger);
    cr_assert_eq (counts->chunks_quarantined, 1);
    cr_assert_eq (counts->in_flight, 0);
    cr_assert_eq (counts->words, 0);
    //  Not complete: no reducer applied it
    cr_assert_eq (counts->chunks_done, 0);
    cr_assert_eq (zmr_ledger_first_open (ledger), 1);
    cr_assert_eq (zmr_ledger_first_quarantined (ledger), 0);
    const zmr_quarantine_t *q = zmr_ledger_quarantine (ledger);
    cr_assert_str_eq (q[0].file, "second.txt");
    cr_assert_eq (q[0].offset, 4096);
    cr_assert_eq (q[0].length, 6);
    uint64_t id;
    cr_assert_null (zmr_ledger_next (ledger, &id));
    zmr_ledger_destroy (&ledger);
}

Test (ledger, mappers_that_leave_never_quarantine_a_chunk)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    for (uint32_t mapper = 1; mapper <= 2 * POISON; mapper++) {
        s_issue_all (ledger, mapper);
        zmr_ledger_take (ledger, 0, mapper, mapper);
        zmr_ledger_mapper_gone (ledger, mapper, "left", false);
    }
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_quarantined, 0);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_QUEUED);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->attempt, 2 * POISON);
    zmr_ledger_destroy (&ledger);
}

//  ---------------------------------------------------------------------
//  Issue 16 part 2: "Exactly once holds for every job": a chunk's pairs
//  (what its batches hold) count once, from its first MAPPED, when it is
//  done; their sum is what the sink's DONE must say the reducers applied.

Test (ledger, a_chunks_pairs_count_once_from_its_first_mapped_when_it_is_done)
{
    zmr_ledger_t *ledger = s_ledger (2);
    s_cut_chunks (ledger, 2, 0);
    s_issue_all (ledger, 1);
    zmr_ledger_take (ledger, 0, 1, 1);
    zmr_ledger_take (ledger, 1, 2, 1);
    cr_assert_eq (zmr_ledger_mapped (ledger, 0, 1, 40, 0, 7, 2), 0);
    cr_assert_eq (zmr_ledger_mapped (ledger, 1, 2, 30, 0, 5, 2), 0);
    //  Not done: not counted
    cr_assert_eq (zmr_ledger_counts (ledger)->pairs, 0);
    s_ack_all (ledger, 0, 2, 3);
    cr_assert_eq (zmr_ledger_counts (ledger)->pairs, 7);
    //  A later MAPPED (a re-issue's) cannot change them, nor a duplicate ACK
    cr_assert_eq (zmr_ledger_mapped (ledger, 0, 2, 40, 0, 99, 4), 0);
    s_ack_all (ledger, 0, 2, 5);
    cr_assert_eq (zmr_ledger_counts (ledger)->pairs, 7);
    s_ack_all (ledger, 1, 2, 6);
    cr_assert_eq (zmr_ledger_counts (ledger)->pairs, 12);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 70);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_complete_chunk_mapped_again_to_learn_its_counts_learns_its_pairs)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 0);
    zmr_ledger_take (ledger, 0, 1, 1);
    //  Its batches arrived, its MAPPED did not (the mapper died between)
    s_ack_all (ledger, 0, 1, 2);
    cr_assert_eq (zmr_ledger_uncounted (ledger), 1);
    cr_assert_eq (zmr_ledger_recount (ledger, 3 + DEAD), 0);
    uint64_t ids[2];
    cr_assert_eq (s_issue_ids (ledger, 4 + DEAD, ids, 2), 1);
    cr_assert_eq (zmr_ledger_mapped (ledger, 0, 2, 8, 0, 3, 5 + DEAD), 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->pairs, 3);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 8);
    cr_assert_eq (zmr_ledger_uncounted (ledger), 0);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, pairs_of_journaled_and_summed_up_chunks_count_and_survive_compaction)
{
    zmr_ledger_t *ledger = s_ledger (1);
    zmr_journal_summary_t summary = { .chunks = 10, .bytes = 1000, .words = 70,
                                      .input = 0, .offset = 1000, .pairs = 33 };
    zmr_ledger_resume (ledger, &summary);
    cr_assert_eq (zmr_ledger_add_done (ledger, 100, 0, 1000, 0, 9, 0, 4), 10);
    cr_assert_eq (zmr_ledger_counts (ledger)->pairs, 37);
    for (int i = 0; i < 1100; i++) {
        s_cut_chunks (ledger, 1, 0);
        uint64_t id = zmr_ledger_cut (ledger) - 1;
        s_issue_all (ledger, 1);
        zmr_ledger_take (ledger, id, 1, 1);
        zmr_ledger_mapped (ledger, id, 1, 2, 0, 1, 1);
        s_ack_all (ledger, id, 1, 1);
    }
    zmr_ledger_compact (ledger, UINT64_MAX);
    cr_assert_gt (zmr_ledger_base (ledger), 11);
    cr_assert_eq (zmr_ledger_counts (ledger)->pairs, 37 + 1100);
    //  The forgotten prefix's sums, for the journal written anew
    const zmr_journal_summary_t *forgotten = zmr_ledger_forgotten (ledger);
    cr_assert_eq (forgotten->pairs, 37 + (forgotten->chunks - 11));
    zmr_ledger_destroy (&ledger);
}

//  "A command that exits non-zero, prints a bad line, hangs or dies makes
//  its chunk fail like a crashed mapper (re-issued, quarantined after
//  --poison-limit)" (FAILED).

Test (ledger, a_chunk_whose_map_failed_goes_back_in_line_as_its_next_attempt)
{
    zmr_ledger_t *ledger = s_ledger (2);
    s_cut_chunks (ledger, 2, 0);
    s_issue_all (ledger, 1);
    zmr_ledger_take (ledger, 0, 1, 1);
    zmr_ledger_take (ledger, 1, 1, 1);
    cr_assert_eq (zmr_ledger_map_failed (ledger, 0, 1, "exit 1"), 1);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_QUEUED);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->attempt, 1);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->crashes, 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_reissued, 1);
    //  The mapper lives on: its other chunk stays with it
    cr_assert_eq (s_state (ledger, 1), ZMR_LEDGER_TAKEN);
    uint64_t ids[2];
    cr_assert_eq (s_issue_ids (ledger, 2, ids, 2), 1);
    cr_assert_eq (ids[0], 0);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_chunk_whose_map_failed_poison_limit_times_is_quarantined)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    for (uint32_t attempt = 1; attempt < POISON; attempt++) {
        cr_assert_eq (s_issue_all (ledger, attempt), 1);
        zmr_ledger_take (ledger, 0, 1, attempt);
        cr_assert_eq (zmr_ledger_map_failed (ledger, 0, 1, "exit 1"), 1);
        cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_QUEUED);
    }
    s_issue_all (ledger, POISON);
    zmr_ledger_take (ledger, 0, 1, POISON);
    cr_assert_eq (zmr_ledger_map_failed (ledger, 0, 1, "exit 1"), 1);
    const zmr_ledger_entry_t *entry = zmr_ledger_entry (ledger, 0);
    cr_assert_eq (entry->state, ZMR_LEDGER_DONE);
    cr_assert (entry->quarantined);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_quarantined, 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->pairs, 0);
    cr_assert_eq (zmr_ledger_counts (ledger)->in_flight, 0);
    uint64_t id;
    cr_assert_null (zmr_ledger_next (ledger, &id));
    zmr_ledger_destroy (&ledger);
}

Test (ledger, failures_and_deaths_on_a_chunk_add_up_to_the_poison_limit)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    for (uint32_t mapper = 1; mapper <= POISON; mapper++) {
        s_issue_all (ledger, mapper);
        zmr_ledger_take (ledger, 0, mapper, mapper);
        if (mapper % 2)
            zmr_ledger_map_failed (ledger, 0, mapper, "exit 1");
        else
            zmr_ledger_mapper_gone (ledger, mapper, "dead", true);
    }
    cr_assert (zmr_ledger_entry (ledger, 0)->quarantined);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_stale_failed_changes_nothing)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 0);
    s_issue_all (ledger, 1);
    zmr_ledger_take (ledger, 0, 1, 1);
    cr_assert_eq (zmr_ledger_map_failed (ledger, 0, 1, "exit 1"), 1);
    //  Again for the same attempt (it is in line already)
    cr_assert_eq (zmr_ledger_map_failed (ledger, 0, 1, "exit 1"), 0);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->crashes, 1);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->attempt, 1);
    //  From another mapper than the one that took it
    s_issue_all (ledger, 2);
    zmr_ledger_take (ledger, 0, 2, 2);
    cr_assert_eq (zmr_ledger_map_failed (ledger, 0, 1, "exit 1"), 0);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_TAKEN);
    //  For a chunk mapped, done, or not cut
    zmr_ledger_mapped (ledger, 0, 2, 3, 0, 3, 3);
    cr_assert_eq (zmr_ledger_map_failed (ledger, 0, 2, "exit 1"), 0);
    cr_assert_eq (s_state (ledger, 0), ZMR_LEDGER_MAPPED);
    s_ack_all (ledger, 0, 1, 4);
    cr_assert_eq (zmr_ledger_map_failed (ledger, 0, 2, "exit 1"), 0);
    cr_assert_eq (zmr_ledger_map_failed (ledger, 9, 2, "exit 1"), 0);
    cr_assert_eq (zmr_ledger_entry (ledger, 0)->crashes, 1);
    cr_assert_eq (zmr_ledger_counts (ledger)->pairs, 3);
    zmr_ledger_destroy (&ledger);
}

//  ---------------------------------------------------------------------
//  "started again with the same journal it resumes the same job id, cuts
//  the same chunks under the same ids, and issues only the rest."

Test (ledger, a_chunk_the_journal_says_is_complete_is_counted_and_not_issued)
{
    zmr_ledger_t *ledger = s_ledger (2);
    cr_assert_eq (zmr_ledger_add_done (ledger, 100, 0, 0, 0, 11, 1, 11), 0);
    s_cut_chunks (ledger, 1, 0);
    cr_assert_eq (zmr_ledger_add_done (ledger, 100, 0, 200, 0, 13, 0, 13), 2);
    uint64_t ids[4];
    cr_assert_eq (s_issue_ids (ledger, 0, ids, 4), 1);
    cr_assert_eq (ids[0], 1);
    const zmr_ledger_counts_t *counts = zmr_ledger_counts (ledger);
    cr_assert_eq (counts->words, 24);
    cr_assert_eq (counts->words_too_long, 1);
    cr_assert_eq (counts->chunks_done, 2);
    cr_assert_eq (counts->chunks_read, 3);
    cr_assert_eq (counts->in_flight, 1);
    cr_assert_eq (zmr_ledger_first_open (ledger), 1);
    cr_assert_eq (zmr_ledger_acks_by (ledger, 1), 2);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, a_ledger_resumed_from_a_summary_starts_after_its_chunks)
{
    zmr_ledger_t *ledger = s_ledger (3);
    zmr_journal_summary_t summary = { .chunks = 50, .bytes = 5000, .words = 700,
                                      .too_long = 2, .input = 0, .offset = 5000 };
    zmr_ledger_resume (ledger, &summary);
    cr_assert_eq (zmr_ledger_cut (ledger), 50);
    cr_assert_eq (zmr_ledger_base (ledger), 50);
    cr_assert_null (zmr_ledger_entry (ledger, 49));
    s_cut_chunks (ledger, 1, 0);
    cr_assert_not_null (zmr_ledger_entry (ledger, 50));
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 700);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_done, 50);
    cr_assert_eq (zmr_ledger_acks_by (ledger, 2), 50);
    //  ACKs of chunks below it: done long ago
    cr_assert_eq (zmr_ledger_ack (ledger, 10, 0, 0), 0);
    cr_assert_eq (zmr_ledger_acks_by (ledger, 0), 50);
    zmr_ledger_destroy (&ledger);
}

//  ---------------------------------------------------------------------
//  Compaction: a stream's ledger forgets its done prefix, and its totals
//  and ids stay.

Test (ledger, compaction_forgets_done_counted_chunks_and_keeps_the_totals)
{
    zmr_ledger_t *ledger = s_ledger (1);
    int n = 1500;
    s_cut_chunks (ledger, n, 0);
    s_issue_all (ledger, 0);
    for (int id = 0; id < 1200; id++) {
        zmr_ledger_mapped (ledger, (uint64_t) id, 1, 2, 0, 2, 1);
        zmr_ledger_ack (ledger, (uint64_t) id, 0, 1);
    }
    //  Nothing goes while the caller still needs chunk 100 (a window)
    zmr_ledger_compact (ledger, 100);
    cr_assert_eq (zmr_ledger_base (ledger), 0);
    zmr_ledger_compact (ledger, UINT64_MAX);
    cr_assert_eq (zmr_ledger_base (ledger), 1200);
    cr_assert_null (zmr_ledger_entry (ledger, 1199));
    cr_assert_not_null (zmr_ledger_entry (ledger, 1200));
    cr_assert_eq (zmr_ledger_entry (ledger, 1200)->offset, 120000);
    const zmr_journal_summary_t *forgotten = zmr_ledger_forgotten (ledger);
    cr_assert_eq (forgotten->chunks, 1200);
    cr_assert_eq (forgotten->words, 2400);
    cr_assert_eq (forgotten->bytes, 120000);
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 2400);
    //  A late ACK of a forgotten chunk changes nothing
    cr_assert_eq (zmr_ledger_ack (ledger, 5, 0, 2), 0);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_done, 1200);
    cr_assert_eq (zmr_ledger_acks_by (ledger, 0), 1200);
    //  The rest completes as before
    for (int id = 1200; id < n; id++) {
        zmr_ledger_mapped (ledger, (uint64_t) id, 1, 2, 0, 2, 3);
        zmr_ledger_ack (ledger, (uint64_t) id, 0, 3);
    }
    cr_assert_eq (zmr_ledger_counts (ledger)->words, 2 * (uint64_t) n);
    cr_assert_eq (zmr_ledger_counts (ledger)->in_flight, 0);
    //  The last chunk cut always stays
    zmr_ledger_compact (ledger, UINT64_MAX);
    cr_assert_eq (zmr_ledger_base (ledger), 1200);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, compaction_keeps_a_done_chunk_whose_words_are_unknown)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1100, 0);
    s_issue_all (ledger, 0);
    for (int id = 0; id < 1100; id++) {
        if (id != 3)
            zmr_ledger_mapped (ledger, (uint64_t) id, 1, 1, 0, 1, 1);
        zmr_ledger_ack (ledger, (uint64_t) id, 0, 1);
    }
    cr_assert_eq (zmr_ledger_first_needed (ledger), 3);
    zmr_ledger_compact (ledger, UINT64_MAX);
    cr_assert_eq (zmr_ledger_base (ledger), 0);
    cr_assert_not_null (zmr_ledger_entry (ledger, 3)->data);
    zmr_ledger_destroy (&ledger);
}

//  ---------------------------------------------------------------------
//  Windows close in chunk order: "never before the previous chunk's".

Test (ledger, a_chunks_stamp_never_goes_below_the_previous_chunks)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 1, 5000);
    s_cut_chunks (ledger, 1, 4000);
    s_cut_chunks (ledger, 1, 6000);
    cr_assert_eq (zmr_ledger_entry (ledger, 1)->stamp, 5000);
    cr_assert_eq (zmr_ledger_entry (ledger, 2)->stamp, 6000);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, the_line_issues_in_cut_order_and_counts_waiting_chunks)
{
    zmr_ledger_t *ledger = s_ledger (1);
    s_cut_chunks (ledger, 5, 0);
    cr_assert_eq (zmr_ledger_queued (ledger), 5);
    uint64_t ids[8];
    cr_assert_eq (s_issue_ids (ledger, 0, ids, 3), 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq (ids[i], (uint64_t) i);
    cr_assert_eq (zmr_ledger_waiting (ledger), 3);
    zmr_ledger_take (ledger, 1, 1, 0);
    cr_assert_eq (zmr_ledger_waiting (ledger), 2);
    cr_assert_eq (zmr_ledger_counts (ledger)->chunks_issued, 3);
    zmr_ledger_destroy (&ledger);
}

Test (ledger, destroy_accepts_null)
{
    zmr_ledger_t *ledger = NULL;
    zmr_ledger_destroy (&ledger);
    zmr_ledger_destroy (NULL);
}

//  Event time (issue 17 item 3): a chunk's M before it is kept with it, the
//  same on every issue, and its late and untimed lines are summed into what
//  a journal written anew says of the chunks it forgets.
Test (ledger, a_chunks_event_max_stays_and_its_side_counts_survive_compaction)
{
    zmr_ledger_t *ledger = s_ledger (1);
    zmr_journal_summary_t summary = { .chunks = 10, .bytes = 1000, .words = 70,
                                      .input = 0, .offset = 1000, .pairs = 70,
                                      .late = 5, .untimed = 6 };
    zmr_ledger_resume (ledger, &summary);
    int n = 1100;
    s_cut_chunks (ledger, n, 0);
    //  Unscanned (an ingest-time job): no M
    cr_assert_eq (zmr_ledger_entry (ledger, 10)->event_max, ZMR_EVTIME_UNKNOWN);
    for (int i = 0; i < n; i++)
        zmr_ledger_set_event (ledger, 10 + (uint64_t) i, 1796000000000 + (uint64_t) i,
                              (uint32_t) (i % 3), (uint32_t) (i % 2));
    s_issue_all (ledger, 0);
    //  Issued again after its mapper died: the same M
    zmr_ledger_take (ledger, 20, 1, 1);
    zmr_ledger_mapper_gone (ledger, 1, "test", true);
    s_issue_all (ledger, 2);
    cr_assert_eq (zmr_ledger_entry (ledger, 20)->attempt, 1);
    cr_assert_eq (zmr_ledger_entry (ledger, 20)->event_max, 1796000000010);
    for (int i = 0; i < n - 1; i++) {
        zmr_ledger_mapped (ledger, 10 + (uint64_t) i, 2, 1, 0, 1, 1);
        zmr_ledger_ack (ledger, 10 + (uint64_t) i, 0, 1);
    }
    zmr_ledger_compact (ledger, UINT64_MAX);
    const zmr_journal_summary_t *forgotten = zmr_ledger_forgotten (ledger);
    cr_assert_gt (forgotten->chunks, 1000);
    uint64_t late = 5, untimed = 6;
    for (uint64_t c = 10; c < forgotten->chunks; c++) {
        late += (c - 10) % 3;
        untimed += (c - 10) % 2;
    }
    cr_assert (forgotten->late == late && forgotten->untimed == untimed,
               "late %llu (expected %llu), untimed %llu (expected %llu)",
               (unsigned long long) forgotten->late, (unsigned long long) late,
               (unsigned long long) forgotten->untimed, (unsigned long long) untimed);
    cr_assert_null (forgotten->panes);
    //  The chunks held keep theirs
    cr_assert_eq (zmr_ledger_entry (ledger, forgotten->chunks)->event_max,
                  1796000000000 + forgotten->chunks - 10);
    zmr_ledger_destroy (&ledger);
}
