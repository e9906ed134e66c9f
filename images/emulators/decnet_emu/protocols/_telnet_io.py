"""Telnet (RFC 854) stream handling: IAC parsing, option negotiation and line input.

`TelnetIO` filters the client's bytes into data, answers option requests the way a server
that knows only the options it asked for does (WONT/DONT anything else, never loops), keeps
what the client told in subnegotiations (terminal type, speed, X display, environment,
window size) and reads lines with or without echo, with backspace, ^U, ^C and ^D.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from decnet_emu.session import Session

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA, STATUS, TTYPE, NAWS, TSPEED, LFLOW, LINEMODE, XDISPLOC, NEW_ENVIRON = (
    1, 3, 5, 24, 31, 32, 33, 34, 35, 39)
AUTHENTICATION = 37
IS, SEND = 0, 1
_ENV_VAR, _ENV_VALUE, _ENV_ESC, _ENV_USERVAR = 0, 1, 2, 3
MAX_SB = 1024


def cmd(verb: int, option: int) -> bytes:
    return bytes([IAC, verb, option])


def sb(option: int, payload: bytes) -> bytes:
    return bytes([IAC, SB, option]) + payload.replace(b"\xff", b"\xff\xff") + bytes([IAC, SE])


class Interrupted(Exception):
    """^C at a line prompt."""


class TelnetIO:
    """The client's side of one telnet connection, as the server's line discipline sees it."""

    def __init__(self, session: Session, *, we_will: set[int], they_do: set[int]) -> None:
        self.session = session
        self.we_will = set(we_will)   # options we offer (WILL x) and accept DO x for
        self.they_do = set(they_do)   # options we ask for (DO x) and accept WILL x for
        self.his: dict[int, bool] = {}
        self.mine: dict[int, bool] = {}
        self.answered: set[int] = set()
        self.subneg: dict[int, bytes] = {}
        self.info: dict[str, Any] = {}
        self._data: deque[int] = deque()
        self._state = 0  # 0 data, 1 IAC, 2 verb, 3 SB, 4 SB+IAC
        self._verb = 0
        self._sb = bytearray()
        self._last = -1
        self._out = bytearray()
        self.eof = False
        self._asked: set[tuple[int, int]] = set()
        self._sent_sb: set[int] = set()

    # -- negotiation ----------------------------------------------------------------------
    async def request(self, *commands: bytes) -> None:
        """Send our own DO/WILL requests (their state is recorded as asked)."""
        for item in commands:
            self._asked.add((item[1], item[2]))
        await self.session.send(b"".join(commands))

    def _on_verb(self, verb: int, option: int) -> None:
        """Answer a WILL/WONT/DO/DONT (RFC 1143 in short): a reply only on a change of state
        or to refuse, so never a loop; the answer to our own request is not acknowledged."""
        self.answered.add(option)
        his_side = verb in (WILL, WONT)
        state = self.his if his_side else self.mine
        ask = (DO if his_side else WILL, option)
        asked = ask in self._asked
        self._asked.discard(ask)
        on = verb in (WILL, DO)
        wanted = option in (self.they_do if his_side else self.we_will)
        yes, no = (DO, DONT) if his_side else (WILL, WONT)
        if on and wanted:
            if not asked and not state.get(option):
                self._out += cmd(yes, option)
            state[option] = True
            if his_side:
                self._ask_subnegotiation(option)
        elif on:  # an option we do not do (or asked for only to look like the real thing)
            if asked or state.get(option) is not False:
                self._out += cmd(no, option)
            state[option] = False
        else:
            if not asked and state.get(option):
                self._out += cmd(no, option)
            state[option] = False

    def _ask_subnegotiation(self, option: int) -> None:
        if option in self._sent_sb:
            return
        if option in (TTYPE, TSPEED, XDISPLOC, NEW_ENVIRON):
            self._sent_sb.add(option)
            self._out += sb(option, bytes([SEND]))
        elif option == LINEMODE:  # character at a time, the server edits
            self._sent_sb.add(option)
            self._out += sb(LINEMODE, bytes([1, 0]))

    def _on_subneg(self, payload: bytes) -> None:
        if not payload:
            return
        option, body = payload[0], payload[1:]
        self.subneg[option] = body
        if option == NAWS and len(body) >= 4:
            width, height = int.from_bytes(body[:2], "big"), int.from_bytes(body[2:4], "big")
            self.info["naws"] = f"{width}x{height}"
        elif body[:1] == bytes([IS]):
            text = body[1:]
            if option == TTYPE:
                self.info["ttype"] = text.decode("latin-1")
            elif option == TSPEED:
                self.info["tspeed"] = text.decode("latin-1")
            elif option == XDISPLOC:
                self.info["xdisploc"] = text.decode("latin-1")
            elif option == NEW_ENVIRON:
                self.info.update({f"env_{k.lower()}": v for k, v in _environ(text).items()
                                  if k.isidentifier() and len(k) <= 24})

    def _feed(self, chunk: bytes) -> None:
        for byte in chunk:
            state = self._state
            if state == 0:
                if byte == IAC:
                    self._state = 1
                elif self._last == 13 and byte in (0, 10):
                    self._last = -1  # CR NUL / CR LF: the CR already ended the line
                else:
                    self._data.append(byte)
                    self._last = byte
            elif state == 1:
                if byte == IAC:
                    self._data.append(IAC)
                    self._state = 0
                elif byte in (WILL, WONT, DO, DONT):
                    self._verb, self._state = byte, 2
                elif byte == SB:
                    self._sb.clear()
                    self._state = 3
                else:  # NOP, GA, AYT, IP...: nothing to do for a login prompt
                    self._state = 0
            elif state == 2:
                self._on_verb(self._verb, byte)
                self._state = 0
            elif state == 3:
                if byte == IAC:
                    self._state = 4
                elif len(self._sb) < MAX_SB:
                    self._sb.append(byte)
            else:
                if byte == SE:
                    self._on_subneg(bytes(self._sb))
                    self._state = 0
                else:
                    if byte == IAC and len(self._sb) < MAX_SB:
                        self._sb.append(IAC)
                    self._state = 3

    async def pump(self, timeout: float | None = None) -> bool:
        """Read one chunk (answering negotiation); False at end of stream or time-out."""
        try:
            if timeout is None:
                chunk = await self.session.read(4096)
            else:
                chunk = await asyncio.wait_for(self.session.reader.read(4096), timeout)
        except TimeoutError:
            return False
        if not chunk:
            self.eof = True
            return False
        self._feed(chunk)
        if self._out:
            out, self._out = bytes(self._out), bytearray()
            await self.session.send(out)
        return True

    async def settle(self, options: set[int], timeout: float) -> None:
        """Wait until the client answered `options` and sent what we asked of it."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if options <= self.answered and self._sent_sb - {LINEMODE} <= set(self.subneg):
                return
            left = deadline - time.monotonic()
            if left <= 0 or not await self.pump(left):
                return

    # -- input ----------------------------------------------------------------------------
    async def getc(self) -> int | None:
        while not self._data:
            if self.eof or not await self.pump():
                return None
        return self._data.popleft()

    async def write(self, text: str | bytes) -> None:
        data = text.encode("utf-8", "replace") if isinstance(text, str) else text
        await self.session.send(data.replace(b"\xff", b"\xff\xff").replace(b"\n", b"\r\n")
                                .replace(b"\r\r\n", b"\r\n"))

    async def read_line(self, echo: bool, limit: int = 1024) -> bytes | None:
        """One input line (None at end of stream; Interrupted on ^C; b"\\x04" on ^D)."""
        line = bytearray()
        while True:
            byte = await self.getc()
            if byte is None:
                return None
            if byte in (13, 10):
                await self.session.send(b"\r\n")
                return bytes(line)
            if byte in (8, 127):
                if line:
                    line.pop()
                    if echo:
                        await self.session.send(b"\b \b")
            elif byte == 21:  # ^U
                if echo and line:
                    await self.session.send(b"\b \b" * len(line))
                line.clear()
            elif byte == 3:
                await self.session.send(b"^C\r\n")
                raise Interrupted
            elif byte == 4 and not line:
                return b"\x04"
            elif byte >= 32 and len(line) < limit:
                line.append(byte)
                if echo:
                    await self.session.send(bytes([byte]) if byte != IAC else b"\xff\xff")


def _environ(body: bytes) -> dict[str, str]:
    """NEW-ENVIRON IS payload -> {name: value}."""
    out: dict[str, str] = {}
    name: bytearray | None = None
    value = bytearray()
    target: bytearray | None = None
    escaped = False
    for byte in body:
        if escaped:
            if target is not None:
                target.append(byte)
            escaped = False
        elif byte == _ENV_ESC:
            escaped = True
        elif byte in (_ENV_VAR, _ENV_USERVAR):
            if name is not None:
                out[name.decode("latin-1")] = value.decode("latin-1")
            name, value = bytearray(), bytearray()
            target = name
        elif byte == _ENV_VALUE:
            target = value
        elif target is not None:
            target.append(byte)
    if name is not None:
        out[name.decode("latin-1")] = value.decode("latin-1")
    return out
