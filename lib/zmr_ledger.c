/*  zmr_ledger: the chunk ledger (see zmr_ledger.h for its story).

    Entries sit in an array indexed by chunk id minus the base: a stream's
    ledger forgets its done prefix (compaction), so the array holds what is
    in flight, not what went by. The line of chunks to (re)issue is a ring
    of ids; an id can be in it twice (re-issued, then taken after all), and
    the entry's state says whether it still needs to go out. */
#include "zmr.h"
#include "zmr_ledger.h"
#include <assert.h>

struct _zmr_ledger_t {
    uint32_t reducers;           //  R
    uint32_t dead_ms;            //  Evidence a chunk may be lost, in ms
    uint32_t poison_limit;       //  Mapper deaths before quarantine
    const char *const *inputs;   //  Input names, for the quarantine list
    zmr_ledger_entry_t *entries; //  Chunk base + i at i
    size_t size;                 //  Allocated entries
    uint64_t base;               //  First chunk held
    uint64_t nchunks;            //  Chunks cut so far
    uint64_t first_open;         //  Every chunk below is DONE
    uint64_t first_uncounted;    //  Every chunk below is DONE and counted
    size_t uncounted;            //  DONE chunks whose words are unknown
    uint64_t first_quarantined;  //  Lowest chunk quarantined, or UINT64_MAX
    zmr_journal_summary_t forgotten;  //  Sums of the chunks below base
    uint64_t *queue;             //  Ring of chunk ids to (re)issue
    size_t queue_head;           //  Next to issue
    size_t queue_len;            //  Ids in the ring
    size_t queue_size;           //  Ring capacity
    uint64_t acks_by[ZMR_MAX_REDUCERS];  //  Chunks partition p has ACKed
    zmr_quarantine_t *quarantine;        //  Chunks given up on
    uint64_t *quarantine_ids;            //  ... and their ids
    zmr_ledger_counts_t counts;  //  Running totals
};

//  The entry of chunk id, which must be held.
static inline zmr_ledger_entry_t *
s_at (zmr_ledger_t *self, uint64_t id)
{
    assert (id >= self->base && id < self->nchunks);
    return &self->entries[id - self->base];
}

zmr_ledger_t *
zmr_ledger_new (uint32_t reducers, uint32_t dead_ms, uint32_t poison_limit,
                const char *const *inputs)
{
    assert (reducers >= 1 && reducers <= ZMR_MAX_REDUCERS);
    zmr_ledger_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->reducers = reducers;
    self->dead_ms = dead_ms;
    self->poison_limit = poison_limit;
    self->inputs = inputs;
    self->first_quarantined = UINT64_MAX;
    return self;
}

void
zmr_ledger_destroy (zmr_ledger_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_ledger_t *self = *self_p;
    for (uint64_t id = self->base; id < self->nchunks; id++) {
        free (s_at (self, id)->data);
        free (s_at (self, id)->acked);
    }
    free (self->entries);
    free (self->queue);
    free (self->quarantine);
    free (self->quarantine_ids);
    free (self);
    *self_p = NULL;
}

void
zmr_ledger_resume (zmr_ledger_t *self, const zmr_journal_summary_t *summary)
{
    assert (self->nchunks == 0);
    if (!summary->chunks)
        return;
    self->nchunks = self->base = summary->chunks;
    self->first_open = self->first_uncounted = summary->chunks;
    self->forgotten = *summary;
    self->forgotten.panes = NULL;       //  (the journal's: the caller keeps them)
    self->forgotten.npanes = 0;
    self->counts.chunks_read = self->counts.chunks_done = summary->chunks;
    self->counts.bytes_read = self->counts.bytes_done = summary->bytes;
    self->counts.words = summary->words;
    self->counts.words_too_long = summary->too_long;
    self->counts.pairs = summary->pairs;
    for (uint32_t p = 0; p < self->reducers; p++)
        self->acks_by[p] = summary->chunks;
}

static int
s_queue_push (zmr_ledger_t *self, uint64_t id)
{
    if (self->queue_len == self->queue_size) {
        size_t size = self->queue_size? self->queue_size * 2: 64;
        uint64_t *queue = malloc (size * sizeof *queue);
        if (!queue)
            return -1;
        for (size_t i = 0; i < self->queue_len; i++)
            queue[i] = self->queue[(self->queue_head + i) % self->queue_size];
        free (self->queue);
        self->queue = queue;
        self->queue_size = size;
        self->queue_head = 0;
    }
    self->queue[(self->queue_head + self->queue_len) % self->queue_size] = id;
    self->queue_len++;
    return 0;
}

static void
s_queue_pop (zmr_ledger_t *self)
{
    assert (self->queue_len > 0);
    self->queue_head = (self->queue_head + 1) % self->queue_size;
    self->queue_len--;
}

//  A new entry at the end, zeroed but for where it was cut and its stamp;
//  NULL on out-of-memory.
static zmr_ledger_entry_t *
s_append (zmr_ledger_t *self, size_t len, uint32_t input, uint64_t offset, uint64_t stamp)
{
    if (self->nchunks - self->base == self->size) {
        size_t size = self->size? self->size * 2: 256;
        zmr_ledger_entry_t *entries = realloc (self->entries, size * sizeof *entries);
        if (!entries)
            return NULL;
        self->entries = entries;
        self->size = size;
    }
    zmr_ledger_entry_t *entry = &self->entries[self->nchunks - self->base];
    memset (entry, 0, sizeof *entry);
    entry->len = len;
    entry->input = input;
    entry->offset = offset;
    entry->state = ZMR_LEDGER_QUEUED;
    //  Never before the previous chunk's, even if the wall clock steps
    //  back: windows close in the order of their chunks.
    entry->stamp = stamp;
    entry->event_max = ZMR_EVTIME_UNKNOWN;
    if (self->nchunks > self->base && stamp < s_at (self, self->nchunks - 1)->stamp)
        entry->stamp = s_at (self, self->nchunks - 1)->stamp;
    return entry;
}

int64_t
zmr_ledger_add (zmr_ledger_t *self, char *data, size_t len, uint32_t input,
                uint64_t offset, uint64_t stamp)
{
    zmr_ledger_entry_t *entry = s_append (self, len, input, offset, stamp);
    if (entry)
        entry->acked = calloc (self->reducers, 1);
    if (!entry || !entry->acked || s_queue_push (self, self->nchunks)) {
        free (data);
        if (entry)
            free (entry->acked);
        return -1;
    }
    entry->data = data;
    self->counts.chunks_read++;
    self->counts.bytes_read += len;
    self->counts.in_flight++;
    return (int64_t) self->nchunks++;
}

int64_t
zmr_ledger_add_done (zmr_ledger_t *self, size_t len, uint32_t input, uint64_t offset,
                     uint64_t stamp, uint64_t words, uint32_t too_long, uint64_t pairs)
{
    zmr_ledger_entry_t *entry = s_append (self, len, input, offset, stamp);
    if (!entry)
        return -1;
    entry->state = ZMR_LEDGER_DONE;
    entry->words = words;
    entry->too_long = too_long;
    entry->pairs = pairs;
    entry->has_words = entry->counted = true;
    self->counts.chunks_read++;
    self->counts.bytes_read += len;
    self->counts.chunks_done++;
    self->counts.bytes_done += len;
    self->counts.words += words;
    self->counts.words_too_long += too_long;
    self->counts.pairs += pairs;
    for (uint32_t p = 0; p < self->reducers; p++)
        self->acks_by[p]++;
    if (self->first_open == self->nchunks)
        self->first_open++;
    return (int64_t) self->nchunks++;
}

static int s_quarantine (zmr_ledger_t *self, uint64_t id);

int64_t
zmr_ledger_add_quarantined (zmr_ledger_t *self, size_t len, uint32_t input, uint64_t offset,
                            uint64_t stamp)
{
    zmr_ledger_entry_t *entry = s_append (self, len, input, offset, stamp);
    if (!entry)
        return -1;
    self->counts.chunks_read++;
    self->counts.bytes_read += len;
    self->counts.in_flight++;       //  (s_quarantine takes it off)
    int64_t id = (int64_t) self->nchunks++;
    if (s_quarantine (self, (uint64_t) id))
        return -1;
    return id;
}

const zmr_ledger_entry_t *
zmr_ledger_next (zmr_ledger_t *self, uint64_t *id)
{
    while (self->queue_len > 0) {
        uint64_t next = self->queue[self->queue_head];
        zmr_ledger_entry_t *entry = next >= self->base? s_at (self, next): NULL;
        if (entry && (entry->state == ZMR_LEDGER_QUEUED
                      || (entry->state == ZMR_LEDGER_DONE && entry->recount
                          && !entry->has_words))) {
            *id = next;
            return entry;
        }
        //  Queued twice and already handled (done, maybe forgotten): skip.
        s_queue_pop (self);
    }
    return NULL;
}

void
zmr_ledger_issued (zmr_ledger_t *self, uint64_t id, int64_t now)
{
    assert (self->queue_len > 0 && self->queue[self->queue_head] == id);
    s_queue_pop (self);
    zmr_ledger_entry_t *entry = s_at (self, id);
    if (entry->state == ZMR_LEDGER_DONE)
        entry->recount = false;     //  Stays DONE; its MAPPED will count it
    else
        entry->state = ZMR_LEDGER_ISSUED;
    entry->since = now;
    self->counts.chunks_issued++;
}

//  Issues chunk id once more: a new attempt, at the back of the line.
static int
s_issue_again (zmr_ledger_t *self, uint64_t id)
{
    s_at (self, id)->attempt++;
    self->counts.chunks_reissued++;
    return s_queue_push (self, id);
}

//  Puts a chunk that may be lost back in line, once.
static int
s_requeue (zmr_ledger_t *self, uint64_t id, const char *why)
{
    zmr_ledger_entry_t *entry = s_at (self, id);
    if (entry->state == ZMR_LEDGER_DONE || entry->state == ZMR_LEDGER_QUEUED)
        return 0;
    zmr_log (1, "re-issuing chunk %llu (attempt %u): %s",
             (unsigned long long) id, entry->attempt + 1, why);
    entry->state = ZMR_LEDGER_QUEUED;
    entry->holder = 0;
    return s_issue_again (self, id);
}

static void
s_skip_done (zmr_ledger_t *self)
{
    while (self->first_open < self->nchunks
       &&  s_at (self, self->first_open)->state == ZMR_LEDGER_DONE)
        self->first_open++;
}

//  Adds a done chunk's words and pairs to the totals, once, as soon as both
//  its last ACK and a MAPPED (which says how many it has) are in: ACKs
//  cannot tell, a reducer that drops a duplicate does not count it again. Returns
//  true if it counted it now.
static bool
s_count (zmr_ledger_t *self, zmr_ledger_entry_t *entry)
{
    if (entry->state != ZMR_LEDGER_DONE || !entry->has_words || entry->counted)
        return false;
    entry->counted = true;
    self->uncounted--;
    self->counts.words += entry->words;
    self->counts.words_too_long += entry->too_long;
    self->counts.pairs += entry->pairs;
    //  Its bytes were kept for a recount until now.
    free (entry->data);
    entry->data = NULL;
    return true;
}

void
zmr_ledger_take (zmr_ledger_t *self, uint64_t id, uint32_t holder, int64_t now)
{
    zmr_ledger_entry_t *entry = zmr_ledger_entry (self, id)? s_at (self, id): NULL;
    //  A TAKE of a chunk already back in line means it was not lost after
    //  all; its line entry is skipped when reached.
    if (entry && (entry->state == ZMR_LEDGER_ISSUED || entry->state == ZMR_LEDGER_QUEUED
                  || entry->state == ZMR_LEDGER_TAKEN)) {
        entry->state = ZMR_LEDGER_TAKEN;
        entry->holder = holder;
        entry->since = now;
    }
}

int
zmr_ledger_mapped (zmr_ledger_t *self, uint64_t id, uint32_t holder, uint64_t words,
                   uint32_t too_long, uint64_t pairs, int64_t now)
{
    if (!zmr_ledger_entry (self, id))
        return -1;
    zmr_ledger_entry_t *entry = s_at (self, id);
    bool counted = false;
    if (!entry->has_words) {
        entry->words = words;
        entry->too_long = too_long;
        entry->pairs = pairs;
        entry->has_words = true;
        counted = s_count (self, entry);
    }
    if (entry->state != ZMR_LEDGER_DONE) {
        entry->state = ZMR_LEDGER_MAPPED;
        entry->holder = holder;
        entry->since = now;
    }
    return counted? 1: 0;
}

int
zmr_ledger_ack (zmr_ledger_t *self, uint64_t id, uint32_t partition, int64_t now)
{
    assert (partition < self->reducers);
    //  A chunk not cut yet: after a restart, reducers ACK what the last
    //  ventilator issued. It is issued again and ACKed again as a duplicate.
    //  (Below the base: done long ago.)
    if (!zmr_ledger_entry (self, id))
        return 0;
    zmr_ledger_entry_t *entry = s_at (self, id);
    if (entry->state == ZMR_LEDGER_DONE || entry->acked[partition])
        return 0;
    entry->acked[partition] = 1;
    entry->acks++;
    self->acks_by[partition]++;
    if (entry->acks < self->reducers)
        return 0;
    entry->state = ZMR_LEDGER_DONE;
    entry->since = now;
    self->counts.chunks_done++;
    self->counts.bytes_done += entry->len;
    self->counts.in_flight--;
    self->uncounted++;
    int what = ZMR_LEDGER_DONE_NOW;
    if (s_count (self, entry))
        what |= ZMR_LEDGER_COUNTED_NOW;
    free (entry->acked);
    entry->acked = NULL;
    //  Scans for lost chunks start here: the done prefix is skipped.
    s_skip_done (self);
    return what;
}

//  Gives up on a chunk that kept killing mappers: the job finishes without
//  it, and says so (stderr, status, receipt, exit code 3).
static int
s_quarantine (zmr_ledger_t *self, uint64_t id)
{
    zmr_ledger_entry_t *entry = s_at (self, id);
    zmr_quarantine_t *list = realloc (self->quarantine,
        (self->counts.chunks_quarantined + 1) * sizeof *list);
    if (!list)
        return -1;
    self->quarantine = list;
    uint64_t *ids = realloc (self->quarantine_ids,
        (self->counts.chunks_quarantined + 1) * sizeof *ids);
    if (!ids)
        return -1;
    self->quarantine_ids = ids;
    ids[self->counts.chunks_quarantined] = id;
    zmr_quarantine_t *item = &list[self->counts.chunks_quarantined++];
    memset (item, 0, sizeof *item);
    snprintf (item->file, sizeof item->file, "%s", self->inputs[entry->input]);
    item->offset = entry->offset;
    item->length = entry->len;
    if (entry->crashes)
        zmr_log (0, "quarantined chunk %llu ('%s', offset %llu, %zu bytes): "
                 "%u mappers failed (map command) or died on it", (unsigned long long) id, item->file,
                 (unsigned long long) entry->offset, entry->len, entry->crashes);
    else
        zmr_log (0, "chunk %llu ('%s', offset %llu, %zu bytes) stays quarantined, as "
                 "the journal says", (unsigned long long) id, item->file,
                 (unsigned long long) entry->offset, entry->len);
    entry->state = ZMR_LEDGER_DONE;
    entry->counted = entry->has_words = true;
    entry->quarantined = true;
    entry->words = 0;
    entry->pairs = 0;
    if (id < self->first_quarantined)
        self->first_quarantined = id;
    free (entry->data);
    entry->data = NULL;
    free (entry->acked);
    entry->acked = NULL;
    self->counts.in_flight--;
    s_skip_done (self);
    return 0;
}

int
zmr_ledger_mapper_gone (zmr_ledger_t *self, uint32_t holder, const char *why, bool died)
{
    int rc = 0;
    for (uint64_t id = self->first_open; id < self->nchunks; id++) {
        zmr_ledger_entry_t *entry = s_at (self, id);
        if (died && entry->state == ZMR_LEDGER_TAKEN && entry->holder == holder
        &&  ++entry->crashes >= self->poison_limit)
            rc |= s_quarantine (self, id);
        else
        if ((entry->state == ZMR_LEDGER_TAKEN || entry->state == ZMR_LEDGER_MAPPED)
        &&  entry->holder == holder)
            rc |= s_requeue (self, id, why);
        else
        if (entry->state == ZMR_LEDGER_ISSUED)
            rc |= s_requeue (self, id, why);
    }
    return rc? -1: 0;
}

int
zmr_ledger_map_failed (zmr_ledger_t *self, uint64_t id, uint32_t holder, const char *why)
{
    if (!zmr_ledger_entry (self, id))
        return 0;
    zmr_ledger_entry_t *entry = s_at (self, id);
    //  Only the attempt in a mapper's hands can fail: a FAILED for a chunk
    //  mapped (by another), done, or already back in line says nothing new.
    //  (A FAILED may come before its TAKE is read: ISSUED counts too.)
    if (entry->state != ZMR_LEDGER_ISSUED && entry->state != ZMR_LEDGER_TAKEN)
        return 0;
    if (entry->state == ZMR_LEDGER_TAKEN && holder && entry->holder && entry->holder != holder)
        return 0;
    //  Counted like a mapper dying on it: a chunk that fails wherever it
    //  goes is poison, and is given up on rather than tried for ever.
    if (++entry->crashes >= self->poison_limit)
        return s_quarantine (self, id)? -1: 1;
    return s_requeue (self, id, why)? -1: 1;
}

int
zmr_ledger_partition_back (zmr_ledger_t *self, uint32_t partition)
{
    assert (partition < self->reducers);
    int rc = 0;
    for (uint64_t id = self->first_open; id < self->nchunks; id++) {
        zmr_ledger_entry_t *entry = s_at (self, id);
        if (entry->state == ZMR_LEDGER_MAPPED && !entry->acked[partition])
            rc |= s_requeue (self, id, "its reducer came back");
    }
    return rc? -1: 0;
}

bool
zmr_ledger_holds (zmr_ledger_t *self, uint32_t holder)
{
    for (uint64_t id = self->first_open; id < self->nchunks; id++)
        if (s_at (self, id)->state == ZMR_LEDGER_TAKEN && s_at (self, id)->holder == holder)
            return true;
    return false;
}

//  How long a chunk may sit issued and not taken, or mapped and not fully
//  ACKed, before it counts as lost: --dead-ms the first time, then twice
//  and four times that. A chunk that waited its turn behind slow maps (a
//  loaded machine, a costly map) was not lost; issued again at the same
//  pace, each copy landed behind the next slow map, and the copies took the
//  cores the real work needed (seen on 2 cores under load: 367 re-issues
//  for 50 chunks in 150 s, the job crawling). Backing off bounds that to
//  one copy per chunk per 4 x --dead-ms; a chunk truly lost goes again
//  within that.
static int64_t
s_patience (zmr_ledger_t *self, const zmr_ledger_entry_t *entry)
{
    uint32_t shift = entry->attempt < 2? entry->attempt: 2;
    return (int64_t) self->dead_ms << shift;
}

int
zmr_ledger_expire (zmr_ledger_t *self, int64_t now, bool idle)
{
    int rc = 0;
    for (uint64_t id = self->first_open; id < self->nchunks; id++) {
        zmr_ledger_entry_t *entry = s_at (self, id);
        if (entry->state == ZMR_LEDGER_ISSUED && now - entry->since > s_patience (self, entry)
        &&  idle)
            rc |= s_requeue (self, id, "no mapper took it");
        else
        if (entry->state == ZMR_LEDGER_MAPPED && now - entry->since > s_patience (self, entry))
            rc |= s_requeue (self, id, "its batches did not all arrive");
    }
    return rc? -1: 0;
}

static void
s_skip_counted (zmr_ledger_t *self)
{
    while (self->first_uncounted < self->nchunks
       &&  s_at (self, self->first_uncounted)->state == ZMR_LEDGER_DONE
       &&  s_at (self, self->first_uncounted)->counted)
        self->first_uncounted++;
}

int
zmr_ledger_recount (zmr_ledger_t *self, int64_t now)
{
    if (!self->uncounted)
        return 0;
    int rc = 0;
    s_skip_counted (self);
    for (uint64_t id = self->first_uncounted; id < self->nchunks; id++) {
        zmr_ledger_entry_t *entry = s_at (self, id);
        if (entry->state != ZMR_LEDGER_DONE || entry->has_words || entry->recount
        ||  now - entry->since <= (int64_t) self->dead_ms)
            continue;
        zmr_log (1, "chunk %llu is done but its words are not known: mapping it again",
                 (unsigned long long) id);
        entry->recount = true;
        rc |= s_issue_again (self, id);
    }
    return rc? -1: 0;
}

uint64_t
zmr_ledger_first_needed (zmr_ledger_t *self)
{
    uint64_t low = self->first_open;
    if (self->uncounted) {
        s_skip_counted (self);
        if (self->first_uncounted < low)
            low = self->first_uncounted;
    }
    return low;
}

void
zmr_ledger_compact (zmr_ledger_t *self, uint64_t keep)
{
    uint64_t low = zmr_ledger_first_needed (self);
    if (keep < low)
        low = keep;
    //  The last chunk cut stays: where the input stands, and the stamp the
    //  next one may not go below.
    if (self->nchunks == 0)
        return;
    if (low > self->nchunks - 1)
        low = self->nchunks - 1;
    if (low < self->base || low - self->base < 1024)
        return;
    for (uint64_t id = self->base; id < low; id++) {
        const zmr_ledger_entry_t *entry = s_at (self, id);
        self->forgotten.words += entry->words;
        self->forgotten.too_long += entry->too_long;
        self->forgotten.pairs += entry->pairs;
        self->forgotten.bytes += entry->len;
        self->forgotten.late += entry->late;
        self->forgotten.untimed += entry->untimed;
    }
    self->forgotten.chunks = low;
    memmove (self->entries, self->entries + (low - self->base),
             (self->nchunks - low) * sizeof *self->entries);
    self->base = low;
    if (self->first_uncounted < low)
        self->first_uncounted = low;
}

void
zmr_ledger_set_event (zmr_ledger_t *self, uint64_t id, uint64_t event_max, uint32_t late,
                      uint32_t untimed)
{
    assert (id >= self->base && id < self->nchunks);
    zmr_ledger_entry_t *entry = s_at (self, id);
    entry->event_max = event_max;
    entry->late = late;
    entry->untimed = untimed;
}

const zmr_ledger_entry_t *
zmr_ledger_entry (zmr_ledger_t *self, uint64_t id)
{
    return id >= self->base && id < self->nchunks? s_at (self, id): NULL;
}

uint64_t
zmr_ledger_cut (zmr_ledger_t *self)
{
    return self->nchunks;
}

uint64_t
zmr_ledger_base (zmr_ledger_t *self)
{
    return self->base;
}

uint64_t
zmr_ledger_first_open (zmr_ledger_t *self)
{
    return self->first_open;
}

size_t
zmr_ledger_queued (zmr_ledger_t *self)
{
    return self->queue_len;
}

size_t
zmr_ledger_waiting (zmr_ledger_t *self)
{
    size_t waiting = 0;
    for (uint64_t id = self->first_open; id < self->nchunks; id++)
        if (s_at (self, id)->state == ZMR_LEDGER_ISSUED)
            waiting++;
    return waiting;
}

size_t
zmr_ledger_uncounted (zmr_ledger_t *self)
{
    return self->uncounted;
}

uint64_t
zmr_ledger_acks_by (zmr_ledger_t *self, uint32_t partition)
{
    assert (partition < self->reducers);
    return self->acks_by[partition];
}

uint64_t
zmr_ledger_first_quarantined (zmr_ledger_t *self)
{
    return self->first_quarantined;
}

const zmr_journal_summary_t *
zmr_ledger_forgotten (zmr_ledger_t *self)
{
    return &self->forgotten;
}

const zmr_ledger_counts_t *
zmr_ledger_counts (zmr_ledger_t *self)
{
    return &self->counts;
}

const uint64_t *
zmr_ledger_quarantine_ids (zmr_ledger_t *self)
{
    return self->quarantine_ids;
}

const zmr_quarantine_t *
zmr_ledger_quarantine (zmr_ledger_t *self)
{
    return self->quarantine;
}
