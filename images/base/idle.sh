#!/bin/sh
# PID 1 of a decky's base container: it only holds the decky's addresses. Ends at once on
# SIGTERM/SIGINT, with or without an init (docker run --init) in front of it.
trap 'exit 0' TERM INT
while :; do
    sleep 86400 &
    wait $!
done
