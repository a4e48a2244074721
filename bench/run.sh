#!/usr/bin/env bash
# bench/run.sh — zmr against real baselines, side by side, on real and Zipf
# text.  Not part of CI (it takes minutes).  See bench/README.md.
#
#   bench/run.sh [--quick] [--runs N] [--size SIZE] [--scaling] ...
#
# Prepares the corpora in bench/out/, runs every tool on every corpus N times
# (interleaved, so drift hits every tool alike), checks every output against
# the reference count, and prints a table of medians, also written to
# bench/out/results.md.  Exit status 0 when every output was right, 1 when
# any output was wrong or any run failed or timed out, 2 on usage errors.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/out

RUNS=3
SIZE_ARG=100M
SCALING=0
MAP_COST=100
CORPORA=kjv,zipf
TOOLS=zmr,yard1,yard2,mawk,tsu,dask
ZMR=${ZMR:-$ROOT/build/bin/zmr}
BUILD=1
TIMEOUT=
WAIT_IDLE=0

usage() {
    cat <<'EOF'
Usage: bench/run.sh [OPTION]...
Benchmark `zmr run` against a tuned single-process counter (the yardstick),
mawk, tr|sort|uniq -c and Dask, on the KJV Bible repeated and on Zipf text.

  --quick           20 MB corpora (smoke run); same as --size 20M
  --size SIZE       corpus size: 100M (default), 1G, or bytes; K/M/G = 10^3/6/9
  --runs N          runs of each tool on each corpus; medians are shown (3)
  --corpora LIST    comma-separated, from: kjv,zipf (default both)
  --tools LIST      comma-separated, from: zmr,yard1,yard2,mawk,tsu,dask
                    (default all; dask only if python3 can import dask)
  --scaling         also zmr with -m 1,2,4, -r 1,2,4, and --map-cost C with
                    -m 1,2,4
  --map-cost C[,C]  the per-word extra work (rounds) for the scaling runs;
                    a list runs each (default 100)
  --zmr PATH        the zmr binary (default build/bin/zmr, or $ZMR)
  --no-build        do not (re)build zmr with cmake first
  --timeout SECS    limit for one run of one tool (default from the size)
  --wait-idle SECS  first wait up to SECS for the CPUs to be idle
  -h, --help        this help

Results: bench/out/results.md (and stdout).  Exit 1 if any output differs
from the reference or any run fails.
EOF
}

die() { echo "run.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        --quick) SIZE_ARG=20M ;;
        --size) [ $# -ge 2 ] || { usage >&2; exit 2; }; SIZE_ARG=$2; shift ;;
        --size=*) SIZE_ARG=${1#*=} ;;
        --runs) [ $# -ge 2 ] || { usage >&2; exit 2; }; RUNS=$2; shift ;;
        --runs=*) RUNS=${1#*=} ;;
        --corpora) [ $# -ge 2 ] || { usage >&2; exit 2; }; CORPORA=$2; shift ;;
        --corpora=*) CORPORA=${1#*=} ;;
        --tools) [ $# -ge 2 ] || { usage >&2; exit 2; }; TOOLS=$2; shift ;;
        --tools=*) TOOLS=${1#*=} ;;
        --scaling) SCALING=1 ;;
        --map-cost) [ $# -ge 2 ] || { usage >&2; exit 2; }; MAP_COST=$2; shift ;;
        --map-cost=*) MAP_COST=${1#*=} ;;
        --zmr) [ $# -ge 2 ] || { usage >&2; exit 2; }; ZMR=$2; BUILD=0; shift ;;
        --zmr=*) ZMR=${1#*=}; BUILD=0 ;;
        --no-build) BUILD=0 ;;
        --timeout) [ $# -ge 2 ] || { usage >&2; exit 2; }; TIMEOUT=$2; shift ;;
        --timeout=*) TIMEOUT=${1#*=} ;;
        --wait-idle) [ $# -ge 2 ] || { usage >&2; exit 2; }; WAIT_IDLE=$2; shift ;;
        --wait-idle=*) WAIT_IDLE=${1#*=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs wants a positive integer" >&2; exit 2; }
[[ $MAP_COST =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "run.sh: --map-cost wants integers" >&2; exit 2; }
[[ $WAIT_IDLE =~ ^[0-9]+$ ]] || { echo "run.sh: --wait-idle wants seconds" >&2; exit 2; }

# SIZE: bytes, K/M/G decimal
if [[ $SIZE_ARG =~ ^([0-9]+)([KMG]?)B?$ ]]; then
    case ${BASH_REMATCH[2]} in
        K) SIZE=$(( BASH_REMATCH[1] * 1000 )) ;;
        M) SIZE=$(( BASH_REMATCH[1] * 1000000 )) ;;
        G) SIZE=$(( BASH_REMATCH[1] * 1000000000 )) ;;
        *) SIZE=${BASH_REMATCH[1]} ;;
    esac
else
    echo "run.sh: bad --size '$SIZE_ARG'" >&2; exit 2
fi
[ "$SIZE" -ge 1000000 ] || { echo "run.sh: --size must be at least 1M" >&2; exit 2; }
LABEL=$SIZE_ARG
[ -n "$TIMEOUT" ] || TIMEOUT=$(( 300 + SIZE * 3 / 1000000 ))   # tr|sort|uniq: ~18 MB/s
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --timeout wants seconds" >&2; exit 2; }

has() { case ",$1," in *",$2,"*) return 0 ;; *) return 1 ;; esac; }
for c in ${CORPORA//,/ }; do
    case $c in kjv|zipf) ;; *) echo "run.sh: unknown corpus '$c'" >&2; exit 2 ;; esac
done
for t in ${TOOLS//,/ }; do
    case $t in zmr|yard1|yard2|mawk|tsu|dask) ;; *) echo "run.sh: unknown tool '$t'" >&2; exit 2 ;; esac
done

mkdir -p "$OUT"
trap 'rm -f "$OUT/.time" "$OUT"/.time.[0-9] "$OUT/.err" "$OUT/.norm" "$OUT/results.md.tmp" "$OUT"/*.tmp' EXIT
LOG=$OUT/run.log
: > "$LOG"
say() { echo "$*" | tee -a "$LOG" >&2; }

# ---- prerequisites -----------------------------------------------------

install_pkg() {   # install_pkg PACKAGE WHY
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing Debian package $1 ($2)"
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "$1" >>"$LOG" 2>&1 \
            || die "apt-get install $1 failed (see $LOG)"
    else
        die "$2 is missing: install the Debian package $1"
    fi
}
command -v cc >/dev/null || install_pkg build-essential "a C compiler"
command -v mawk >/dev/null || install_pkg mawk mawk
command -v bible >/dev/null || install_pkg bible-kjv "the KJV text (bible)"
[ -x /usr/bin/time ] || install_pkg time "/usr/bin/time"
DICT=/usr/share/dict/american-english-huge
[ -r "$DICT" ] || install_pkg wamerican-huge "the word list $DICT"
command -v timeout >/dev/null || die "timeout (coreutils) is missing"

PY=
if has "$TOOLS" dask; then
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null && "$p" -c 'import dask, dask.bag' 2>/dev/null; then
            PY=$p; break
        fi
    done
    if [ -z "$PY" ]; then
        say "note: Dask not found (python3 -c 'import dask' fails; Debian: python3-dask); skipping it"
        TOOLS=$(echo ",$TOOLS," | sed 's/,dask,/,/; s/^,//; s/,$//')
    fi
fi

# ---- builds --------------------------------------------------------------

build_if_stale() {   # build_if_stale OUTPUT SOURCE CC-ARGS...
    local out=$1 src=$2; shift 2
    if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
        say "building $(basename "$out"): cc $*"
        cc "$@" -o "$out" "$src" -lm || die "cannot build $out"
    fi
}
build_if_stale "$OUT/yardstick" "$HERE/yardstick.c" -O2 -march=native -pthread -Wall
build_if_stale "$OUT/zipf" "$HERE/zipf.c" -O2 -Wall
if [ "$BUILD" = 1 ] && has "$TOOLS" zmr; then
    say "building zmr (cmake, build/)"
    ( cd "$ROOT" && { [ -f build/CMakeCache.txt ] || cmake -S . -B build >>"$LOG" 2>&1; } \
        && cmake --build build -j "$(nproc)" >>"$LOG" 2>&1 ) || die "zmr does not build (see $LOG)"
fi
if has "$TOOLS" zmr; then
    [ -x "$ZMR" ] || die "no zmr binary at $ZMR"
    ZMR_HELP=$("$ZMR" run --help 2>&1 || true)
    ZMR_STATS=0; case $ZMR_HELP in *--stats*) ZMR_STATS=1 ;; esac
    ZMR_COST=0; case $ZMR_HELP in *--map-cost*) ZMR_COST=1 ;; esac
    [ "$ZMR_STATS" = 1 ] || say "note: zmr has no --stats; its RSS is the largest single process only"
    if [ "$SCALING" = 1 ] && [ "$ZMR_COST" = 0 ]; then
        say "note: zmr has no --map-cost; the map-cost scaling runs are skipped"
    fi
fi

# ---- corpora and references ------------------------------------------------

KJV1=$OUT/kjv-1.txt
if [ ! -s "$KJV1" ]; then
    say "extracting the KJV (bible gen1:1-rev22:21)"
    timeout 300 bible gen1:1-rev22:21 > "$KJV1.tmp" || die "bible failed"
    mv "$KJV1.tmp" "$KJV1"
fi
KJV1_SIZE=$(stat -c %s "$KJV1")
COPIES=$(( (SIZE + KJV1_SIZE - 1) / KJV1_SIZE ))
TARGET=$(( COPIES * KJV1_SIZE ))   # both corpora get this many bytes

corpus_file() { echo "$OUT/$1-$LABEL.txt"; }

make_corpus() {   # make_corpus NAME
    local f; f=$(corpus_file "$1")
    case $1 in
        kjv)
            if [ -s "$f" ] && [ "$(stat -c %s "$f")" = "$TARGET" ] && [ "$f" -nt "$KJV1" ]; then return; fi
            say "making $f: the KJV x $COPIES"
            for _ in $(seq "$COPIES"); do cat "$KJV1"; done > "$f.tmp"
            mv "$f.tmp" "$f" ;;
        zipf)
            if [ -s "$f" ] && [ "$f" -nt "$OUT/zipf" ]; then
                local s; s=$(stat -c %s "$f")
                if [ "$s" -ge "$TARGET" ] && [ "$s" -lt $(( TARGET + 4096 )) ]; then return; fi
            fi
            say "making $f: Zipf (s=1.0) over $DICT, $TARGET bytes"
            timeout 900 "$OUT/zipf" -w "$DICT" "$TARGET" > "$f.tmp" || die "zipf failed"
            mv "$f.tmp" "$f" ;;
    esac
}

# canonical form: word<TAB>count, count descending, ties bytewise
canon_sort() { sort -t "$(printf '\t')" -k2,2nr -k1,1; }
# `uniq -c` lines ("%7d word") to word<TAB>count
uniqc_to_tsv() { awk '{ n = $1; sub(/^ *[0-9]+ /, ""); printf "%s\t%s\n", $0, n }' "$1"; }

make_reference() {   # make_reference NAME -> $OUT/ref-NAME-LABEL.tsv and .info
    local f ref info
    f=$(corpus_file "$1"); ref=$OUT/ref-$1-$LABEL.tsv; info=$OUT/ref-$1-$LABEL.info
    if [ -s "$ref" ] && [ -s "$info" ] && [ "$ref" -nt "$f" ]; then return; fi
    say "computing the reference for $1 (tr|sed|sort|uniq -c, once)"
    timeout "$TIMEOUT" bash -c 'set -euo pipefail; export LC_ALL=C
        tr -s " \t\n\v\f\r" "\n" < "$1" | sed "/^\$/d" | sort | uniq -c > "$2"' _ "$f" "$ref.uniq" \
        || die "the reference pipeline failed on $f"
    uniqc_to_tsv "$ref.uniq" | canon_sort > "$ref.tmp"
    rm -f "$ref.uniq"
    awk -F '\t' '{ w += $2 } END { printf "%d %d\n", w, NR }' "$ref.tmp" > "$info"
    mv "$ref.tmp" "$ref"
}

# ---- running the tools -----------------------------------------------------

FAIL=0
declare -A WALL RSS PSS      # "corpus|tool" -> space-separated samples (PSS: zmr's only)
declare -A BAD               # "corpus|tool" -> "wrong failed ..." per bad run
declare -A NAME=(
    [zmr]="zmr run (defaults)"
    [yard1]="yardstick -t 1"
    [yard2]="yardstick -t 2"
    [mawk]="tr | mawk"
    [tsu]="tr|sort|uniq -c"
    [dask]="Dask bag, 2 workers"
)

peak_of() { local v; v=$(tail -n 1 "$1" 2>/dev/null | tr -dc 0-9); echo "${v:-0}"; }

# run_one TOOL CORPUSFILE OUTFILE [ZMR-ARGS...] -> sets R_MS, R_KB; returns the
# tool's status
run_one() {
    local tool=$1 f=$2 o=$3; shift 3
    local tf=$OUT/.time err=$OUT/.err t0 t1 rc=0
    rm -f "$tf" "$tf".[0-9] "$err" "$o"
    t0=${EPOCHREALTIME/./}
    case $tool in
        zmr)
            if [ "$ZMR_MEM" = 1 ]; then
                timeout -k 10 "$TIMEOUT" "$ZMR" run --stats --no-progress "$@" -o "$o" "$f" 2>"$err" || rc=$?
            else
                timeout -k 10 "$TIMEOUT" /usr/bin/time -f %M -o "$tf" \
                    "$ZMR" run --no-progress "$@" -o "$o" "$f" 2>"$err" || rc=$?
            fi ;;
        yard1|yard2)
            timeout -k 10 "$TIMEOUT" /usr/bin/time -f %M -o "$tf" \
                "$OUT/yardstick" -t "${tool#yard}" -o "$o" "$f" 2>"$err" || rc=$? ;;
        mawk)
            timeout -k 10 "$TIMEOUT" bash -c 'set -euo pipefail; export LC_ALL=C
                /usr/bin/time -f %M -o "$3.1" tr "\v\f\r" "   " < "$1" |
                /usr/bin/time -f %M -o "$3.2" mawk "{ for (i = 1; i <= NF; i++) c[\$i]++ }
                    END { for (w in c) printf \"%s\t%d\n\", w, c[w] }" > "$2"' _ "$f" "$o" "$tf" \
                2>"$err" || rc=$? ;;
        tsu)
            timeout -k 10 "$TIMEOUT" bash -c 'set -euo pipefail; export LC_ALL=C
                /usr/bin/time -f %M -o "$3.1" tr -s " \t\n\v\f\r" "\n" < "$1" |
                /usr/bin/time -f %M -o "$3.2" sed "/^\$/d" |
                /usr/bin/time -f %M -o "$3.3" sort |
                /usr/bin/time -f %M -o "$3.4" uniq -c > "$2"' _ "$f" "$o" "$tf" 2>"$err" || rc=$? ;;
        dask)
            timeout -k 10 "$TIMEOUT" "$PY" "$HERE/dask_wc.py" --workers 2 "$f" "$o" 2>"$err" || rc=$? ;;
    esac
    t1=${EPOCHREALTIME/./}
    R_MS=$(( (t1 - t0) / 1000 ))
    R_KB=0
    R_PSS=
    case $tool in
        zmr)
            if [ "$ZMR_MEM" = 1 ]; then
                R_KB=$(sed -n 's/.*zmr: stats:.*peak_rss_kb=\([0-9][0-9]*\).*/\1/p' "$err" | tail -n 1)
                R_KB=${R_KB:-0}
                R_PSS=$(sed -n 's/.*zmr: stats:.*peak_pss_kb=\([0-9][0-9]*\).*/\1/p' "$err" | tail -n 1)
            else
                R_KB=$(peak_of "$tf")
            fi ;;
        yard1|yard2) R_KB=$(peak_of "$tf") ;;
        mawk|tsu)
            local k
            for k in "$tf".[0-9]; do [ -e "$k" ] && R_KB=$(( R_KB + $(peak_of "$k") )); done ;;
        dask)
            R_KB=$(sed -n 's/.*dask: peak_rss_kb=\([0-9][0-9]*\).*/\1/p' "$err" | tail -n 1)
            R_KB=${R_KB:-0} ;;
    esac
    if [ "$rc" -ne 0 ]; then
        say "!!! $tool failed on $(basename "$f") (exit $rc$([ "$rc" = 124 ] && echo ", timed out after ${TIMEOUT}s"))"
        sed 's/^/!!!   /' "$err" | tail -n 20 | tee -a "$LOG" >&2
    elif [ "$tool" = zmr ]; then
        # keep any complaints zmr made, beside its stats line
        grep -v 'zmr: stats:' "$err" | sed 's/^/    zmr stderr: /' | head -n 5 | tee -a "$LOG" >&2 || true
    fi
    return "$rc"
}

# check TOOL OUTFILE REF TAG -> 0 when equal; loud when not
check() {
    local tool=$1 o=$2 ref=$3 tag=$4 norm=$OUT/.norm
    case $tool in
        zmr|yard1|yard2|dask) norm=$o ;;          # must already be canonical
        mawk) canon_sort < "$o" > "$norm" ;;
        tsu) uniqc_to_tsv "$o" | canon_sort > "$norm" ;;
    esac
    if cmp -s "$norm" "$ref"; then return 0; fi
    local keep=$OUT/WRONG-$tag.tsv
    cp "$norm" "$keep"
    {
        echo "!!! ================================================================"
        echo "!!! WRONG RESULT: $tag differs from the reference $(basename "$ref")"
        echo "!!!   output lines: $(wc -l < "$norm"), reference lines: $(wc -l < "$ref")"
        echo "!!!   kept as $keep; first differences:"
        diff "$ref" "$norm" | head -n 10 | sed 's/^/!!!     /'
        echo "!!! ================================================================"
    } | tee -a "$LOG" >&2
    return 1
}

# record KEY [time|mem|both] -- after a successful, checked run: its time,
# its memory, or both (the default)
record() {
    local what=${2:-both}
    [ "$what" = mem ] || WALL[$1]="${WALL[$1]:-} $R_MS"
    [ "$what" = time ] && return 0
    RSS[$1]="${RSS[$1]:-} $R_KB"
    [ -z "${R_PSS:-}" ] || PSS[$1]="${PSS[$1]:-} $R_PSS"
}

# zmr's timed runs go without --stats: its memory sampler reads smaps_rollup
# of every process every 10 ms, which costs CPU on a 2-core machine (measured
# up to a tenth of all CPU samples on the Zipf corpus, whose tables are
# large). Its memory comes from one more run with --stats, not timed.
ZMR_MEM=0
zmr_timed() { [ "$ZMR_STATS" = 1 ] && echo time || echo both; }

# mem_run KEY CORPUSFILE REF TAG [ZMR-ARGS...] -- zmr's memory run
mem_run() {
    local key=$1 f=$2 ref=$3 tag=$4 o=$OUT/out-zmr-mem.tsv; shift 4
    [ "$ZMR_STATS" = 1 ] || return 0
    ZMR_MEM=1
    if run_one zmr "$f" "$o" "$@" && check zmr "$o" "$ref" "$tag"; then
        record "$key" mem
        say "   memory run  zmr run $(printf '%-16s' "$*") $(( R_KB / 1024 )) MiB summed RSS, $(( ${R_PSS:-0} / 1024 )) MiB summed PSS  ok"
    else
        FAIL=1; BAD[$key]="${BAD[$key]:-} failed"
    fi
    ZMR_MEM=0
}

median() {   # median "SAMPLES" (space-separated integers) -> integer
    echo "$*" | tr -s ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print 0; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

cpu_busy() {   # percent of CPU time not idle over the next second
    local a b
    a=$(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5, t; exit }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5, t; exit }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); d = y[2] - x[2]
        if (d <= 0) print 0; else printf "%d\n", 100 * (1 - (y[1] - x[1]) / d) }'
}

wait_idle() {
    local busy deadline=$(( SECONDS + WAIT_IDLE ))
    busy=$(cpu_busy)
    while [ "$busy" -gt 10 ] && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 4; busy=$(cpu_busy)
    done
    echo "$busy"
}

# ---- main ---------------------------------------------------------------

NPROC=$(nproc)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ZMR_REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if (cd "$ROOT" && ! git diff --quiet HEAD -- . ':!bench' 2>/dev/null); then ZMR_REV="$ZMR_REV+changes"; fi
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
MD=$OUT/results.md.tmp
: > "$MD"
md() { printf '%s\n' "$*" >> "$MD"; }

md "# zmr bench — $DATE"
md ""
md "Machine: $NPROC cores ($CPU), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)."
md "zmr $ZMR_REV; $RUNS runs per tool and corpus, interleaved; medians; page cache warm."
md "MB = 10^6 bytes; RSS in MiB: zmr's is the sum over all its processes (--stats),"
md "pipelines' the sum of each stage's peak, Dask's the launcher's plus each worker's."
md "Summed RSS counts shared pages (libzmq, libc...) once per process; the targets line"
md "also gives zmr's summed PSS (each page once), sampled every 10 ms by zmr run --stats."
md "zmr's times are of runs without --stats; its memory is from one more run with it."
md "zmr's defaults: -m = cores ($NPROC), -r = half the cores, at least 1 ($(( NPROC >= 4 ? NPROC / 2 : 1 ))), 4 MiB chunks. Times are wall clock, start to exit."
md ""

for corpus in ${CORPORA//,/ }; do make_corpus "$corpus"; make_reference "$corpus"; done

declare -A BYTES WORDS DISTINCT BUSY
for corpus in ${CORPORA//,/ }; do
    f=$(corpus_file "$corpus")
    BYTES[$corpus]=$(stat -c %s "$f")
    read -r "WORDS[$corpus]" "DISTINCT[$corpus]" < "$OUT/ref-$corpus-$LABEL.info"
done

for corpus in ${CORPORA//,/ }; do
    f=$(corpus_file "$corpus"); ref=$OUT/ref-$corpus-$LABEL.tsv
    cat "$f" > /dev/null   # warm the page cache
    if [ "$WAIT_IDLE" -gt 0 ]; then BUSY[$corpus]=$(wait_idle); else BUSY[$corpus]=$(cpu_busy); fi
    say "== $corpus ($LABEL: ${BYTES[$corpus]} bytes, ${WORDS[$corpus]} words, ${DISTINCT[$corpus]} distinct); CPU busy before: ${BUSY[$corpus]}%"
    for run in $(seq "$RUNS"); do
        for tool in ${TOOLS//,/ }; do
            o=$OUT/out-$tool-$corpus.tsv
            if run_one "$tool" "$f" "$o"; then
                if check "$tool" "$o" "$ref" "$tool-$corpus-$LABEL-run$run"; then
                    if [ "$tool" = zmr ]; then record "$corpus|$tool" "$(zmr_timed)"; else record "$corpus|$tool"; fi
                    say "   run $run  $(printf '%-22s' "${NAME[$tool]}") $(printf '%7d' "$R_MS") ms  $(( R_KB / 1024 )) MiB  ok"
                else
                    FAIL=1; BAD[$corpus|$tool]="${BAD[$corpus|$tool]:-} WRONG"
                fi
            else
                FAIL=1; BAD[$corpus|$tool]="${BAD[$corpus|$tool]:-} failed"
            fi
            if [ "$tool" = dask ]; then
                # The run right after Dask's is 30-50% slower whatever the
                # tool (measured: the 2-thread yardstick 250-340 ms there,
                # 170-250 ms after; sleeping 3 s does not help). With the
                # tools in a fixed order that was always the same tool:
                # zmr. An untimed run of the yardstick takes that place.
                "$OUT/yardstick" -t 2 -o /dev/null "$f" 2>/dev/null || true
            fi
        done
    done
    if has "$TOOLS" zmr; then mem_run "$corpus|zmr" "$f" "$ref" "zmr-$corpus-$LABEL-mem"; fi
done

bad_note() {   # bad_note " WRONG failed WRONG" -> "2 runs WRONG, 1 run failed"
    local w f out=
    w=$(echo "$1" | tr ' ' '\n' | grep -c '^WRONG$' || true)
    f=$(echo "$1" | tr ' ' '\n' | grep -c '^failed$' || true)
    [ "$w" = 0 ] || out="$w run$([ "$w" = 1 ] || echo s) WRONG"
    [ "$f" = 0 ] || out="${out:+$out, }$f run$([ "$f" = 1 ] || echo s) failed"
    echo "$out"
}

# table rows: tool, s, MB/s, Mwords/s, RSS, x yard2, x tsu
fmt_table() {   # fmt_table CORPUS
    local c=$1 tool ms kb
    local y2ms tsums
    y2ms=$( [ -n "${WALL[$c|yard2]:-}" ] && median "${WALL[$c|yard2]}" || echo 0 )
    tsums=$( [ -n "${WALL[$c|tsu]:-}" ] && median "${WALL[$c|tsu]}" || echo 0 )
    echo "| tool | time (s) | MB/s | M words/s | peak RSS (MiB) | × yardstick-2t | × tr\\|sort\\|uniq |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for tool in ${TOOLS//,/ }; do
        if [ -z "${WALL[$c|$tool]:-}" ]; then
            echo "| ${NAME[$tool]//|/\\|} | **$(bad_note "${BAD[$c|$tool]:-}")** | | | | | |"
            continue
        fi
        ms=$(median "${WALL[$c|$tool]}"); kb=$(median "${RSS[$c|$tool]}")
        local name=${NAME[$tool]//|/\\|}
        [ -z "${BAD[$c|$tool]:-}" ] || name="$name (**$(bad_note "${BAD[$c|$tool]}")**)"
        awk -v name="$name" -v ms="$ms" -v kb="$kb" -v b="${BYTES[$c]}" \
            -v w="${WORDS[$c]}" -v y="$y2ms" -v t="$tsums" 'BEGIN {
            s = ms / 1000; if (s <= 0) s = 0.001
            ry = (y > 0) ? sprintf("%.2f", y / ms) : "–"
            rt = (t > 0) ? sprintf("%.1f", t / ms) : "–"
            printf "| %s | %.2f | %.1f | %.2f | %.0f | %s | %s |\n", name, s, b / 1e6 / s, w / 1e6 / s, kb / 1024, ry, rt }'
    done
}

targets() {   # targets CORPUS: zmr against the issue's targets
    local c=$1 goal
    [ -n "${WALL[$c|zmr]:-}" ] || return 0
    [ "$c" = kjv ] && goal=0.4 || goal=0.3
    local zms zkb zpss y2ms y2kb dms
    zms=$(median "${WALL[$c|zmr]}"); zkb=$(median "${RSS[$c|zmr]}")
    zpss=$( [ -n "${PSS[$c|zmr]:-}" ] && median "${PSS[$c|zmr]}" || echo 0 )
    y2ms=$( [ -n "${WALL[$c|yard2]:-}" ] && median "${WALL[$c|yard2]}" || echo 0 )
    y2kb=$( [ -n "${RSS[$c|yard2]:-}" ] && median "${RSS[$c|yard2]}" || echo 0 )
    dms=$( [ -n "${WALL[$c|dask]:-}" ] && median "${WALL[$c|dask]}" || echo 0 )
    awk -v z="$zms" -v zk="$zkb" -v zp="$zpss" -v y="$y2ms" -v yk="$y2kb" -v d="$dms" -v goal="$goal" 'BEGIN {
        if (y > 0) printf "zmr: %.2f× the 2-thread yardstick'\''s speed (target ≥ %s) — %s; ", y / z, goal, (y / z >= goal) ? "met" : "NOT met"
        if (yk > 0) printf "RSS %.1f× the yardstick'\''s (target ≤ 2) — %s; ", zk / yk, (zk / yk <= 2) ? "met" : "NOT met"
        if (yk > 0 && zp > 0) printf "summed PSS (shared pages once, %.0f MiB) %.1f× the yardstick'\''s RSS — %s; ", zp / 1024, zp / yk, (zp / yk <= 2) ? "met" : "NOT met"
        if (d > 0) printf "%.1f× Dask (target ≥ 10) — %s", d / z, (d / z >= 10) ? "met" : "NOT met"
        printf "\n" }'
}

for corpus in ${CORPORA//,/ }; do
    case $corpus in
        kjv) title="KJV Bible ×$COPIES (real text)" ;;
        zipf) title="Zipf text, s = 1.0, wamerican-huge words" ;;
    esac
    md "## $title — $(awk -v b="${BYTES[$corpus]}" 'BEGIN { printf "%.1f", b / 1e6 }') MB, ${WORDS[$corpus]} words, ${DISTINCT[$corpus]} distinct"
    md ""
    fmt_table "$corpus" >> "$MD"
    md ""
    t=$(targets "$corpus"); [ -z "$t" ] || { md "$t"; md ""; }
    [ "${BUSY[$corpus]}" -le 10 ] || { md "(CPU was ${BUSY[$corpus]}% busy with other work just before these runs: numbers are noisy.)"; md ""; }
done

# ---- scaling ----------------------------------------------------------------

if [ "$SCALING" = 1 ] && has "$TOOLS" zmr; then
    declare -a CONFIGS=("-m 1" "-m 2" "-m 4" "-r 1" "-r 2" "-r 4")
    if [ "$ZMR_COST" = 1 ]; then
        for mc in ${MAP_COST//,/ }; do
            CONFIGS+=("--map-cost $mc -m 1" "--map-cost $mc -m 2" "--map-cost $mc -m 4")
        done
    fi
    for corpus in ${CORPORA//,/ }; do
        f=$(corpus_file "$corpus"); ref=$OUT/ref-$corpus-$LABEL.tsv
        cat "$f" > /dev/null
        say "== scaling on $corpus"
        for run in $(seq "$RUNS"); do
            for cfg in "${CONFIGS[@]}"; do
                o=$OUT/out-zmr-scaling-$corpus.tsv
                # shellcheck disable=SC2086
                if run_one zmr "$f" "$o" $cfg; then
                    if check zmr "$o" "$ref" "zmr-${cfg// /}-$corpus-$LABEL-run$run"; then
                        record "$corpus|S$cfg" "$(zmr_timed)"
                        say "   run $run  zmr run $(printf '%-24s' "$cfg") $(printf '%7d' "$R_MS") ms  $(( R_KB / 1024 )) MiB  ok"
                    else FAIL=1; BAD[$corpus|S$cfg]="${BAD[$corpus|S$cfg]:-} WRONG"; fi
                else FAIL=1; BAD[$corpus|S$cfg]="${BAD[$corpus|S$cfg]:-} failed"; fi
            done
        done
        for cfg in "${CONFIGS[@]}"; do
            # shellcheck disable=SC2086
            mem_run "$corpus|S$cfg" "$f" "$ref" "zmr-${cfg// /}-$corpus-$LABEL-mem" $cfg
        done
        md "## Scaling: zmr on $corpus ($LABEL), $NPROC cores"
        md ""
        md "| zmr run | time (s) | MB/s | M words/s | peak RSS (MiB) | speed-up vs first of group |"
        md "|---|---:|---:|---:|---:|---:|"
        base=0
        for cfg in "${CONFIGS[@]}"; do
            case $cfg in *"-m 1"|"-r 1") base=0 ;; esac
            if [ -z "${WALL[$corpus|S$cfg]:-}" ]; then md "| \`$cfg\` | **$(bad_note "${BAD[$corpus|S$cfg]:-}")** | | | | |"; continue; fi
            ms=$(median "${WALL[$corpus|S$cfg]}"); kb=$(median "${RSS[$corpus|S$cfg]}")
            [ "$base" -gt 0 ] || base=$ms
            awk -v cfg="$cfg" -v ms="$ms" -v kb="$kb" -v b="${BYTES[$corpus]}" -v w="${WORDS[$corpus]}" \
                -v base="$base" 'BEGIN { s = ms / 1000; if (s <= 0) s = 0.001
                printf "| `%s` | %.2f | %.1f | %.2f | %.0f | %.2f |\n", cfg, s, b / 1e6 / s, w / 1e6 / s, kb / 1024, base / ms }' >> "$MD"
        done
        md ""
        md "Defaults: -m $NPROC (cores), -r $(( NPROC >= 4 ? NPROC / 2 : 1 )) (half the cores, at least 1). \`--map-cost C\`: each mapper runs C extra FNV-1a passes over every word"
        md "before counting (a stand-in for a costly map function)."
        md ""
        # More mappers than this machine has cores, in simulation
        # (bench/simulate.py), from the one-mapper time measured above.
        for mc in ${MAP_COST//,/ }; do
            one="$corpus|S--map-cost $mc -m 1"; two="$corpus|S--map-cost $mc -m 2"
            [ "$ZMR_COST" = 1 ] && [ -n "${WALL[$one]:-}" ] || continue
            command -v python3 >/dev/null || { say "note: no python3: no simulation"; break; }
            ms1=$(median "${WALL[$one]}")
            spm=$(awk -v ms="$ms1" -v b="${BYTES[$corpus]}" 'BEGIN { printf "%.6f", ms / 1000 / (b / 1e6) }')
            md "### In simulation: \`--map-cost $mc\`, a core per mapper"
            md ""
            python3 "$HERE/simulate.py" --bytes "${BYTES[$corpus]}" --chunk $((4 << 20)) \
                --map-s-per-mb "$spm" --mappers 1,2,4,8,16 --markdown >> "$MD"
            md ""
            m2=$( [ -n "${WALL[$two]:-}" ] && median "${WALL[$two]}" || echo 0 )
            md "bench/simulate.py: the ventilator's credit (two waiting chunks per mapper), round-robin queues and"
            md "4 MiB chunks, with the one-mapper run above ($(awk -v m="$ms1" 'BEGIN { printf "%.2f", m / 1000 }') s) taken as map work that divides"
            md "by chunk. Measured here with 2 mappers on 2 cores: $(awk -v m="$m2" 'BEGIN { printf "%.2f", m / 1000 }') s (the reducers, the sink and the"
            md "ventilator share those cores; the model gives each mapper its own)."
            md ""
        done
    done
fi

if [ "$FAIL" = 0 ]; then
    md "Every output agreed with the reference (\`tr -s ' \\t\\n\\v\\f\\r' '\\n' | sed '/^\$/d' | sort | uniq -c\`)."
else
    md "**SOME OUTPUTS WERE WRONG OR SOME RUNS FAILED — see bench/out/run.log.**"
fi
mv "$MD" "$OUT/results.md"
echo
cat "$OUT/results.md"
rm -f "$OUT/.time" "$OUT"/.time.[0-9] "$OUT/.err" "$OUT/.norm"
if [ "$FAIL" != 0 ]; then
    echo >&2
    echo "run.sh: !!! SOME OUTPUTS WERE WRONG OR SOME RUNS FAILED (see above and $LOG) !!!" >&2
    exit 1
fi
