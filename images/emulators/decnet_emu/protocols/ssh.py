"""ssh: Debian's real OpenSSH server under a supervisor that turns what it sees into events.

`main(config)` (called by `python -m decnet_emu` instead of the per-connection `handle`):

* writes the decky's host keys (ed25519, ecdsa P-256, RSA 3072, all derived from the persona),
  the accounts of `accept` ({user, password} items: they log in to a real bash), the motd and
  pre-auth banner files and an sshd_config, all under /run (tmpfs; the root may be read-only);
* listens on /dev/log (sshd's VERBOSE log lines, sftp-server's file operations and snoopy's
  execve lines), on /run/decnet/ssh-auth.sock (the PAM hook's user + password) and on
  /run/nscd/socket (so that sshd sees every user name as existing and hands PAM the real
  password instead of its "invalid user" placeholder);
* runs `/usr/sbin/sshd -D -f <config>` and stops with it.

Events (`session` is the same on every event of one TCP connection): `connect`, `login`
(`user`, `password`, `mech`, `success`, `key` for public keys), `channel` (shell, command,
subsystem), `command` (`cmd`: every program started in a logged-in session, from snoopy),
`sftp` (`op`, `detail`), `disconnect` (`duration_s`, when sshd's process of that connection ends).

The parts: `_ssh_keys` (host keys), `_ssh_accounts` (the `accept` accounts), `_ssh_supervisor`
(sshd, its log lines and the PAM hook turned into events), `_ssh_paths` (where they meet).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

from decnet_emu.config import EmulatorConfig
from decnet_emu.protocols._ssh_accounts import accept_list, setup_accounts
from decnet_emu.protocols._ssh_keys import write_host_keys_apart
from decnet_emu.protocols._ssh_paths import NSCD_SOCKET, PRIVSEP_DIR, RUN, SSH_RUN, SSHD
from decnet_emu.protocols._ssh_supervisor import Supervisor

TEMPLATE_PLACES = (Path("/usr/local/lib/decnet-ssh/sshd_config.in"),
                   Path(__file__).resolve().parents[2] / "ssh" / "sshd_config.in")


# -- the version line -----------------------------------------------------------------------
def banner_options(banner: str | None) -> tuple[str, str]:
    """(DebianBanner, VersionAddendum) for the `banner` key.

    The real sshd always says `SSH-2.0-OpenSSH_9.2p1`, followed by Debian's package revision
    (`Debian-2+deb12uN`, the installed one) when DebianBanner is yes, then VersionAddendum.
    `SSH-2.0-OpenSSH_9.2p1 Debian-<anything> [tail]` keeps the Debian part (+ tail),
    `SSH-2.0-OpenSSH_9.2p1 [tail]` drops it; a banner naming another product cannot be
    honoured and is treated as the default (a diagnostic on stderr).
    """
    text = (banner or "").strip()
    prefix = "SSH-2.0-OpenSSH_9.2p1"
    if not text:
        return "yes", "none"
    if not text.startswith(prefix):
        print(f"decnet_emu: ssh: banner {text!r} is not OpenSSH 9.2p1's; the real one is sent",
              file=sys.stderr)
        return "yes", "none"
    rest = text[len(prefix):].strip()
    debian = "no"
    if rest.startswith("Debian-"):
        debian, rest = "yes", rest.partition(" ")[2].strip()
    tail = re.sub(r"[^\x21-\x7e ]", "", rest)[:100].strip()
    return debian, tail or "none"




# -- files under /run -----------------------------------------------------------------------
def render_config(config: EmulatorConfig, key_paths: list[Path], banner_path: Path | None) -> str:
    """sshd_config from the template: ports, host keys, pre-auth banner, version tail."""
    template = next((p for p in TEMPLATE_PLACES if p.exists()), None)
    if template is None:
        places = ", ".join(map(str, TEMPLATE_PLACES))
        raise FileNotFoundError(f"sshd_config.in not found in {places}")
    debian, addendum = banner_options(config.config.get("banner"))
    ports = [listen.port for listen in config.ports if listen.proto == "tcp"] or [22]
    values = {
        "ports": "\n".join(f"Port {port}" for port in ports),
        "host_keys": "\n".join(f"HostKey {path}" for path in key_paths),
        "banner": str(banner_path) if banner_path else "none",
        "debian_banner": debian,
        "version_addendum": addendum,
    }
    text = template.read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text



def prepare(config: EmulatorConfig) -> Path:
    """Everything sshd needs under /run; returns the sshd_config path."""
    # /run/decnet/etc holds the account files every user reads; keys and sockets are 0600
    for path, mode in ((RUN, 0o755), (SSH_RUN, 0o700), (PRIVSEP_DIR, 0o755),
                       (NSCD_SOCKET.parent, 0o755)):
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mode)
    rsa_bits = 0 if str(config.config.get("rsa_host_key", "true")).lower() == "false" else 3072
    key_paths = write_host_keys_apart(config.persona, rsa_bits)
    motd = config.config.get("motd")
    (SSH_RUN / "motd").write_text(motd if isinstance(motd, str) and motd.endswith("\n")
                                  else f"{motd}\n" if isinstance(motd, str) and motd else "")
    os.chmod(SSH_RUN / "motd", 0o644)
    banner_path = None
    pre_auth = config.config.get("login_banner")
    if isinstance(pre_auth, str) and pre_auth:
        banner_path = SSH_RUN / "banner"
        banner_path.write_text(pre_auth if pre_auth.endswith("\n") else pre_auth + "\n")
    os.chmod(SSH_RUN, 0o755)  # pam_motd (root) and sshd read from here; keys stay 0600
    for record, mode in (("/var/log/lastlog", 0o664), ("/var/log/wtmp", 0o664),
                         ("/var/log/btmp", 0o660), ("/run/utmp", 0o664)):
        with contextlib.suppress(OSError):  # login records, as on a real host
            if not os.path.exists(record):
                os.close(os.open(record, os.O_WRONLY | os.O_CREAT, mode))
    setup_accounts(accept_list(config.config.get("accept")))
    cfg = SSH_RUN / "sshd_config"
    cfg.write_text(render_config(config, key_paths, banner_path))
    return cfg


def main(config: EmulatorConfig) -> int:
    """Prepare /run, then supervise sshd until it exits or SIGTERM; the exit code."""
    if not Path(SSHD).exists():
        print(f"decnet_emu: ssh: {SSHD} is missing (openssh-server)", file=sys.stderr)
        return 2
    try:
        config_path = prepare(config)
    except (OSError, ValueError) as exc:
        print(f"decnet_emu: ssh: cannot prepare sshd: {exc}", file=sys.stderr)
        return 2
    check = subprocess.run([SSHD, "-t", "-f", str(config_path)], capture_output=True, text=True)
    if check.returncode != 0:
        print(f"decnet_emu: ssh: sshd -t: {check.stderr.strip()}", file=sys.stderr)
        return 2
    return asyncio.run(Supervisor(config).run(config_path))
