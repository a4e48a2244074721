#!/usr/bin/env bash
# Runs one whole job over ipc:// with every role under valgrind, and fails
# on any memory error, any leak, a non-zero exit, or a wrong result. The
# job streams (input through a FIFO) with running totals (--follow,
# --snapshot, --publish) and tumbling windows, with CURVE on every socket
# (a certificate per process, one allow-list), so every path runs.
# usage: tests/valgrind_job.sh BIN_DIR
set -euo pipefail
bin=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/zmr-vg-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# A few hundred KB of real text, with the awkward bytes docs/design.md names.
if command -v bible >/dev/null; then
    bible gen1:1-gen50:26 > "$dir/input"
else
    seq 1 50000 | sed 's/$/ word/' > "$dir/input"
fi
printf 'tab\there\vvt\fff\r\ncrlf \x00nul \xff\xfe bad-utf8 no-newline' >> "$dir/input"

vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
    --suppressions="$here/valgrind-libzmq.supp"
    --show-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=no)
start() {   # start NAME COMMAND... (stdin from $in, stdout to $dir/NAME.out)
    local name=$1; shift
    "${vg[@]}" --log-file="$dir/$name.vg" "$@" <"${in:-/dev/null}" >"$dir/$name.out" \
        2>"$dir/$name.err" &
    pids+=($!)
    names+=("$name")
}
names=()
c="ipc://$dir/control"
# A certificate per process; every public one allowed.
mkdir "$dir/certs" "$dir/allow"
for who in ventilator reducer0 reducer1 sink mapper0 mapper1; do
    "$bin/zmr" keygen "$dir/certs/$who" >/dev/null 2>&1
    cp "$dir/certs/$who.cert" "$dir/allow/"
done
curve() {   # curve WHO [binds] [connects]: the CURVE options of WHO
    printf -- '--curve-cert=%s\n' "$dir/certs/$1.cert_secret"
    case " $* " in *" binds "*) printf -- '--curve-allow=%s\n' "$dir/allow" ;; esac
    case " $* " in *" connects "*) printf -- '--curve-server=%s\n' "$dir/allow/ventilator.cert" ;; esac
}
mapfile -t vent_curve < <(curve ventilator binds)
mapfile -t r0_curve < <(curve reducer0 binds connects)
mapfile -t r1_curve < <(curve reducer1 binds connects)
mapfile -t sink_curve < <(curve sink binds connects)
mapfile -t m0_curve < <(curve mapper0 connects)
mapfile -t m1_curve < <(curve mapper1 connects)
mkfifo "$dir/stream"
mkdir "$dir/windows"
# The text goes in through a FIFO in pieces, so flushes and several
# windows happen.
(split -b 16384 --filter='cat; sleep 0.05' "$dir/input" > "$dir/stream") &
in="$dir/stream" start ventilator "$bin/zmr-ventilator" -r 2 --control "$c" \
    --chunks "ipc://$dir/chunks" --status "ipc://$dir/status" --chunk-size 32K \
    --dead-ms 20000 --live-ms 10 --flush-ms 10 --window-ms 300 "${vent_curve[@]}" -
start reducer0 "$bin/zmr-reducer" -p 0 --bind "ipc://$dir/r0" "${r0_curve[@]}" "$c"
start reducer1 "$bin/zmr-reducer" -p 1 --bind "ipc://$dir/r1" "${r1_curve[@]}" "$c"
start sink "$bin/zmr-sink" -o "$dir/output" --bind "ipc://$dir/sink" --follow \
    --snapshot "$dir/snapshot" --publish "ipc://$dir/totals" --window-dir "$dir/windows" \
    "${sink_curve[@]}" "$c"
start mapper0 "$bin/zmr-mapper" --once "${m0_curve[@]}" "$c"
start mapper1 "$bin/zmr-mapper" --once "${m1_curve[@]}" "$c"

failed=0
deadline=$((SECONDS + 300))
for i in "${!pids[@]}"; do
    while kill -0 "${pids[$i]}" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if kill -0 "${pids[$i]}" 2>/dev/null; then
        echo "valgrind job: ${names[$i]} did not finish in time" >&2
        failed=1
        continue
    fi
    rc=0; wait "${pids[$i]}" || rc=$?
    if [ $rc -ne 0 ] || [ -s "$dir/${names[$i]}.vg" ]; then
        echo "valgrind job: ${names[$i]} exited $rc" >&2
        cat "$dir/${names[$i]}.vg" "$dir/${names[$i]}.err" >&2
        failed=1
    fi
done
pids=()

export LC_ALL=C
tr -s ' \t\n\v\f\r' '\n' < "$dir/input" | sed '/^$/d' | sort | uniq -c \
    | awk '{ n = $1; sub(/^ *[0-9]+ /, ""); print $0 "\t" n }' | sort > "$dir/reference"
# The result, the snapshot, the last --follow line of each word, and the
# windows summed: each must be the reference.
sort < "$dir/output" > "$dir/sorted"
sort < "$dir/snapshot" > "$dir/snapshot.sorted"
awk -F'\t' '{ last[$1] = $2 } END { for (w in last) print w "\t" last[w] }' \
    "$dir/sink.out" | sort > "$dir/follow.sorted"
cat "$dir"/windows/window-*.tsv | awk -F'\t' '{ n[$1] += $2 } END { for (w in n) print w "\t" n[w] }' \
    | sort > "$dir/windows.sorted"
for view in sorted snapshot.sorted follow.sorted windows.sorted; do
    if ! cmp -s "$dir/reference" "$dir/$view"; then
        echo "valgrind job: the $view view differs from the reference" >&2
        diff "$dir/reference" "$dir/$view" | head >&2
        failed=1
    fi
done
if [ $failed -ne 0 ]; then
    echo "valgrind: 0 passed, 1 failed"
    exit 1
fi
echo "valgrind job: 6 processes clean (CURVE on), result exact"
echo "valgrind: 1 passed, 0 failed"
