#!/usr/bin/env bash
# The container image as a user runs it (issue 14, item 2): build.sh builds
# localhost/zmr:latest from this tree, then a whole job runs in containers
# on two podman networks of its own, isolated from each other (netavark's
# isolate: no traffic between them), with fixed addresses:
#   "roles" 198.18.10.0/25           "mappers" 198.18.10.128/25
#   .2   ventilator                  .130 ventilator
#   .3 .4 reducers 0 and 1           .131 .132 reducers 0 and 1
#   .5   sink,  .20 the monitor      .134 .135 mappers 1 and 2
# The ventilator journals on a named volume and reads a FIFO this script
# feeds; reducers keep --state on a named volume each; the sink writes into
# a host directory mounted at /out. Reducers join the ventilator on the
# roles' network, so that is the address it sees them at, which mappers
# cannot reach: each reducer's --advertise gives its address on the
# mappers' network, and the job can only be done through it.
# CURVE on every link, keys made by `zmr keygen` in the image and mounted
# read-only at /etc/zmr/curve. The job is held open by its input: the
# FIFO gets the first half of the KJV, then reducer 0's container is
# killed (SIGKILL) and started again on the same state volume, mapper 1's
# container is killed, and only then comes the second half and EOF. The
# result must equal an independent reference (tr | sort | uniq -c). Also:
# the image runs as a non-root user, `zmr --version` and every program's
# --help work in it.
# Usage: test_container.sh SOURCE_DIR. Exit 0 exact, 1 failed (the reason
# on stderr), 77 cannot run here (not root, no podman, no container runs):
# skipped. Removes every container (with its anonymous volumes), volume
# and network it made, and the nft tables netavark made for them and left
# behind; leaves the image and its base for the Kubernetes test and for the
# next run.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=$(cd "${1:?usage: test_container.sh SOURCE_DIR}" && pwd) || exit 1
skip() { echo "SKIP: test_container: $*"; exit 77; }
die() { echo "FAIL: test_container: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (rootful podman)"
command -v podman >/dev/null || skip "no podman (./dev.sh test installs it)"
command -v bible >/dev/null || skip "no bible (package bible-kjv) for the input"
command -v python3 >/dev/null || skip "no python3 to read the status"
export CONTAINERS_CONF="$src/deploy/container/containers.conf"
podman info >/dev/null 2>&1 || skip "podman info fails: podman cannot run here"
if ! podman image exists localhost/zmr-debian:bookworm; then
    command -v debootstrap >/dev/null || skip "no debootstrap to make the image's base"
fi

img=localhost/zmr:latest
tag="zmrc-$$"
net=$tag          # the roles' network, 198.18.10.0/25
mnet=$tag-m       # the mappers' network, 198.18.10.128/25
a=198.18.10       # both in 198.18.10.0/24
work=$(mktemp -d "${TMPDIR:-/tmp}/zmr-container-XXXXXX")
chmod 755 "$work"

# Everything made here is named $tag-*, and removed however the test ends
# (containers with their anonymous volumes: the image declares VOLUMEs).
# netavark's firewall rules for the network go with `podman network rm`,
# but the nft tables it made for them (ip filter, ip nat, through
# iptables-nft) stay: one that was not there before this test and holds
# nothing but netavark's chains with no address or port in them (its
# generic mark and masquerade rules) and the jumps to them is removed; one
# that another test's network still uses is left alone.
tables_before=
netavark_leftovers() { # the tables to remove, "family name" a line
    nft -j list ruleset 2>/dev/null | python3 -c '
import json, sys
before = set(sys.argv[1].split(","))
items = [i for i in json.load(sys.stdin)["nftables"] if "metainfo" not in i]
tables = {(i["table"]["family"], i["table"]["name"]) for i in items if "table" in i}
for fam, name in sorted(tables - {tuple(t.split(" ")) for t in before if t}):
    mine = [i for i in items if "table" not in i
            and list(i.values())[0].get("family") == fam
            and list(i.values())[0].get("table") == name]
    chains = [i["chain"] for i in mine if "chain" in i]
    rules = [i["rule"] for i in mine if "rule" in i]
    def jumps_to_netavark(r):
        return any("jump" in e and e["jump"]["target"].startswith("NETAVARK")
                   for e in r["expr"])
    def names_a_network(r):  # an address, port or bridge: a network is there
        t = json.dumps(r)
        return any("\"field\": \"%s\"" % f in t for f in ("saddr", "daddr", "dport")) \
            or any("\"%s\"" % k in t for k in ("dnat", "iifname", "oifname"))
    if (any(c["name"].startswith("NETAVARK") for c in chains)
            and all(c["name"].startswith("NETAVARK") or "hook" in c for c in chains)
            and not any(names_a_network(r) for r in rules)
            and all(jumps_to_netavark(r) for r in rules if not r["chain"].startswith("NETAVARK"))):
        print(fam, name)' "$tables_before"
}
cleanup() {
    trap '' PIPE INT TERM HUP
    [ -z "${feeder:-}" ] || kill "$feeder" 2>/dev/null
    exec 3>&- 2>/dev/null
    local c v t
    for c in $(podman ps -a --filter "name=^$tag-" --format '{{.Names}}' 2>/dev/null); do
        podman rm -f -v -t 0 "$c" >/dev/null 2>&1
    done
    for v in $(podman volume ls --filter "name=^$tag-" --format '{{.Name}}' 2>/dev/null); do
        podman volume rm -f "$v" >/dev/null 2>&1
    done
    if podman network exists "$net" 2>/dev/null || podman network exists "$mnet" 2>/dev/null; then
        podman network rm -f "$net" "$mnet" >/dev/null 2>&1
        if command -v nft >/dev/null; then
            netavark_leftovers | while read -r fam name; do
                nft delete table "$fam" "$name" 2>/dev/null
            done
        fi
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- the image -----------------------------------------------------------------
# build.sh's own face: --help on stdout, exit 0; an unknown option, exit 2.
bash "$src/deploy/container/build.sh" --help | grep -q 'localhost/zmr:latest' ||
    die "build.sh --help does not say what it builds"
bash "$src/deploy/container/build.sh" --no-such-option 2>/dev/null
[ $? -eq 2 ] || die "build.sh --no-such-option did not exit 2"
t_build=$SECONDS
if ! bash "$src/deploy/container/build.sh" > "$work/build.log" 2>&1; then
    # A machine where podman cannot start any container at all is skipped;
    # a build that breaks where containers run is a failure.
    if podman image exists localhost/zmr-debian:bookworm &&
       ! podman run --rm --network none localhost/zmr-debian:bookworm true >/dev/null 2>&1; then
        skip "podman cannot run a container here"
    fi
    tail -n 5 "$work/build.log" >&2
    die "deploy/container/build.sh failed"
fi
echo "image built in $((SECONDS - t_build)) s: $(tail -n 1 "$work/build.log" | sed 's/^== //')"
prun() { podman run --rm --network none "$img" "$@"; }
uid=$(prun id -u) || die "podman run $img id -u failed"
[ "$uid" != 0 ] || die "the image runs as root"
prun zmr --version | grep -q '^zmr ' || die "zmr --version in the image"
# Every library the programs link is in the image (the runtime package
# list of the Containerfile is complete).
missing=$(prun sh -c 'ldd /usr/local/bin/zmr*' | grep 'not found' | sort -u | tr -s ' \t\n' ' ')
[ -z "$missing" ] || die "libraries missing from the image: $missing"
for p in zmr zmr-ventilator zmr-mapper zmr-reducer zmr-sink zmr-monitor; do
    prun "$p" --help >/dev/null 2>&1 || die "$p --help fails in the image"
done

# --- keys, input, reference ----------------------------------------------------------
# The keys are made by the image's own zmr keygen, as the user zmr, in a
# directory given to that user; roles read them through a read-only mount.
keys="$work/keys"
mkdir -p "$keys/allow" && chown -R "$uid" "$keys" || die "cannot make $keys"
for k in ventilator reducer0 reducer1 sink mapper1 mapper2 mon; do
    podman run --rm --network none -v "$keys:/keys" -w /keys "$img" zmr keygen "$k" \
        >/dev/null 2>"$work/keygen.err" || die "zmr keygen $k in the image: $(head -n 1 "$work/keygen.err")"
    cp "$keys/$k.cert" "$keys/allow/"
done
chown -R "$uid" "$keys/allow"
zt_kjv_input "$work" || skip "bible printed nothing"
mkdir -m 755 "$work/in" && mkfifo -m 644 "$work/in/in.fifo" || die "mkfifo"
mkdir "$work/out" && chown "$uid" "$work/out" || die "mkdir out"

# --- the network ----------------------------------------------------------------------
# --disable-dns: every role has a fixed address, so no aardvark-dns runs.
command -v nft >/dev/null &&
    tables_before=$(nft list tables 2>/dev/null | sed 's/^table //' | paste -sd, -)
podman network create --subnet "$a.0/25" --gateway "$a.1" --disable-dns -o isolate=true "$net" \
    >/dev/null 2>"$work/net.err" || die "podman network create: $(head -n 1 "$work/net.err")"
podman network create --subnet "$a.128/25" --gateway "$a.129" --disable-dns -o isolate=true "$mnet" \
    >/dev/null 2>"$work/net.err" || die "podman network create: $(head -n 1 "$work/net.err")"

# --- the roles: the commands deploy/README.md shows -------------------------------------
ctl="tcp://$a.2:5550"        # the ventilator, for the roles
mctl="tcp://$a.130:5550"     # the ventilator, for the mappers
curve=(-v "$keys:/etc/zmr/curve:ro")
client=(--curve-server /etc/zmr/curve/ventilator.cert)
dead_ms=2000
# role NAME [podman options] -- CMD...: a detached container, which must
# keep running until the test kills it or the job ends (see wait_status).
live=()
role() {
    local name=$1; shift
    local opts=()
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    podman run -d --name "$tag-$name" "${curve[@]}" \
        "${opts[@]}" "$img" "$@" >/dev/null 2>"$work/$name.err" ||
        die "podman run $name: $(head -n 1 "$work/$name.err")"
    live+=("$name")
}
killed() { # killed NAME: the test kills it; no longer expected to run
    local n keep=()
    for n in "${live[@]}"; do [ "$n" = "$1" ] || keep+=("$n"); done
    live=("${keep[@]}")
}
ventilator() {
    role ventilator --network "$net:ip=$a.2" --network "$mnet:ip=$a.130" \
        -v "$tag-journal:/var/lib/zmr" -v "$work/in:/in:ro" -- \
        zmr-ventilator -r 2 --dead-ms "$dead_ms" --chunk-size 64K \
        --curve-cert /etc/zmr/curve/ventilator.cert_secret --curve-allow /etc/zmr/curve/allow \
        --control 'tcp://*:5550' --chunks 'tcp://*:5551' --status 'tcp://*:5552' \
        --journal /var/lib/zmr/job.journal /in/in.fifo
}
reducer() { # reducer N
    # A fixed MAC with the fixed address: a reducer's container started
    # again is the same neighbour to its peers. With a new MAC, a mapper's
    # stale ARP entry for the address (nothing the new container sends on
    # the mappers' network refreshes it) held its batches for 20-70 s here:
    # 256-512 re-issues, each a duplicate dropped.
    role "reducer$1" --network "$net:ip=$a.$((3 + $1)),mac=02:c6:12:0a:00:0$((3 + $1))" \
        --network "$mnet:ip=$a.$((131 + $1)),mac=02:c6:12:0a:00:8$((3 + $1))" \
        -v "$tag-state$1:/var/lib/zmr" -- \
        zmr-reducer -p "$1" --state /var/lib/zmr \
        --bind 'tcp://*:5560' --advertise "tcp://$a.$((131 + $1)):5560" \
        --curve-cert "/etc/zmr/curve/reducer$1.cert_secret" --curve-allow /etc/zmr/curve/allow \
        "${client[@]}" "$ctl"
}
sink() {
    role sink --network "$net:ip=$a.5" -v "$work/out:/out" -- \
        zmr-sink -o /out/counts.tsv --bind 'tcp://*:5570' --advertise "tcp://$a.5:5570" \
        --curve-cert /etc/zmr/curve/sink.cert_secret --curve-allow /etc/zmr/curve/allow \
        "${client[@]}" "$ctl"
}
mapper() { # mapper N
    role "mapper$1" --network "$mnet:ip=$a.$((133 + $1))" -- \
        zmr-mapper --name "mapper$1" \
        --curve-cert "/etc/zmr/curve/mapper$1.cert_secret" "${client[@]}" "$mctl"
}
status_json() { # the ventilator's status, once, as JSON (empty if none)
    timeout 60 podman run --rm --name "$tag-mon" --network "$net:ip=$a.20" "${curve[@]}" \
        "$img" timeout 20 zmr-monitor --json --once \
        --curve-cert /etc/zmr/curve/mon.cert_secret "${client[@]}" "tcp://$a.2:5552" 2>/dev/null
}
# wait_status PYEXPR: until the status JSON (as d) makes PYEXPR true,
# bounded; the last one is left in $work/status.json.
wait_status() {
    local j c end=$((SECONDS + 240))
    while [ $SECONDS -lt $end ]; do
        j=$(status_json)
        if [ -n "$j" ] && python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$j" "$1" 2>/dev/null; then
            printf '%s\n' "$j" > "$work/status.json"
            return 0
        fi
        # The input is held open, so a role that ended has failed.
        for c in "${live[@]}"; do
            [ "$(podman inspect -f '{{.State.Running}}' "$tag-$c" 2>/dev/null)" = true ] ||
                die "$c ended ($(podman inspect -f '{{.State.ExitCode}}' "$tag-$c" 2>/dev/null)) while waiting for: $1 ($(logs "$c"))"
        done
        sleep 1
    done
    die "the status never showed: $1"
}
logs() { podman logs "$tag-$1" 2>&1 | tail -n 3 | tr '\n' ' '; }
# exited NAME: waits (bounded) for the container to end; prints its exit
# status (called in $(...): says why and returns 1 when it does not end).
exited() {
    timeout 300 podman wait "$tag-$1" 2>/dev/null ||
        { echo "FAIL: test_container: $1 did not end ($(logs "$1"))" >&2; return 1; }
}

t0=$SECONDS
# Held open read-write, so opening never blocks and the job cannot end
# before the script closes it.
exec 3<>"$work/in/in.fifo"
ventilator
reducer 0
reducer 1
sink
mapper 1
mapper 2
# In the background: the ventilator reads only as chunks get done, so a
# job where none can be done says so in wait_status, not as a stuck feed.
timeout 300 cat "$work/part1" >&3 &
feeder=$!
wait_status 'd["chunks_done"] >= 2'
wait "$feeder" || die "feeding the first half timed out"

# Reducer 0's container dies (SIGKILL to its process) and comes back: the
# same name, address, port and state volume.
killed reducer0
podman kill -s KILL "$tag-reducer0" >/dev/null || die "podman kill reducer0"
rc=$(exited reducer0) || exit 1
[ "$rc" = 137 ] || die "reducer0 ended with $rc after SIGKILL, not 137"
podman rm -v "$tag-reducer0" >/dev/null || die "podman rm reducer0"
reducer 0
# Mapper 1's container dies too: its chunks go to mapper 2.
killed mapper1
podman kill -s KILL "$tag-mapper1" >/dev/null || die "podman kill mapper1"
wait_status 'any(w["name"] == "mapper1" and w["state"] == "dead" for w in d["workers"])'

timeout 300 cat "$work/part2" >&3 || die "feeding the second half timed out"
wait_status 'd["chunks_read"] > 0 and d["chunks_done"] == d["chunks_read"] and d["in_flight"] == 0'
note=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
m = ", ".join("%s %d" % (w["name"], w["chunks"]) for w in d["workers"] if w["role"] == "mapper")
print("%d chunks, re-issued %d, duplicates %d; mappers: %s"
      % (d["chunks_done"], d["chunks_reissued"], d["duplicates"], m))' "$work/status.json")
exec 3>&-

for r in sink ventilator reducer0 reducer1; do
    rc=$(exited "$r") || exit 1
    [ "$rc" = 0 ] || die "$r exited $rc ($(logs "$r"))"
done
[ -s "$work/out/counts.tsv" ] || die "no result in the sink's /out"
awk -F'\t' '{print $1, $2}' "$work/out/counts.tsv" | LC_ALL=C sort > "$work/result"
cmp -s "$work/result" "$work/reference" ||
    die "result differs from the reference: $(diff "$work/reference" "$work/result" | head -n 4 | tr '\n' ' ')"
echo "job in containers (reducer0 and mapper1 killed): exact, $((SECONDS - t0)) s, $note"
exit 0
