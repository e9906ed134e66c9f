# Shared by every emulator handler (sourced by busybox sh).
#
# dn_log writes ONE structured line per event on fd 3, the container's stdout (decnet-svd
# points fd 3 there; stdout is the attacker's socket). Format (see images/README.md):
#   DECNET1 ts=<epoch> svc=<service> event=<event> src=<ip> sport=<port> proto=<tcp|udp>
#           dport=<port> [decky=<name>] [key=value ...]
# Every value is percent-encoded: bytes outside [A-Za-z0-9._~:/@-] become %XX, so attacker
# bytes can never add a field, a space or a line. Values are cut to DN_MAXV bytes first.

set -f  # attacker words are never file name patterns
DN_SVC=${DECNET_SERVICE:-unknown}
DN_MAXV=${DECNET_MAX_VALUE:-256}
CR=$(printf '\r')

# dn_log EVENT [KEY VALUE]...  A KEY written "=key" takes a value that is already encoded
# (from dn_hexenc); it is re-encoded if it is not in the encoded alphabet.
dn_log() {
    _dn_event=$1
    shift
    awk -v maxv="$DN_MAXV" '
    function enc(s,   out, i, c) {
        if (length(s) > maxv) s = substr(s, 1, maxv)
        out = ""
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            out = out ((c in safe) ? c : code[c])
        }
        return out
    }
    BEGIN {
        for (n = 1; n < 256; n++) code[sprintf("%c", n)] = sprintf("%%%02X", n)
        s = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/@"
        for (i = 1; i <= length(s); i++) safe[substr(s, i, 1)] = 1
        split("ts svc event src sport proto dport decky", names, " ")
        for (i in names) core[names[i]] = 1
        line = "DECNET1 ts=" enc(ARGV[1]) " svc=" enc(ARGV[2]) " event=" enc(ARGV[3]) \
               " src=" enc(ARGV[4]) " sport=" enc(ARGV[5]) " proto=" enc(ARGV[6]) \
               " dport=" enc(ARGV[7])
        if (ARGV[8] != "") line = line " decky=" enc(ARGV[8])
        for (i = 9; i + 1 < ARGC; i += 2) {
            key = ARGV[i]; value = ARGV[i + 1]
            if (substr(key, 1, 1) == "=") {
                key = substr(key, 2)
                if (value !~ /^([A-Za-z0-9._~:\/@-]|%[0-9A-F][0-9A-F])*$/) value = enc(value)
            } else {
                value = enc(value)
            }
            if (key !~ /^[a-z][a-z0-9_]*$/ || length(key) > 32 || key in core) continue
            if (length(line) + length(key) + length(value) > 3800) { line = line " cut=1"; break }
            line = line " " key "=" value
        }
        print line
        exit
    }' "$EPOCHREALTIME" "$DN_SVC" "$_dn_event" "${DECNET_SRC:-}" "${DECNET_SPORT:-}" \
       "${DECNET_PROTO:-}" "${DECNET_DPORT:-}" "${DECNET_DECKY:-}" \
       "$@" >&3 2>/dev/null
}

# dn_readline VAR [SECONDS]: read one line (at most 1024 bytes, CR stripped) from the client.
# Fails on timeout or end of input with nothing read.
dn_readline() {
    IFS= read -r -n 1024 -t "${2:-30}" "$1"
    _dn_rc=$?
    eval "_dn_v=\${$1}"
    _dn_v=${_dn_v%"$CR"}
    eval "$1=\$_dn_v"
    [ "$_dn_rc" -eq 0 ] || [ -n "$_dn_v" ]
}

# dn_chunk [BYTES] [SECONDS]: the first bytes the client sends (one read), as od hex pairs.
dn_chunk() {
    timeout -s KILL "${2:-10}" dd bs="${1:-2048}" count=1 2>/dev/null | od -An -v -tx1
}

# dn_hexlen: number of bytes in od hex output on stdin.
dn_hexlen() {
    awk '{ n += NF } END { print n + 0 }'
}

# dn_hexenc: od hex output on stdin -> the percent-encoding of its first DN_MAXV bytes.
dn_hexenc() {
    awk -v maxv="$DN_MAXV" '
    BEGIN {
        s = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/@"
        for (n = 32; n < 127; n++) {
            c = sprintf("%c", n)
            if (index(s, c)) plain[sprintf("%02x", n)] = c
        }
    }
    {
        for (i = 1; i <= NF && count < maxv; i++) {
            count++
            out = out (($i in plain) ? plain[$i] : "%" toupper($i))
        }
    }
    END { printf "%s", out }'
}

# dn_b64dec TEXT: base64-decode TEXT, NUL bytes turned into newlines.
dn_b64dec() {
    printf '%s' "$1" | base64 -d 2>/dev/null | tr '\000' '\n'
}

# dn_strip_iac TEXT: TEXT without telnet IAC negotiation sequences.
dn_strip_iac() {
    printf '%s' "$1" | awk '{ gsub(/\377[\373-\376]./, ""); gsub(/\377[\360-\372]/, "");
                              printf "%s%s", sep, $0; sep = "\n" }'
}

# dn_banner DEFAULT: the configured banner (DECNET_CFG_BANNER) or DEFAULT.
dn_banner() {
    printf '%s' "${DECNET_CFG_BANNER:-$1}"
}
