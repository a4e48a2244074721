#!/usr/bin/env bash
# Windows that survive every crash (issue 17, item 4, ingest-time windows):
# a `zmr run --stream --window 1s --window-dir DIR` job reads a FIFO held
# open by the test, which feeds text in rounds, each round with words of
# its own (r1..., r2..., ...), and waits for the round's words to be all in
# window files before it feeds the next: so each window file holds one
# round's words only, and its reference is that round's text, counted here
# by awk (sort | uniq -c style), independently of zmr. Once per role, and
# at two moments (a window open: right after a round is fed; a window
# closing: a second later), one process is killed -9 (mapper, reducer with
# its --state, sink, ventilator with its --journal; zmr run starts it again;
# and, a window open, with the roles started by hand, the test starting the
# killed one again with its state, journal, or --force for the sink).
# Checked each time:
#   - zmr run exits 0 and the result equals the reference of all the text;
#   - every window file holds one round's words, and the files of a round
#     summed are exactly that round's counts (so the windows summed are the
#     totals);
#   - each window file is written once: the bytes first seen of it are its
#     bytes at the end, and no file seen is missing at the end.
# No time is asserted: every wait is on an event, bounded.
# Usage: test_windows_crash.sh BINDIR. Exit 0 passed, 1 failed (said on
# stderr), 77 cannot run here.
set -uo pipefail
bin=$(cd "${1:?usage: test_windows_crash.sh BINDIR}" && pwd) || exit 1
. "$(dirname "$0")/lib.sh"
zt_begin windows_crash wcrash "$bin" awk sort cmp md5sum pgrep timeout mkfifo \
    -- zmr zmr-ventilator zmr-mapper zmr-reducer zmr-sink
ROUNDS=${ZMR_TEST_ROUNDS:-4}

# round K's text: words rK<letter><n> with counts of many sizes, ~200 KB
round_text() {
    awk -v k="$1" 'BEGIN {
        for (i = 1; i <= 6000; i++)
            printf "r%da%d r%db%d r%dc%d\n", k, (i * 7) % 301, k, (i * 13) % 53, k, i % 1009
    }'
}
# "word<TAB>count" lines of text on stdin, in the result's order (the
# largest count first, ties in byte order)
count_ref() {
    awk '{for (i = 1; i <= NF; i++) n[$i]++} END {for (w in n) print w "\t" n[w]}' |
        sort -t "$(printf '\t')" -k2,2nr -k1,1
}

# Counts, summed over every window file in $1, of the words of round $2
round_words_in() {
    cat "$1"/window-*.tsv 2>/dev/null |
        awk -F '\t' -v p="r$2" 'substr($1, 1, length(p)) == p &&
                                substr($1, length(p) + 1, 1) ~ /[abc]/ {s += $2} END {print s + 0}'
}

# Roles started by hand (mode hand; not under timeout, so that a kill hits
# the role itself: every wait is bounded, the teardown kills them all):
# hand_start KEY [--force] starts the
# role KEY (vent, r0, r1, sink, m0, m1) of the job in $d, its pid in
# hand_pid[KEY]; a role started again gets the same options (its --state,
# its --journal; the sink --force, its --window-dir holding files now).
declare -A hand_pid
hand_start() {
    local key=$1 extra=${2:-} ctl="ipc://$d/ctl"
    case "$key" in
        vent) "$bin/zmr-ventilator" -r 2 --control "$ctl" --chunks "ipc://$d/chunks" \
                  --status "ipc://$d/status" --journal "$d/journal" --window-ms 1000 \
                  --dead-ms 1500 --flush-ms 10 "$d/in.fifo" 3>&- 2>> "$d/run.err" & ;;
        r0|r1) "$bin/zmr-reducer" -p "${key#r}" --bind "ipc://$d/$key" \
                  --state "$d/state" "$ctl" 3>&- 2>> "$d/run.err" & ;;
        sink) "$bin/zmr-sink" --window-dir "$d/windows" $extra \
                  -o "$d/result.tsv" --bind "ipc://$d/sink" "$ctl" 3>&- 2>> "$d/run.err" & ;;
        m0|m1) "$bin/zmr-mapper" "$ctl" 3>&- 2>> "$d/run.err" & ;;
    esac
    hand_pid[$key]=$!
    pids+=("$!")
}

# one_run ROLE MOMENT [MODE]: a windowed stream with ROLE killed -9 at
# MOMENT (open: right after round 2 is fed; closing: a second after round 3
# is); MODE run (default): under zmr run, which starts it again; hand: the
# roles started by hand, and the killed one started again by the test.
one_run() {
    local role=$1 moment=$2 mode=${3:-run} d="$work/$1-$2-${3:-run}"
    mkdir -p "$d"
    : > "$d/seen"
    : > "$d/all.txt"
    : > "$d/run.err"
    mkfifo "$d/in.fifo"
    exec 3<>"$d/in.fifo"
    local runner
    if [ "$mode" = hand ]; then
        local key
        for key in vent r0 r1 sink m0 m1; do hand_start "$key"; done
        runner=${hand_pid[vent]}
    else
        timeout -s KILL 300 "$bin/zmr" run --no-progress -m 2 -r 2 --dead-ms 1500 \
            --window 1s --window-dir "$d/windows" -o "$d/result.tsv" \
            "$d/in.fifo" 3>&- 2> "$d/run.err" &
        runner=$!
        pids+=("$runner")
    fi
    local zmr_pid="" victim="" k deadline fed=0
    for k in $(seq 1 "$ROUNDS"); do
        fed=$k
        round_text "$k" > "$d/round$k.txt"
        cat "$d/round$k.txt" >> "$d/all.txt"
        # (A writer blocks on a full FIFO if the job is gone: bounded.)
        timeout -s KILL 60 cat "$d/round$k.txt" >&3
        local want
        want=$(wc -w < "$d/round$k.txt")
        if { [ "$moment" = open ] && [ "$k" = 2 ]; } ||
           { [ "$moment" = closing ] && [ "$k" = 3 ]; }; then
            [ "$moment" = closing ] && sleep 1
            if [ "$mode" = hand ]; then
                local key
                case "$role" in
                    mapper) key=m0 ;; reducer) key=r0 ;; sink) key=sink ;; *) key=vent ;;
                esac
                victim=${hand_pid[$key]}
                kill -9 "$victim"
                wait "$victim" 2>/dev/null
                hand_start "$key" --force
                [ "$key" = vent ] && runner=${hand_pid[vent]}
            else
                [ -n "$zmr_pid" ] || zmr_pid=$(pgrep -P "$runner" -x zmr | head -1)
                [ -n "$zmr_pid" ] || zmr_pid=$runner
                victim=$(pgrep -P "$zmr_pid" -x "zmr-$role" | head -1)
                [ -n "$victim" ] && kill -9 "$victim"
            fi
        fi
        # The round's words all in window files: its windows are closed.
        deadline=$((SECONDS + 90))
        while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$runner" 2>/dev/null; do
            zt_note_windows "$d"
            [ "$(round_words_in "$d/windows" "$k")" = "$want" ] && break
            sleep 0.2
        done
        zt_note_windows "$d"
        if [ "$(round_words_in "$d/windows" "$k")" != "$want" ]; then
            fail "$role/$moment: round $k's $want words are not all in window files" \
                 "($(round_words_in "$d/windows" "$k")): $(tail -3 "$d/run.err")"
            break
        fi
    done
    exec 3>&-
    wait "$runner"
    local rc=$?
    if [ "$mode" = hand ]; then
        # The others end with the job (FINISH): bounded.
        deadline=$((SECONDS + 60))
        for key in r0 r1 sink m0 m1; do
            while [ "$SECONDS" -lt "$deadline" ] && kill -0 "${hand_pid[$key]}" 2>/dev/null; do
                sleep 0.2
            done
        done
    fi
    zt_note_windows "$d"
    local why=""
    [ -n "$victim" ] || why="no zmr-$role to kill;"
    [ "$rc" = 0 ] || why="$why the job exited $rc;"
    count_ref < "$d/all.txt" > "$d/ref.tsv"
    cmp -s "$d/result.tsv" "$d/ref.tsv" || why="$why the result differs from the reference;"
    # Each file: one round's words; each round's files summed: its counts.
    local f rounds_of
    for f in "$d"/windows/window-*.tsv; do
        [ -e "$f" ] || { why="$why no window file;"; break; }
        rounds_of=$(awk -F '\t' '{sub(/[abc].*/, "", $1); print $1}' "$f" | sort -u | tr '\n' ' ')
        case "$rounds_of" in
            ""|"r"[0-9]" "|"r"[0-9][0-9]" ") ;;
            *) why="$why $(basename "$f") holds words of rounds '$rounds_of';" ;;
        esac
    done
    [ "$fed" = "$ROUNDS" ] || why="$why only $fed rounds fed;"
    for k in $(seq 1 "$fed"); do
        cat "$d"/windows/window-*.tsv 2>/dev/null |
            awk -F '\t' -v p="r$k" 'substr($1, 1, length(p)) == p &&
                                   substr($1, length(p) + 1, 1) ~ /[abc]/ {n[$1] += $2}
                                   END {for (w in n) print w "\t" n[w]}' |
            sort -t "$(printf '\t')" -k2,2nr -k1,1 > "$d/round$k.got"
        count_ref < "$d/round$k.txt" > "$d/round$k.ref"
        cmp -s "$d/round$k.got" "$d/round$k.ref" ||
            why="$why the windows of round $k do not sum to its counts;"
    done
    # Written once: the bytes first seen are the bytes at the end.
    local sum name
    while read -r sum name; do
        if [ ! -e "$d/windows/$name" ]; then
            why="$why $name went missing;"
        elif [ "$(md5sum < "$d/windows/$name" | cut -d' ' -f1)" != "$sum" ]; then
            why="$why $name was rewritten with other content;"
        fi
    done < "$d/seen"
    local nfiles
    nfiles=$(ls "$d/windows" | grep -c '^window-.*\.tsv$')
    local how="zmr run"
    [ "$mode" = hand ] && how="by hand"
    if [ -z "$why" ]; then
        pass "$role killed -9 (window $moment, $how): $nfiles window files, each one round's counts, exact"
    else
        fail "$role killed -9 (window $moment, $how):$why $(tail -3 "$d/run.err")"
    fi
}

# A quarantine survives the ventilator: a map command that fails on a
# marker line while a flag file is there; the marker, fed alone, is
# quarantined (--poison-limit 2), the flag removed, the ventilator killed -9.
# Started again, it must list the chunk as quarantined (exit 3), not try it
# again: tried, it would now be counted, into a window written already.
quarantine_run() {
    local d="$work/quarantine" k deadline
    mkdir -p "$d"
    : > "$d/poison"
    : > "$d/all.txt"
    mkfifo "$d/in.fifo"
    exec 3<>"$d/in.fifo"
    local map="awk -v p='$d/poison' 'BEGIN {poison = (getline line < p) >= 0}
        /QMARK/ && poison {exit 1} {for (i = 1; i <= NF; i++) print \$i \"\t1\"}'"
    timeout -s KILL 300 "$bin/zmr" run --no-progress -m 2 -r 2 --dead-ms 1500 \
        --poison-limit 2 --map "$map" --status "ipc://$d/status" \
        --window 1s --window-dir "$d/windows" -o "$d/result.tsv" \
        "$d/in.fifo" 3>&- 2> "$d/run.err" &
    local runner=$!
    pids+=("$runner")
    echo "q0 QMARK q1" >&3
    deadline=$((SECONDS + 90))
    local quarantined=0
    while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$runner" 2>/dev/null; do
        quarantined=$(timeout 10 "$bin/zmr-monitor" --json --once --wait-ms 5000 \
                      "ipc://$d/status" 2>/dev/null |
                      awk -F '"chunks_quarantined":' 'NF > 1 {split($2, a, /[,}]/); print a[1]}')
        [ "${quarantined:-0}" -ge 1 ] 2>/dev/null && break
        sleep 0.2
    done
    rm -f "$d/poison"
    local zmr_pid victim
    zmr_pid=$(pgrep -P "$runner" -x zmr | head -1)
    [ -n "$zmr_pid" ] || zmr_pid=$runner
    victim=$(pgrep -P "$zmr_pid" -x zmr-ventilator | head -1)
    [ -n "$victim" ] && kill -9 "$victim"
    for k in 1 2; do
        round_text "$k" > "$d/round$k.txt"
        cat "$d/round$k.txt" >> "$d/all.txt"
        timeout -s KILL 60 cat "$d/round$k.txt" >&3
    done
    exec 3>&-
    wait "$runner"
    local rc=$?
    count_ref < "$d/all.txt" | awk -F '\t' '{print $1 "\t" $2}' > "$d/ref.tsv"
    local why=""
    [ "${quarantined:-0}" -ge 1 ] 2>/dev/null || why="$why the marker was not quarantined;"
    [ -n "$victim" ] || why="$why no zmr-ventilator to kill;"
    [ "$rc" = 3 ] || why="$why zmr run exited $rc, not 3;"
    cmp -s "$d/result.tsv" "$d/ref.tsv" || why="$why the result is not the text without the marker's chunk;"
    local total_w total_r
    total_w=$(cat "$d"/windows/window-*.tsv 2>/dev/null | awk -F '\t' '{s += $2} END {print s + 0}')
    total_r=$(wc -w < "$d/all.txt")
    [ "$total_w" = "$total_r" ] || why="$why the windows sum to $total_w words, not $total_r;"
    if [ -z "$why" ]; then
        pass "a quarantine stays quarantined across a ventilator kill -9: exit 3, exact"
    else
        fail "quarantine across a ventilator kill:$why $(tail -3 "$d/run.err")"
    fi
}

for role in ${ZMR_TEST_ROLES:-mapper reducer sink ventilator}; do
    for moment in ${ZMR_TEST_MOMENTS:-open closing}; do
        one_run "$role" "$moment"
    done
done
# By hand, a window open (the moment zmr run's restarts are slowest to
# matter is covered above)
for role in ${ZMR_TEST_HAND_ROLES:-reducer sink ventilator}; do
    one_run "$role" open hand
done
[ "${ZMR_TEST_QUARANTINE:-1}" = 1 ] && quarantine_run
exit "$failed"
