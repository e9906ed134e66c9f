"""Where the ssh decky's supervisor, sshd and the PAM hook meet: files, sockets, programs."""

from __future__ import annotations

from pathlib import Path

RUN = Path("/run/decnet")
SSH_RUN = RUN / "ssh"
ETC_RUN = RUN / "etc"
ETC_SEED = Path("/usr/share/decnet/etc")
AUTH_SOCKET = RUN / "ssh-auth.sock"
DEVLOG = Path("/dev/log")
NSCD_SOCKET = Path("/run/nscd/socket")
PRIVSEP_DIR = Path("/run/sshd")
SSHD = "/usr/sbin/sshd"
HOOK = "/usr/local/lib/decnet-ssh/pam-capture"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"  # its file operations are `sftp` events
