#!/usr/bin/env bash
# soak.sh: the chaos soak of issue 17 (item 5). Not in CI (30 minutes).
#   bench/soak.sh [--minutes N (30)] [--out DIR] [--build DIR] [--seed N]
#                 [--event-time auto|epoch|rfc3339|none] [--rate MB/S (6)]
# Hand-started roles, each under a supervisor loop here that starts it again
# (same --journal, --state, --force) when it was killed: a ventilator with
# --journal, --listen (line TCP) and --ingest (acked batches), 2 reducers
# with --state, a sink with --force --window-dir and --publish, mappers.
# Producers (bench/soak_producer.py): 2 on --ingest and 2 on --listen at a
# combined --rate, every line with its event time, plus a probe line every
# 100 ms timed to its count in a TOTALS message. Windows of 10 s: of event
# time with --event-time FORMAT (epoch or rfc3339; auto, the default: epoch
# if the ventilator has --event-time), none: of ingest time.
# A kill -9 of a random role every 5-15 s; 2 mappers added and 1 removed
# along the way (at 1/30, 2/30 and 3/30 of the time). At the end the input
# is ended (SIGUSR1), the job finishes, and bench/soak_check.py checks the
# totals against the reference counted from the producers' logs, the
# windows, every window file written once, RSS and disk at the end against
# 5/30 of the time, and reports latency (probes sent within 2 s after a
# fault left out). Prints a markdown table; exit 0 when every check holds.
# Output (logs, samples, the table in summary.md): --out DIR
# (default bench/out/soak-DATE).
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=30 out="" build=build seed=$$ rate=6
# Event time: epoch when the ventilator has --event-time (auto), else
# windows of ingest time (none); SOAK_EVENT_TIME or --event-time chooses.
event_time=${SOAK_EVENT_TIME:-auto}
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --event-time) event_time=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        *) echo "usage: bench/soak.sh [--minutes N] [--out DIR] [--build DIR] [--seed N]" \
                "[--event-time auto|epoch|rfc3339|none] [--rate MB/S]" >&2; exit 2 ;;
    esac
done
case "$minutes" in ''|*[!0-9]*|0) echo "soak.sh: --minutes: a whole number > 0" >&2; exit 2 ;; esac
case "$event_time" in auto|none|epoch|rfc3339) ;; *) echo "soak.sh: --event-time: auto, none, epoch or rfc3339" >&2; exit 2 ;; esac
bin=$(cd "$build/bin" 2>/dev/null && pwd) || { echo "soak.sh: no $build/bin: build first" >&2; exit 2; }
if [ "$event_time" = auto ]; then
    event_time=none
    # (Not `| grep -q`: with pipefail, the SIGPIPE it may cause is a failure.)
    case "$("$bin/zmr-ventilator" --help 2>/dev/null)" in *--event-time*) event_time=epoch ;; esac
fi
for p in zmr-ventilator zmr-mapper zmr-reducer zmr-sink; do
    [ -x "$bin/$p" ] || { echo "soak.sh: no $bin/$p" >&2; exit 2; }
done
py=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import zmq, msgpack' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { echo "soak.sh: needs python3 with pyzmq and msgpack (apt-get install python3-zmq python3-msgpack)" >&2; exit 2; }
[ -n "$out" ] || out=bench/out/soak-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
if [ -n "$(ls -A "$out")" ]; then echo "soak.sh: $out is not empty" >&2; exit 2; fi
export LC_ALL=C
RANDOM=$seed
T=$((minutes * 60))
# Sockets in a short path (ipc:// paths are limited to ~100 bytes).
run=$(mktemp -d /tmp/zmr-soak-XXXXXX)
mkdir -p "$out/logs" "$run/vent" "$run/state" "$out/windows"
ln -s "$run" "$out/run"
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ctl=ipc://$run/ctl
children=()
cleanup() {
    touch "$run/stop"
    local p f
    for f in "$run"/pid.*; do [ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
    for p in "${children[@]}"; do kill -9 "$p" 2>/dev/null; done
    for f in "$run"/pid.*; do [ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
    wait 2>/dev/null
    rm -f "$out/run"
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
now() { date +%s.%N; }
event() { echo "$(now) $*" >> "$out/events.tsv"; }

vent_args=(-r 2 --control "$ctl" --chunks "ipc://$run/chunks" --status "ipc://$run/status"
           --journal "$run/vent/journal" --job 1717 --live-ms 10 --flush-ms 10
           --listen "tcp://127.0.0.1:$port" --ingest "ipc://$run/ingest" --window-ms 10000)
[ "$event_time" = none ] || vent_args+=(--event-time "$event_time" --allowed-lateness-ms 2000)
fmt=$event_time; [ "$fmt" = none ] && fmt=epoch

# role_cmd NAME: the command line of role NAME (the same every start)
role_cmd() {
    case "$1" in
        ventilator) echo "$bin/zmr-ventilator ${vent_args[*]}" ;;
        reducer0|reducer1) echo "$bin/zmr-reducer -p ${1#reducer} --bind ipc://$run/${1} --state $run/state $ctl" ;;
        sink) echo "$bin/zmr-sink --force --window-dir $out/windows -o $out/result.tsv --publish ipc://$run/pub --bind ipc://$run/sink $ctl" ;;
        mapper*) echo "$bin/zmr-mapper --once --name $1 $ctl" ;;
    esac
}
# supervise NAME: runs role NAME, and again each time it was killed by a
# signal (kill -9: 137); stops on an exit of its own (the job done: 0; a
# failure: said in events.tsv) or once $run/stop exists.
supervise() {
    local name=$1 rc starts=0
    while :; do
        starts=$((starts + 1))
        # shellcheck disable=SC2046
        $(role_cmd "$name") 2>> "$out/logs/$name.err" &
        echo $! > "$run/pid.$name"
        wait $!
        rc=$?
        event "exit $name $rc start $starts"
        [ -e "$run/stop" ] && break
        [ "$rc" -gt 128 ] || break
        sleep 0.2
    done
    rm -f "$run/pid.$name"
    echo "$rc" > "$run/rc.$name"
}
# (The supervisor's own stderr, bash's "Killed" notices, is not wanted.)
start_role() { supervise "$1" 2>/dev/null & children+=($!); event "start $1"; }

echo "soak: $minutes min, out $out, event time $event_time, seed $seed, listen :$port" >&2
event "begin minutes $minutes event_time $event_time seed $seed rate_mb $rate"
for r in ventilator reducer0 reducer1 sink mapper1 mapper2; do start_role "$r"; done
mappers=(mapper1 mapper2)

# Producers: 2 acked ingest, 2 line TCP, 1 probe; rate in bytes/s each.
each=$("$py" -c "print(int($rate * 1e6 / 4))")
prod() {  # prod NAME MODE ENDPOINT ID [more]
    local name=$1; shift
    "$py" bench/soak_producer.py "$@" --log "$out/logs/$name.log" --stop "$run/stop-producers" \
        --format "$fmt" 2>> "$out/logs/$name.err" &
    children+=($!)
    echo $! > "$run/prod.$name"
}
prod ingest1 ingest "ipc://$run/ingest" --id 1 --rate "$each"
prod ingest2 ingest "ipc://$run/ingest" --id 2 --rate "$each"
prod tcp1 tcp "tcp://127.0.0.1:$port" --id 1 --rate "$each"
prod tcp2 tcp "tcp://127.0.0.1:$port" --id 2 --rate "$each"
prod probe probe "tcp://127.0.0.1:$port" --id 9 --publish "ipc://$run/pub" --every-ms 100

# Samplers: summed RSS of the roles (and each role's) every second, disk of
# the state dir and the ventilator's journal, spool and ingest log every 2 s
# (du: blocks in use, so the space given back counts), each window
# file's md5 the first time it is seen (every 1 s).
sampler() {
    local i=0 f rss disk_s disk_v pid kb each
    while [ ! -e "$run/stop" ]; do
        rss=0 each=""
        for f in "$run"/pid.*; do
            pid=$(cat "$f" 2>/dev/null) || continue
            kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
            rss=$((rss + ${kb:-0}))
            each="$each ${f##*/pid.}=${kb:-0}"
        done
        echo "$(now) $rss$each" >> "$out/rss.tsv"
        if [ $((i % 2)) = 0 ]; then
            disk_s=$(du -sk "$run/state" 2>/dev/null | cut -f1)
            disk_v=$(du -sk "$run/vent" 2>/dev/null | cut -f1)
            echo "$(now) ${disk_s:-0} ${disk_v:-0}" >> "$out/disk.tsv"
        fi
        for f in "$out"/windows/window-*.tsv; do
            [ -e "$f" ] || continue
            grep -q -F " $(basename "$f")" "$out/seen.tsv" 2>/dev/null && continue
            echo "$(md5sum < "$f" | cut -d' ' -f1) $(basename "$f")" >> "$out/seen.tsv"
        done
        i=$((i + 1))
        sleep 1
    done
}
: > "$out/seen.tsv"
sampler & children+=($!)

# The chaos: a random role every 5-15 s (role kind first, then which);
# mappers added and removed on schedule.
t_start=$(date +%s)
t_end=$((t_start + T))
added=0 removed=0 kills=0
next_kill=$((t_start + 5 + RANDOM % 11))
while [ "$(date +%s)" -lt "$t_end" ]; do
    sleep 0.5
    t=$(( $(date +%s) - t_start ))
    if [ $added -lt 2 ] && [ $t -ge $(( (added + 1) * T / 30 )) ]; then
        added=$((added + 1)); m=mapper$((2 + added)); mappers+=("$m"); start_role "$m"
        event "added $m"
    fi
    if [ $removed -lt 1 ] && [ $t -ge $(( 3 * T / 30 )) ]; then
        removed=1
        # mapper1 leaves for good: SIGTERM (it finishes its chunk, exits 0)
        touch "$run/leaving.mapper1"
        pid=$(cat "$run/pid.mapper1" 2>/dev/null)
        [ -n "$pid" ] && kill -TERM "$pid" && event "removed mapper1 pid $pid"
        mappers=("${mappers[@]:1}")
    fi
    [ "$(date +%s)" -ge "$next_kill" ] || continue
    next_kill=$(( $(date +%s) + 5 + RANDOM % 11 ))
    kinds=(ventilator reducer sink mapper)
    kind=${kinds[$((RANDOM % 4))]}
    case $kind in
        reducer) victim=reducer$((RANDOM % 2)) ;;
        mapper) victim=${mappers[$((RANDOM % ${#mappers[@]}))]} ;;
        *) victim=$kind ;;
    esac
    pid=$(cat "$run/pid.$victim" 2>/dev/null)
    if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then
        kills=$((kills + 1))
        echo "$(now) $victim $pid" >> "$out/faults.tsv"
    fi
done
event "chaos over kills $kills"

# The end: every role running again, then producers stop (ingest: their
# last batch acknowledged), then the input ends (SIGUSR1) and the job
# finishes; bounded waits.
sleep 3
touch "$run/stop-producers"
for f in "$run"/prod.*; do
    pid=$(cat "$f")
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    wait "$pid"; echo "$? $(basename "$f")" >> "$out/producers.rc"
done
event "producers stopped"
kill -USR1 "$(cat "$run/pid.ventilator")"
event "input ended"
for _ in $(seq 1 1200); do
    [ -e "$run/rc.ventilator" ] && [ -e "$run/rc.sink" ] && [ -e "$run/rc.reducer0" ] &&
        [ -e "$run/rc.reducer1" ] && break
    sleep 0.5
done
event "job over"
for r in ventilator reducer0 reducer1 sink; do echo "$r $(cat "$run/rc.$r" 2>/dev/null || echo none)"; done > "$out/roles.rc"
touch "$run/stop"
sleep 2
cp "$out/seen.tsv" "$out/seen.final.tsv" 2>/dev/null
du -sk "$run/state" "$run/vent" > "$out/disk.end" 2>/dev/null
"$py" bench/soak_check.py "$out" --minutes "$minutes" --event-time "$event_time" \
    --window-ms 10000 | tee "$out/summary.md"
exit "${PIPESTATUS[0]}"
