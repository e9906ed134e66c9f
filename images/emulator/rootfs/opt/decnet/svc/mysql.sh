#!/bin/sh
# MySQL: a protocol v10 greeting, then the client's login packet (user, auth response),
# answered with "Access denied" (1045).
. /opt/decnet/lib.sh
oct() { printf '\\%03o' "$1"; }
version=$(printf '%s' "${DECNET_CFG_VERSION:-8.0.36}" | head -c 180)
vlen=$(printf '%s' "$version" | wc -c)
salt=$(tr -dc 'A-Za-z0-9' </dev/urandom 2>/dev/null | head -c 20)
[ "$(printf '%s' "$salt" | wc -c)" -eq 20 ] || salt='Xk3pQ9rT2mW7zL5vB8nC'
id=$(( ($$ % 60000) + 1 ))
# payload: 68 bytes + version
len=$((68 + vlen))
dn_log connect
{
    printf "$(oct "$len")\\000\\000\\000"              # length (3 bytes LE), sequence 0
    printf '\012%s\000' "$version"                     # protocol 10, server version
    printf "$(oct $((id % 256)))$(oct $((id / 256)))\\000\\000"  # connection id
    printf '%s\000' "$(printf '%s' "$salt" | head -c 8)" # auth data part 1 + filler
    printf '\377\367'                                  # capabilities (low)
    printf '\377\002\000'                              # charset utf8mb4, status
    printf '\377\337'                                  # capabilities (high)
    printf '\025\000\000\000\000\000\000\000\000\000\000'  # auth data length 21, reserved
    printf '%s\000' "$(printf '%s' "$salt" | tail -c 12)"  # auth data part 2
    printf 'mysql_native_password\000'
}
hex=$(dn_chunk 4096 15)
[ -z "$hex" ] && exit 0
# Handshake response 41: header(4) caps(4) max(4) charset(1) filler(23) user NUL authlen auth
fields=$(printf '%s\n' "$hex" | awk '
    function h(x,   i, n) { n = 0; x = tolower(x)
        for (i = 1; i <= length(x); i++) n = n * 16 + index("0123456789abcdef", substr(x, i, 1)) - 1
        return n }
    { for (i = 1; i <= NF; i++) b[n++] = $i }
    END {
        if (n < 36) { print "short"; exit }
        caps = h(b[4]) + 256 * h(b[5]) + 65536 * h(b[6]) + 16777216 * h(b[7])
        if (n == 36 && int(caps / 2048) % 2 == 1) { print "tls"; exit }
        user = ""
        for (i = 36; i < n && b[i] != "00" && i < 36 + 128; i++) user = user " " b[i]
        i++
        auth = ""
        if (i < n) { alen = h(b[i]); for (j = 1; j <= alen && i + j < n; j++) auth = auth b[i + j] }
        printf "login\n%s\n%s\n", user, auth
    }')
kind=$(printf '%s\n' "$fields" | sed -n 1p)
case $kind in
    login)
        user=$(printf '%s\n' "$fields" | sed -n 2p | dn_hexenc)
        auth=$(printf '%s\n' "$fields" | sed -n 3p)
        dn_log login =user "$user" auth_hex "$auth"
        shown=$(printf '%s\n' "$fields" | sed -n 2p | awk '{ for (i = 1; i <= NF; i++) {
            c = index("0123456789abcdef", substr($i, 1, 1)) * 16 + index("0123456789abcdef", substr($i, 2, 1)) - 17
            if (c >= 32 && c < 127 && c != 39) printf "%c", c } }')
        msg="Access denied for user '$shown'@'${DECNET_SRC}' (using password: $([ -n "$auth" ] && echo YES || echo NO))"
        mlen=$(( $(printf '%s' "$msg" | wc -c) + 9 ))
        printf "$(oct "$mlen")\\000\\000\\002\\377\\025\\004#28000%s" "$msg"
        ;;
    tls) dn_log tls_request ;;
    *) dn_log data bytes "$(printf '%s\n' "$hex" | dn_hexlen)" =data "$(printf '%s\n' "$hex" | dn_hexenc)" ;;
esac
