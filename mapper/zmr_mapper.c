/*  zmr_mapper: counts a chunk's words, combined, and sends one batch per
    reducer, empty ones included, before it tells the ventilator the chunk
    is MAPPED. One table serves as both the combiner and the partition
    cache: it lives across chunks, a chunk is one of its rounds (only the
    chunk's own counts, only the words it touched), and a slot keeps its
    word's partition in part, so SHA-1 runs once per distinct word for the
    mapper's life and each word costs one hash lookup.

    A job of a map command or a plugin (zmr_job.h) takes lines instead: the
    command (zmr_command) or the plugin (zmr_loader) makes the chunk's
    pairs, which merge by the job's reduce in a table cleared per chunk
    (the combiner), each pair then partitioned by SHA-1 of its key. The
    mapper runs only what its own --map and --plugin options define: a
    WELCOME naming another job is refused (REFUSE), and a chunk whose map
    fails is FAILED, with no batch sent.

    An event-time word count (WELCOME's event_format, issue 17 item 3)
    maps each chunk whole with zmr_evmap: words by pane, side records
    apart, in runs; a mapper runs it whenever it runs the word count. */
#define _GNU_SOURCE
#include "zmr_mapper.h"
#include "zmr_command.h"
#include "zmr_evmap.h"
#include "zmr_loader.h"
#include "zmr_worker.h"
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_CACHE_MAX (4u << 20)   //  Partition cache entries before a reset
#define S_IDLE_MS   5000         //  No chunk for this long: give memory back
#define S_PIECE     (256u << 10) //  A chunk by reference is read this much at a time
#define S_REFUSED_MS 3000        //  A refused job: HELLO again after this
//  The exit of a --once mapper whose map command cannot run here (exit 126
//  or 127): what zmr run takes as a failure no restart cures (exit 2 of any
//  role), the mapper's refusal line being the reason
#define S_EXIT_CANNOT_RUN 2

typedef struct {
    const zmr_mapper_config_t *config;
    zmr_worker_t *worker;        //  Control link to the ventilator
    zmr_counters_t *counters;    //  The worker's, for heartbeats
    uint64_t job;                //  Adopted from WELCOME (0: between jobs)
    uint64_t over;               //  The last job seen to end (its FINISH is no news)
    uint64_t jobs;               //  Jobs joined in this process's life
    uint32_t reducers;           //  R
    uint64_t max_word;           //  Longest word counted (0: any), from WELCOME
    uint64_t max_message;        //  The job's largest message, from WELCOME
    const zmr_job_t *spec;       //  What runs: the allowed job (never the
                                 //  message's text), borrowed from the list
    int reduce;                  //  The job's, from WELCOME
    zmr_loader_t *plugin;        //  A plugin job's plugin, loaded
    zmr_counts_t *pairs;         //  A line job's chunk, combined by reduce
    zmr_event_spec_t event;      //  An event-time job's settings (format 0:
                                 //  none), from WELCOME
    zmr_evmap_t *evmap;          //  ... and its chunk's runs
    char chunk_error[ZMR_REASON_MAX];  //  Why the chunk in hand failed
    bool chunk_failed;           //  ... it did (a pair or the plugin)
    bool chunk_overflow;         //  ... because a key's sum passed 64 bits
    uint64_t chunk_in_hand;      //  Its id, for the reasons
    uint64_t refused;            //  The last job refused (its log said once)
    bool refusing;               //  The WELCOME taken was refused
    uint64_t unrunnable;         //  The job whose map command cannot run
                                 //  here (exit 126 or 127), or 0
    char unrunnable_why[ZMR_REASON_MAX];     //  ... said in each REFUSE
    zsock_t *link;               //  The worker's watch of control's handshakes,
                                 //  or NULL
    zsock_t *chunks;             //  PULL from the ventilator
    char chunks_at[ZMR_ENDPOINT_MAX];        //  ... connected there
    zsock_t **batches;           //  PUSH per reducer
    char (*reducer_at)[ZMR_ENDPOINT_MAX];    //  ... connected there
    char (*reducer_key)[ZMR_KEY_MAX];        //  ... with that CURVE server key
    zmr_partitioner_t *partitioner;  //  SHA-1 with one reused context
    zmr_combiner_t *words;       //  Combiner and partition cache, by rounds
    uint32_t *npairs;            //  Pairs per partition for this chunk
    size_t *nbytes;              //  Most bytes its pairs can take, per partition
    msgpack_sbuffer *bufs;       //  One batch buffer per partition
    msgpack_packer *packers;     //  Packers into bufs
    int64_t next_hello;          //  A HELLO asked for (AGAIN) goes no sooner
    bool hello_due;              //  Said HELLO after a new handshake: again
                                 //  until WELCOME or FINISH answers
    int64_t idle_since;          //  When the last chunk was mapped
    bool trimmed;                //  Memory given back since then
    bool unmapped_hit;           //  The chunk in hand holds ZMR_TEST_UNMAPPED
    bool finished;               //  FINISH received
    bool finish_ok;              //  ... and the job was done
    bool failed;                 //  Cannot go on: leave, exit 1
    int ref_fd;                  //  File of the last chunk by reference, or -1
    struct stat ref_stat;        //  Its fstat, taken when it was opened
    char ref_path[ZMR_PATH_MAX]; //  Its path
    char *ref_buf;               //  A piece of a chunk by reference
    size_t ref_cap;              //  Allocated in ref_buf
} s_mapper_t;

static void
    s_trim (s_mapper_t *self, const char *why);
static int
    s_adopt (s_mapper_t *self, zmr_msg_t *welcome);
static void
    s_on_refused (s_mapper_t *self);
static int
    s_refuse (s_mapper_t *self, const zmr_msg_t *msg, const char *why);
static void
    s_drop_job (s_mapper_t *self);
static void
    s_test_faults (s_mapper_t *self, uint64_t chunk, const char *data, size_t len);

static void
s_heartbeat (s_mapper_t *self, uint32_t state)
{
    zmr_worker_heartbeat (self->worker, self->job, state);
}

//  Says HELLO, with job 0: a mapper holds no state of a job, and the
//  WELCOME that answers says which job runs at the address now (the same,
//  its ventilator started again with its journal; or another). Asked for
//  by AGAIN, at most every 500 ms (a restarted ventilator answers each of
//  the heartbeats queued meanwhile); forced after a new handshake.
static void
s_hello (s_mapper_t *self, bool force)
{
    int64_t now = zmr_now_ms ();
    if (!force && now < self->next_hello)
        return;
    zmr_msg_pack_hello (zmr_worker_packer (self->worker), 0, ZMR_ROLE_MAPPER, 0, 0, "",
                        zmr_worker_name (self->worker), 0, "");
    zmr_worker_send (self->worker);
    self->next_hello = now + 500;
}

//  The ventilator at our address runs another job than ours: ours is gone
//  (its ventilator died for good, or ended while we were cut off). With
//  --once that ends this mapper. In a pool it drops the old job and serves
//  the new one (msg a WELCOME), or waits for the next (msg a FINISH: the
//  new one is over too).
static void
s_other_job (s_mapper_t *self, zmr_msg_t *msg)
{
    uint64_t old = self->job;
    if (self->config->once) {
        zmr_log (0, "the ventilator at %s now runs job %016llx: job %016llx is left "
                 "unfinished (--once: leaving)", self->config->control,
                 (unsigned long long) msg->job, (unsigned long long) old);
        self->failed = true;
        return;
    }
    s_drop_job (self);
    if (msg->type == ZMR_FINISH) {
        zmr_log (0, "the ventilator at %s now runs job %016llx, already over: job %016llx "
                 "is left unfinished; waiting for the next job", self->config->control,
                 (unsigned long long) msg->job, (unsigned long long) old);
        self->over = msg->job;
        self->finished = true;
        return;
    }
    int rc = s_adopt (self, msg);
    if (rc) {
        if (rc > 0)
            self->refusing = true;
        else
            self->failed = true;
        return;
    }
    zmr_log (0, "job %016llx is left unfinished: the ventilator at %s now runs job "
             "%016llx; joined it, with %u reducers", (unsigned long long) old,
             self->config->control, (unsigned long long) self->job, self->reducers);
    s_heartbeat (self, 0);
}

//  Handles one message from the ventilator during the job.
static void
s_on_control (s_mapper_t *self)
{
    zmq_msg_t frame;
    zmr_msg_t msg;
    if (!zmr_worker_recv_control (self->worker, &frame, &msg))
        return;
    if ((msg.type == ZMR_FINISH || msg.type == ZMR_WELCOME) && self->over
    &&  msg.job == self->over)
        ;   //  The last job's ventilator, a late word: no news
    else
    if ((msg.type == ZMR_FINISH || msg.type == ZMR_WELCOME) && msg.job != self->job) {
        self->hello_due = false;
        s_other_job (self, &msg);
    }
    else
    if (msg.type == ZMR_WELCOME) {
        //  Our job, told again (after our HELLO, or a reducer came back):
        //  a peer that moved is connected to afresh.
        self->hello_due = false;
        int rc = s_adopt (self, &msg);
        if (rc > 0)
            self->refusing = true;
        else
        if (rc)
            self->failed = true;
    }
    else
    if (msg.type == ZMR_FINISH) {
        self->hello_due = false;
        self->finished = true;
        self->finish_ok = msg.flag;
        //  The ventilator said why, once, for the whole job: here it is
        //  only an echo (-v).
        if (!msg.flag)
            zmr_log (1, "the job ended without success: %s", msg.reason);
    }
    else
    if (msg.type == ZMR_REJECT) {
        zmr_log (0, "rejected by the ventilator: %s", msg.reason);
        self->failed = true;
    }
    else
    if (msg.type == ZMR_REST && msg.job == self->job) {
        if (!self->trimmed)
            s_trim (self, "every chunk is applied");
    }
    else
    if (msg.type == ZMR_AGAIN)
        //  The ventilator does not know us (it restarted): HELLO again.
        s_hello (self, false);
    else {
        self->counters->malformed++;
        zmr_log_dropped ("control", "unexpected message");
    }
    zmq_msg_close (&frame);
}

//  Stands in for a map function that does real work per word (the bench
//  uses it to show scaling with mappers): `rounds` FNV-1a passes.
static void
s_costly_map (const char *word, size_t len, uint32_t rounds)
{
    uint64_t hash = 1469598103934665603ull;
    for (uint32_t r = 0; r < rounds; r++)
        for (size_t i = 0; i < len; i++)
            hash = (hash ^ (uint8_t) word[i]) * 1099511628211ull;
    //  Keeps the compiler from dropping work whose result nobody reads.
    __asm__ __volatile__ ("" : : "r" (hash));
}

//  A HEARTBEAT (busy) if one is due. A mapper is single-threaded and
//  silent while it maps, so it says so between pieces of its work: a chunk
//  that takes longer than --dead-ms to map is not a death.
static void
s_heartbeat_if_due (s_mapper_t *self)
{
    if (zmr_worker_heartbeat_in (self->worker) <= 0)
        s_heartbeat (self, 1);
}

//  The bench's costly map, over every word of a chunk.
static void
s_costly_map_text (s_mapper_t *self, const char *data, size_t len, uint32_t rounds)
{
    zmr_words_t scan;
    zmr_words_init (&scan, data, len);
    const char *word;
    size_t word_len;
    for (uint32_t n = 1; zmr_words_next (&scan, &word, &word_len); n++) {
        s_costly_map (word, word_len, rounds);
        if (n % 256 == 0)
            s_heartbeat_if_due (self);
    }
}

//  A word new to this mapper: SHA-1 once for its whole life.
static int
s_on_new_word (zmr_combined_t *slot, void *arg)
{
    s_mapper_t *self = (s_mapper_t *) arg;
    slot->part = zmr_partitioner_of (self->partitioner, slot->word, slot->len);
    self->counters->distinct++;      //  Words hashed, for the status
    return 0;
}

//  Counts one piece of the chunk in hand (the whole chunk, or a piece of a
//  chunk read by reference, cut at whitespace) into the round. Returns 0
//  or -1.
static int
s_count (s_mapper_t *self, uint64_t chunk, const char *data, size_t len, uint64_t *words)
{
    if (self->config->map_cost)
        s_costly_map_text (self, data, len, self->config->map_cost);
    uint64_t counted = 0;
    if (zmr_combiner_add (self->words, data, len, s_on_new_word, self, &counted))
        return -1;
    *words += counted;
    s_test_faults (self, chunk, data, len);
    s_heartbeat_if_due (self);
    return 0;
}

//  The test faults (ZMR_TEST_POISON, ZMR_TEST_UNMAPPED) on a piece of the
//  chunk in hand.
static void
s_test_faults (s_mapper_t *self, uint64_t chunk, const char *data, size_t len)
{
    if (self->config->poison && memmem (data, len, self->config->poison,
                                        strlen (self->config->poison))) {
        //  The test fault: a map function that crashes on some input, in
        //  the middle of its work (not at once: TAKE, queued just before,
        //  would often die unsent with it, and the ventilator could not
        //  tell whose chunk it was).
        zmr_log (0, "ZMR_TEST_POISON: dying on chunk %llu", (unsigned long long) chunk);
        raise (SIGKILL);
    }
    if (self->config->unmapped && memmem (data, len, self->config->unmapped,
                                          strlen (self->config->unmapped)))
        self->unmapped_hit = true;
}

//  Counts a chunk that came with its bytes, a piece of S_PIECE at a time
//  cut after its last whitespace, so the heartbeat goes out between pieces
//  as for a chunk by reference. Returns 0 or -1.
static int
s_count_bytes (s_mapper_t *self, uint64_t chunk, const char *data, size_t len,
               uint64_t *words)
{
    while (len > 0) {
        size_t cut = len;
        if (len > S_PIECE) {
            cut = zmr_tokenize_last_cut (data, S_PIECE);
            if (cut == 0) {
                //  A word longer than a piece: the piece ends after it
                cut = S_PIECE;
                while (cut < len && !zmr_is_space ((uint8_t) data[cut]))
                    cut++;
            }
        }
        if (s_count (self, chunk, data, cut, words))
            return -1;
        data += cut;
        len -= cut;
    }
    return 0;
}

//  Starts mapping one chunk: TAKE, and a new round of the table (the word
//  count's combiner, or a line job's pairs).
static void
s_map_begin (s_mapper_t *self, uint64_t chunk)
{
    zmr_msg_pack_take (zmr_worker_packer (self->worker), self->job, chunk);
    zmr_worker_send (self->worker);
    if (self->config->delay_ms)
        zclock_sleep ((int) self->config->delay_ms);
    if (self->pairs) {
        zmr_counts_clear (self->pairs);
        self->chunk_failed = false;
        self->chunk_overflow = false;
        self->chunk_error[0] = 0;
        self->chunk_in_hand = chunk;
    }
    else {
        //  The cache is bounded by a reset between chunks.
        if (zmr_combiner_size (self->words) >= S_CACHE_MAX)
            zmr_combiner_clear (self->words);
        zmr_combiner_round (self->words);
    }
    self->unmapped_hit = false;
}

//  After the batches of a chunk that holds ZMR_TEST_UNMAPPED: the test
//  fault, the batches are out (given a second to leave), the MAPPED never
//  goes. Once per test, so the chunk can be counted.
static void
s_unmapped_fault (s_mapper_t *self, uint64_t chunk)
{
    if (!self->unmapped_hit)
        return;
    int marker = open (self->config->unmapped_once, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (marker >= 0) {
        close (marker);
        zclock_sleep (1000);
        zmr_log (0, "ZMR_TEST_UNMAPPED: dying before the MAPPED of chunk %llu",
                 (unsigned long long) chunk);
        raise (SIGKILL);
    }
}

//  Ends mapping a chunk of len bytes and words words: R batches, MAPPED.
static int
s_map_end (s_mapper_t *self, uint64_t chunk, uint64_t stamp, uint64_t len, uint64_t words)
{
    uint32_t R = self->reducers;
    size_t ntouched;
    zmr_combined_t **touched = zmr_combiner_touched (self->words, &ntouched);
    //  Words over the job's --max-word are left out, and counted.
    uint64_t max_word = self->max_word? self->max_word: UINT64_MAX;
    uint64_t too_long = 0;
    memset (self->npairs, 0, R * sizeof *self->npairs);
    memset (self->nbytes, 0, R * sizeof *self->nbytes);
    //  The touched slots lie all over a large table: fetch ahead
    for (size_t i = 0; i < ntouched; i++) {
        if (i + 8 < ntouched)
            __builtin_prefetch (touched[i + 8]);
        zmr_combined_t *slot = touched[i];
        if (slot->len <= max_word) {
            self->npairs[slot->part]++;
            self->nbytes[slot->part] += ZMR_MSG_PAIR_MAX (slot->len);
        }
        else
            too_long += slot->count;
    }
    //  Each batch buffer is sized once, so packing never grows (copies and
    //  faults in) a buffer again.
    for (uint32_t p = 0; p < R; p++)
        if (zmr_msg_reserve (&self->bufs[p], ZMR_MSG_HEADER_MAX + self->nbytes[p])) {
            zmr_log (0, "out of memory for a batch of %zu bytes", self->nbytes[p]);
            return -1;
        }
    for (uint32_t p = 0; p < R; p++)
        zmr_msg_begin_batch (&self->packers[p], self->job, chunk, p, R, stamp, NULL, 0,
                             self->npairs[p]);
    for (size_t i = 0; i < ntouched; i++) {
        if (i + 16 < ntouched)
            __builtin_prefetch (touched[i + 16]);
        if (i + 8 < ntouched)
            __builtin_prefetch (touched[i + 8]->word);
        zmr_combined_t *slot = touched[i];
        if (slot->len <= max_word)
            zmr_msg_put_pair (&self->bufs[slot->part], slot->word, slot->len, slot->count);
    }
    words -= too_long;
    for (uint32_t p = 0; p < R; p++)
        while (zmr_msg_send (self->batches[p], &self->bufs[p], 0) == -1) {
            //  A signal interrupted the send: it still has to go out.
            if (errno != EINTR)
                return -1;
        }
    s_unmapped_fault (self, chunk);
    uint64_t pair_count = 0;
    for (uint32_t p = 0; p < R; p++)
        pair_count += self->npairs[p];
    zmr_msg_pack_mapped (zmr_worker_packer (self->worker), self->job, chunk, words,
                         too_long, pair_count);
    zmr_worker_send (self->worker);
    self->counters->chunks++;
    self->counters->words += words;
    self->counters->bytes += len;
    //  The counters follow each chunk, so that the status (and the final
    //  one) is current even for a job shorter than a heartbeat period.
    s_heartbeat (self, 0);
    return 0;
}

//  Logs why a chunk by reference cannot be read, and forgets its file.
//  Returns -1.
static int
s_reference_failed (s_mapper_t *self, const zmr_msg_t *msg, const char *why)
{
    zmr_log (0, "cannot read chunk %llu from '%s' (the ventilator sends chunks by "
             "reference, for mappers that see its files): %s",
             (unsigned long long) msg->chunk, self->ref_path, why);
    if (self->ref_fd >= 0)
        close (self->ref_fd);
    self->ref_fd = -1;
    return -1;
}

//  Opens the file of a chunk by reference, which must be the very file the
//  ventilator read (device and inode). Returns 0, or -1 after logging why.
static int
s_open_reference (s_mapper_t *self, const zmr_msg_t *msg)
{
    const char *why = NULL;
    if (self->ref_fd < 0 || strlen (self->ref_path) != msg->path_len
    ||  memcmp (self->ref_path, msg->path, msg->path_len)) {
        if (self->ref_fd >= 0)
            close (self->ref_fd);
        //  The decoder checked the length (< ZMR_PATH_MAX) and no NUL
        memcpy (self->ref_path, msg->path, msg->path_len);
        self->ref_path[msg->path_len] = 0;
        self->ref_fd = open (self->ref_path, O_RDONLY | O_CLOEXEC);
        if (self->ref_fd >= 0 && fstat (self->ref_fd, &self->ref_stat)) {
            close (self->ref_fd);
            self->ref_fd = -1;
        }
    }
    const struct stat *st = &self->ref_stat;
    if (self->ref_fd < 0)
        why = strerror (errno);
    else
    if ((uint64_t) st->st_dev != msg->device || (uint64_t) st->st_ino != msg->inode)
        why = "not the file the ventilator read (another machine or file system?)";
    return why? s_reference_failed (self, msg, why): 0;
}

//  Reads the next piece of a chunk by reference, at *at (up to end), into
//  ref_buf after the have bytes of an unfinished record (word or line) at
//  its front. The piece fills what that record leaves of the buffer, which
//  grows only for a record longer than half a piece, doubling (a 64 MiB
//  word would otherwise be copied 256 times). Advances *at. Returns the
//  bytes now in the buffer, or -1 after logging why.
static ssize_t
s_read_piece (s_mapper_t *self, const zmr_msg_t *msg, uint64_t *at, uint64_t end, size_t have)
{
    size_t room = self->ref_cap > have + S_PIECE / 2? self->ref_cap - have: S_PIECE;
    size_t want = end - *at < room? (size_t) (end - *at): room;
    if (have + want > self->ref_cap) {
        size_t cap = self->ref_cap * 2 > have + want? self->ref_cap * 2: have + want;
        char *buf = realloc (self->ref_buf, cap);
        if (!buf)
            return s_reference_failed (self, msg, "out of memory");
        self->ref_buf = buf;
        self->ref_cap = cap;
    }
    for (size_t got = 0; got < want;) {
        ssize_t rc = pread (self->ref_fd, self->ref_buf + have + got, want - got,
                            (off_t) (*at + got));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return s_reference_failed (self, msg, rc? strerror (errno)
                                                     : "the file is shorter than the chunk");
        got += (size_t) rc;
    }
    *at += want;
    return (ssize_t) (have + want);
}

//  Maps a chunk by reference: reads it in pieces of S_PIECE bytes, each
//  cut after its last whitespace (the rest goes to the front of the next),
//  so a mapper holds a piece, not a chunk. Returns 0, or -1 after logging.
static int
s_map_reference (s_mapper_t *self, const zmr_msg_t *msg)
{
    if (s_open_reference (self, msg))
        return -1;
    s_map_begin (self, msg->chunk);
    uint64_t at = msg->offset, end = msg->offset + msg->length;
    uint64_t words = 0;
    size_t have = 0;            //  Bytes of an unfinished word at the front
    while (at < end) {
        ssize_t filled = s_read_piece (self, msg, &at, end, have);
        if (filled < 0)
            return -1;
        have = (size_t) filled;
        //  The chunk ends at whitespace (or its input's end); a piece
        //  before its last is cut after its own last whitespace
        size_t cut = at < end? zmr_tokenize_last_cut (self->ref_buf, have): have;
        if (cut) {
            if (s_count (self, msg->chunk, self->ref_buf, cut, &words))
                return s_reference_failed (self, msg, "out of memory");
            memmove (self->ref_buf, self->ref_buf + cut, have - cut);
            have -= cut;
        }
    }
    return s_map_end (self, msg->chunk, msg->stamp, msg->length, words);
}

//  The longest key a line job takes: the job's --max-word, else the
//  longest chunk (a key longer than that cannot go in a batch anyway).
static size_t
s_max_key (s_mapper_t *self)
{
    return self->max_word? (size_t) self->max_word: ZMR_MAX_CHUNK;
}

//  Merges one pair of a line job into the chunk's table. Returns 0, or -1
//  with a one-line reason (a sum past 64 signed bits, out of memory).
static int
s_add_pair (s_mapper_t *self, const char *key, size_t len, int64_t value, char *reason,
            size_t size)
{
    if (zmr_counts_add (self->pairs, key, len, (uint64_t) value, NULL))
        return 0;
    char quoted[128];
    zmr_command_quote (key, len, quoted, sizeof quoted);
    if (errno == EOVERFLOW) {
        snprintf (reason, size, "the sum of key '%s' overflows 64 signed bits on chunk %llu",
                  quoted, (unsigned long long) self->chunk_in_hand);
        self->chunk_overflow = true;
    }
    else
        snprintf (reason, size, "out of memory for the pairs of chunk %llu",
                  (unsigned long long) self->chunk_in_hand);
    return -1;
}

//  zmr_command's pair
static int
s_command_pair (void *arg, const char *key, size_t len, int64_t value, char *reason,
                size_t size)
{
    return s_add_pair ((s_mapper_t *) arg, key, len, value, reason, size);
}

//  zmr_command's tick: busy, and a stop asked for ends the command
static int
s_command_tick (void *arg)
{
    s_mapper_t *self = (s_mapper_t *) arg;
    s_heartbeat_if_due (self);
    return zmr_interrupted ();
}

//  The plugin's emit
static int
s_emit (zmr_emit_t *emit, const char *key, size_t keylen, int64_t value)
{
    s_mapper_t *self = (s_mapper_t *) emit->mapper;
    if (self->chunk_failed)
        return 1;
    if (keylen > s_max_key (self)) {
        char quoted[128];
        zmr_command_quote (key, keylen, quoted, sizeof quoted);
        snprintf (self->chunk_error, sizeof self->chunk_error, "plugin %s emitted a key "
                  "longer than the job allows (%zu bytes) on chunk %llu: '%s'",
                  zmr_loader_name (self->plugin), s_max_key (self),
                  (unsigned long long) self->chunk_in_hand, quoted);
        self->chunk_failed = true;
        return 1;
    }
    if (s_add_pair (self, key, keylen, value, self->chunk_error, sizeof self->chunk_error)) {
        self->chunk_failed = true;
        return 1;
    }
    return 0;
}

//  Calls the plugin on each line of data[0 .. len) (the last may lack its
//  '\n'), counting them in *lines, until one fails the chunk.
static void
s_plugin_lines (s_mapper_t *self, const char *data, size_t len, uint64_t *lines)
{
    zmr_emit_t emit = { .fn = s_emit, .mapper = self };
    const char *end = data + len;
    while (data < end && !self->chunk_failed) {
        const char *nl = memchr (data, '\n', (size_t) (end - data));
        size_t line_len = nl? (size_t) (nl - data): (size_t) (end - data);
        int rc = zmr_loader_map (self->plugin, data, line_len, &emit);
        ++*lines;
        if (rc && !self->chunk_failed) {
            snprintf (self->chunk_error, sizeof self->chunk_error, "plugin %s failed on "
                      "chunk %llu (its map returned %d on line %llu of the chunk)",
                      zmr_loader_name (self->plugin),
                      (unsigned long long) self->chunk_in_hand, rc,
                      (unsigned long long) *lines);
            self->chunk_failed = true;
        }
        data += line_len + 1;
        if (*lines % 256 == 0)
            s_heartbeat_if_due (self);
    }
}

//  A plugin over a chunk by reference: pieces of S_PIECE, each cut after
//  its last '\n' (the rest goes to the front of the next). Returns 0 (the
//  chunk may have failed), or -1 after logging that the file cannot be read.
static int
s_plugin_reference (s_mapper_t *self, const zmr_msg_t *msg, uint64_t *lines)
{
    uint64_t at = msg->offset, end = msg->offset + msg->length;
    size_t have = 0;            //  Bytes of an unfinished line at the front
    while (at < end && !self->chunk_failed) {
        ssize_t filled = s_read_piece (self, msg, &at, end, have);
        if (filled < 0)
            return -1;
        have = (size_t) filled;
        size_t cut = have;
        if (at < end) {
            const char *nl = memrchr (self->ref_buf, '\n', have);
            cut = nl? (size_t) (nl - self->ref_buf) + 1: 0;
        }
        if (cut) {
            s_plugin_lines (self, self->ref_buf, cut, lines);
            memmove (self->ref_buf, self->ref_buf + cut, have - cut);
            have -= cut;
        }
    }
    return 0;
}

//  The map command cannot run here (the shell exited 126 or 127): REFUSE,
//  naming the exit and the last line of its stderr (the shell's "not
//  found"), and remembered, so the job is refused at once if offered again.
static void
s_cannot_run (s_mapper_t *self, const zmr_command_result_t *result)
{
    const char *end = result->err + result->err_len;
    while (end > result->err && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    const char *line = end;
    while (line > result->err && line[-1] != '\n')
        line--;
    snprintf (self->unrunnable_why, sizeof self->unrunnable_why,
              "map command cannot run here: exit %d%s%.*s", result->exit_status,
              end > line? ": ": "",
              (int) (end - line), line);
    self->unrunnable = self->job;
    zmr_msg_t msg = { .job = self->job };
    s_refuse (self, &msg, self->unrunnable_why);
    self->refusing = true;
}

//  Runs the map command on the chunk (its bytes, or its file by
//  reference), its pairs into the table. Returns 0 (the chunk may have
//  failed), or 1 when a stop signal ended it, or the command cannot run
//  here (the chunk is not at fault: no FAILED; BYE or REFUSE follows).
static int
s_command_chunk (s_mapper_t *self, const zmr_msg_t *msg, const char *data, uint64_t *lines)
{
    char what[48];
    snprintf (what, sizeof what, "chunk %llu", (unsigned long long) msg->chunk);
    zmr_command_t cmd = { .command = self->spec->spec,
                          .timeout_ms = self->config->map_timeout_ms,
                          .max_key = s_max_key (self), .what = what,
                          .pair = s_command_pair, .tick = s_command_tick, .arg = self,
                          //  Busy heartbeats as often as idle ones would go
                          .tick_ms = self->config->heartbeat_ms < 1000
                                   ? self->config->heartbeat_ms: 1000 };
    zmr_command_result_t *result = malloc (sizeof *result);
    if (!result) {
        snprintf (self->chunk_error, sizeof self->chunk_error,
                  "out of memory to run the map command on %s", what);
        self->chunk_failed = true;
        return 0;
    }
    int rc = zmr_command_run (&cmd, data, (size_t) msg->length,
                              msg->path_len? self->ref_fd: -1, msg->path_len? msg->offset: 0,
                              result);
    *lines = result->input_lines;
    if (result->interrupted) {
        zmr_log (1, "the map command on %s was stopped: leaving", what);
        free (result);
        return 1;
    }
    if (rc && result->cannot_run) {
        //  Not found or not executable: no chunk would do better here, and
        //  failing them would quarantine good chunks that healthy mappers
        //  would map. This mapper refuses the job instead; the ventilator
        //  issues what it holds again, not counted as a failure.
        zmr_command_log_stderr (result, 1, "map command's stderr: ");
        s_cannot_run (self, result);
        free (result);
        return 1;
    }
    if (rc) {
        snprintf (self->chunk_error, sizeof self->chunk_error, "%s", result->reason);
        self->chunk_failed = true;
        //  Its stderr, with the FAILED's reason logged next
        zmr_command_log_stderr (result, 0, "map command's stderr: ");
    }
    else
        zmr_command_log_stderr (result, 1, "map command's stderr: ");
    free (result);
    return 0;
}

//  Ends a line job's chunk of len bytes and lines lines: the table's pairs,
//  each to its key's partition, in R batches, then MAPPED; or, when the
//  chunk failed (here too: a batch over the job's max message), FAILED and
//  no batch. Returns 0 or -1.
static int
s_lines_end (s_mapper_t *self, uint64_t chunk, uint64_t stamp, uint64_t len, uint64_t lines)
{
    uint32_t R = self->reducers;
    size_t n = zmr_counts_size (self->pairs);
    zmr_entry_t *entries = zmr_counts_entries (self->pairs);
    memset (self->npairs, 0, R * sizeof *self->npairs);
    memset (self->nbytes, 0, R * sizeof *self->nbytes);
    if (!self->chunk_failed)
        for (size_t i = 0; i < n; i++) {
            //  aux is the caller's: the pair's partition
            entries[i].aux = zmr_partitioner_of (self->partitioner, entries[i].word,
                                                 entries[i].len);
            self->npairs[entries[i].aux]++;
            self->nbytes[entries[i].aux] += ZMR_MSG_PAIR_MAX (entries[i].len);
        }
    for (uint32_t p = 0; p < R && !self->chunk_failed; p++)
        if (ZMR_MSG_HEADER_MAX + self->nbytes[p] > self->max_message) {
            snprintf (self->chunk_error, sizeof self->chunk_error, "the pairs of chunk %llu "
                      "for reducer %u take up to %zu bytes, over the job's --max-message "
                      "(%llu): fewer keys per chunk (--chunk-size) or a larger --max-message",
                      (unsigned long long) chunk, p, ZMR_MSG_HEADER_MAX + self->nbytes[p],
                      (unsigned long long) self->max_message);
            self->chunk_failed = true;
        }
    if (self->chunk_failed && self->chunk_overflow) {
        //  No mapper would do better: the job fails naming the key, as a
        //  reducer's FAIL does for a sum passing 64 bits across chunks.
        //  FAILED follows, for a ventilator that takes FAIL from reducers
        //  and the sink only (the chunk is then quarantined, never lost
        //  silently).
        zmr_log (0, "the job cannot go on: %s", self->chunk_error);
        zmr_msg_pack_fail (zmr_worker_packer (self->worker), self->job, self->chunk_error);
        zmr_worker_send (self->worker);
    }
    if (self->chunk_failed) {
        zmr_log (0, "chunk %llu failed: %s", (unsigned long long) chunk, self->chunk_error);
        zmr_msg_pack_failed (zmr_worker_packer (self->worker), self->job, chunk,
                             self->chunk_error);
        zmr_worker_send (self->worker);
        s_heartbeat (self, 0);
        return 0;
    }
    for (uint32_t p = 0; p < R; p++)
        if (zmr_msg_reserve (&self->bufs[p], ZMR_MSG_HEADER_MAX + self->nbytes[p])) {
            zmr_log (0, "out of memory for a batch of %zu bytes", self->nbytes[p]);
            return -1;
        }
    for (uint32_t p = 0; p < R; p++)
        zmr_msg_begin_batch (&self->packers[p], self->job, chunk, p, R, stamp, NULL, 0,
                             self->npairs[p]);
    for (size_t i = 0; i < n; i++)
        zmr_msg_pack_pair (&self->packers[entries[i].aux], entries[i].word, entries[i].len,
                           entries[i].count);
    for (uint32_t p = 0; p < R; p++)
        while (zmr_msg_send (self->batches[p], &self->bufs[p], 0) == -1) {
            if (errno != EINTR)
                return -1;
        }
    zmr_msg_pack_mapped (zmr_worker_packer (self->worker), self->job, chunk, lines, 0,
                         (uint64_t) n);
    zmr_worker_send (self->worker);
    self->counters->chunks++;
    self->counters->words += lines;
    self->counters->bytes += len;
    s_heartbeat (self, 0);
    return 0;
}

//  Maps a chunk of a line job (a command's or a plugin's), its bytes at
//  data or its file by reference. Returns 0, 1 when stopped by a signal,
//  or -1 (the mapper cannot go on: logged).
static int
s_map_lines (s_mapper_t *self, const zmr_msg_t *msg, const char *data)
{
    if (msg->path_len && s_open_reference (self, msg))
        return -1;
    s_map_begin (self, msg->chunk);
    uint64_t lines = 0;
    if (self->plugin) {
        if (!msg->path_len)
            s_plugin_lines (self, data, (size_t) msg->length, &lines);
        else
        if (s_plugin_reference (self, msg, &lines))
            return -1;
    }
    else
    if (s_command_chunk (self, msg, data, &lines))
        return 1;
    return s_lines_end (self, msg->chunk, msg->stamp, msg->length, lines);
}

//  zmr_evmap's tick: busy, between records
static void
s_evmap_tick (void *arg)
{
    s_heartbeat_if_due ((s_mapper_t *) arg);
}

//  Reads a whole chunk by reference into ref_buf (an event-time chunk is
//  scanned whole: its lines' indexes and M run over the chunk). Returns
//  0, or -1 after logging why.
static int
s_read_whole (s_mapper_t *self, const zmr_msg_t *msg)
{
    if (s_open_reference (self, msg))
        return -1;
    uint64_t at = msg->offset, end = msg->offset + msg->length;
    size_t have = 0;
    while (at < end) {
        ssize_t filled = s_read_piece (self, msg, &at, end, have);
        if (filled < 0)
            return -1;
        have = (size_t) filled;
        s_heartbeat_if_due (self);
    }
    return 0;
}

//  Maps a chunk of an event-time word count (its bytes at data, or its
//  file by reference): its runs per reducer, R batches and MAPPED; or
//  FAILED, and no batch, when a batch would pass the job's --max-message
//  (side records carry their lines: a chunk of short late lines makes
//  more bytes than the word count's twice the chunk). Returns 0, or -1
//  (the mapper cannot go on: logged).
static int
s_map_events (s_mapper_t *self, const zmr_msg_t *msg, const char *data)
{
    if (msg->path_len) {
        if (s_read_whole (self, msg))
            return -1;
        data = self->ref_buf;
    }
    s_map_begin (self, msg->chunk);
    size_t len = (size_t) msg->length;
    if (zmr_evmap_chunk (self->evmap, &self->event, self->max_word, msg->chunk,
                         msg->event_max, data, len, s_evmap_tick, self)) {
        zmr_log (0, "cannot map chunk %llu: out of memory", (unsigned long long) msg->chunk);
        return -1;
    }
    //  After the work, as the word count's (the TAKE has had time to leave)
    s_test_faults (self, msg->chunk, data, len);
    uint32_t R = self->reducers;
    for (uint32_t p = 0; p < R; p++) {
        size_t bytes = zmr_evmap_batch_max (self->evmap, p);
        if (bytes > self->max_message) {
            char why[ZMR_REASON_MAX];
            snprintf (why, sizeof why, "the pairs and late lines of chunk %llu for "
                      "reducer %u take up to %zu bytes, over the job's --max-message "
                      "(%llu): a smaller --chunk-size or a larger --max-message",
                      (unsigned long long) msg->chunk, p, bytes,
                      (unsigned long long) self->max_message);
            zmr_log (0, "chunk %llu failed: %s", (unsigned long long) msg->chunk, why);
            zmr_msg_pack_failed (zmr_worker_packer (self->worker), self->job, msg->chunk,
                                 why);
            zmr_worker_send (self->worker);
            s_heartbeat (self, 0);
            return 0;
        }
    }
    for (uint32_t p = 0; p < R; p++)
        if (zmr_evmap_pack (self->evmap, p, &self->bufs[p], &self->packers[p], self->job,
                            msg->chunk, msg->stamp)) {
            zmr_log (0, "out of memory for a batch of %zu bytes",
                     zmr_evmap_batch_max (self->evmap, p));
            return -1;
        }
    for (uint32_t p = 0; p < R; p++)
        while (zmr_msg_send (self->batches[p], &self->bufs[p], 0) == -1) {
            if (errno != EINTR)
                return -1;
        }
    s_unmapped_fault (self, msg->chunk);
    zmr_evmap_stats_t stats;
    zmr_evmap_stats (self->evmap, &stats);
    zmr_msg_pack_mapped (zmr_worker_packer (self->worker), self->job, msg->chunk,
                         stats.words, stats.too_long, stats.pairs);
    zmr_worker_send (self->worker);
    self->counters->chunks++;
    self->counters->words += stats.words;
    self->counters->bytes += len;
    s_heartbeat (self, 0);
    return 0;
}

static void
s_on_chunk (s_mapper_t *self)
{
    zmq_msg_t frames[2];
    zmr_msg_t msg;
    int n = zmr_worker_recv (self->chunks, "chunks", frames, 2, &msg,
                             &self->counters->malformed);
    if (n == 0)
        return;
    const char *why = "a CHUNK has two frames";
    if (n != 2
    ||  (msg.type != ZMR_CHUNK && (why = "not a CHUNK"))
    ||  (msg.job != self->job && (why = "CHUNK of another job"))) {
        self->counters->malformed++;
        zmr_log_dropped ("chunks", why);
    }
    else
    if (!msg.path_len && zmq_msg_size (&frames[1]) != msg.length) {
        self->counters->malformed++;
        zmr_log_dropped ("chunks", "CHUNK length differs from its bytes");
    }
    else
    if (msg.path_len && zmq_msg_size (&frames[1]) != 0) {
        self->counters->malformed++;
        zmr_log_dropped ("chunks", "CHUNK by reference with bytes");
    }
    else {
        int rc;
        if (self->event.format)
            rc = s_map_events (self, &msg, msg.path_len
                                           ? NULL: (const char *) zmq_msg_data (&frames[1]));
        else
        if (self->spec->kind != ZMR_JOB_WORDS) {
            rc = s_map_lines (self, &msg, msg.path_len
                                          ? NULL: (const char *) zmq_msg_data (&frames[1]));
            if (rc > 0)
                rc = 0;     //  Stopped: the serve loop sees the signal
        }
        else
        if (msg.path_len)
            rc = s_map_reference (self, &msg);
        else {
            uint64_t words = 0;
            s_map_begin (self, msg.chunk);
            rc = s_count_bytes (self, msg.chunk, (const char *) zmq_msg_data (&frames[1]),
                                (size_t) msg.length, &words)
              || s_map_end (self, msg.chunk, msg.stamp, msg.length, words);
            if (rc)
                zmr_log (0, "cannot map chunk %llu: out of memory",
                         (unsigned long long) msg.chunk);
        }
        if (rc)
            self->failed = true;
        self->idle_since = zmr_now_ms ();
        self->trimmed = false;
    }
    zmr_msg_close (frames, n);
}

//  Gives back the table and the read buffer, saying why (verbose): when
//  the ventilator says REST (every chunk of the job is applied, and the
//  sink is about to sort: a job's memory is the sum over its processes,
//  and a mapper of the bench's Zipf text holds ~50 MB), or when no chunk
//  came for S_IDLE_MS (a stream that pauses; its next chunks pay SHA-1
//  again for their words).
static void
s_trim (s_mapper_t *self, const char *why)
{
    size_t held = zmr_combiner_memory (self->words) + self->ref_cap;
    zmr_log (1, "%s: giving back %zu KiB of word table and buffer", why, held >> 10);
    if (zmr_combiner_release (self->words))
        zmr_log (1, "cannot shrink the word table: out of memory");
    free (self->ref_buf);
    self->ref_buf = NULL;
    self->ref_cap = 0;
    if (self->evmap)
        zmr_evmap_release (self->evmap);
    if (self->pairs) {
        //  A line job's table, empty between chunks: a new one holds nothing
        zmr_counts_t *fresh = zmr_counts_new ();
        if (fresh) {
            zmr_counts_set_reduce (fresh, self->reduce);
            zmr_counts_destroy (&self->pairs);
            self->pairs = fresh;
        }
    }
    malloc_trim (0);
    self->trimmed = true;
}

//  Frees what a job gave the mapper: its sockets, buffers, partitioner,
//  word table and reference file, leaving each pointer NULL. linger is the
//  sockets' linger in ms, or -1 for their default: at exit, batches still
//  queued go out; between jobs (0) they belong to a job that is over.
static void
s_free_job (s_mapper_t *self, int linger)
{
    if (self->chunks && linger >= 0)
        zsock_set_linger (self->chunks, linger);
    zsock_destroy (&self->chunks);
    for (uint32_t p = 0; p < self->reducers; p++) {
        if (self->batches && self->batches[p]) {
            if (linger >= 0)
                zsock_set_linger (self->batches[p], linger);
            zsock_destroy (&self->batches[p]);
        }
        if (self->bufs)
            msgpack_sbuffer_destroy (&self->bufs[p]);
    }
    free (self->batches);
    free (self->reducer_at);
    free (self->reducer_key);
    free (self->bufs);
    free (self->packers);
    free (self->npairs);
    free (self->nbytes);
    self->batches = NULL;
    self->reducer_at = NULL;
    self->reducer_key = NULL;
    self->bufs = NULL;
    self->packers = NULL;
    self->npairs = NULL;
    self->nbytes = NULL;
    zmr_partitioner_destroy (&self->partitioner);
    zmr_loader_close (&self->plugin);
    zmr_counts_destroy (&self->pairs);
    zmr_evmap_destroy (&self->evmap);
    memset (&self->event, 0, sizeof self->event);
    self->spec = NULL;
    if (self->ref_fd >= 0)
        close (self->ref_fd);
    self->ref_fd = -1;
    free (self->ref_buf);
    self->ref_buf = NULL;
    zmr_combiner_destroy (&self->words);
}

//  Forgets the job in hand: its sockets (what they still hold is for a
//  job that is over, or whose ventilator is gone), its word table (whose
//  partitions are those of its R), its file and its counters.
static void
s_drop_job (s_mapper_t *self)
{
    s_free_job (self, 0);
    self->reducers = 0;
    self->job = 0;
    self->chunks_at[0] = 0;
    self->ref_path[0] = 0;
    self->ref_cap = 0;
    self->words = zmr_combiner_new ();
    memset (self->counters, 0, sizeof *self->counters);
    self->trimmed = true;
    malloc_trim (0);
}

//  Connects *sock afresh (a PULL for the chunks if type is ZMQ_PULL, else
//  a PUSH to a reducer) to endpoint with key, closing the socket it had
//  without waiting (what it holds went to a peer that is gone; leases send
//  it again). Returns 0 or -1.
static int
s_reconnect (zsock_t **sock, int type, const char *endpoint, const char *key)
{
    if (*sock) {
        zsock_set_linger (*sock, 0);
        zsock_destroy (sock);
    }
    if (type == ZMQ_PULL) {
        *sock = zmr_socket (ZMQ_PULL, ZMR_MAX_MSG, 0);
        if (!*sock)
            return -1;
        //  Hold as little as possible: what sits here is lost if we die.
        zsock_set_rcvhwm (*sock, 1);
        zsock_set_rcvbuf (*sock, 256 * 1024);
    }
    else {
        //  Linger: batches queued at SIGTERM must still reach the reducer.
        *sock = zmr_socket (ZMQ_PUSH, -1, 5000);
        if (!*sock)
            return -1;
        zsock_set_sndhwm (*sock, 1000);
    }
    return zmr_connect (*sock, endpoint, key);
}

//  Says why the job the WELCOME names is not run here: in the log (once
//  per job: a pool mapper asks again every few seconds) and to the
//  ventilator (REFUSE). Returns 1.
static int
s_refuse (s_mapper_t *self, const zmr_msg_t *msg, const char *why)
{
    if (msg->job != self->refused)
        zmr_log (0, "refusing job %016llx: %s", (unsigned long long) msg->job, why);
    else
        zmr_log (1, "refusing job %016llx again: %s", (unsigned long long) msg->job, why);
    self->refused = msg->job;
    char reason[ZMR_REASON_MAX];
    snprintf (reason, sizeof reason, "%s", why);
    zmr_msg_pack_refuse (zmr_worker_packer (self->worker), msg->job, reason);
    zmr_worker_send (self->worker);
    return 1;
}

//  Writes text into out (size bytes) quoted as a shell would take it back,
//  for a command line to paste: 'text', or "text" when it holds a single
//  quote and nothing a shell expands in double quotes, else with each
//  single quote as '\''.
static void
s_shell_quote (const char *text, char *out, size_t size)
{
    size_t at = 0;
    bool plain = !strchr (text, '\'');
    bool doubles = !plain && !strpbrk (text, "\"$`\\!");
    char quote = doubles? '"': '\'';
    if (at + 1 < size)
        out[at++] = quote;
    for (const char *c = text; *c && at + 5 < size; c++) {
        if (*c == '\'' && !doubles) {
            memcpy (out + at, "'\\''", 4);
            at += 4;
        }
        else
            out[at++] = *c;
    }
    if (at + 1 < size)
        out[at++] = quote;
    out[at < size? at: size - 1] = 0;
}

//  Finds what runs for the job a WELCOME names: the job this mapper's own
//  options define with that kind and digest (its spec runs, never the
//  message's text), loading a plugin. Returns 0, 1 refused (REFUSE sent),
//  or -1.
static int
s_take_job (s_mapper_t *self, const zmr_msg_t *msg)
{
    //  What a job refused before left
    zmr_loader_close (&self->plugin);
    zmr_counts_destroy (&self->pairs);
    self->spec = NULL;
    memset (&self->event, 0, sizeof self->event);
    if (self->unrunnable && msg->job == self->unrunnable)
        return s_refuse (self, msg, self->unrunnable_why);
    char why[ZMR_JOB_SPEC_MAX + 8 * ZMR_JOB_LABEL_MAX + 256];
    const char *kind = zmr_job_kind_name ((int) msg->job_kind);
    if (!kind || !zmr_reduce_name ((int) msg->reduce)) {
        snprintf (why, sizeof why, "its job kind %u or reduce %u is unknown to this mapper "
                  "(another version of zmr?)", msg->job_kind, msg->reduce);
        return s_refuse (self, msg, why);
    }
    const zmr_job_t *spec = zmr_job_allow_find (self->config->allow, (int) msg->job_kind,
                                                msg->digest);
    if (!spec) {
        bool command = msg->job_kind == ZMR_JOB_COMMAND;
        //  The label is the ventilator's, cut to fit: a hint, not the text;
        //  quoted so that it pastes into a shell
        char quoted[4 * ZMR_JOB_LABEL_MAX + 3];     //  A quote takes 4 bytes
        s_shell_quote (msg->label, quoted, sizeof quoted);
        snprintf (why, sizeof why, "its %s %s (digest %.8s...) is not one this mapper "
                  "allows; start it with %s %s", command? "map command": "plugin",
                  quoted, msg->digest, command? "--map": "--plugin", quoted);
        if (msg->job_kind == ZMR_JOB_WORDS)
            snprintf (why, sizeof why, "its word count's digest %.8s... is not this "
                      "mapper's (another version of zmr?)", msg->digest);
        return s_refuse (self, msg, why);
    }
    if (msg->event_format && (spec->kind != ZMR_JOB_WORDS || msg->reduce != ZMR_REDUCE_SUM)) {
        snprintf (why, sizeof why, "event time (--event-time %s) is for the word count "
                  "only, not a %s with reduce %s",
                  zmr_evtime_format_name ((int) msg->event_format), kind,
                  zmr_reduce_name ((int) msg->reduce));
        return s_refuse (self, msg, why);
    }
    self->spec = spec;
    self->reduce = (int) msg->reduce;
    //  The time parse is ours, not user code: a mapper that runs the word
    //  count runs it by event time too
    self->event = (zmr_event_spec_t) { .format = msg->event_format,
                                       .window_ms = msg->window_ms,
                                       .every_ms = msg->every_ms,
                                       .lateness_ms = msg->lateness_ms };
    if (spec->kind == ZMR_JOB_WORDS)
        return 0;
    self->pairs = zmr_counts_new ();
    if (!self->pairs) {
        zmr_log (0, "out of memory joining job %016llx", (unsigned long long) msg->job);
        return -1;
    }
    zmr_counts_set_reduce (self->pairs, self->reduce);
    if (spec->kind == ZMR_JOB_PLUGIN) {
        //  The file is the one digested when the mapper started, or it is
        //  not run: a plugin rebuilt since is another job
        zmr_job_t now;
        char err[512];
        if (zmr_job_define (&now, NULL, spec->spec, NULL, err, sizeof err)) {
            snprintf (why, sizeof why, "%s", err);
            return s_refuse (self, msg, why);
        }
        if (strcmp (now.digest, spec->digest)) {
            snprintf (why, sizeof why, "plugin %s changed since this mapper started (digest "
                      "%.8s... now, %.8s... then): start the mapper again", spec->spec,
                      now.digest, spec->digest);
            return s_refuse (self, msg, why);
        }
        self->plugin = zmr_loader_open (spec->spec, err, sizeof err);
        if (!self->plugin) {
            snprintf (why, sizeof why, "%s", err);
            return s_refuse (self, msg, why);
        }
        zmr_log (1, "loaded plugin %s (%s)", spec->spec, zmr_loader_name (self->plugin));
    }
    return 0;
}

//  Takes a WELCOME. For a job new to us: its table, buffers and sockets.
//  For the job in hand (said again after our HELLO, or because a reducer
//  came back): connects afresh to each peer whose endpoint or key changed
//  (a reducer started again on another port, maybe the one another reducer
//  had, with another key), and leaves the others alone. Returns 0, 1 when
//  the job is refused (not one this mapper runs: no socket is made), or -1.
static int
s_adopt (s_mapper_t *self, zmr_msg_t *msg)
{
    if (self->job && (msg->job != self->job || msg->reducers != self->reducers))
        s_drop_job (self);
    uint32_t R = msg->reducers;
    if (!self->job) {
        int rc = s_take_job (self, msg);
        if (rc)
            return rc;
        self->job = msg->job;
        self->reducers = R;
        self->jobs++;
        self->batches = calloc (R, sizeof *self->batches);
        self->reducer_at = calloc (R, sizeof *self->reducer_at);
        self->reducer_key = calloc (R, sizeof *self->reducer_key);
        self->bufs = calloc (R, sizeof *self->bufs);
        self->packers = calloc (R, sizeof *self->packers);
        self->npairs = calloc (R, sizeof *self->npairs);
        self->nbytes = calloc (R, sizeof *self->nbytes);
        self->partitioner = zmr_partitioner_new (R);
        if (self->event.format)
            self->evmap = zmr_evmap_new (R);
        if (!self->batches || !self->reducer_at || !self->reducer_key || !self->bufs
        ||  !self->packers || !self->npairs || !self->nbytes || !self->partitioner
        ||  !self->words || (self->event.format && !self->evmap)) {
            zmr_log (0, "out of memory joining job %016llx", (unsigned long long) msg->job);
            return -1;
        }
        for (uint32_t p = 0; p < R; p++) {
            msgpack_sbuffer_init (&self->bufs[p]);
            msgpack_packer_init (&self->packers[p], &self->bufs[p], msgpack_sbuffer_write);
        }
    }
    self->max_word = msg->max_word;
    self->max_message = msg->max_message? msg->max_message: zmr_max_message ();
    //  Wildcard hosts in what the ventilator advertises are its own host.
    char host[ZMR_ENDPOINT_MAX];
    zmr_endpoint_host (self->config->control, host, sizeof host);
    char endpoint[ZMR_ENDPOINT_MAX];
    for (uint32_t p = 0; p < R; p++) {
        char given[ZMR_ENDPOINT_MAX], key[ZMR_KEY_MAX];
        if (zmr_msg_next_endpoint (msg, given, key)
        ||  zmr_endpoint_with_host (given, host, endpoint, sizeof endpoint))
            return -1;
        if (self->batches[p] && !strcmp (endpoint, self->reducer_at[p])
        &&  !strcmp (key, self->reducer_key[p]))
            continue;
        if (self->batches[p])
            zmr_log (1, "reducer %u is now at %s%s: connecting there", p, endpoint,
                     strcmp (key, self->reducer_key[p])? " with another key": "");
        snprintf (self->reducer_at[p], ZMR_ENDPOINT_MAX, "%s", endpoint);
        snprintf (self->reducer_key[p], ZMR_KEY_MAX, "%s", key);
        if (s_reconnect (&self->batches[p], ZMQ_PUSH, endpoint, key))
            return -1;
    }
    if (zmr_endpoint_with_host (msg->endpoint, host, endpoint, sizeof endpoint))
        return -1;
    if (!self->chunks || strcmp (endpoint, self->chunks_at)) {
        if (self->chunks)
            zmr_log (1, "the chunks now come from %s: connecting there", endpoint);
        snprintf (self->chunks_at, sizeof self->chunks_at, "%s", endpoint);
        if (s_reconnect (&self->chunks, ZMQ_PULL, endpoint, NULL))
            return -1;
    }
    return 0;
}

//  Joins a job: HELLO until WELCOME, then its sockets. In a pool, a job
//  found already over is waited past. Returns 0 joined, 1 to exit with
//  success, -1 to exit with failure, -3 to exit with failure after a
//  REFUSE (--once), 2 to join again (a pool mapper refused the job).
static int
s_join (s_mapper_t *self)
{
    zmr_join_t join = { .role = ZMR_ROLE_MAPPER, .endpoint = "",
                        .wait_ms = self->config->wait_ms,
                        .pool = !self->config->once, .over = self->over };
    zmq_msg_t frame;
    zmr_msg_t msg;
    int rc;
    while (true) {
        rc = zmr_worker_join (self->worker, &join, &frame, &msg);
        if (rc == 1 && !zmr_interrupted () && join.pool && msg.type == ZMR_FINISH) {
            zmr_log (0, "job %016llx at %s is already over: waiting for the next job",
                     (unsigned long long) msg.job, self->config->control);
            self->over = join.over = msg.job;
            continue;
        }
        if (rc != 2)
            break;
    }
    if (rc)
        return rc > 0? 1: -1;
    uint64_t last = self->over;
    rc = s_adopt (self, &msg);
    if (rc > 0) {
        zmq_msg_close (&frame);
        if (self->config->once)
            return -3;      //  Logged: the job is not one we may run
        //  A pool: the job at the address may change; ask again in a while
        s_on_refused (self);
        return zmr_interrupted ()? 1: 2;
    }
    if (rc == 0 && self->jobs > 1)
        zmr_log (0, "job %016llx is over: joined job %016llx at %s, with %u reducers",
                 (unsigned long long) last, (unsigned long long) self->job,
                 self->config->control, self->reducers);
    else
    if (rc == 0)
        zmr_log (1, "joined job %016llx with %u reducers", (unsigned long long) self->job,
                 self->reducers);
    zmq_msg_close (&frame);
    return rc;
}

//  A pool mapper refused the job at its address: waits S_REFUSED_MS (a
//  signal ends the wait) before it says HELLO again, for the job may end
//  and another, one it may run, take its place.
static void
s_on_refused (s_mapper_t *self)
{
    self->refusing = false;
    zmr_log (1, "asking the ventilator at %s again in %d s", self->config->control,
             S_REFUSED_MS / 1000);
    int64_t until = zmr_now_ms () + S_REFUSED_MS;
    while (!zmr_interrupted () && zmr_now_ms () < until)
        zclock_sleep (100);
}

//  The control link's handshakes are watched (zmr_worker_watch_start):
//  one after the join means a ventilator answers at the address again
//  (started again, or a new one): the mapper says HELLO at once, and the
//  WELCOME says which job runs there now (a ventilator of another job drops
//  our heartbeats without asking for a HELLO).
static void
s_on_link (s_mapper_t *self)
{
    if (zmr_worker_watch_event (self->worker)) {
        //  Again until answered: a ventilator whose job is not ready yet
        //  answers later, and one of another job takes only HELLO from us
        //  as a sign of life (it drops our heartbeats of the old job).
        zmr_log (1, "connected to %s again: saying HELLO", self->config->control);
        s_hello (self, true);
        self->hello_due = true;
    }
}

//  Maps the job's chunks until it is over, another takes its place, or a
//  signal says leave. Returns the exit code, or -1 to join the next job
//  (a pool mapper whose job is over).
static int
s_serve (s_mapper_t *self)
{
    self->finished = false;
    self->finish_ok = false;
    self->hello_due = false;
    s_heartbeat (self, 0);
    self->trimmed = true;           //  Nothing held yet
    self->link = zmr_worker_watch_start (self->worker);
    while (!self->finished && !self->failed && !self->refusing && !zmr_interrupted ()) {
        zmq_pollitem_t items[] = {
            { zsock_resolve (self->chunks), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (zmr_worker_control (self->worker)), 0, ZMQ_POLLIN, 0 },
            { self->link? zsock_resolve (self->link): NULL, 0, ZMQ_POLLIN, 0 },
        };
        int64_t wait = zmr_worker_heartbeat_in (self->worker);
        if (!self->trimmed && self->idle_since + S_IDLE_MS - zmr_now_ms () < wait)
            wait = self->idle_since + S_IDLE_MS - zmr_now_ms ();
        int rc = zmq_poll (items, self->link? 3: 2, wait > 0? (long) wait: 0);
        if (rc == -1 && errno != EINTR)
            break;
        //  (Taking a message may replace the sockets polled: each is
        //  read without waiting, from the socket in place.)
        if (rc > 0 && self->link && (items[2].revents & ZMQ_POLLIN))
            s_on_link (self);
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            s_on_control (self);
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN) && !self->finished && !self->failed)
            s_on_chunk (self);
        if (self->finished || self->failed || self->refusing)
            break;
        if (zmr_worker_heartbeat_in (self->worker) <= 0)
            s_heartbeat (self, 0);
        if (self->hello_due)
            s_hello (self, false);
        if (!self->trimmed && zmr_now_ms () >= self->idle_since + S_IDLE_MS)
            s_trim (self, "no chunk for a while");
    }
    zmr_worker_watch_stop (self->worker);
    self->link = NULL;
    if (self->refusing && !self->failed) {
        //  A WELCOME of another job that this mapper does not run (s_adopt
        //  said why): the old job is dropped
        if (self->config->once) {
            zmr_worker_set_linger (self->worker, 500);
            return self->unrunnable? S_EXIT_CANNOT_RUN: 1;
        }
        //  Its map command cannot run here: the job is not ours any more
        if (self->job && self->unrunnable == self->job)
            s_drop_job (self);
        s_on_refused (self);
        return -1;
    }
    if (self->finished && !self->failed && !self->config->once) {
        //  A pool: the next job may come to the same address.
        if (self->job) {
            self->over = self->job;
            s_drop_job (self);
        }
        zmr_log (1, "job %016llx is over: waiting for the next job at %s",
                 (unsigned long long) self->over, self->config->control);
        return -1;
    }
    if (self->finished) {
        //  The job is over: the ventilator may be gone, and nothing left to
        //  say matters to it
        zmr_worker_set_linger (self->worker, 0);
        return self->finish_ok? 0: 1;
    }
    //  Leaving: what sits unread in the chunk queue is dropped with the
    //  socket, and BYE tells the ventilator to issue it again now.
    zsock_destroy (&self->chunks);
    //  BYE only hastens what --dead-ms would find: a live ventilator takes
    //  it at once, and a gone one (a job that just ended) must not hold the
    //  exit for the whole linger
    zmr_worker_set_linger (self->worker, 250);
    zmr_worker_bye (self->worker, self->job);
    zmr_log (1, "left after %llu chunks", (unsigned long long) self->counters->chunks);
    return self->failed? 1: 0;
}

int
zmr_mapper_run (const zmr_mapper_config_t *config)
{
    s_mapper_t self;
    memset (&self, 0, sizeof self);
    self.ref_fd = -1;
    self.config = config;
    self.words = zmr_combiner_new ();
    //  Control never blocks: a ventilator that has read nothing for a
    //  thousand messages is gone, and a mapper of a pool waits,
    //  heartbeating, for the next one at its address. What is dropped,
    //  leases make up for.
    self.worker = zmr_worker_new (config->control, config->name, config->heartbeat_ms,
                                  true);
    int code = 1;
    if (!self.words || !self.worker)
        goto cleanup;
    self.counters = zmr_worker_counters (self.worker);
    while (true) {
        int joined = s_join (&self);
        if (joined == 2)
            continue;       //  Refused the job there: asking again
        if (joined != 0) {
            //  Not joined (stopped, the job is over, or none came): the
            //  HELLOs still queued are for nobody, and must not hold the
            //  exit for the linger; a REFUSE must still go out
            zmr_worker_set_linger (self.worker, joined == -3? 500: 0);
            code = joined > 0? 0: 1;
            break;
        }
        code = s_serve (&self);
        if (code >= 0)
            break;
    }
cleanup:
    s_free_job (&self, -1);
    zmr_worker_destroy (&self.worker);
    return code;
}
