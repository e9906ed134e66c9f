"""vnc: RFB 3.3/3.7/3.8 up to VNC authentication; the DES response is recorded.

The server sends its version (config `banner`, default `RFB 003.008`), offers security type
2 (VNC authentication), sends a 16-byte challenge derived per session, records the client's
16-byte response as a `login` event (`challenge`, `response`, `hash` in John's
`$vnc$*CHALLENGE*RESPONSE` form) and answers SecurityResult failed, with the reason
"Authentication failed" for 3.8 clients.
"""

from __future__ import annotations

import re
import struct

from decnet_emu.session import Session

_VERSION = re.compile(rb"^RFB (\d{3})\.(\d{3})\n$")
_REASON = b"Authentication failed"
_VNC_AUTH = 2


def _banner(session: Session) -> bytes:
    text = str(session.config.get("banner") or "").strip()
    if re.fullmatch(r"RFB \d{3}\.\d{3}", text):
        return text.encode() + b"\n"
    return b"RFB 003.008\n"


async def _offer_security(session: Session, minor: int) -> bool:
    """Offer VNC authentication; False when the client picks something else."""
    if minor < 7:  # 3.3: the server decides
        await session.send(struct.pack(">I", _VNC_AUTH))
        return True
    await session.send(bytes([1, _VNC_AUTH]))
    choice = await session.read_exactly(1)
    if choice[0] != _VNC_AUTH:
        session.event("data", bytes=1, data=choice, note="security type refused")
        reason = b"Security type not supported"
        await session.send(struct.pack(">II", 1, len(reason)) + reason)
        return False
    return True


async def handle(session: Session) -> None:
    await session.send(_banner(session))
    line = await session.read_line(12)
    match = _VERSION.match(line)
    if not match:
        if line:
            session.event("data", bytes=len(line), data=line)
        return
    major, minor = int(match.group(1)), int(match.group(2))
    session.event("client_version", version=line.strip())
    minor = 8 if major > 3 or minor >= 8 else 7 if minor >= 7 else 3
    if not await _offer_security(session, minor):
        return
    challenge = session.persona.derive(f"vnc-challenge/{session.id}", 16)
    await session.send(challenge)
    response = await session.read_exactly(16)
    session.event("login", challenge=challenge.hex(), response=response.hex(),
                  hash=f"$vnc$*{challenge.hex().upper()}*{response.hex().upper()}",
                  mech="vnc-auth", success=False)
    result = struct.pack(">I", 1)
    if minor >= 8:
        result += struct.pack(">I", len(_REASON)) + _REASON
    await session.send(result)
