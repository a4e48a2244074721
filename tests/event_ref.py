#!/usr/bin/env python3
"""The independent reference of event-time windows (issue 17 items 3, 4).

Written from the issue's rules and the README's formats alone, with
python's datetime for the calendar; it reads none of zmr's C. Three parts:

  gen    makes a seeded input in one format (epoch, rfc3339, clf): lines
         with words from a small vocabulary, times mostly increasing with
         out-of-order jitter, far-late lines, lines right at the watermark
         and at window edges, lines with no time or a broken one (a bad
         month, Feb 30, a missing ']', junk after the field, a year past
         9999), blank lines, fractions and offsets, a clf line whose words
         sit on both sides of the brackets.
  check  computes the reference of an input for a window W, step E and
         lateness L, and compares a job's outputs with it: the result, the
         window files (exactly the windows holding an on-time line), the
         side records of DIR/late.tsv (reason, time, line, in input order),
         window-end.tsv; with tumbling windows also that the windows summed
         plus the words of late.tsv's lines are the result; optionally the
         last --follow line of each word, and that each window file first
         seen during the run (md5) is unchanged at the end.
  --self-check
         checks the reference itself on hand-made cases whose answers were
         worked out by hand, and the generator against the parser.

The rules (issue 17, item 3; lib/zmr_evtime.h's header, the contract):
  - records are lines; a line without any word is no record;
  - a line's time: epoch = its first field (after leading blanks), seconds
    with an optional fraction cut to the millisecond; rfc3339 = its first
    field, YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), 'T'/'Z' of any
    case; clf = the line's first '[' up to its ']', DD/Mon/YYYY:HH:MM:SS
    +HHMM, the month in English of any case. A field that does not parse
    whole is no time; so is a time before 1970 or past 9999. The time's
    text is not a word (clf: the words either side of the brackets stay
    apart);
  - M = the largest time of the lines before, in input order; a line is
    late iff M is known and t < M - L; otherwise on time, counted in every
    window [s, s + W), s a multiple of E, that holds t;
  - late lines and lines without time go to late.tsv; the result counts
    every record's words.
"""
import argparse
import collections
import datetime
import hashlib
import json
import os
import random
import re
import sys

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun',
          'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
WS = b' \t\n\r\x0b\x0c'


def words_of(b):
    """The word count's words: split at ASCII white space."""
    return b.split()


def _ms_of(dt):
    """ms since the epoch of an aware datetime; None before 1970."""
    delta = dt - EPOCH
    ms = (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return ms if ms >= 0 else None


def _frac_ms(frac):
    """A fraction's digits, cut (not rounded) to the millisecond."""
    return int((frac + b'000')[:3]) if frac else 0


RFC3339 = re.compile(rb'(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})'
                     rb'(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})\Z')
CLF = re.compile(rb'(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) '
                 rb'([+-])(\d{2})(\d{2})\Z')
EPOCH_RE = re.compile(rb'(\d+)(?:\.(\d+))?\Z')


def _first_field(line):
    """(start, end) of the line's first field, after leading blanks."""
    i = 0
    while i < len(line) and line[i] in WS:
        i += 1
    j = i
    while j < len(line) and line[j] not in WS:
        j += 1
    return i, j


def parse(fmt, line):
    """(ms, tok_start, tok_end) of a line's time, or None: no time."""
    try:
        if fmt == 'epoch':
            i, j = _first_field(line)
            m = EPOCH_RE.match(line[i:j])
            if not m:
                return None
            dt = EPOCH + datetime.timedelta(seconds=int(m.group(1)))
            ms = _ms_of(dt)
            return (ms + _frac_ms(m.group(2)), i, j)
        if fmt == 'rfc3339':
            i, j = _first_field(line)
            m = RFC3339.match(line[i:j])
            if not m:
                return None
            y, mo, d, hh, mi, ss = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
            off = m.group(8)
            if off in (b'Z', b'z'):
                tz = UTC
            else:
                sign = -1 if off[:1] == b'-' else 1
                h, mm = int(off[1:3]), int(off[4:6])
                if h > 23 or mm > 59:
                    return None
                tz = datetime.timezone(sign * datetime.timedelta(hours=h, minutes=mm))
            dt = datetime.datetime(y, mo, d, hh, mi, ss, tzinfo=tz)
            ms = _ms_of(dt)
            if ms is None:
                return None
            return (ms + _frac_ms(m.group(7)), i, j)
        if fmt == 'clf':
            i = line.find(b'[')
            if i < 0:
                return None
            j = line.find(b']', i)
            if j < 0:
                return None
            m = CLF.match(line[i + 1:j])
            if not m:
                return None
            mon = m.group(2).lower().decode()
            if mon not in MONTHS:
                return None
            d, y, hh, mi, ss = (int(g) for g in m.group(1, 3, 4, 5, 6))
            h, mm = int(m.group(8)), int(m.group(9))
            if h > 23 or mm > 59:
                return None
            sign = -1 if m.group(7) == b'-' else 1
            tz = datetime.timezone(sign * datetime.timedelta(hours=h, minutes=mm))
            dt = datetime.datetime(y, MONTHS.index(mon) + 1, d, hh, mi, ss, tzinfo=tz)
            ms = _ms_of(dt)
            return None if ms is None else (ms, i, j + 1)
    except (ValueError, OverflowError):
        # datetime refuses the day (Feb 30), the month, the hour, a year
        # past 9999 (and the epoch's seconds past it): no time
        return None
    raise ValueError('no such format: %r' % fmt)


def record_words(fmt, line, parsed=None):
    """A record's words: the line's, its time token taken out."""
    p = parse(fmt, line) if parsed is None else parsed
    if p is None:
        return words_of(line)
    _, i, j = p
    return words_of(line[:i]) + words_of(line[j:])


def lines_of(data):
    lines = data.split(b'\n')
    if data.endswith(b'\n') or not data:
        lines.pop()
    return lines


def reference(data, fmt, window, every, lateness):
    """totals, {window start: Counter}, [(reason, time, line)] in order."""
    totals = collections.Counter()
    windows = collections.defaultdict(collections.Counter)
    side = []
    top = None
    for line in lines_of(data):
        if not words_of(line):
            continue                      # blank: no record
        p = parse(fmt, line)
        words = record_words(fmt, line, p)
        totals.update(words)
        if p is None:
            side.append((b'no-time', b'-', line))
            continue
        t = p[0]
        if top is not None and t < top - lateness:
            side.append((b'late', str(t).encode(), line))
            continue
        top = t if top is None else max(top, t)
        s = t // every * every            # every window [s, s + W) holding t
        while s >= 0 and s + window > t:
            windows[s].update(words)
            s -= every
    return totals, windows, side


def fmt_counts(counts):
    """word<TAB>count lines: the largest count first, ties in byte order."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return b''.join(w + b'\t' + str(n).encode() + b'\n' for w, n in items)


def read_counts(path):
    c = collections.Counter()
    with open(path, 'rb') as f:
        for line in f:
            w, _, n = line.rstrip(b'\n').rpartition(b'\t')
            c[w] += int(n)
    return c


# --- the generator -------------------------------------------------------------

VOCAB = [b'alpha', b'bravo', b'charlie', b'delta', b'echo', b'foxtrot', b'golf',
         b'hotel', b'india', b'juliet', b'kilo', b'lima', b'mike', b'november',
         b'oscar', b'papa', b'quebec', b'romeo', b'sierra', b'tango', b'uniform',
         b'victor', b'whiskey', b'xray', b'yankee', b'zulu', b'GET', b'200', b'-']
BASE_MS = 1796637600000                   # 2026-12-07T10:00:00Z
OFFSETS = [0, 60, -330, 345, -480, 600, -60]


def _frac_text(rng, ms):
    """'.123', '.12', '.1230', '.1239' (cut to .123)... for ms; '' or a
    fraction of zeros for 0."""
    if ms == 0:
        return rng.choice([b'', b'', b'.0', b'.000'])
    f = b'%03d' % ms
    r = rng.random()
    if r < 0.3:
        f = f.rstrip(b'0')
    elif r < 0.6:
        f += str(rng.randint(0, 999)).encode()[:rng.randint(1, 3)]
    return b'.' + f


def render(fmt, rng, ms, words):
    """A line whose time is ms, with words; clf: ms a whole second."""
    sec, frac = divmod(ms, 1000)
    text = b' '.join(words)
    if fmt == 'epoch':
        lead = b'  ' if rng.random() < 0.05 else b''
        return lead + str(sec).encode() + _frac_text(rng, frac) + b' ' + text
    off = rng.choice(OFFSETS)
    local = (EPOCH + datetime.timedelta(milliseconds=ms)
             + datetime.timedelta(minutes=off))
    if fmt == 'rfc3339':
        t = rng.choice([b'T', b'T', b't'])
        stamp = local.strftime('%Y-%m-%d').encode() + t + \
            local.strftime('%H:%M:%S').encode() + _frac_text(rng, frac)
        if off == 0:
            stamp += rng.choice([b'Z', b'Z', b'z', b'+00:00', b'-00:00'])
        else:
            a = abs(off)
            stamp += b'%c%02d:%02d' % (b'-'[0] if off < 0 else b'+'[0], a // 60, a % 60)
        return stamp + b' ' + text
    assert frac == 0
    mon = MONTHS[local.month - 1].encode()
    mon = rng.choice([mon.capitalize(), mon.capitalize(), mon, mon.upper()])
    a = abs(off)
    stamp = b'[%02d/%s/%04d:%02d:%02d:%02d %c%02d%02d]' % (
        local.day, mon, local.year, local.hour, local.minute, local.second,
        b'-'[0] if off < 0 else b'+'[0], a // 60, a % 60)
    if rng.random() < 0.05:                # words on both sides, glued
        return words[0] + stamp + b' '.join(words[1:]) + b' tail'
    ip = b'10.0.%d.%d' % (rng.randint(0, 3), rng.randint(1, 9))
    return (ip + b' - - ' + stamp + b' "GET /' + words[0] + b' HTTP/1.1" 200 ' +
            b' '.join(words[1:]))


def broken(fmt, rng, ms, words):
    """A line without a time (its words still count)."""
    text = b' '.join(words)
    sec = ms // 1000
    if fmt == 'epoch':
        return rng.choice([
            b'nothing ' + text,
            str(sec).encode() + b'x ' + text,        # junk in the field
            b'253402300800 ' + text,                 # 10000-01-01: past 9999
            b'-' + str(sec).encode() + b' ' + text,
            b'.5 ' + text,
        ])
    if fmt == 'rfc3339':
        return rng.choice([
            b'2026-13-07T10:00:00Z ' + text,         # month 13
            b'2026-02-30T10:00:00Z ' + text,         # Feb 30
            b'2026-12-07T10:00:00 ' + text,          # no offset
            b'2026-12-07T10:00:00Zjunk ' + text,     # the field not whole
            b'2026-12-07 10:00:00Z ' + text,         # a space for the T
            text,
        ])
    return rng.choice([
        b'10.0.0.1 - - [07/Dez/2026:10:00:00 +0000] "GET /x" ' + text,  # month
        b'10.0.0.1 - - [30/Feb/2026:10:00:00 +0000] ' + text,           # Feb 30
        b'10.0.0.1 - - [07/Dec/2026:10:00:00 +0000 ' + text,            # no ']'
        b'[info] [07/Dec/2026:10:00:00 +0000] ' + text,   # first '[' no time
        text,
    ])


def generate(fmt, seed, count, final_newline=True):
    """(bytes, [(line, intended ms or None)]) of a seeded input."""
    rng = random.Random('%s/%d' % (fmt, seed))
    cur = BASE_MS + rng.randint(0, 9999)
    top = None
    out = []
    while len(out) < count:
        cur += rng.randint(0, 180)
        words = [rng.choice(VOCAB) for _ in range(rng.randint(1, 5))]
        r = rng.random()
        if r < 0.02:
            out.append((rng.choice([b'', b'', b'   ']), None))
            continue
        if r < 0.06:
            out.append((broken(fmt, rng, cur, words), None))
            continue
        if r < 0.08:
            t = cur - rng.randint(15000, 60000)            # far late
        elif r < 0.25:
            t = cur - rng.randint(0, 3500)                 # out of order
        elif r < 0.27 and top is not None:
            t = top - rng.choice([0, 1, 999, 1000, 1001, 2000, 2001])  # at the watermark
        elif r < 0.29:
            cur = (cur // 5000 + 1) * 5000 - rng.choice([0, 1])  # a window's edge
            t = cur
        else:
            t = cur
        if fmt == 'clf':
            t = t // 1000 * 1000
        top = t if top is None else max(top, t)
        out.append((render(fmt, rng, t, words), t))
    data = b'\n'.join(line for line, _ in out)
    if final_newline:
        data += b'\n'
    return data, out


# --- the check -----------------------------------------------------------------

class Checker:
    def __init__(self, label):
        self.label = label
        self.failures = []

    def fail(self, what):
        self.failures.append(what)


def check(args):
    with open(args.input, 'rb') as f:
        data = f.read()
    W, E, L = args.window, args.every, args.lateness
    totals, windows, side = reference(data, args.format, W, E, L)
    c = Checker(args.label)
    fail = c.fail
    # The input exercises what it must, else the check proves little.
    late_n = sum(1 for r in side if r[0] == b'late')
    untimed_n = len(side) - late_n
    if args.min_side and (late_n == 0 or untimed_n == 0):
        fail('the input has %d late and %d untimed lines: it checks too little' %
             (late_n, untimed_n))
    if len(windows) < 2:
        fail('the input has %d windows: it checks too little' % len(windows))

    # The result.
    try:
        with open(args.result, 'rb') as f:
            got = f.read()
        if got != fmt_counts(totals):
            if read_counts(args.result) == totals:
                fail('the result has the right counts in the wrong order')
            else:
                fail('the result differs from the reference (%d words, %d expected)' %
                     (len(got.splitlines()), len(totals)))
    except OSError as e:
        fail('no result: %s' % e)

    # The window files: exactly the windows with an on-time line, each exact.
    d = args.dir
    try:
        names = os.listdir(d)
    except OSError as e:
        names = []
        fail('no window dir: %s' % e)
    got_w = {}
    for n in names:
        m = re.fullmatch(r'window-(\d+)\.tsv', n)
        if m:
            got_w[int(m.group(1))] = os.path.join(d, n)
    missing = sorted(set(windows) - set(got_w))
    extra = sorted(set(got_w) - set(windows))
    if missing:
        fail('%d window files missing, e.g. window-%d.tsv' % (len(missing), missing[0]))
    if extra:
        fail('%d window files too many, e.g. window-%d.tsv' % (len(extra), extra[0]))
    bad = []
    for s in sorted(set(windows) & set(got_w)):
        with open(got_w[s], 'rb') as f:
            body = f.read()
        if body != fmt_counts(windows[s]):
            bad.append(s)
    if bad:
        how = 'the wrong order' if read_counts(got_w[bad[0]]) == windows[bad[0]] else 'other counts'
        fail('%d of %d window files differ from the reference, e.g. window-%d.tsv (%s)' %
             (len(bad), len(windows), bad[0], how))

    # late.tsv: the side records in input order, each once; WINDOW a window
    # written (its file is there) or 'end'.
    late_path = os.path.join(d, 'late.tsv')
    recs = []
    try:
        with open(late_path, 'rb') as f:
            body = f.read()
        if body and not body.endswith(b'\n'):
            fail('late.tsv ends with a torn line')
        for k, line in enumerate(lines_of(body)):
            parts = line.split(b'\t', 3)
            if len(parts) != 4:
                fail('late.tsv line %d has %d fields, not 4' % (k + 1, len(parts)))
                continue
            win, reason, t, text = parts
            if win != b'end':
                if not win.isdigit() or int(win) % E:
                    fail('late.tsv line %d: WINDOW %r is no window start' % (k + 1, win))
                elif int(win) not in got_w:
                    fail('late.tsv line %d: its window %s has no file' % (k + 1, win.decode()))
            recs.append((reason, t, text))
    except OSError as e:
        fail('no late.tsv: %s' % e)
    if recs != side:
        want = collections.Counter(side)
        dup = sum(max(0, n - want[r]) for r, n in collections.Counter(recs).items())
        first = next((k for k in range(min(len(recs), len(side))) if recs[k] != side[k]),
                     min(len(recs), len(side)))
        fail('late.tsv: %d records, %d expected (%d too many); first difference at record %d: '
             'got %r, expected %r' % (len(recs), len(side), dup, first + 1,
                                      recs[first] if first < len(recs) else None,
                                      side[first] if first < len(side) else None))
    end = os.path.join(d, 'window-end.tsv')
    if not os.path.exists(end):
        fail('no window-end.tsv')
    elif os.path.getsize(end):
        fail('window-end.tsv is not empty')

    # Tumbling: the windows summed plus the words of late.tsv's lines are the
    # result (the job's own outputs against each other).
    if W == E and os.path.exists(args.result):
        s = collections.Counter()
        for p in got_w.values():
            s.update(read_counts(p))
        for _, _, text in recs:
            s.update(record_words(args.format, text))
        if s != read_counts(args.result):
            fail('the windows plus the words of late.tsv are not the result')

    # --follow: every word's last line is its total.
    if args.follow:
        last = {}
        with open(args.follow, 'rb') as f:
            for line in f:
                w, tab, n = line.rstrip(b'\n').rpartition(b'\t')
                if not tab or not n.isdigit():
                    fail('--follow printed a bad line %r' % line[:80])
                    break
                last[w] = int(n)
        if last != dict(totals):
            fail('the last --follow line of each word is not its total '
                 '(%d words followed, %d expected)' % (len(last), len(totals)))

    # Each window file first seen during the run: the same bytes at the end.
    if args.seen:
        with open(args.seen) as f:
            for line in f:
                md5, name = line.split()
                p = os.path.join(d, name)
                if not os.path.exists(p):
                    fail('%s went missing' % name)
                    continue
                with open(p, 'rb') as g:
                    if hashlib.md5(g.read()).hexdigest() != md5:
                        fail('%s was rewritten with other content' % name)

    if args.receipt:
        # The job's own account (its final status, in the receipt): the
        # format, the windows written, and the late and untimed lines.
        try:
            with open(args.receipt) as f:
                r = json.load(f)
        except (OSError, ValueError) as e:
            fail('receipt: %s' % e)
            r = {}
        want = {'event_time': args.format, 'windows_closed': len(windows),
                'late_records': late_n, 'untimed_records': untimed_n}
        for k, v in want.items():
            if r and r.get(k) != v:
                fail('receipt: %s is %r, expected %r' % (k, r.get(k), v))

    if c.failures:
        for what in c.failures:
            print('FAIL: event_time: %s: %s' % (args.label, what), file=sys.stderr)
        return 1
    print('ok: event_time: %s: %d words, %d windows, %d late + %d untimed lines, exact' %
          (args.label, len(totals), len(windows), late_n, untimed_n))
    return 0


# --- the reference's own check ---------------------------------------------------------

def self_check():
    bad = []

    def expect(what, got, want):
        if got != want:
            bad.append('%s: got %r, expected %r' % (what, got, want))

    # Times worked out by hand: 2026-12-07T10:00:00Z is 1796637600 s.
    expect('epoch', parse('epoch', b'1796637600 a'), (1796637600000, 0, 10))
    expect('epoch fraction cut', parse('epoch', b'  1796637600.1239 a')[0], 1796637600123)
    expect('epoch .5', parse('epoch', b'1796637600.5 a')[0], 1796637600500)
    expect('epoch junk', parse('epoch', b'1796637600x a'), None)
    expect('epoch 10000', parse('epoch', b'253402300800 a'), None)
    expect('epoch 9999', parse('epoch', b'253402300799 a')[0], 253402300799000)
    expect('epoch .5 alone', parse('epoch', b'.5 a'), None)
    expect('rfc3339 Z', parse('rfc3339', b'2026-12-07T10:00:00Z a'), (1796637600000, 0, 20))
    expect('rfc3339 offset', parse('rfc3339', b'2026-12-07t15:30:00.25+05:30 a')[0],
           1796637600250)
    expect('rfc3339 -00:00', parse('rfc3339', b'2026-12-07T10:00:00-00:00 a')[0], 1796637600000)
    expect('rfc3339 west', parse('rfc3339', b'2026-12-07T02:00:00-08:00 a')[0], 1796637600000)
    for b in (b'2026-13-07T10:00:00Z a', b'2026-02-30T10:00:00Z a',
              b'2026-12-07T10:00:00 a', b'2026-12-07T10:00:00Zjunk a',
              b'2026-12-07 10:00:00Z a', b'1969-12-31T23:59:59Z a'):
        expect('rfc3339 bad %r' % b, parse('rfc3339', b), None)
    expect('clf', parse('clf', b'h - - [07/Dec/2026:03:00:00 -0700] "GET /" 200'),
           (1796637600000, 6, 34))
    expect('clf case', parse('clf', b'[07/DEC/2026:10:00:00 +0000]')[0], 1796637600000)
    for b in (b'[07/Dez/2026:10:00:00 +0000] a', b'[30/Feb/2026:10:00:00 +0000] a',
              b'h [07/Dec/2026:10:00:00 +0000 a', b'[info] [07/Dec/2026:10:00:00 +0000] a'):
        expect('clf bad %r' % b, parse('clf', b), None)
    expect('clf both sides', record_words('clf', b'left[07/Dec/2026:10:00:00 +0000]right x'),
           [b'left', b'right', b'x'])
    expect('rfc3339 words', record_words('rfc3339', b'2026-12-07T10:00:00Z a b'), [b'a', b'b'])
    expect('no-time words', record_words('epoch', b'x1 a'), [b'x1', b'a'])

    # The rule, by hand: W 10 s, E 5 s, L 1 s.
    data = (b'10.0 a\n'          # on time: windows 5000, 10000
            b'\n'                # blank: no record
            b'12.5 b\n'          # on time, M 12500: windows 5000, 10000
            b'11.5 c\n'          # 11500 >= 12500 - 1000: on time
            b'11.499 d\n'        # < 11500: late
            b'x e\n'             # no time
            b'20 f\n'            # on time: windows 15000, 20000
            b'   \n'             # blank
            b'14.999 g')         # late (< 19000), no '\n' at the end
    totals, windows, side = reference(data, 'epoch', 10000, 5000, 1000)
    expect('totals', dict(totals), {b'a': 1, b'b': 1, b'c': 1, b'd': 1, b'x': 1, b'e': 1,
                                    b'f': 1, b'g': 1})
    expect('windows', {s: dict(c) for s, c in windows.items()},
           {5000: {b'a': 1, b'b': 1, b'c': 1}, 10000: {b'a': 1, b'b': 1, b'c': 1},
            15000: {b'f': 1}, 20000: {b'f': 1}})
    expect('side', side, [(b'late', b'11499', b'11.499 d'), (b'no-time', b'-', b'x e'),
                          (b'late', b'14999', b'14.999 g')])
    # Tumbling, lateness 0: equal to the largest is on time.
    totals, windows, side = reference(b'7 a\n9 b\n9 c\n8.999 d\n', 'epoch', 10000, 10000, 0)
    expect('tumbling', ({s: dict(c) for s, c in windows.items()}, side),
           ({0: {b'a': 1, b'b': 1, b'c': 1}}, [(b'late', b'8999', b'8.999 d')]))
    expect('order', fmt_counts(collections.Counter({b'b': 2, b'a': 2, b'c': 3})),
           b'c\t3\na\t2\nb\t2\n')

    # The generator: each line parses to the time it was made with, or to
    # none when it was made without one; and each input has what it must.
    for fmt in ('epoch', 'rfc3339', 'clf'):
        data, lines = generate(fmt, 7, 3000)
        for line, t in lines:
            p = parse(fmt, line)
            if (p[0] if p else None) != t:
                bad.append('%s: %r parses to %r, made with %r' % (fmt, line, p, t))
                break
        for L in (0, 2000):
            totals, windows, side = reference(data, fmt, 10000, 5000, L)
            kinds = collections.Counter(r[0] for r in side)
            if kinds[b'late'] < 10 or kinds[b'no-time'] < 10 or len(windows) < 10:
                bad.append('%s L %d: %r, %d windows: too little' % (fmt, L, kinds, len(windows)))
    if bad:
        for b in bad:
            print('FAIL: event_ref self-check: ' + b, file=sys.stderr)
        return 1
    print('ok: event_ref self-check')
    return 0


def main():
    if sys.argv[1:] == ['--self-check']:
        return self_check()
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('gen', help='write a seeded input')
    g.add_argument('--format', required=True, choices=['epoch', 'rfc3339', 'clf'])
    g.add_argument('--seed', type=int, default=1)
    g.add_argument('--lines', type=int, default=2000)
    g.add_argument('--no-final-newline', action='store_true')
    g.add_argument('out')
    k = sub.add_parser('check', help='compare a job\'s outputs with the reference')
    k.add_argument('--format', required=True, choices=['epoch', 'rfc3339', 'clf'])
    k.add_argument('--window', type=int, required=True, help='W, ms')
    k.add_argument('--every', type=int, required=True, help='E, ms')
    k.add_argument('--lateness', type=int, required=True, help='L, ms')
    k.add_argument('--input', required=True)
    k.add_argument('--result', required=True)
    k.add_argument('--dir', required=True)
    k.add_argument('--follow')
    k.add_argument('--seen')
    k.add_argument('--receipt', help="zmr run's --receipt: its event-time counts checked")
    k.add_argument('--min-side', action='store_true',
                   help='fail when the input has no late or no untimed line')
    k.add_argument('--label', default='job')
    a = ap.parse_args()
    if a.cmd == 'gen':
        data, _ = generate(a.format, a.seed, a.lines, not a.no_final_newline)
        with open(a.out, 'wb') as f:
            f.write(data)
        return 0
    return check(a)


if __name__ == '__main__':
    sys.exit(main())
