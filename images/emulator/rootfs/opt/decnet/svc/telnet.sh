#!/bin/sh
# Telnet: issue text, login prompt, password prompt, "Login incorrect" (three tries).
. /opt/decnet/lib.sh
dn_log connect
[ -n "$DECNET_CFG_BANNER" ] && printf '%s\r\n' "$DECNET_CFG_BANNER"
[ -n "$DECNET_CFG_MOTD" ] && printf '%s\r\n' "$DECNET_CFG_MOTD"
prompt=${DECNET_CFG_LOGIN_PROMPT-login: }
tries=0
while [ "$tries" -lt 3 ]; do
    printf '%s' "$prompt"
    dn_readline user 60 || break
    user=$(dn_strip_iac "$user")
    [ -z "$user" ] && continue
    printf 'Password: '
    if ! dn_readline pass 60; then
        dn_log login user "$user"
        break
    fi
    dn_log login user "$user" password "$(dn_strip_iac "$pass")"
    sleep 1
    printf '\r\nLogin incorrect\r\n'
    tries=$((tries + 1))
done
