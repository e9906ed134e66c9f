"""ftp: vsftpd 3.0.3 as Debian configures it (local logins refused, anonymous per config).

`220 (vsFTPd 3.0.3)`; USER/PASS: `331 Please specify the password.`, then `530 Login
incorrect.` after `fail_delay` seconds (default 1, like vsftpd's delay_failed_login); the
third failure closes the connection. Before login everything but USER, PASS, FEAT, OPTS and
QUIT is `530 Please login with USER and PASS.`. With `anonymous: true` the users `anonymous`
and `ftp` get `230 Login successful.` and a small read-only tree (`/pub`, derived from the
persona) over PASV, EPSV, PORT or EPRT data connections (vsftpd's rules: the data peer must
be the control peer); writes are `550 Permission denied.`. SYST `215 UNIX Type: L8`, FEAT
as vsftpd lists it, PWD/CWD/TYPE/SIZE/MDTM/NOOP/HELP, QUIT `221 Goodbye.`.

Config (service_config.ftp): `banner` (greeting; `220 ` added when missing), `anonymous`
(bool), `fail_delay` (seconds).

Events: `login` (`username`, `password`, `success`) for every PASS, `command` (`command`,
`arg`) for every other command after login, `transfer` (`direction` download|upload, `path`,
`bytes`, `allowed` true|false) for RETR (and refused STOR/APPE/STOU).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from decnet_emu.protocols._ftp_data import DataChannel
from decnet_emu.session import Session

MAX_FAILS = 3
FEATURES = (b"211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n"
            b" TVFS\r\n211 End\r\n")
HELP = (b"214-The following commands are recognized.\r\n ABOR ACCT ALLO APPE CDUP CWD  DELE "
        b"EPRT EPSV FEAT HELP LIST MDTM MKD\r\n MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT "
        b"REIN REST RETR RMD  RNFR\r\n RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER "
        b"XCUP XCWD XMKD\r\n XPWD XRMD\r\n214 Help OK.\r\n")
WRITES = {"STOR", "APPE", "STOU", "MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO", "SITE"}


@dataclass
class Node:
    """One entry of the anonymous tree."""

    content: bytes | None  # None: a directory
    mtime: tuple[int, int, int, int, int]  # year, month, day, hour, minute
    children: dict[str, Node] = field(default_factory=dict)


def build_tree(session: Session) -> Node:
    """The anonymous area: /pub with a README and a couple of files, persona-derived."""
    persona = session.persona
    year = 2023 + persona.number("ftp-year", 2)

    def when(label: str) -> tuple[int, int, int, int, int]:
        return (year, 1 + persona.number(label + "m", 12), 1 + persona.number(label + "d", 28),
                persona.number(label + "h", 24), persona.number(label + "n", 60))

    readme = (f"{persona.fqdn} anonymous FTP\n\nThis area holds public drivers, manuals and "
              f"mirrored updates for {persona.domain}.\nUploads are not accepted here; mail "
              f"it-support@{persona.domain} for write access.\n").encode()
    checksums = b"".join(
        persona.derive(f"ftp-sum{i}", 32).hex().encode() + f"  {name}\n".encode()
        for i, name in enumerate(("agent-setup-2.4.1.tar.gz", "printer-drivers.zip")))
    listing = (b"# mirrored nightly\nagent-setup-2.4.1.tar.gz\nprinter-drivers.zip\n")
    pub = Node(None, when("pub"), {
        "README": Node(readme, when("readme")),
        "SHA256SUMS": Node(checksums, when("sums")),
        "INDEX": Node(listing, when("index")),
        "updates": Node(None, when("updates")),
    })
    return Node(None, when("root"), {"pub": pub})


class Ftp:
    """One control connection."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.user: str | None = None
        self.logged_in = False
        self.fails = 0
        self.cwd = "/"
        self.binary = False
        self.tree = build_tree(session)
        self.data = DataChannel(session)

    async def reply(self, text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else (text + "\r\n").encode()
        await self.session.send(data)

    def resolve(self, arg: str) -> tuple[str, Node | None]:
        path = arg if arg.startswith("/") else f"{self.cwd.rstrip('/')}/{arg}"
        parts: list[str] = []
        for item in path.split("/"):
            if item == "..":
                if parts:
                    parts.pop()
            elif item and item != ".":
                parts.append(item)
        node: Node | None = self.tree
        for item in parts:
            node = node.children.get(item) if node and node.content is None else None
        return "/" + "/".join(parts), node

    # -- login ----------------------------------------------------------------------------
    async def login(self, verb: str, arg: str) -> bool:
        """USER/PASS; False when the connection must close."""
        if verb == "USER":
            if self.logged_in:
                await self.reply("530 Can't change from guest user.")
                return True
            self.user = arg
            await self.reply("331 Please specify the password.")
            return True
        if self.logged_in:
            await self.reply("230 Already logged in.")
            return True
        if self.user is None:
            await self.reply("503 Login with USER first.")
            return True
        user, self.user = self.user, None
        anonymous = bool(self.session.config.get("anonymous")) and \
            user.lower() in ("anonymous", "ftp")
        self.session.event("login", username=user, password=arg, success=anonymous)
        if anonymous:
            self.logged_in = True
            await self.reply("230 Login successful.")
            return True
        await asyncio.sleep(_fail_delay(self.session))
        await self.reply("530 Login incorrect.")
        self.fails += 1
        return self.fails < MAX_FAILS

    # -- after login ----------------------------------------------------------------------
    async def command(self, verb: str, arg: str) -> bool:
        """One command after login; False on QUIT."""
        if verb in ("PWD", "XPWD"):
            await self.reply(f'257 "{self.cwd}" is the current directory')
        elif verb in ("CWD", "XCWD", "CDUP", "XCUP"):
            path, node = self.resolve(".." if verb in ("CDUP", "XCUP") else arg)
            if node is not None and node.content is None:
                self.cwd = path
                await self.reply("250 Directory successfully changed.")
            else:
                await self.reply("550 Failed to change directory.")
        elif verb == "SYST":
            await self.reply("215 UNIX Type: L8")
        elif verb == "TYPE":
            kind = arg.upper()[:1]
            if kind in ("A", "I"):
                self.binary = kind == "I"
                await self.reply(f"200 Switching to {'Binary' if self.binary else 'ASCII'} mode.")
            else:
                await self.reply("500 Unrecognised TYPE command.")
        elif verb in ("PASV", "EPSV", "PORT", "EPRT"):
            await self.reply(await self.data.setup(verb, arg))
        elif verb in ("LIST", "NLST"):
            await self.listing(verb, arg)
        elif verb == "RETR":
            await self.retrieve(arg)
        elif verb in WRITES:
            if verb in ("STOR", "APPE", "STOU"):
                self.session.event("transfer", direction="upload", path=self.resolve(arg)[0],
                                   bytes=0, allowed=False)
            await self.reply("550 Permission denied.")
        elif verb in ("SIZE", "MDTM"):
            _, node = self.resolve(arg)
            if node is None or node.content is None:
                await self.reply("550 Could not get file size." if verb == "SIZE"
                                 else "550 Could not get file modification time.")
            elif verb == "SIZE":
                await self.reply(f"213 {len(node.content)}")
            else:
                y, m, d, hh, mm = node.mtime
                await self.reply(f"213 {y:04d}{m:02d}{d:02d}{hh:02d}{mm:02d}00")
        elif verb == "REST":
            await self.reply(f"350 Restart position accepted ({arg or 0}).")
        elif verb == "ABOR":
            await self.reply("225 No transfer to ABOR.")
        elif verb == "STAT":
            await self.reply(f"211-FTP server status:\r\n     Connected to {self.session.src_ip}"
                             "\r\n     Logged in as ftp\r\n     TYPE: ASCII\r\n     No session "
                             "bandwidth limit\r\n     Session timeout in seconds is 300\r\n"
                             "     Control connection is plain text\r\n     Data connections "
                             "will be plain text\r\n     At session startup, client count was 1"
                             "\r\n     vsFTPd 3.0.3 - secure, fast, stable\r\n211 End of status")
        elif verb in ("MODE", "STRU"):
            await self.reply("200 Mode set to S." if verb == "MODE" else "200 Structure set to F.")
        else:
            await self.reply("500 Unknown command.")
        return True

    async def listing(self, verb: str, arg: str) -> None:
        words = [w for w in arg.split() if not w.startswith("-")]
        path, node = self.resolve(words[0] if words else ".")
        if not self.data.ready:
            await self.reply("425 Use PORT or PASV first.")
            return
        entries: list[tuple[str, Node]] = []
        if node is not None:
            entries = sorted(node.children.items()) if node.content is None else \
                [(path.rsplit("/", 1)[-1], node)]
        if verb == "NLST":
            body = "".join(f"{name}\r\n" for name, _ in entries)
        else:
            body = "".join(_ls_line(name, item) for name, item in entries)
        if not await self.data.open():
            await self.reply("425 Failed to establish connection.")
            return
        await self.reply("150 Here comes the directory listing.")
        await self.data.send(body.encode())
        await self.reply("226 Directory send OK.")

    async def retrieve(self, arg: str) -> None:
        path, node = self.resolve(arg)
        if not self.data.ready:
            await self.reply("425 Use PORT or PASV first.")
            return
        if node is None or node.content is None:
            self.session.event("transfer", direction="download", path=path, bytes=0,
                               allowed=False)
            await self.reply("550 Failed to open file.")
            return
        if not await self.data.open():
            await self.reply("425 Failed to establish connection.")
            return
        mode = "BINARY" if self.binary else "ASCII"
        await self.reply(f"150 Opening {mode} mode data connection for {path.rsplit('/', 1)[-1]}"
                         f" ({len(node.content)} bytes).")
        await self.data.send(node.content)
        self.session.event("transfer", direction="download", path=path,
                           bytes=len(node.content), allowed=True)
        await self.reply("226 Transfer complete.")


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _ls_line(name: str, node: Node) -> str:
    y, m, d, _, _ = node.mtime
    directory = node.content is None
    size = 4096 if node.content is None else len(node.content)
    perms = "drwxr-xr-x" if directory else "-rw-r--r--"
    links = 2 + sum(1 for c in node.children.values() if c.content is None) if directory else 1
    stamp = f"{_MONTHS[m - 1]} {d:>2}  {y}"
    return f"{perms} {links:>4} ftp      ftp      {size:>8} {stamp} {name}\r\n"


def _fail_delay(session: Session) -> float:
    try:
        return max(0.0, min(float(session.config.get("fail_delay", 1)), 30.0))
    except (TypeError, ValueError):
        return 1.0


def _banner(session: Session) -> bytes:
    text = session.config.get("banner")
    text = text.strip() if isinstance(text, str) and text.strip() else "220 (vsFTPd 3.0.3)"
    return (text if text.startswith("220") else f"220 {text}").encode() + b"\r\n"


async def handle(session: Session) -> None:
    ftp = Ftp(session)
    await session.send(_banner(session))
    try:
        while True:
            raw = await session.read_line(4096)
            if not raw:
                return
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            verb, _, arg = line.strip().partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                await ftp.reply("221 Goodbye.")
                return
            if verb in ("USER", "PASS"):
                if not await ftp.login(verb, arg):
                    return
            elif verb == "FEAT":
                await ftp.reply(FEATURES)
            elif verb == "OPTS":
                await ftp.reply("200 Always in UTF8 mode." if arg.upper().startswith("UTF8 ON")
                                else "501 Option not understood.")
            elif not ftp.logged_in:
                await ftp.reply("530 Please login with USER and PASS.")
            elif verb == "HELP":
                await ftp.reply(HELP)
            elif verb == "NOOP":
                await ftp.reply("200 NOOP ok.")
            else:
                session.event("command", command=verb, arg=arg)
                await ftp.command(verb, arg)
    finally:
        with contextlib.suppress(Exception):
            await ftp.data.close()
