"""One module per protocol, named after the catalog service it serves.

A module exposes `async def handle(session: Session) -> None` for TCP connections and, for
UDP services, `def datagram(dgram: Datagram, data: bytes) -> bytes | None` (the reply, if
any). Modules record what the attacker does with `session.event(kind, **fields)` using the
event kinds of images/README.md (`login` with `username`, `password`/`hash`, `success`;
`command`, `query`, `request`, `transfer`, `data`). Imported lazily: a container loads only
its own protocol.
"""
