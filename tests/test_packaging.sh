#!/usr/bin/env bash
# What a packaged Unix tool has (issue 13, item 16), checked from outside:
#   install CMAKE BUILD SOURCE MAN   `cmake --install BUILD --prefix DIR` puts
#       the six programs and zmr-verify-receipt in DIR/bin and nothing else
#       there, a man page per program (when MAN is ON) and a completion file
#       per program, nothing more anywhere; the installed programs run a job
#       whose result equals the tr|sort|uniq reference and whose receipt the
#       installed zmr-verify-receipt accepts; BUILD/bin holds only the six.
#   man MANDIR BINDIR SOURCE         each page, rendered by groff, lists as an
#       item every option that the program's --help lists (zmr(1): also
#       zmr run --help and zmr keygen --help), has its NAME, EXAMPLES and
#       SEE ALSO, and says the version --version says.
#   completion SOURCE BINDIR         completion/zmr.bash, sourced in bash with
#       COMP_WORDS/COMP_CWORD set, offers exactly the options --help lists,
#       zmr's commands, files for FILE arguments, directories for DIR ones.
# The options are read from --help here by a parser of this test's own
# (python3), not by the code under test.
set -euo pipefail
mode=${1:-}
shift || true
work=$(mktemp -d "${TMPDIR:-/tmp}/zmr-packaging-XXXXXX")
trap 'rm -rf "$work"' EXIT
programs=(zmr zmr-ventilator zmr-mapper zmr-reducer zmr-sink zmr-monitor)
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

# The options that `COMMAND --help` lists, one a line: GNU option lines
# start with a few spaces and a dash; the names stand before the text.
help_options() {
    "$@" --help | python3 -c '
import re, sys
for line in sys.stdin:
    m = re.match(r" {1,8}(-.*)", line.rstrip("\n"))
    if not m:
        continue
    spec = re.split(r"\s{2,}", m.group(1))[0]
    for name in re.findall(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)", spec):
        print(name)'
}

case $mode in
install)
    cmake=$1 build=$(cd "$2" && pwd) source=$(cd "$3" && pwd) man=$4
    prefix=$work/prefix
    mkdir "$prefix"
    # cmake --install rewrites BUILD/install_manifest.txt: keep the user's
    # (the list of a real install, for uninstalling) as it was.
    manifest=$build/install_manifest.txt
    if [ -e "$manifest" ]; then
        cp -p "$manifest" "$work/manifest"
        trap 'cp -p "$work/manifest" "$manifest"; rm -rf "$work"' EXIT
    else
        trap 'rm -f "$manifest"; rm -rf "$work"' EXIT
    fi
    if ! "$cmake" --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1; then
        cat "$work/install.log" >&2
        fail "cmake --install failed"
    fi
    {
        for p in "${programs[@]}" zmr-verify-receipt; do
            echo "bin/$p"
            echo "share/bash-completion/completions/$p"
            if [ "$man" = ON ]; then echo "share/man/man1/$p.1"; fi
        done
        echo "include/zmr_plugin.h"
    } | LC_ALL=C sort > "$work/expected"
    (cd "$prefix" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort) > "$work/installed"
    if ! cmp -s "$work/expected" "$work/installed"; then
        fail "installed files differ from the expected set (< expected, > installed):"
        diff "$work/expected" "$work/installed" >&2 || true
    fi
    for p in "${programs[@]}" zmr-verify-receipt; do
        [ -x "$prefix/bin/$p" ] || fail "$p is not executable in PREFIX/bin"
        cmp -s "$source/completion/zmr.bash" "$prefix/share/bash-completion/completions/$p" ||
            fail "the completion file for $p is not completion/zmr.bash"
    done
    for p in "${programs[@]}"; do
        version=$("$prefix/bin/$p" --version 2>&1) || fail "installed $p --version exits $?"
        case $version in "$p "[0-9]*) ;; *) fail "installed $p --version says '$version'" ;; esac
    done
    "$prefix/bin/zmr-verify-receipt" --help > /dev/null || fail "zmr-verify-receipt --help failed"
    (cd "$build/bin" && ls -A | LC_ALL=C sort) > "$work/build-bin"
    printf '%s\n' "${programs[@]}" | LC_ALL=C sort > "$work/six"
    if ! cmp -s "$work/six" "$work/build-bin"; then
        fail "build/bin holds more than the six programs (< expected, > there):"
        diff "$work/six" "$work/build-bin" >&2 || true
    fi
    # The installed zmr runs the installed roles: a whole job, checked
    # against the reference and by the installed receipt checker.
    printf 'the cat\tsat on\nthe mat\n\nthe end\vcat' > "$work/input"
    LC_ALL=C tr -s ' \t\n\v\f\r' '\n' < "$work/input" | sed '/^$/d' | LC_ALL=C sort |
        uniq -c | awk '{ print $2 "\t" $1 }' | LC_ALL=C sort -t"$(printf '\t')" -k2,2nr -k1,1 \
        > "$work/reference"
    if ! (cd "$work" && timeout 120 "$prefix/bin/zmr" run -m 1 -r 1 --no-progress \
            -o "$work/result" --receipt "$work/receipt" "$work/input") 2> "$work/run.err"; then
        cat "$work/run.err" >&2
        fail "the installed zmr run failed"
    elif ! cmp -s "$work/reference" "$work/result"; then
        fail "the installed zmr run's result differs from the reference"
        diff "$work/reference" "$work/result" >&2 || true
    elif ! "$prefix/bin/zmr-verify-receipt" "$work/result" "$work/receipt" > /dev/null; then
        fail "the installed zmr-verify-receipt refused the installed zmr's receipt"
    fi
    ;;
man)
    mandir=$1 bin=$(cd "$2" && pwd) source=$(cd "$3" && pwd)
    command -v groff > /dev/null || { echo "FAIL: groff is not installed (apt-get install groff-base)" >&2; exit 1; }
    mkdir "$work/bin"
    for p in "${programs[@]}"; do ln -s "$bin/$p" "$work/bin/$p"; done
    ln -s "$source/scripts/verify-receipt" "$work/bin/zmr-verify-receipt"
    for p in "${programs[@]}" zmr-verify-receipt; do
        page=$mandir/$p.1
        if [ ! -s "$page" ]; then fail "no man page $page"; continue; fi
        # As man shows it, in plain ASCII, wide enough not to wrap a tag.
        if ! groff -man -Tascii -P-cbou -rLL=200n -rHY=0 -ww "$page" > "$work/$p.txt" \
                2> "$work/$p.warn" || [ -s "$work/$p.warn" ]; then
            fail "groff: $p.1: $(head -3 "$work/$p.warn")"
        fi
        help_options "$work/bin/$p" > "$work/$p.options"
        if [ "$p" = zmr ]; then
            help_options "$work/bin/zmr" run >> "$work/$p.options"
            help_options "$work/bin/zmr" keygen >> "$work/$p.options"
            for section in "ZMR RUN" "ZMR KEYGEN"; do
                grep -qx "$section" "$work/$p.txt" || fail "zmr.1 has no section $section"
            done
        fi
        [ "$p" = zmr-verify-receipt ] || [ -s "$work/$p.options" ] ||
            fail "$p --help lists no option: the test's parser is wrong"
        python3 - "$work/$p.txt" "$work/$p.options" "$p" <<'EOF' || failed=1
import re, sys
text = open(sys.argv[1], encoding="ascii", errors="replace").read().splitlines()
options = set(open(sys.argv[2]).read().split())
name = sys.argv[3]
bad = 0
for option in sorted(options):
    # An item of the page: the option at the start of a line, maybe after
    # its other spellings ("-r, --reducers=N").
    item = re.compile(r"^\s+(?:--?[\w-]+(?:=\S+)?, )*" + re.escape(option) + r"(?![\w-])")
    if not any(item.match(line) for line in text):
        print("FAIL: %s.1 does not list %s" % (name, option), file=sys.stderr)
        bad = 1
sys.exit(bad)
EOF
        grep -q "^ *$p - " "$work/$p.txt" || fail "$p.1: no NAME line '$p - ...'"
        for section in SYNOPSIS DESCRIPTION EXAMPLES "SEE ALSO"; do
            grep -qx "$section" "$work/$p.txt" || fail "$p.1 has no section $section"
        done
        if [ "$p" != zmr-verify-receipt ]; then
            version=$("$work/bin/$p" --version | awk '{ print $1 " " $2 }')
            tail -n 3 "$work/$p.txt" | grep -qF "$version" ||
                fail "$p.1 does not say the version '$version'"
        fi
    done
    ;;
completion)
    source=$(cd "$1" && pwd) bin=$(cd "$2" && pwd)
    mkdir "$work/bin" "$work/cwd" "$work/cwd/adir"
    : > "$work/cwd/afile"
    for p in "${programs[@]}"; do ln -s "$bin/$p" "$work/bin/$p"; done
    ln -s "$source/scripts/verify-receipt" "$work/bin/zmr-verify-receipt"
    export PATH="$work/bin:$PATH"
    # complete WORD...: what the completion offers for the last word, one a
    # line, in bash as the user's (COMP_WORDS split at '=' as bash does).
    complete_words() {
        (cd "$work/cwd" && bash --norc --noprofile -c '
            source "$1"; shift
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
            _zmr_complete
            printf "%s\n" "${COMPREPLY[@]}"' _ "$source/completion/zmr.bash" "$@") |
            sed '/^$/d' | LC_ALL=C sort
    }
    check() {   # check WHAT EXPECTED-FILE WORD...
        local what=$1 expected=$2
        shift 2
        complete_words "$@" > "$work/got"
        if ! cmp -s "$expected" "$work/got"; then
            fail "$what: completing '$*' (< --help, > offered):"
            diff "$expected" "$work/got" >&2 || true
        fi
    }
    commands=("${programs[@]}" zmr-verify-receipt "zmr run" "zmr keygen")
    for c in "${commands[@]}"; do
        read -r -a words <<< "$c"
        help_options "${words[@]}" | LC_ALL=C sort -u > "$work/all"
        [ "$c" = zmr ] || [ "$c" = zmr-verify-receipt ] || [ -s "$work/all" ] ||
            fail "$c --help lists no option: the test's parser is wrong"
        grep -e '^--' "$work/all" > "$work/long" || true
        check "$c" "$work/all" "${words[@]}" -
        check "$c" "$work/long" "${words[@]}" --
        # Each option's argument: a FILE completes files, a DIR directories.
        "${words[@]}" --help | python3 -c '
import re, sys
for line in sys.stdin:
    m = re.match(r" {1,8}(-.*)", line.rstrip("\n"))
    if m:
        for name, arg in re.findall(r"(--[\w-]+)=(\S+)", re.split(r"\s{2,}", m.group(1))[0]):
            print(name, arg)' > "$work/args"
        while read -r option arg; do
            case $arg in
                *DIR*) printf 'adir\n' > "$work/want" ;;
                *FILE*) printf 'adir\nafile\n' > "$work/want" ;;
                *) continue ;;
            esac
            check "$c $option" "$work/want" "${words[@]}" "$option" ""
            check "$c $option=" "$work/want" "${words[@]}" "$option" = ""
        done < "$work/args"
    done
    # zmr's first word: the commands its --help lists.
    zmr --help | awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }' |
        LC_ALL=C sort > "$work/commands"
    [ -s "$work/commands" ] || fail "zmr --help lists no command: the test's parser is wrong"
    check "zmr" "$work/commands" zmr ""
    ;;
*)
    echo "usage: test_packaging.sh install|man|completion ARGS..." >&2
    exit 2
    ;;
esac
if [ $failed -ne 0 ]; then
    echo "packaging $mode: 0 passed, 1 failed"
    exit 1
fi
echo "packaging $mode: 1 passed, 0 failed"
