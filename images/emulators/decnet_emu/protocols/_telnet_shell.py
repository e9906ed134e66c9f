"""A real bash on a pseudo-terminal behind an accepted telnet login (a foothold).

The emulator stays in the middle: telnet's input goes through TelnetIO (negotiation
answered, CR LF / CR NUL turned into the terminal's CR) into the pty's master, the shell's
output goes back unchanged (the pty's line discipline echoes and turns LF into CR LF).
Every line the attacker types is a `command` event, recorded here from the keystrokes, so a
shell that unsets its history or kills its audit cannot hide them. The shell runs as the
container's own (unprivileged) user in a new session with the pty as its controlling
terminal, HOME on /tmp (tmpfs, lost on recreate), and is killed with its process group when
the connection ends. Used when the image has bash (the full emulator images do).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import shutil
import signal
import struct
import termios
from pathlib import Path

from decnet_emu.protocols._telnet_io import TelnetIO
from decnet_emu.session import Session

BASH = "/bin/bash"
HOMES = Path("/tmp/home")
MAX_LINE = 1024
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def available() -> bool:
    """Whether a real shell can be given here (bash present)."""
    return os.access(BASH, os.X_OK)


def _home(user: str) -> Path:
    home = HOMES / "".join(ch for ch in user if ch.isalnum() or ch in "._-")[:32]
    if not home.exists():
        home.mkdir(parents=True, exist_ok=True)
        skel = Path("/etc/skel")
        if skel.is_dir():
            for item in skel.iterdir():
                with contextlib.suppress(OSError):
                    shutil.copy2(item, home / item.name)
    return home


def _environment(session: Session, tio: TelnetIO, user: str, home: Path) -> dict[str, str]:
    host = session.persona.hostname
    return {"HOME": str(home), "USER": user, "LOGNAME": user, "SHELL": BASH, "PATH": PATH,
            "TERM": str(tio.info.get("ttype") or "xterm").lower()[:32], "LANG": "C.UTF-8",
            "HOSTNAME": host, "PS1": f"{user}@{host}:\\w\\$ ",
            "HISTFILE": str(home / ".bash_history")}


def _set_size(fd: int, naws: object) -> None:
    rows, cols = 24, 80
    if isinstance(naws, str) and "x" in naws:
        with contextlib.suppress(ValueError):
            cols, rows = (int(part) for part in naws.split("x", 1))
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _take_terminal() -> None:
    """In the child, after setsid: the pty (stdin) becomes the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class _Lines:
    """The lines typed, rebuilt from keystrokes (backspace, ^U honoured)."""

    def __init__(self) -> None:
        self.line = bytearray()

    def feed(self, byte: int) -> str | None:
        if byte in (13, 10):
            done, self.line = bytes(self.line), bytearray()
            return done.decode("utf-8", "replace").strip()
        if byte in (8, 127):
            if self.line:
                self.line.pop()
        elif byte == 21:
            self.line.clear()
        elif byte >= 32 and len(self.line) < MAX_LINE:
            self.line.append(byte)
        return None


async def run_shell(session: Session, tio: TelnetIO, user: str) -> None:
    """Give `user` a real bash until either side ends; record every typed line."""
    home = _home(user)
    master, slave = pty.openpty()
    _set_size(slave, tio.info.get("naws"))
    try:
        process = await asyncio.create_subprocess_exec(
            BASH, "--login", "-i", stdin=slave, stdout=slave, stderr=slave, cwd=str(home),
            env=_environment(session, tio, user, home), start_new_session=True,
            preexec_fn=_take_terminal)
    finally:
        os.close(slave)
    session.event("command", command="-bash", user=user, shell="real")
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the shell and everything on its terminal are gone
            data = b""
        if not data:
            loop.remove_reader(master)
        output.put_nowait(data)

    loop.add_reader(master, readable)

    async def to_client() -> None:
        while data := await output.get():
            await session.send(data.replace(b"\xff", b"\xff\xff"))

    async def from_client() -> None:
        lines = _Lines()
        while (byte := await tio.getc()) is not None:
            typed = lines.feed(byte)
            if typed:
                session.event("command", command=typed, user=user, shell="real")
            with contextlib.suppress(BlockingIOError):
                os.write(master, b"\r" if byte == 10 else bytes([byte]))

    tasks = [asyncio.ensure_future(to_client()), asyncio.ensure_future(from_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        loop.remove_reader(master)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(asyncio.TimeoutError, ProcessLookupError):
            await asyncio.wait_for(process.wait(), 5)
        os.close(master)
