/*  test_event_close: the ventilator's side of event-time windows (issue 17
    item 3), against fake workers. The real zmr-ventilator runs an
    event-time job; this test is its reducer, sink and mapper at once,
    speaking the protocol over ipc://: it maps each chunk (counts its
    lines), ACKs it, answers each CLOSE with WSTORED and the FLUSH with
    STORED and DONE. It checks what only the ventilator decides, against a
    reference computed here from the lines the test wrote (their times are
    known, not parsed by zmr):

    - each CHUNK's event_max is the largest time of the lines before it;
    - the windows closed are the windows holding a line on time, each
      once, in order, then ZMR_WINDOW_END, with span W and prev_1 the
      window before + 1;
    - the final state counts the late lines and those without a time;
    - the same holds when the ventilator is killed (-9) mid-job and started
      again on its journal, also one written anew (a summary carrying M
      and the open panes) and with chunks by reference. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "zmr.h"

TestSuite (event_close, .init = h_setup, .fini = h_teardown, .timeout = 280);

#define S_LINES    400
#define S_W        10000          //  --window-ms
#define S_E        5000           //  --every-ms
#define S_L        2000           //  --allowed-lateness-ms
#define S_MAX_WINDOWS 4096

//  The input and what is known of it: each line's offset and time.
typedef struct {
    char *path;
    size_t len;
    uint64_t offset[S_LINES];
    bool timed[S_LINES];
    uint64_t ms[S_LINES];
    //  The reference
    uint64_t windows[S_MAX_WINDOWS];   //  Windows with a line on time, ascending
    size_t nwindows;
    uint64_t late, untimed;
} s_input_t;

//  Writes the lines: epoch seconds mostly going up, now and then back by
//  up to 25 s (late or not, by the lateness), now and then no time, with
//  gaps of minutes (windows with no line between).
static void
s_input (s_input_t *in)
{
    memset (in, 0, sizeof *in);
    char *text = h_alloc (S_LINES * 64);
    size_t len = 0;
    uint64_t t = 1796000000, seed = 12345;
    for (int i = 0; i < S_LINES; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t) (seed >> 33);
        in->offset[i] = len;
        if (r % 13 == 0) {
            len += (size_t) sprintf (text + len, "x%d y z\n", i);
            continue;
        }
        uint64_t at = t;
        if (r % 7 == 0)
            at = t - (r >> 8) % 25;
        else
        if (r % 31 == 0)
            at = t + 40;        //  Ahead: the lines after it are late for a while
        else
        if (r % 29 == 0)
            t += 60 + (r >> 8) % 200;
        else
            t += (r >> 8) % 4;
        if (r % 7 != 0 && r % 31 != 0)
            at = t;
        in->timed[i] = true;
        in->ms[i] = at * 1000 + (r >> 4) % 1000;
        len += (size_t) sprintf (text + len, "%llu.%03llu w%d v\n",
                                 (unsigned long long) (in->ms[i] / 1000),
                                 (unsigned long long) (in->ms[i] % 1000), i % 17);
    }
    in->path = h_write ("input.txt", text, len);
    in->len = len;
    //  The reference: M, late or on time, and every window holding a line
    //  on time (s a multiple of E, s <= t < s + W)
    bool known = false;
    uint64_t max = 0;
    static bool seen[S_MAX_WINDOWS];
    memset (seen, 0, sizeof seen);
    uint64_t base = 1796000000000ull - 100000;
    for (int i = 0; i < S_LINES; i++) {
        if (!in->timed[i]) {
            in->untimed++;
            continue;
        }
        uint64_t ms = in->ms[i];
        if (known && ms + S_L < max)
            in->late++;
        else
            for (uint64_t s = ms / S_E * S_E; s + S_W > ms; s -= S_E) {
                cr_assert (s >= base && (s - base) / S_E < S_MAX_WINDOWS);
                seen[(s - base) / S_E] = true;
            }
        if (!known || ms > max)
            max = ms;
        known = true;
    }
    for (size_t k = 0; k < S_MAX_WINDOWS; k++)
        if (seen[k])
            in->windows[in->nwindows++] = base + k * S_E;
    cr_assert (in->late > 5 && in->untimed > 5 && in->nwindows > 20,
               "late %llu, untimed %llu, windows %zu", (unsigned long long) in->late,
               (unsigned long long) in->untimed, in->nwindows);
    h_release (text);
}

//  The largest time of the lines before offset (ZMR_EVTIME_UNKNOWN: none).
static uint64_t
s_max_before (const s_input_t *in, uint64_t offset)
{
    uint64_t max = ZMR_EVTIME_UNKNOWN;
    for (int i = 0; i < S_LINES && in->offset[i] < offset; i++)
        if (in->timed[i] && (max == ZMR_EVTIME_UNKNOWN || in->ms[i] > max))
            max = in->ms[i];
    return max;
}

//  The bucket of a chunk whose M before it is max: the first window s (a
//  multiple of E) that can still get a line on time, s + W > max - L.
static uint64_t
s_bucket (uint64_t max)
{
    if (max == ZMR_EVTIME_UNKNOWN)
        return 0;
    uint64_t s = 0;
    if (max > S_L + S_W)
        s = (max - S_L - S_W) / S_E * S_E;
    while (s + S_W <= max - S_L)
        s += S_E;
    return s;
}

//  The fake workers.
typedef struct {
    void *ctx;
    void *reducer, *sink, *mapper, *pull;  //  DEALERs, and the mapper's PULL
    char control[256];
    char chunks[ZMR_ENDPOINT_MAX];         //  From WELCOME ("": not yet)
    uint64_t job;
    pid_t vent;                            //  The ventilator served
    bool vent_ended;                       //  ... reaped, with this status
    int vent_status;
    uint64_t acked;                        //  Chunks ACKed (the reducer's applied)
    uint8_t *mapped;                       //  Chunk ids mapped (words known)
    uint64_t *words;                       //  ... and their words
    size_t cap;
    uint64_t closes[S_MAX_WINDOWS];        //  CLOSE windows, as they came
    size_t ncloses;
    uint64_t stored;                       //  WSTOREDs sent
    int delay_ms;                          //  WSTORED this long after CLOSE
    int map_ms;                            //  Each chunk takes this long to map
    uint64_t pending;                      //  The window to say WSTORED of
    int64_t pending_at;                    //  ... then (0: none)
    bool finished, ok;
    zmr_status_t final;                    //  FINISH's state
    uint64_t chunk_errors;                 //  CHUNKs with a wrong event_max
    uint64_t early_closes;                 //  CHUNKs a window closed before
    char error[256];
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} s_fake_t;

static void *
s_dealer (s_fake_t *fake)
{
    void *sock = zmq_socket (fake->ctx, ZMQ_DEALER);
    cr_assert_not_null (sock);
    int linger = 0;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq (zmq_connect (sock, fake->control), 0);
    return sock;
}

static void
s_send (s_fake_t *fake, void *sock)
{
    cr_assert_eq (zmr_msg_send (sock, &fake->sbuf, 0), 0);
}

static void
s_hello (s_fake_t *fake)
{
    const char *dir = h_dir ();
    zmr_msg_pack_hello (&fake->pk, fake->job, ZMR_ROLE_REDUCER, 0, 1,
                        h_strf ("ipc://%s/r0", dir), "fake-reducer", fake->acked, "");
    s_send (fake, fake->reducer);
    zmr_msg_pack_hello (&fake->pk, fake->job, ZMR_ROLE_SINK, 0, 1,
                        h_strf ("ipc://%s/sink", dir), "fake-sink", 0, "");
    s_send (fake, fake->sink);
    zmr_msg_pack_hello (&fake->pk, fake->job, ZMR_ROLE_MAPPER, 0, 1, "", "fake-mapper", 0, "");
    s_send (fake, fake->mapper);
}

static void
s_heartbeats (s_fake_t *fake)
{
    zmr_counters_t counters = { 0 };
    void *socks[] = { fake->reducer, fake->sink, fake->mapper };
    for (int i = 0; i < 3; i++) {
        zmr_msg_pack_heartbeat (&fake->pk, fake->job, 0, &counters);
        s_send (fake, socks[i]);
    }
}

static void
s_fake_new (s_fake_t *fake, const char *control)
{
    memset (fake, 0, sizeof *fake);
    snprintf (fake->control, sizeof fake->control, "%s", control);
    fake->ctx = zmq_ctx_new ();
    cr_assert_not_null (fake->ctx);
    fake->reducer = s_dealer (fake);
    fake->sink = s_dealer (fake);
    fake->mapper = s_dealer (fake);
    fake->cap = 1 << 16;
    fake->mapped = calloc (fake->cap, 1);
    fake->words = calloc (fake->cap, sizeof *fake->words);
    cr_assert (fake->mapped && fake->words);
    msgpack_sbuffer_init (&fake->sbuf);
    msgpack_packer_init (&fake->pk, &fake->sbuf, msgpack_sbuffer_write);
    s_hello (fake);
}

static void
s_fake_destroy (s_fake_t *fake)
{
    void *socks[] = { fake->reducer, fake->sink, fake->mapper, fake->pull };
    for (int i = 0; i < 4; i++)
        if (socks[i])
            zmq_close (socks[i]);
    zmq_ctx_term (fake->ctx);
    free (fake->mapped);
    free (fake->words);
    zmr_status_reset (&fake->final);
    msgpack_sbuffer_destroy (&fake->sbuf);
}

//  A chunk: checks its event_max, maps it (its lines are its words and
//  pairs), ACKs it.
static void
s_on_chunk (s_fake_t *fake, const s_input_t *in, zmr_msg_t *msg, zmq_msg_t *body)
{
    uint64_t expected = s_max_before (in, msg->offset);
    if (msg->event_max != expected && fake->chunk_errors++ == 0)
        snprintf (fake->error, sizeof fake->error,
                  "chunk %llu at %llu: event_max %llu, expected %llu",
                  (unsigned long long) msg->chunk, (unsigned long long) msg->offset,
                  (unsigned long long) msg->event_max, (unsigned long long) expected);
    //  A window closes once every chunk that can hold a line on time for
    //  it is done: none can come after it
    uint64_t last = ZMR_WINDOW_END;
    for (size_t i = 0; i < fake->ncloses; i++)
        if (fake->closes[i] != ZMR_WINDOW_END)
            last = fake->closes[i];
    if (last != ZMR_WINDOW_END && s_bucket (expected) <= last && fake->early_closes++ == 0)
        snprintf (fake->error, sizeof fake->error,
                  "chunk %llu (bucket %llu) came after window %llu was closed",
                  (unsigned long long) msg->chunk, (unsigned long long) s_bucket (expected),
                  (unsigned long long) last);
    char *bytes = h_alloc (msg->length + 1);
    if (msg->path_len) {
        char path[4096];
        snprintf (path, sizeof path, "%.*s", (int) msg->path_len, msg->path);
        int fd = open (path, O_RDONLY);
        cr_assert (fd >= 0);
        cr_assert_eq (pread (fd, bytes, msg->length, (off_t) msg->offset),
                      (ssize_t) msg->length);
        close (fd);
    }
    else {
        cr_assert_eq (zmq_msg_size (body), msg->length);
        memcpy (bytes, zmq_msg_data (body), msg->length);
    }
    if (fake->map_ms)
        h_sleep_ms (fake->map_ms);
    uint64_t lines = 0;
    for (uint64_t i = 0; i < msg->length; i++)
        lines += bytes[i] == '\n';
    h_release (bytes);
    cr_assert (msg->chunk < fake->cap);
    fake->mapped[msg->chunk] = 1;
    fake->words[msg->chunk] = lines;
    zmr_msg_pack_take (&fake->pk, fake->job, msg->chunk);
    s_send (fake, fake->mapper);
    zmr_msg_pack_mapped (&fake->pk, fake->job, msg->chunk, lines, 0, lines);
    s_send (fake, fake->mapper);
    zmr_msg_pack_ack (&fake->pk, fake->job, 0, msg->chunk, lines, false);
    s_send (fake, fake->reducer);
    fake->acked++;
}

//  Reads what came on sock (a DEALER, or the PULL), at most a few messages.
static void
s_drain (s_fake_t *fake, const s_input_t *in, void *sock)
{
    //  One chunk at a time: the others (a CLOSE) are read in between
    for (int k = 0; k < (sock == fake->pull? 1: 64); k++) {
        zmq_msg_t frames[2];
        int n;
        if (zmr_msg_recv (sock, frames, 2, &n, ZMQ_DONTWAIT))
            return;
        zmr_msg_t msg;
        const char *why = NULL;
        cr_assert_eq (zmr_msg_decode (zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]),
                                      &msg, &why), 0, "%s", why);
        if (msg.type == ZMR_WELCOME) {
            fake->job = msg.job;
            cr_assert_eq (msg.event_format, ZMR_EVTIME_EPOCH);
            cr_assert (msg.window_ms == S_W && msg.every_ms == S_E && msg.lateness_ms == S_L);
            if (sock == fake->mapper && !fake->pull) {
                snprintf (fake->chunks, sizeof fake->chunks, "%s", msg.endpoint);
                fake->pull = zmq_socket (fake->ctx, ZMQ_PULL);
                int linger = 0;
                zmq_setsockopt (fake->pull, ZMQ_LINGER, &linger, sizeof linger);
                cr_assert_eq (zmq_connect (fake->pull, fake->chunks), 0);
            }
            //  Spoken after WELCOME: a mapper is ready
            s_heartbeats (fake);
        }
        else
        if (msg.type == ZMR_AGAIN)
            s_hello (fake);
        else
        if (msg.type == ZMR_LIVE)
            cr_assert (msg.flag && msg.window_ms == 0, "LIVE of an event-time job: panes");
        else
        if (msg.type == ZMR_CHUNK)
            s_on_chunk (fake, in, &msg, n > 1? &frames[1]: NULL);
        else
        if (msg.type == ZMR_CLOSE) {
            cr_assert (fake->ncloses < S_MAX_WINDOWS);
            cr_assert_eq (msg.span, S_W);
            //  prev_1: the window closed before this one + 1 (a CLOSE said
            //  again, with no WSTORED yet or after a restart, says the same)
            uint64_t prev = 0;
            for (size_t i = 0; i < fake->ncloses; i++)
                if (fake->closes[i] != msg.window)
                    prev = fake->closes[i] + 1;
            cr_assert_eq (msg.prev_1, prev, "CLOSE %llu: prev_1 %llu, expected %llu",
                          (unsigned long long) msg.window, (unsigned long long) msg.prev_1,
                          (unsigned long long) prev);
            fake->closes[fake->ncloses++] = msg.window;
            fake->pending = msg.window;
            fake->pending_at = h_now_ms () + fake->delay_ms;
        }
        else
        if (msg.type == ZMR_FLUSH) {
            uint64_t words = 0;
            for (size_t c = 0; c < fake->cap; c++)
                words += fake->mapped[c]? fake->words[c]: 0;
            zmr_msg_pack_stored (&fake->pk, fake->job, 0);
            s_send (fake, fake->sink);
            zmr_msg_pack_done (&fake->pk, fake->job, words, 1, words);
            s_send (fake, fake->sink);
        }
        else
        if (msg.type == ZMR_FINISH && !fake->finished && sock == fake->sink) {
            fake->finished = true;
            fake->ok = msg.flag;
            cr_assert_eq (zmr_status_decode (&msg, &fake->final, &why), 0, "%s", why);
        }
        zmr_msg_close (frames, n);
    }
}

//  Serves the ventilator until done() or the bound.
static void
s_serve (s_fake_t *fake, const s_input_t *in, bool (*done) (s_fake_t *, void *), void *arg,
         int timeout_ms)
{
    int64_t end = h_now_ms () + timeout_ms, beat = 0;
    while (!done (fake, arg)) {
        //  A ventilator that ended said so first (FINISH): what is left to
        //  read is read for a second at most
        if (!fake->vent_ended && h_try_wait (fake->vent, 0, &fake->vent_status)) {
            fake->vent_ended = true;
            end = h_now_ms () + 1000;
        }
        cr_assert (!fake->vent_ended || h_now_ms () < end,
                   "the ventilator ended (exit %d) before it finished the job; its "
                   "stderr: %s", h_exit_code (fake->vent_status), h_path ("vent-*.err"));
        cr_assert (h_now_ms () < end, "the job did not get there in %d ms (%zu closes, "
                   "%llu chunks acked)", timeout_ms, fake->ncloses,
                   (unsigned long long) fake->acked);
        zmq_pollitem_t items[] = {
            { fake->reducer, 0, ZMQ_POLLIN, 0 }, { fake->sink, 0, ZMQ_POLLIN, 0 },
            { fake->mapper, 0, ZMQ_POLLIN, 0 }, { fake->pull, 0, ZMQ_POLLIN, 0 },
        };
        zmq_poll (items, fake->pull? 4: 3, 50);
        for (int i = 0; i < 4; i++)
            if (items[i].socket)
                s_drain (fake, in, items[i].socket);
        if (fake->pending_at && h_now_ms () >= fake->pending_at) {
            zmr_msg_pack_wstored (&fake->pk, fake->job, fake->pending, 0);
            s_send (fake, fake->sink);
            fake->stored++;
            fake->pending_at = 0;
        }
        if (h_now_ms () >= beat) {
            s_heartbeats (fake);
            beat = h_now_ms () + 300;
        }
    }
}

static bool
s_finished (s_fake_t *fake, void *arg)
{
    (void) arg;
    return fake->finished;
}

typedef struct {
    uint64_t stored;         //  WSTOREDs said, at least
    uint64_t acked;          //  ... chunks ACKed, at least
    bool rewritten;          //  ... and the journal written anew since
    uint64_t inode;          //  ... it had this inode
} s_until_t;

static bool
s_kill_point (s_fake_t *fake, void *arg)
{
    s_until_t *until = (s_until_t *) arg;
    struct stat st;
    return fake->stored >= until->stored && fake->acked >= until->acked
        && (!until->rewritten || (stat (h_path ("journal"), &st) == 0
                                  && (uint64_t) st.st_ino != until->inode));
}

//  Starts the ventilator, its stderr to err.
static pid_t
s_ventilator (const char *control, bool by_reference, const char *input, const char *compact,
              const char *err)
{
    const char *dir = h_dir ();
    const char *env[] = { h_strf ("ZMR_JOURNAL_COMPACT=%s", compact), NULL };
    h_io_t io = { .env = env, .stderr_path = err };
    const char *args[] = {
        "-r", "1", "--control", control, "--chunks", h_strf ("ipc://%s/chunks", dir),
        "--status", h_strf ("ipc://%s/status", dir), "--chunk-size", "200",
        "--in-flight", "2", "--dead-ms", "30000", "--event-time", "epoch",
        "--window-ms", "10000", "--every-ms", "5000", "--allowed-lateness-ms", "2000",
        "--journal", h_path ("journal"), input, by_reference? "--by-reference": NULL, NULL
    };
    return h_spawnv ("zmr-ventilator", args, &io);
}

//  Runs the job, killing the ventilator once after kill_after WSTOREDs
//  (0: never), after its journal was written anew if rewrite.
static void
s_run (bool by_reference, uint64_t kill_after, bool rewrite)
{
    s_input_t *in = h_alloc (sizeof *in);
    s_input (in);
    const char *control = h_strf ("ipc://%s/control", h_dir ());
    const char *compact = rewrite? "2": "4000000000";
    pid_t vent = s_ventilator (control, by_reference, in->path, compact, h_path ("vent-1.err"));
    s_fake_t fake;
    s_fake_new (&fake, control);
    fake.vent = vent;
    if (kill_after) {
        //  Written anew: windows close slowly (a journal record each), so
        //  that the journal is written anew (every second) while the job
        //  runs, with panes open
        s_until_t until = { kill_after, rewrite? 8: 0, rewrite, 0 };
        struct stat st;
        for (int i = 0; i < 6000 && stat (h_path ("journal"), &st); i++)
            h_sleep_ms (10);
        cr_assert_eq (stat (h_path ("journal"), &st), 0, "no journal");
        until.inode = st.st_ino;
        //  and chunks map slowly: the ventilator dies with chunks to cut
        //  after the summary (--in-flight 2), which must be judged by M
        fake.delay_ms = rewrite? 100: 0;
        fake.map_ms = rewrite? 80: 0;
        s_serve (&fake, in, s_kill_point, &until, 120000);
        kill (vent, SIGKILL);
        h_wait (vent, 30000, "zmr-ventilator");
        fake.delay_ms = fake.map_ms = 0;
        vent = s_ventilator (control, by_reference, in->path, compact, h_path ("vent-2.err"));
        fake.vent = vent;
    }
    s_serve (&fake, in, s_finished, NULL, 200000);
    int code = h_exit_code (fake.vent_ended? fake.vent_status
                                           : h_wait (vent, 60000, "zmr-ventilator"));
    cr_assert_eq (code, 0, "the ventilator exited %d", code);
    if (kill_after) {
        //  It did resume (from a summary, when written anew)
        size_t len;
        char *log = h_read (h_path ("vent-2.err"), &len);
        cr_assert (strstr (log, "resuming job"), "%s", log);
        cr_assert_eq (strstr (log, "written anew") != NULL, rewrite, "%s", log);
        h_release (log);
    }
    cr_assert (fake.ok, "FINISH says the job failed: %s", fake.final.reason);
    cr_assert_eq (fake.chunk_errors, 0, "%llu chunks with a wrong event_max; the first: %s",
                  (unsigned long long) fake.chunk_errors, fake.error);
    cr_assert_eq (fake.early_closes, 0, "%llu chunks came after a window they belong to "
                  "was closed; the first: %s", (unsigned long long) fake.early_closes,
                  fake.error);
    //  Each window once, in order (a CLOSE said again in a row is the same
    //  close: its WSTORED was not in yet), then the END
    size_t n = 0;
    for (size_t i = 0; i < fake.ncloses; i++) {
        if (i && fake.closes[i] == fake.closes[i - 1])
            continue;
        if (n < in->nwindows)
            cr_assert_eq (fake.closes[i], in->windows[n],
                          "close %zu: window %llu, expected %llu", n,
                          (unsigned long long) fake.closes[i],
                          (unsigned long long) in->windows[n]);
        else
            cr_assert_eq (fake.closes[i], ZMR_WINDOW_END, "close %zu: %llu after the last "
                          "window", n, (unsigned long long) fake.closes[i]);
        n++;
    }
    cr_assert_eq (n, in->nwindows + 1, "%zu closes, expected %zu windows and the END", n,
                  in->nwindows);
    cr_assert_str_eq (fake.final.event_time, "epoch");
    cr_assert_eq (fake.final.windows_closed, in->nwindows);
    cr_assert (fake.final.late_records == in->late && fake.final.untimed_records == in->untimed,
               "late %llu (expected %llu), untimed %llu (expected %llu)",
               (unsigned long long) fake.final.late_records, (unsigned long long) in->late,
               (unsigned long long) fake.final.untimed_records,
               (unsigned long long) in->untimed);
    uint64_t max = s_max_before (in, UINT64_MAX);
    cr_assert (fake.final.has_watermark && fake.final.watermark_ms == max - S_L,
               "watermark %llu, expected %llu", (unsigned long long) fake.final.watermark_ms,
               (unsigned long long) (max - S_L));
    s_fake_destroy (&fake);
    h_release (in);
}

Test (event_close, windows_close_in_order_each_once_on_the_watermark)
{
    s_run (false, 0, false);
}

Test (event_close, a_ventilator_killed_mid_job_closes_the_same_windows_from_its_journal)
{
    s_run (false, 12, false);
}

Test (event_close, a_journal_written_anew_keeps_m_and_the_open_panes_by_reference)
{
    s_run (true, 1, true);
}
