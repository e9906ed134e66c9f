"""sip: a SIP registrar and PBX over UDP and TCP, answering like Asterisk 20 (chan_pjsip).

* OPTIONS: 200 OK with Accept, Allow, Supported and `Server: Asterisk PBX <version>`
  (the persona's `versions.sip`, config `user_agent` overrides; Asterisk's own string).
* REGISTER, INVITE and the other dialog methods: 401 Unauthorized with a Digest challenge
  (realm: config `realm`, else the persona's domain; nonce `<time>/<md5>` derived per
  request, opaque, algorithm MD5, qop auth). A request carrying Authorization is recorded
  with everything needed to crack it offline and answered with a fresh 401, as pjsip does
  when the password is wrong. ACK gets no answer; BYE/CANCEL 481; unknown methods 501.
* Via gets `received`/`rport` like a real proxy; To gets a tag.

Events: `request` (method, uri, from, to, call_id, user_agent, contact) for every request
but ACK; `login` (username, realm, nonce, uri, response, algorithm, qop, nc, cnonce, method,
hash = hashcat/john `$sip$` line, success=false) for every Authorization; `data` for what is
not SIP.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

from decnet_emu.persona import Persona
from decnet_emu.session import Datagram, Session

DEFAULT_VERSION = "Asterisk PBX 20.9.3"
MAX_MESSAGE = 64 * 1024
ALLOW = "OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, " \
        "PRACK, MESSAGE, REFER"
ACCEPT = "application/sdp, application/dialog-info+xml, application/simple-message-summary, " \
         "application/xpidf+xml, application/cpim-pidf+xml, application/pidf+xml, " \
         "message/sipfrag;version=2.0"
SUPPORTED = "100rel, timer, replaces, norefersub, histinfo"
CHALLENGED = {"REGISTER", "INVITE", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "REFER",
              "INFO", "UPDATE", "PRACK"}
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported", "s": "subject"}
REASONS = {200: "OK", 401: "Unauthorized", 481: "Call/Transaction Does Not Exist",
           501: "Not Implemented", 400: "Bad Request"}
DIGEST_PARAM = re.compile(r'([A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)')


@dataclass
class Request:
    """A parsed SIP request: method, URI, headers (lower-case names, in order), body."""

    method: str
    uri: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return ""

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


def parse(data: bytes) -> Request | None:
    """The request in `data`, or None when it is not a SIP request."""
    head, _sep, body = data.partition(b"\r\n\r\n")
    if not _sep:
        head, _sep, body = data.partition(b"\n\n")
    lines = head.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("SIP/2.0") or not parts[0].isalpha():
        return None
    request = Request(parts[0].upper(), parts[1], body=body)
    for line in lines[1:200]:
        if line[:1] in (" ", "\t") and request.headers:  # folded header line
            key, value = request.headers[-1]
            request.headers[-1] = (key, value + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if colon:
            key = name.strip().lower()
            request.headers.append((COMPACT.get(key, key), value.strip()))
    return request


def digest_params(header: str) -> dict[str, str]:
    """The parameters of a `Digest ...` Authorization header."""
    scheme, _sp, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {key.lower(): value.strip('"') for key, value in DIGEST_PARAM.findall(rest)}


def crackable(params: dict[str, str], method: str, server: str, client: str) -> str:
    """The `$sip$*...` line hashcat (-m 11400) and john read."""
    uri = params.get("uri", "")
    prefix, _c, rest = uri.partition(":")
    resource, _c, suffix = rest.partition(":")
    fields = [server, client, params.get("username", ""), params.get("realm", ""), method,
              prefix, resource, suffix, params.get("nonce", ""), params.get("cnonce", ""),
              params.get("nc", ""), params.get("qop", ""), params.get("algorithm", "MD5")
              .upper() or "MD5", params.get("response", "")]
    return "$sip$*" + "*".join(f.replace("*", "") for f in fields)


@dataclass
class Pbx:
    """What the PBX says about itself."""

    server: str
    realm: str
    secret: bytes

    def nonce(self, *salt: str) -> str:
        stamp = str(int(time.time()))
        digest = hashlib.md5(b"/".join([self.secret, stamp.encode(),
                                        *(s.encode() for s in salt)])).hexdigest()
        return f"{stamp}/{digest}"


def pbx_for(persona: Persona, config: dict[str, Any]) -> Pbx:
    server = str(config.get("user_agent") or persona.version("sip", DEFAULT_VERSION))
    realm = str(config.get("realm") or persona.domain or "asterisk")
    return Pbx(server, realm, persona.derive("sip-nonce", 16))


def _tag(*salt: str) -> str:
    raw = hashlib.sha256("/".join(salt).encode()).hexdigest()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


def _via(value: str, src_ip: str, src_port: int) -> str:
    """The top Via with `received` and `rport` filled in, as a server answers it."""
    parts = value.split(";")
    out = [parts[0]]
    has_rport = False
    for param in parts[1:]:
        name = param.split("=", 1)[0].strip().lower()
        if name == "rport":
            has_rport = True
            continue
        if name != "received":
            out.append(param)
    extra = [f"rport={src_port}"] if has_rport else []
    return ";".join([out[0], *extra, f"received={src_ip}", *out[1:]])


def respond(pbx: Pbx, request: Request, code: int, src: tuple[str, int],
            extra: list[tuple[str, str]]) -> bytes:
    """A response to `request` carrying its Via, From, To (tagged), Call-ID and CSeq."""
    lines = [f"SIP/2.0 {code} {REASONS.get(code, 'Error')}"]
    for i, via in enumerate(request.all("via")):
        lines.append(f"Via: {_via(via, *src) if i == 0 else via}")
    call_id = request.get("call-id")
    lines.append(f"Call-ID: {call_id}")
    lines.append(f"From: {request.get('from')}")
    to = request.get("to")
    if to and ";tag=" not in to.lower():
        to += f";tag={_tag(pbx.realm, call_id, request.get('cseq'))}"
    lines.append(f"To: {to}")
    lines.append(f"CSeq: {request.get('cseq')}")
    lines += [f"{name}: {value}" for name, value in extra]
    lines.append(f"Server: {pbx.server}")
    lines.append("Content-Length:  0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def handle_request(target: Session | Datagram, pbx: Pbx, request: Request,
                   transport: str) -> bytes | None:
    """Record one request and build its answer (None for ACK)."""
    src = (target.src_ip, target.src_port)
    if request.method == "ACK":
        return None
    target.event("request", method=request.method, uri=request.uri,
                 **{"from": request.get("from")}, to=request.get("to"),
                 call_id=request.get("call-id"), user_agent=request.get("user-agent") or None,
                 contact=request.get("contact") or None, transport=transport)
    if not all(request.get(name) for name in ("via", "from", "to", "call-id", "cseq")):
        return None  # pjsip drops a request without its mandatory headers
    if request.method == "OPTIONS":
        return respond(pbx, request, 200, src, [
            ("Accept", ACCEPT), ("Allow", ALLOW), ("Supported", SUPPORTED),
            ("Accept-Encoding", "text/plain"), ("Accept-Language", "en")])
    if request.method in ("BYE", "CANCEL"):
        return respond(pbx, request, 481, src, [])
    if request.method not in CHALLENGED:
        return respond(pbx, request, 501, src, [("Allow", ALLOW)])
    authorization = request.get("authorization") or request.get("proxy-authorization")
    if authorization:
        params = digest_params(authorization)
        target.event("login", username=params.get("username", ""),
                     realm=params.get("realm"), nonce=params.get("nonce"),
                     uri=params.get("uri"), response=params.get("response"),
                     algorithm=params.get("algorithm", "MD5"), qop=params.get("qop"),
                     nc=params.get("nc"), cnonce=params.get("cnonce"), method=request.method,
                     hash=crackable(params, request.method, pbx.realm, target.src_ip)
                     if params else None, success=False)
    nonce = pbx.nonce(target.src_ip, request.get("call-id"), request.get("cseq"))
    opaque = hashlib.md5(pbx.secret + nonce.encode()).hexdigest()[:16]
    challenge = (f'Digest realm="{pbx.realm}",nonce="{nonce}",opaque="{opaque}",'
                 'algorithm=MD5,qop="auth"')
    return respond(pbx, request, 401, src, [("WWW-Authenticate", challenge)])


def datagram(dgram: Datagram, data: bytes) -> bytes | None:
    """One SIP message over UDP."""
    request = parse(data[:MAX_MESSAGE])
    if request is None:
        if not data.startswith(b"SIP/2.0 "):  # responses to nothing we sent are dropped
            dgram.event("data", bytes=len(data), data=data[:256])
        return None
    return handle_request(dgram, pbx_for(dgram.persona, dgram.config), request, "udp")


async def handle(session: Session) -> None:
    """SIP over TCP: messages framed by Content-Length until the client closes."""
    pbx = pbx_for(session.persona, session.config)
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer.lstrip(b"\r\n"):
            if buffer.startswith(b"\r\n\r\n"):  # RFC 5626 keep-alive ping: pong
                buffer = buffer[4:]
                await session.send(b"\r\n")
                continue
            if len(buffer) > MAX_MESSAGE:
                session.event("data", bytes=len(buffer), data=buffer[:256])
                return
            chunk = await session.read()
            if not chunk:
                return
            buffer += chunk
        buffer = buffer.lstrip(b"\r\n")
        head, _sep, rest = buffer.partition(b"\r\n\r\n")
        match = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        length = min(int(match.group(1)), MAX_MESSAGE) if match else 0
        while len(rest) < length:
            chunk = await asyncio.wait_for(session.reader.read(65536), session.idle_timeout)
            if not chunk:
                return
            rest += chunk
        message, buffer = head + b"\r\n\r\n" + rest[:length], rest[length:]
        request = parse(message)
        if request is None:
            session.event("data", bytes=len(message), data=message[:256])
            return
        reply = handle_request(session, pbx, request, "tcp")
        if reply:
            await session.send(reply)
