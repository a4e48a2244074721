#!/usr/bin/env bash
# The live dashboard in a real browser (issue 15, item 2): headless Chromium
# opens http://127.0.0.1:PORT/ of a running `zmr run --http` and keeps it
# open to the end, and opens the page of a `zmr-monitor --http` watching the
# same job after the end. What the page shows is read from its DOM, by the
# page's element ids, and must be the status's:
# * during the job, held open by its input (a FIFO this script feeds):
#   phase, words, chunks, each worker (id, role, name, state), the workers
#   alive and each partition's words, bracketed by /status.json read before
#   and after; the stream shown live;
# * a mapper frozen (SIGSTOP) until the status has it dead: the page's
#   recent events say it was declared dead, its row says dead;
# * after the job, on both pages: phase done, 100%, the words of the job's
#   receipt and of an independent reference (tr | sort | uniq -c), the
#   receipt's chunks, partitions summing to the words, and the page saying
#   the status stream is gone; the page open all along also lists the phase
#   changes among its recent events;
# * the page throws no uncaught exception, ever.
# Screenshots (1280x900): mid-job, while the second half of the input comes,
# to BUILDDIR/dashboard.png, and at the end to BUILDDIR/dashboard-final.png
# (README.md, "Prometheus metrics and the web page").
#
# Chromium is driven over its DevTools pipe (cdp.py below), not with
# --dump-dom: the page holds an EventSource open, a fetch that never ends,
# so --virtual-time-budget (virtual time waits for pending fetches) never
# runs out, and --timeout dumps at the load event, before any status came.
# Usage: test_dashboard.sh BINDIR BUILDDIR. Exit 0 all shown right, 1 a check
# failed (named on stderr), 77 cannot run here (no chromium, no bible):
# skipped.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bin=$(cd "${1:?usage: test_dashboard.sh BINDIR BUILDDIR}" && pwd) || exit 1
out=$(cd "${2:?usage: test_dashboard.sh BINDIR BUILDDIR}" && pwd) || exit 1
skip() { echo "SKIP: test_dashboard: $*"; exit 77; }

chrome=$(command -v chromium || command -v chromium-browser) ||
    skip "no chromium (./dev.sh test installs it)"
command -v python3 >/dev/null || skip "no python3"
command -v bible >/dev/null || skip "no bible (package bible-kjv) for the input"
for p in zmr zmr-monitor; do
    [ -x "$bin/$p" ] || { echo "FAIL: no $bin/$p" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/zmr-dashboard-XXXXXX")
pids=()
cleanup() {
    local p
    trap '' PIPE INT TERM HUP
    exec 3>&- 2>/dev/null
    # SIGTERM first: zmr run then stops its job and removes its directory.
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 100); do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    keep_logs
    rm -rf "$work"
}
trap cleanup EXIT
# (On failure the job's logs are kept next to the screenshots, for a look.)
keep_logs() {
    [ "${failed:-1}" = 0 ] && return
    for f in run monitor chromium; do
        [ -s "$work/$f.log" ] && cp "$work/$f.log" "$out/dashboard-$f.log"
    done
}
trap 'exit 1' INT TERM HUP

failed=0
fail() { echo "FAIL: test_dashboard: $*" >&2; failed=1; }
t0=$SECONDS

# --- input and reference --------------------------------------------------------
zt_kjv_input "$work" || skip "bible printed nothing"
mkdir "$work/pieces"
split -b 128K "$work/part2" "$work/pieces/p"
ref_words=$(awk '{ n += $2 } END { print n }' "$work/reference")

# --- the browser: headless Chromium driven over its DevTools pipe ---------------------
# cdp.py URL STEP...: opens URL in a 1280x900 page and runs the steps in
# order, each bounded: wait:JS (until the expression is true in the page),
# more:N (until the page has shown N more statuses, or the job is over),
# await:FILE (until this script makes FILE), touch:FILE, dump:FILE (the
# DOM), shot:FILE (a PNG).
# Exit 1 naming the step that never came. (Not --dump-dom: the page holds an
# EventSource open, a fetch that never ends, so --virtual-time-budget, which
# waits for pending fetches, never runs out; and --timeout dumps at the load
# event, before any status. The DevTools protocol on fds 3 and 4 lets the
# test wait for what the page shows instead, with the standard library only.)
cat > "$work/cdp.py" <<'PY'
import base64, ctypes, fcntl, json, os, select, signal, subprocess, sys, time
chrome, logf, url, steps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def high(fd):
    n = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10); os.close(fd); return n
r_cmd, w_cmd = map(high, os.pipe()); r_res, w_res = map(high, os.pipe())
def child():
    os.dup2(r_cmd, 3); os.dup2(w_res, 4)
    # The browser dies with this script, however it ends (PR_SET_PDEATHSIG).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
log = open(logf, "ab")
p = subprocess.Popen([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                      "--user-data-dir=" + os.path.dirname(os.path.abspath(logf)) + "/chrome-" + str(os.getpid()),
                      "--remote-debugging-pipe", "--hide-scrollbars",
                      "--disable-dev-shm-usage",  # a container's /dev/shm may be tiny
                      "about:blank"],
                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=child, close_fds=False)
os.close(r_cmd); os.close(w_res)
buf = b""; nid = 0; session = None
thrown = []  # uncaught exceptions in the page: each fails the test
def send(method, params=None, sess=True, timeout=60):
    global nid, buf
    nid += 1
    m = {"id": nid, "method": method, "params": params or {}}
    if sess and session: m["sessionId"] = session
    os.write(w_cmd, json.dumps(m).encode() + b"\0")
    end = time.time() + timeout
    while time.time() < end:
        while b"\0" in buf:
            raw, buf = buf.split(b"\0", 1)
            r = json.loads(raw)
            if r.get("method") == "Runtime.exceptionThrown":
                x = r["params"]["exceptionDetails"]
                thrown.append("%s (line %s)" % (x.get("exception", {}).get("description", x.get("text")), x.get("lineNumber")))
            if r.get("id") == nid:
                if "error" in r: raise RuntimeError("%s: %s" % (method, r["error"]))
                return r.get("result", {})
        if not select.select([r_res], [], [], max(0, end - time.time()))[0]:
            break
        chunk = os.read(r_res, 1 << 20)
        if not chunk: raise RuntimeError("chromium closed the pipe")
        buf += chunk
    raise RuntimeError("%s: no answer" % method)
def js(expr):
    r = send("Runtime.evaluate", {"expression": expr, "returnByValue": True})
    return r.get("result", {}).get("value")
def fail(msg):
    print("FAIL: test_dashboard: %s: %s" % (url, msg), file=sys.stderr)
    try:  # what the page showed instead, next to the log
        open(os.path.dirname(os.path.abspath(logf)) + "/failed-page.html", "w").write(
            js("document.documentElement.outerHTML"))
    except Exception:
        pass
    sys.exit(1)
try:
    t = send("Target.createTarget", {"url": "about:blank"}, sess=False)["targetId"]
    session = send("Target.attachToTarget", {"targetId": t, "flatten": True}, sess=False)["sessionId"]
    send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    send("Page.enable"); send("Runtime.enable"); send("Page.navigate", {"url": url})
    for step in steps:
        if thrown:
            fail("the page threw: " + "; ".join(thrown))
        kind, arg = step.split(":", 1)
        end = time.time() + (300 if kind == "await" else 120)
        if kind == "wait":
            while not js("(function(){try{return !!(%s)}catch(e){return false}})()" % arg):
                if time.time() > end: fail("the page never showed: " + arg)
                time.sleep(0.2)
        elif kind == "more":
            # (or until the job is over: no status comes after that)
            rec = lambda: int(js("document.getElementById('seq').getAttribute('data-received')||'0'"))
            over = lambda: js("['done','failed'].includes(document.getElementById('phase').dataset.value)")
            n0 = rec()
            while rec() < n0 + int(arg) and not over():
                if time.time() > end: fail("the page got no %s more statuses" % arg)
                time.sleep(0.2)
        elif kind == "await":
            while not os.path.exists(arg):
                if time.time() > end: fail("nothing came: " + arg)
                time.sleep(0.2)
        elif kind == "touch":
            open(arg, "w").close()
        elif kind == "dump":
            open(arg, "w", encoding="utf-8").write(js("document.documentElement.outerHTML"))
        elif kind == "shot":
            open(arg, "wb").write(base64.b64decode(send("Page.captureScreenshot", {"format": "png"})["data"]))
        else:
            fail("unknown step " + step)
    js("0")
    if thrown:
        fail("the page threw: " + "; ".join(thrown))
    try: send("Browser.close", sess=False, timeout=10)
    except Exception: pass
except RuntimeError as e:
    fail(str(e))
finally:
    try: p.wait(timeout=15)
    except subprocess.TimeoutExpired: p.kill(); p.wait()
PY
# (3>&-, here and on the subshell of one started with &: a browser session
# that held the job's FIFO open would keep the job from ever seeing the end
# of its input.)
cdp() { python3 "$work/cdp.py" "$chrome" "$work/chromium.log" "$@" 3>&-; }

# --- the DOM reader: the page's figures as JSON, from a dumped DOM ----------------
cat > "$work/dom.py" <<'PY'
import json, sys
from html.parser import HTMLParser
class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = {}        # id -> {"text": ..., "attrs": {...}}
        self.workers = []    # the rows of tbody#workers, their data-* attributes
        self.open = []       # [id, depth, text parts] of elements being read
        self.depth = 0
        self.in_workers = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.depth += 1
        if "id" in a:
            self.ids[a["id"]] = {"attrs": a, "text": ""}
            self.open.append([a["id"], self.depth, []])
        if tag == "tbody" and a.get("id") == "workers":
            self.in_workers = True
        elif tag == "tr" and self.in_workers:
            self.workers.append({k[5:]: v for k, v in a.items() if k.startswith("data-")})
    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_workers = False
        while self.open and self.open[-1][1] >= self.depth:
            i, _, parts = self.open.pop()
            self.ids[i]["text"] = "".join(parts).strip()
        self.depth -= 1
    def handle_data(self, data):
        for o in self.open:
            o[2].append(data)
p = Page()
p.feed(open(sys.argv[1], encoding="utf-8", errors="replace").read())
print(json.dumps({"ids": p.ids, "workers": p.workers}))
PY
# dom_json FILE: the dumped DOM FILE as dom.py reads it
dom_json() { python3 "$work/dom.py" "$1"; }

status() { # status PORT: /status.json of that server
    curl -s --max-time 10 "http://127.0.0.1:$1/status.json" 2>/dev/null ||
    python3 -c 'import sys, urllib.request
try: print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())
except Exception as e: print(getattr(e, "read", lambda: b"")().decode())' \
        "http://127.0.0.1:$1/status.json"
}
# wait_status PORT PYEXPR: until /status.json (as d) makes PYEXPR true, bounded;
# that status is left in $work/status.json.
wait_status() {
    local j end=$((SECONDS + 120))
    while [ $SECONDS -lt $end ]; do
        j=$(status "$1")
        if [ -n "$j" ] && python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$j" "$2" 2>/dev/null; then
            printf '%s\n' "$j" > "$work/status.json"
            return 0
        fi
        sleep 0.3
    done
    fail "the status at port $1 never showed: $2 (the last: $(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(", ".join("%s %s" % (k, d.get(k)) for k in ("phase", "reason", "chunks_read", "chunks_done", "in_flight", "chunks_reissued", "mappers_alive")),
      "; workers:", ", ".join("%s %s %s" % (w["role"], w["name"], w["state"]) for w in d.get("workers", [])))' "$j" 2>&1 | head -c 600))"
    return 1
}

# await FILE WHAT: until FILE exists (a browser session made it), bounded;
# also ends when that session has exited (it failed, saying why).
await() {
    local end=$((SECONDS + 300))
    until [ -e "$1" ]; do
        if ! kill -0 "$session" 2>/dev/null || [ $SECONDS -ge $end ]; then
            fail "the page never got to: $2"
            return 1
        fi
        sleep 0.2
    done
}

# Two free ports on 127.0.0.1 (bound by the servers right after: a port taken
# meanwhile makes zmr refuse it in one line, exit 2, and the test fail).
read -r port_run port_mon < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

# --- the job: 3 mappers, 2 reducers, held open by its FIFO -------------------------
# It serves its final state for --http-linger once it is over, and zmr-monitor
# --http, watching the same status, stays up after it.
mkfifo "$work/in.fifo"
exec 3<>"$work/in.fifo"
"$bin/zmr" run -m 3 -r 2 --chunk-size 64K --no-progress --dead-ms 2000 \
    --status "ipc://$work/status.ipc" --http "127.0.0.1:$port_run" --http-linger 300s \
    --receipt "$work/receipt.json" -o "$work/counts.tsv" "$work/in.fifo" \
    3>&- > "$work/run.log" 2>&1 &
run_pid=$!
pids+=($run_pid)
"$bin/zmr-monitor" --http "127.0.0.1:$port_mon" "ipc://$work/status.ipc" \
    3>&- > "$work/monitor.log" 2>&1 &
mon_pid=$!
pids+=($mon_pid)

# Fed in the background, so that a zmr run that died (and so reads no more)
# is said at once, with its last lines, rather than after the feed's bound.
timeout 300 cat "$work/part1" >&3 &
feeder=$!
pids+=($feeder)
while kill -0 "$feeder" 2>/dev/null; do
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.2
done
kill -0 "$run_pid" 2>/dev/null ||
    { fail "zmr run ended before its input did: $(tail -n 5 "$work/run.log" | tr '\n' ' ')"; exit 1; }
wait "$feeder" || fail "feeding the first half timed out"
# Settled: all that was cut into chunks is counted, nothing in flight; the
# job waits for more input, so its figures stay as they are while we look.
settled='d["phase"] == "mapping" and d["chunks_read"] > 0 and d["chunks_done"] == d["chunks_read"] and d["in_flight"] == 0 and d["mappers_alive"] == 3 and sum(w["role"] == "reducer" and w["state"] == "alive" for w in d["workers"]) == 2'
wait_status "$port_run" "$settled" || exit 1

# --- one page of zmr run --http, open from mid-job to after its end ----------------
# Its steps: the DOM once it shows a status; once the test has frozen a
# mapper, the DOM once the page lists it declared dead; once the rest of the
# input is coming, a screenshot 8 statuses later; after the job, the DOM and a
# screenshot once the page shows phase done and the stream gone.
el='document.getElementById'
ev="$el('events').textContent"
cdp "http://127.0.0.1:$port_run/" \
    "wait:$el('seq').dataset.value" "dump:$work/live.html" "touch:$work/live.done" \
    "await:$work/frozen" "wait:$ev.includes('declared dead')" "dump:$work/dead.html" "touch:$work/dead.done" \
    "await:$work/feeding" "more:8" "shot:$out/dashboard.png" "touch:$work/shot.done" \
    "wait:$el('phase').dataset.value == 'done' && $el('stream').dataset.state == 'lost'" \
    "dump:$work/final-run.html" "shot:$out/dashboard-final.png" 3>&- &
session=$!
pids+=($session)

# --- during the job: the page shows the status's numbers ---------------------------
# (The status is read before and after the page's; words only grow, so what
# the page shows must lie between; here, settled, all three are the same.)
status "$port_run" > "$work/before.json"
await "$work/live.done" "a status shown" || exit 1
status "$port_run" > "$work/after.json"
dom_json "$work/live.html" > "$work/live.json"
python3 - "$work/before.json" "$work/after.json" "$work/live.json" <<'PY' || failed=1
import json, sys
b, a, d = (json.load(open(f)) for f in sys.argv[1:4])
ids = d["ids"]
v = lambda i: ids.get(i, {}).get("attrs", {}).get("data-value", "")
t = lambda i: ids.get(i, {}).get("text", "")
bad = []
def within(key, shown):
    lo, hi = sorted((b[key], a[key]))
    try:
        n = int(shown)
    except ValueError:
        bad.append("%s shows %r, not a number" % (key, shown)); return
    if not lo <= n <= hi:
        bad.append("%s shows %d, the status had %d then %d" % (key, n, b[key], a[key]))
if v("phase") not in (b["phase"], a["phase"]) or t("phase") != v("phase"):
    bad.append("phase shows %r (%r), the status had %r then %r" % (t("phase"), v("phase"), b["phase"], a["phase"]))
within("words", v("words"))
if t("words").replace(",", "") != v("words"):
    bad.append("words reads %r but holds %r" % (t("words"), v("words")))
for key, i in (("chunks_done", "chunks-done"), ("chunks_read", "chunks-read"),
               ("mappers_alive", "mappers-alive"), ("in_flight", "in-flight")):
    within(key, v(i))
def rows(s):
    return sorted((str(w["id"]), w["role"], w["name"], w["state"]) for w in s["workers"])
shown = sorted((w.get("id"), w.get("role"), w.get("name"), w.get("state")) for w in d["workers"])
if shown not in (rows(b), rows(a)):
    bad.append("workers shown %s, the status had %s" % (shown, rows(a)))
alive = lambda s: sum(w["state"] == "alive" for w in s["workers"])
if v("workers-alive") not in (str(alive(b)), str(alive(a))) or t("workers-alive") != v("workers-alive"):
    bad.append("workers alive shows %r, the status had %d then %d" % (t("workers-alive"), alive(b), alive(a)))
def parts_match(s):
    return all(ids.get("partition-%d" % w["partition"], {}).get("attrs", {}).get("data-words") == str(w["words"])
               for w in s["workers"] if w["role"] == "reducer")
if not any(parts_match(s) for s in (b, a)):
    bad.append("the partitions' words shown differ from the reducers' in the status")
if ids.get("stream", {}).get("attrs", {}).get("data-state") != "live":
    bad.append("the stream shows %r during the job" % t("stream"))
for m in bad:
    print("FAIL: test_dashboard: the page during the job: %s" % m, file=sys.stderr)
print("during the job: phase %s, %s words, %d workers (%s alive), %s/%s chunks, stream %s" %
      (v("phase"), t("words"), len(d["workers"]), v("workers-alive"), v("chunks-done"),
       v("chunks-read"), t("stream")))
sys.exit(1 if bad else 0)
PY

# --- a mapper freezes: the page says it was declared dead ----------------------------
# (zmr run sees it dead after --dead-ms, kills it and starts another.)
mapper=$(pgrep -P "$run_pid" -x zmr-mapper | head -n 1)
if [ -n "$mapper" ]; then
    kill -STOP "$mapper"
    mname="vm:$mapper"
    wait_status "$port_run" "any(w[\"name\"] == \"$mname\" and w[\"state\"] == \"dead\" for w in d[\"workers\"])"
    touch "$work/frozen"
    await "$work/dead.done" "a mapper declared dead" &&
    python3 - "$work/dead.html" "$mname" "$work/dom.py" <<'PY' || failed=1
import json, subprocess, sys
d = json.loads(subprocess.check_output(["python3", sys.argv[3], sys.argv[1]]))
events, name = d["ids"]["events"]["text"], sys.argv[2]
row = [w for w in d["workers"] if w.get("name") == name]
bad = []
if "mapper %s declared dead" % name not in events:
    bad.append("the events do not say mapper %s was declared dead: %r" % (name, events[:300]))
if not row or row[0].get("state") != "dead":
    bad.append("the workers table shows %s as %s" % (name, row[0].get("state") if row else "missing"))
for m in bad:
    print("FAIL: test_dashboard: the page after a mapper froze: %s" % m, file=sys.stderr)
print("a mapper froze: the page says \"mapper %s declared dead\"" % name)
sys.exit(1 if bad else 0)
PY
    kill -CONT "$mapper" 2>/dev/null
else
    fail "no zmr-mapper child of zmr run to freeze"
    touch "$work/frozen"
fi

# --- the rest of the input, while the page is screenshot ----------------------------
# Fed in pieces, paced, so the throughput chart has something to show: the
# pacing decides only what the picture shows, nothing checked depends on it.
( for f in "$work"/pieces/p*; do cat "$f" >&3 || exit 1; sleep 0.3; done ) &
feeder=$!
pids+=($feeder)
touch "$work/feeding"
wait "$feeder" || fail "feeding the second half failed"
exec 3>&-

# --- after the job: the final state, and the stream said to be gone ------------------
end=$((SECONDS + 240))
until grep -q 'serving the final state' "$work/run.log" || ! kill -0 "$run_pid" 2>/dev/null ||
      [ $SECONDS -ge $end ]; do sleep 0.3; done
grep -q 'serving the final state' "$work/run.log" ||
    fail "zmr run does not serve its final state ($(tail -n 3 "$work/run.log" | tr '\n' ' '))"
[ -s "$work/receipt.json" ] || fail "no receipt"
if [ -s "$work/counts.tsv" ]; then
    awk -F'\t' '{print $1, $2}' "$work/counts.tsv" | LC_ALL=C sort > "$work/result"
    cmp -s "$work/result" "$work/reference" ||
        fail "the job's result differs from the reference: $(diff "$work/reference" "$work/result" | head -n 4 | tr '\n' ' ')"
else
    fail "the job wrote no result"
fi
receipt() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/receipt.json" "$1" 2>/dev/null; }
receipt_words=$(receipt words)
receipt_chunks=$(receipt chunks)
[ "$receipt_words" = "$ref_words" ] || fail "receipt words $receipt_words, reference $ref_words"

check_final() { # check_final DOM NAME
    [ -s "$1" ] || return 0   # the session that should have made it failed, saying why
    dom_json "$1" > "$1.json" || { fail "$2: the DOM cannot be read"; return; }
    python3 - "$1.json" "$ref_words" "$receipt_chunks" "$2" <<'PY' || failed=1
import json, sys
d = json.load(open(sys.argv[1]))
ref_words, chunks, name = sys.argv[2], sys.argv[3], sys.argv[4]
ids = d["ids"]
v = lambda i: ids.get(i, {}).get("attrs", {}).get("data-value", "")
t = lambda i: ids.get(i, {}).get("text", "")
bad = []
if v("phase") != "done":
    bad.append("phase shows %r" % t("phase"))
if v("words") != ref_words or t("words").replace(",", "") != ref_words:
    bad.append("words show %r (%r), the reference and receipt have %s" % (t("words"), v("words"), ref_words))
if v("chunks-done") != chunks or v("chunks-read") != chunks:
    bad.append("chunks show %s/%s, the receipt has %s" % (v("chunks-done"), v("chunks-read"), chunks))
if t("percent") != "100%":
    bad.append("progress shows %r at the end" % t("percent"))
if ids.get("stream", {}).get("attrs", {}).get("data-state") != "lost" or "lost" not in t("stream"):
    bad.append("the page does not say the stream is gone: %r" % t("stream"))
parts = sum(int(ids[i]["attrs"].get("data-words", "0")) for i in ids if i.startswith("partition-"))
if str(parts) != ref_words:
    bad.append("the partitions' words sum to %d, not %s" % (parts, ref_words))
for m in bad:
    print("FAIL: test_dashboard: %s: %s" % (name, m), file=sys.stderr)
print("%s: %s, %s words, %s chunks, stream: %s" % (name, v("phase"), t("words"), v("chunks-done"), t("stream")))
sys.exit(1 if bad else 0)
PY
}
# The page open since mid-job (it also saw the job's phases go by) ...
if ! wait "$session"; then
    fail "the page open during the job did not get to its end (what it showed: $out/dashboard-failed.html)"
    cp "$work/failed-page.html" "$out/dashboard-failed.html" 2>/dev/null
fi
check_final "$work/final-run.html" "zmr run --http, the page open since mid-job"
[ -s "$work/final-run.html" ] && python3 - "$work/final-run.html" <<'PY' || failed=1
import re, sys
from html import unescape
text = unescape(re.sub(r"<[^>]*>", " ", open(sys.argv[1]).read().split('id="events"', 1)[1].split("</ul>", 1)[0]))
# (The server sends at most 4 statuses a second, the last always: a short
# flushing phase may fall between two, so "done" may follow "mapping".)
want = [r"phase (mapping|flushing) → done", r"status stream lost"]
missing = [w for w in want if not re.search(w, text)]
if missing:
    print("FAIL: test_dashboard: the page's recent events lack %s" % missing, file=sys.stderr)
sys.exit(1 if missing else 0)
PY
# ... and a page opened after the job's end, on the monitor that stays up.
cdp "http://127.0.0.1:$port_mon/" \
    "wait:$el('phase').dataset.value == 'done' && $el('stream').dataset.state == 'lost'" \
    "dump:$work/final-mon.html" || failed=1
check_final "$work/final-mon.html" "zmr-monitor --http, a page opened after the job"

kill -INT "$run_pid"
wait "$run_pid"; rc=$?
[ "$rc" = 0 ] || fail "zmr run exited $rc ($(tail -n 3 "$work/run.log" | tr '\n' ' '))"
kill -0 "$mon_pid" 2>/dev/null || fail "zmr-monitor --http did not stay after the job"

for f in dashboard.png dashboard-final.png; do
    [ -s "$out/$f" ] && echo "screenshot: $out/$f" || fail "no screenshot $out/$f"
done
echo "test_dashboard: $((SECONDS - t0)) s"
exit $failed
