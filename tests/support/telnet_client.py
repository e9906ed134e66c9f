"""A raw-socket telnet client for tests: answers the server's options like Debian's
`telnet` (terminal type, window size, environment), types keys one at a time."""

from __future__ import annotations

import socket
import time

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
TTYPE, NAWS, NEW_ENVIRON = 24, 31, 39
CLIENT_WILL = {TTYPE, NAWS, NEW_ENVIRON}  # what netkit's client agrees to, roughly


class TelnetClient:
    """Answers the server's options like a terminal client and collects the text it sees."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=15)
        self.raw = bytearray()   # every byte received, IAC included
        self.text = bytearray()  # data bytes only
        self.server_will: set[int] = set()
        self._pending = b""

    def _handle(self, data: bytes) -> None:
        data = self._pending + data
        self._pending = b""
        i = 0
        while i < len(data):
            byte = data[i]
            if byte != IAC:
                self.text.append(byte)
                i += 1
                continue
            if i + 1 >= len(data):
                self._pending = data[i:]
                return
            verb = data[i + 1]
            if verb in (DO, DONT, WILL, WONT):
                if i + 2 >= len(data):
                    self._pending = data[i:]
                    return
                self._answer(verb, data[i + 2])
                i += 3
            elif verb == SB:
                end = data.find(bytes([IAC, SE]), i)
                if end < 0:
                    self._pending = data[i:]
                    return
                self._subneg(data[i + 2:end])
                i = end + 2
            else:
                if verb == IAC:
                    self.text.append(IAC)
                i += 2

    def _answer(self, verb: int, option: int) -> None:
        if verb == DO:
            reply = WILL if option in CLIENT_WILL else WONT
            self.sock.sendall(bytes([IAC, reply, option]))
            if option == NAWS:
                self.sock.sendall(bytes([IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE]))
        elif verb == WILL:
            self.server_will.add(option)
            self.sock.sendall(bytes([IAC, DO, option]))

    def _subneg(self, body: bytes) -> None:
        if body[:2] == bytes([TTYPE, 1]):
            self.sock.sendall(bytes([IAC, SB, TTYPE, 0]) + b"XTERM" + bytes([IAC, SE]))
        elif body[:2] == bytes([NEW_ENVIRON, 1]):
            self.sock.sendall(bytes([IAC, SB, NEW_ENVIRON, 0, 0]) + b"USER" + bytes([1])
                              + b"mallory" + bytes([IAC, SE]))

    def expect(self, needle: bytes, timeout: float = 10) -> bytes:
        """Read until `needle` appears in the text; return the text so far, then reset it."""
        deadline = time.monotonic() + timeout
        while needle not in self.text and time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            if not data:
                break
            self.raw += data
            self._handle(data)
        seen = bytes(self.text)
        assert needle in seen, f"{needle!r} not in {seen!r}"
        self.text.clear()
        return seen

    def type_line(self, text: str) -> None:
        """Type a line the way a character-mode client does: one key at a time, CR NUL."""
        for char in text.encode():
            self.sock.sendall(bytes([char]))
        self.sock.sendall(b"\r\0")

    def close(self) -> None:
        self.sock.close()
