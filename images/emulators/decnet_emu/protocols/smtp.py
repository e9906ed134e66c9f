"""smtp: Postfix smtpd as Debian ships it (ports 25 and 587), STARTTLS with the persona's cert.

`220 <fqdn> ESMTP Postfix (Debian/GNU)`; EHLO lists PIPELINING, SIZE 10240000, VRFY, ETRN,
STARTTLS (until TLS is on), AUTH PLAIN LOGIN, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8,
CHUNKING. STARTTLS upgrades with Python's ssl (decnet_emu.tls). AUTH PLAIN/LOGIN (initial
response or 334 prompts) always fails with `535 5.7.8 Error: authentication failed:
authentication failure`. Mail for the persona's own names (hostname, FQDN, domain,
localhost, plus `domains`) is accepted (`250 2.0.0 Ok: queued as <id>`), other recipients
get `454 4.7.1 <rcpt>: Relay access denied`. DATA and BDAT (CHUNKING) read the message up to
the SIZE limit (larger: `552 5.3.4`); only its head is kept for the event. CONNECT/GET/POST
are answered like Postfix (`221 2.7.0 Error: I can break rules, too. Goodbye.`), 20 errors
close the session (`421 4.7.0`).

Config (service_config.smtp): `hostname` (instead of the persona's FQDN), `banner` (the
greeting; `220 ` added when missing), `domains` (list of extra local mail domains),
`fail_delay` (seconds after a failed AUTH, default 1), `tls_cert`/`tls_key` (PEM).

Events: `command` (`command`, `arg`, and `accepted` for RCPT) for EHLO/HELO/MAIL/RCPT/VRFY/
ETRN/STARTTLS/unknown commands, `login` (`username`, `password`, `mech`, `authzid`,
`success`=false), `transfer` (`direction`=upload, `mail_from`, `rcpt_to`, `bytes`,
`subject`, `message`: the first bytes) for every message taken, `error` on a failed TLS
handshake.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import ssl

from decnet_emu.session import Session
from decnet_emu.tls import server_context

SIZE_LIMIT = 10240000
KEEP = 4096  # bytes of a message kept for its event
HARD_ERRORS = 20
MAX_RCPT = 1000
FORBIDDEN = {"CONNECT", "GET", "POST"}
_ADDRESS = re.compile(r"^\s*<([^<>]*)>(.*)$")
_QUEUE_CHARS = "0123456789ABCDEF"


class Transaction:
    """One mail transaction (MAIL .. end of DATA)."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.rcpts: list[str] = []
        self.head = bytearray()
        self.size = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if len(self.head) < KEEP:
            self.head += data[: KEEP - len(self.head)]


class Smtp:
    """One SMTP connection."""

    def __init__(self, session: Session) -> None:
        self.session = session
        config = session.config
        host = config.get("hostname")
        self.fqdn = host if isinstance(host, str) and host else session.persona.fqdn
        persona = session.persona
        extra = config.get("domains")
        self.domains = {d.lower() for d in (self.fqdn, persona.hostname, persona.fqdn,
                                            persona.domain, "localhost", "localhost.localdomain")
                        if d}
        if isinstance(extra, list):
            self.domains |= {str(d).lower() for d in extra}
        self.helo: str | None = None
        self.tls = False
        self.mail: Transaction | None = None
        self.errors = 0
        self.sequence = 0

    async def reply(self, text: str) -> None:
        await self.session.send(text.replace("\n", "\r\n") + "\r\n")

    async def error(self, text: str) -> bool:
        """Send an error reply; False once the hard error limit is reached."""
        self.errors += 1
        if self.errors >= HARD_ERRORS:
            await self.reply(f"421 4.7.0 {self.fqdn} Error: too many errors")
            return False
        await self.reply(text)
        return True

    def banner(self) -> str:
        text = self.session.config.get("banner")
        if isinstance(text, str) and text.strip():
            text = text.strip()
            return text if text.startswith("220") else f"220 {text}"
        return f"220 {self.fqdn} ESMTP Postfix (Debian/GNU)"

    def ehlo_lines(self) -> str:
        words = ["PIPELINING", f"SIZE {SIZE_LIMIT}", "VRFY", "ETRN"]
        if not self.tls:
            words.append("STARTTLS")
        words += ["AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8",
                  "CHUNKING"]
        lines = [self.fqdn, *words]
        return "\n".join(f"250{' ' if i == len(lines) - 1 else '-'}{line}"
                         for i, line in enumerate(lines))

    def queue_id(self) -> str:
        self.sequence += 1
        seed = self.session.persona.derive(f"smtp-queue/{self.session.id}/{self.sequence}", 11)
        return "".join(_QUEUE_CHARS[b % 16] for b in seed)

    def local(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower().strip("[]") if "@" in address else ""
        return not domain or domain in self.domains

    # -- commands -------------------------------------------------------------------------
    async def starttls(self, arg: str) -> bool:
        if self.tls:
            return await self.error("554 5.5.1 Error: TLS already active")
        if arg:
            return await self.error("501 5.5.4 Syntax: STARTTLS")
        await self.reply("220 2.0.0 Ready to start TLS")
        try:
            await self.session.start_tls(server_context(self.session.persona,
                                                        self.session.config))
        except (ssl.SSLError, ConnectionError, OSError) as exc:
            self.session.event("error", error=f"TLS handshake: {exc}"[:200])
            return False
        self.tls, self.helo, self.mail = True, None, None
        return True

    async def auth(self, arg: str) -> bool:
        if self.helo is None:
            return await self.error("503 5.5.1 Error: send HELO/EHLO first")
        if self.mail is not None:
            return await self.error("503 5.5.1 Error: MAIL transaction in progress")
        mech, _, initial = arg.strip().partition(" ")
        mech = mech.upper()
        if mech not in ("PLAIN", "LOGIN"):
            self.session.event("command", command="AUTH", arg=arg)
            return await self.error(
                "535 5.7.8 Error: authentication failed: Invalid authentication mechanism")
        try:
            if mech == "PLAIN":
                raw = initial or await self.prompt("")
                if raw is None:
                    return False
                parts = _b64(raw).split(b"\0")
                if len(parts) != 3:
                    return await self.error("535 5.7.8 Error: authentication failed: "
                                            "authentication failure")
                authzid, user, password = parts
            else:
                raw_user = initial or await self.prompt("VXNlcm5hbWU6")
                if raw_user is None:
                    return False
                user = _b64(raw_user)
                raw_password = await self.prompt("UGFzc3dvcmQ6")
                if raw_password is None:
                    return False
                authzid, password = b"", _b64(raw_password)
        except _Aborted:
            return await self.error("501 5.7.0 Authentication aborted")
        except (binascii.Error, ValueError):
            return await self.error("501 5.5.2 Cannot decode response")
        self.session.event("login", username=user, password=password, mech=mech,
                           authzid=authzid or None, success=False)
        await asyncio.sleep(_fail_delay(self.session))
        return await self.error("535 5.7.8 Error: authentication failed: authentication failure")

    async def prompt(self, challenge: str) -> str | None:
        await self.reply(f"334 {challenge}")
        raw = await self.session.read_line(16384)
        if not raw:
            return None
        text = raw.decode("latin-1").strip()
        if text == "*":
            raise _Aborted
        return text

    async def mail_from(self, arg: str) -> bool:
        if self.mail is not None:
            return await self.error("503 5.5.1 Error: nested MAIL command")
        match = _ADDRESS.match(arg[5:]) if arg[:5].upper() == "FROM:" else None
        if match is None:
            return await self.error("501 5.5.4 Syntax: MAIL FROM:<address>")
        size = re.search(r"\bSIZE=(\d+)", match.group(2), re.IGNORECASE)
        if size and int(size.group(1)) > SIZE_LIMIT:
            return await self.error("552 5.3.4 Message size exceeds fixed limit")
        self.mail = Transaction(match.group(1))
        await self.reply("250 2.1.0 Ok")
        return True

    async def rcpt_to(self, arg: str) -> bool:
        if self.mail is None:
            return await self.error("503 5.5.1 Error: need MAIL command")
        match = _ADDRESS.match(arg[3:]) if arg[:3].upper() == "TO:" else None
        if match is None or not match.group(1):
            return await self.error("501 5.5.4 Syntax: RCPT TO:<address>")
        rcpt = match.group(1)
        accepted = self.local(rcpt) and len(self.mail.rcpts) < MAX_RCPT
        self.session.event("command", command="RCPT", arg=arg, accepted=accepted)
        if not accepted:
            if len(self.mail.rcpts) >= MAX_RCPT:
                return await self.error("452 4.5.3 Error: too many recipients")
            return await self.error(f"454 4.7.1 <{rcpt}>: Relay access denied")
        self.mail.rcpts.append(rcpt)
        await self.reply("250 2.1.5 Ok")
        return True

    async def data(self, arg: str) -> bool:
        if arg:
            return await self.error("501 5.5.4 Syntax: DATA")
        if self.mail is None:
            return await self.error("503 5.5.1 Error: need MAIL command")
        if not self.mail.rcpts:
            return await self.error("554 5.5.1 Error: no valid recipients")
        await self.reply("354 End data with <CR><LF>.<CR><LF>")
        while True:
            line = await self.session.read_line(8192)
            if not line:
                return False
            if line in (b".\r\n", b".\n"):
                break
            self.mail.add(line[1:] if line.startswith(b".") else line)
        return await self.finish()

    async def bdat(self, arg: str) -> bool:
        words = arg.split()
        if not words or not words[0].isdigit() or len(words) > 2 or \
                (len(words) == 2 and words[1].upper() != "LAST"):
            return await self.error("501 5.5.4 Syntax: BDAT count [LAST]")
        count, last = int(words[0]), len(words) == 2
        left = count
        while left:  # the chunk is read even when it is refused: the stream stays in step
            chunk = await self.session.read(min(left, 65536))
            if not chunk:
                return False
            left -= len(chunk)
            if self.mail is not None and self.mail.rcpts:
                self.mail.add(chunk)
        if self.mail is None:
            return await self.error("503 5.5.1 Error: need MAIL command")
        if not self.mail.rcpts:
            return await self.error("554 5.5.1 Error: no valid recipients")
        if not last:
            await self.reply(f"250 2.0.0 Ok: {count} bytes")
            return True
        return await self.finish()

    async def finish(self) -> bool:
        mail, self.mail = self.mail, None
        assert mail is not None
        if mail.size > SIZE_LIMIT:
            return await self.error("552 5.3.4 Error: message file too big")
        subject = re.search(rb"^Subject:[ \t]*(.*?)\r?$", bytes(mail.head),
                            re.IGNORECASE | re.MULTILINE)
        self.session.event("transfer", direction="upload", mail_from=mail.sender,
                           rcpt_to=",".join(mail.rcpts), bytes=mail.size,
                           subject=subject.group(1) if subject else None,
                           message=bytes(mail.head[:256]))
        await self.reply(f"250 2.0.0 Ok: queued as {self.queue_id()}")
        return True

    async def dispatch(self, verb: str, arg: str) -> bool:
        """One command line; False when the connection ends."""
        if verb in ("EHLO", "HELO"):
            self.session.event("command", command=verb, arg=arg)
            if not arg.strip():
                return await self.error(f"501 Syntax: {verb} hostname")
            self.helo, self.mail = arg.strip(), None
            await self.reply(self.ehlo_lines() if verb == "EHLO" else f"250 {self.fqdn}")
            return True
        if verb == "STARTTLS":
            self.session.event("command", command=verb, arg=arg)
            return await self.starttls(arg)
        if verb == "AUTH":
            return await self.auth(arg)
        if verb == "MAIL":
            self.session.event("command", command=verb, arg=arg)
            return await self.mail_from(arg)
        if verb == "RCPT":
            return await self.rcpt_to(arg)
        if verb == "DATA":
            return await self.data(arg)
        if verb == "BDAT":
            return await self.bdat(arg)
        if verb in ("RSET", "NOOP"):
            if verb == "RSET":
                self.mail = None
            await self.reply("250 2.0.0 Ok")
            return True
        if verb == "QUIT":
            await self.reply("221 2.0.0 Bye")
            return False
        self.session.event("command", command=verb, arg=arg)
        if verb in FORBIDDEN:
            await self.reply("221 2.7.0 Error: I can break rules, too. Goodbye.")
            return False
        if verb == "VRFY":
            if not arg.strip():
                return await self.error("501 5.5.4 Syntax: VRFY address")
            await self.reply(f"252 2.0.0 {arg.strip()}")
            return True
        if verb == "ETRN":
            if self.helo is None:
                return await self.error("503 5.5.1 Error: send HELO/EHLO first")
            return await self.error(f"554 5.7.1 <{arg.strip()}>: Relay access denied")
        if not verb:
            return await self.error("500 5.5.2 Error: bad syntax")
        return await self.error("502 5.5.2 Error: command not recognized")


class _Aborted(Exception):
    """`*` in answer to a 334 challenge."""


def _b64(text: str) -> bytes:
    return base64.b64decode(text.encode("latin-1"), validate=True)


def _fail_delay(session: Session) -> float:
    try:
        return max(0.0, min(float(session.config.get("fail_delay", 1)), 30.0))
    except (TypeError, ValueError):
        return 1.0


async def handle(session: Session) -> None:
    smtp = Smtp(session)
    await smtp.reply(smtp.banner())
    while True:
        raw = await session.read_line(4096)
        if not raw:
            return
        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        verb, _, arg = line.strip().partition(" ")
        if not await smtp.dispatch(verb.upper(), arg):
            return
