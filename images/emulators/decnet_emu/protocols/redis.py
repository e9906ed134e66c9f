"""Redis (RESP2): PING, AUTH recorded, INFO/CONFIG answered as a redis-server would."""

from __future__ import annotations

from decnet_emu.session import Session


async def _read_command(session: Session) -> list[bytes] | None:
    line = await session.read_line(65536)
    if not line:
        return None
    if line.startswith(b"*"):
        count = int(line[1:].strip() or 0)
        args = []
        for _ in range(min(count, 64)):
            header = await session.read_line(64)
            size = int(header[1:].strip() or 0)
            data = await session.read_exactly(size + 2)
            args.append(data[:-2])
        return args
    return line.strip().split()


async def handle(session: Session) -> None:
    version = str(session.config.get("version") or "7.0.15")
    while True:
        args = await _read_command(session)
        if args is None:
            return
        if not args:
            continue
        name = args[0].decode("latin-1").upper()
        if name == "PING":
            await session.send(b"+PONG\r\n")
        elif name == "AUTH":
            user = args[1] if len(args) > 2 else b"default"
            password = args[-1] if len(args) > 1 else b""
            session.event("login", username=user, password=password, success=False)
            await session.send(
                b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        elif name == "QUIT":
            await session.send(b"+OK\r\n")
            return
        elif name == "HELLO":
            await session.send(
                b"-NOAUTH HELLO must be called with the client already authenticated\r\n")
        else:
            session.event("command", command=b" ".join(args)[:256])
            await session.send(b"-NOAUTH Authentication required.\r\n")
        _ = version
