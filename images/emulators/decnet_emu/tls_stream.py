"""Server-side TLS over a session's plain streams, with ssl.MemoryBIO and ssl.SSLObject.

The raw StreamReader stays where it is: bytes it already holds (a ClientHello sent in the
same segment as STARTTLS, SSLRequest or at connect time) are simply the next bytes the
handshake reads, nothing is lost. A failed handshake sends the alert OpenSSL wrote (or what
an `alert` hook puts in its place) before the error is raised. Once established, a pump
task decrypts into a fresh StreamReader (`plain`), so readline/readuntil/at_eof work on it
as on the plain stream; `write` encrypts onto the raw StreamWriter.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable

# (bytes the client sent during the handshake, the alert OpenSSL produced) -> what to send
AlertHook = Callable[[bytes, bytes], bytes]
RECORD = 16384 + 2048  # one TLS record with its overhead
_KEPT = 4096  # client bytes kept for an alert hook to look at


class _Flow:
    """What the plain StreamReader pauses and resumes: the pump (not a socket)."""

    def __init__(self) -> None:
        self.flowing = asyncio.Event()
        self.flowing.set()

    def pause_reading(self) -> None:
        self.flowing.clear()

    def resume_reading(self) -> None:
        self.flowing.set()


class TlsStream:
    """One server-side TLS connection over a raw reader/writer pair."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._received = bytearray()
        self._pump: asyncio.Task[None] | None = None
        self.plain: asyncio.StreamReader | None = None

    # -- the handshake ------------------------------------------------------------------
    def step(self, data: bytes) -> tuple[bool, bytes]:
        """Give handshake bytes: (handshake done, bytes to send). ssl.SSLError on failure,
        then `pending()` holds the alert OpenSSL wrote."""
        if len(self._received) < _KEPT:
            self._received += data[:_KEPT - len(self._received)]
        if data:
            self._incoming.write(data)
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            return False, self._outgoing.read()
        return True, self._outgoing.read()

    def pending(self) -> bytes:
        """Bytes TLS has written and nobody has sent yet (an alert after a failure)."""
        return self._outgoing.read()

    def alert(self, hook: AlertHook | None) -> bytes:
        """What to answer a failed handshake with: OpenSSL's alert or the hook's reply."""
        out = self.pending()
        return hook(bytes(self._received), out) if hook is not None else out

    async def handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        initial: bytes = b"", alert: AlertHook | None = None) -> None:
        """The handshake as TLS records on the stream; `initial`: bytes already read."""
        data = initial
        try:
            while True:
                done, out = self.step(data)
                if out:
                    writer.write(out)
                    await writer.drain()
                if done:
                    return
                data = await reader.read(RECORD)
                if not data:
                    raise ConnectionResetError("connection closed during the TLS handshake")
        except ssl.SSLError:
            reply = self.alert(alert)
            if reply:
                with contextlib.suppress(ConnectionError, OSError):
                    writer.write(reply)
                    await writer.drain()
            raise

    # -- after the handshake ------------------------------------------------------------
    def start(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
              limit: int) -> asyncio.StreamReader:
        """Decrypt from `reader` into a new StreamReader (returned) until the end."""
        self._received = bytearray()
        flow = _Flow()
        self.plain = asyncio.StreamReader(limit=limit)
        self.plain.set_transport(flow)  # type: ignore[arg-type]  # pause/resume only
        self._pump = asyncio.ensure_future(self._run(reader, writer, self.plain, flow))
        return self.plain

    def stop(self, writer: asyncio.StreamWriter | None = None) -> None:
        """Stop decrypting (the connection goes on in clear, or is over); with `writer`,
        send close_notify first, as a server closing a TLS connection does."""
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        if writer is not None and not writer.is_closing():
            with contextlib.suppress(ssl.SSLError, ValueError):
                self._tls.unwrap()  # writes close_notify, wants the peer's: not waited for
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.write(self._outgoing.read())

    def write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        """Encrypt `data` onto the raw writer (drain it afterwards)."""
        self._tls.write(data)
        writer.write(self._outgoing.read())

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   plain: asyncio.StreamReader, flow: _Flow) -> None:
        try:
            while self._decrypt(plain):  # first what came with the handshake's last read
                out = self._outgoing.read()  # key updates, alerts
                if out:
                    writer.write(out)
                await flow.flowing.wait()
                raw = await reader.read(RECORD)
                if not raw:
                    return
                self._incoming.write(raw)
        except (ssl.SSLError, ConnectionError, OSError):
            with contextlib.suppress(Exception):
                writer.write(self._outgoing.read())
        finally:
            plain.feed_eof()

    def _decrypt(self, plain: asyncio.StreamReader) -> bool:
        """Move every complete record into `plain`; False at close_notify."""
        while True:
            try:
                data = self._tls.read(RECORD)
            except ssl.SSLWantReadError:
                return True
            except ssl.SSLZeroReturnError:
                return False
            if not data:
                return True
            plain.feed_data(data)
