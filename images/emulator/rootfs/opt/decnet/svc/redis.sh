#!/bin/sh
# Redis (RESP): PING -> +PONG, AUTH logged -> -ERR invalid password, else -NOAUTH.
. /opt/decnet/lib.sh
# read_command: the next command's words in $1..., from a RESP array or an inline line.
read_command() {
    dn_readline head 300 || return 1
    case $head in
        \**)
            n=${head#\*}
            case $n in '' | *[!0-9]*) n=0 ;; esac
            [ "$n" -gt 16 ] && n=16
            words=''
            i=0
            while [ "$i" -lt "$n" ]; do
                dn_readline size 30 || return 1
                dn_readline word 30 || return 1
                words="$words$(printf '%s' "$word" | tr ' ' '\t') "
                i=$((i + 1))
            done
            cmdline=$words
            ;;
        *) cmdline=$head ;;
    esac
    return 0
}
dn_log connect
count=0
while [ "$count" -lt 100 ] && read_command; do
    count=$((count + 1))
    # shellcheck disable=SC2086  # split the command into words
    set -- $cmdline
    cmd=$(printf '%s' "${1:-}" | tr 'a-z' 'A-Z')
    case $cmd in
        '') continue ;;
        PING) printf '+PONG\r\n' ;;
        AUTH)
            if [ $# -ge 3 ]; then
                dn_log login user "$2" password "$3"
            else
                dn_log login password "${2:-}"
            fi
            printf '%s\r\n' '-ERR invalid password'
            ;;
        QUIT)
            printf '+OK\r\n'
            break
            ;;
        *)
            shift
            dn_log command cmd "$cmd" args "$*"
            printf '%s\r\n' '-NOAUTH Authentication required.'
            ;;
    esac
done
