#!/usr/bin/env bash
# A real Prometheus scrapes a running job through `zmr run --http` (issue 15,
# item 2). The job reads a FIFO this script holds open, so it is still
# running when Prometheus (scrape interval 1 s, its own data directory)
# finds it: the test waits for a first sample of the job in phase mapping,
# then feeds the rest and ends the input. zmr run --http-linger keeps
# serving the final state after the job, so a later scrape has the end.
# Prometheus's HTTP API must then give the job's final word count, chunk
# counts and per-partition words and distinct words equal to:
#   - the job's receipt (zmr run --receipt),
#   - an independent reference: tr | sort | uniq -c over the input, and the
#     part-NNNNN files of --parts summed with awk, one per partition;
# and `promtool check metrics` must accept a scrape of /metrics.
# Usage: test_prometheus.sh BINDIR. Exit 0 all equal, 1 a difference (said
# on stderr), 77 cannot run here (no prometheus, promtool, python3, bible).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bin=$(cd "${1:?usage: test_prometheus.sh BINDIR}" && pwd) || exit 1
skip() { echo "SKIP: prometheus: $*"; exit 77; }
fail() { echo "FAIL: prometheus: $*" >&2; exit 1; }

for t in prometheus promtool python3 bible; do
    command -v "$t" >/dev/null || skip "no $t (./dev.sh installs prometheus and bible-kjv)"
done
[ -x "$bin/zmr" ] || fail "no $bin/zmr"

work=$(mktemp -d "${TMPDIR:-/tmp}/zmr-prometheus-XXXXXX")
pids=()
cleanup() {
    local p
    exec 3>&- 2>/dev/null
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${ZMR_TEST_KEEP:-}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
t0=$SECONDS

# Two free loopback ports below the ephemeral range (as harness.c's
# h_free_port: no outgoing connection can be holding one when it is bound).
read -r zmr_port prom_port < <(python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
ports = []
while len(ports) < 2:
    p = random.randrange(1024, low)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        if p not in ports: ports.append(p)
    except OSError:
        pass
    s.close()
print(*ports)')
[ -n "${prom_port:-}" ] || fail "no free loopback port"

zt_kjv_input "$work" || skip "bible printed nothing"
ref_words=$(awk '{n += $2} END {print n}' "$work/reference")
ref_distinct=$(wc -l < "$work/reference")

# The job: 2 reducers, 2 mappers, 64 KiB chunks, reading the FIFO held open
# on fd 3 (read-write: opening never blocks; the job cannot end before it
# is closed). Bounded by timeout in case it never ends.
mkfifo "$work/in.fifo"
exec 3<>"$work/in.fifo"
timeout -s KILL 300 "$bin/zmr" run -r 2 -m 2 --chunk-size 64K --no-progress \
    --http "127.0.0.1:$zmr_port" --http-linger 300s \
    -o "$work/counts.tsv" --parts "$work/parts" --receipt "$work/receipt.json" \
    "$work/in.fifo" 3>&- > "$work/zmr.log" 2>&1 &
zmr_pid=$!
pids+=("$zmr_pid")

cat > "$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: zmr
    static_configs:
      - targets: ['127.0.0.1:$zmr_port']
EOF
timeout -s KILL 300 prometheus --config.file="$work/prometheus.yml" \
    --storage.tsdb.path="$work/tsdb" --web.listen-address="127.0.0.1:$prom_port" \
    3>&- > "$work/prometheus.log" 2>&1 &
pids+=("$!")

# query PROMQL: the value of the instant query's single series ("" if none).
query() {
    python3 - "$prom_port" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
url = "http://127.0.0.1:%s/api/v1/query?%s" % (
    sys.argv[1], urllib.parse.urlencode({"query": sys.argv[2]}))
try:
    with urllib.request.urlopen(url, timeout=5) as r:
        d = json.load(r)
except Exception:
    sys.exit(0)
res = d.get("data", {}).get("result", [])
if d.get("status") == "success" and len(res) == 1:
    v = res[0]["value"][1]
    print(int(float(v)) if float(v).is_integer() else v)
EOF
}
# wait_for PROMQL VALUE SECONDS: until the query gives VALUE, bounded.
wait_for() {
    local end=$((SECONDS + $3)) v
    while [ $SECONDS -lt $end ]; do
        v=$(query "$1")
        [ "$v" = "$2" ] && return 0
        kill -0 "$zmr_pid" 2>/dev/null || { cat "$work/zmr.log" >&2; fail "zmr run ended early"; }
        sleep 0.5
    done
    fail "Prometheus never gave $1 = $2 within $3 s (last: '${v:-none}'); zmr run said: $(tail -3 "$work/zmr.log")"
}

# Half the input, the FIFO still open: the job is running, in phase mapping.
timeout 120 cat "$work/part1" >&3 || fail "feeding the first half timed out"
wait_for 'zmr_job_phase{phase="mapping"}' 1 120
wait_for 'zmr_status_fresh' 1 30
live_words=$(query 'zmr_words_total')
echo "prometheus: first sample after $((SECONDS - t0)) s: mapping, fresh, $live_words words so far"

# promtool on a scrape of the live job.
python3 -c '
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())
' "http://127.0.0.1:$zmr_port/metrics" > "$work/metrics.txt" || fail "cannot fetch /metrics"
promtool check metrics < "$work/metrics.txt" > "$work/promtool.log" 2>&1 ||
    fail "promtool check metrics refused the exposition: $(cat "$work/promtool.log")"
grep -q '^zmr_mapper_words_total{worker=' "$work/metrics.txt" ||
    fail "no per-mapper series in /metrics"

# The rest, then the end of input: the job finishes; the final state stays.
timeout 120 cat "$work/part2" >&3 || fail "feeding the second half timed out"
exec 3>&-
wait_for 'zmr_job_phase{phase="done"}' 1 180
wait_for 'zmr_status_fresh' 0 30     # the job is over: its status stopped
[ -s "$work/receipt.json" ] || fail "no receipt"

# The figures from Prometheus, the receipt and the reference.
receipt() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
                "$work/receipt.json" "$1"; }
check() { # check WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: Prometheus has '$2', expected '$3'"
}
words=$(query 'zmr_words_total')
check "zmr_words_total vs the receipt" "$words" "$(receipt words)"
check "zmr_words_total vs the reference" "$words" "$ref_words"
check 'zmr_chunks{state="done"} vs the receipt' "$(query 'zmr_chunks{state="done"}')" \
    "$(receipt chunks)"
check "zmr_chunks_issued_total vs the receipt" "$(query 'zmr_chunks_issued_total')" \
    "$(receipt chunks_issued)"
check "zmr_chunks_reissued_total vs the receipt" "$(query 'zmr_chunks_reissued_total')" \
    "$(receipt chunks_reissued)"
check "zmr_chunks_read_total vs the receipt" "$(query 'zmr_chunks_read_total')" \
    "$(receipt chunks)"
check 'zmr_chunks{state="in_flight"}' "$(query 'zmr_chunks{state="in_flight"}')" 0
check "zmr_input_done_bytes_total vs the input" "$(query 'zmr_input_done_bytes_total')" "$size"
check "sum of zmr_partition_words_total vs the receipt" \
    "$(query 'sum(zmr_partition_words_total)')" "$(receipt words)"
check "sum of zmr_partition_distinct_words vs the receipt" \
    "$(query 'sum(zmr_partition_distinct_words)')" "$(receipt distinct)"
check "the receipt's distinct words vs the reference" "$(receipt distinct)" "$ref_distinct"
parts=""
for p in 0 1; do
    f=$(printf '%s/parts/part-%05d' "$work" "$p")
    [ -f "$f" ] || fail "no $f"
    check "zmr_partition_words_total{partition=\"$p\"} vs $(basename "$f")" \
        "$(query "zmr_partition_words_total{partition=\"$p\"}")" \
        "$(awk -F '\t' '{n += $2} END {print n + 0}' "$f")"
    check "zmr_partition_distinct_words{partition=\"$p\"} vs $(basename "$f")" \
        "$(query "zmr_partition_distinct_words{partition=\"$p\"}")" "$(wc -l < "$f")"
    parts="$parts $(query "zmr_partition_words_total{partition=\"$p\"}")"
done
# The result itself against the reference (word, count; any order).
awk -F '\t' '{print $1, $2}' "$work/counts.tsv" | LC_ALL=C sort | cmp -s - "$work/reference" ||
    fail "the result differs from the reference"

# Ctrl-C ends the linger; the exit status stays the job's.
kill -INT "$zmr_pid"
wait "$zmr_pid"
rc=$?
[ "$rc" = 0 ] || fail "zmr run exited $rc after Ctrl-C in --http-linger (want the job's 0)"
echo "prometheus: OK in $((SECONDS - t0)) s: $words words, $(receipt chunks) chunks," \
     "per partition$parts, $(receipt distinct) distinct, promtool accepts /metrics"
exit 0
