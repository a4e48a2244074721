#!/bin/sh
# make-man.sh OUT PROGRAM INCLUDE VERSION [SUBCOMMAND...]
# Writes the man page OUT of PROGRAM with help2man, from PROGRAM --help and
# the include file INCLUDE (what --help does not say). Each SUBCOMMAND's
# own help (PROGRAM SUBCOMMAND --help) becomes a section of the same page,
# "PROGRAM SUBCOMMAND", and its usage a line of the SYNOPSIS: zmr(1) covers
# zmr, zmr run and zmr keygen. Run by the build (man/CMakeLists.txt).
set -eu
if [ $# -lt 4 ]; then
    echo "usage: make-man.sh OUT PROGRAM INCLUDE VERSION [SUBCOMMAND...]" >&2
    exit 2
fi
out=$1 program=$2 include=$3 version=$4
shift 4
name=$(basename "$program")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmr-man-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The body of section $1 (.SH $1 up to the next .SH) of the page $2.
section() {
    awk -v want="$1" '/^\.SH / { on = ($0 == ".SH " want); next } on' "$2"
}
h2m() {   # h2m HELP-OPTION OUT [help2man option...]
    help_option=$1 page=$2
    shift 2
    help2man --no-info --version-string="$version" --help-option="$help_option" \
        --output="$page" "$@" "$program"
}

: > "$tmp/include.h2m"
if [ $# -gt 0 ]; then
    h2m --help "$tmp/main.1"
    {
        echo "[SYNOPSIS]"
        section SYNOPSIS "$tmp/main.1"
        for sub in "$@"; do
            h2m "$sub --help" "$tmp/$sub.1"
            echo ".br"
            section SYNOPSIS "$tmp/$sub.1"
        done
        for sub in "$@"; do
            echo "[$name $sub]" | tr 'a-z' 'A-Z'
            section DESCRIPTION "$tmp/$sub.1"
        done
    } > "$tmp/include.h2m"
fi
cat "$include" >> "$tmp/include.h2m"
h2m --help "$tmp/page.1" --include="$tmp/include.h2m"
mv "$tmp/page.1" "$out"
