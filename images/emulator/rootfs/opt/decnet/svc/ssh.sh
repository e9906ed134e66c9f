#!/bin/sh
# SSH: the version banner, then the client's identification string.
. /opt/decnet/lib.sh
dn_log connect
printf '%s\r\n' "$(dn_banner 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3')"
if dn_readline ident 15; then
    case $ident in
        SSH-*)
            dn_log client_version version "$ident"
            kex=$(dn_chunk 4096 10)
            [ -n "$kex" ] && dn_log kexinit bytes "$(printf '%s' "$kex" | dn_hexlen)"
            ;;
        *)
            dn_log bad_ident data "$ident"
            printf 'Invalid SSH identification string.\r\n'
            ;;
    esac
fi
