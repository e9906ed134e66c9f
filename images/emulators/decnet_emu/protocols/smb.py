"""smb: SMB2/3 (and SMB1 for old probes) up to NTLMSSP authentication, as Samba 4.17 on
Debian (linux personas) or Windows Server (windows personas).

* NetBIOS session service framing on 139 and 445; a session request (139) is answered
  positively and recorded (`request` with the called and calling names).
* SMB1 NEGOTIATE: offering "SMB 2.???" / "SMB 2.002" gets the SMB2 upgrade (dialect 0x02FF /
  0x0202); an SMB1-only client (nmap, old tools) gets an NT LM 0.12 answer carrying the
  workgroup and server name, and its SESSION_SETUP_ANDX (LM/NTLM responses or NTLMSSP) is
  recorded like the SMB2 one.
* SMB2 NEGOTIATE: the best dialect up to 3.1.1 (with pre-auth integrity, encryption and
  signing contexts), a SPNEGO hint offering NTLMSSP.
* SESSION_SETUP: NTLMSSP CHALLENGE (challenge per session, target info with the persona's
  NetBIOS/DNS names, the Windows version or Samba's 6.1.0), then the AUTHENTICATE is recorded
  as `login` (`username`, `domain`, `workstation`, `challenge`, `hash` = hashcat NetNTLMv2
  split in 256-byte parts `hash`, `hash_2` ...) and answered STATUS_LOGON_FAILURE
  (STATUS_ACCESS_DENIED for an anonymous logon).

Config: `workgroup` (NetBIOS domain), `server_string` (the Samba version, e.g.
"Samba 4.17.12-Debian", given as NativeLanMan to SMB1 clients).
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

from decnet_emu.protocols import _win_ntlm as ntlm
from decnet_emu.session import Session

MAX_FRAME = 128 * 1024
MAX_MESSAGES = 64

STATUS_SUCCESS = 0
STATUS_MORE_PROCESSING = 0xC0000016
STATUS_LOGON_FAILURE = 0xC000006D
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_NOT_SUPPORTED = 0xC00000BB
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_USER_SESSION_DELETED = 0xC0000203

DIALECTS = (0x0311, 0x0302, 0x0300, 0x0210, 0x0202)
SMB2_COMMANDS = ("NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT",
                 "CREATE", "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL", "ECHO",
                 "QUERY_DIRECTORY", "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO", "OPLOCK_BREAK")


def _context(kind: int, data: bytes) -> bytes:
    return struct.pack("<HHI", kind, len(data), 0) + data


def _nb_name(raw: bytes) -> str:
    """A first-level encoded NetBIOS name (RFC 1001) in clear."""
    if len(raw) < 33 or raw[0] != 32:
        return ""
    encoded = raw[1:33]
    name = bytes(((encoded[i] - 65) << 4) | (encoded[i + 1] - 65) & 0x0F
                 for i in range(0, 32, 2))
    return name[:15].decode("latin-1", "replace").rstrip()


class Smb:
    """One SMB connection."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.persona = session.persona
        self.windows = session.persona.is_windows
        self.names = ntlm.names(session.persona, session.config)
        self.exchange = ntlm.Exchange(session.persona, session.config, session.id)
        self.session_id = int.from_bytes(session.persona.derive(
            f"smb-session/{session.id}", 8), "little") & 0x0000FFFFFFFFFFFF | 1
        self.workgroup = self.names.nb_domain if self.windows else \
            str(session.config.get("workgroup") or "WORKGROUP").upper()[:15]

    async def send(self, payload: bytes) -> None:
        await self.session.send(struct.pack(">I", len(payload)) + payload)

    # -- SMB2 ---------------------------------------------------------------------------
    def header2(self, req: bytes, status: int, session_id: int = 0, credits: int = 1) -> bytes:
        command, credit_request = struct.unpack_from("<HH", req, 12)
        charge = struct.unpack_from("<H", req, 6)[0]
        granted = max(1, min(credit_request, 256)) if credits else 0
        return struct.pack("<4sHHIHHII8sIIQ16s", b"\xfeSMB", 64, charge,
                           status, command, granted, 1, 0, req[24:32],
                           struct.unpack_from("<I", req, 32)[0], 0, session_id, b"\0" * 16)

    async def error2(self, req: bytes, status: int, session_id: int = 0) -> None:
        await self.send(self.header2(req, status, session_id) + struct.pack("<HBBI", 9, 0, 0, 0)
                        + b"\0")

    async def smb2(self, req: bytes) -> bool:
        if len(req) < 64:
            raise ValueError("short SMB2 header")
        command = struct.unpack_from("<H", req, 12)[0]
        if command == 0:
            await self.negotiate2(req)
        elif command == 1:
            return await self.session_setup2(req)
        elif command == 0x0D:  # ECHO
            await self.send(self.header2(req, STATUS_SUCCESS) + struct.pack("<HH", 4, 0))
        elif command == 2:  # LOGOFF
            await self.error2(req, STATUS_USER_SESSION_DELETED)
        else:
            name = SMB2_COMMANDS[command] if command < len(SMB2_COMMANDS) else str(command)
            self.session.event("command", command=f"SMB2 {name}")
            await self.error2(req, STATUS_USER_SESSION_DELETED)
        return True

    def negotiate_contexts(self, req: bytes) -> list[tuple[int, bytes]]:
        offset, count = struct.unpack_from("<IH", req, 64 + 28)
        contexts = []
        for _ in range(min(count, 16)):
            if offset + 8 > len(req):
                break
            kind, size = struct.unpack_from("<HH", req, offset)
            contexts.append((kind, req[offset + 8:offset + 8 + size]))
            offset += 8 + size
            offset += -offset % 8
        return contexts

    def answer_contexts(self, req: bytes) -> list[bytes]:
        """Pre-auth integrity (SHA-512 + salt), and the cipher / signing algorithm chosen
        from the client's lists when it sent them."""
        salt = self.persona.derive(f"smb-salt/{self.session.id}/{time.time_ns()}", 32)
        out = [_context(1, struct.pack("<HHH", 1, 32, 1) + salt)]
        for kind, data in self.negotiate_contexts(req):
            if kind not in (2, 8) or len(data) < 2:
                continue
            count = min(struct.unpack_from("<H", data)[0], 16)
            if len(data) < 2 + 2 * count:
                continue
            offered = struct.unpack_from(f"<{count}H", data, 2)
            prefs = (2, 1, 4, 3) if kind == 2 else (1, 2, 0)
            chosen = next((p for p in prefs if p in offered), 0)
            out.append(_context(kind, struct.pack("<HH", 1, chosen)))
        return out

    async def negotiate2(self, req: bytes) -> None:
        body = req[64:]
        if len(body) < 36:
            raise ValueError("short NEGOTIATE")
        count = min(struct.unpack_from("<H", body, 2)[0], 32)
        offered = set(struct.unpack_from(f"<{count}H", body, 36)) if len(body) >= 36 + 2 * count \
            else set()
        self.session.event("request", method="NEGOTIATE",
                           dialects=",".join(f"{d:#06x}" for d in sorted(offered)))
        dialect = next((d for d in DIALECTS if d in offered), 0)
        if not dialect:
            await self.error2(req, STATUS_NOT_SUPPORTED)
            return
        await self.send(self.negotiate_response(req, dialect))

    def negotiate_response(self, req: bytes, dialect: int) -> bytes:
        """SMB2 NEGOTIATE response (req may be an SMB1 request for the 0x02FF upgrade)."""
        mechs = [ntlm.OID_NEGOEX, ntlm.OID_NTLMSSP] if self.windows else [ntlm.OID_NTLMSSP]
        blob = ntlm.neg_token_init(mechs)
        contexts = self.answer_contexts(req) if dialect == 0x0311 else []
        caps = (0x2F if self.windows else 0x0F) if dialect >= 0x0300 else 0x07
        if dialect in (0x0300, 0x0302):
            caps |= 0x40
        guid = self.persona.derive("smb-server-guid", 16)
        context_offset = 0
        tail = blob
        if contexts:
            tail += b"\0" * (-(128 + len(blob)) % 8)
            context_offset = 128 + len(tail)
            for i, ctx in enumerate(contexts):
                tail += ctx if i == len(contexts) - 1 else ctx + b"\0" * (-len(ctx) % 8)
        body = struct.pack("<HHHH16sIIIIQQHHI", 65, 1, dialect, len(contexts), guid, caps,
                           8388608, 8388608, 8388608, ntlm.filetime(), 0, 128, len(blob),
                           context_offset)
        if req[:4] == b"\xffSMB":  # the SMB1 -> SMB2 upgrade answer
            head = struct.pack("<4sHHIHHII8sIIQ16s", b"\xfeSMB", 64, 0, 0, 0, 1, 1, 0,
                               b"\0" * 8, 0, 0, 0, b"\0" * 16)
        else:
            head = self.header2(req, STATUS_SUCCESS)
        return head + body + tail

    async def session_setup2(self, req: bytes) -> bool:
        if len(req) < 64 + 24:
            raise ValueError("short SESSION_SETUP")
        offset, size = struct.unpack_from("<HH", req, 64 + 12)
        blob = req[offset:offset + size]
        status, out = self.authenticate(blob)
        if out is not None:
            await self.send(self.header2(req, status, self.session_id) +
                            struct.pack("<HHHH", 9, 0, 72, len(out)) + out)
            return True
        await self.error2(req, status, self.session_id)
        return status == STATUS_MORE_PROCESSING

    def authenticate(self, blob: bytes) -> tuple[int, bytes | None]:
        """(status, security blob to send or None) for one session setup blob."""
        try:
            out, auth = self.exchange.answer(blob)
        except ValueError:
            self.session.event("login", mech="SPNEGO", success=False,
                               data=blob[:256], note="no NTLMSSP token")
            return STATUS_LOGON_FAILURE, None
        if out is not None:
            return STATUS_MORE_PROCESSING, out
        assert auth is not None
        self.session.event("login", **auth.fields(self.exchange.challenge))
        return (STATUS_ACCESS_DENIED if auth.anonymous else STATUS_LOGON_FAILURE), None

    # -- SMB1 ---------------------------------------------------------------------------
    def header1(self, req: bytes, status: int, flags2: int, uid: int = 0) -> bytes:
        return (b"\xffSMB" + req[4:5] + struct.pack("<IBH", status, 0x88, flags2) +
                req[12:14] + b"\0" * 12 + req[26:28] + struct.pack("<H", uid) + req[30:32])

    async def smb1(self, req: bytes) -> bool:
        if len(req) < 35:
            raise ValueError("short SMB1 header")
        command = req[4]
        if command == 0x72:
            await self.negotiate1(req)
            return True
        if command == 0x73:
            return await self.session_setup1(req)
        self.session.event("command", command=f"SMB1 {command:#04x}")
        flags2 = struct.unpack_from("<H", req, 10)[0] | 0x4000
        await self.send(self.header1(req, STATUS_ACCESS_DENIED, flags2) + b"\0\0\0")
        return False

    async def negotiate1(self, req: bytes) -> None:
        words = req[32] * 2
        raw = req[35 + words:]
        dialects = [d.decode("latin-1", "replace") for d in raw.split(b"\0")
                    if d.startswith(b"\x02")]
        dialects = [d[1:] for d in dialects][:64]
        self.session.event("request", method="SMB1 NEGOTIATE", dialects=",".join(dialects)[:256])
        if "SMB 2.???" in dialects or "SMB 2.002" in dialects:
            await self.send(self.negotiate_response(
                req, 0x02FF if "SMB 2.???" in dialects else 0x0202))
            return
        client_flags2 = struct.unpack_from("<H", req, 10)[0]
        flags2 = 0x4001 | (client_flags2 & 0x8000)
        pick = [d for d in (("NT LM 0.12",) if self.windows else
                            ("NT LANMAN 1.0", "NT LM 0.12")) if d in dialects]
        if not pick:
            await self.send(self.header1(req, 0, flags2) + b"\x01\xff\xff\0\0")
            return
        caps = 0x0001F3FC if self.windows else 0x0000E3FD
        max_buffer = 16644 if self.windows else 65535
        words_out = struct.pack("<HBHHIIII", dialects.index(pick[0]), 0x03, 50, 1, max_buffer,
                                65536, 0, caps)
        words_out += struct.pack("<QhB", ntlm.filetime(), 0, 8)
        data = (self.exchange.challenge + (self.workgroup.encode("utf-16-le") + b"\0\0")
                + self.names.nb_computer.encode("utf-16-le") + b"\0\0")
        await self.send(self.header1(req, 0, flags2) + bytes([17]) + words_out +
                        struct.pack("<H", len(data)) + data)

    async def session_setup1(self, req: bytes) -> bool:
        count = req[32]
        words = req[33:33 + count * 2]
        byte_count_at = 33 + count * 2
        data = req[byte_count_at + 2:]
        flags2 = struct.unpack_from("<H", req, 10)[0]
        out_flags2 = 0x4001 | (flags2 & 0x8800)
        if count == 12:  # extended security: NTLMSSP in a security blob
            size = struct.unpack_from("<H", words, 14)[0]
            status, blob = self.authenticate(data[:size])
            if blob is not None:
                native = self.native_strings()
                body = struct.pack("<BBHHH", 0xFF, 0, 0, 0, len(blob))
                payload = blob + (b"\0" if (byte_count_at + 2 + len(blob)) % 2 else b"") + native
                await self.send(self.header1(req, status, out_flags2, 0x0800) + b"\x04" + body
                                + struct.pack("<H", len(payload)) + payload)
                return True
        elif count == 13:
            status = self.legacy_login(words, data, bool(flags2 & 0x8000), byte_count_at + 2)
        else:
            raise ValueError("unexpected SESSION_SETUP_ANDX")
        await self.send(self.header1(req, status, out_flags2) + b"\0\0\0")
        return False

    def legacy_login(self, words: bytes, data: bytes, unicode: bool, data_at: int) -> int:
        """SMB1 NT LM 0.12 without extended security: LM/NT responses in clear fields."""
        lm_len, nt_len = struct.unpack_from("<HH", words, 14)
        lm, nt = data[:lm_len], data[lm_len:lm_len + nt_len]
        rest = data[lm_len + nt_len:]
        if unicode:
            if (data_at + lm_len + nt_len) % 2:
                rest = rest[1:]
            parts = rest.decode("utf-16-le", "replace").split("\0")
        else:
            parts = rest.decode("latin-1", "replace").split("\0")
        parts += ["", "", "", ""]
        auth = ntlm.Authenticate(parts[0], parts[1], "", lm, nt, 0)
        fields: dict[str, Any] = auth.fields(self.exchange.challenge)
        fields.update(mech="SMB1", native_os=parts[2])
        if lm_len and lm_len != 24 and not nt_len:  # a clear-text password
            fields["password"] = lm.rstrip(b"\0")
        self.session.event("login", **fields)
        return STATUS_ACCESS_DENIED if auth.anonymous else STATUS_LOGON_FAILURE

    def native_strings(self) -> bytes:
        if self.windows:
            major, minor, build = self.names.version
            os_name = f"{self.persona.os_name} {build}"
            lanman = f"{self.persona.os_name} {major}.{minor}"
        else:
            os_name = "Windows 6.1"
            lanman = str(self.session.config.get("server_string") or "Samba 4.17.12-Debian")
        return (os_name.encode("utf-16-le") + b"\0\0" + lanman.encode("utf-16-le") + b"\0\0"
                + self.workgroup.encode("utf-16-le") + b"\0\0")


async def read_frame(session: Session) -> tuple[int, bytes] | None:
    """One NetBIOS session message (type, payload); None at the end of the stream."""
    try:
        head = await session.read_exactly(4)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ValueError("truncated NetBIOS header") from exc
        return None
    if head[0] not in (0x00, 0x81, 0x85):
        raise ValueError(f"not a NetBIOS session message: {head!r}")
    size = int.from_bytes(head[1:], "big") & (0xFFFFFF if head[0] == 0 else 0x1FFFF)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes")
    return head[0], await session.read_exactly(size)


async def handle(session: Session) -> None:
    smb = Smb(session)
    for _ in range(MAX_MESSAGES):
        try:
            frame = await read_frame(session)
            if frame is None:
                return
            kind, payload = frame
            if kind == 0x81:  # session request (port 139)
                session.event("request", method="netbios-session",
                              called=_nb_name(payload), calling=_nb_name(payload[34:]))
                await session.send(b"\x82\0\0\0")
                continue
            if kind == 0x85:
                continue
            if payload[:4] == b"\xfeSMB":
                keep = await smb.smb2(payload)
            elif payload[:4] == b"\xffSMB":
                keep = await smb.smb1(payload)
            else:
                raise ValueError("not SMB")
            if not keep:
                return
        except (ValueError, struct.error, IndexError) as exc:
            session.event("data", error=str(exc)[:200])
            return
