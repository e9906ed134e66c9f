"""smtp: Postfix smtpd as Debian ships it (ports 25 and 587), STARTTLS with the persona's cert;
Microsoft Exchange's look instead when the persona's `versions.smtp` is `Microsoft ESMTP MAIL
Service` (Windows personas; replies in _smtp_dialect.py).

Postfix: `220 <fqdn> ESMTP Postfix (Debian/GNU)` (the persona's `versions.smtp`); EHLO lists
PIPELINING, SIZE 10240000, VRFY, ETRN, STARTTLS (until TLS is on), AUTH PLAIN LOGIN,
ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING. STARTTLS upgrades with Python's ssl
(decnet_emu.tls); plain text pipelined behind it is dropped. AUTH PLAIN/LOGIN (initial
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
`success`=false), `transfer` per message (`direction`=upload, `mail_from`, `rcpt_to`,
`bytes`, `subject`, `message`: its first bytes, `allowed`: false past the size limit),
`data` (plain text dropped after STARTTLS), `error` on a failed TLS handshake (reason
`tls handshake failed`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import re

from decnet_emu.protocols._smtp_dialect import Dialect, dialect_for
from decnet_emu.session import Session
from decnet_emu.tls import server_context

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
        self.version, self.dialect = product(session)

    async def say(self, key: str, **values: object) -> bool:
        """A reply of the dialect (always True: the session goes on)."""
        await self.reply(self.dialect.say(key, fqdn=self.fqdn, client=self.session.src_ip,
                                          **values))
        return True

    async def fail(self, key: str, **values: object) -> bool:
        """An error reply of the dialect; False once the hard error limit is reached."""
        return await self.error(self.dialect.say(key, fqdn=self.fqdn, **values))

    async def reply(self, text: str) -> None:
        await self.session.send(text.replace("\n", "\r\n") + "\r\n")

    async def error(self, text: str) -> bool:
        """Send an error reply; False once the hard error limit is reached."""
        self.errors += 1
        if self.errors >= HARD_ERRORS:
            await self.say("too_many_errors")
            return False
        await self.reply(text)
        return True

    def banner(self) -> str:
        text = self.session.config.get("banner")
        if isinstance(text, str) and text.strip():
            text = text.strip()
            return text if text.startswith("220") else f"220 {text}"
        return self.dialect.say("banner", fqdn=self.fqdn, version=self.version,
                                date=email.utils.formatdate(localtime=False))

    def ehlo_lines(self) -> str:
        first = self.dialect.say("ehlo_first", fqdn=self.fqdn, client=self.session.src_ip)
        lines = [first, *self.dialect.ehlo_keywords(self.tls)]
        return "\n".join(f"250{' ' if i == len(lines) - 1 else '-'}{line}"
                         for i, line in enumerate(lines))

    def queue_id(self) -> str:
        self.sequence += 1
        seed = self.session.persona.derive(f"smtp-queue/{self.session.id}/{self.sequence}", 32)
        if self.dialect.name == "exchange":
            return seed[:16].hex()
        return "".join(_QUEUE_CHARS[b % 16] for b in seed[:11])

    def local(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower().strip("[]") if "@" in address else ""
        return not domain or domain in self.domains

    # -- commands -------------------------------------------------------------------------
    async def starttls(self, arg: str) -> bool:
        if self.tls:
            return await self.fail("tls_active")
        if arg:
            return await self.fail("tls_syntax")
        # Plain text pipelined after STARTTLS is dropped, as Postfix does (CVE-2011-0411):
        # it must not be read as if it had come inside TLS.
        pending = getattr(self.session.reader, "_buffer", None)
        if isinstance(pending, bytearray) and pending:
            self.session.event("data", bytes=len(pending), data=bytes(pending[:256]),
                               note="plain text after STARTTLS, dropped")
            pending.clear()
        await self.say("tls_ready")
        session = self.session
        if not await session.try_start_tls(server_context(session.persona, session.config)):
            return False
        self.tls, self.helo, self.mail = True, None, None
        return True

    async def auth(self, arg: str) -> bool:
        if self.helo is None:
            return await self.fail("need_helo")
        if self.mail is not None:
            return await self.fail("auth_in_mail")
        mech, _, initial = arg.strip().partition(" ")
        mech = mech.upper()
        if mech not in self.dialect.mechanisms:
            self.session.event("command", command="AUTH", arg=arg)
            return await self.fail("auth_bad_mech")
        try:
            if mech == "PLAIN":
                raw = initial or await self.prompt("")
                if raw is None:
                    return False
                parts = _b64(raw).split(b"\0")
                if len(parts) != 3:
                    return await self.fail("auth_failed")
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
            return await self.fail("auth_aborted")
        except (binascii.Error, ValueError):
            return await self.fail("auth_decode")
        self.session.event("login", username=user, password=password, mech=mech,
                           authzid=authzid or None, success=False)
        await asyncio.sleep(_fail_delay(self.session))
        return await self.fail("auth_failed")

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
            return await self.fail("nested_mail")
        match = _ADDRESS.match(arg[5:]) if arg[:5].upper() == "FROM:" else None
        if match is None:
            return await self.fail("mail_syntax")
        size = re.search(r"\bSIZE=(\d+)", match.group(2), re.IGNORECASE)
        if size and int(size.group(1)) > self.dialect.size_limit:
            return await self.fail("size_exceeded")
        self.mail = Transaction(match.group(1))
        return await self.say("mail_ok")

    async def rcpt_to(self, arg: str) -> bool:
        if self.mail is None:
            return await self.fail("need_mail")
        match = _ADDRESS.match(arg[3:]) if arg[:3].upper() == "TO:" else None
        if match is None or not match.group(1):
            return await self.fail("rcpt_syntax")
        rcpt = match.group(1)
        accepted = self.local(rcpt) and len(self.mail.rcpts) < MAX_RCPT
        self.session.event("command", command="RCPT", arg=arg, accepted=accepted)
        if not accepted:
            if len(self.mail.rcpts) >= MAX_RCPT:
                return await self.fail("too_many_rcpt")
            return await self.fail("relay_denied", rcpt=rcpt)
        self.mail.rcpts.append(rcpt)
        return await self.say("rcpt_ok")

    async def data(self, arg: str) -> bool:
        if arg:
            return await self.fail("data_syntax")
        if self.mail is None:
            return await self.fail("need_mail")
        if not self.mail.rcpts:
            return await self.fail("no_rcpt")
        await self.say("data_go")
        while True:
            line = await _data_line(self.session)
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
            return await self.fail("bdat_syntax")
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
            return await self.fail("need_mail")
        if not self.mail.rcpts:
            return await self.fail("no_rcpt")
        if not last:
            return await self.say("bdat_ok", count=count)
        return await self.finish()

    async def finish(self) -> bool:
        mail, self.mail = self.mail, None
        assert mail is not None
        taken = mail.size <= self.dialect.size_limit
        subject = re.search(rb"^Subject:[ \t]*(.*?)\r?$", bytes(mail.head),
                            re.IGNORECASE | re.MULTILINE)
        self.session.event("transfer", direction="upload", mail_from=mail.sender,
                           rcpt_to=",".join(mail.rcpts), bytes=mail.size,
                           subject=subject.group(1) if subject else None,
                           message=bytes(mail.head[:256]), allowed=taken)
        if not taken:
            return await self.fail("too_big")
        internal = int.from_bytes(self.session.persona.derive(f"smtp-iid/{self.session.id}", 5),
                                  "big")
        return await self.say("queued", qid=self.queue_id(), internal=internal)

    async def dispatch(self, verb: str, arg: str) -> bool:
        """One command line; False when the connection ends."""
        if verb in ("EHLO", "HELO"):
            self.session.event("command", command=verb, arg=arg)
            if not arg.strip():
                return await self.fail("helo_syntax", verb=verb)
            self.helo, self.mail = arg.strip(), None
            if verb == "HELO":
                return await self.say("helo")
            await self.reply(self.ehlo_lines())
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
            return await self.say("rset" if verb == "RSET" else "noop")
        if verb == "QUIT":
            await self.say("bye")
            return False
        self.session.event("command", command=verb, arg=arg)
        if verb in FORBIDDEN:
            if not self.dialect.forbidden_closes:
                return await self.fail("forbidden", verb=verb)
            await self.say("forbidden", verb=verb)
            return False
        if verb == "VRFY":
            if not arg.strip():
                return await self.fail("vrfy_syntax")
            return await self.say("vrfy", arg=arg.strip())
        if verb == "ETRN":
            if self.helo is None:
                return await self.fail("need_helo")
            return await self.fail("etrn", arg=arg.strip())
        if not verb:
            return await self.fail("bad_syntax")
        return await self.fail("unknown", verb=verb[:32])


def product(session: Session) -> tuple[str, Dialect]:
    """(version, dialect) from the persona's `versions.smtp` (default Postfix (Debian/GNU))."""
    version = session.persona.version("smtp")
    dialect = dialect_for(version, session.persona.is_windows)
    if not version:
        version = "Microsoft ESMTP MAIL Service" if dialect.name == "exchange" else \
            "Postfix (Debian/GNU)"
    return version, dialect


class _Aborted(Exception):
    """`*` in answer to a 334 challenge."""


async def _data_line(session: Session) -> bytes:
    """One line of a message, read in bulk (a message may be megabytes; the stream's
    buffer limit bounds a line); b"" at end of stream."""
    try:
        return await asyncio.wait_for(session.reader.readuntil(b"\n"), session.idle_timeout)
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    except asyncio.LimitOverrunError as exc:
        return await asyncio.wait_for(session.reader.read(max(exc.consumed, 1)),
                                      session.idle_timeout)


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
