#!/bin/sh
# SMTP: 220 banner, EHLO/HELO, AUTH PLAIN/LOGIN logged and refused, MAIL/RCPT logged.
. /opt/decnet/lib.sh
reply() { printf '%s\r\n' "$1"; }
host=${DECNET_CFG_HOSTNAME:-mail.example.internal}
auth_failed() {
    dn_log login mech "$1" user "$2" password "$3"
    sleep 1
    reply '535 5.7.8 Error: authentication failed: authentication failure'
}
dn_log connect
banner=$(dn_banner "220 $host ESMTP Postfix (Debian/GNU)")
case $banner in
    220*) reply "$banner" ;;
    *) reply "220 $banner" ;;
esac
count=0
while [ "$count" -lt 50 ] && dn_readline line 300; do
    count=$((count + 1))
    cmd=$(printf '%s' "${line%% *}" | tr 'a-z' 'A-Z')
    arg=''
    case $line in *' '*) arg=${line#* } ;; esac
    case $cmd in
        EHLO)
            dn_log command cmd EHLO arg "$arg"
            printf '250-%s\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 DSN\r\n' "$host"
            ;;
        HELO)
            dn_log command cmd HELO arg "$arg"
            reply "250 $host"
            ;;
        AUTH)
            mech=$(printf '%s' "${arg%% *}" | tr 'a-z' 'A-Z')
            initial=''
            case $arg in *' '*) initial=${arg#* } ;; esac
            case $mech in
                PLAIN)
                    if [ -z "$initial" ]; then
                        reply '334 '
                        dn_readline initial 60 || break
                    fi
                    decoded=$(dn_b64dec "$initial")
                    user=$(printf '%s\n' "$decoded" | sed -n 2p)
                    pass=$(printf '%s\n' "$decoded" | sed -n 3p)
                    auth_failed PLAIN "$user" "$pass"
                    ;;
                LOGIN)
                    if [ -n "$initial" ]; then
                        user=$initial
                    else
                        reply '334 VXNlcm5hbWU6'
                        dn_readline user 60 || break
                    fi
                    reply '334 UGFzc3dvcmQ6'
                    dn_readline pass 60 || break
                    auth_failed LOGIN "$(dn_b64dec "$user")" "$(dn_b64dec "$pass")"
                    ;;
                *)
                    dn_log command cmd AUTH arg "$arg"
                    reply '535 5.7.8 Error: authentication failed: Invalid authentication mechanism'
                    ;;
            esac
            ;;
        MAIL)
            dn_log command cmd MAIL arg "$arg"
            reply '250 2.1.0 Ok'
            ;;
        RCPT)
            dn_log command cmd RCPT arg "$arg"
            reply '454 4.7.1 Relay access denied'
            ;;
        DATA)
            dn_log command cmd DATA
            reply '554 5.5.1 Error: no valid recipients'
            ;;
        RSET | NOOP) reply '250 2.0.0 Ok' ;;
        VRFY)
            dn_log command cmd VRFY arg "$arg"
            reply '252 2.0.0 Cannot VRFY user'
            ;;
        QUIT)
            reply '221 2.0.0 Bye'
            break
            ;;
        *)
            dn_log command cmd "$cmd" arg "$arg"
            reply '502 5.5.2 Error: command not recognized'
            ;;
    esac
done
