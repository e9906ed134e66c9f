#!/bin/sh
# Every other service: an optional banner (DECNET_CFG_BANNER or the service's default), then
# the first bytes the client sends are logged. UDP: the datagram and its source are logged.
# A few well-known fields are pulled out: TLS SNI, SNMP community, DNS query name, SIP line.
. /opt/decnet/lib.sh
# fields_from_hex: "key value" lines found in the client's first bytes (od hex on stdin).
fields_from_hex() {
    awk -v svc="$DECNET_SERVICE" '
    function h(x,   i, n) { n = 0; x = tolower(x)
        for (i = 1; i <= length(x); i++) n = n * 16 + index("0123456789abcdef", substr(x, i, 1)) - 1
        return n }
    function text(from, count,   s, i) { s = ""
        for (i = from; i < from + count && i < n; i++) s = s " " b[i]
        return s }
    { for (i = 1; i <= NF; i++) b[n++] = $i }
    END {
        if (n > 43 && b[0] == "16" && b[1] == "03" && b[5] == "01") {          # TLS ClientHello
            p = 43; p += 1 + h(b[p]); p += 2 + 256 * h(b[p]) + h(b[p + 1]); p += 1 + h(b[p])
            end = p + 2 + 256 * h(b[p]) + h(b[p + 1]); p += 2
            while (p + 4 <= end && p + 4 <= n) {
                type = 256 * h(b[p]) + h(b[p + 1]); len = 256 * h(b[p + 2]) + h(b[p + 3])
                if (type == 0 && p + 9 <= n) { print "tls_sni" text(p + 9, 256 * h(b[p + 7]) + h(b[p + 8])); break }
                p += 4 + len
            }
        } else if (svc == "snmp" && n > 7 && b[0] == "30") {                   # SNMP v1/v2c
            p = 1; l = h(b[p]); p += (l > 128) ? l - 127 : 1
            if (b[p] == "02") { print "snmp_version 3" h(b[p + 2]); p += 2 + h(b[p + 1]) }
            if (b[p] == "04") print "community" text(p + 2, h(b[p + 1]))
        } else if (svc == "dns" && n > 12) {                                   # DNS query
            p = 12; q = ""; if (b[0] == "00" && n > 14 && h(b[0]) * 256 + h(b[1]) == n - 2) p = 14
            while (p < n && b[p] != "00" && length(q) < 900) {
                l = h(b[p]); if (q != "") q = q " 2e"; q = q text(p + 1, l); p += l + 1 }
            if (q != "") print "qname" q
        } else if (svc == "sip") {                                             # SIP request line
            for (i = 0; i < n && b[i] != "0d" && b[i] != "0a"; i++) ;
            if (i > 0) print "request" text(0, i)
        }
    }'
}
# log_data EVENT HEX: one line with the byte count, the first bytes and the fields found.
log_data() {
    _event=$1 _hex=$2
    set --
    while read -r key value; do
        [ -n "$key" ] && set -- "$@" "=$key" "$(printf '%s\n' "$value" | dn_hexenc)"
    done <<FIELDS
$(printf '%s\n' "$_hex" | fields_from_hex)
FIELDS
    dn_log "$_event" bytes "$(printf '%s\n' "$_hex" | dn_hexlen)" \
        =data "$(printf '%s\n' "$_hex" | dn_hexenc)" "$@"
}
if [ "$DECNET_PROTO" = udp ]; then
    log_data datagram "$(head -c 65536 | od -An -v -tx1)"
    exit 0
fi
case $DECNET_SERVICE in
    vnc) default='RFB 003.008' eol='\n' ;;
    *) default='' eol='\r\n' ;;
esac
dn_log connect
banner=$(dn_banner "$default")
[ -n "$banner" ] && printf "%s$eol" "$banner"
hex=$(dn_chunk 2048 15)
[ -n "$hex" ] && log_data data "$hex"
