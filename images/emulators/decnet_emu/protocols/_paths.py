"""POSIX path arithmetic shared by the emulators that show a file tree (ftp, the telnet
shell look): no file system is touched."""

from __future__ import annotations


def path_parts(cwd: str, arg: str) -> list[str]:
    """The components of `arg` taken from `cwd`, with `.` and `..` resolved (never above /)."""
    path = arg if arg.startswith("/") else f"{cwd.rstrip('/')}/{arg}"
    parts: list[str] = []
    for item in path.split("/"):
        if item == "..":
            if parts:
                parts.pop()
        elif item and item != ".":
            parts.append(item)
    return parts
