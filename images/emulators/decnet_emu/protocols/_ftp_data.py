"""FTP data connections as vsftpd makes them: PASV/EPSV listen, PORT/EPRT connect back.

vsftpd's rules are kept: a passive connection from an address other than the control
connection's is refused (pasv_promiscuous=NO), PORT/EPRT to another address is refused
(port_promiscuous=NO). One data connection per transfer, then it is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from decnet_emu.session import Session, _plain_ip

ACCEPT_WAIT = 10.0


class DataChannel:
    """The pending data connection of one FTP control connection."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._server: asyncio.AbstractServer | None = None
        self._accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
            asyncio.Queue(maxsize=1)
        self._active: tuple[str, int] | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def ready(self) -> bool:
        return self._server is not None or self._active is not None

    async def setup(self, verb: str, arg: str) -> str:
        """The reply to PASV, EPSV, PORT or EPRT."""
        await self.close()
        if verb in ("PASV", "EPSV"):
            ip = self.session.dst_ip
            if verb == "PASV" and ":" in ip:
                return "425 Use EPSV with IPv6."
            port = await self._listen(ip)
            if verb == "EPSV":
                return f"229 Entering Extended Passive Mode (|||{port}|)"
            return (f"227 Entering Passive Mode ({ip.replace('.', ',')},"
                    f"{port >> 8},{port & 255}).")
        target = _parse_port(arg) if verb == "PORT" else _parse_eprt(arg)
        if target is None:
            return f"500 Illegal {verb} command."
        if target[0] != self.session.src_ip:
            self.session.event("command", command=verb, arg=arg, refused="foreign address")
            return f"500 Illegal {verb} command."
        self._active = target
        return (f"200 {verb} command successful. Consider using "
                f"{'PASV' if verb == 'PORT' else 'EPSV'}.")

    async def _listen(self, ip: str) -> int:
        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername") or ("", 0)
            if _plain_ip(peer[0]) != self.session.src_ip or self._accepted.full():
                writer.close()
                return
            self._accepted.put_nowait((reader, writer))

        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self._server = await asyncio.start_server(accepted, host=ip, port=0, family=family,
                                                  backlog=1)
        return int(self._server.sockets[0].getsockname()[1])

    async def open(self) -> bool:
        """Get the data connection (accept or connect); False when it does not come."""
        try:
            if self._active is not None:
                _, self._writer = await asyncio.wait_for(
                    asyncio.open_connection(*self._active), ACCEPT_WAIT)
            elif self._server is not None:
                _, self._writer = await asyncio.wait_for(self._accepted.get(), ACCEPT_WAIT)
            else:
                return False
        except (TimeoutError, OSError):
            await self.close()
            return False
        return True

    async def send(self, data: bytes) -> None:
        """Send and close the data connection (end of file for the client)."""
        if self._writer is not None:
            with contextlib.suppress(ConnectionError, OSError):
                self._writer.write(data)
                await self._writer.drain()
        await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
                await self._writer.wait_closed()
            self._writer = None
        if self._server is not None:
            self._server.close()
            self._server = None
        while not self._accepted.empty():
            _, writer = self._accepted.get_nowait()
            writer.close()
        self._active = None


def _parse_port(arg: str) -> tuple[str, int] | None:
    parts = arg.strip().split(",")
    if len(parts) != 6 or not all(p.strip().isdigit() and int(p) < 256 for p in parts):
        return None
    numbers = [int(p) for p in parts]
    return ".".join(str(n) for n in numbers[:4]), numbers[4] * 256 + numbers[5]


def _parse_eprt(arg: str) -> tuple[str, int] | None:
    arg = arg.strip()
    if len(arg) < 4:
        return None
    fields = arg[1:-1].split(arg[0])
    if len(fields) != 3 or fields[0] not in ("1", "2") or not fields[2].isdigit():
        return None
    port = int(fields[2])
    return (fields[1], port) if 0 < port < 65536 else None
