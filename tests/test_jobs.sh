#!/usr/bin/env bash
# Jobs of your own, end to end (issue 16 part 2, "Tests"): zmr run and
# hand-started roles with --map COMMAND and --plugin PATH, each result
# compared byte for byte with an independent reference (awk, sort, uniq,
# python3) on real data from Debian packages: a web-server-style access log
# made from /usr/share/dict/words (client IPs in 198.18.x.y, a path from a
# word, a status, a byte count from the word's length and the line number).
#   (a) requests per client: --map "awk '{print \$1}'", also its --parts
#   (b) bytes per client, --reduce sum, max, and min of a value that can be
#       negative; the result's order is LC_ALL=C sort -t TAB -k2,2nr -k1,1
#       (the word count's: the largest value first, ties in byte order)
#   (c) a command failing on the chunk that holds a marker line: quarantined
#       after --poison-limit, exit 3 naming it, the command's stderr in the
#       log, and the result exact for the rest of the input
#   (d) a command printing garbage, and a sum overflowing 64 bits: the job
#       fails (never exit 0), saying why
#   (e) hand-started roles: a mapper without --map refuses (its log line, the
#       ventilator's line, status mappers_refused 1 and the reason), then an
#       allowed one does the job, exact
#   (f) kill -9 of a mapper and of a reducer (--state) mid-job, the job held
#       open by a FIFO: exact
#   (g) a plugin job with the example plugin (build/examples)
#   (h) --stream --follow with a command job: each key's last line is its
#       final value
#   (i) a ventilator restarted on its --journal with another --map: exit 1
#       naming both jobs
#   (j) --window with a command job: the windows' counts add up to the
#       totals
#   (k) kill -9 of the ventilator mid-job: resumed from its journal, exact
#   (l) a map command that cannot run (sh exit 127): zmr run exits 1 at
#       once naming 'not found' (no chunk failed or quarantined); hand-
#       started, a mapper whose script is missing refuses (exit 2) and gives
#       its chunk back, and a healthy mapper does the job: exact
# Each check prints one line. Usage: test_jobs.sh BINDIR [BUILDDIR].
# Exit 0 all checks passed, 1 a check failed (said on stderr), 77 cannot
# run here (no python3, no /usr/share/dict/words).
set -uo pipefail
bin=$(cd "${1:?usage: test_jobs.sh BINDIR [BUILDDIR]}" && pwd) || exit 1
build=${2:-$bin/..}
. "$(dirname "$0")/lib.sh"
zt_begin jobs jobs "$bin" python3 awk sort uniq timeout mkfifo \
    -- zmr zmr-ventilator zmr-mapper zmr-reducer zmr-sink zmr-monitor
dict=/usr/share/dict/words
[ -s "$dict" ] || skip "no $dict (package wamerican)"

# --- the input ---------------------------------------------------------------
# One request per 7th word: ~50000 lines, ~4 MB.
log="$work/access.log"
awk 'NR % 7 == 0 {
        n++
        ip = "198.18." (n * 7) % 23 "." (n * 13) % 97
        status = n % 17 == 0? 404: 200
        bytes = length($0) * 131 + n % 1000
        printf "%s - - [07/Dec/2026:10:%02d:%02d +0000] \"GET /%s HTTP/1.1\" %d %d\n",
               ip, (n / 60) % 60, n % 60, $0, status, bytes
     }' "$dict" > "$log"
[ "$(wc -l < "$log")" -gt 10000 ] || skip "the log made from $dict is too short"

# ref_sorted: "key<TAB>value" lines in the result's order (the word count's
# rule, checked on the word count itself below).
ref_sorted() { sort -t "$(printf '\t')" -k2,2nr -k1,1; }

# reduce_ref OP FIELD_EXPR: per client, OP (sum, max, min) of a value
# computed by python3 from the line's fields (f: the split line).
reduce_ref() {
    python3 - "$1" "$2" "$log" <<'EOF'
import sys
op, expr, path = sys.argv[1], sys.argv[2], sys.argv[3]
acc = {}
with open(path, 'rb') as f:
    for line in f:
        fields = line.split()
        key = fields[0]
        v = eval(expr, {}, {'f': fields})
        if key not in acc:
            acc[key] = v
        elif op == 'sum':
            acc[key] += v
        elif op == 'max':
            acc[key] = max(acc[key], v)
        else:
            acc[key] = min(acc[key], v)
out = sys.stdout.buffer
for key, v in acc.items():
    out.write(key + b'\t' + str(v).encode() + b'\n')
EOF
}

# run NAME ARGS...: zmr run, bounded, its stderr in $work/NAME.err; sets rc.
run() {
    local name=$1
    shift
    timeout -s KILL 300 "$bin/zmr" run --no-progress "$@" 2> "$work/$name.err"
    rc=$?
}

# The tie rule: the word count's own result is in the order ref_sorted
# makes (so the references below hold the job's results to the same rule).
head -c 300000 "$log" > "$work/small.log"
run wc -m 2 -r 2 -o "$work/wc.tsv" "$work/small.log"
tr -s ' \t\n\v\f\r' '\n' < "$work/small.log" | sed '/^$/d' | sort | uniq -c |
    awk '{print $2 "\t" $1}' | ref_sorted > "$work/wc.ref"
if [ "$rc" = 0 ] && cmp -s "$work/wc.tsv" "$work/wc.ref"; then
    pass "the word count's order is sort -t TAB -k2,2nr -k1,1 ($(wc -l < "$work/wc.ref") words)"
else
    fail "the word count (rc $rc) differs from the reference order: $(cat "$work/wc.err")"
fi

# --- (a) requests per client ---------------------------------------------------
awk '{print $1}' "$log" | sort | uniq -c | awk '{print $2 "\t" $1}' | ref_sorted > "$work/a.ref"
run a -m 2 -r 2 --chunk-size 128K --map "awk '{print \$1}'" -o "$work/a.tsv" \
    --parts "$work/a.parts" "$log"
if [ "$rc" = 0 ] && cmp -s "$work/a.tsv" "$work/a.ref" \
&& [ "$(cat "$work/a.parts"/part-* | sort)" = "$(sort "$work/a.ref")" ]; then
    pass "(a) requests per client: $(wc -l < "$work/a.ref") clients, exact, parts too"
else
    fail "(a) requests per client: rc $rc, result or parts differ from awk|sort|uniq -c: $(tail -3 "$work/a.err")"
fi

# --- (b) bytes per client, sum / max / min ----------------------------------------
check_reduce() {
    local op=$1 awkval=$2 pyval=$3 label=$4
    reduce_ref "$op" "$pyval" | ref_sorted > "$work/b-$op.ref"
    run "b-$op" -m 2 -r 2 --chunk-size 128K --reduce "$op" \
        --map "awk '{print \$1 \"\\t\" $awkval}'" -o "$work/b-$op.tsv" "$log"
    if [ "$rc" = 0 ] && cmp -s "$work/b-$op.tsv" "$work/b-$op.ref"; then
        pass "(b) $label, --reduce $op: $(wc -l < "$work/b-$op.ref") clients, exact and in order"
    else
        fail "(b) $label, --reduce $op: rc $rc, differs from python3: $(tail -3 "$work/b-$op.err")"
    fi
}
check_reduce sum '$NF' 'int(f[-1])' "bytes per client"
check_reduce max '$NF' 'int(f[-1])' "largest response per client"
# A value that can be negative: the order and the reduce are signed.
check_reduce min '(3000 - $NF)' '3000 - int(f[-1])' "smallest (3000 - bytes) per client"
if ! grep -q $'\t-' "$work/b-min.ref"; then
    fail "(b) the min check has no negative value: it checks no signed order"
fi

# --- (c) a command failing on one chunk ------------------------------------------------
# The marker is a line of its own in the middle of the log; the command
# fails (exit 1, a line on stderr) on the chunk that holds it, wherever it
# runs: the chunk is quarantined after --poison-limit 2 failures.
lines=$(wc -l < "$log")
{ head -n $((lines / 2)) "$log"; echo "POISON marker line"; tail -n +$((lines / 2 + 1)) "$log"; } \
    > "$work/poisoned.log"
run c -m 2 -r 1 --chunk-size 128K --poison-limit 2 -o "$work/c.tsv" \
    --map "awk '/^POISON/ { print \"zmr-test: poison line met\" > \"/dev/stderr\"; bad = 1 }
               { print \$1 } END { exit bad }'" "$work/poisoned.log"
# The quarantined chunk as the ventilator lists it: "  'FILE' offset N, L bytes"
read -r q_off q_len < <(sed -n "s/.*'.*poisoned.log' offset \([0-9]*\), \([0-9]*\) bytes.*/\1 \2/p" \
                        "$work/c.err" | head -1)
if [ "$rc" = 3 ] && [ -n "${q_len:-}" ] && grep -q "zmr-test: poison line met" "$work/c.err" \
&& grep -q "quarantined" "$work/c.err"; then
    # The result is exact for the rest of the input.
    { head -c "$q_off" "$work/poisoned.log"; tail -c +$((q_off + q_len + 1)) "$work/poisoned.log"; } |
        awk '{print $1}' | sort | uniq -c | awk '{print $2 "\t" $1}' | ref_sorted > "$work/c.ref"
    if cmp -s "$work/c.tsv" "$work/c.ref" && [ "$(grep -c "zmr-test: poison line met" "$work/c.err")" -ge 2 ]; then
        pass "(c) the failing chunk (offset $q_off, $q_len bytes) quarantined after 2 failures, exit 3, the rest exact"
    else
        fail "(c) exit 3, but the result differs from the input without the quarantined chunk, or fewer than 2 failures logged"
    fi
else
    fail "(c) a failing command: rc $rc (3 expected), quarantine/stderr not in the log: $(tail -5 "$work/c.err")"
fi

# --- (d) garbage, and a sum that overflows ----------------------------------------------
head -c 400000 "$log" > "$work/d.log"
run d -m 2 -r 1 --chunk-size 128K --poison-limit 1 -o "$work/d.tsv" \
    --map "printf 'client\\tnot-a-number\\n'" "$work/d.log"
if [ "$rc" != 0 ] && grep -q "quarantined" "$work/d.err" && grep -q "not-a-number" "$work/d.err"; then
    pass "(d) a command printing garbage: exit $rc, its chunks quarantined, the bad line in the log"
else
    fail "(d) a command printing garbage: rc $rc (non-zero expected), no quarantine or bad line in the log: $(tail -3 "$work/d.err")"
fi
run d2 -m 2 -r 1 --chunk-size 128K -o "$work/d2.tsv" \
    --map "printf 'big\\t9000000000000000000\\n'" "$work/d.log"
if [ "$rc" = 1 ] && grep -q "'big'" "$work/d2.err" && grep -Eqi "overflow|64 bits" "$work/d2.err"; then
    pass "(d) a sum past 64 bits: exit 1, the key named"
else
    fail "(d) a sum past 64 bits: rc $rc (1 expected), key or overflow not said: $(tail -3 "$work/d2.err")"
fi
# The same within one chunk: the mapper's own merge overflows; the job fails
# the same way (exit 1, the key named), it is not a chunk quarantined (exit 3).
printf 'tiny\t9223372036854775807\ntiny\t1\n' > "$work/d3.log"
run d3 -m 1 -r 1 -o "$work/d3.tsv" --map cat "$work/d3.log"
if [ "$rc" = 1 ] && grep -q "'tiny'" "$work/d3.err" && grep -Eqi "overflow|64 bits" "$work/d3.err" \
   && [ ! -e "$work/d3.tsv" ]; then
    pass "(d) a sum past 64 bits within one chunk: exit 1, the key named"
else
    fail "(d) a sum past 64 bits within one chunk: rc $rc (1 expected), key or overflow not said: $(tail -3 "$work/d3.err")"
fi

# --- (e) hand-started roles: a mapper that may not run the job refuses -----------------
e="$work/e"
mkdir -p "$e"
map_cmd="awk '{print \$1}'"
timeout -s KILL 300 "$bin/zmr-ventilator" -r 1 --control "ipc://$e/control" \
    --chunks "ipc://$e/chunks" --status "ipc://$e/status" --chunk-size 128K \
    --dead-ms 2000 --map "$map_cmd" "$log" 2> "$e/ventilator.err" &
vent=$!
pids+=("$vent")
timeout -s KILL 300 "$bin/zmr-reducer" -p 0 -r 1 --bind "ipc://$e/reducer" \
    "ipc://$e/control" 2> "$e/reducer.err" &
pids+=($!)
timeout -s KILL 300 "$bin/zmr-sink" --bind "ipc://$e/sink" -o "$e/result.tsv" \
    "ipc://$e/control" 2> "$e/sink.err" &
pids+=($!)
timeout -s KILL 120 "$bin/zmr-mapper" --once "ipc://$e/control" 2> "$e/refuser.err" &
refuser=$!
pids+=("$refuser")
refused=
for _ in $(seq 600); do
    grep -q "refused the job" "$e/ventilator.err" && { refused=1; break; }
    kill -0 "$vent" 2>/dev/null || break
    sleep 0.1
done
wait "$refuser"
refuser_rc=$?
status=$(timeout 30 "$bin/zmr-monitor" --json --once --wait-ms 20000 "ipc://$e/status" 2>/dev/null)
refused_n=$(printf '%s' "$status" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("mappers_refused"))' 2>/dev/null)
reason=$(printf '%s' "$status" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("reason"))' 2>/dev/null)
if [ -n "$refused" ] && [ "$refuser_rc" = 1 ] && [ -s "$e/refuser.err" ] && [ "$refused_n" = 1 ] \
&& [[ $reason == "no mapper may run this job: 1 refused it"* ]]; then
    pass "(e) a mapper without --map refused (exit 1, its log: $(head -1 "$e/refuser.err" | cut -c1-80)...), status mappers_refused 1"
else
    fail "(e) refusal: ventilator line '${refused:-none}', mapper exit $refuser_rc, mappers_refused '$refused_n', reason '$reason'"
fi
# The command it suggests pastes into a shell: one word, the job's --map
suggested=$(grep -m1 -o "start it with --map .*" "$e/refuser.err" | sed 's/^start it with --map //')
eval "set -- $suggested" 2>/dev/null
if [ -n "$suggested" ] && [ "$#" = 1 ] && [ "$1" = "$map_cmd" ]; then
    pass "(e) the refusal suggests --map $suggested: pastes into a shell as the job's --map"
else
    fail "(e) the refusal's suggestion '$suggested' is not the job's --map as one shell word"
fi
timeout -s KILL 300 "$bin/zmr-mapper" --once --map "$map_cmd" "ipc://$e/control" 2> "$e/mapper.err" &
pids+=($!)
wait "$vent"
vent_rc=$?
if [ "$vent_rc" = 0 ] && cmp -s "$e/result.tsv" "$work/a.ref"; then
    pass "(e) then a mapper started with the job's --map did the job: exact"
else
    fail "(e) the allowed mapper's job: ventilator exit $vent_rc, result differs: $(tail -3 "$e/ventilator.err")"
fi

# --- (f) kill -9 of a mapper and of a reducer mid-job ----------------------------------
# The job reads a FIFO held open on fd 3: it cannot end before the test
# has killed both and fed the rest.
f="$work/f"
mkdir -p "$f"
half=$(( $(stat -c %s "$log") / 2 ))
mkfifo "$f/in.fifo"
exec 3<>"$f/in.fifo"
timeout -s KILL 300 "$bin/zmr" run --no-progress -m 2 -r 2 --chunk-size 64K --dead-ms 2000 \
    --status "ipc://$f/status" --map "awk '{print \$1 \"\\t\" \$NF}'" -o "$f/result.tsv" \
    "$f/in.fifo" 3>&- 2> "$f/run.err" &
runner=$!
pids+=("$runner")
# (A writer blocks on a full FIFO if the job is gone: bounded.)
timeout -s KILL 120 head -c "$half" "$log" >&3
chunks_done() {
    timeout 10 "$bin/zmr-monitor" --json --once --wait-ms 5000 "ipc://$f/status" 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin).get("chunks_done", 0))' 2>/dev/null
}
deadline=$((SECONDS + 120))
while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$runner" 2>/dev/null; do
    [ "$(chunks_done)" -ge 3 ] 2>/dev/null && break
    sleep 0.2
done
zmr_pid=$(pgrep -P "$runner" -x zmr | head -1)
[ -n "$zmr_pid" ] || zmr_pid=$runner
mapper=$(pgrep -P "$zmr_pid" -x zmr-mapper | head -1)
reducer=$(pgrep -P "$zmr_pid" -x zmr-reducer | head -1)
killed=""
[ -n "$mapper" ] && kill -9 "$mapper" && killed="mapper"
[ -n "$reducer" ] && kill -9 "$reducer" && killed="$killed reducer"
timeout -s KILL 120 tail -c +$((half + 1)) "$log" >&3
exec 3>&-
wait "$runner"
rc=$?
reduce_ref sum 'int(f[-1])' | ref_sorted > "$work/f.ref"
if [ "$killed" = "mapper reducer" ] && [ "$rc" = 0 ] && cmp -s "$f/result.tsv" "$work/f.ref"; then
    pass "(f) kill -9 of a mapper and of a reducer mid-job: exact"
else
    fail "(f) kill -9 mid-job (killed: '$killed'): rc $rc, result differs: $(tail -3 "$f/run.err")"
fi

# --- (g) a plugin job -----------------------------------------------------------------
plugin="$build/examples/libzmr_example.so"
if [ -f "$plugin" ]; then
    # The example plugin's job: bytes per client of a common log line (the
    # first field, the last field's integer).
    run g -m 2 -r 2 --chunk-size 128K --plugin "$plugin" -o "$work/g.tsv" "$log"
    reduce_ref sum 'int(f[-1])' | ref_sorted > "$work/g.ref"
    if [ "$rc" = 0 ] && cmp -s "$work/g.tsv" "$work/g.ref"; then
        pass "(g) the example plugin's job: exact"
    else
        fail "(g) plugin $plugin: rc $rc, differs from python3: $(tail -3 "$work/g.err")"
    fi
else
    fail "(g) no example plugin at $plugin (built with the tree: examples/)"
fi

# --- (h) --stream --follow -------------------------------------------------------------
timeout -s KILL 300 "$bin/zmr" run --no-progress -m 2 -r 2 --stream --follow \
    --map "awk '{print \$1}'" < "$log" > "$work/h.follow" 2> "$work/h.err"
rc=$?
awk -F '\t' '{last[$1] = $2} END {for (k in last) print k "\t" last[k]}' "$work/h.follow" |
    ref_sorted > "$work/h.final"
if [ "$rc" = 0 ] && cmp -s "$work/h.final" "$work/a.ref"; then
    pass "(h) --stream --follow: $(wc -l < "$work/h.follow") updates, each client's last is its total"
else
    fail "(h) --stream --follow: rc $rc, the last lines differ from the totals: $(tail -3 "$work/h.err")"
fi

# --- (i) a journal is resumed only by its own job ------------------------------------------
i="$work/i"
mkdir -p "$i"
vent_args=(--control "ipc://$i/control" --chunks "ipc://$i/chunks" --status "ipc://$i/status"
           --journal "$i/job.journal")
timeout -s KILL 60 "$bin/zmr-ventilator" "${vent_args[@]}" --map "awk '{print \$1}'" "$log" \
    2> "$i/first.err" &
first=$!
pids+=("$first")
for _ in $(seq 300); do [ -s "$i/job.journal" ] && break; sleep 0.1; done
kill -TERM "$first"
wait "$first"
timeout -s KILL 60 "$bin/zmr-ventilator" "${vent_args[@]}" --map "awk '{print \$2}'" "$log" \
    2> "$i/second.err"
rc=$?
if [ "$rc" = 1 ] && grep -q "'awk '{print \$1}'' (command" "$i/second.err" \
&& grep -q "'awk '{print \$2}'' (command" "$i/second.err"; then
    pass "(i) a journal of another job definition: exit 1 naming both"
else
    fail "(i) a journal of another job: rc $rc (1 expected): $(cat "$i/second.err")"
fi

# --- (j) --window with a command job -----------------------------------------------------
# The log in three parts into windows of 100 ms, through a FIFO the test
# holds: the next part goes in only once a window holding the one before has
# been written (an event, not a pause: on a slow or loaded machine a pause
# could be absorbed by backpressure and leave one window), so there are at
# least two windows, and each client's counts over all of them add up to its
# total.
j="$work/j"
mkdir -p "$j"
mkfifo "$j/in.fifo"
exec 4<>"$j/in.fifo"
timeout -s KILL 300 "$bin/zmr" run --no-progress -m 2 -r 2 --window 100ms \
    --window-dir "$j/windows" --map "awk '{print \$1}'" -o "$j/result.tsv" \
    "$j/in.fifo" 4>&- 2> "$j/run.err" &
runner=$!
pids+=("$runner")
windows_now() { ls "$j/windows" 2>/dev/null | grep -c '^window-.*\.tsv$'; }
# Thirds of the log, whatever its length (wamerican's word list makes ~15000
# lines, wamerican-huge's ~50000).
third=$(( $(wc -l < "$log") / 3 ))
for part in "1,${third}p" "$((third + 1)),$((2 * third))p" "$((2 * third + 1)),\$p"; do
    before=$(windows_now)
    timeout -s KILL 120 sed -n "$part" "$log" >&4
    [ "$part" = "$((2 * third + 1)),\$p" ] && break
    deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ] && [ "$(windows_now)" -le "$before" ] \
          && kill -0 "$runner" 2>/dev/null; do
        sleep 0.1
    done
done
exec 4>&-
wait "$runner"
rc=$?
nwindows=$(ls "$j/windows" 2>/dev/null | grep -c '^window-.*\.tsv$')
cat "$j/windows"/window-*.tsv 2>/dev/null |
    awk -F '\t' '{sum[$1] += $2} END {for (k in sum) print k "\t" sum[k]}' | ref_sorted > "$j/sums"
if [ "$rc" = 0 ] && [ "$nwindows" -ge 2 ] && cmp -s "$j/sums" "$work/a.ref" \
&& cmp -s "$j/result.tsv" "$work/a.ref"; then
    pass "(j) --window 100ms: $nwindows windows, each client's counts over them add up to its total"
else
    fail "(j) --window: rc $rc, $nwindows windows, sums or result differ: $(tail -3 "$j/run.err")"
fi

# --- (k) kill -9 of the ventilator mid-job ---------------------------------------------
# zmr run starts it again on its journal: the chunks done before are not
# issued again, their pairs come from the journal, and the end check (the
# pairs the reducers applied against those the completed chunks sent) and
# the result hold across the restart.
k="$work/k"
mkdir -p "$k"
mkfifo "$k/in.fifo"
exec 3<>"$k/in.fifo"
timeout -s KILL 300 "$bin/zmr" run --no-progress -m 2 -r 2 --chunk-size 64K --dead-ms 2000 \
    --status "ipc://$k/status" --map "awk '{print \$1 \"\\t\" \$NF}'" -o "$k/result.tsv" \
    "$k/in.fifo" 3>&- 2> "$k/run.err" &
runner=$!
pids+=("$runner")
timeout -s KILL 120 head -c "$half" "$log" >&3
deadline=$((SECONDS + 120))
while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$runner" 2>/dev/null; do
    n=$(timeout 10 "$bin/zmr-monitor" --json --once --wait-ms 5000 "ipc://$k/status" 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin).get("chunks_done", 0))' 2>/dev/null)
    [ "${n:-0}" -ge 3 ] 2>/dev/null && break
    sleep 0.2
done
zmr_pid=$(pgrep -P "$runner" -x zmr | head -1)
ventilator=$(pgrep -P "${zmr_pid:-$runner}" -x zmr-ventilator | head -1)
[ -n "$ventilator" ] && kill -9 "$ventilator"
timeout -s KILL 120 tail -c +$((half + 1)) "$log" >&3
exec 3>&-
wait "$runner"
rc=$?
if [ -n "$ventilator" ] && [ "$rc" = 0 ] \
&& grep -q "resuming job [0-9a-f]*: [0-9]* chunks cut, [1-9][0-9]* complete" "$k/run.err" \
&& cmp -s "$k/result.tsv" "$work/f.ref"; then
    pass "(k) kill -9 of the ventilator mid-job: $(grep -o "[0-9]* complete" "$k/run.err" | head -1) in its journal, resumed, exact"
else
    fail "(k) kill -9 of the ventilator (pid '${ventilator:-none}'): rc $rc, no resume or result differs: $(tail -3 "$k/run.err")"
fi

# --- (l) a map command that cannot run here --------------------------------------------
l="$work/l"
mkdir -p "$l/bin"
run l-run -m 2 -r 1 --map no-such-cmd-xyz "$work/small.log"
if [ "$rc" = 1 ] && grep -q "no-such-cmd-xyz: not found" "$work/l-run.err" \
&& ! grep -qiE "quarantin|crashed|chunk [0-9]+ failed" "$work/l-run.err"; then
    pass "(l) zmr run --map no-such-cmd-xyz: exit 1, '$(grep -m1 -o "map command cannot run here.*" "$work/l-run.err")'"
else
    fail "(l) zmr run --map no-such-cmd-xyz: rc $rc: $(head -5 "$work/l-run.err")"
fi
# One command, two machines: the script is where MAPDIR says, missing on one
printf '#!/bin/sh\nexec awk "{print \\$1}"\n' > "$l/bin/job.sh"
chmod +x "$l/bin/job.sh"
l_cmd='"$MAPDIR/job.sh"'
timeout -s KILL 300 "$bin/zmr-ventilator" -r 1 --control "ipc://$l/control" \
    --chunks "ipc://$l/chunks" --status "ipc://$l/status" --chunk-size 128K \
    --dead-ms 2000 --poison-limit 2 --map "$l_cmd" "$log" 2> "$l/ventilator.err" &
vent=$!
pids+=("$vent")
timeout -s KILL 300 "$bin/zmr-reducer" -p 0 -r 1 --bind "ipc://$l/reducer" \
    "ipc://$l/control" 2> "$l/reducer.err" &
pids+=($!)
timeout -s KILL 300 "$bin/zmr-sink" --bind "ipc://$l/sink" -o "$l/result.tsv" \
    "ipc://$l/control" 2> "$l/sink.err" &
pids+=($!)
MAPDIR="$l/missing" timeout -s KILL 120 "$bin/zmr-mapper" --once --map "$l_cmd" \
    "ipc://$l/control" 2> "$l/refuser.err" &
refuser=$!
pids+=("$refuser")
wait "$refuser"
refuser_rc=$?
MAPDIR="$l/bin" timeout -s KILL 300 "$bin/zmr-mapper" --once --map "$l_cmd" \
    "ipc://$l/control" 2> "$l/mapper.err" &
healthy=$!
pids+=("$healthy")
wait "$vent"
vent_rc=$?
# The healthy mapper leaves after the job; if not, timeout passes it SIGTERM
# (a SIGKILL of timeout in the cleanup would leave the mapper running)
for _ in $(seq 100); do kill -0 "$healthy" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$healthy" 2>/dev/null
wait "$healthy" 2>/dev/null
if [ "$refuser_rc" = 2 ] && grep -q "refused the job: map command cannot run here: exit 127: .*not found" "$l/ventilator.err" \
&& ! grep -qi "failed\|quarantin" "$l/ventilator.err" \
&& [ "$vent_rc" = 0 ] && cmp -s "$l/result.tsv" "$work/a.ref"; then
    pass "(l) a mapper whose script is missing refused (exit 2), its chunk went to a healthy one: exact"
else
    fail "(l) missing script: refuser exit $refuser_rc ($(head -2 "$l/refuser.err")), ventilator exit $vent_rc: $(grep -i "refus\|fail\|quarantin" "$l/ventilator.err" | head -3)"
fi

exit "$failed"
