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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decnet_emu.config import EmulatorConfig
from decnet_emu.events import EventWriter
from decnet_emu.persona import Persona

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
TEMPLATE_PLACES = (Path("/usr/local/lib/decnet-ssh/sshd_config.in"),
                   Path(__file__).resolve().parents[2] / "ssh" / "sshd_config.in")
BAD_PASSWORD = b"\x08\n\r\x7fINCORRECT"  # what sshd hands PAM for users it thinks invalid
USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
FIRST_UID = 1000
USERS_GID = 100

SYSLOG_RE = re.compile(
    r"^<(\d{1,3})>(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d )?([^\s\[:]+)\[(\d+)\]: (.*)$", re.S)
CONNECTION_RE = re.compile(r"^Connection from (\S+) port (\d+) on (\S+) port (\d+)")
AUTH_RE = re.compile(r"^(Accepted|Failed) (\S+) for (invalid user )?(.*) from (\S+) port (\d+)"
                     r" ssh2(?:: (.*))?$")
SESSION_RE = re.compile(r"^Starting session: (.*) for (\S+) from \S+ port \d+ id (\d+)")
SNOOPY_RE = re.compile(r"decnet pid=(\d+) ppid=(\d+) sid=(\d+) uid=(\d+) tty=(\S*) cmd=(.*)$",
                       re.S)


# -- host keys ------------------------------------------------------------------------------
def _is_probable_prime(n: int) -> bool:
    """Miller-Rabin with the first 24 primes as bases (keys here are not adversarial)."""
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
             79, 83, 89)
    if n < 2:
        return False
    for p in small:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


_SIEVE = [p for p in range(3, 2000) if all(p % q for q in range(2, int(p ** 0.5) + 1))]


def _derived_prime(persona: Persona, label: str, bits: int) -> int:
    """A deterministic prime of `bits` bits (top two bits set, p-1 coprime to 65537)."""
    for counter in range(100000):
        n = int.from_bytes(persona.derive(f"{label}/{counter}", bits // 8), "big")
        n |= (3 << (bits - 2)) | 1
        if any(n % p == 0 for p in _SIEVE):
            continue
        if (n - 1) % 65537 and _is_probable_prime(n):
            return n
    raise RuntimeError("no prime found")


def host_keys(persona: Persona, rsa_bits: int = 3072) -> dict[str, bytes]:
    """OpenSSH private keys by type (`ed25519`, `ecdsa`, `rsa`), derived from the persona."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    fmt = (serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
           serialization.NoEncryption())
    keys: dict[str, Any] = {
        "ed25519": ed25519.Ed25519PrivateKey.from_private_bytes(
            persona.derive("ssh-host-key/ed25519", 32)),
    }
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256
    scalar = int.from_bytes(persona.derive("ssh-host-key/ecdsa", 40), "big") % (order - 1) + 1
    keys["ecdsa"] = ec.derive_private_key(scalar, ec.SECP256R1())
    if rsa_bits:
        p = _derived_prime(persona, "ssh-host-key/rsa/p", rsa_bits // 2)
        q = _derived_prime(persona, "ssh-host-key/rsa/q", rsa_bits // 2)
        p, q = max(p, q), min(p, q)
        e = 65537
        d = pow(e, -1, (p - 1) * (q - 1))
        public = rsa.RSAPublicNumbers(e, p * q)
        keys["rsa"] = rsa.RSAPrivateNumbers(
            p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
            public).private_key()
    return {name: key.private_bytes(*fmt) for name, key in keys.items()}


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


# -- accounts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Account:
    user: str
    password: str


def accept_list(value: Any) -> list[Account]:
    """`accept` items: {user, password} objects (or "user:password" strings); bad ones dropped."""
    out = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            user, password = item.get("user"), item.get("password")
        elif isinstance(item, str) and ":" in item:
            user, password = item.split(":", 1)
        else:
            user = password = None
        if isinstance(user, str) and isinstance(password, str) and USER_RE.match(user) \
                and password and "\n" not in password:
            out.append(Account(user, password))
        else:
            print(f"decnet_emu: ssh: accept item ignored: {item!r}", file=sys.stderr)
    return out


def _hash_password(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # Debian bookworm's Python 3.11 still has it (libcrypt, yescrypt/sha512)

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


def _etc_path(name: str, etc: Path) -> Path:
    """The writable file behind /etc/<name>: a link into /run is seeded from the image copy."""
    path = etc / name
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            seed = ETC_SEED / name
            if seed.exists():
                shutil.copy2(seed, target)
            else:
                target.touch()
            if name in ("shadow", "gshadow"):
                os.chmod(target, 0o640)
        return target
    return path


def _write_lines(path: Path, lines: list[str]) -> None:
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    temp = path.with_name(f".{path.name}.decnet")
    temp.write_text("".join(line + "\n" for line in lines))
    os.chmod(temp, mode)
    os.replace(temp, path)


def _home_base() -> Path:
    for base in (Path("/home"), Path("/tmp/home")):
        with contextlib.suppress(OSError):
            base.mkdir(parents=True, exist_ok=True)
            probe = base / ".decnet-probe"
            probe.mkdir()
            probe.rmdir()
            return base
    return Path("/tmp")


def setup_accounts(accounts: list[Account], etc: Path = Path("/etc")) -> list[str]:
    """Create (or set the password of) each account; returns the users that can log in.

    Files are edited directly (useradd/chpasswd cannot write under a read-only /etc, and the
    image links the account files into /run): passwd, shadow, and a home from /etc/skel.
    The files under /run are seeded from the image's copies in any case: sshd needs its
    privilege separation user even when no account is added.
    """
    try:
        passwd_path, shadow_path = _etc_path("passwd", etc), _etc_path("shadow", etc)
        _etc_path("group", etc)
        _etc_path("gshadow", etc)
        if not accounts:
            return []
        passwd = passwd_path.read_text().splitlines()
        shadow = shadow_path.read_text().splitlines()
    except OSError as exc:
        print(f"decnet_emu: ssh: cannot read the account files: {exc}", file=sys.stderr)
        return []
    names = {line.split(":", 1)[0]: i for i, line in enumerate(passwd) if line}
    uids = {int(p[2]) for p in (line.split(":") for line in passwd) if len(p) > 2
            and p[2].isdigit()}
    today = int(time.time() // 86400)
    done = []
    for account in accounts:
        if account.user not in names:
            uid = next(u for u in range(FIRST_UID, 60000) if u not in uids)
            uids.add(uid)
            home = _home_base() / account.user
            passwd.append(f"{account.user}:x:{uid}:{USERS_GID}::{home}:/bin/bash")
            names[account.user] = len(passwd) - 1
            with contextlib.suppress(OSError):
                if not home.exists():
                    shutil.copytree("/etc/skel", home) if Path("/etc/skel").is_dir() \
                        else home.mkdir(parents=True)
                for root, dirs, files in os.walk(home):
                    for item in [root, *(os.path.join(root, n) for n in dirs + files)]:
                        os.lchown(item, uid, USERS_GID)
                os.chmod(home, 0o750)
        entry = f"{account.user}:{_hash_password(account.password)}:{today}:0:99999:7:::"
        shadow = [line for line in shadow if line.split(":", 1)[0] != account.user] + [entry]
        done.append(account.user)
    try:
        _write_lines(passwd_path, passwd)
        _write_lines(shadow_path, shadow)
    except OSError as exc:
        print(f"decnet_emu: ssh: cannot write the account files ({exc}); accept is ignored "
              "(a read-only /etc needs images/emulators/ssh/image-setup.sh)", file=sys.stderr)
        return []
    return done


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


def write_host_keys(persona: Persona, rsa_bits: int, folder: Path = SSH_RUN) -> list[Path]:
    """Write the persona's host keys (0600) into `folder`; their paths, RSA first."""
    paths = []
    for name, pem in host_keys(persona, rsa_bits).items():
        path = folder / f"ssh_host_{name}_key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        paths.append(path)
    return sorted(paths, key=lambda p: ("rsa" not in p.name, "ecdsa" not in p.name))


def write_host_keys_apart(persona: Persona, rsa_bits: int, folder: Path = SSH_RUN) -> list[Path]:
    """write_host_keys in a forked child, so that `cryptography` (and the RSA derivation's
    garbage) never weighs on the supervisor that stays resident for the container's life
    (measured: about 4 MiB less anonymous memory). Before any thread or event loop exists."""
    names = ["ed25519", "ecdsa"] + (["rsa"] if rsa_bits else [])
    paths = sorted((folder / f"ssh_host_{name}_key" for name in names),
                   key=lambda p: ("rsa" not in p.name, "ecdsa" not in p.name))
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: derive, write, leave without running the parent's cleanups
        code = 1
        try:
            write_host_keys(persona, rsa_bits, folder)
            code = 0
        except BaseException as exc:  # reported, and the parent fails
            print(f"decnet_emu: ssh: host keys: {type(exc).__name__}: {exc}", file=sys.stderr,
                  flush=True)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not all(p.exists() for p in paths):
        raise OSError("the host keys could not be written")
    return paths


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


CREDS_SPACE = socket.CMSG_SPACE(struct.calcsize("3i"))


def _sender(ancillary: list[tuple[int, int, bytes]]) -> tuple[int, int] | None:
    """(pid, uid) from SCM_CREDENTIALS, checked by the kernel."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= 12:
            pid, uid, _gid = struct.unpack("3i", data[:12])
            return pid, uid
    return None


# -- /proc helpers --------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, start time) of a process, None when it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    parts = data[data.rfind(b")") + 2:].split()
    return int(parts[1]), int(parts[19])


# -- connections and events -----------------------------------------------------------------
@dataclass
class Conn:
    """One SSH connection: sshd's per-connection (monitor) process and what it logged."""

    pid: int
    start: int
    src: str
    sport: int
    dport: int
    id: str = field(default_factory=lambda: os.urandom(6).hex())
    started: float = field(default_factory=time.monotonic)
    passwords: deque[tuple[str, bytes]] = field(default_factory=deque)
    results: deque[tuple[str, str, bool]] = field(default_factory=deque)
    user: str = ""
    logged_in: bool = False


class Supervisor:
    """Runs sshd and turns its log lines, the PAM hook's messages and snoopy's into events."""

    def __init__(self, config: EmulatorConfig, events: EventWriter | None = None) -> None:
        self.config = config
        self.events = events or EventWriter(config.service or "ssh")
        self.conns: dict[int, Conn] = {}
        self.owners: dict[int, Conn] = {}  # any pid seen in a session -> its connection
        self.early: dict[int, list[tuple[str, bytes]]] = {}  # hook messages before "Connection"
        self.process: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None
        self._stop: asyncio.Event | None = None
        self._sockets: list[socket.socket] = []
        self._watched: dict[Path, tuple[socket.socket, int, Any]] = {}
        self.log_lines = os.environ.get("DECNET_SSH_LOG", "") == "1"  # sshd's lines on stderr

    # -- events ---------------------------------------------------------------------------
    def emit(self, conn: Conn, kind: str, **fields: Any) -> None:
        head: dict[str, Any] = {"proto": "tcp", "dport": conn.dport,
                                "decky": self.config.persona.hostname, "session": conn.id}
        head.update(fields)
        self.events.emit(kind, conn.src, conn.sport, head)

    def _login(self, conn: Conn, user: str, mech: str, success: bool,
               password: bytes | None, key: str | None = None) -> None:
        fields: dict[str, Any] = {"user": user}
        if password == BAD_PASSWORD:
            fields["password_hidden"] = True  # sshd withheld it (the nscd answer failed)
        elif password is not None:
            fields["password"] = password
        fields.update(mech=mech, success=success)
        if key:
            fields["key"] = key
        self.emit(conn, "login", **fields)
        if success:
            conn.logged_in, conn.user = True, user

    # -- sshd's log lines -----------------------------------------------------------------
    def on_syslog(self, data: bytes, sender: tuple[int, int] | None = None) -> None:
        """One /dev/log datagram; `sender` is the kernel's (pid, uid) of the writer."""
        match = SYSLOG_RE.match(data.decode("utf-8", "surrogateescape").rstrip("\n\0"))
        if not match:
            return
        priority, tag, message = int(match.group(1)), match.group(2), match.group(4)
        pid = int(match.group(3))
        if tag != "snoopy" and (priority & 7 <= 3 or self.log_lines):  # errors, or all
            print(f"{tag}[{pid}]: {message}", file=sys.stderr)
        if sender is not None and sender[0] != pid:
            return  # a line claiming another process's pid: forged
        if tag == "snoopy":
            self._on_snoopy(message, pid)
        elif tag == "sshd":  # connection and auth lines only from root (the monitor)
            self._on_sshd(pid, message, sender is None or sender[1] == 0)
        elif tag == "sftp-server":
            conn = self._owner(pid)
            if conn is not None and conn.logged_in:
                op, _, detail = message.partition(" ")
                if op in ("open", "close", "remove", "rename", "mkdir", "rmdir", "opendir",
                          "set", "symlink", "hardlink", "posix-rename"):
                    self.emit(conn, "sftp", op=op, detail=detail)

    def _on_sshd(self, pid: int, message: str, root: bool) -> None:
        if match := SESSION_RE.match(message):  # logged by the session's (user's) process
            conn = self._owner(pid)
            if conn is None or not conn.logged_in:
                return
            kind = match.group(1)
            fields: dict[str, Any] = {"type": kind.split()[0], "user": match.group(2)}
            if " on " in kind:
                fields["tty"] = kind.rsplit(" on ", 1)[1]
            if kind.startswith("subsystem"):
                fields["subsystem"] = kind.split("'")[1] if "'" in kind else kind
            self.emit(conn, "channel", **fields)
            return
        if not root:
            return
        if match := CONNECTION_RE.match(message):
            info = _stat(pid)
            conn = Conn(pid, info[1] if info else 0, _plain(match.group(1)),
                        int(match.group(2)), int(match.group(4)))
            self.conns[pid] = conn
            self.owners[pid] = conn
            conn.passwords.extend(self.early.pop(pid, []))
            self.emit(conn, "connect")
            return
        conn = self.conns.get(pid)
        if conn is None:
            return
        if match := AUTH_RE.match(message):
            verdict, mech, _invalid, user, _ip, _port, extra = match.groups()
            if mech == "none":
                return
            if mech == "password":
                conn.results.append((user, mech, verdict == "Accepted"))
                self._pair(conn)
                if conn.results:  # the hook's message may still be on its way
                    asyncio.get_running_loop().call_later(1.0, self._flush, conn)
            else:
                self._login(conn, user, mech, verdict == "Accepted", None, extra)

    def _pair(self, conn: Conn) -> None:
        """Join each logged result with the password the hook sent for the same user."""
        while conn.results and conn.passwords:
            user, mech, success = conn.results.popleft()
            index = next((i for i, (u, _) in enumerate(conn.passwords) if u == user), 0)
            _, password = conn.passwords[index]
            del conn.passwords[index]
            self._login(conn, user, mech, success, password)

    def _flush(self, conn: Conn) -> None:
        self._pair(conn)
        while conn.results:
            user, mech, success = conn.results.popleft()
            self._login(conn, user, mech, success, None)

    # -- the PAM hook ---------------------------------------------------------------------
    def on_auth(self, data: bytes, sender: tuple[int, int] | None = None) -> None:
        """One message of the PAM hook (the socket is root's only)."""
        if sender is not None and sender[1] != 0:
            return
        parts = data.split(b"\0", 5)
        if len(parts) != 6 or parts[0] != b"DECNETAUTH1" or not parts[1].isdigit():
            return
        ppid, user, password = int(parts[1]), parts[2].decode("utf-8", "replace"), parts[5]
        conn = self.conns.get(ppid)
        if conn is None:
            self.early.setdefault(ppid, []).append((user, password))
            return
        conn.passwords.append((user, password))
        self._pair(conn)

    # -- snoopy: every execve -------------------------------------------------------------
    def _owner(self, *pids: int) -> Conn | None:
        """The connection a process belongs to: its sshd ancestors, remembered per pid."""
        for start in pids:
            seen = []
            pid = start
            for _ in range(64):
                if pid <= 1:
                    break
                conn = self.owners.get(pid)
                if conn is not None:
                    for item in seen:
                        self.owners[item] = conn
                    return conn
                seen.append(pid)
                info = _stat(pid)
                if info is None:
                    break
                pid = info[0]
        return None

    def _on_snoopy(self, message: str, pid: int) -> None:
        match = SNOOPY_RE.search(message)
        if not match or int(match.group(1)) != pid:
            return
        ppid, sid = int(match.group(2)), int(match.group(3))
        cmd = match.group(6)
        if cmd.startswith((HOOK, SSHD, SFTP_SERVER)) or cmd.startswith(f"bash -c {SFTP_SERVER}"):
            return
        conn = self._owner(pid, ppid, sid)
        if conn is None or not conn.logged_in:
            return
        self.owners[pid] = conn
        fields: dict[str, Any] = {"cmd": cmd, "uid": match.group(4)}
        if match.group(5) not in ("", "(none)"):
            fields["tty"] = match.group(5)
        self.emit(conn, "command", **fields)

    # -- nscd: every user name exists, for sshd only --------------------------------------
    async def on_nscd(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            peer = struct.unpack("3i", creds)[0]
            if os.readlink(f"/proc/{peer}/exe") != SSHD:
                return
            version, kind, key_len = struct.unpack("=3i", await reader.readexactly(12))
            if version != 2 or kind not in (0, 1) or not 0 < key_len <= 256:
                return
            key = (await reader.readexactly(key_len)).rstrip(b"\0").decode("utf-8", "replace")
            writer.write(nscd_passwd_answer(kind, key))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, struct.error, UnicodeError):
            pass
        finally:
            writer.close()

    # -- the run --------------------------------------------------------------------------
    def _datagram_socket(self, path: Path, mode: int) -> socket.socket:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        sock.bind(str(path))
        os.chmod(path, mode)
        sock.setblocking(False)
        self._sockets.append(sock)
        return sock

    def _watch(self, path: Path, mode: int, handler: Any) -> None:
        loop = asyncio.get_running_loop()
        sock = self._datagram_socket(path, mode)

        def readable() -> None:
            for _ in range(256):
                try:
                    data, ancillary, _flags, _addr = sock.recvmsg(65536, CREDS_SPACE)
                except OSError:  # nothing more to read (BlockingIOError) or closed
                    return
                try:
                    handler(data, _sender(ancillary))
                except Exception as exc:  # a bad line must not stop the supervisor
                    print(f"decnet_emu: ssh: {type(exc).__name__}: {exc}", file=sys.stderr)

        loop.add_reader(sock.fileno(), readable)
        self._watched[path] = (sock, mode, handler)

    def _housekeeping(self) -> None:
        """Reap children (PID 1 adopts orphans), end closed connections, keep sockets bound."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if self.process is not None and pid == self.process.pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
                self.process.returncode = self.exit_code
                assert self._stop is not None
                self._stop.set()
        for pid, conn in list(self.conns.items()):
            info = _stat(pid)
            if info is None or info[1] != conn.start:
                self._flush(conn)
                self.emit(conn, "disconnect", duration_s=f"{time.monotonic() - conn.started:.3f}")
                del self.conns[pid]
                for item in [p for p, c in self.owners.items() if c is conn]:
                    del self.owners[item]
        for ppid in [p for p in self.early if _stat(p) is None]:
            del self.early[ppid]
        for path, (sock, mode, handler) in list(self._watched.items()):
            try:
                same = path.stat().st_ino == os.fstat(sock.fileno()).st_ino
            except OSError:
                same = False
            if not same:  # removed or replaced (a root shell can): bind it again
                asyncio.get_running_loop().remove_reader(sock.fileno())
                sock.close()
                self._sockets.remove(sock)
                with contextlib.suppress(OSError):
                    self._watch(path, mode, handler)

    async def run(self, config_path: Path) -> int:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._watch(DEVLOG, 0o666, self.on_syslog)
        self._watch(AUTH_SOCKET, 0o600, self.on_auth)
        with contextlib.suppress(FileNotFoundError):
            NSCD_SOCKET.unlink()
        nscd = await asyncio.start_unix_server(self.on_nscd, path=str(NSCD_SOCKET))
        os.chmod(NSCD_SOCKET, 0o666)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        self.process = subprocess.Popen([SSHD, "-D", "-f", str(config_path)])
        print(f"decnet_emu: ssh: sshd (pid {self.process.pid}) listening on "
              + " ".join(f"{p.port}/{p.proto}" for p in self.config.ports), file=sys.stderr)
        try:
            while not self._stop.is_set():
                self._housekeeping()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 0.25)
        finally:
            if self.exit_code is None and self.process.poll() is None:
                self.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(5)
            nscd.close()
            for sock in self._sockets:
                sock.close()
        if self.exit_code is not None:
            print(f"decnet_emu: ssh: sshd exited with {self.exit_code}", file=sys.stderr)
            return self.exit_code or 1
        return 0


def nscd_passwd_answer(kind: int, key: str) -> bytes:
    """glibc's nscd reply to GETPWBYNAME (0) / GETPWBYUID (1), for sshd.

    Real users come from /etc/passwd; any other plausible name gets an account with no
    password, so sshd treats it as valid and passes the typed password to PAM (which records
    it, then fails: there is no shadow entry). Unknown uids are "not found".
    """
    entry: list[str] | None = None
    with contextlib.suppress(OSError):
        for line in Path("/etc/passwd").read_text().splitlines():
            parts = line.split(":")
            if len(parts) == 7 and (parts[0] == key if kind == 0 else parts[2] == key):
                entry = parts
                break
    if entry is None and kind == 0 and key and len(key) <= 64 \
            and not any(c in key for c in ":/\n\0") and key.isprintable():
        uid = 2000 + int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 50000
        entry = [key, "x", str(uid), str(USERS_GID), "", f"/home/{key}", "/bin/bash"]
    if entry is None or not entry[2].isdigit() or not entry[3].isdigit():
        return struct.pack("=iiiiIIiii", 2, 0, 0, 0, 0, 0, 0, 0, 0)
    name, pw, uid, gid, gecos, home, shell = (s.encode() for s in entry)
    strings = [name, pw, gecos, home, shell]
    head = struct.pack("=iiiiIIiii", 2, 1, len(name) + 1, len(pw) + 1, int(uid), int(gid),
                       len(gecos) + 1, len(home) + 1, len(shell) + 1)
    return head + b"".join(s + b"\0" for s in strings)


def _plain(address: str) -> str:
    return address[7:] if address.startswith("::ffff:") and "." in address else address


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
