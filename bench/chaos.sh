#!/usr/bin/env bash
# chaos.sh: kill -9 a random process of a zmr run job every 1-3 s, then check
# that the result equals the reference and that the receipt verifies.
#   bench/chaos.sh [--size MB] [--seed N] [--map-cost N] [--build DIR]
# The map is made costlier (zmr run --map-cost) so that the job lasts long
# enough to be hit many times. Too long for CI (minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
size=100 seed=1 build=build cost=300
while [ $# -gt 0 ]; do
    case "$1" in
        --size) size=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --map-cost) cost=$2; shift 2 ;;
        *) echo "usage: bench/chaos.sh [--size MB] [--seed N] [--map-cost N] [--build DIR]" >&2; exit 2 ;;
    esac
done
bin=$build/bin
out=bench/out/chaos
mkdir -p "$out"
export LC_ALL=C
input=$out/kjv-$size.txt
if [ ! -s "$input" ]; then
    bible gen1:1-rev22:21 > "$out/kjv.txt"
    : > "$input"
    while [ "$(stat -c %s "$input")" -lt $((size * 1000000)) ]; do cat "$out/kjv.txt" >> "$input"; done
fi
if [ ! -s "$input.ref" ]; then
    tr -s ' \t\n\v\f\r' '\n' < "$input" | sed '/^$/d' | sort | uniq -c \
        | awk '{ n = $1; sub(/^ *[0-9]+ /, ""); print $0 "\t" n }' | sort > "$input.ref"
fi
rm -f "$out/result.tsv" "$out/receipt.json"     # never judge an earlier run's result
work=$(mktemp -d /tmp/zmr-chaos-XXXXXX)
trap 'kill -9 $(pgrep -f "$work") 2>/dev/null || true; rm -rf "$work"' EXIT
RANDOM=$seed
start=$(date +%s)
TMPDIR=$work $bin/zmr run --no-progress --map-cost "$cost" --status "ipc://$work/status" \
    --receipt "$out/receipt.json" -o "$out/result.tsv" "$input" 2>"$out/run.err" &
zmr=$!
kills=0
roles=(ventilator sink reducer mapper)
while kill -0 $zmr 2>/dev/null; do
    sleep "$((RANDOM % 3 + 1))"
    kill -0 $zmr 2>/dev/null || break
    role=${roles[$((RANDOM % 4))]}
    # Our children are the only zmr processes whose command line names $work.
    pids=($(pgrep -f "zmr-$role .*$work" || true))
    [ ${#pids[@]} -gt 0 ] || continue
    victim=${pids[$((RANDOM % ${#pids[@]}))]}
    kill -9 "$victim" 2>/dev/null && kills=$((kills + 1)) && echo "chaos: killed $role (pid $victim)"
done
rc=0; wait $zmr || rc=$?
seconds=$(( $(date +%s) - start ))
sort "$out/result.tsv" > "$out/result.sorted"
verdict=EXACT
cmp -s "$out/result.sorted" "$input.ref" || verdict=WRONG
receipt=$(scripts/verify-receipt "$out/result.tsv" "$out/receipt.json" || true)
echo "chaos: ${size} MB, seed $seed, $kills kills, ${seconds} s, zmr exit $rc, result $verdict"
echo "$receipt"
[ "$rc" -eq 0 ] && [ "$verdict" = EXACT ] && [[ "$receipt" == *OK* ]]
