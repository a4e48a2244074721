#!/bin/sh
# curve.sh KEYDIR: prints the Kubernetes objects that carry a job's CURVE
# certificates, made by `zmr keygen` in KEYDIR (README, "Encrypted and
# authenticated"): one for each role kind, shared by its replicas
#   zmr keygen ventilator; zmr keygen reducer; zmr keygen sink; zmr keygen mapper
# and any more public certificates (an operator's monitor.cert, ...).
#   - ConfigMap zmr-curve-public: every KEYDIR/*.cert (public keys: the
#     allow-list of the roles that bind, and ventilator.cert for the others);
#   - Secret zmr-curve-ROLE: ROLE.cert_secret, for each of the four roles.
# Usage: deploy/k8s/curve.sh keys > curve.yaml && kubectl apply -f curve.yaml
# (the same as `kubectl create configmap zmr-curve-public --from-file=...`
# and `kubectl create secret generic zmr-curve-ROLE --from-file=...`).
# Exit 0, 1 a certificate missing (said on stderr), 2 usage.
set -eu
case "${1:-}" in
    -h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "curve.sh: unknown option $1 (usage: curve.sh KEYDIR)" >&2; exit 2 ;;
esac
[ $# -eq 1 ] || { echo "usage: curve.sh KEYDIR" >&2; exit 2; }
dir=$1
for role in ventilator reducer sink mapper; do
    for f in "$dir/$role.cert" "$dir/$role.cert_secret"; do
        [ -r "$f" ] || { echo "curve.sh: no $f (zmr keygen $role, in $dir)" >&2; exit 1; }
    done
done
# file_entry NAME FILE: a YAML key with FILE's text as a literal block.
file_entry() {
    printf '  %s: |\n' "$1"
    sed 's/^/    /' "$2"
}
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: zmr-curve-public\n'
printf '  labels: {app.kubernetes.io/part-of: zmr}\ndata:\n'
for f in "$dir"/*.cert; do
    file_entry "$(basename "$f")" "$f"
done
for role in ventilator reducer sink mapper; do
    printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: zmr-curve-%s\n' "$role"
    printf '  labels: {app.kubernetes.io/part-of: zmr}\ntype: Opaque\nstringData:\n'
    file_entry "$role.cert_secret" "$dir/$role.cert_secret"
done
