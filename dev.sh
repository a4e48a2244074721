#!/usr/bin/env bash
# dev.sh: the two commands of the README.
#   ./dev.sh demo   install what is missing, build, count the words of the
#                   King James Bible with live progress, print the top words
#   ./dev.sh test   install what is missing, build, run the whole test suite,
#                   then again built with ASan+UBSan, then a valgrind job,
#                   then fuzz every decoder with libFuzzer (30 s each)
# Works on a fresh Debian 12 (as root, or with sudo): every dependency comes
# from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")"

# help2man makes the man pages at build time; tmux is the terminal of the
# tests that drive the progress bar and zmr-monitor; libmicrohttpd is the
# HTTP server of zmr-monitor --http.
packages=(build-essential cmake pkg-config libzmq3-dev libczmq-dev
          libmsgpack-dev libssl-dev libcriterion-dev libmicrohttpd-dev
          bible-kjv python3 valgrind help2man tmux)
# Only the test command fuzzes (clang and its libFuzzer runtime) and
# renders the man pages to check them (groff). The multi-host test bed
# drops packets with nftables and turns off veth offloads with ethtool; its
# namespaces, veths and tbf come from iproute2 (not in a minimal Debian).
# The deployment tests build the container image with podman (runc: crun
# fails here; netavark and aardvark-dns for its networks) on a Debian base
# made by debootstrap, and boot the systemd units in systemd-nspawn
# machines. The web face is checked by a real Prometheus and Chromium.
# Podman's pods need catatonit (their pause image), netavark needs iptables
# (only suggested by podman), and the Kubernetes test reads the manifests
# with python3-yaml.
test_packages=(clang libclang-rt-14-dev groff-base nftables ethtool iproute2
               podman runc netavark aardvark-dns catatonit iptables debootstrap
               systemd-container python3-yaml prometheus chromium python3-zmq python3-msgpack
               wamerican)
jobs=$(nproc 2>/dev/null || echo 2)

say() { printf '== %s\n' "$*" >&2; }

install_missing() {   # install_missing [EXTRA PACKAGE...]
    local missing=()
    for p in "${packages[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
}

build() {   # build DIR [cmake options...]
    local dir=$1; shift
    say "building in $dir"
    cmake -S . -B "$dir" -DZMR_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs" -- --no-print-directory >/dev/null
}

case "${1:-}" in
    demo)
        install_missing
        build build
        bible gen1:1-rev22:21 > build/kjv.txt
        say "counting the words of the King James Bible ($(wc -c < build/kjv.txt) bytes)"
        build/bin/zmr run --progress -o build/kjv-counts.txt build/kjv.txt
        say "top 20 words (full result: build/kjv-counts.txt)"
        head -n 20 build/kjv-counts.txt
        ;;
    test)
        install_missing "${test_packages[@]}"
        build build
        say "test suite"
        (cd build && ctest --output-on-failure --timeout 600)
        build build-asan -DZMR_SANITIZER=address,undefined -DCMAKE_BUILD_TYPE=Debug
        say "test suite under ASan+UBSan"
        (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure --timeout 900)
        say "a whole job with every role under valgrind"
        tests/valgrind_job.sh build/bin
        say "fuzzing every decoder (libFuzzer, ASan+UBSan, 64 MB malloc limit, 30 s each)"
        tests/fuzz/run.sh 30 build-fuzz
        ;;
    *)
        echo "usage: ./dev.sh demo | ./dev.sh test" >&2
        exit 2
        ;;
esac
