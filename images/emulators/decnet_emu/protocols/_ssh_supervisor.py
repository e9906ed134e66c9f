"""The ssh supervisor: runs sshd and turns its log lines, the PAM hook's messages and
snoopy's execve lines into events (one `session` id per TCP connection)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decnet_emu.config import EmulatorConfig
from decnet_emu.events import EventWriter
from decnet_emu.protocols._ssh_accounts import USERS_GID
from decnet_emu.protocols._ssh_paths import (
    AUTH_SOCKET,
    DEVLOG,
    HOOK,
    NSCD_SOCKET,
    SFTP_SERVER,
    SSHD,
)

BAD_PASSWORD = b"\x08\n\r\x7fINCORRECT"  # what sshd hands PAM for users it thinks invalid
SYSLOG_RE = re.compile(
    r"^<(\d{1,3})>(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d )?([^\s\[:]+)\[(\d+)\]: (.*)$", re.S)
CONNECTION_RE = re.compile(r"^Connection from (\S+) port (\d+) on (\S+) port (\d+)")
AUTH_RE = re.compile(r"^(Accepted|Failed) (\S+) for (invalid user )?(.*) from (\S+) port (\d+)"
                     r" ssh2(?:: (.*))?$")
SESSION_RE = re.compile(r"^Starting session: (.*) for (\S+) from \S+ port \d+ id (\d+)")
SNOOPY_RE = re.compile(r"decnet pid=(\d+) ppid=(\d+) sid=(\d+) uid=(\d+) tty=(\S*) cmd=(.*)$",
                       re.S)


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
