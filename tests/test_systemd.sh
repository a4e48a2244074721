#!/usr/bin/env bash
# The systemd units of deploy/systemd/ (issue 14, item 3), run by real
# systemd: four "machines" booted with systemd-nspawn -b from one Debian 12
# rootfs (debootstrap, cached), each in a network namespace of its own on a
# bridge in 198.18.30.0/24, with the programs of BINDIR as /usr/local/bin, the
# units in /etc/systemd/system and its own /etc/zmr (zmr.env, only its own
# secret key, the allow-list), all bound read-only; each machine writes to a
# tmpfs overlay of its own (--volatile=overlay), so the cached rootfs is
# never changed:
#   v  198.18.30.1  zmr-ventilator.service (its input: a FIFO this script feeds)
#   r  198.18.30.2  zmr-reducer@0, zmr-reducer@1
#   s  198.18.30.3  zmr-sink.service
#   m  198.18.30.4  zmr-mapper@1, @2, later @3
# CURVE on every link (the units always speak it). In every machine:
# systemd-analyze verify of the units must say nothing; systemd-analyze
# security scores are printed. One job over the KJV text, held open by its
# FIFO: after the first half, reducer@0, mapper@1 and the ventilator are
# kill -9'd through their units' MainPID, and systemd must start each again
# (NRestarts, a new MainPID); the ventilator is then stopped and started with
# systemctl (its journal kept); zmr-mapper@3 is started, @1 and @2 are
# stopped, and the second half can only be mapped by @3 (the status must show
# it did chunks). The result must equal an independent reference (tr | sort |
# uniq -c), and the ventilator, reducers and sink must end with exit 0. A
# second job (the second half again) must be served by the same zmr-mapper@3
# process, exact too. The rootfs is made once (about a minute) and kept in
# /var/cache/zmr-tests, named by the packages it holds.
# Usage: test_systemd.sh SOURCE_DIR BINDIR. Exit 0 exact, 1 failed (the reason
# on stderr), 77 cannot run here (one line SKIP: ...).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=$(cd "${1:?usage: test_systemd.sh SOURCE_DIR BINDIR}" && pwd) || exit 1
bin=$(cd "${2:?usage: test_systemd.sh SOURCE_DIR BINDIR}" && pwd) || exit 1
skip() { echo "SKIP: test_systemd: $*"; exit 77; }
die() { echo "FAIL: test_systemd: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root for systemd-nspawn and network namespaces"
for t in systemd-nspawn debootstrap ip nsenter flock python3; do
    command -v "$t" >/dev/null || skip "no $t (./dev.sh installs systemd-container and debootstrap)"
done
command -v bible >/dev/null || skip "no bible (package bible-kjv) for the input"
for p in zmr zmr-ventilator zmr-mapper zmr-reducer zmr-sink zmr-monitor; do
    [ -x "$bin/$p" ] || die "no $bin/$p"
done
units=(zmr-ventilator.service zmr-reducer@.service zmr-sink.service zmr-mapper@.service)
for u in "${units[@]}" zmr.env; do
    [ -f "$src/deploy/systemd/$u" ] || die "no deploy/systemd/$u"
done

t_start=$SECONDS
tag="zsy$$"
sw="$tag-sw"
hosts=(v r s m)
declare -A addr=([v]=198.18.30.1 [r]=198.18.30.2 [s]=198.18.30.3 [m]=198.18.30.4)
declare -A nspawn_pid leader
made_ns=()
work=$(mktemp -d /var/tmp/zmr-systemd-XXXXXX) || die "mktemp"
chmod 755 "$work"

cleanup() {
    local rc=$? h p i
    trap '' PIPE INT TERM HUP
    exec 3>&-
    # On a failure, what the roles said, before their machines go.
    if [ "$rc" != 0 ]; then
        for h in "${!leader[@]}"; do
            timeout 20 nsenter -t "${leader[$h]}" -m -u -i -n -p -C -- journalctl -q --no-pager \
                -o short-monotonic -u 'zmr-*' 2>/dev/null | tail -n 8 | sed "s/^/  $h: /" >&2
        done
    fi
    exec 2>/dev/null
    # SIGTERM to systemd-nspawn powers its machine off; a machine that has not
    # gone within 30 s is killed (PID 1 of its namespace, then nspawn).
    for h in "${!nspawn_pid[@]}"; do kill -TERM "${nspawn_pid[$h]}" 2>/dev/null; done
    t=$SECONDS
    for h in "${!nspawn_pid[@]}"; do
        p=${nspawn_pid[$h]}
        for ((i = 0; i < 300; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$p" 2>/dev/null; then
            echo "test_systemd: machine $h did not power off in 30 s: killed" >&2
            [ -n "${leader[$h]:-}" ] && kill -9 "${leader[$h]}" 2>/dev/null
            kill -9 "$p" 2>/dev/null
        fi
        wait "$p" 2>/dev/null
    done
    [ ${#nspawn_pid[@]} = 0 ] || echo "machines powered off: $((SECONDS - t)) s"
    for h in "${made_ns[@]}"; do
        ip netns pids "$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$h" 2>/dev/null
    done
    # systemd-nspawn's directory for mounts into a machine, when it left one.
    rmdir /run/systemd/nspawn/propagate/"$tag"-* 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- the rootfs: Debian 12 minbase + systemd + the programs' libraries ------
# The packages that hold the libraries the programs link (ldd), found on this
# host (Debian 12 too), so a new dependency needs no change here.
pkgs=(systemd systemd-sysv dbus)
for lib in $(ldd "$bin"/zmr* | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do
    p=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null ||
        dpkg -S "$(readlink -f "$lib")" 2>/dev/null) || die "no package holds $lib"
    pkgs+=("${p%%:*}")
done
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
# The mirror apt uses (deb822 URIs: or a one-line deb), not the security one.
mirror=$(grep -h -E '^[[:space:]]*(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
         grep -o -E 'https?://[^ ]*' | grep '/debian/*$' | grep -v security | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
cache=/var/cache/zmr-tests
key=$(printf '%s\n' bookworm "$mirror" "${pkgs[@]}" | sha1sum | cut -c1-12)
rootfs="$cache/systemd-rootfs-$key"
mkdir -p "$cache" || die "cannot make $cache"
(
    flock -w 900 9 || die "another run held $cache/systemd-rootfs.lock for 15 min"
    [ -e "$rootfs/.zmr-ready" ] && exit 0
    t=$SECONDS
    echo "test_systemd: debootstrap bookworm from $mirror into $rootfs (once)" >&2
    rm -rf "$rootfs.tmp"
    timeout 900 debootstrap --variant=minbase --include="$(IFS=,; echo "${pkgs[*]}")" \
        bookworm "$rootfs.tmp" "$mirror" > "$cache/systemd-rootfs.log" 2>&1 ||
        { tail -n 5 "$cache/systemd-rootfs.log" >&2; rm -rf "$rootfs.tmp";
          die "debootstrap failed (log: $cache/systemd-rootfs.log)"; }
    # The host's name came along: without it each machine is named after itself.
    rm -f "$rootfs.tmp/etc/hostname"
    rm -rf "$rootfs.tmp/var/cache/apt/archives/"*.deb
    touch "$rootfs.tmp/.zmr-ready"
    mv "$rootfs.tmp" "$rootfs"
    echo "test_systemd: rootfs made in $((SECONDS - t)) s" >&2
) 9>"$cache/systemd-rootfs.lock" || exit 1

# --- the network ---------------------------------------------------------------
ip netns add "$sw" 2>/dev/null || skip "cannot create a network namespace"
made_ns+=("$sw")
ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || die "no bridge"
for h in "${hosts[@]}"; do
    n="$tag-$h"
    ip netns add "$n" || die "netns add $n"
    made_ns+=("$n")
    ip -n "$sw" link add "v-$h" type veth peer name eth0 netns "$n" &&
    ip -n "$sw" link set "v-$h" master br0 up &&
    ip -n "$n" link set lo up &&
    ip -n "$n" addr add "${addr[$h]}/24" dev eth0 &&
    ip -n "$n" link set eth0 up || die "cannot wire host $h"
done

# --- keys, settings, input --------------------------------------------------------
keys="$work/keys"
mkdir -p "$keys"
for k in ventilator reducer0 reducer1 sink mapper mon; do
    out=$(cd "$keys" && "$bin/zmr" keygen "$k" 2>&1) || die "zmr keygen $k: $out"
done
# Each machine's /etc/zmr: deploy/systemd/zmr.env with this bed's addresses,
# the ventilator's public certificate, the allow-list, and its own secrets.
declare -A secrets=([v]="ventilator" [r]="reducer0 reducer1" [s]="sink" [m]="mapper")
for h in "${hosts[@]}"; do
    e="$work/etc-$h"
    mkdir -p "$e/keys" "$e/allow"
    sed -e "s|^ZMR_CONTROL=.*|ZMR_CONTROL=tcp://${addr[v]}:5550|" \
        -e "s|^ZMR_STATUS=.*|ZMR_STATUS=tcp://${addr[v]}:5552|" \
        -e "s|^ZMR_INPUTS=.*|ZMR_INPUTS=/srv/zmr/input/kjv.fifo|" \
        -e "s|^ZMR_VENTILATOR_OPTS=.*|ZMR_VENTILATOR_OPTS=--dead-ms 2000 --chunk-size 64K|" \
        "$src/deploy/systemd/zmr.env" > "$e/zmr.env"
    grep -q "^ZMR_CONTROL=tcp://${addr[v]}:5550$" "$e/zmr.env" || die "zmr.env has no ZMR_CONTROL line"
    cp "$keys/ventilator.cert" "$e/keys/"
    cp "$keys"/*.cert "$e/allow/"
    for k in ${secrets[$h]}; do cp -p "$keys/$k.cert_secret" "$e/keys/"; done
    chmod -R go-w "$e"
done
mkdir -m 755 "$work/in"
mkfifo -m 644 "$work/in/kjv.fifo"
zt_kjv_input "$work" || skip "bible printed nothing"

# --- the machines -----------------------------------------------------------------
t_boot=$SECONDS
# Where PID 1 is not systemd (here, and CI), systemd-nspawn cannot ask it for
# a scope of its own: it stays in the caller's cgroup (--keep-unit). Where it
# is, the host's systemd gives each machine a scope, as usual.
keep=()
[ -d /run/systemd/system ] || keep=(--keep-unit)
for h in "${hosts[@]}"; do
    binds=(--bind-ro="$bin:/usr/local/bin" --bind-ro="$work/etc-$h:/etc/zmr")
    for u in "${units[@]}"; do
        binds+=(--bind-ro="$src/deploy/systemd/$u:/etc/systemd/system/$u")
    done
    [ "$h" = v ] && binds+=(--bind-ro="$work/in:/srv/zmr/input")
    systemd-nspawn --quiet --boot --directory="$rootfs" --volatile=overlay \
        --register=no "${keep[@]}" --machine="$tag-$h" --hostname="$h" \
        --network-namespace-path="/run/netns/$tag-$h" --console=passive \
        "${binds[@]}" < /dev/null > "$work/boot-$h.log" 2>&1 &
    nspawn_pid[$h]=$!
done
# A machine's PID 1: the child of its systemd-nspawn that is PID 1 in its own
# PID namespace.
for h in "${hosts[@]}"; do
    for ((i = 0; i < 600; i++)); do
        for c in $(pgrep -P "${nspawn_pid[$h]}"); do
            grep -q -E '^NSpid:.*[[:space:]]1$' "/proc/$c/status" 2>/dev/null && leader[$h]=$c
        done
        [ -n "${leader[$h]:-}" ] && break
        kill -0 "${nspawn_pid[$h]}" 2>/dev/null ||
            die "machine $h did not start: $(tail -n 3 "$work/boot-$h.log" | tr '\n' ' ')"
        sleep 0.1
    done
    [ -n "${leader[$h]:-}" ] || die "machine $h has no PID 1 after 60 s"
done
inm() { local h=$1; shift; nsenter -t "${leader[$h]}" -m -u -i -n -p -C -- "$@"; }
# Booted: systemctl is-system-running says running (or degraded: a unit of
# the machine itself failed, said on stderr); before PID 1 listens on its bus
# it cannot be asked, so ask again, bounded.
for h in "${hosts[@]}"; do
    end=$((SECONDS + 180))
    while :; do
        st=$(inm "$h" systemctl is-system-running 2>&1)
        case "$st" in running|degraded) break ;; esac
        [ $SECONDS -lt $end ] || die "machine $h did not boot in 180 s: '$st'"
        kill -0 "${nspawn_pid[$h]}" 2>/dev/null ||
            die "machine $h stopped: $(tail -n 3 "$work/boot-$h.log" | tr '\n' ' ')"
        sleep 0.3
    done
    [ "$st" = degraded ] &&
        echo "test_systemd: machine $h is degraded: $(inm "$h" systemctl --failed --no-legend --plain | tr '\n' ' ')" >&2
done
echo "machines booted: $((SECONDS - t_boot)) s"

# --- the units, checked by systemd itself -------------------------------------------
# verify: instances of the templates, as they are started below; --man=no:
# the machines have no man (cmake --install puts the pages the units name).
out=$(inm v systemd-analyze verify --man=no zmr-ventilator.service zmr-reducer@0.service \
          zmr-sink.service zmr-mapper@1.service 2>&1) || die "systemd-analyze verify failed: $out"
[ -z "$out" ] || die "systemd-analyze verify is not clean: $(echo "$out" | head -n 5 | tr '\n' ' ')"
echo "systemd-analyze verify: clean"
for u in zmr-ventilator.service zmr-reducer@0.service zmr-sink.service zmr-mapper@1.service; do
    score=$(inm v systemd-analyze security --no-pager "$u" 2>&1 | grep -o 'Overall exposure level.*')
    echo "systemd-analyze security $u: ${score:-none}"
done

# --- the job ------------------------------------------------------------------------
# Once one check fails, what follows would only wait out its bounds.
fail() { die "$@"; }
# prop HOST UNIT PROPERTY: one property of a unit, by systemctl show.
prop() { inm "$1" systemctl show -p "$3" --value "$2"; }
status_json() { # the ventilator's status, once, as JSON (empty if none)
    ip netns exec "$tag-m" timeout 20 "$bin/zmr-monitor" --json --once \
        --curve-cert "$keys/mon.cert_secret" --curve-server "$keys/ventilator.cert" \
        "tcp://${addr[v]}:5552" 2>/dev/null
}
# wait_status PYEXPR: until the status JSON (as d) makes PYEXPR true, bounded;
# the last status is left in $work/status.json.
wait_status() {
    local j end=$((SECONDS + 180))
    while [ $SECONDS -lt $end ]; do
        j=$(status_json)
        if [ -n "$j" ] && python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$j" "$1" 2>/dev/null; then
            printf '%s\n' "$j" > "$work/status.json"
            return 0
        fi
        sleep 0.5
    done
    fail "the status never showed: $1"
    return 1
}
# restarted HOST UNIT OLDPID: systemd started UNIT again (bounded): NRestarts
# at least 1, active, with a MainPID that is not OLDPID.
restarted() {
    local h=$1 u=$2 old=$3 end=$((SECONDS + 60)) n pid state
    while [ $SECONDS -lt $end ]; do
        n=$(prop "$h" "$u" NRestarts); pid=$(prop "$h" "$u" MainPID)
        state=$(prop "$h" "$u" ActiveState)
        if [ "${n:-0}" -ge 1 ] && [ "$state" = active ] && [ "${pid:-0}" != 0 ] && [ "$pid" != "$old" ]; then
            echo "$u: killed MainPID $old, systemd started it again as $pid (NRestarts=$n)"
            return 0
        fi
        sleep 0.2
    done
    fail "$u was not started again after kill -9 of $old (NRestarts=$n, MainPID=$pid, $state)"
}
# killunit HOST UNIT: kill -9 the unit's MainPID inside its machine, then
# check that systemd started it again.
killunit() {
    local h=$1 u=$2 pid
    pid=$(prop "$h" "$u" MainPID)
    [ "${pid:-0}" != 0 ] || { fail "$u has no MainPID"; return; }
    inm "$h" /bin/sh -c "kill -9 $pid" || { fail "kill -9 $pid ($u)"; return; }
    restarted "$h" "$u" "$pid"
}
# ended HOST UNIT: wait (bounded) until UNIT is no longer running; it must
# have exited 0 (inactive; a failed unit stays failed).
ended() {
    local h=$1 u=$2 end=$((SECONDS + 180)) state code
    while [ $SECONDS -lt $end ]; do
        state=$(prop "$h" "$u" ActiveState)
        case "$state" in inactive|failed) break ;; esac
        sleep 0.5
    done
    code=$(prop "$h" "$u" ExecMainStatus)
    if [ "$state" != inactive ] || [ "$code" != 0 ]; then
        fail "$u on $h: $state, exit $code: $(inm "$h" journalctl -q -o cat -u "$u" | tail -n 3 | tr '\n' ' ')"
    fi
}

exec 3<>"$work/in/kjv.fifo"
t_job=$SECONDS
inm v systemctl start zmr-ventilator.service || fail "systemctl start zmr-ventilator"
inm r systemctl start zmr-reducer@0.service zmr-reducer@1.service || fail "systemctl start zmr-reducer@0 @1"
inm s systemctl start zmr-sink.service || fail "systemctl start zmr-sink"
inm m systemctl start zmr-mapper@1.service zmr-mapper@2.service || fail "systemctl start zmr-mapper@1 @2"
timeout 180 cat "$work/part1" >&3 || fail "feeding the first half timed out"
wait_status 'd["chunks_done"] >= 2'
# The reducers' partitions are in their StateDirectory, where the unit says.
for p in 0 1; do
    [ -n "$(ls -A "/proc/${leader[r]}/root/var/lib/private/zmr-reducer-$p" 2>/dev/null)" ] ||
        fail "reducer@$p keeps nothing in /var/lib/private/zmr-reducer-$p"
done
[ -s "/proc/${leader[v]}/root/var/lib/private/zmr-ventilator/job.journal" ] ||
    fail "the ventilator keeps no journal in /var/lib/private/zmr-ventilator"
killunit r zmr-reducer@0.service
killunit m zmr-mapper@1.service
# The ventilator, once it has read (and so spooled) all the first half: the
# one systemd starts again resumes the job from its journal and spool.
wait_status "d['bytes_read'] == $half"
killunit v zmr-ventilator.service
# systemctl stop: the ventilator exits 143, which the unit counts as a clean
# stop (inactive, not failed: systemd may then unload the unit and forget
# the status), keeping its journal; systemctl start goes on with the job.
# (Stopped once it publishes its status again: it has its signal handlers.)
wait_status 'd["chunks_done"] >= 2'
inm v systemctl stop zmr-ventilator.service || fail "systemctl stop zmr-ventilator"
state=$(prop v zmr-ventilator.service ActiveState)
[ "$state" = inactive ] || fail "systemctl stop zmr-ventilator left it $state"
[ -s "/proc/${leader[v]}/root/var/lib/private/zmr-ventilator/job.journal" ] ||
    fail "systemctl stop zmr-ventilator lost the journal"
inm v systemctl start zmr-ventilator.service || fail "systemctl start zmr-ventilator (again)"
echo "zmr-ventilator.service: systemctl stop (inactive, not failed; journal kept) and start again"
# A new mapper mid-job; once the status shows it, the others leave (finishing
# the chunk in hand), so the second half can only be mapped by it.
inm m systemctl start zmr-mapper@3.service || fail "systemctl start zmr-mapper@3"
wait_status 'any(w["name"] == "m-mapper3" and w["state"] != "dead" for w in d["workers"])'
inm m systemctl stop zmr-mapper@1.service zmr-mapper@2.service || fail "systemctl stop zmr-mapper@1 @2"
timeout 180 cat "$work/part2" >&3 || fail "feeding the second half timed out"
wait_status 'any(w["name"] == "m-mapper3" and w["chunks"] > 0 for w in d["workers"])'
note=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
m = ", ".join("%s %d" % (w["name"], w["chunks"]) for w in d["workers"] if w["role"] == "mapper")
print("%d chunks done so far, re-issued %d, duplicates %d; mappers: %s"
      % (d["chunks_done"], d["chunks_reissued"], d["duplicates"], m))' "$work/status.json")
echo "status: $note"
exec 3>&-
ended v zmr-ventilator.service
ended s zmr-sink.service
ended r zmr-reducer@0.service
ended r zmr-reducer@1.service
echo "job: $((SECONDS - t_job)) s"
[ -e "/proc/${leader[v]}/root/var/lib/private/zmr-ventilator/job.journal" ] &&
    fail "the journal is still there after the job"

# The result, read by root in the machine where the unit says it is.
result() { inm s cat /var/lib/zmr-sink/counts.tsv 2>/dev/null | awk -F'\t' '{print $1, $2}' | LC_ALL=C sort; }
result > "$work/result"
if [ -s "$work/result" ]; then
    cmp -s "$work/result" "$work/reference" ||
        fail "result differs from the reference: $(diff "$work/reference" "$work/result" | head -n 4 | tr '\n' ' ')"
    echo "result: $(wc -l < "$work/result") distinct words, equal to the reference"
else
    fail "no result in /var/lib/zmr-sink/counts.tsv on s"
fi

# --- a second job: the standing mapper serves it ------------------------------------
# zmr-mapper@3 outlives the job and waits for the next one at the same address
# (the same process: a mapper is a standing pool); the ventilator, reducers
# and sink are started again by hand, with the state of the first job gone.
m3pid=$(prop m zmr-mapper@3.service MainPID)
[ "$(prop m zmr-mapper@3.service ActiveState)" = active ] && [ "${m3pid:-0}" != 0 ] ||
    fail "zmr-mapper@3 did not outlive the job"
t_job=$SECONDS
exec 3<>"$work/in/kjv.fifo"
inm r systemctl start zmr-reducer@0.service zmr-reducer@1.service || fail "second job: start reducers"
inm s systemctl start zmr-sink.service || fail "second job: systemctl start zmr-sink"
inm v systemctl start zmr-ventilator.service || fail "second job: systemctl start zmr-ventilator"
timeout 180 cat "$work/part2" >&3 || fail "second job: feeding timed out"
exec 3>&-
ended v zmr-ventilator.service
ended s zmr-sink.service
zt_reference "$work/part2" "$work/reference2"
result > "$work/result2"
if [ -s "$work/result2" ] && cmp -s "$work/result2" "$work/reference2"; then
    [ "$(prop m zmr-mapper@3.service MainPID)" = "$m3pid" ] &&
    [ "$(prop m zmr-mapper@3.service NRestarts)" = 0 ] ||
        fail "second job: zmr-mapper@3 is not the process that served the first"
    echo "second job (the second half, mapped by the standing zmr-mapper@3, MainPID $m3pid): $((SECONDS - t_job)) s, equal to its reference"
else
    fail "second job: result differs from its reference: $(diff "$work/reference2" "$work/result2" | head -n 4 | tr '\n' ' ')"
fi
# The pool's mapper leaves on systemctl stop, between jobs too, exit 0.
t=$SECONDS
inm m systemctl stop zmr-mapper@3.service || fail "systemctl stop zmr-mapper@3"
r=$(prop m zmr-mapper@3.service Result); code=$(prop m zmr-mapper@3.service ExecMainStatus)
[ "$r" = success ] && [ "$code" = 0 ] ||
    fail "zmr-mapper@3 stopped badly: result $r, exit $code"
echo "systemctl stop zmr-mapper@3 between jobs: $((SECONDS - t)) s, exit 0"
echo "test_systemd: $((SECONDS - t_start)) s in all"
exit 0
