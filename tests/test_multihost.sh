#!/usr/bin/env bash
# A multi-host test bed (issue 14, item 1): "hosts" are Linux network
# namespaces joined by a bridge in a switch namespace of their own, each with
# one veth and one address in 198.18.0.0/24 (the benchmarking range; no other
# address, no route anywhere else, nothing touched in the root namespace).
# The roles run on them by hand as README.md's "Running the roles by hand,
# across machines" says, with CURVE on every link:
#   v  198.18.0.1  zmr-ventilator -r 2 (reads a FIFO this script feeds)
#   r  198.18.0.2  zmr-reducer -p 0, -p 1 (--state)
#   s  198.18.0.3  zmr-sink
#   m1 198.18.0.4, m2 198.18.0.5  a zmr-mapper each
#   m3 198.18.0.6  a mapper that joins mid-job
# Mappers run with --once (each job's own), but for the last two jobs: the
# same two serve both, a standing pool.
# Each scenario is one job over the KJV text, checked against an independent
# reference (tr | sort | uniq -c). A fault job is held open by its input: the
# FIFO gets the first half, the fault happens, then the second half and EOF,
# so the job is still running when the fault hits on any machine speed.
# Usage: test_multihost.sh BINDIR. Exit 0 all exact, 1 a scenario failed
# (named on stderr), 77 cannot run here (not root, no netns): skipped.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# (pipefail: a check reads all it pipes, grep >/dev/null, not grep -q, which
# may exit first and fail the writer with SIGPIPE.)
bin=$(cd "${1:?usage: test_multihost.sh BINDIR}" && pwd) || exit 1
skip() { echo "SKIP: test_multihost: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
for t in ip tc nft ethtool; do
    command -v "$t" >/dev/null || skip "no $t (./dev.sh installs nftables and ethtool)"
done
command -v bible >/dev/null || skip "no bible (package bible-kjv) for the input"
for p in zmr zmr-ventilator zmr-mapper zmr-reducer zmr-sink zmr-monitor; do
    [ -x "$bin/$p" ] || { echo "FAIL: no $bin/$p" >&2; exit 1; }
done

tag="zmrt-$$"
sw="$tag-sw"
hosts=(v r s m1 m2 m3)
declare -A addr=([v]=198.18.0.1 [r]=198.18.0.2 [s]=198.18.0.3
                 [m1]=198.18.0.4 [m2]=198.18.0.5 [m3]=198.18.0.6)
made_ns=()
pids=()
work=$(mktemp -d "${TMPDIR:-/tmp}/zmr-multihost-XXXXXX")

cleanup() {
    local ns p
    trap '' PIPE INT TERM HUP  # finish cleaning up even with the reader gone
    exec 3>&- 2>/dev/null
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for ns in "${made_ns[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    # Deleting a namespace deletes its veth end, and so the pair, and the
    # bridge and every qdisc inside it.
    for ns in "${made_ns[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ns() { echo "$tag-$1"; }
inns() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

# --- the network ------------------------------------------------------------
ip netns add "$sw" 2>/dev/null || skip "cannot create a network namespace"
made_ns+=("$sw")
ip -n "$sw" link add br0 type bridge || { echo "FAIL: no bridge" >&2; exit 1; }
ip -n "$sw" link set br0 up
for h in "${hosts[@]}"; do
    n=$(ns "$h")
    ip netns add "$n" || { echo "FAIL: netns add $n" >&2; exit 1; }
    made_ns+=("$n")
    ip -n "$sw" link add "v-$h" type veth peer name eth0 netns "$n" &&
    ip -n "$sw" link set "v-$h" master br0 up &&
    ip -n "$n" link set lo up &&
    ip -n "$n" addr add "${addr[$h]}/24" dev eth0 &&
    ip -n "$n" link set eth0 up ||
        { echo "FAIL: cannot wire host $h" >&2; exit 1; }
done
# (No reachability probe: the bridge has STP off, so its ports forward at
# once, and every role dials again until it is answered.)

# --- keys and input -----------------------------------------------------------
keys="$work/keys"
mkdir -p "$keys/allow"
for k in ventilator reducer0 reducer1 sink mapper1 mapper2 mapper3 mon; do
    (cd "$keys" && "$bin/zmr" keygen "$k" >/dev/null) ||
        { echo "FAIL: zmr keygen $k" >&2; exit 1; }
    cp "$keys/$k.cert" "$keys/allow/"
done
zt_kjv_input "$work" || skip "bible printed nothing"

# --- roles --------------------------------------------------------------------
ctl="tcp://${addr[v]}:5550"
status_ep="tcp://${addr[v]}:5552"
dead_ms=2000
curve_client=(--curve-server "$keys/ventilator.cert")

# start NAME HOST CMD...: run CMD on HOST, bounded, logging to $sc/NAME.log.
# timeout --foreground: a signal sent to it reaches CMD once (without it,
# timeout also signals its whole process group, so a mapper sent SIGTERM
# got it twice, and a second stop signal means "exit at once", 143).
declare -A pid_of
start() {
    local name=$1 h=$2; shift 2
    ip netns exec "$(ns "$h")" timeout --foreground -s KILL 300 "$@" 3>&- > "$sc/$name.log" 2>&1 &
    pid_of[$name]=$!
    pids+=($!)
}
ventilator() {
    start ventilator v "$bin/zmr-ventilator" -r 2 --dead-ms "$dead_ms" --chunk-size 64K \
        --curve-cert "$keys/ventilator.cert_secret" --curve-allow "$keys/allow" \
        --control "tcp://*:5550" --chunks "tcp://*:5551" --status "tcp://*:5552" \
        --journal "$sc/job.journal" "$sc/in.fifo"
}
declare -A advertise   # reducer P --advertise's endpoint, if any
any_port=      # set: reducers bind tcp://*:* (a free port each, the default)
reducer() {
    # A fixed port each, as README shows, unless $any_port.
    local p=$1 adv=() bind="tcp://*:$((5560 + $1))"
    [ -n "${advertise[$p]:-}" ] && adv=(--advertise "${advertise[$p]}")
    [ -n "$any_port" ] && bind="tcp://*:*"
    start "reducer$p" r "$bin/zmr-reducer" -p "$p" --state "$sc/state" \
        --bind "$bind" "${adv[@]}" \
        --curve-cert "$keys/reducer$p.cert_secret" --curve-allow "$keys/allow" \
        "${curve_client[@]}" "$ctl"
}
sink() {
    start sink s "$bin/zmr-sink" -o "$sc/counts.tsv" \
        --curve-cert "$keys/sink.cert_secret" --curve-allow "$keys/allow" \
        "${curve_client[@]}" "$ctl"
}
mapper() { # mapper N HOST [OPTION...]: --once unless --pool
    local n=$1 h=$2 once=--once; shift 2
    [ "${1:-}" = --pool ] && { once=; shift; }
    start "mapper$n" "$h" "$bin/zmr-mapper" --name "mapper$n" $once "$@" \
        --curve-cert "$keys/mapper$n.cert_secret" "${curve_client[@]}" "$ctl"
}
status_json() { # the ventilator's status, once, as JSON (empty if none)
    inns m3 timeout 20 "$bin/zmr-monitor" --json --once \
        --curve-cert "$keys/mon.cert_secret" "${curve_client[@]}" "$status_ep" 2>/dev/null
}

failed=0
fail() { echo "FAIL: scenario '$scenario': $*" >&2; failed=1; }

# begin NAME: a fresh job directory and FIFO; the ventilator, both reducers,
# the sink; the FIFO held open on fd 3 (read-write, so opening never blocks).
begin() {
    scenario=$1
    sc="$work/$(echo "$scenario" | tr -c 'a-z0-9\n' '-')"
    mkdir -p "$sc"
    mkfifo "$sc/in.fifo"
    exec 3<>"$sc/in.fifo"
    t0=$(date +%s.%N)
    ventilator
    reducer 0
    reducer 1
    sink
}
feed() { # feed FILE: bounded, blocks while the ventilator has not read it
    timeout 300 cat "$1" >&3 || fail "feeding $1 timed out"
}
# wait_status PYEXPR: until the status JSON (as d) makes PYEXPR true, bounded;
# the last status is left in $sc/status.json.
wait_status() {
    local j end=$((SECONDS + 120))
    while [ $SECONDS -lt $end ]; do
        j=$(status_json)
        if [ -n "$j" ] && python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$j" "$1" 2>/dev/null; then
            printf '%s\n' "$j" > "$sc/status.json"
            return 0
        fi
        sleep 0.5
    done
    fail "the status never showed: $1"
    return 1
}
# settle: all the input fed so far is done (the FIFO still open, so the job
# cannot end): the figures of the job, read from its status.
settle() {
    wait_status 'd["chunks_read"] > 0 and d["chunks_done"] == d["chunks_read"] and d["in_flight"] == 0' || return
    note=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
m = ", ".join("%s %d" % (w["name"], w["chunks"]) for w in d["workers"] if w["role"] == "mapper")
print(", %d chunks, re-issued %d, duplicates %d; mappers: %s"
      % (d["chunks_done"], d["chunks_reissued"], d["duplicates"], m))' "$sc/status.json")
}
feed_bg() { timeout 300 cat "$1" >&3 & feed_pid=$!; }
feed_wait() { wait "$feed_pid" || fail "feeding timed out"; }
# finish [NAME...]: EOF to the ventilator, every process of the job and
# the named ones waited for (bounded), the result compared with the
# reference. Processes on the hosts in $keep (a pool) are left running.
keep=
finish() {
    settle
    exec 3>&-
    local name p rc
    for name in sink ventilator reducer0 reducer1 "$@"; do
        p=${pid_of[$name]}
        wait "$p"; rc=$?
        [ "$rc" = 0 ] || fail "$name exited $rc ($(tail -n 3 "$sc/$name.log" | tr '\n' ' '))"
    done
    for h in "${hosts[@]}"; do
        case " $keep " in *" $h "*) continue ;; esac
        ip netns pids "$(ns "$h")" | xargs -r kill -9 2>/dev/null
    done
    local t1; t1=$(date +%s.%N)
    if [ -s "$sc/counts.tsv" ]; then
        awk -F'\t' '{print $1, $2}' "$sc/counts.tsv" | LC_ALL=C sort > "$sc/result"
        if ! cmp -s "$sc/result" "$work/reference"; then
            fail "result differs from the reference: $(diff "$work/reference" "$sc/result" | head -n 4 | tr '\n' ' ')"
        fi
    else
        fail "no result written"
    fi
    awk -v a="$t0" -v b="$t1" -v s="$scenario" -v n="${note:-}" \
        'BEGIN { printf "%s: %.1f s%s\n", s, b - a, n }'
    note=
}
note=

# --- 1. no fault ----------------------------------------------------------------
begin "no fault"
mapper 1 m1; mapper 2 m2
feed "$input"
finish mapper1 mapper2

# --- 2. a mapper host's link down longer than --dead-ms, then up -------------------
# The second half is fed while the link is down, so chunks flow to the
# other mapper (and maybe to the cut one) meanwhile; the ventilator must
# have seen mapper1 dead before the link comes back.
begin "mapper link down"
mapper 1 m1; mapper 2 m2
feed "$work/part1"
wait_status 'd["chunks_done"] >= 2'
inns m1 ip link set eth0 down
feed_bg "$work/part2"
wait_status 'any(w["name"] == "mapper1" and w["state"] == "dead" for w in d["workers"])'
inns m1 ip link set eth0 up
feed_wait
finish mapper1 mapper2

# --- 3. a mapper joins from a new host mid-job and takes a share --------------------
# The first mappers leave (SIGTERM: finish the chunk in hand) once the new one
# is there, so the second half can only be mapped by it.
begin "mapper joins mid-job"
mapper 1 m1; mapper 2 m2
feed "$work/part1"
wait_status 'd["chunks_done"] >= 2'
mapper 3 m3
sleep 1
kill -TERM "${pid_of[mapper1]}" "${pid_of[mapper2]}"
feed "$work/part2"
finish mapper1 mapper2 mapper3
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if any(w["name"] == "mapper3" and w["chunks"] > 0 for w in d["workers"]) else 1)' \
    "$sc/status.json" 2>/dev/null || fail "the status shows no chunk done by mapper3"

# --- 4. 5% of packets dropped both ways on the reducers' host, the whole job --
# Offloads off on both ends of its veth, so that a drop is one real packet,
# not a 64 KiB super-packet.
begin "5% drops on the reducers' host"
inns r ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 &&
ip netns exec "$sw" ethtool -K v-r tso off gso off gro off >/dev/null 2>&1 ||
    fail "ethtool -K (offloads stay on)"
inns r nft -f - <<'NFT' || fail "nft (no drops)"
table inet zmrt {
    chain in { type filter hook input priority 0; numgen random mod 100 < 5 drop; }
    chain out { type filter hook output priority 0; numgen random mod 100 < 5 drop; }
}
NFT
mapper 1 m1; mapper 2 m2
feed "$input"
finish mapper1 mapper2
inns r nft list table inet zmrt 2>/dev/null | grep 'numgen random' >/dev/null ||
    fail "the drop table was gone before the job ended"
inns r nft delete table inet zmrt

# --- 5. a bandwidth-limited link on a mapper host ----------------------------------
begin "tbf 1mbit on a mapper host"
inns m1 tc qdisc add dev eth0 root tbf rate 1mbit burst 32kbit latency 400ms ||
    fail "tc tbf"
mapper 1 m1; mapper 2 m2
feed "$input"
finish mapper1 mapper2
inns m1 tc qdisc del dev eth0 root 2>/dev/null

# --- 6. the reducers' host cut off from the ventilator's host only ----------------
# Mappers still reach the reducers; the cut lasts until the ventilator has
# seen a reducer dead, then heals, and the second half is fed.
begin "reducers cut from the ventilator"
mapper 1 m1; mapper 2 m2
feed "$work/part1"
wait_status 'd["chunks_done"] >= 2'
inns r nft -f - <<NFT || fail "nft (no partition)"
table inet zmrt {
    chain in { type filter hook input priority 0; ip saddr ${addr[v]} drop; }
    chain out { type filter hook output priority 0; ip daddr ${addr[v]} drop; }
}
NFT
wait_status 'any(w["role"] == "reducer" and w["state"] == "dead" for w in d["workers"])'
inns r nft delete table inet zmrt
feed "$work/part2"
finish mapper1 mapper2

# --- 7. every process on one host kill -9'd, started again by hand -----------------
# The reducers' host: both reducers die mid-job and come back with the same
# --state (the ventilator keeps its journal). On tcp://*:*, so they come back
# on other ports, maybe each on the other's (with CURVE, a mapper must then
# drop its link to each and dial where it is now, with its key: this once
# hung; tests/test_pool.c swaps their ports on purpose).
any_port=1
begin "reducers' host kill -9 and restart"
mapper 1 m1; mapper 2 m2
feed "$work/part1"
wait_status 'd["chunks_done"] >= 2'
{ ip netns pids "$(ns r)" | xargs -r kill -9
  wait "${pid_of[reducer0]}" "${pid_of[reducer1]}"; } 2>/dev/null
reducer 0
reducer 1
feed "$work/part2"
finish mapper1 mapper2
any_port=

# --- 8. every process on the ventilator's host kill -9'd, started again by hand --
# Mid-job, with the same --journal (and the same FIFO: what it had read is
# in its journal's spool, the rest still in the pipe). The mappers are a
# pool (no --once): they carry on in the same job, and stay after it.
begin "ventilator's host kill -9 and restart"
mapper 1 m1 --pool; mapper 2 m2 --pool
feed "$work/part1"
wait_status 'd["chunks_done"] >= 2'
# (Quiet: bash would say "Killed" of the ventilator's wrapper.)
{ ip netns pids "$(ns v)" | xargs -r kill -9; wait "${pid_of[ventilator]}"; } 2>/dev/null
ventilator
feed "$work/part2"
keep="m1 m2"
finish
pool_pids="${pid_of[mapper1]} ${pid_of[mapper2]}"

# --- 9. --advertise: reducers reachable only at an address the ventilator ------
# could not have seen. The reducers' host gets a second address; the reducers
# bind tcp://*:PORT and advertise it; their ports at the first address are
# closed to everyone (nft), so only the advertised address can work. Their
# HELLOs come from the first address, which is all the ventilator sees.
# The mappers are the pool of the last job: they must serve this one too.
adv=198.18.0.12
inns r ip addr add "$adv/24" dev eth0 || fail "cannot add $adv"
inns r nft -f - <<NFT || fail "nft (first address open)"
table inet zmrt {
    chain in { type filter hook input priority 0; ip daddr ${addr[r]} tcp dport { 5560, 5561 } drop; }
}
NFT
advertise=([0]="tcp://$adv:5560" [1]="tcp://$adv:5561")
kill -0 ${pool_pids} 2>/dev/null || fail "a pool mapper was gone after its job"
begin "--advertise, and the pool's next job"
# Held open until both have joined (a pool mapper says HELLO every second).
feed "$work/part1"
wait_status '{w["name"] for w in d["workers"] if w["role"] == "mapper" and w["state"] == "alive"} == {"mapper1", "mapper2"}'
feed "$work/part2"
keep="m1 m2"
finish
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
m = [w for w in d["workers"] if w["role"] == "mapper"]
sys.exit(0 if len(m) == 2 and all(w["chunks"] > 0 for w in m)
         and {w["name"] for w in m} == {"mapper1", "mapper2"} else 1)' \
    "$sc/status.json" 2>/dev/null || fail "the pool's two mappers did not both serve the next job"
inns r nft list table inet zmrt 2>/dev/null | grep 'dport' >/dev/null ||
    fail "the table closing the first address was gone before the job ended"
inns r nft delete table inet zmrt
# The pool leaves on SIGTERM, exit 0.
kill -TERM ${pool_pids}
for p in ${pool_pids}; do
    wait "$p"; rc=$?
    [ "$rc" = 0 ] || fail "a pool mapper exited $rc on SIGTERM"
done

exit $failed
