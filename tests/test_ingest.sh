#!/usr/bin/env bash
# Many producers (issue 17, item 2): `zmr run --listen` with several
# concurrent line-TCP producers (one stops mid-line, one sends a line too
# long), and `zmr run --ingest` with tests/ingest_producer.py (written from
# docs/protocol.md alone) resending batches, across ventilator kill -9s.
# Each result is compared with the reference of what the producers sent
# (shell tools, tests/lib.sh), exactly. Needs python3 with pyzmq and
# msgpack (./dev.sh test installs them); without, it says so and exits 77.
# Usage: test_ingest.sh BINDIR [usage|listen|relisten|ingest|kill|limits|roles]...
# ZT_KEEP=1 keeps the work directory; ZT_INPUT=FILE feeds FILE to the kill
# case instead of its random text (lines with a unique word each show what
# went missing, if anything).
set -u
bindir=$(cd "$1" && pwd); shift
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cases=("$@"); [ ${#cases[@]} -gt 0 ] || cases=(usage listen relisten ingest kill limits roles)

py=
for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import zmq, msgpack' 2>/dev/null; then py=$candidate; break; fi
done
if [ -z "$py" ]; then
    echo "test_ingest: SKIP: no python3 with pyzmq and msgpack (python3-zmq, python3-msgpack)"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/zmr-ingest-test.XXXXXX")
pids=()
stopped=                # mappers the kill case stopped: SIGTERM (their
                        # parent's death signal) would not end them
cleanup() {
    [ -z "$stopped" ] || kill -KILL $stopped 2>/dev/null
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    [ -n "${ZT_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test_ingest: FAIL: $*" >&2; exit 1; }

free_port() {
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s, bounded.
wait_for() {
    local limit=$(($1 * 10)); shift
    for ((i = 0; i < limit; i++)); do "$@" && return 0; sleep 0.1; done
    return 1
}

# result_as_reference RESULT OUT: zmr's 'word<TAB>count' as the reference's form
result_as_reference() {
    awk -F '\t' '{print $1, $2}' "$1" | LC_ALL=C sort > "$2"
}

# run_job NAME ARGS...: zmr run in the background, its pid in job_pid
run_job() {
    local name=$1; shift
    "$bindir/zmr" run -m 2 -r 2 -o "$work/$name.tsv" "$@" 2> "$work/$name.err" &
    job_pid=$!
    pids+=("$job_pid")
}

# end_job NAME: the first SIGINT ends the input; the job must finish, exit 0
end_job() {
    local name=$1
    kill -INT "$job_pid"
    local waited=0
    while kill -0 "$job_pid" 2>/dev/null && [ $waited -lt 1200 ]; do sleep 0.1; waited=$((waited + 1)); done
    kill -0 "$job_pid" 2>/dev/null && fail "$name: zmr run still running 120 s after SIGINT"
    wait "$job_pid"; local code=$?
    [ $code -eq 0 ] || { cat "$work/$name.err" >&2; fail "$name: zmr run exit $code, not 0"; }
}

# Bad --listen and --ingest values: exit 2 and one line naming the option
case_usage() {
    local value prog out code
    for prog in "zmr run" zmr-ventilator; do
        for value in --listen=tcp://127.0.0.1:port --listen=tcp://:80 --listen=udp://h:1 \
                     --listen=tcp://h:70000 --ingest=inproc://x --ingest=foo://x; do
            out=$($bindir/$prog "$value" 2>&1 < /dev/null); code=$?
            [ $code -eq 2 ] || fail "usage: $prog $value: exit $code, not 2"
            case $out in
                *"option ${value%%=*}"*) ;;
                *) fail "usage: $prog $value: the error does not name the option: $out" ;;
            esac
        done
    done
    echo "test_ingest: usage: bad --listen and --ingest values refused (exit 2)"
}

case_listen() {
    local port; port=$(free_port)
    run_job listen --listen "tcp://127.0.0.1:$port"
    # Five producers at once, each writing its lines in pieces cut at random
    # bytes (mid-word too), with pauses; #3 ends mid-line, #4 sends a line
    # longer than 1 MiB after its good lines. Each writes what must count
    # to its own file: the reference is all of them.
    "$py" - "$port" "$work" <<'PY' || fail "listen: the producers failed"
import random, socket, sys, threading, time
port, work = int(sys.argv[1]), sys.argv[2]
def connect():
    for _ in range(300):
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            time.sleep(0.1)
    raise SystemExit("cannot connect to --listen")
def producer(n):
    rnd = random.Random(n)
    words = ["p%dw%d" % (n, i) for i in range(50)] + ["shared%d" % i for i in range(50)]
    text = "".join(" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 12))) + "\n"
                   for _ in range(4000)).encode()
    counted = text
    if n == 3:
        text += b"tail%d cut-here" % n          # no newline: ends where the connection does
        counted = text + b"\n"
    s = connect()
    at = 0
    while at < len(text):
        step = rnd.randint(1, 3000)
        s.sendall(text[at:at + step])
        at += step
        if rnd.random() < 0.05:
            time.sleep(0.01)
    if n == 4:
        try:
            s.sendall(b"x" * (1100 * 1024))      # a line too long: left out
            time.sleep(0.5)
            s.sendall(b" never\n")
        except OSError:
            pass
    s.close()
    with open("%s/listen.sent.%d" % (work, n), "wb") as f:
        f.write(counted)
threads = [threading.Thread(target=producer, args=(n,)) for n in range(5)]
for t in threads: t.start()
for t in threads: t.join()
for n in range(5):
    open("%s/listen.sent.%d" % (work, n), "rb").close()
PY
    # Two that do not close: one silent after a partial line (the end
    # closes it after 2 s silent: that line ends there), one that never
    # stops writing (the end closes it after 10 s of reading; what it
    # wrote is counted up to where it was read: only its own word).
    "$py" - "$port" "$work/listen.held" "$work/listen.chatty" <<'PY' &
import socket, sys, time
port, held, chatty = int(sys.argv[1]), sys.argv[2], sys.argv[3]
quiet = socket.create_connection(("127.0.0.1", port))
quiet.sendall(b"held1 held2\nheld3 part")
loud = socket.create_connection(("127.0.0.1", port))
with open(held, "wb") as f:
    f.write(b"held1 held2\nheld3 part\n")
sent = 0
try:
    for _ in range(100000):
        loud.sendall(b"chatty\n")
        sent += 1
        with open(chatty, "w") as f:
            f.write("%d\n" % sent)
        time.sleep(0.01)
except OSError:
    pass
time.sleep(120)
PY
    local holder=$!; pids+=("$holder")
    wait_for 30 test -s "$work/listen.chatty" || fail "listen: the held producers did not start"
    # Every other producer is done (closed): the first SIGINT ends the input
    end_job listen
    kill "$holder" 2>/dev/null
    cat "$work"/listen.sent.* "$work/listen.held" > "$work/listen.sent"
    local chatty; chatty=$(awk -F '\t' '$1 == "chatty" {print $2}' "$work/listen.tsv")
    [ -n "$chatty" ] && [ "$chatty" -ge 1 ] && [ "$chatty" -le "$(cat "$work/listen.chatty")" ] ||
        fail "listen: 'chatty' counted ${chatty:-0} times, sent $(cat "$work/listen.chatty")"
    grep -v '^chatty	' "$work/listen.tsv" > "$work/listen.rest" && mv "$work/listen.rest" "$work/listen.tsv"
    zt_reference "$work/listen.sent" "$work/listen.ref"
    result_as_reference "$work/listen.tsv" "$work/listen.got"
    cmp -s "$work/listen.got" "$work/listen.ref" || {
        diff "$work/listen.got" "$work/listen.ref" | head -20 >&2
        fail "listen: the counts differ from the reference of what the producers sent"; }
    grep -q "line longer than" "$work/listen.err" || fail "listen: no line said a line was too long"
    echo "test_ingest: listen: 5 producers, exact ($(wc -l < "$work/listen.ref") words)"
}

# send_lines PORT FILE: one line-TCP producer sends FILE and closes
send_lines() {
    "$py" - "$1" "$2" <<'PY'
import socket, sys, time
for _ in range(600):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("cannot connect")
s.sendall(open(sys.argv[2], "rb").read()); s.close()
PY
}

# snapshot_words N: the --snapshot's totals sum to N
snapshot_words() {
    [ "$(awk -F '\t' '{s += $2} END {print s + 0}' "$work/relisten.snap" 2>/dev/null)" = "$1" ]
}

# --listen text read before a ventilator kill -9 counts once: the one
# started again cuts it from the spool and the log as it was cut
case_relisten() {
    local port; port=$(free_port)
    make_input "$work/la" 7; make_input "$work/lb" 8
    run_job relisten --listen "tcp://127.0.0.1:$port" --snapshot "$work/relisten.snap"
    send_lines "$port" "$work/la" || fail "relisten: the first producer failed"
    local words_a; words_a=$(wc -w < "$work/la")
    wait_for 60 snapshot_words "$words_a" || fail "relisten: the first text was not counted"
    kills=0
    kill_ventilator
    send_lines "$port" "$work/lb" || fail "relisten: the second producer failed"
    end_job relisten
    cat "$work/la" "$work/lb" > "$work/relisten.sent"
    zt_reference "$work/relisten.sent" "$work/relisten.ref"
    result_as_reference "$work/relisten.tsv" "$work/relisten.got"
    cmp -s "$work/relisten.got" "$work/relisten.ref" || {
        diff "$work/relisten.got" "$work/relisten.ref" | head -20 >&2
        fail "relisten: after a ventilator kill -9 the counts differ from what was sent"; }
    echo "test_ingest: relisten: --listen text across a ventilator kill -9, exact"
}

# make_input FILE SEED [LINES]: random lines of words, some frequent, many rare
make_input() {
    "$py" - "$1" "$2" "${3:-6000}" <<'PY'
import random, sys
rnd = random.Random(int(sys.argv[2]))
words = ["w%d" % i for i in range(300)] + ["rare%d" % i for i in range(3000)]
with open(sys.argv[1], "w") as f:
    for _ in range(int(sys.argv[3])):
        f.write(" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 10))) + "\n")
PY
}

case_ingest() {
    local port; port=$(free_port)
    make_input "$work/in1" 1; make_input "$work/in2" 2
    run_job ingest --ingest "tcp://127.0.0.1:$port"
    : > "$work/ingest.acked1"; : > "$work/ingest.acked2"
    # Two producers at once; every 7th batch sent twice more (one of them
    # after a later batch), every 5th answer ignored and the batch resent.
    "$py" "$here/ingest_producer.py" "tcp://127.0.0.1:$port" "$work/in1" --producer a \
        --acked "$work/ingest.acked1" --resend-every 7 --drop-ack-every 5 &
    local p1=$!; pids+=("$p1")
    "$py" "$here/ingest_producer.py" "tcp://127.0.0.1:$port" "$work/in2" --producer b \
        --acked "$work/ingest.acked2" --resend-every 3 --lines 17 &
    local p2=$!; pids+=("$p2")
    wait "$p1" || fail "ingest: producer a failed"
    wait "$p2" || fail "ingest: producer b failed"
    end_job ingest
    cat "$work/ingest.acked1" "$work/ingest.acked2" > "$work/ingest.sent"
    cmp -s "$work/ingest.acked1" "$work/in1" || fail "ingest: producer a did not get every batch acknowledged"
    zt_reference "$work/ingest.sent" "$work/ingest.ref"
    result_as_reference "$work/ingest.tsv" "$work/ingest.got"
    cmp -s "$work/ingest.got" "$work/ingest.ref" || {
        diff "$work/ingest.got" "$work/ingest.ref" | head -20 >&2
        fail "ingest: the counts differ from the batches acknowledged (each once)"; }
    echo "test_ingest: ingest: 2 producers with resends, exact"
}

# kill_ventilator: kill -9 the job's ventilator and wait for its successor
kill_ventilator() {
    local vent; vent=$(pgrep -P "$job_pid" -x zmr-ventilator)
    [ -n "$vent" ] || fail "kill: no ventilator to kill"
    kill -KILL "$vent"
    kills=$((kills + 1))
    wait_for 60 eval '[ -n "$(pgrep -P "$job_pid" -x zmr-ventilator)" ] && [ "$(pgrep -P "$job_pid" -x zmr-ventilator)" != "$vent" ]' ||
        fail "kill: the ventilator was not started again"
}

# acked_grows BYTES: waits until the producer has BYTES more acknowledged
acked_grows() {
    acked_target=$(( $(stat -c %s "$work/kill.acked") + $1 ))
    wait_for 60 eval '[ "$(stat -c %s "$work/kill.acked")" -ge $acked_target ]'
}

case_kill() {
    local port; port=$(free_port)
    if [ -n "${ZT_INPUT:-}" ]; then cp "$ZT_INPUT" "$work/in3"; else make_input "$work/in3" 3; fi
    # A long --dead-ms: mappers stopped below are not taken for dead
    run_job kill --ingest "tcp://127.0.0.1:$port" --dead-ms 60000 -v
    : > "$work/kill.acked"
    "$py" "$here/ingest_producer.py" "tcp://127.0.0.1:$port" "$work/in3" --producer k \
        --acked "$work/kill.acked" --resend-every 4 --drop-ack-every 9 --lines 10 \
        --pause-ms 5 --retry-ms 300 --give-up-s 60 &
    local producer=$!; pids+=("$producer")
    kills=0
    # 1: at a moment of the producer's
    acked_grows 20000 || fail "kill: the producer gets no answers"
    kill_ventilator
    # 2: with the mappers stopped, the ventilator holds its chunks in flight
    # and reads no more: acknowledged batches wait in the pipe to its
    # chunker, and a ventilator started again must feed them from the log
    local mappers; mappers=$(pgrep -P "$job_pid" -x zmr-mapper)
    stopped=$mappers
    kill -STOP $mappers
    acked_grows 20000 || fail "kill: no answers with the mappers stopped"
    kill_ventilator
    kill -CONT $mappers
    stopped=
    # 3: again at a moment of the producer's
    acked_grows 20000 || fail "kill: the producer gets no answers after two kills"
    kill_ventilator
    wait "$producer" || fail "kill: the producer failed"
    cmp -s "$work/kill.acked" "$work/in3" || fail "kill: not every batch was acknowledged"
    # 4: after one more kill, the producer sends every batch again (as one
    # started again without its own checkpoint): each is acknowledged, and
    # none counted again
    kill_ventilator
    "$py" "$here/ingest_producer.py" "tcp://127.0.0.1:$port" "$work/in3" --producer k \
        --acked "$work/kill.again" --lines 10 --retry-ms 300 --give-up-s 60 ||
        fail "kill: a batch sent again was not acknowledged"
    end_job kill
    zt_reference "$work/kill.acked" "$work/kill.ref"
    result_as_reference "$work/kill.tsv" "$work/kill.got"
    cmp -s "$work/kill.got" "$work/kill.ref" || {
        diff "$work/kill.got" "$work/kill.ref" | head -20 >&2
        fail "kill: after $kills ventilator kill -9s the counts differ from the batches acknowledged"; }
    grep -q "of the log go to the chunker again" "$work/kill.err" ||
        fail "kill: no restart fed the chunker from the log (the test missed its point)"
    echo "test_ingest: kill: $kills ventilator kill -9s, exact"
}

# The bounds: connections past 256 are closed at once; bad frames are
# dropped and counted, batches that break a rule are REFUSED; what is good
# still counts, exactly.
case_limits() {
    local port iport; port=$(free_port); iport=$(free_port)
    run_job limits --listen "tcp://127.0.0.1:$port" --ingest "tcp://127.0.0.1:$iport" -v
    "$py" - "$port" "$iport" "$work/limits.sent" <<'PY' || fail "limits: the producers failed"
import socket, sys, time, msgpack, zmq
port, iport, sent = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = zmq.Context()
d = ctx.socket(zmq.DEALER); d.setsockopt(zmq.LINGER, 0)
d.connect("tcp://127.0.0.1:%d" % iport)
def ask(frames, expect):
    for _ in range(60):
        d.send_multipart(frames)
        if d.poll(1000):
            msg = msgpack.unpackb(d.recv(), raw=False)
            if msg[2] != expect:
                sys.exit("answer %r, expected type %d" % (msg, expect))
            return msg
    sys.exit("no answer to %r" % (frames,))
good = b"ingest good line\n"
ask([msgpack.packb([0x5A4D, 2, 29, "p", 1, good])], 30)          # the endpoint is up
for bad in ([b"\x01\x02garbage"],                                  # not MessagePack
            [msgpack.packb([0x5A4D, 2, 5, "p", 2, b"x\n"])],        # another type
            [msgpack.packb([0x5A4D, 2, 29, "p", 2, b"x\n"]), b"more"]):  # two frames
    d.send_multipart(bad)
    if d.poll(300):
        sys.exit("a bad frame was answered")
r = ask([msgpack.packb([0x5A4D, 2, 29, "p", 2, b"no newline"])], 31)
assert "newline" in r[5], r
ask([msgpack.packb([0x5A4D, 2, 29, "p", 0, b"zero\n"])], 31)
ask([msgpack.packb([0x5A4D, 2, 29, "x" * 129, 1, b"long id\n"])], 31)
ask([msgpack.packb([0x5A4D, 2, 29, "p", 2, b"ingest second\n"])], 30)
# 260 connections at once: 256 are served, the rest closed at once
conns = []
for i in range(260):
    conns.append(socket.create_connection(("127.0.0.1", port)))
closed = set()
deadline = time.monotonic() + 30
for i, c in enumerate(conns):
    c.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
    try:
        if c.recv(1) == b"":
            closed.add(i)
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed.add(i)
if len(closed) != 4:
    sys.exit("%d connections closed, expected 4" % len(closed))
text = b""
for i, c in enumerate(conns):
    if i not in closed:
        c.sendall(b"conn%d listen line\n" % i)
        text += b"conn%d listen line\n" % i
    c.close()
with open(sent, "wb") as f:
    f.write(good + b"ingest second\n" + text)
PY
    end_job limits
    [ "$(grep -c '^conn' "$work/limits.sent")" -ge 256 ] || fail "limits: fewer than 256 connections served"
    zt_reference "$work/limits.sent" "$work/limits.ref"
    result_as_reference "$work/limits.tsv" "$work/limits.got"
    cmp -s "$work/limits.got" "$work/limits.ref" || {
        diff "$work/limits.got" "$work/limits.ref" | head -20 >&2
        fail "limits: the counts differ from the good text sent"; }
    grep -q "frame dropped" "$work/limits.err" || fail "limits: no line on a bad frame"
    grep -q "connections already" "$work/limits.err" || fail "limits: no line on a connection refused"
    grep -q "2 batches, 0 duplicates, 3 refused, 3 malformed" "$work/limits.err" ||
        fail "limits: the ventilator's counts are not 2 batches, 3 refused, 3 malformed"
    echo "test_ingest: limits: 256 connections, bad frames dropped, batches refused, exact"
}

# The roles by hand, zmr-ventilator without --journal (the text waits in
# memory; an acknowledgement means taken by this ventilator), a file input
# before --listen and --ingest, the end by SIGUSR1 to the ventilator.
case_roles() {
    local port iport d; port=$(free_port); iport=$(free_port); d="$work/roles"
    mkdir -p "$d"
    # The lines: 3 MB at once, more than the pipe to the chunker holds, so
    # that they wait in memory and go in by parts
    make_input "$d/file" 4; make_input "$d/batches" 5; make_input "$d/lines" 6 100000
    "$bindir/zmr-ventilator" -r 1 --control "ipc://$d/control" --chunks "ipc://$d/chunks" \
        --status "ipc://$d/status" --listen "tcp://127.0.0.1:$port" \
        --ingest "ipc://$d/ingest" "$d/file" 2> "$d/ventilator.err" &
    local vent=$!; pids+=("$vent")
    "$bindir/zmr-reducer" -p 0 --bind "ipc://$d/reducer" "ipc://$d/control" 2> "$d/reducer.err" &
    pids+=($!)
    "$bindir/zmr-sink" --bind "ipc://$d/sink" -o "$d/result.tsv" "ipc://$d/control" 2> "$d/sink.err" &
    local sink=$!; pids+=("$sink")
    "$bindir/zmr-mapper" "ipc://$d/control" 2> "$d/mapper.err" &
    pids+=($!)
    : > "$d/acked"
    "$py" "$here/ingest_producer.py" "ipc://$d/ingest" "$d/batches" --producer r \
        --acked "$d/acked" --resend-every 5 ||
        { cat "$d/ventilator.err" >&2; fail "roles: the producer failed"; }
    "$py" - "$port" "$d/lines" <<'PY' || fail "roles: the line producer failed"
import socket, sys, time
for _ in range(300):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); break
    except OSError:
        time.sleep(0.1)
s.sendall(open(sys.argv[2], "rb").read()); s.close()
PY
    # 4096 producers are tracked; the next new one is REFUSED
    "$py" - "ipc://$d/ingest" <<'PY' || fail "roles: the producer table's bound"
import sys, msgpack, zmq
d = zmq.Context().socket(zmq.DEALER); d.setsockopt(zmq.LINGER, 0); d.connect(sys.argv[1])
answers = {}
for i in range(4096):           # "r" above is one of them
    d.send(msgpack.packb([0x5A4D, 2, 29, "many-%d" % i, 1, b""]))
while len(answers) < 4096 and d.poll(30000):
    m = msgpack.unpackb(d.recv(), raw=False)
    answers[m[3]] = m[2]
kinds = sorted(answers.values())
if len(answers) != 4096 or kinds.count(30) != 4095 or kinds.count(31) != 1:
    sys.exit("answers: %d, %d INGESTED, %d REFUSED" % (len(answers), kinds.count(30), kinds.count(31)))
PY
    kill -USR1 "$vent"
    local waited=0
    while kill -0 "$vent" 2>/dev/null && [ $waited -lt 1200 ]; do sleep 0.1; waited=$((waited + 1)); done
    wait "$vent"; local code=$?
    [ $code -eq 0 ] || { cat "$d/ventilator.err" >&2; fail "roles: the ventilator exit $code after SIGUSR1, not 0"; }
    wait_for 60 test -s "$d/result.tsv" || fail "roles: the sink wrote no result"
    cat "$d/file" "$d/acked" "$d/lines" > "$d/sent"
    zt_reference "$d/sent" "$d/ref"
    result_as_reference "$d/result.tsv" "$d/got"
    cmp -s "$d/got" "$d/ref" || {
        diff "$d/got" "$d/ref" | head -20 >&2
        fail "roles: the counts differ from the file, the batches acknowledged and the lines sent"; }
    echo "test_ingest: roles: zmr-ventilator without a journal, file + --listen + --ingest, exact"
}

for c in "${cases[@]}"; do "case_$c"; done
echo "test_ingest: PASS"
