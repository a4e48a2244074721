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
