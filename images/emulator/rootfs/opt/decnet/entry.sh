#!/bin/sh
# PID 1 of every service container: pick the handler for DECNET_SERVICE and serve every
# port of DECNET_PORTS ("22/tcp 53/udp") through decnet-svd.
svc=${DECNET_SERVICE:-generic}
case $svc in
    *[!a-z0-9_]*) svc=generic ;;
esac
case $svc in
    elasticsearch | docker_api) handler=/opt/decnet/svc/http.sh ;;
    *) handler=/opt/decnet/svc/$svc.sh ;;
esac
[ -x "$handler" ] || handler=/opt/decnet/svc/generic.sh
if [ -z "$DECNET_PORTS" ]; then
    echo "decnet: DECNET_PORTS is empty: nothing to serve" >&2
    exit 2
fi
# shellcheck disable=SC2086  # one argument per port
exec /opt/decnet/bin/decnet-svd "$handler" $DECNET_PORTS
