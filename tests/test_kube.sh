#!/usr/bin/env bash
# The Kubernetes manifests of deploy/k8s/ run through `podman kube play`
# (issue 14, item 4): the project's image, the manifests' own ConfigMaps,
# Secrets (made by deploy/k8s/curve.sh), PVCs and pod templates, CURVE on
# every link, on a podman network of its own in 198.18.20.0/24. One job over
# the KJV text, checked against an independent reference (tr | sort |
# uniq -c); mid-job the mapper Deployment gets one more replica and the new
# mapper must do chunks, the ventilator's liveness probe is run (below), and
# a reducer's process is killed (-9) and started again by its pod's restart
# policy on its own PVC.
#
# podman 4.3 plays Pods, Deployments, ConfigMaps, Secrets and PVCs, but not
# StatefulSets, Jobs or Services, and not every field. What this script
# changes before playing (python3 below, `transform`), and nothing else:
#   - the StatefulSet zmr-reducer becomes, for each ordinal N < replicas, a
#     PVC state-zmr-reducer-N (from its volumeClaimTemplate, named as
#     Kubernetes names it) and a Pod zmr-reducer-N (its pod template, with
#     that claim as the volume `state`, hostname zmr-reducer-N);
#   - the Job zmr-ventilator becomes a Pod of its template named
#     zmr-ventilator: the name of its Service, since podman's DNS on the
#     network answers pod names, so `tcp://zmr-ventilator:5550` reaches it;
#   - an env `fieldRef: status.podIP` (not in podman 4.3) becomes the
#     literal address this script gives that pod with `kube play --ip`;
#   - the Secrets (curve.sh's output) are made with `podman secret create`
#     instead of played: podman 4.3's kube play writes a Secret's `data`
#     into the volume still base64-encoded, and its `stringData` not at
#     all; each podman secret is made of the same Secret document with the
#     text as it is under `data`, which is the form its volume code reads;
#   - a container's `ports` are left out: podman 4.3 publishes each
#     containerPort on the host, at the same number (two reducers: a
#     clash); in Kubernetes they only document the ports the pod binds;
#   - Service objects are left out (the one the workers dial is stood in
#     for as above; the headless one has no use without a StatefulSet);
#   - in the ConfigMap, `chunk-size = 1M` becomes 64K, so that the 4.3 MB
#     text makes ~70 chunks to share among mappers (a user's own choice);
#   - the scale-up: `kubectl scale deployment zmr-mapper --replicas=3` adds
#     one pod of the same template; here the Deployment is played a second
#     time, unchanged but for its name (zmr-mapper-scaled) and replicas: 1.
# Every file is played with --start=false and its pods are started once all
# are made (podman pod start): podman 4.3 writes a ConfigMap's volume anew
# (truncating its files) for each pod it makes, so a pod started meanwhile
# could read its --config half written.
# The Deployments zmr-sink and zmr-mapper are played as they are (but for
# the sink's pod IP and the ports). Probes: podman 4.3 ignores readinessProbe;
# it makes the ventilator's livenessProbe a healthcheck, which nothing runs
# here (no systemd to time it), so the test runs it by hand: it must pass on
# the running ventilator and fail on the ventilator frozen with SIGSTOP.
#
# The ventilator reads a FIFO put in the zmr-input volume, which this script
# feeds from the host: half the text, then the scale-up once the first
# mappers did chunks, then the rest and EOF, so the job is still running
# when the new mapper joins, on any machine speed.
#
# Objects keep the manifests' names (they are what is tested), so the script
# refuses to start when one of them exists already (a run killed with -9):
# it never removes what it did not make. It removes what it made, also on
# failure: pods, volumes, secrets, its monitor container and network
# (zmrk-PID-monitor, zmrk-PID-net), and the nft
# tables netavark made during the run if no container is left running.
# Usage: test_kube.sh SRCDIR. Exit 0 exact, 1 failed (said on stderr),
# 77 cannot run here (not root, no podman or what its pods need, podman
# cannot start a container).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=$(cd "${1:?usage: test_kube.sh SRCDIR}" && pwd) || exit 1
skip() { echo "SKIP: test_kube: $*"; exit 77; }
die() { echo "FAIL: test_kube: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (rootful podman)"
command -v podman >/dev/null || skip "no podman (./dev.sh test installs it)"
command -v catatonit >/dev/null || [ -x /usr/libexec/podman/catatonit ] ||
    skip "no catatonit, which podman's pods need (./dev.sh test installs it)"
command -v iptables >/dev/null || skip "no iptables, which netavark needs (./dev.sh test installs it)"
command -v bible >/dev/null || skip "no bible (package bible-kjv) for the input"
python3 -c 'import yaml' 2>/dev/null || skip "no python3-yaml for the manifests' transform"
# runc and explicit ulimits: crun fails here (deploy/container/containers.conf).
export CONTAINERS_CONF="$src/deploy/container/containers.conf"
k8s="$src/deploy/k8s"
image=localhost/zmr:latest

tag="zmrk$$"
net="$tag-net"
subnet=198.18.20.0/24
declare -A ip=([zmr-ventilator]=198.18.20.10 [zmr-reducer-0]=198.18.20.20
               [zmr-reducer-1]=198.18.20.21 [zmr-sink]=198.18.20.30)
work=$(mktemp -d "${TMPDIR:-/tmp}/zmr-kube-XXXXXX")
made_net=0
played=()        # files played, for `podman kube down`
made_pods=()     # pod names this run created
made_vols=()     # volume names this run created
made_secrets=()  # podman secrets this run created
made_ctrs=()     # containers (outside pods) this run created
tables_before=$(nft list tables 2>/dev/null)

cleanup() {
    local f p v s t
    trap '' PIPE INT TERM HUP
    exec 3>&- 2>/dev/null
    # -v: also the anonymous volumes of the image's VOLUMEs it mounts nothing on.
    for f in "${made_ctrs[@]}"; do podman rm -f -v -t 0 "$f" >/dev/null 2>&1; done
    for f in "${played[@]}"; do timeout 120 podman kube down "$f" >/dev/null 2>&1; done
    for p in "${made_pods[@]}"; do
        podman pod exists "$p" 2>/dev/null && timeout 120 podman pod rm -f -t 5 "$p" >/dev/null 2>&1
    done
    for v in "${made_vols[@]}"; do podman volume rm -f "$v" >/dev/null 2>&1; done
    for s in "${made_secrets[@]}"; do podman secret rm "$s" >/dev/null 2>&1; done
    [ "$made_net" = 1 ] && podman network rm -f "$net" >/dev/null 2>&1
    # netavark (iptables-nft) makes its tables at the first container of a
    # network and leaves them. Those that appeared during this run and hold
    # NETAVARK chains go, unless a container of someone else still runs (it
    # may be using them); no other table is touched.
    if [ -z "$(podman ps -q 2>/dev/null)" ]; then
        nft list tables 2>/dev/null | while read -r _ fam name; do
            grep -qx "table $fam $name" <<<"$tables_before" && continue
            nft list table "$fam" "$name" 2>/dev/null | grep -q NETAVARK &&
                nft delete table "$fam" "$name" 2>/dev/null
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- the image, the network ----------------------------------------------------
if ! podman image exists "$image"; then
    "$src/deploy/container/build.sh" || die "deploy/container/build.sh failed"
fi
podman run --rm --network none "$image" true >/dev/null 2>"$work/run.err" ||
    skip "podman cannot run a container here: $(tail -n 1 "$work/run.err")"

# The names the manifests give (see the transform): none may exist yet.
names_pods=(zmr-ventilator zmr-reducer-0 zmr-reducer-1 zmr-sink-pod-0
            zmr-mapper-pod-0 zmr-mapper-pod-1 zmr-mapper-scaled-pod-0)
names_vols=(zmr-input zmr-output zmr-journal state-zmr-reducer-0
            state-zmr-reducer-1 zmr-config zmr-curve-public zmr-curve-ventilator
            zmr-curve-reducer zmr-curve-sink zmr-curve-mapper)
names_secrets=(zmr-curve-ventilator zmr-curve-reducer zmr-curve-sink zmr-curve-mapper)
for p in "${names_pods[@]}"; do
    podman pod exists "$p" && die "a pod $p exists already (an earlier run killed with -9?); remove it: podman pod rm -f $p"
done
for v in "${names_vols[@]}"; do
    podman volume exists "$v" && die "a volume $v exists already (an earlier run?); remove it: podman volume rm $v"
done
for s in "${names_secrets[@]}"; do
    podman secret inspect "$s" >/dev/null 2>&1 && die "a podman secret $s exists already; remove it: podman secret rm $s"
done
holder=$(podman network ls --format '{{.Name}} {{range .Subnets}}{{.Subnet}} {{end}}' |
         awk -v s="$subnet" '{ for (i = 2; i <= NF; i++) if ($i == s) print $1 }')
[ -z "$holder" ] || die "podman network $holder holds $subnet already (an earlier run?)"
podman network create --subnet "$subnet" "$net" >/dev/null || die "podman network create $net"
made_net=1
made_pods=("${names_pods[@]}")
made_vols=("${names_vols[@]}")
made_secrets=("${names_secrets[@]}")

# --- keys, input, reference ----------------------------------------------------
keys="$work/keys"
mkdir -p "$keys"
podman run --rm --network none --user 0 -v "$keys:/keys" -w /keys "$image" \
    sh -c 'for r in ventilator reducer sink mapper monitor; do zmr keygen $r || exit 1; done' \
    >/dev/null 2>"$work/keygen.err" || die "zmr keygen in the image: $(tail -n 1 "$work/keygen.err")"
chown -R 10001 "$keys"   # the image's user: the monitor below reads its key
"$k8s/curve.sh" --help | grep -q 'zmr-curve-public' || die "curve.sh --help does not say what it prints"
"$k8s/curve.sh" --no-such-option 2>/dev/null
[ $? -eq 2 ] || die "curve.sh --no-such-option did not exit 2"
"$k8s/curve.sh" "$keys" > "$work/curve.yaml" || die "deploy/k8s/curve.sh"

zt_kjv_input "$work" || skip "bible printed nothing"

# --- the transform (see the top of this file) -----------------------------------
transform() {
    python3 - "$k8s" "$work" \
        "${ip[zmr-ventilator]}" "${ip[zmr-reducer-0]}" "${ip[zmr-reducer-1]}" "${ip[zmr-sink]}" <<'PY'
import copy, glob, os, sys, yaml
k8s, out = sys.argv[1], sys.argv[2]
ips = {"zmr-ventilator": sys.argv[3], "zmr-reducer-0": sys.argv[4],
       "zmr-reducer-1": sys.argv[5], "zmr-sink": sys.argv[6]}
docs = {}
for f in sorted(glob.glob(os.path.join(k8s, "*.yaml"))):
    for d in yaml.safe_load_all(open(f)):
        if d:
            docs[(d["kind"], d["metadata"]["name"])] = d

def pod_ip(spec, addr):
    """env fieldRef status.podIP -> the literal address of kube play --ip."""
    n = 0
    for c in spec["containers"]:
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("fieldRef", {})
            if ref.get("fieldPath") == "status.podIP":
                del e["valueFrom"]
                e["value"] = addr
                n += 1
    return n

def no_ports(spec):
    """podman 4.3 would publish every containerPort on the host."""
    for c in spec["containers"]:
        c.pop("ports", None)

def pod(name, template, extra_volumes=()):
    spec = copy.deepcopy(template["spec"])
    no_ports(spec)
    spec["volumes"] = spec.get("volumes", []) + list(extra_volumes)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": dict(template["metadata"].get("labels", {}))},
            "spec": spec}

def write(name, items):
    with open(os.path.join(out, name), "w") as f:
        yaml.safe_dump_all(items, f, sort_keys=False)

config = copy.deepcopy(docs[("ConfigMap", "zmr-config")])
vc = config["data"]["ventilator.conf"]
assert "chunk-size = 1M\n" in vc, "config.yaml: no 'chunk-size = 1M' to change"
config["data"]["ventilator.conf"] = vc.replace("chunk-size = 1M\n", "chunk-size = 64K\n")
public = [d for d in yaml.safe_load_all(open(os.path.join(out, "curve.yaml")))
          if d["kind"] == "ConfigMap"]
maps = [config] + public     # ahead of every workload that mounts them
for d in yaml.safe_load_all(open(os.path.join(out, "curve.yaml"))):
    if d["kind"] == "Secret":
        raw = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": d["metadata"]["name"]},
               "type": d.get("type", "Opaque"), "data": dict(d["stringData"])}
        write("secret-%s.yaml" % d["metadata"]["name"], [raw])

write("storage.yaml", [docs[("PersistentVolumeClaim", "zmr-input")],
                       docs[("PersistentVolumeClaim", "zmr-output")]])

job = docs[("Job", "zmr-ventilator")]
v = pod("zmr-ventilator", job["spec"]["template"])
assert pod_ip(v["spec"], ips["zmr-ventilator"]) == 0  # it binds, gives no address
write("ventilator.yaml", maps + [docs[("PersistentVolumeClaim", "zmr-journal")], v])

sts = docs[("StatefulSet", "zmr-reducer")]
assert sts["spec"]["replicas"] == 2, "reducer.yaml: the test expects 2 reducers"
for n in range(sts["spec"]["replicas"]):
    name = "zmr-reducer-%d" % n
    claims, vols = [], []
    for t in sts["spec"]["volumeClaimTemplates"]:
        c = copy.deepcopy(t)
        c["apiVersion"], c["kind"] = "v1", "PersistentVolumeClaim"
        c["metadata"]["name"] = "%s-%s" % (t["metadata"]["name"], name)
        claims.append(c)
        vols.append({"name": t["metadata"]["name"],
                     "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}})
    p = pod(name, sts["spec"]["template"], vols)
    p["spec"]["hostname"] = name
    assert pod_ip(p["spec"], ips[name]) == 1
    write("%s.yaml" % name, maps + claims + [p])

sink = copy.deepcopy(docs[("Deployment", "zmr-sink")])
assert pod_ip(sink["spec"]["template"]["spec"], ips["zmr-sink"]) == 1
no_ports(sink["spec"]["template"]["spec"])
write("sink.yaml", maps + [sink])

mapper = docs[("Deployment", "zmr-mapper")]
assert mapper["spec"]["replicas"] == 2, "mapper.yaml: the test expects 2 replicas"
no_ports(mapper["spec"]["template"]["spec"])
write("mapper.yaml", maps + [mapper])
scaled = copy.deepcopy(mapper)
scaled["metadata"]["name"] = "zmr-mapper-scaled"
scaled["spec"]["replicas"] = 1
write("mapper-scaled.yaml", maps + [scaled])
print(mapper["spec"]["replicas"])
PY
}
mappers=$(transform) || die "the transform of deploy/k8s/*.yaml failed"

logs() { # the last lines of every container of the job, on stderr
    local c
    for c in $(podman ps -a --format '{{.Names}}' | grep -E '^zmr-.*-(ventilator|reducer|sink|mapper)$'); do
        echo "--- $c" >&2
        podman logs "$c" 2>&1 | tail -n 5 >&2
    done
}
# play FILE [kube play options]: bounded; its output kept in $work/play.log.
play() {
    local f=$1; shift
    played+=("$work/$f")
    # 3>&-: conmon and the pods must not hold the FIFO's write end open.
    timeout 300 podman kube play --start=false --network "$net" "$@" "$work/$f" 3>&- >>"$work/play.log" 2>&1 ||
        { logs; grep -v '^[[:space:]]' "$work/play.log" | tail -n 8 >&2; die "podman kube play $f failed (above)"; }
}

t0=$(date +%s.%N)
# Secrets first (see the transform), then the volumes, then the workloads.
for sec in "${names_secrets[@]}"; do
    podman secret create "$sec" "$work/secret-$sec.yaml" >/dev/null || die "podman secret create $sec"
done
play storage.yaml
in_dir=$(podman volume inspect --format '{{.Mountpoint}}' zmr-input) || die "no volume zmr-input"
mkfifo -m 0644 "$in_dir/kjv.fifo" || die "mkfifo in zmr-input"
exec 3<>"$in_dir/kjv.fifo"
play ventilator.yaml --ip "${ip[zmr-ventilator]}"
play zmr-reducer-0.yaml --ip "${ip[zmr-reducer-0]}"
play zmr-reducer-1.yaml --ip "${ip[zmr-reducer-1]}"
play sink.yaml --ip "${ip[zmr-sink]}"
play mapper.yaml
start_pods() {
    local p
    for p in "$@"; do
        timeout 120 podman pod start "$p" 3>&- >/dev/null 2>>"$work/play.log" ||
            { logs; die "podman pod start $p: $(tail -n 1 "$work/play.log")"; }
    done
}
start_pods zmr-ventilator zmr-reducer-0 zmr-reducer-1 zmr-sink-pod-0 zmr-mapper-pod-0 zmr-mapper-pod-1

# The job watched as an operator would: zmr-monitor --json in a container
# of its own on the network, with its own key (monitor.cert is in the
# allow-list: curve.sh puts every public certificate there). It exits once
# the job is over, its last line the final status.
podman run -d --name "$tag-monitor" --network "$net" -v "$keys:/keys:ro" "$image" \
    zmr-monitor --json --curve-cert /keys/monitor.cert_secret \
    --curve-server /keys/ventilator.cert tcp://zmr-ventilator:5552 3>&- >/dev/null ||
    die "podman run of the monitor"
made_ctrs+=("$tag-monitor")
status_json() { podman logs "$tag-monitor" 2>/dev/null | tail -n 1; }

# wait_status PYEXPR: until the status (as d) makes PYEXPR true, bounded; the
# last status is left in $work/status.json.
wait_status() {
    local j end=$((SECONDS + 240))
    while [ $SECONDS -lt $end ]; do
        j=$(status_json)
        if [ -n "$j" ] && python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$j" "$1" 2>/dev/null; then
            printf '%s\n' "$j" > "$work/status.json"
            return 0
        fi
        [ -n "$j" ] && printf '%s\n' "$j" > "$work/status.json"
        sleep 0.5
    done
    logs
    die "the status never showed: $1 (last: $(head -c 600 "$work/status.json" 2>/dev/null))"
}
mapper_alive='sum(1 for w in d["workers"] if w["role"] == "mapper" and w["state"] != "dead" and w["name"].startswith("%s"))'

# Every partition served and the sink there: the job maps (else the status
# says whom it waits for, and that is the failure).
wait_status 'd["phase"] != "waiting"'
timeout 300 cat "$work/part1" >&3 || die "feeding the first half timed out"
wait_status "d[\"chunks_done\"] >= 2 and $(printf "$mapper_alive" zmr-mapper-pod-) == $mappers"
# The ventilator's liveness probe, which podman 4.3 made its healthcheck (and
# never runs by itself here: no systemd to time it), run by hand: healthy
# while the ventilator runs, unhealthy once it is frozen (SIGSTOP); then
# the job goes on (SIGCONT).
vpid=$(podman inspect --format '{{.State.Pid}}' zmr-ventilator-ventilator)
[ "${vpid:-0}" -gt 0 ] || die "no pid for the ventilator's container"
timeout 120 podman healthcheck run zmr-ventilator-ventilator 3>&- >/dev/null ||
    die "the ventilator's liveness probe fails on a running ventilator"
kill -STOP "$vpid"
timeout 120 podman healthcheck run zmr-ventilator-ventilator 3>&- >/dev/null; probe=$?
kill -CONT "$vpid"
[ "$probe" = 1 ] || die "the liveness probe did not fail on a frozen ventilator (exit $probe)"
# kubectl scale deployment zmr-mapper --replicas=$((mappers + 1)), as podman can.
play mapper-scaled.yaml
start_pods zmr-mapper-scaled-pod-0
wait_status "$(printf "$mapper_alive" zmr-mapper-scaled-pod-0) == 1"
# A reducer's process killed (-9) mid-job: its pod's restartPolicy (Always,
# the StatefulSet's) starts it again, as the kubelet would, on its own PVC
# (--state); the job goes on and stays exact.
rpid=$(podman inspect --format '{{.State.Pid}}' zmr-reducer-0-reducer)
[ "${rpid:-0}" -gt 0 ] || die "no pid for zmr-reducer-0's container"
kill -9 "$rpid"
end=$((SECONDS + 120))
while :; do
    now=$(podman inspect --format '{{.State.Pid}} {{.State.Status}} {{.RestartCount}}' zmr-reducer-0-reducer 2>/dev/null)
    case $now in "$rpid "*|"0 "*|"") ;; *" running "*) break;; esac
    [ $SECONDS -lt $end ] || { logs; die "zmr-reducer-0 was not started again after kill -9 ($now)"; }
    sleep 0.5
done
restarts=${now##* }
wait_status 'any(w["name"] == "zmr-reducer-0" and w["state"] != "dead" for w in d["workers"])'
timeout 300 cat "$work/part2" >&3 || die "feeding the second half timed out"
exec 3>&-
wait_status 'd["phase"] in ("done", "failed")'
cp "$work/status.json" "$work/final.json"
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["phase"] != "done")' \
    "$work/final.json" || { logs; die "the job failed: $(head -c 600 "$work/final.json")"; }

# The ventilator's container ends with the job: exit 0 (a Job completed).
end=$((SECONDS + 120))
while [ $SECONDS -lt $end ]; do
    state=$(podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' zmr-ventilator-ventilator 2>/dev/null)
    case $state in exited*|stopped*) break;; esac
    sleep 1
done
[ "${state#* }" = 0 ] && [ "${state% *}" != running ] ||
    { logs; die "the ventilator did not exit 0 ($state)"; }
t1=$(date +%s.%N)

# --- the result -----------------------------------------------------------------
out_dir=$(podman volume inspect --format '{{.Mountpoint}}' zmr-output) || die "no volume zmr-output"
[ -s "$out_dir/counts.tsv" ] || { logs; die "no counts.tsv in the volume zmr-output"; }
awk -F'\t' '{print $1, $2}' "$out_dir/counts.tsv" | LC_ALL=C sort > "$work/result"
cmp -s "$work/result" "$work/reference" ||
    die "result differs from the reference: $(diff "$work/reference" "$work/result" | head -n 4 | tr '\n' ' ')"
[ -s "$out_dir/receipt.json" ] || die "no receipt.json in the volume zmr-output"
python3 "$src/scripts/verify-receipt" "$out_dir/counts.tsv" "$out_dir/receipt.json" >/dev/null ||
    die "scripts/verify-receipt refuses the result and its receipt"
python3 - "$work/final.json" <<'PY' || die "the mapper added mid-job did no chunk"
import json, sys
d = json.load(open(sys.argv[1]))
m = {w["name"]: w["chunks"] for w in d["workers"] if w["role"] == "mapper"}
sys.exit(0 if m.get("zmr-mapper-scaled-pod-0", 0) > 0 else 1)
PY
health=$(podman inspect --format '{{.State.Healthcheck.Status}}' zmr-ventilator-ventilator 2>/dev/null)
python3 - "$work/final.json" "$t0" "$t1" "${health:-none}" "$restarts" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = ", ".join("%s %d" % (w["name"], w["chunks"]) for w in d["workers"] if w["role"] == "mapper")
print("kube: exact, %.1f s; %d chunks, re-issued %d, duplicates %d; mappers: %s; "
      "zmr-reducer-0 killed, restarts %s; liveness probe: passed running, failed frozen "
      "(healthcheck left at %s)" % (float(sys.argv[3]) - float(sys.argv[2]), d["chunks_done"],
      d["chunks_reissued"], d["duplicates"], m, sys.argv[5], sys.argv[4]))
PY
exit 0
