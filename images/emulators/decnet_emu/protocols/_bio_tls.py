"""TLS over a session's streams with memory BIOs, for protocols where asyncio's start_tls
cannot be used: the client sends its ClientHello without waiting for an answer (MySQL's
SSLRequest; it may already sit in the stream buffer) or the handshake travels inside the
protocol's own packets (TDS PRELOGIN). Shared by mysql and mssql."""

from __future__ import annotations

import asyncio
import ssl

from decnet_emu.session import Session


class BioTls:
    """A server-side TLS channel on top of `session.read` / `session.send`."""

    def __init__(self, session: Session, context: ssl.SSLContext) -> None:
        self.session = session
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.buffer = b""

    def feed(self, data: bytes) -> tuple[bool, bytes]:
        """Give handshake bytes; (handshake done, bytes to send back)."""
        self.incoming.write(data)
        try:
            self.tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        return done, self.outgoing.read()

    async def handshake(self) -> None:
        """The handshake as raw TLS records on the stream."""
        while True:
            data = await self.session.read()
            if not data:
                raise asyncio.IncompleteReadError(b"", None)
            done, out = self.feed(data)
            if out:
                await self.session.send(out)
            if done:
                return

    async def read_exactly(self, n: int) -> bytes:
        """Exactly n decrypted bytes (asyncio.IncompleteReadError at the end)."""
        while len(self.buffer) < n:
            try:
                self.buffer += self.tls.read(65536)
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:  # close_notify
                raise asyncio.IncompleteReadError(self.buffer, n) from None
            data = await self.session.read()
            if not data:
                raise asyncio.IncompleteReadError(self.buffer, n)
            self.incoming.write(data)
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    async def send(self, data: bytes) -> None:
        self.tls.write(data)
        await self.session.send(self.outgoing.read())
