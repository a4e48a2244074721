#!/usr/bin/env python3
"""Producers of bench/soak.sh (issue 17 item 5): text with an event time on
every line, at a fixed rate, into a ventilator's --ingest (acked batches,
each sent again until acknowledged) or --listen (line TCP, no ack), and a
probe that times lines from their write to their count in a TOTALS
message of the sink's --publish.

The text is made from a fixed pool of line bodies (POOL below, the same
for every run), so what a producer sent is logged compactly, one line per
batch, and soak_check.py counts the reference from the logs and the pool:

    I SEQ TS START N EXTRA BYTES     ingest: batch SEQ acknowledged
    C CONN                           tcp: connection CONN opened
    S TS START N EXTRA BYTES         tcp: batch written (or being written)
    X CONN REASON                    tcp: connection CONN broke
    P NUM SENT_WALL                  probe: probe line NUM written
    L NUM SEEN_WALL                  probe: its marker first in a TOTALS
    R RESENDS                        ingest: batches sent again (no answer in 1 s)
    E                                the producer stopped cleanly

A batch is N lines `TIME TAG BODY` (BODY = POOL[(START + i) % len(POOL)],
TIME the batch's time TS, seconds since the epoch, as --format says),
then, with EXTRA 1, a line 60 s in the past (`TIME-60 TAG late BODY`) and a
line without time (`notime TAG BODY`). TAG is the producer's (ingest:
`ig<ID>`) or the connection's (`tc<ID>x<CONN>`, the probe `pc<ID>x<CONN>`),
on every line: its count in the result is how many lines of that
connection were counted. A probe line is `TIME TAG p<ID>n<NUM>`.

usage: soak_producer.py ingest|tcp|probe ENDPOINT --id N --log FILE
         --stop FILE [--rate BYTES/S] [--format epoch|rfc3339]
         [--publish EP (probe)] [--every-ms MS (probe)]
Exit 0 stopped cleanly (the stop file appeared and, for ingest, the last
batch was acknowledged), 1 otherwise."""
import argparse
import os
import random
import socket
import sys
import threading
import time

SIG, VER, INGEST, INGESTED, REFUSED = 0x5A4D, 2, 29, 30, 31


def make_pool():
    """The line bodies: 997 lines of 10-18 words from a 3000-word vocabulary
    of lowercase letters only (tags and markers hold digits: never one of
    them), Zipf-like frequencies. The same every run (fixed seed)."""
    rng = random.Random(20261207)
    vocab, seen = [], set()
    while len(vocab) < 3000:
        w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
        if w not in seen:
            seen.add(w)
            vocab.append(w)
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    return [" ".join(rng.choices(vocab, weights, k=rng.randint(10, 18))) for _ in range(997)]


POOL = make_pool()


def time_token(ts, fmt):
    if fmt == "rfc3339":
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    return str(ts)


def batch_lines(ts, start, n, extra, tag, fmt):
    """The lines of a batch, as (kind, time or None, text) tuples; kind
    'on' (the batch's time), 'late' (60 s before) or 'none' (no time)."""
    tok = time_token(ts, fmt)
    out = [("on", ts, "%s %s %s\n" % (tok, tag, POOL[(start + i) % len(POOL)]))
           for i in range(n)]
    if extra:
        out.append(("late", ts - 60, "%s %s late %s\n" % (time_token(ts - 60, fmt), tag,
                                                           POOL[(start + n) % len(POOL)])))
        out.append(("none", None, "notime %s %s\n" % (tag, POOL[(start + n + 1) % len(POOL)])))
    return out


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def put(self, *fields):
        with self.lock:
            self.f.write(" ".join(str(x) for x in fields) + "\n")


def stopped(args):
    return os.path.exists(args.stop)


def next_batch(state, due, cap):
    """(ts, start, n, extra) of the next batch, about min(due, cap) bytes."""
    ts = int(time.time())
    start = state["off"]
    n = max(1, min(due, cap) // 110)
    state["off"] = (start + n + 2) % len(POOL)
    state["batches"] += 1
    extra = 1 if state["batches"] % 4 == 0 else 0
    return ts, start, n, extra


def run_ingest(args, log):
    import msgpack
    import zmq
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.endpoint)
    name = "soak-ig%d" % args.id
    tag = "ig%d" % args.id
    state = {"off": (args.id * 311) % len(POOL), "batches": 0}
    seq = 0
    start_t = time.monotonic()
    written = 0
    while not stopped(args):
        due = int((time.monotonic() - start_t) * args.rate) - written
        if due <= 0:
            time.sleep(0.005)
            continue
        ts, start, n, extra = next_batch(state, due, 512 * 1024)
        text = "".join(t for _, _, t in batch_lines(ts, start, n, extra, tag, args.format)).encode()
        seq += 1
        frame = msgpack.packb([SIG, VER, INGEST, name, seq, text], use_bin_type=True)
        sock.send(frame)
        deadline = time.monotonic() + 300
        while True:
            if time.monotonic() > deadline:
                print("soak_producer: ingest batch %d unanswered for 300 s" % seq, file=sys.stderr)
                return 1
            if not sock.poll(1000):
                sock.send(frame)                    # no answer in time: again
                state["resends"] = state.get("resends", 0) + 1
                continue
            msg = msgpack.unpackb(sock.recv(), raw=False)
            if len(msg) >= 5 and msg[2] == REFUSED and msg[4] == seq:
                print("soak_producer: batch %d refused: %s" % (seq, msg[5:]), file=sys.stderr)
                return 1
            if len(msg) >= 5 and msg[2] == INGESTED and msg[4] == seq:
                break
        log.put("I", seq, ts, start, n, extra, len(text))
        written += len(text)
    log.put("R", state.get("resends", 0))
    return 0


def connect(args, log, state):
    """A new connection to the --listen endpoint (waits while there is none)."""
    host, port = args.endpoint[len("tcp://"):].rsplit(":", 1)
    while not stopped(args):
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            s.settimeout(None)
            state["conn"] += 1
            log.put("C", state["conn"])
            return s
        except OSError:
            time.sleep(0.05)
    return None


def run_tcp(args, log, probe=False):
    state = {"off": (args.id * 577) % len(POOL), "batches": 0, "conn": 0}
    pending = {}                                    # probe NUM -> sent wall time
    lock = threading.Lock()
    if probe:
        threading.Thread(target=watch_totals, args=(args, log, pending, lock),
                         daemon=True).start()
    sock = None
    start_t = time.monotonic()
    written = 0
    num = 0
    while not stopped(args):
        if sock is None:
            sock = connect(args, log, state)
            if sock is None:
                break
        kind = "pc" if probe else "tc"
        tag = "%s%dx%d" % (kind, args.id, state["conn"])
        if probe:
            time.sleep(args.every_ms / 1000.0)
            num += 1
            marker = "p%dn%d" % (args.id, num)
            ts = int(time.time())
            data = ("%s %s %s\n" % (time_token(ts, args.format), tag, marker)).encode()
            record = ("S", ts, "P%d" % num, 1, 0, len(data))
        else:
            due = int((time.monotonic() - start_t) * args.rate) - written
            if due <= 0:
                time.sleep(0.005)
                continue
            ts, start, n, extra = next_batch(state, due, 64 * 1024)
            data = "".join(t for _, _, t in batch_lines(ts, start, n, extra, tag,
                                                        args.format)).encode()
            record = ("S", ts, start, n, extra, len(data))
        log.put(*record)
        try:
            if probe:
                with lock:
                    pending[marker.encode()] = time.time()
                log.put("P", num, "%.6f" % pending[marker.encode()])
            sock.sendall(data)
            written += len(data)
        except OSError as e:
            log.put("X", state["conn"], type(e).__name__)
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    if probe:
        time.sleep(3)                               # the last probes' TOTALS
    return 0


def watch_totals(args, log, pending, lock):
    """Marks each probe's first appearance in a TOTALS message (msgpack:
    the word as bin8, 0xc4 LEN WORD)."""
    import zmq
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVHWM, 100000)
    sub.connect(args.publish)
    while True:
        if not sub.poll(200):
            continue
        data = sub.recv()
        now = time.time()
        with lock:
            for m in list(pending):
                if b"\xc4" + bytes([len(m)]) + m in data:
                    log.put("L", int(m.split(b"n")[1]), "%.6f" % now)
                    del pending[m]
                elif now - pending[m] > 120:
                    del pending[m]                  # never seen: soak_check says so


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["ingest", "tcp", "probe"])
    ap.add_argument("endpoint")
    ap.add_argument("--id", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--rate", type=float, default=1_000_000, help="bytes per second")
    ap.add_argument("--format", default="epoch", choices=["epoch", "rfc3339"])
    ap.add_argument("--publish", help="probe: the sink's --publish endpoint")
    ap.add_argument("--every-ms", type=int, default=100, help="probe: between probe lines")
    args = ap.parse_args()
    log = Log(args.log)
    if args.mode == "ingest":
        rc = run_ingest(args, log)
    else:
        rc = run_tcp(args, log, probe=args.mode == "probe")
    if rc == 0:
        log.put("E")
    return rc


if __name__ == "__main__":
    sys.exit(main())
