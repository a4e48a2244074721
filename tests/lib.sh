# tests/lib.sh: what the shell tests share; source it, do not run it.

# zt_reference IN OUT: the independent reference of a word count of IN:
# every word (split at ASCII white space) with its count, "WORD COUNT"
# lines in byte order. Shell tools only: no zmr code.
zt_reference() {
    LC_ALL=C tr -s ' \t\n\v\f\r' '\n' < "$1" | sed '/^$/d' | LC_ALL=C sort |
        uniq -c | awk '{print $2, $1}' | LC_ALL=C sort > "$2"
}

# zt_kjv_input WORK: the KJV text (package bible-kjv) in WORK/kjv.txt, its
# two halves in WORK/part1 and WORK/part2 (a job fed the first half is held
# open at a known point, whatever the machine's speed, until the test feeds
# the second), and its reference in WORK/reference. Sets input (the text's
# path), size (its bytes) and half. Fails when bible prints nothing.
zt_kjv_input() {
    input="$1/kjv.txt"
    bible gen1:1-rev22:21 > "$input" 2>/dev/null
    [ -s "$input" ] || return 1
    size=$(stat -c %s "$input")
    half=$((size / 2))
    head -c "$half" "$input" > "$1/part1"
    tail -c +"$((half + 1))" "$input" > "$1/part2"
    zt_reference "$input" "$1/reference"
}

# zt_begin NAME TAG BIN TOOLS... -- PROGRAMS...: the prologue of a test that
# starts processes. Defines skip (exit 77), fail (sets failed=1) and pass,
# each saying NAME; skips unless every TOOL is on PATH; fails (exit 1)
# unless every PROGRAM is built in BIN. Then: work, a new directory
# ${TMPDIR:-/tmp}/zmr-TAG-XXXXXX; pids, the processes to kill -9 at the
# end; on exit (also on INT, TERM, HUP) fd 3 is closed, those processes are
# killed and reaped, and work is removed (kept, and said, with
# ZMR_TEST_KEEP=1). LC_ALL=C.
zt_begin() {
    zt_name=$1
    local tag=$2 bindir=$3 p
    shift 3
    failed=0
    skip() { echo "SKIP: $zt_name: $*"; exit 77; }
    fail() { echo "FAIL: $zt_name: $*" >&2; failed=1; }
    pass() { echo "ok: $zt_name: $*"; }
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        command -v "$1" >/dev/null || skip "no $1"
        shift
    done
    [ $# -gt 0 ] && shift
    for p in "$@"; do
        [ -x "$bindir/$p" ] || { echo "FAIL: $zt_name: no $bindir/$p" >&2; exit 1; }
    done
    work=$(mktemp -d "${TMPDIR:-/tmp}/zmr-$tag-XXXXXX") || exit 1
    pids=()
    trap zt_cleanup EXIT
    trap 'exit 1' INT TERM HUP
    export LC_ALL=C
}

zt_cleanup() {
    local p
    { exec 3>&-; } 2>/dev/null
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${ZMR_TEST_KEEP:-}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

# zt_note_windows D: notes the md5 of each window file of D/windows the
# first time it is seen, in D/seen ("MD5 NAME" lines), so that a test can
# check at the end that none was rewritten.
zt_note_windows() {
    local f
    for f in "$1"/windows/window-*.tsv; do
        [ -e "$f" ] || continue
        grep -q -F " $(basename "$f")" "$1/seen" 2>/dev/null && continue
        echo "$(md5sum < "$f" | cut -d' ' -f1) $(basename "$f")" >> "$1/seen"
    done
}
