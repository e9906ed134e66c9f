"""The server's socket file: parent directory, stale-file replacement, mode 0660, group."""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import socket
import stat
from pathlib import Path

from decnet_lib.bus.errors import BusAlreadyRunning, BusError

log = logging.getLogger("decnet.bus")

SOCKET_MODE = 0o660
SOCKET_GROUP = "decnet"
DIR_MODE = 0o755


def group_id(name: str) -> int | None:
    """The gid of group `name`, or None when there is no such group."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def is_live(path: Path, timeout: float = 0.5) -> bool:
    """True when something accepts connections on the UNIX socket at `path`."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(timeout)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    else:
        return True
    finally:
        probe.close()


def clear_stale(path: Path) -> None:
    """Remove a leftover socket file at `path`; refuse when a live server answers there."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise BusError(f"{path} exists and is not a socket; refusing to replace it")
    if is_live(path):
        raise BusAlreadyRunning(f"another bus server is already running on {path}")
    log.info("removing stale bus socket %s", path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def bind_socket(path: Path, group: str = SOCKET_GROUP, mode: int = SOCKET_MODE) -> socket.socket:
    """A listening-ready UNIX socket bound at `path`, mode `mode`, group `group` if it exists.

    The file is created under umask 0177 (owner-only) and only then opened to the group, so it
    is never briefly world-accessible.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old_umask = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old_umask)
        gid = group_id(group)
        if gid is not None:
            os.chown(path, -1, gid)
        os.chmod(path, mode)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise BusError(f"cannot create the bus socket {path}: {exc.strerror or exc}") from exc
    return sock


def remove_socket(path: Path, inode: int) -> None:
    """Unlink `path` if it is still the socket file we created (same inode)."""
    try:
        if path.lstat().st_ino == inode:
            path.unlink()
    except FileNotFoundError:
        pass
