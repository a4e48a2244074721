#!/usr/bin/env bash
# Fuzzes every decoder with libFuzzer under ASan+UBSan, each target for
# SECONDS (default 60), starting from the seed corpus that make_seeds
# writes, with a 64 MB malloc limit (a decoder that allocates what a frame
# declares fails it). Prints one line per target with its executions and
# fails if any target found a crash, a leak, a timeout or an allocation
# over the limit (the reproducer is kept in OUT).
# usage: tests/fuzz/run.sh [SECONDS] [OUT]     (needs clang, libclang-rt-dev)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
out=${2:-build-fuzz}
mkdir -p "$out"
command -v clang >/dev/null || { echo "fuzz: clang is not installed" >&2; exit 1; }

common=(-g -O1 -fno-sanitize-recover=all -DZMR_VERSION='"fuzz"' -Ilib -Itests/fuzz)
msgpack=msgpack-c   # the module was renamed across msgpack-c versions
pkg-config --exists "$msgpack" || msgpack=msgpack
read -r -a pkg_cflags <<< "$(pkg-config --cflags libczmq libzmq "$msgpack")"
read -r -a pkg_libs <<< "$(pkg-config --libs libczmq libzmq "$msgpack")"

echo "== building the fuzz targets in $out" >&2
# The library once, instrumented for coverage; each target links it.
mkdir -p "$out/obj"
objects=()
for source in lib/*.c; do
    object="$out/obj/$(basename "${source%.c}").o"
    clang "${common[@]}" -fsanitize=fuzzer-no-link,address,undefined "${pkg_cflags[@]}" \
        -c "$source" -o "$object" &
    objects+=("$object")
done
wait
build() {   # build NAME SOURCE [DEFINE]
    local name=$1 source=$2
    shift 2
    clang "${common[@]}" -fsanitize=fuzzer,address,undefined "$@" "${pkg_cflags[@]}" \
        "$source" "${objects[@]}" "${pkg_libs[@]}" -lcrypto -lpthread -o "$out/$name"
}
build fuzz_frame tests/fuzz/fuzz_frame.c
build fuzz_config tests/fuzz/fuzz_config.c
build fuzz_journal tests/fuzz/fuzz_journal.c
build fuzz_snapshot tests/fuzz/fuzz_snapshot.c
families=(chunk batch status control)
for i in "${!families[@]}"; do
    build "fuzz_${families[$i]}" tests/fuzz/fuzz_typed.c -DZMR_FUZZ_FAMILY=$((i + 1))
done
# The seeds, from the real encoders (no fuzzer main: its own).
clang "${common[@]}" -fsanitize=address,undefined "${pkg_cflags[@]}" tests/fuzz/make_seeds.c \
    lib/*.c "${pkg_libs[@]}" -lcrypto -lpthread -o "$out/make_seeds"
rm -rf "$out/seeds"
"$out/make_seeds" "$out/seeds" >/dev/null

failed=0
for target in frame config journal snapshot "${families[@]}"; do
    corpus="$out/corpus-$target"
    mkdir -p "$corpus" "$out/crashes-$target"
    cp -n "$out/seeds/$target"/* "$corpus"/ 2>/dev/null || true
    log="$out/fuzz-$target.log"
    rc=0
    "$out/fuzz_$target" -max_total_time="$seconds" -malloc_limit_mb=64 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$out/crashes-$target/" \
        "$corpus" > "$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz_$target: ${execs:-0} executions in ${seconds} s, exit $rc"
    if [ "$rc" -ne 0 ]; then
        grep -E "ERROR|SUMMARY|==[0-9]+==" "$log" | head -5 >&2
        failed=1
    fi
done
exit $failed
