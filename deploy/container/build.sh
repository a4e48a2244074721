#!/usr/bin/env bash
# build.sh: builds the image localhost/zmr:latest with podman from this
# working tree (deploy/container/Containerfile, the repository as context).
# No registry is reachable here, so the Debian 12 base it builds on,
# localhost/zmr-debian:bookworm, is made the first time with debootstrap
# from the mirror apt is configured with, then `podman import`; later
# builds reuse it and podman's layer cache (a rebuild only compiles).
#   deploy/container/build.sh            build (as root: rootful podman)
#   deploy/container/build.sh SRCDIR     build another tree (a clean export)
#   ZMR_DEBIAN_MIRROR=URL build.sh       another mirror for the base
# Exit: 0 built, 1 failed (one line on stderr says why), 2 usage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
image=localhost/zmr:latest
base=localhost/zmr-debian:bookworm

die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '== %s\n' "$*" >&2; }

case "${1:-}" in
    -h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option $1 (usage: deploy/container/build.sh [SRCDIR])" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "usage: deploy/container/build.sh [SRCDIR]" >&2; exit 2; }
src=$(cd "${1:-$root}" 2>/dev/null && pwd) || { echo "build.sh: no directory $1" >&2; exit 2; }
[ -f "$src/CMakeLists.txt" ] || { echo "build.sh: $src is not a zmr source tree" >&2; exit 2; }
command -v podman >/dev/null || die "podman is not installed (apt-get install podman runc)"
# Our engine settings (runc, explicit ulimits), never the machine's
# /etc/containers.
export CONTAINERS_CONF="$here/containers.conf"

# One build at a time on this machine: the test of the image and the
# Kubernetes test may both call this script.
lock=/run/lock/zmr-image-build.lock
[ -w "${lock%/*}" ] || lock=/tmp/zmr-image-build.lock
exec 9>"$lock"
flock -w 1800 9 || die "another build.sh has held $lock for 30 min"

# The mirror of the machine's own apt sources (deb822 .sources or
# one-line .list), first Debian entry that is not the security archive.
apt_uris() {   # apt_uris: every URI apt is configured with, one a line
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] && sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] && sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' ' '\n'
    done
    return 0
}

make_base() {
    command -v debootstrap >/dev/null || die "no $base and no debootstrap to make it (apt-get install debootstrap)"
    [ "$(id -u)" -eq 0 ] || die "making $base with debootstrap needs root"
    local mirror security tmp
    mirror=${ZMR_DEBIAN_MIRROR:-$(apt_uris | grep -v -- '-security' | grep -m1 '/debian/\?$' || true)}
    mirror=${mirror:-http://deb.debian.org/debian}
    security=$(apt_uris | grep -m1 'debian-security/\?$' || true)
    tmp=$(mktemp -d /var/tmp/zmr-base.XXXXXX)
    # The rootfs is removed however this ends.
    trap 'rm -rf "$tmp"' EXIT
    say "making $base: debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/log" 2>&1 \
        || { tail -n 5 "$tmp/log" >&2; die "debootstrap failed (log above)"; }
    # The image's apt reads the same mirror, with the point-release updates
    # and (when the machine has it) the security archive, so the libraries
    # of the build stage and of the runtime stage are the current ones.
    rm -f "$tmp/rootfs/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$mirror"
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        [ -z "$security" ] || printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security"
    } > "$tmp/rootfs/etc/apt/sources.list.d/debian.sources"
    # No documentation, manuals or translations (48 of the base's 121 MB),
    # now or from the packages the image adds; the licences stay.
    cat > "$tmp/rootfs/etc/dpkg/dpkg.cfg.d/zmr-nodoc" <<'EOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOC
    find "$tmp/rootfs/usr/share/doc" -type f ! -name copyright -delete
    find "$tmp/rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    rm -rf "$tmp/rootfs/usr/share/man/"* "$tmp/rootfs/usr/share/info/"* \
           "$tmp/rootfs/var/cache/apt/"*.bin "$tmp/rootfs/var/cache/apt/archives/"*.deb \
           "$tmp/rootfs/var/lib/apt/lists/"*
    tar -C "$tmp/rootfs" -c . | podman import --quiet - "$base" >/dev/null \
        || die "podman import of the debootstrap rootfs failed"
    rm -rf "$tmp"
    trap - EXIT
}

podman image exists "$base" || make_base

say "building $image from $src"
# --network host: the build only fetches Debian packages with apt, and
# podman's default network (10.88.0.0/16) is one we never use; the host's
# own network reaches the mirror as apt on the host does, and no netavark
# network (nor its firewall rules) is made for the build.
podman build --quiet --network host --layers \
    --ignorefile "$here/containerignore" \
    -f "$here/Containerfile" -t "$image" "$src" >/dev/null \
    || die "podman build failed (run it again without --quiet to see the step)"
# The images earlier builds replaced are untagged now (label
# zmr.stage=image): removed, except those a container still uses (those
# go at a later build). So are the compile stages of earlier builds
# (label zmr.stage=build), all but the newest, which makes a rebuild of
# the same tree instant.
podman images --filter dangling=true --filter label=zmr.stage=image --format '{{.ID}}' |
    while read -r id; do podman rmi "$id" >/dev/null 2>&1 || true; done
podman images --filter dangling=true --filter label=zmr.stage=build \
        --format '{{.CreatedAt}}|{{.ID}}' | sort -r | tail -n +2 | cut -d'|' -f2 |
    while read -r id; do podman rmi "$id" >/dev/null 2>&1 || true; done
say "$image: $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1/1e6}')"
