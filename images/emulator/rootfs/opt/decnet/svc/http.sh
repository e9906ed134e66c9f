#!/bin/sh
# HTTP: one request per connection. Logs method, path, user agent and Basic credentials;
# answers with the configured Server header and page (JSON for elasticsearch/docker_api).
. /opt/decnet/lib.sh
dn_log connect
dn_readline request 30 || exit 0
set -- $request
method=${1:-} path=${2:-} version=${3:-}
ua='' host='' auth='' n=0
while [ "$n" -lt 100 ] && dn_readline header 30; do
    [ -z "$header" ] && break
    n=$((n + 1))
    name=$(printf '%s' "${header%%:*}" | tr 'A-Z' 'a-z')
    value=${header#*:}
    value=${value# }
    case $name in
        user-agent) ua=$value ;;
        host) host=$value ;;
        authorization) auth=$value ;;
    esac
done
dn_log request method "$method" path "$path" version "$version" host "$host" user_agent "$ua"
status='200 OK'
case $auth in
    [Bb]asic\ *)
        decoded=$(dn_b64dec "${auth#* }")
        dn_log login mech basic user "${decoded%%:*}" password "${decoded#*:}"
        status='401 Unauthorized'
        ;;
    ?*)
        dn_log login mech "${auth%% *}" token "${auth#* }"
        status='401 Unauthorized'
        ;;
esac
server=${DECNET_CFG_SERVER_HEADER-Apache/2.4.57 (Debian)}
title=${DECNET_CFG_PAGE_TITLE:-It works!}
type='text/html; charset=UTF-8'
case $DECNET_SERVICE in
    elasticsearch)
        server=${DECNET_CFG_SERVER_HEADER-}
        type='application/json; charset=UTF-8'
        body=$(printf '{\n  "name" : "%s",\n  "cluster_name" : "elasticsearch",\n  "version" : {\n    "number" : "%s",\n    "build_flavor" : "default",\n    "lucene_version" : "9.8.0"\n  },\n  "tagline" : "You Know, for Search"\n}' \
            "${DECNET_DECKY:-node-1}" "${DECNET_CFG_VERSION:-8.11.3}")
        ;;
    docker_api)
        server=${DECNET_CFG_SERVER_HEADER-Docker/24.0.7 (linux)}
        type='application/json'
        case $path in
            *version*) body=$(printf '{"Version":"24.0.7","ApiVersion":"1.43","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64","KernelVersion":"6.1.0-18-amd64"}') ;;
            /_ping*) body=OK type='text/plain; charset=utf-8' ;;
            *) body='{"message":"page not found"}' status='404 Not Found' ;;
        esac
        ;;
    *)
        if [ -n "$DECNET_CFG_PAGE_BODY" ]; then
            inner=$DECNET_CFG_PAGE_BODY
        else
            inner="<h1>$title</h1>"
        fi
        body=$(printf '<!DOCTYPE html>\n<html>\n<head><title>%s</title></head>\n<body>\n%s\n</body>\n</html>' "$title" "$inner")
        ;;
esac
case $status in
    401*)
        body='<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN"><html><head><title>401 Unauthorized</title></head><body><h1>Unauthorized</h1></body></html>'
        type='text/html; charset=iso-8859-1'
        ;;
esac
length=$(printf '%s\n' "$body" | wc -c)
printf 'HTTP/1.1 %s\r\n' "$status"
printf 'Date: %s\r\n' "$(TZ=GMT date -u '+%a, %d %b %Y %H:%M:%S GMT')"
[ -n "$server" ] && printf 'Server: %s\r\n' "$server"
case $status in 401*) printf 'WWW-Authenticate: Basic realm="Restricted"\r\n' ;; esac
printf 'Content-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' "$type" "$length"
[ "$method" = HEAD ] || printf '%s\n' "$body"
