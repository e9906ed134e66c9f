#!/bin/sh
# FTP: 220 banner, USER/PASS logged and refused (530); anonymous login when allowed.
. /opt/decnet/lib.sh
reply() { printf '%s\r\n' "$1"; }
dn_log connect
banner=$(dn_banner '220 (vsFTPd 3.0.3)')
case $banner in
    220*) reply "$banner" ;;
    *) reply "220 $banner" ;;
esac
user='' logged_in=0 count=0
while [ "$count" -lt 50 ] && dn_readline line 120; do
    count=$((count + 1))
    cmd=$(printf '%s' "${line%% *}" | tr 'a-z' 'A-Z')
    arg=''
    case $line in *' '*) arg=${line#* } ;; esac
    case $cmd in
        USER)
            user=$arg
            reply '331 Please specify the password.'
            ;;
        PASS)
            dn_log login user "$user" password "$arg"
            if [ "$DECNET_CFG_ANONYMOUS" = true ] && { [ "$user" = anonymous ] || [ "$user" = ftp ]; }; then
                logged_in=1
                reply '230 Login successful.'
            else
                sleep 1
                reply '530 Login incorrect.'
            fi
            ;;
        QUIT)
            reply '221 Goodbye.'
            break
            ;;
        SYST) reply '215 UNIX Type: L8' ;;
        FEAT) printf '211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n' ;;
        NOOP) reply '200 NOOP ok.' ;;
        *)
            dn_log command cmd "$cmd" arg "$arg"
            if [ "$logged_in" = 1 ]; then
                reply '550 Permission denied.'
            else
                reply '530 Please login with USER and PASS.'
            fi
            ;;
    esac
done
