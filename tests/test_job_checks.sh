#!/usr/bin/env bash
# What zmr run and zmr-ventilator check of a job before it starts, and how
# a job's results and failures read (issue 16 part 2, user trial, F2):
#   (a) zmr run --plugin with a plugin that cannot load (wrong ABI, no
#       zmr_plugin symbol, not an ELF file, no map function, an undefined
#       symbol): exit 2 with one line naming the problem, before any
#       process starts; the example plugin still runs, exact against awk
#   (b) --max-word with --map or --plugin: exit 2 naming --max-word, in zmr
#       run and zmr-ventilator; with the word count it still works
#   (c) map, plugin and reduce from a --config file: a bad value names
#       FILE:LINE, in zmr run and zmr-ventilator
#   (d) a command job whose keys include the empty one (blank input lines
#       with awk '{print $1}'): the result is exact against awk | sort |
#       uniq, and scripts/verify-receipt accepts it with its receipt
#   (e) a chunk whose map command fails, quarantined: the lines say a map
#       command failed, not only that mappers died
# Each check prints one line. Usage: test_job_checks.sh BINDIR BUILDDIR.
# Exit 0 all passed, 1 a check failed (said on stderr), 77 cannot run here.
set -uo pipefail
bin=$(cd "${1:?usage: test_job_checks.sh BINDIR BUILDDIR}" && pwd) || exit 1
build=$(cd "${2:?usage: test_job_checks.sh BINDIR BUILDDIR}" && pwd) || exit 1
src=$(cd "$(dirname "$0")/.." && pwd)
skip() { echo "SKIP: job_checks: $*"; exit 77; }
failed=0
fail() { echo "FAIL: job_checks: $*" >&2; failed=1; }
pass() { echo "ok: job_checks: $*"; }
for t in python3 awk sort uniq timeout; do
    command -v "$t" >/dev/null || skip "no $t"
done
for p in zmr zmr-ventilator zmr-mapper zmr-reducer zmr-sink; do
    [ -x "$bin/$p" ] || { echo "FAIL: job_checks: no $bin/$p" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/zmr-job-checks-XXXXXX")
cleanup() {
    if [ "${ZMR_TEST_KEEP:-}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
export LC_ALL=C
cd "$work" || exit 1
printf '10.0.0.1 - a 5\n10.0.0.2 - b 7\n10.0.0.1 - c 9\n' > in.log

# usage_error NAME EXPECT COMMAND...: COMMAND exits 2 within 60 s, its
# stderr is one error line (then the "Try ... --help" line), which holds
# EXPECT; and it started no process of a job (no role's name in stderr).
usage_error() {
    local name=$1 expect=$2
    shift 2
    timeout -k 5 60 "$@" > out.txt 2> err.txt < /dev/null
    local code=$? lines
    lines=$(grep -vc "^Try '" err.txt)
    if [ "$code" != 2 ]; then
        fail "$name: exit $code, expected 2: $(head -c 300 err.txt)"
    elif [ "$lines" != 1 ]; then
        fail "$name: $lines lines on stderr, expected one: $(head -c 300 err.txt)"
    elif ! grep -qF -- "$expect" err.txt; then
        fail "$name: stderr does not say '$expect': $(head -c 300 err.txt)"
    elif grep -q "zmr-mapper\|zmr-ventilator:" err.txt && [ "$2" = run ]; then
        fail "$name: a role was started: $(head -c 300 err.txt)"
    else
        pass "$name: exit 2, '$(head -n 1 err.txt | head -c 160)'"
    fi
}

# --- (a) a plugin that cannot load ------------------------------------------
plugins=()
for p in bad_abi no_symbol; do
    f="$build/tests/libplugin_$p.so"
    [ -f "$f" ] || { fail "(a) no $f (build the test plugins)"; continue; }
    plugins+=("$p=$f")
done
echo 'not an ELF file' > notelf.so
plugins+=("notelf=$work/notelf.so")
if command -v cc >/dev/null; then
    # Two more a compiler makes: a zmr_plugin without a map function, and
    # one needing a symbol nothing defines (RTLD_NOW finds it at load)
    printf '#include "zmr_plugin.h"\nconst zmr_plugin_t zmr_plugin = { .abi = ZMR_PLUGIN_ABI };\n' > nomap.c
    printf '#include "zmr_plugin.h"\nextern int zmr_no_such_function (void);\n%s\n%s\n' \
        'static int s_map (const char *l, size_t n, zmr_emit_t *e, void *s) { (void) l; (void) n; (void) e; (void) s; return zmr_no_such_function (); }' \
        'const zmr_plugin_t zmr_plugin = { .abi = ZMR_PLUGIN_ABI, .map = s_map };' > undefined.c
    for p in nomap undefined; do
        if cc -shared -fPIC -I "$src/include" -o "$p.so" "$p.c" 2> cc.err; then
            plugins+=("$p=$work/$p.so")
        else
            fail "(a) cannot build $p.so: $(head -c 200 cc.err)"
        fi
    done
else
    echo "ok: job_checks: (a) no cc: the no-map and undefined-symbol plugins are not tried"
fi
for entry in "${plugins[@]}"; do
    name=${entry%%=*} path=${entry#*=}
    case $name in
        bad_abi) expect="plugin ABI" ;;
        no_symbol) expect="no symbol 'zmr_plugin'" ;;
        notelf) expect="cannot load" ;;
        nomap) expect="no map function" ;;
        undefined) expect="zmr_no_such_function" ;;
    esac
    usage_error "(a) zmr run --plugin ($name)" "$expect" "$bin/zmr" run -m 1 --no-progress --plugin "$path" in.log
done
example="$build/examples/libzmr_example.so"
if [ -f "$example" ]; then
    timeout -k 5 120 "$bin/zmr" run -m 1 -r 1 --no-progress --plugin "$example" in.log > got.tsv 2> err.txt
    code=$?
    awk '{ s[$1] += $NF } END { for (k in s) print k "\t" s[k] }' in.log |
        sort -t "$(printf '\t')" -k2,2nr -k1,1 > want.tsv
    if [ "$code" = 0 ] && cmp -s got.tsv want.tsv; then
        pass "(a) the example plugin still runs, exact"
    else
        fail "(a) the example plugin: exit $code, $(head -c 300 err.txt)"
    fi
else
    fail "(a) no $example"
fi

# --- (b) --max-word is the word count's -------------------------------------
usage_error "(b) zmr run --max-word --map" "--max-word" "$bin/zmr" run --max-word 8 --map cat in.log
usage_error "(b) zmr-ventilator --max-word --map" "--max-word" \
    "$bin/zmr-ventilator" --max-word 8 --map cat in.log
if [ -f "$example" ]; then
    usage_error "(b) zmr run --max-word --plugin" "--max-word" \
        "$bin/zmr" run --max-word 8 --plugin "$example" in.log
fi
if timeout -k 5 120 "$bin/zmr" run -m 1 -r 1 --no-progress --max-word 4 in.log > got.tsv 2> err.txt &&
   [ "$(awk -F '\t' '{ n += $2 } END { print n }' got.tsv)" = \
     "$(awk '{ for (i = 1; i <= NF; i++) n += length ($i) <= 4 } END { print n }' in.log)" ]; then
    pass "(b) the word count with --max-word still runs"
else
    fail "(b) the word count with --max-word: $(head -c 300 err.txt)"
fi

# --- (c) the job's options in a --config file name FILE:LINE -----------------
printf '# a job\nmap =\n' > empty-map.conf
printf 'map = cat\n\nreduce = avg\n' > bad-reduce.conf
printf 'plugin = %s/no-such-plugin.so\n' "$work" > no-plugin.conf
for role in run ventilator; do
    if [ $role = run ]; then cmd=("$bin/zmr" run); else cmd=("$bin/zmr-ventilator"); fi
    usage_error "(c) $role: an empty map in a config" "empty-map.conf:2: --map" \
        "${cmd[@]}" --config empty-map.conf in.log
    usage_error "(c) $role: a bad reduce in a config" "bad-reduce.conf:3: --reduce" \
        "${cmd[@]}" --config bad-reduce.conf in.log
    usage_error "(c) $role: a missing plugin in a config" "no-plugin.conf:1: --plugin" \
        "${cmd[@]}" --config no-plugin.conf in.log
done

# --- (d) an empty key, and its receipt ---------------------------------------
printf 'a x\n\nb y\n   \na z\n\n' > blanks.txt
timeout -k 5 120 "$bin/zmr" run -m 1 -r 2 --no-progress --map "awk '{print \$1}'" \
    --receipt blanks.json -o blanks.tsv blanks.txt 2> err.txt
code=$?
awk '{ print $1 }' blanks.txt | sort | uniq -c | awk '{ k = NF == 2? $2: ""; print k "\t" $1 }' |
    sort -t "$(printf '\t')" -k2,2nr -k1,1 > want.tsv
if [ "$code" != 0 ] || ! cmp -s blanks.tsv want.tsv; then
    fail "(d) blank lines through awk: exit $code, result differs from awk|sort|uniq: $(head -c 300 err.txt)"
elif ! grep -q "^$(printf '\t')3\$" blanks.tsv; then
    fail "(d) the result has no empty key counted 3"
elif ! python3 "$src/scripts/verify-receipt" blanks.tsv blanks.json > out.txt 2> err.txt; then
    fail "(d) verify-receipt refuses a valid result with an empty key: $(head -c 300 err.txt)"
else
    pass "(d) an empty key: exact, and verify-receipt accepts it"
fi

# --- (e) a quarantine a map command caused says so ---------------------------
printf 'ok\npoison\nok\n' > poison.txt
timeout -k 5 120 "$bin/zmr" run -m 1 -r 1 --no-progress --poison-limit 1 \
    --map 'if grep -q poison; then echo bad >&2; exit 1; fi' poison.txt > out.txt 2> err.txt
code=$?
if [ "$code" != 3 ]; then
    fail "(e) a failing command: exit $code, expected 3: $(head -c 300 err.txt)"
elif ! grep -q "^zmr: done WITHOUT .*quarantined chunks.*(mappers failed (map command) or died" err.txt ||
     grep -q "WITHOUT 0 " err.txt ||
     ! grep -q "quarantined chunk.*failed (map command) or died" err.txt; then
    fail "(e) the quarantine lines do not say a map command failed: $(grep -i quarantin err.txt | head -c 400)"
else
    pass "(e) the quarantine lines say the map command failed"
fi
exit $failed
