#!/usr/bin/env python3
"""Streaming latency bench (issue 5): feeds zmr run --stream --follow with
timestamped lines at a fixed rate and measures, from outside, how long a
line takes from the moment it is written into zmr's standard input to the
moment its count shows on zmr's --follow output.

Text is written in batches every 5 ms or so (Python, making the lines,
stretches that to ~14 ms at 10 MB/s); the first line of each batch starts
with a marker m<N> unique to the batch (the rest is filler words), so the
marker's first --follow line says the batch was counted. Reported per rate: p50/p99/max of that latency (every marker), the
status's own p50/p99 (text in -> count visible at the sink, per chunk, last
minute), the sustained input rate, the summed RSS of zmr's processes
at 10 s and at the end (growth shows unbounded queues), whether the status
ever said backpressured, and whether the final counts are exact (the
expected counts are known: they are what was sent).

usage: bench/latency.py [--bin DIR] [--seconds S] [--rates 1,10] [--line BYTES]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

FILLER = ("the quick brown fox jumps over the lazy dog and then it runs far "
          "away into the deep green woods where nobody ever finds it again ").split()


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


def percentile(values, p):
    if not values:
        return 0
    values = sorted(values)
    rank = max(1, -(-len(values) * p // 100))      # nearest rank
    return values[int(rank) - 1]


def run(bindir, rate_mb, seconds, line_len, workdir):
    rate = rate_mb * 1_000_000
    status_ep = f"ipc://{workdir}/status-{rate_mb}"
    out_path = os.path.join(workdir, f"result-{rate_mb}.txt")
    env = dict(os.environ, TMPDIR=workdir)
    zmr = subprocess.Popen([os.path.join(bindir, "zmr"), "run", "--follow", "--follow-ms", "5",
                            "--no-progress", "--status", status_ep, "-o", out_path],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
    monitor = subprocess.Popen([os.path.join(bindir, "zmr-monitor"), "--json", status_ep],
                               stdout=subprocess.PIPE, text=True)
    sent = {}                    # marker -> time written
    seen = {}                    # marker -> latency (s)
    expected = {}
    statuses = []
    lock = threading.Lock()

    def follow():
        for raw in zmr.stdout:
            now = time.monotonic()
            word = raw.split(b"\t", 1)[0]
            if word[:1] == b"m" and word not in seen:
                with lock:
                    t = sent.get(word)
                if t is not None:
                    seen[word] = now - t

    def watch():
        for line in monitor.stdout:
            try:
                statuses.append(json.loads(line))
            except ValueError:
                pass

    threading.Thread(target=follow, daemon=True).start()
    threading.Thread(target=watch, daemon=True).start()

    # Lines of about line_len bytes; written in batches every 5 ms.
    start = time.monotonic()
    written = 0
    n = 0                        # markers (batches)
    lines = 0
    rss_10s = None
    filler_cycle = 0
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
            parts = []
            batch_bytes = 0
            first = True
            while batch_bytes < due:
                words = [marker] if first else []
                first = False
                length = len(marker) if words else 0
                while length < line_len - 1:
                    w = FILLER[filler_cycle % len(FILLER)]
                    filler_cycle += 1
                    words.append(w.encode())
                    length += len(w) + 1
                    expected[w] = expected.get(w, 0) + 1
                line = b" ".join(words) + b"\n"
                parts.append(line)
                batch_bytes += len(line)
                lines += 1
            data = b"".join(parts)
            with lock:
                sent[marker] = time.monotonic()
            zmr.stdin.write(data)
            written += len(data)
        time.sleep(0.005)
    elapsed = time.monotonic() - start
    rss_end = rss_kb(zmr.pid)
    zmr.stdin.close()
    code = zmr.wait(timeout=120)
    monitor.wait(timeout=30)
    time.sleep(0.2)
    # Exact? Every marker once, every filler word as sent.
    got = {}
    with open(out_path, "rb") as f:
        for line in f:
            w, c = line.rstrip(b"\n").split(b"\t")
            got[w] = int(c)
    exact = (code == 0 and all(got.get(w.encode()) == c for w, c in expected.items())
             and sum(1 for w in got if w[:1] == b"m") == n
             and all(c == 1 for w, c in got.items() if w[:1] == b"m"))
    lat = [v * 1000 for v in seen.values()]
    mapping = [s for s in statuses if s.get("phase") == "mapping" and s.get("latency_samples")]
    last = mapping[-1] if mapping else {}
    return {
        "rate_mb": rate_mb, "seconds": round(elapsed, 1), "lines": lines, "markers": n,
        "mb_per_s": round(written / elapsed / 1e6, 2),
        "follow_p50_ms": round(percentile(lat, 50), 1), "follow_p99_ms": round(percentile(lat, 99), 1),
        "follow_max_ms": round(max(lat) if lat else 0, 1), "markers_seen": len(lat),
        "status_p50_ms": last.get("latency_p50_ms"), "status_p99_ms": last.get("latency_p99_ms"),
        "backpressured": any(s.get("backpressured") for s in statuses),
        "rss_10s_mib": round((rss_10s or 0) / 1024, 1), "rss_end_mib": round(rss_end / 1024, 1),
        "exact": exact, "exit": code,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(here, "..", "build", "bin"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rates", default="1,10", help="MB/s, comma-separated")
    parser.add_argument("--line", type=int, default=100, help="bytes per line")
    args = parser.parse_args()
    if not os.access(os.path.join(args.bin, "zmr"), os.X_OK):
        sys.exit(f"latency.py: no zmr in {args.bin}: build first (./dev.sh demo)")
    results = []
    with tempfile.TemporaryDirectory(prefix="zmr-latency-") as workdir:
        for rate in args.rates.split(","):
            r = run(args.bin, float(rate), args.seconds, args.line, workdir)
            results.append(r)
            print(json.dumps(r), file=sys.stderr)
    print("| rate | sustained | lines | follow p50 | follow p99 | follow max | status p50 | "
          "status p99 | backpressured | RSS at 10 s | RSS at end | exact |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rate_mb']:g} MB/s | {r['mb_per_s']} MB/s | {r['lines']} | "
              f"{r['follow_p50_ms']} ms | {r['follow_p99_ms']} ms | {r['follow_max_ms']} ms | "
              f"{r['status_p50_ms']} ms | {r['status_p99_ms']} ms | {r['backpressured']} | "
              f"{r['rss_10s_mib']} MiB | {r['rss_end_mib']} MiB | {r['exact']} |")
    sys.exit(0 if all(r["exact"] for r in results) else 1)


if __name__ == "__main__":
    main()
