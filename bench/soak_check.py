#!/usr/bin/env python3
"""The checks and the summary of bench/soak.sh (issue 17 item 5), from the
files the soak left in its output DIR (see soak.sh and soak_producer.py):

- totals: result.tsv equals the reference, counted here from the
  producers' logs and the text pool (Python's split on ASCII whitespace,
  independent of zmr): every ingest batch acknowledged, and of each line-TCP
  connection the lines it wrote, all of them when it ended cleanly, else
  the first K where K is the count of the connection's tag in the result
  (a ventilator's kill -9 loses what was in flight on --listen, and only
  that: checked to be a prefix, since the totals must then match);
- windows: the window files summed, plus the words of late.tsv's records,
  equal the totals; with event time, each window file equals the words of
  the lines whose time is in it, less the late records late.tsv lists;
- written once: the bytes of each window file first seen are its bytes at
  the end, none went missing;
- RSS (summed over the roles) and disk (state dir, journal, spool, ingest
  log) at the end within 10% of at 5 min (a run under 10 min: of at half
  its time), each the median of the samples over the 1/30 of the time (at
  least 30 s) before the mark;
- faults >= 5 a minute (150 in 30 min), mappers added 2 and removed 1,
  producers >= 5 MB/s combined, every role and producer ended cleanly;
- latency (a figure): probes from write to first TOTALS, all of them,
  without those sent within 2 s after a fault, and without those in flight
  at a fault too.
Prints the markdown table; exit 0 if every check holds, 1 if not.
usage: soak_check.py DIR --minutes N --event-time none|epoch|rfc3339 --window-ms MS"""
import argparse
import collections
import glob
import hashlib
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak_producer import POOL, batch_lines, time_token  # noqa: E402


def read_lines(path):
    try:
        with open(path) as f:
            return [line.split() for line in f if line.strip()]
    except OSError:
        return []


def words_of(text):
    return text.encode().split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--minutes", type=int, required=True)
    ap.add_argument("--event-time", default="none")
    ap.add_argument("--window-ms", type=int, default=10000)
    a = ap.parse_args()
    d = a.dir
    evt = a.event_time != "none"
    fmt = a.event_time if evt else "epoch"
    W = a.window_ms
    T = a.minutes * 60
    rows = []                        # (figure, value, check: None / True / False)

    def row(name, value, ok=None):
        rows.append((name, value, ok))

    pool_words = [collections.Counter(b.encode().split()) for b in POOL]

    # --- the reference -------------------------------------------------
    ref = collections.Counter()
    win = collections.defaultdict(collections.Counter)   # window start ms -> words
    uses = collections.Counter()                         # pool index -> lines (totals)
    wuses = collections.defaultdict(collections.Counter)  # window -> pool index -> lines
    sent_bytes = 0
    result = {}
    with open(os.path.join(d, "result.tsv"), "rb") if os.path.exists(
            os.path.join(d, "result.tsv")) else open(os.devnull, "rb") as f:
        for line in f:
            w, _, c = line.rstrip(b"\n").rpartition(b"\t")
            result[w] = int(c)

    def add_line(kind, t, text):
        """One line's words into the totals and (event time, on time) its window."""
        ws = words_of(text)
        if evt and kind != "none":
            ws = ws[1:]                                  # the time token is no word
        for w in ws:
            ref[w] += 1
        if evt and t is not None:
            s = t * 1000 // W * W
            for w in ws:
                win[s][w] += 1

    def add_batch(ts, start, n, extra, tag, upto=None):
        """A whole batch fast (pool counts times uses), or its first upto lines."""
        if upto is not None and upto < n + (2 if extra else 0):
            for kind, t, text in batch_lines(ts, start, n, extra, tag, fmt)[:upto]:
                add_line(kind, t, text)
            return
        tok = time_token(ts, fmt).encode()
        for i in range(n):
            uses[(start + i) % len(POOL)] += 1
        ref[tag.encode()] += n
        if not evt:
            ref[tok] += n
        else:
            s = ts * 1000 // W * W
            for i in range(n):
                wuses[s][(start + i) % len(POOL)] += 1
            win[s][tag.encode()] += n
        if extra:
            for kind, t, text in batch_lines(ts, start, n, extra, tag, fmt)[n:]:
                add_line(kind, t, text)

    producers_clean = True
    resends = 0
    lost_lines = 0
    tcp_conns = 0
    tcp_cut = 0
    for log in sorted(glob.glob(os.path.join(d, "logs", "*.log"))):
        name = os.path.basename(log)[:-4]
        recs = read_lines(log)
        if not recs or recs[-1][0] != "E":
            producers_clean = False
        if name.startswith("ingest"):
            pid = name[len("ingest"):]
            for r in recs:
                if r[0] == "R":
                    resends += int(r[1])
                if r[0] == "I":
                    add_batch(int(r[2]), int(r[3]), int(r[4]), int(r[5]), "ig" + pid)
                    sent_bytes += int(r[6])
            continue
        # line TCP (and the probe): per connection, its batches in order
        kind = "pc" if name == "probe" else "tc"
        pid = "9" if name == "probe" else name[len("tcp"):]
        conns = collections.OrderedDict()
        broke = set()
        conn = None
        for r in recs:
            if r[0] == "C":
                conn = int(r[1])
                conns[conn] = []
            elif r[0] == "S":
                conns[conn].append(r[1:])
                sent_bytes += int(r[5])
            elif r[0] == "X":
                broke.add(int(r[1]))
        for conn, batches in conns.items():
            tcp_conns += 1
            tag = "%s%sx%d" % (kind, pid, conn)
            total = sum(int(b[2]) + (2 if int(b[3]) else 0) for b in batches)
            counted = result.get(tag.encode(), 0)
            clean = conn not in broke and conn == next(reversed(conns))
            if counted > total or (clean and recs[-1][0] == "E" and counted != total):
                row("connection %s: lines counted / written" % tag, "%d / %d" % (counted, total),
                    False)
            if counted < total:
                tcp_cut += 1
                lost_lines += total - counted
            left = counted
            for b in batches:
                if left <= 0:
                    break
                ts = int(b[0])
                if b[1].startswith("P"):                 # a probe line
                    add_line("on", ts, "%s %s p%sn%s\n" % (time_token(ts, fmt), tag, pid, b[1][1:]))
                    left -= 1
                    continue
                lines = int(b[2]) + (2 if int(b[3]) else 0)
                add_batch(ts, int(b[1]), int(b[2]), int(b[3]), tag,
                          upto=left if left < lines else None)
                left -= lines
    for i, u in uses.items():
        for w, c in pool_words[i].items():
            ref[w] += c * u
    for s, us in wuses.items():
        for i, u in us.items():
            for w, c in pool_words[i].items():
                win[s][w] += c * u

    exact = bool(result) and result == dict(ref)
    why = ""
    if not exact:
        missing = sum(1 for w in ref if w not in result)
        extra = sum(1 for w in result if w not in ref)
        differ = sum(1 for w in ref if w in result and result[w] != ref[w])
        why = " (%d words missing, %d extra, %d differ)" % (missing, extra, differ)
    row("totals exact against the reference", "%s: %d words, %d distinct%s" % (
        "yes" if exact else "NO", sum(ref.values()), len(ref), why), exact)
    row("ingest batches sent again (no answer within 1 s)", resends)
    row("line-TCP connections / cut by a ventilator kill / lines lost with them",
        "%d / %d / %d" % (tcp_conns, tcp_cut, lost_lines))

    # --- windows ---------------------------------------------------------
    wsum = collections.Counter()
    files = {}
    for path in glob.glob(os.path.join(d, "windows", "window-*.tsv")):
        base = os.path.basename(path)
        c = collections.Counter()
        with open(path, "rb") as f:
            data = f.read()
        for line in data.splitlines():
            w, _, n = line.rpartition(b"\t")
            c[w] += int(n)
        files[base] = (hashlib.md5(data).hexdigest(), c)
        wsum.update(c)
    late = collections.Counter()
    late_by = collections.defaultdict(collections.Counter)
    late_n = collections.Counter()
    lpath = os.path.join(d, "windows", "late.tsv")
    if os.path.exists(lpath):
        with open(lpath, "rb") as f:
            for line in f:
                parts = line.rstrip(b"\n").split(b"\t", 3)
                if len(parts) < 4:
                    late_n[b"malformed"] += 1
                    continue
                _, reason, t, text = parts
                late_n[reason] += 1
                ws = text.split()
                if reason.startswith(b"late"):
                    ws = ws[1:]
                    s = int(t) // W * W
                    late_by[s].update(ws)
                late.update(ws)
    total_words = sum(result.values())
    wl = wsum + late
    ok = bool(files) and dict(wl) == result
    row("window files / late.tsv records (late, no-time)", "%d / %d (%d, %d)" % (
        len([b for b in files if b != "window-end.tsv"]), sum(late_n.values()),
        late_n[b"late"], late_n[b"no-time"]))
    row("windows summed + late records = totals", "%s: %d + %d words, totals %d" % (
        "yes" if ok else "NO", sum(wsum.values()), sum(late.values()), total_words), ok)
    if evt:
        bad = []
        for s in sorted(set(win) | {int(b[7:-4]) for b in files
                                    if b[7:-4].isdigit()}):
            want = win[s] - late_by[s]
            want = collections.Counter({w: c for w, c in want.items() if c})
            got = files.get("window-%d.tsv" % s, (None, collections.Counter()))[1]
            if want != got:
                bad.append(s)
        row("each window file = its lines' words less its late records",
            "yes" if not bad else "NO: %d windows differ (first %s)" % (len(bad), bad[:3]),
            not bad)

    # --- written once ----------------------------------------------------
    seen = read_lines(os.path.join(d, "seen.tsv"))
    changed = [n for m, n in seen if n in files and files[n][0] != m]
    gone = [n for m, n in seen if n not in files]
    once = not changed and not gone
    row("every window file written once (first bytes seen = last)",
        "yes (%d seen while running)" % len(seen) if once
        else "NO: %d rewritten, %d missing" % (len(changed), len(gone)), once)

    # --- faults, mappers, roles, producers ---------------------------------
    faults = [float(r[0]) for r in read_lines(os.path.join(d, "faults.tsv"))]
    by_role = collections.Counter(r[1].rstrip("0123456789") for r in
                                  read_lines(os.path.join(d, "faults.tsv")))
    need = 5 * a.minutes
    row("faults (kill -9)", "%d (%s); at least %d" % (len(faults), ", ".join(
        "%s %d" % kv for kv in sorted(by_role.items())), need), len(faults) >= need)
    ev = read_lines(os.path.join(d, "events.tsv"))
    t0 = float(ev[0][0]) if ev else 0
    added = sum(1 for r in ev if r[1] == "added")
    removed = sum(1 for r in ev if r[1] == "removed")
    row("mappers added / removed", "%d / %d" % (added, removed), added == 2 and removed == 1)
    rcs = dict(r for r in read_lines(os.path.join(d, "roles.rc")))
    roles_ok = all(rcs.get(r) == "0" for r in ("ventilator", "reducer0", "reducer1", "sink"))
    row("roles' exit at the end", ", ".join("%s %s" % kv for kv in sorted(rcs.items())), roles_ok)
    prc = read_lines(os.path.join(d, "producers.rc"))
    pok = producers_clean and prc and all(r[0] == "0" for r in prc)
    row("producers stopped cleanly", "yes" if pok else "NO: %s" % prc, bool(pok))
    chaos = [float(r[0]) for r in ev if r[1] == "chaos"]
    span = (chaos[0] - t0) if chaos else T
    mbs = sent_bytes / span / 1e6 if span > 0 else 0
    row("producers' rate (acked ingest + line TCP written)", "%.2f MB/s (%.0f MB in %.0f s)" % (
        mbs, sent_bytes / 1e6, span), mbs >= 5)

    # --- RSS and disk ----------------------------------------------------
    def at(samples, mark, col):
        lo = t0 + mark - max(T / 30, 30)
        vals = [r[col] for r in samples if lo <= r[0] <= t0 + mark]
        return statistics.median(vals) if vals else 0

    # At 5 min; a run shorter than 10 min compares its middle with its end
    # (5/30 of 3 min, 30 s, is still the warm-up: buffers, vocabulary).
    early_mark = min(300, T / 2)
    rss = [(float(r[0]), int(r[1])) for r in read_lines(os.path.join(d, "rss.tsv"))]
    disk = [(float(r[0]), int(r[1]) + int(r[2])) for r in read_lines(os.path.join(d, "disk.tsv"))]
    for name, samples, unit in (("RSS, summed over the roles", rss, "MiB"),
                                ("disk (state, journal, spool, ingest log)", disk, "MiB")):
        early, late_v = at(samples, early_mark, 1), at(samples, T, 1)
        ok = early > 0 and abs(late_v - early) <= 0.10 * early
        peak = max((r[1] for r in samples), default=0)
        row("%s at %g min -> end (max)" % (name, early_mark / 60),
            "%.1f -> %.1f %s (%+.1f%%; max %.1f)" % (
                early / 1024, late_v / 1024, unit,
                100.0 * (late_v - early) / early if early else 0, peak / 1024), ok)

    roles = collections.defaultdict(list)
    for r in read_lines(os.path.join(d, "rss.tsv")):
        for f in r[2:]:
            k, _, v = f.partition("=")
            roles[k].append((float(r[0]), int(v)))
    row("RSS by role, MiB, at %g min -> end" % (early_mark / 60), ", ".join(
        "%s %.1f -> %.1f" % (k, at(v, early_mark, 1) / 1024, at(v, T, 1) / 1024)
        for k, v in sorted(roles.items())))

    # --- latency ---------------------------------------------------------
    sent, seen_at = {}, {}
    for r in read_lines(os.path.join(d, "logs", "probe.log")):
        if r[0] == "P":
            sent[int(r[1])] = float(r[2])
        elif r[0] == "L":
            seen_at.setdefault(int(r[1]), float(r[2]))

    def pct(vals, p):
        if not vals:
            return 0
        vals = sorted(vals)
        return vals[max(1, -(-len(vals) * p // 100)) - 1]

    def lat(keep):
        ms = [(seen_at[n] - sent[n]) * 1000 for n in sent if n in seen_at and keep(n)]
        return "p50 %.1f / p99 %.1f / max %.1f ms (%d probes)" % (
            pct(ms, 50), pct(ms, 99), max(ms) if ms else 0, len(ms))

    faults.sort()
    import bisect

    def after_fault(t, s=2.0):
        i = bisect.bisect_right(faults, t)
        return i > 0 and t - faults[i - 1] <= s

    def in_flight(n):
        i = bisect.bisect_right(faults, sent[n])
        return i < len(faults) and faults[i] <= seen_at.get(n, float("inf"))

    row("latency, probe written -> first TOTALS, all",
        lat(lambda n: True))
    row("latency, without probes sent within 2 s after a fault",
        lat(lambda n: not after_fault(sent[n])))
    row("latency, without those and those in flight at a fault",
        lat(lambda n: not after_fault(sent[n]) and not in_flight(n)))
    row("latency, without probes sent within 5 s after a fault",
        lat(lambda n: not after_fault(sent[n], 5.0)))
    unseen = [n for n in sent if n not in seen_at]
    row("probes never seen in a TOTALS (lost with a cut connection, or past the end)",
        "%d of %d" % (len(unseen), len(sent)))

    checks = [r for r in rows if r[2] is not None]
    failed = [r for r in checks if not r[2]]
    print("| figure | value | check |")
    print("|---|---|---|")
    for name, value, ok in rows:
        print("| %s | %s | %s |" % (name, value, "" if ok is None else ("ok" if ok else "FAILED")))
    print()
    print("soak: %d checks, %d failed%s" % (len(checks), len(failed),
          ": " + "; ".join(r[0] for r in failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
