#!/usr/bin/env bash
# Event-time windows end to end, against an independent reference (issue 17,
# items 3 and 4). tests/event_ref.py makes seeded inputs in each format
# (epoch, rfc3339, clf: times mostly increasing with out-of-order jitter,
# far-late lines, lines right at the watermark and at window edges, lines
# with no time or a broken one, blank lines, fractions, offsets) and computes
# the reference from the issue's rules with python's datetime (it reads none
# of zmr's C): the result, each window's counts, the side records of
# late.tsv in input order. Checked:
#   (a) per format, `zmr run --event-time F --window 10s --window-dir DIR` on
#       a file: tumbling and hopping (--every 5s), lateness 0 (the default)
#       and --allowed-lateness 2s: the result, every window file (exactly the
#       windows holding an on-time line, each exact), late.tsv (reason, time
#       and line of every late or untimed line, in input order, each once;
#       WINDOW a window written or `end`), an empty window-end.tsv; tumbling:
#       the windows summed plus the words of late.tsv's lines = the result;
#   (b) --stream --follow fed through a FIFO in pieces, the second in bits
#       with pauses: a window is written while the input is still open, and
#       the same checks at the end, plus each word's last --follow line is
#       its total;
#   (c) the same stream with one kill -9 of each role in turn (mapper,
#       reducer, sink, ventilator; zmr run starts it again), as soon as a
#       window of the second piece is written, while it is still being fed
#       (chunks in flight, windows closing): zmr run exits 0,
#       the same checks (so late.tsv holds no line twice, and none is
#       missing), and each window file seen during the run has the same
#       bytes at the end (written once and whole);
#   (d) the ventilator killed -9 once more, this time with the input idle
#       after the second piece, once its spool was given back (a stream's
#       text, done, is punched out of the spool at each sync): started
#       again, it must know the watermark and the open windows of that text
#       from its journal, not from the spool's zeros.
# In every job the receipt (--receipt: the job's final status) must count
# the windows written and the late and untimed lines as the reference does.
# No time is asserted: every wait is for an event, bounded.
# Usage: test_event_time.sh BINDIR. Exit 0 passed, 1 failed (said on
# stderr), 77 cannot run here (no python3).
set -uo pipefail
bin=$(cd "${1:?usage: test_event_time.sh BINDIR}" && pwd) || exit 1
here=$(cd "$(dirname "$0")" && pwd)
ref="$here/event_ref.py"
. "$(dirname "$0")/lib.sh"
zt_begin event_time evtime "$bin" python3 awk md5sum pgrep timeout mkfifo \
    -- zmr zmr-ventilator zmr-mapper zmr-reducer zmr-sink

# The reference checks itself first (hand-worked cases, the generator).
python3 "$ref" --self-check || { fail "the reference's self-check"; exit 1; }

# duration MS: zmr run's spelling of MS
duration() { if [ $(($1 % 1000)) = 0 ]; then echo "$(($1 / 1000))s"; else echo "${1}ms"; fi; }

# --- (a) file jobs ----------------------------------------------------------------
# file_job FORMAT W E L [GEN OPTIONS]: W, E, L in ms; E = W: no --every, L = 0:
# no --allowed-lateness (the defaults).
file_job() {
    local fmt=$1 w=$2 e=$3 l=$4
    shift 4
    local label="$fmt W$w E$e L$l" d="$work/$fmt-$w-$e-$l"
    mkdir -p "$d"
    python3 "$ref" gen --format "$fmt" --seed 1 --lines 1500 "$@" "$d/in.txt" || {
        fail "$label: the generator failed"; return; }
    local opts=(--event-time "$fmt" --window "$(duration "$w")")
    [ "$e" = "$w" ] || opts+=(--every "$(duration "$e")")
    [ "$l" = 0 ] || opts+=(--allowed-lateness "$(duration "$l")")
    timeout -s KILL 120 "$bin/zmr" run --no-progress -m 2 -r 2 "${opts[@]}" \
        --window-dir "$d/windows" -o "$d/result.tsv" --receipt "$d/receipt.json" "$d/in.txt" \
        2> "$d/run.err"
    local rc=$?
    if [ "$rc" != 0 ]; then
        fail "$label: zmr run ${opts[*]} exited $rc: $(tail -3 "$d/run.err")"
        return
    fi
    python3 "$ref" check --format "$fmt" --window "$w" --every "$e" --lateness "$l" \
        --input "$d/in.txt" --result "$d/result.tsv" --dir "$d/windows" --min-side \
        --receipt "$d/receipt.json" --label "$label (file)" || failed=1
}

for fmt in epoch rfc3339 clf; do
    gen=()
    [ "$fmt" = epoch ] && gen=(--no-final-newline)   # a last line without '\n'
    file_job "$fmt" 10000 10000 0 "${gen[@]}"
    file_job "$fmt" 10000 10000 2000 "${gen[@]}"
    file_job "$fmt" 10000 5000 0 "${gen[@]}"
    file_job "$fmt" 10000 5000 2000 "${gen[@]}"
done

# --- (b), (c) streams through a FIFO -------------------------------------------------
nwindows() { ls "$1/windows" 2>/dev/null | grep -c '^window-[0-9]*\.tsv$'; }

# wait_windows D N RUNNER: until D holds more than N window files (noting
# each), while RUNNER lives; bounded. True when they are there.
wait_windows() {
    local deadline=$((SECONDS + 90))
    while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$3" 2>/dev/null; do
        zt_note_windows "$1"
        [ "$(nwindows "$1")" -gt "$2" ] && return 0
        sleep 0.1
    done
    zt_note_windows "$1"
    [ "$(nwindows "$1")" -gt "$2" ]
}

# spool_given_back VENTILATOR_PID: true once the stream's spool (the
# ventilator's --journal PATH + .spool.0) holds at most 8 KiB on disk
# while it is longer: the text before its last chunk was given back.
spool_given_back() {
    local journal size blocks
    journal=$(tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | awk 'j { print; exit } /^--journal$/ { j = 1 }
                                                                  /^--journal=/ { sub(/^--journal=/, ""); print; exit }')
    [ -n "$journal" ] && [ -f "$journal.spool.0" ] || return 1
    read -r size blocks < <(stat -c '%s %b' "$journal.spool.0") || return 1
    [ "$size" -gt 16384 ] && [ $((blocks * 512)) -le 8192 ]
}

# stream_job ROLE [idle]: a hopping event-time stream (epoch, W 10 s, E 5 s,
# L 2 s) fed through a held FIFO: a first piece, then a second in 20 bits
# with pauses (by a writer in the background), then a third; ROLE none:
# with --follow; else ROLE is killed -9 once, as soon as a window of the
# second piece is written: the writer still feeding, chunks in flight,
# windows opening and closing; with idle, once the second piece is all
# fed and the spool given back.
stream_job() {
    local role=$1 idle=${2:-} d="$work/stream-$1${2:+-$2}" fmt=epoch label
    label="stream, $( [ "$role" = none ] && echo "--follow" || echo "zmr-$role killed -9${idle:+ with the input idle}")"
    mkdir -p "$d"
    : > "$d/seen"
    python3 "$ref" gen --format "$fmt" --seed 2 --lines 2400 "$d/in.txt" || {
        fail "$label: the generator failed"; return; }
    awk -v d="$d" '{ if (NR <= 800) f = "piece1"; else if (NR > 1600) f = "piece3";
                     else f = sprintf("bit%02d", int((NR - 801) / 40))
                     print > (d "/" f) }' "$d/in.txt"
    mkfifo "$d/in.fifo"
    exec 3<>"$d/in.fifo"
    local follow=()
    [ "$role" = none ] && follow=(--follow)
    timeout -s KILL 300 "$bin/zmr" run --no-progress -m 2 -r 2 --dead-ms 1500 --stream \
        "${follow[@]}" --event-time "$fmt" --window 10s --every 5s --allowed-lateness 2s \
        --window-dir "$d/windows" -o "$d/result.tsv" --receipt "$d/receipt.json" "$d/in.fifo" \
        3>&- > "$d/follow.out" 2> "$d/run.err" &
    local runner=$!
    pids+=("$runner")
    local why="" victim="" zmr_pid n
    # (A writer blocks on a full FIFO if the job is gone: bounded.)
    timeout -s KILL 60 cat "$d/piece1" >&3
    wait_windows "$d" 0 "$runner" || why="$why no window written while the input is open;"
    n=$(nwindows "$d")
    ( for f in "$d"/bit*; do timeout -s KILL 60 cat "$f" >&3 || exit 1; sleep 0.05; done ) &
    local writer=$!
    pids+=("$writer")
    wait_windows "$d" "$n" "$runner" || why="$why no window of the second piece written;"
    if [ "$role" != none ]; then
        zmr_pid=$(pgrep -P "$runner" -x zmr | head -1)
        [ -n "$zmr_pid" ] || zmr_pid=$runner
        victim=$(pgrep -P "$zmr_pid" -x "zmr-$role" | head -1)
        if [ -n "$idle" ] && [ -n "$victim" ]; then
            wait "$writer" || why="$why the second piece could not be fed;"
            local deadline=$((SECONDS + 60))
            until spool_given_back "$victim" || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.1; done
            spool_given_back "$victim" || why="$why the spool was not given back;"
        fi
        if [ -n "$victim" ]; then kill -9 "$victim"; else why="$why no zmr-$role to kill;"; fi
    fi
    [ -n "$idle" ] || wait "$writer" || why="$why the second piece could not be fed;"
    timeout -s KILL 60 cat "$d/piece3" >&3
    if [ "$role" = ventilator ] && [ -n "$victim" ]; then
        # The FIFO's text lives while one end is open: the ventilator
        # started again must have it open before we close ours (closed
        # first, the kernel drops what is in it, and no writer is left to
        # say the end).
        local deadline=$((SECONDS + 60)) again=""
        while [ "$SECONDS" -lt "$deadline" ]; do
            again=$(pgrep -P "$zmr_pid" -x zmr-ventilator | head -1)
            [ -n "$again" ] && [ "$again" != "$victim" ] \
                && ls -l "/proc/$again/fd" 2>/dev/null | grep -q -F "$d/in.fifo" && break
            again=""
            sleep 0.05
        done
        [ -n "$again" ] || why="$why the ventilator started again never opened the input;"
    fi
    exec 3>&-
    while kill -0 "$runner" 2>/dev/null; do zt_note_windows "$d"; sleep 0.1; done
    wait "$runner"
    local rc=$?
    [ "$rc" = 0 ] || why="$why zmr run exited $rc;"
    [ -z "$why" ] || fail "$label:$why $(tail -3 "$d/run.err")"
    local extra=(--seen "$d/seen" --receipt "$d/receipt.json")
    [ "$role" = none ] && extra+=(--follow "$d/follow.out")
    python3 "$ref" check --format "$fmt" --window 10000 --every 5000 --lateness 2000 \
        --input "$d/in.txt" --result "$d/result.tsv" --dir "$d/windows" --min-side \
        "${extra[@]}" --label "$label" || { failed=1; tail -3 "$d/run.err" >&2; }
}

stream_job none
for role in ${ZMR_TEST_ROLES:-mapper reducer sink ventilator}; do
    stream_job "$role"
done
[ -n "${ZMR_TEST_ROLES:-}" ] || stream_job ventilator idle
exit "$failed"
