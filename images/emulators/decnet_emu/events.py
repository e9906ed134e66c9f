"""The event writer: one DECNET1 line per event on stdout, each line one atomic write."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

try:  # the library's own encoder, when it is importable (tests, a developer's machine)
    from decnet_lib.logs.emulator_line import format_line
except ImportError:  # inside the image: the same module, copied in by `decnet images build`
    from decnet_emu._emulator_line import format_line  # type: ignore[no-redef]

MAX_LINE_BYTES = 4000  # one write() under PIPE_BUF-ish sizes stays one line in the log


def _text(value: Any) -> str | bytes:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value)


class EventWriter:
    """Writes events for one service; thread-safe; never raises into a protocol handler."""

    def __init__(self, service: str, stream: Any = None, max_value: int = 256) -> None:
        self.service = service
        self._fd = (stream or sys.stdout).fileno()
        self._max_value = max_value
        self._lock = threading.Lock()

    def emit(self, event: str, src_ip: str, src_port: int,
             fields: Mapping[str, Any] | None = None) -> None:
        """Write one event line; pairs that would make the line too long are dropped."""
        clean: dict[str, str | bytes] = {}
        for key, value in (fields or {}).items():
            if value is None:
                continue
            text = _text(value)
            clean[key] = text[: self._max_value] if isinstance(text, bytes) else text
        try:
            line = format_line(self.service, event, src_ip or "0.0.0.0", src_port or 0, clean)
            while len(line) > MAX_LINE_BYTES and clean:
                clean.popitem()
                clean["cut"] = "1"
                line = format_line(self.service, event, src_ip or "0.0.0.0", src_port or 0,
                                   clean)
            data = (line + "\n").encode("ascii")
            with self._lock:
                os.write(self._fd, data)
        except (OSError, ValueError) as exc:  # a closed stdout or a bad key: say so, go on
            print(f"decnet_emu: cannot write event {event!r}: {exc}", file=sys.stderr)
