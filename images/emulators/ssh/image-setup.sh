#!/bin/sh
# Install the ssh emulator's fixed files into an image (run once at build time, as root,
# inside the image root: `RUN /opt/decnet/ssh/image-setup.sh` or `chroot ROOT ...`).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
LIB=/usr/local/lib/decnet-ssh

install -d -m 0755 "$LIB"
install -m 0755 "$HERE/pam-capture" "$LIB/pam-capture"
install -m 0644 "$HERE/sshd_config.in" "$LIB/sshd_config.in"
install -m 0644 "$HERE/pam-sshd" /etc/pam.d/sshd
install -m 0644 "$HERE/snoopy.ini" /etc/snoopy.ini

# snoopy in every process: every execve of a foothold shell becomes a command event.
SNOOPY=$(ls /usr/lib/*/libsnoopy.so 2>/dev/null | head -n 1)
[ -n "$SNOOPY" ] && echo "$SNOOPY" > /etc/ld.so.preload

# Host keys are per decky, written at start from the persona: none may ship in the image.
rm -f /etc/ssh/ssh_host_*

# Accounts live on tmpfs so `accept` works under a read-only root: /etc/passwd, shadow,
# group and gshadow become links into /run/decnet/etc, seeded at start from the copies here.
install -d -m 0755 /usr/share/decnet/etc
for f in passwd shadow group gshadow; do
    if [ -f "/etc/$f" ] && [ ! -L "/etc/$f" ]; then
        mv "/etc/$f" "/usr/share/decnet/etc/$f"
        ln -s "/run/decnet/etc/$f" "/etc/$f"
    fi
done
