#!/usr/bin/env python3
"""Streaming latency bench (issues 5 and 17): feeds zmr run --follow
--snapshot FILE --publish EP, all with their DEFAULT timings, with
timestamped lines at a fixed rate and measures, from outside, how long a
line takes from the moment it is written into zmr's standard input to the
moment its count shows on each view: zmr's --follow output, a TOTALS
message on --publish, and the --snapshot file's next replacement.

Text is written in batches every 5 ms or so (Python, making the lines,
stretches that to ~14 ms at 10 MB/s); the first line of each batch starts
with a marker m<N> unique to the batch (the rest is filler words), so the
marker's first appearance on a view says the batch was counted there. The
first line also holds the word "hotw", once per batch: a word that changes
all the time, so its --follow line waits for the coalescing interval; its
latency is from a batch written to the first "hotw" line whose total
counts that batch (batches are counted about in order: an estimate).

Reported per rate and per binary: p50/p99/max of each view's latency
(every marker; for --publish, those sent once the subscriber is connected,
and how many of them it missed), the status's own p50/p99 (text in ->
count visible at the sink, per chunk, last minute), the sustained input
rate, the --follow lines and TOTALS messages and snapshot replacements per
second, the CPU time (user + system) of zmr run and every process it
started (and, in the JSON lines on stderr, by program until stdin
closes), the summed RSS at 10 s and at the end, whether the status ever
said backpressured, and whether the final counts are exact (the expected
counts are known: they are what was sent). With --base DIR, the binaries
in DIR (e.g. a build of an older commit) run the same feed right after,
for a side-by-side table.

usage: bench/latency.py [--bin DIR] [--base DIR] [--seconds S] [--rates 1,10]
                        [--line BYTES] [--extra 'ZMR RUN OPTIONS']
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

FILLER = ("the quick brown fox jumps over the lazy dog and then it runs far "
          "away into the deep green woods where nobody ever finds it again ").split()
HOT = b"hotw"


def rss_kb(root_pid):
    """Summed RSS (KiB) of root_pid and its children."""
    total = 0
    pids = [root_pid]
    try:
        for line in subprocess.run(["ps", "-o", "pid=", "--ppid", str(root_pid)],
                                   capture_output=True, text=True).stdout.split():
            pids.append(int(line))
    except OSError:
        pass
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_by_program(root_pid):
    """CPU seconds (user + system) so far of root_pid's children, summed by
    program name (zmr-mapper, zmr-sink, ...), and of root_pid itself."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [root_pid]
    try:
        pids += [int(p) for p in subprocess.run(["ps", "-o", "pid=", "--ppid", str(root_pid)],
                                                capture_output=True, text=True).stdout.split()]
    except OSError:
        pass
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / tick
    return {k: round(v, 1) for k, v in sorted(out.items())}


def percentile(values, p):
    if not values:
        return 0
    values = sorted(values)
    rank = max(1, -(-len(values) * p // 100))      # nearest rank
    return values[int(rank) - 1]


class Subscriber:
    """A SUB socket on libzmq through ctypes (no pyzmq needed): recv()
    gives one message's bytes, or None after 200 ms without one."""

    def __init__(self, endpoint):
        lib = ctypes.CDLL(ctypes.util.find_library("zmq") or "libzmq.so.5")
        lib.zmq_ctx_new.restype = ctypes.c_void_p
        lib.zmq_socket.restype = ctypes.c_void_p
        lib.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.zmq_setsockopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                       ctypes.c_size_t]
        lib.zmq_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.zmq_msg_recv.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib.zmq_msg_data.restype = ctypes.c_void_p
        lib.zmq_msg_data.argtypes = [ctypes.c_void_p]
        lib.zmq_close.argtypes = [ctypes.c_void_p]
        lib.zmq_ctx_term.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.ctx = lib.zmq_ctx_new()
        self.sock = lib.zmq_socket(self.ctx, 2)                    # ZMQ_SUB
        for opt, val in ((27, 200), (17, 0), (24, 100000)):        # RCVTIMEO, LINGER, RCVHWM
            v = ctypes.c_int(val)
            lib.zmq_setsockopt(self.sock, opt, ctypes.byref(v), 4)
        lib.zmq_setsockopt(self.sock, 6, None, 0)                  # SUBSCRIBE ""
        lib.zmq_connect(self.sock, endpoint.encode())
        self.msg = ctypes.create_string_buffer(64)                 # zmq_msg_t

    def recv(self):
        self.lib.zmq_msg_init(self.msg)
        n = self.lib.zmq_msg_recv(self.msg, self.sock, 0)
        data = ctypes.string_at(self.lib.zmq_msg_data(self.msg), n) if n >= 0 else None
        self.lib.zmq_msg_close(self.msg)
        return data

    def close(self):
        self.lib.zmq_close(self.sock)
        self.lib.zmq_ctx_term(self.ctx)


def run(bindir, rate_mb, seconds, line_len, workdir, tag, extra):
    rate = rate_mb * 1_000_000
    status_ep = f"ipc://{workdir}/status-{tag}-{rate_mb}"
    publish_ep = f"ipc://{workdir}/totals-{tag}-{rate_mb}"
    out_path = os.path.join(workdir, f"result-{tag}-{rate_mb}.txt")
    snap_path = os.path.join(workdir, f"snapshot-{tag}-{rate_mb}.txt")
    env = dict(os.environ, TMPDIR=workdir)
    sub = Subscriber(publish_ep)
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    zmr = subprocess.Popen([os.path.join(bindir, "zmr"), "run", "--follow",
                            "--snapshot", snap_path, "--publish", publish_ep,
                            "--no-progress", "--status", status_ep, "-o", out_path] + extra,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
    monitor = subprocess.Popen([os.path.join(bindir, "zmr-monitor"), "--json", status_ep],
                               stdout=subprocess.PIPE, text=True)
    sent = {}                    # marker -> time written
    sent_at = []                 # batch index -> time written
    views = {"follow": {}, "publish": {}, "snapshot": {}}   # marker -> latency (s)
    hot = []                     # latencies of "hotw" (s)
    counts = {"follow_lines": 0, "publish_msgs": 0, "snapshots": 0}
    expected = {}
    statuses = []
    lock = threading.Lock()
    stop = threading.Event()

    def seen(view, marker, now):
        with lock:
            t = sent.get(marker)
        if t is not None and marker not in views[view]:
            views[view][marker] = now - t

    def follow():
        hot_next = 0
        for raw in zmr.stdout:
            now = time.monotonic()
            counts["follow_lines"] += 1
            word, _, total = raw.partition(b"\t")
            if word[:1] == b"m":
                seen("follow", word, now)
            elif word == HOT:
                with lock:
                    upto = min(int(total), len(sent_at))
                    hot.extend(now - sent_at[k] for k in range(hot_next, upto))
                hot_next = max(hot_next, upto)

    def pending(view):
        with lock:
            return [m for m in sent if m not in views[view]]

    # A subscriber gets what is sent once it is connected (PUB drops the
    # rest), and the final set at the end repeats every total: the
    # markers timed are those sent after its first message, until stdin
    # closes; those never seen meanwhile are counted as missed.
    pub = {"first": None, "closed": False}

    def publish():
        while not stop.is_set():
            data = sub.recv()
            if data is None or pub["closed"]:
                continue
            now = time.monotonic()
            if pub["first"] is None:
                pub["first"] = now
            counts["publish_msgs"] += 1
            for m in pending("publish"):
                if b"\xc4" + bytes([len(m)]) + m in data:
                    seen("publish", m, now)

    def snapshot():
        last = None
        while not stop.is_set():
            try:
                st = os.stat(snap_path)
                ident = (st.st_ino, st.st_mtime_ns, st.st_size)
            except OSError:
                ident = None
            if ident and ident != last:
                last = ident
                now = time.monotonic()
                try:
                    with open(snap_path, "rb") as f:
                        data = b"\n" + f.read()
                except OSError:
                    data = b""
                counts["snapshots"] += 1
                for m in pending("snapshot"):
                    if b"\n" + m + b"\t" in data:
                        seen("snapshot", m, now)
            time.sleep(0.002)

    def watch():
        for line in monitor.stdout:
            try:
                statuses.append(json.loads(line))
            except ValueError:
                pass

    threads = [threading.Thread(target=f, daemon=True)
               for f in (follow, publish, snapshot, watch)]
    for t in threads:
        t.start()

    # Lines of about line_len bytes of filler words in a cycle; the line
    # that starts at each place of the cycle is made once (Python making
    # 100 k lines a second word by word would be the bottleneck).
    made = []                    # cycle offset -> (line, next offset)
    for off in range(len(FILLER)):
        words, length, at = [], 0, off
        while length < line_len - 1:
            words.append(FILLER[at % len(FILLER)])
            length += len(words[-1]) + 1
            at += 1
        made.append(((" ".join(words) + "\n").encode(), at % len(FILLER)))
    uses = [0] * len(FILLER)     # lines made from each offset
    start = time.monotonic()
    written = 0
    n = 0                        # markers (batches)
    lines = 0
    rss_10s = None
    off = 0
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        if rss_10s is None and now - start >= 10:
            rss_10s = rss_kb(zmr.pid)
        due = int((now - start) * rate) - written
        if due > 0:
            # One batch every 5 ms; its first line starts with a marker
            # unique to the batch (200 new words a second, not one per line:
            # a vocabulary that grows with every line is another bench).
            marker = b"m%d" % n
            n += 1
            parts = [marker + b" " + HOT + b" " + made[off][0]]
            uses[off] += 1
            off = made[off][1]
            batch_bytes = len(parts[0])
            while batch_bytes < due:
                line, following = made[off]
                parts.append(line)
                uses[off] += 1
                off = following
                batch_bytes += len(line)
            lines += len(parts)
            data = b"".join(parts)
            with lock:
                sent[marker] = time.monotonic()
                sent_at.append(sent[marker])
            zmr.stdin.write(data)
            written += len(data)
        time.sleep(0.005)
    elapsed = time.monotonic() - start
    rss_end = rss_kb(zmr.pid)
    cpu_split = cpu_by_program(zmr.pid)
    pub["closed"] = True
    zmr.stdin.close()
    code = zmr.wait(timeout=120)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    monitor.wait(timeout=30)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(timeout=5)
    sub.close()
    # Exact? Every marker once, every filler word as sent, hotw once a batch.
    for off, times in enumerate(uses):
        for w in made[off][0].split():
            expected[w.decode()] = expected.get(w.decode(), 0) + times
    got = {}
    with open(out_path, "rb") as f:
        for line in f:
            w, c = line.rstrip(b"\n").split(b"\t")
            got[w] = int(c)
    exact = (code == 0 and all(got.get(w.encode()) == c for w, c in expected.items())
             and got.get(HOT) == n
             and sum(1 for w in got if w[:1] == b"m") == n
             and all(c == 1 for w, c in got.items() if w[:1] == b"m"))
    mapping = [s for s in statuses if s.get("phase") == "mapping" and s.get("latency_samples")]
    last = mapping[-1] if mapping else {}
    r = {"binary": tag, "rate_mb": rate_mb, "seconds": round(elapsed, 1), "lines": lines,
         "markers": n, "mb_per_s": round(written / elapsed / 1e6, 2)}
    first = pub["first"] if pub["first"] is not None else float("inf")
    timed = [m for m, t in sent.items() if t > first]
    r["publish_missed"] = sum(1 for m in timed if m not in views["publish"])
    views["publish"] = {m: v for m, v in views["publish"].items() if sent[m] > first}
    for view, lat in list(views.items()) + [("hot", dict(enumerate(hot)))]:
        ms = [v * 1000 for v in lat.values()]
        r[view + "_p50_ms"] = round(percentile(ms, 50), 1)
        r[view + "_p99_ms"] = round(percentile(ms, 99), 1)
        r[view + "_max_ms"] = round(max(ms) if ms else 0, 1)
        r[view + "_seen"] = len(ms)
    r.update({
        "follow_lines_per_s": round(counts["follow_lines"] / elapsed),
        "publish_msgs_per_s": round(counts["publish_msgs"] / elapsed),
        "snapshots_per_s": round(counts["snapshots"] / elapsed, 1),
        "cpu_s": round(cpu_after.ru_utime + cpu_after.ru_stime
                       - cpu_before.ru_utime - cpu_before.ru_stime, 1),
        "cpu_by_program_s": cpu_split,
        "status_p50_ms": last.get("latency_p50_ms"), "status_p99_ms": last.get("latency_p99_ms"),
        "backpressured": any(s.get("backpressured") for s in statuses),
        "rss_10s_mib": round((rss_10s or 0) / 1024, 1), "rss_end_mib": round(rss_end / 1024, 1),
        "exact": exact, "exit": code,
    })
    return r


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(here, "..", "build", "bin"))
    parser.add_argument("--base", help="binaries to compare with (run right after each)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rates", default="1,10", help="MB/s, comma-separated")
    parser.add_argument("--line", type=int, default=100, help="bytes per line")
    parser.add_argument("--extra", default="",
                        help="more options for zmr run (e.g. '--follow-ms 5'), to see what "
                             "each interval costs; none: the defaults")
    args = parser.parse_args()
    bins = [("new", args.bin)] + ([("base", args.base)] if args.base else [])
    for _, d in bins:
        if not os.access(os.path.join(d, "zmr"), os.X_OK):
            sys.exit(f"latency.py: no zmr in {d}: build first (./dev.sh demo)")
    results = []
    with tempfile.TemporaryDirectory(prefix="zmr-latency-") as workdir:
        for rate in args.rates.split(","):
            for tag, d in bins:
                r = run(d, float(rate), args.seconds, args.line, workdir, tag,
                        args.extra.split())
                results.append(r)
                print(json.dumps(r), file=sys.stderr)
    print("| binary | rate | sustained | follow p50 / p99 / max | publish p50 / p99 / max | "
          "snapshot p50 / p99 / max | hot word p50 / p99 | status p50 / p99 | "
          "follow lines/s | TOTALS/s | snapshots/s | CPU | RSS 10 s → end | exact |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def trio(r, v):
        return f"{r[v + '_p50_ms']:g} / {r[v + '_p99_ms']:g} / {r[v + '_max_ms']:g} ms"

    for r in results:
        print(f"| {r['binary']} | {r['rate_mb']:g} MB/s | {r['mb_per_s']} MB/s | "
              f"{trio(r, 'follow')} | {trio(r, 'publish')} | {trio(r, 'snapshot')} | "
              f"{r['hot_p50_ms']:g} / {r['hot_p99_ms']:g} ms | "
              f"{r['status_p50_ms']} / {r['status_p99_ms']} ms | {r['follow_lines_per_s']} | "
              f"{r['publish_msgs_per_s']} | {r['snapshots_per_s']} | {r['cpu_s']} s | "
              f"{r['rss_10s_mib']} → {r['rss_end_mib']} MiB | {'yes' if r['exact'] else 'NO'} |")
    sys.exit(0 if all(r["exact"] for r in results) else 1)


if __name__ == "__main__":
    main()
