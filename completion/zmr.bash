# Bash completion for zmr, its roles and zmr-verify-receipt.
#
# The options are read from the program's own --help each time you press
# TAB (it takes a few milliseconds), so they cannot drift from what the
# program takes. An option's argument is completed as a file when --help
# names it FILE or PATH, as a directory when DIR, as a command when
# COMMAND (--map). Installed under each program's
# name in share/bash-completion/completions, where bash-completion loads
# it on first use; or source this file from ~/.bashrc. Needs no helper of
# the bash-completion package.

# _zmr_help_options COMMAND...: one "OPTION ARG" line per option listed by
# COMMAND --help (ARG empty for a flag). Option lines are the GNU ones: a
# few spaces, then "-x, --long=ARG" before the description.
_zmr_help_options()
{
    LC_ALL=C "$@" --help 2>/dev/null | LC_ALL=C awk '
        /^ +-/ && match($0, /^ +/) && RLENGTH <= 8 {
            n = 0; arg = ""
            for (i = 1; i <= NF && $i ~ /^-/; i++) {
                name = $i; more = sub(/,$/, "", name)
                if (index(name, "=")) {
                    arg = substr(name, index(name, "=") + 1)
                    name = substr(name, 1, index(name, "=") - 1)
                }
                names[++n] = name
                if (!more) break
            }
            for (i = 1; i <= n; i++) print names[i], arg
        }'
}

# _zmr_help_commands COMMAND: the subcommands listed under "Commands:".
_zmr_help_commands()
{
    LC_ALL=C "$1" --help 2>/dev/null | LC_ALL=C awk '
        /^Commands:/ { on = 1; next }
        on && /^ +[a-z]/ { print $1; next }
        on { exit }'
}

_zmr_complete()
{
    local cur=${COMP_WORDS[COMP_CWORD]} cword=$COMP_CWORD
    local program=${COMP_WORDS[0]} option= arg= line
    local -a command
    [[ $program == "~"* ]] && program=${program/#\~/$HOME}
    command=("$program")
    COMPREPLY=()

    # zmr: the first word is a command, whose own --help lists its options.
    if [[ ${program##*/} == zmr ]]; then
        if ((cword == 1)); then
            COMPREPLY=($(compgen -W "$(_zmr_help_commands "$program")
                $(_zmr_help_options "$program" | cut -d' ' -f1)" -- "$cur"))
            return 0
        fi
        command+=("${COMP_WORDS[1]}")
    fi

    # The option whose argument is being typed: "--opt ARG", "--opt=ARG"
    # (bash splits the '=' into a word of its own).
    if [[ $cur == "=" ]]; then
        option=${COMP_WORDS[cword - 1]}
        cur=
    elif ((cword >= 2)) && [[ ${COMP_WORDS[cword - 1]} == "=" ]]; then
        option=${COMP_WORDS[cword - 2]}
    elif ((cword >= 1)) && [[ ${COMP_WORDS[cword - 1]} == -* ]]; then
        option=${COMP_WORDS[cword - 1]}
    fi
    if [[ -n $option ]]; then
        while read -r line; do
            if [[ ${line%% *} == "$option" ]]; then
                arg=${line#* }
                [[ $line == *" "* ]] || arg=
                break
            fi
        done < <(_zmr_help_options "${command[@]}")
        if [[ -n $arg ]]; then
            case $arg in
                *DIR*) COMPREPLY=($(compgen -d -- "$cur")) ;;
                *FILE* | PATH) COMPREPLY=($(compgen -f -- "$cur")) ;;
                # --map=COMMAND: a program to start the command with
                COMMAND) COMPREPLY=($(compgen -c -- "$cur")) ;;
                # --event-time=FORMAT: the formats a line's time may be in
                FORMAT) COMPREPLY=($(compgen -W "epoch rfc3339 clf" -- "$cur")); return 0 ;;
            esac
            compopt -o filenames 2>/dev/null
            return 0
        fi
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_zmr_help_options "${command[@]}" | cut -d' ' -f1)" \
            -- "$cur"))
        return 0
    fi
    # Operands: files, except for the roles that take an endpoint.
    case ${program##*/} in
        zmr-mapper | zmr-reducer | zmr-sink | zmr-monitor) ;;
        *)
            COMPREPLY=($(compgen -f -- "$cur"))
            compopt -o filenames 2>/dev/null
            ;;
    esac
    return 0
}

complete -F _zmr_complete zmr zmr-ventilator zmr-mapper zmr-reducer zmr-sink zmr-monitor \
    zmr-verify-receipt
