/*  test_durable_windows: what makes ingest-time windows survive a crash
    (issue 17, item 4), module by module. A reducer's snapshot keeps the
    window length and every open window's table, and gives the length
    before the log replays; the ventilator's journal keeps each chunk's
    stamp, the last window written (also when written anew) and the chunks
    quarantined. Each value is checked against what the test put in. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zmr.h"

#define S_PARTITION 1

static char s_dir[] = "/tmp/zmr-dwin-XXXXXX";

static void
s_setup (void)
{
    strcpy (s_dir, "/tmp/zmr-dwin-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    char command[256];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_assert_eq (system (command), 0);
}

TestSuite (durable_windows, .init = s_setup, .fini = s_teardown);

typedef struct {
    uint64_t *window_ms;     //  Where the store puts the length
    uint64_t seen_at_replay; //  The length when the first frame replayed
    int frames;
    zmr_counts_t *tables[8]; //  Given to the store, by window
    uint64_t ids[8];
    int ntables;
} s_loader_t;

static zmr_counts_t *
s_table (uint64_t id, void *arg)
{
    s_loader_t *loader = arg;
    cr_assert_lt (loader->ntables, 8);
    loader->ids[loader->ntables] = id;
    return loader->tables[loader->ntables++] = zmr_counts_new ();
}

static int
s_replay (const void *frame, size_t len, void *arg)
{
    (void) frame;
    (void) len;
    s_loader_t *loader = arg;
    if (loader->frames++ == 0)
        loader->seen_at_replay = *loader->window_ms;
    return 0;
}

static int64_t
s_value (zmr_counts_t *counts, const char *word)
{
    zmr_entry_t *entry = zmr_counts_lookup (counts, word, strlen (word));
    cr_assert_not_null (entry, "no '%s'", word);
    return (int64_t) entry->count;
}

//  Windows written with a snapshot come back, each whole, in order of their
//  starts, and the window length is known before the first logged frame
//  replays (the reducer counts the log's batches into their windows).
Test (durable_windows, a_snapshot_keeps_the_open_windows_and_says_their_length_first)
{
    char error[256];
    zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_not_null (store, "%s", error);
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_u64set_t *applied = zmr_u64set_new ();
    zmr_counts_add (counts, "alpha", 5, 7, NULL);
    zmr_counts_add (counts, "beta", 4, 2, NULL);
    zmr_u64set_insert (applied, 0);
    zmr_u64set_insert (applied, 1);
    //  Two windows, the later one first: the snapshot orders them
    zmr_store_window_t windows[2] = { { 3000, zmr_counts_new () }, { 2000, zmr_counts_new () } };
    zmr_counts_add (windows[0].counts, "alpha", 5, 3, NULL);
    zmr_counts_add (windows[1].counts, "alpha", 5, 4, NULL);
    zmr_counts_add (windows[1].counts, "beta", 4, 2, NULL);
    cr_assert_eq (zmr_store_snapshot_windows (store, 0x77, 2, ZMR_REDUCE_SUM, 3, counts,
                                              applied, 1000, windows, 2), 0);
    cr_assert_eq (zmr_store_append (store, "frame", 5), 0);
    zmr_store_destroy (&store);

    store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_not_null (store, "%s", error);
    uint64_t window_ms = 99;
    s_loader_t loader = { .window_ms = &window_ms };
    zmr_store_on_windows (store, &window_ms, s_table, &loader);
    uint64_t job, pairs;
    uint32_t reducers;
    int reduce;
    zmr_counts_t *loaded = zmr_counts_new ();
    zmr_u64set_t *loaded_ids = zmr_u64set_new ();
    cr_assert_eq (zmr_store_load (store, &job, &reducers, &reduce, &pairs, loaded, loaded_ids,
                                  s_replay, &loader, error, sizeof error), 0, "%s", error);
    cr_assert_eq (job, 0x77);
    cr_assert_eq (window_ms, 1000);
    cr_assert_eq (loader.frames, 1);
    cr_assert_eq (loader.seen_at_replay, 1000, "the length came after the log's replay");
    cr_assert_eq (loader.ntables, 2);
    cr_assert_eq (loader.ids[0], 2000);
    cr_assert_eq (loader.ids[1], 3000);
    cr_assert_eq (zmr_counts_size (loader.tables[0]), 2);
    cr_assert_eq (s_value (loader.tables[0], "alpha"), 4);
    cr_assert_eq (s_value (loader.tables[0], "beta"), 2);
    cr_assert_eq (zmr_counts_size (loader.tables[1]), 1);
    cr_assert_eq (s_value (loader.tables[1], "alpha"), 3);
    cr_assert_eq (s_value (loaded, "alpha"), 7);
    zmr_store_destroy (&store);

    //  A snapshot without windows says length 0 (and is version 3)
    store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_eq (zmr_store_snapshot (store, 0x77, 2, ZMR_REDUCE_SUM, 3, counts, applied), 0);
    zmr_counts_clear (loaded);
    zmr_u64set_destroy (&loaded_ids);
    loaded_ids = zmr_u64set_new ();
    window_ms = 99;
    zmr_store_on_windows (store, &window_ms, s_table, &loader);
    cr_assert_eq (zmr_store_load (store, &job, &reducers, &reduce, &pairs, loaded, loaded_ids,
                                  s_replay, &loader, error, sizeof error), 0, "%s", error);
    cr_assert_eq (window_ms, 0);
    cr_assert_eq (loader.ntables, 2, "windows came from a snapshot without any");
    zmr_store_destroy (&store);

    for (int i = 0; i < loader.ntables; i++)
        zmr_counts_destroy (&loader.tables[i]);
    zmr_counts_destroy (&windows[0].counts);
    zmr_counts_destroy (&windows[1].counts);
    zmr_counts_destroy (&counts);
    zmr_counts_destroy (&loaded);
    zmr_u64set_destroy (&applied);
    zmr_u64set_destroy (&loaded_ids);
}

//  The journal keeps each cut's stamp, the last window written with the
//  number written, and the chunks quarantined, across a reopen; the window
//  also across a rewrite. A cut recorded without a stamp reads back 0.
Test (durable_windows, the_journal_keeps_stamps_windows_written_and_quarantines)
{
    char path[256];
    snprintf (path, sizeof path, "%s/journal", s_dir);
    zmr_journal_header_t header = { .job = 9, .reducers = 2, .chunk_size = 1024,
                                    .input_bytes = 0, .inputs = 1 };
    char err[256];
    zmr_journal_t *journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    zmr_journal_cut_t cut = { 0, 0, 100 };
    cr_assert_eq (zmr_journal_cut_stamped (journal, 0, &cut, 1796000000123), 0);
    cut.offset = 100;
    cr_assert_eq (zmr_journal_cut (journal, 1, &cut), 0);
    cut.offset = 200;
    cr_assert_eq (zmr_journal_cut_stamped (journal, 2, &cut, 1796000001500), 0);
    cr_assert_eq (zmr_journal_done (journal, 0, 10, 0, 10), 0);
    cr_assert_eq (zmr_journal_window_stored (journal, 1796000000000, 1), 0);
    cr_assert_eq (zmr_journal_quarantined (journal, 1), 0);
    zmr_journal_destroy (&journal);

    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    size_t ncuts;
    zmr_journal_cuts (journal, &ncuts);
    cr_assert_eq (ncuts, 3);
    const uint64_t *stamps = zmr_journal_stamps (journal);
    cr_assert_eq (stamps[0], 1796000000123);
    cr_assert_eq (stamps[1], 0);
    cr_assert_eq (stamps[2], 1796000001500);
    uint64_t closed = 0;
    cr_assert_eq (zmr_journal_windows_stored (journal, &closed), 1796000000000 + 1);
    cr_assert_eq (closed, 1);
    cr_assert (zmr_journal_was_quarantined (journal, 1));
    cr_assert_not (zmr_journal_was_quarantined (journal, 0));
    cr_assert_not (zmr_journal_was_quarantined (journal, 2));

    //  Written anew from chunk 1: the window written goes on with it
    cr_assert_eq (zmr_journal_window_stored (journal, 1796000001000, 2), 0);
    zmr_journal_summary_t summary = { .chunks = 1, .words = 10, .bytes = 100, .input = 0,
                                      .offset = 100, .pairs = 10 };
    cr_assert_eq (zmr_journal_rewrite_begin (journal, &summary), 0);
    cut.offset = 100;
    cr_assert_eq (zmr_journal_cut_stamped (journal, 1, &cut, 1796000001200), 0);
    cr_assert_eq (zmr_journal_quarantined (journal, 1), 0);
    cr_assert_eq (zmr_journal_rewrite_end (journal, true), 0);
    zmr_journal_destroy (&journal);

    journal = zmr_journal_open (path, &header, err, sizeof err);
    cr_assert_not_null (journal, "%s", err);
    cr_assert_eq (zmr_journal_windows_stored (journal, &closed), 1796000001000 + 1);
    cr_assert_eq (closed, 2);
    zmr_journal_cuts (journal, &ncuts);
    cr_assert_eq (ncuts, 1);
    cr_assert_eq (zmr_journal_stamps (journal)[0], 1796000001200);
    cr_assert (zmr_journal_was_quarantined (journal, 1));
    zmr_journal_destroy (&journal);
}

//  An event-time job's tables: panes (by start, on no grid the store
//  knows) and the side table (ZMR_SIDE_TABLE, above every pane), with
//  window length 0, come back whole and in order.
Test (durable_windows, a_snapshot_keeps_panes_and_the_side_table)
{
    char error[256];
    zmr_store_t *store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_not_null (store, "%s", error);
    zmr_counts_t *counts = zmr_counts_new ();
    zmr_u64set_t *applied = zmr_u64set_new ();
    zmr_counts_add (counts, "alpha", 5, 9, NULL);
    zmr_u64set_insert (applied, 4);
    zmr_store_window_t windows[3] = { { ZMR_SIDE_TABLE, zmr_counts_new () },
                                      { 1700000005000ULL, zmr_counts_new () },
                                      { 1700000002500ULL, zmr_counts_new () } };
    const char side[] = "\n\0\0\0\0\0\0\0\0 side record";
    zmr_counts_add (windows[0].counts, side, sizeof side - 1, 1, NULL);
    zmr_counts_add (windows[1].counts, "alpha", 5, 6, NULL);
    zmr_counts_add (windows[2].counts, "alpha", 5, 3, NULL);
    cr_assert_eq (zmr_store_snapshot_windows (store, 0x78, 1, ZMR_REDUCE_SUM, 12, counts,
                                              applied, 0, windows, 3), 0);
    zmr_store_destroy (&store);

    store = zmr_store_open (s_dir, S_PARTITION, error, sizeof error);
    cr_assert_not_null (store, "%s", error);
    uint64_t window_ms = 99;
    s_loader_t loader = { .window_ms = &window_ms };
    zmr_store_on_windows (store, &window_ms, s_table, &loader);
    uint64_t job, pairs;
    uint32_t reducers;
    int reduce;
    zmr_counts_t *loaded = zmr_counts_new ();
    zmr_u64set_t *loaded_ids = zmr_u64set_new ();
    cr_assert_eq (zmr_store_load (store, &job, &reducers, &reduce, &pairs, loaded, loaded_ids,
                                  s_replay, &loader, error, sizeof error), 0, "%s", error);
    cr_assert_eq (window_ms, 0);
    cr_assert_eq (pairs, 12);
    cr_assert_eq (loader.ntables, 3);
    cr_assert_eq (loader.ids[0], 1700000002500ULL);
    cr_assert_eq (loader.ids[1], 1700000005000ULL);
    cr_assert_eq (loader.ids[2], ZMR_SIDE_TABLE);
    cr_assert_eq (s_value (loader.tables[0], "alpha"), 3);
    cr_assert_eq (s_value (loader.tables[1], "alpha"), 6);
    cr_assert_eq (zmr_counts_size (loader.tables[2]), 1);
    zmr_entry_t *entry = zmr_counts_lookup (loader.tables[2], side, sizeof side - 1);
    cr_assert_not_null (entry, "the side record did not come back");
    cr_assert_eq (entry->count, 1);
    zmr_store_destroy (&store);

    for (int i = 0; i < loader.ntables; i++)
        zmr_counts_destroy (&loader.tables[i]);
    for (int i = 0; i < 3; i++)
        zmr_counts_destroy (&windows[i].counts);
    zmr_counts_destroy (&counts);
    zmr_counts_destroy (&loaded);
    zmr_u64set_destroy (&applied);
    zmr_u64set_destroy (&loaded_ids);
}
