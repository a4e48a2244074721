#!/usr/bin/env python3
"""An independent reference for event time (issue 17 item 3), written from
lib/zmr_evtime.h's and the issue's words, not from our C: python's datetime
formats the times, a regular expression reads them back, and the lateness
rule is the issue's (a line is late when its time is below the largest time
of the lines before it, minus the lateness).

    evtime_reference.py parse SEED N
        N random lines per format: "FORMAT HEX MS|- TOK TOKLEN" each
    evtime_reference.py scan SEED FORMAT
        "S LATENESS EVERY", then chunks "C HEX", then per record
        "R CHUNK INDEX KIND MS PANE", and "M CHUNK MAX|-" after each chunk
    evtime_reference.py evmap CHUNKFILE CHUNK EVENT_MAX|- LATENESS WINDOW EVERY R MAX_WORD
        (epoch times) the pairs of each reducer's BATCH, one a line,
        "P PART KIND PANE KEYHEX VALUE", sorted, then
        "S WORDS TOO_LONG PAIRS"
"""
import datetime as D
import decimal
import hashlib
import random
import re
import sys

UTC = D.timezone.utc
EPOCH = D.datetime(1970, 1, 1, tzinfo=UTC)
MAX_MS = 253402300799999
EPOCH_F, RFC3339_F, CLF_F = 1, 2, 3
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
          "Nov", "Dec"]
BLANK = b" \t\n\v\f\r"
SIDE_LINE_MAX = 65536


def ms_of(dt):
    return (dt - EPOCH) // D.timedelta(milliseconds=1)


def rand_fields(r):
    """y, mo, d, h, mi, s, offset minutes: real calendar values (some near
    the ends of the range, where an offset takes them out of it)."""
    k = r.random()
    y = 1970 if k < 0.08 else 9999 if k < 0.16 else 1969 if k < 0.2 else r.randint(1970, 9999)
    mo = r.randint(1, 12)
    if k < 0.2:
        mo = 1 if y == 1970 else 12
    days = (D.date(y + (mo == 12), mo % 12 + 1, 1) - D.date(y, mo, 1)).days if y < 9999 or mo < 12 else 31
    d = r.randint(1, days) if k >= 0.2 else (1 if mo == 1 else 31)
    off = r.choice([0, 0, r.randint(-(23 * 60 + 59), 23 * 60 + 59)])
    return y, mo, d, r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), off


def aware(y, mo, d, h, mi, s, off):
    return D.datetime(y, mo, d, h, mi, s, tzinfo=D.timezone(D.timedelta(minutes=off)))


def offset_text(off, colon):
    sign = "-" if off < 0 else "+"
    a = abs(off)
    return "%s%02d%s%02d" % (sign, a // 60, ":" if colon else "", a % 60)


def words(r):
    pool = ["GET", "/index.html", "200", "x", "a-b", "\u00e9t\u00e9", "HTTP/1.1", "-"]
    return " ".join(r.choice(pool) for _ in range(r.randint(0, 4)))


def blanks(r):
    return "".join(r.choice(" \t") for _ in range(r.randint(0, 3)))


def in_range(ms):
    return ms if 0 <= ms <= MAX_MS else None


def parse_case(r, fmt):
    """(line bytes, expected ms or None, tok, toklen)"""
    if fmt == EPOCH_F:
        secs = r.choice([r.randint(0, 2000000000), r.randint(0, 10 ** 12 - 1),
                         253402300799, 253402300800, 0])
        text = str(secs)
        if r.random() < 0.7:
            text += "." + "".join(r.choice("0123456789") for _ in range(r.randint(1, 9)))
        ms = int(decimal.Decimal(text) * 1000)
        pre, post = blanks(r), words(r)
        line = pre + text + (" " + post if post else "")
        ms = in_range(ms)
        return line.encode(), ms, len(pre) if ms is not None else 0, len(text) if ms is not None else 0
    y, mo, d, h, mi, s, off = rand_fields(r)
    dt = aware(y, mo, d, h, mi, s, off)
    ms = ms_of(dt)
    if fmt == RFC3339_F:
        frac = ""
        if r.random() < 0.5:
            frac = "." + "".join(r.choice("0123456789") for _ in range(r.randint(1, 9)))
            ms += int(frac[1:4].ljust(3, "0"))
        zone = offset_text(off, True)
        if off == 0 and r.random() < 0.5:
            zone = r.choice("Zz")
        text = "%04d-%02d-%02d%s%02d:%02d:%02d%s%s" % (y, mo, d, r.choice("Tt"), h, mi, s, frac, zone)
        pre, post = blanks(r), words(r)
        line = pre + text + (" " + post if post else "")
        ms = in_range(ms)
        return line.encode(), ms, len(pre) if ms is not None else 0, len(text) if ms is not None else 0
    month = r.choice([str.upper, str.lower, str]) (MONTHS[mo - 1])
    text = "[%02d/%s/%04d:%02d:%02d:%02d %s]" % (d, month, y, h, mi, s, offset_text(off, False))
    pre, post = words(r), words(r)
    prefix = (pre + " " if pre else "") + r.choice(["", "-", "x"])
    line = prefix + text + r.choice([" ", ""]) + post
    ms = in_range(ms)
    tok = len(prefix.encode())
    return line.encode(), ms, tok if ms is not None else 0, 28 if ms is not None else 0


def cmd_parse(seed, n):
    r = random.Random(seed)
    for fmt in (EPOCH_F, RFC3339_F, CLF_F):
        for _ in range(n):
            line, ms, tok, toklen = parse_case(r, fmt)
            print(fmt, line.hex(), "-" if ms is None else ms, tok, toklen)


def time_text(fmt, t):
    """A line's time token for t ms (clf: whole seconds)."""
    dt = EPOCH + D.timedelta(milliseconds=t)
    if fmt == EPOCH_F:
        return "%d.%03d" % (t // 1000, t % 1000)
    if fmt == RFC3339_F:
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (t % 1000)
    return "[" + dt.strftime("%d/") + MONTHS[dt.month - 1] + dt.strftime("/%Y:%H:%M:%S +0000") + "]"


def is_blank(line):
    return all(c in BLANK for c in line)


def cmd_scan(seed, fmt):
    r = random.Random(seed)
    lateness = r.choice([0, 1000, 5000, 30000])
    every = r.choice([1000, 5000, 60000])
    print("S", lateness, every)
    t = r.randint(1500000000000, 1600000000000)
    if fmt == CLF_F:
        t -= t % 1000
    chunks = []
    for _ in range(r.randint(20, 40)):
        lines = []
        for _ in range(r.randint(0, 25)):
            k = r.random()
            if k < 0.1:
                lines.append(r.choice(["", " ", "\t \r", "\v\f"]))
            elif k < 0.2:
                lines.append(words(r) or "word")
            elif k < 0.25:
                lines.append(r.choice(["123abc x", "2020-13-01T00:00:00Z y",
                                       "[31/Apr/2020:00:00:00 +0000] z"]))
            else:
                #  Mostly in order; some lines from a little or a lot before
                t += r.choice([0, 1, 10, 250, 1000, 4000])
                lt = t - r.choice([0] * 8 + [999, 1000, 1001, 3000, 5000, 8000, 40000])
                if fmt == CLF_F:
                    t -= t % 1000
                    lt -= lt % 1000
                line = time_text(fmt, lt)
                w = words(r)
                if fmt == CLF_F:
                    line = (w + " " if w else "") + line + " " + words(r)
                else:
                    line = blanks(r) + line + (" " + w if w else "")
                lines.append(line)
        text = "\n".join(lines)
        if lines and r.random() < 0.8:
            text += "\n"
        chunks.append(text.encode())
    for c in chunks:
        print("C", c.hex())
    M = None
    for ci, c in enumerate(chunks):
        parts = c.split(b"\n")
        if c.endswith(b"\n"):
            parts.pop()
        for index, line in enumerate(parts):
            if is_blank(line):
                continue
            tm = reference_time(fmt, line)
            if tm is None:
                print("R", ci, index, 2, 0, 0)
                continue
            ms = tm[0]
            late = M is not None and ms < M - lateness
            print("R", ci, index, 1 if late else 0, ms, 0 if late else ms // every * every)
            M = ms if M is None else max(M, ms)
        print("M", ci, "-" if M is None else M)


EPOCH_RE = re.compile(rb"^(\d+)(?:\.(\d{1,9}))?$")
RFC_RE = re.compile(rb"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))$")
CLF_RE = re.compile(rb"^\[(\d\d)/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\]")


def reference_time(fmt, line):
    """(ms, tok, toklen) or None, by regular expressions and datetime."""
    try:
        if fmt == CLF_F:
            at = line.find(b"[")
            if at < 0:
                return None
            m = CLF_RE.match(line[at:])
            if not m:
                return None
            mo = [x.lower() for x in MONTHS].index(m.group(2).decode().lower()) + 1
            off = (int(m.group(8)) * 60 + int(m.group(9))) * (-1 if m.group(7) == b"-" else 1)
            dt = aware(int(m.group(3)), mo, int(m.group(1)), int(m.group(4)), int(m.group(5)),
                       int(m.group(6)), off)
            ms = in_range(ms_of(dt))
            return None if ms is None else (ms, at, 28)
        i = 0
        while i < len(line) and line[i] in BLANK:
            i += 1
        j = i
        while j < len(line) and line[j] not in BLANK:
            j += 1
        field = line[i:j]
        if fmt == EPOCH_F:
            m = EPOCH_RE.match(field)
            if not m:
                return None
            ms = in_range(int(decimal.Decimal(field.decode()) * 1000))
        else:
            m = RFC_RE.match(field)
            if not m:
                return None
            off = 0 if m.group(8) else (int(m.group(10)) * 60 + int(m.group(11))) * \
                (-1 if m.group(9) == b"-" else 1)
            dt = aware(*[int(m.group(k)) for k in range(1, 7)], off)
            ms = ms_of(dt) + int((m.group(7) or b"0")[:3].ljust(3, b"0"))
            ms = in_range(ms)
        return None if ms is None else (ms, i, j - i)
    except (ValueError, OverflowError):
        return None


def partition(key, reducers):
    return int.from_bytes(hashlib.sha1(key).digest(), "big") % reducers


def bucket(M, lateness, window, every):
    """The smallest multiple s of every with s + window > M - lateness."""
    if M is None:
        return 0
    s = -(-(M - lateness - window + 1) // every) * every
    return max(0, s)


def cmd_evmap(path, chunk, event_max, lateness, window, every, reducers, max_word):
    data = open(path, "rb").read()
    M = None if event_max == "-" else int(event_max)
    b = bucket(M, lateness, window, every)
    runs = {}       # (part, kind, pane) -> {key: value}
    stats = [0, 0]
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()

    def add(kind, pane, key):
        d = runs.setdefault((partition(key, reducers), kind, pane), {})
        d[key] = d.get(key, 0) + 1

    for index, line in enumerate(parts):
        if is_blank(line):
            continue
        tm = reference_time(EPOCH_F, line)
        if tm is None:
            kind, ms, rest = "N", 0, line
        else:
            ms, tok, toklen = tm
            kind = "L" if M is not None and ms < M - lateness else "T"
            rest = line[:tok] + b" " + line[tok + toklen:]
            M = ms if M is None else max(M, ms)
        for w in re.split(rb"[ \t\n\v\f\r]+", rest):
            if not w:
                continue
            if max_word and len(w) > max_word:
                stats[1] += 1
                continue
            stats[0] += 1
            add(0 if kind == "T" else 1, ms // every * every if kind == "T" else 0, w)
        if kind != "T":
            cut = len(line) > SIDE_LINE_MAX
            key = (b"\n" + b.to_bytes(8, "big") + chunk.to_bytes(8, "big")
                   + index.to_bytes(4, "big") + (kind.lower() if cut else kind).encode()
                   + (ms if kind == "L" else 0).to_bytes(8, "big") + line[:SIDE_LINE_MAX])
            add(2, 0, key)
    out = []
    for (p, kind, pane), d in runs.items():
        for key, value in d.items():
            out.append("P %d %d %d %s %d" % (p, kind, pane, key.hex(), value))
    for line in sorted(out):
        print(line)
    print("S", stats[0], stats[1], len(out))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "parse":
        cmd_parse(int(a[1]), int(a[2]))
    elif a[0] == "scan":
        cmd_scan(int(a[1]), int(a[2]))
    elif a[0] == "evmap":
        cmd_evmap(a[1], int(a[2]), a[3], *[int(x) for x in a[4:]])
