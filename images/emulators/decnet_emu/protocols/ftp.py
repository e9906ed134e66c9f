"""ftp: vsftpd as Debian configures it (local logins refused, anonymous per config), or the
Microsoft FTP Service (IIS) when the persona's `versions.ftp` says so (Windows personas).

`220 (vsFTPd 3.0.3)`; USER/PASS: `331 Please specify the password.`, then `530 Login
incorrect.` after `fail_delay` seconds (default 1, like vsftpd's delay_failed_login); the
third failure closes the connection. Before login everything but USER, PASS, FEAT, OPTS and
QUIT is `530 Please login with USER and PASS.`. With `anonymous: true` the users `anonymous`
and `ftp` get `230 Login successful.` and a small read-only tree (`/pub`, derived from the
persona) over PASV, EPSV, PORT or EPRT data connections (vsftpd's rules: the data peer must
be the control peer); writes are `550 Permission denied.`. SYST `215 UNIX Type: L8`, FEAT
as vsftpd lists it, PWD/CWD/TYPE/SIZE/MDTM/NOOP/HELP, QUIT `221 Goodbye.`.

The IIS look (replies in _ftp_dialect.py): `220 Microsoft FTP Service`, `331 Password
required`, `530 User cannot log in.`, `215 Windows_NT`, MS-DOS style listings, no close
after failures. The version in the vsftpd greeting is the persona's `versions.ftp`.

Config (service_config.ftp): `banner` (greeting instead of the persona's; `220 ` added when
missing), `anonymous` (bool), `fail_delay` (seconds).

Events: `login` (`username`, `password`, `success`) for every PASS, `command` (`command`,
`arg`) for every other command after login, `transfer` (`direction` download|upload, `path`,
`bytes`, `allowed` true|false) for RETR (and refused STOR/APPE/STOU).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from decnet_emu.protocols._ftp_data import DataChannel
from decnet_emu.protocols._ftp_dialect import Dialect, dialect_for
from decnet_emu.protocols._paths import path_parts
from decnet_emu.session import Session

MAX_FAILS = 3
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
        self.version, self.dialect = product(session)

    async def say(self, key: str, **values: object) -> None:
        await self.reply(self.dialect.say(key, **values))

    async def reply(self, text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else (text + "\r\n").encode()
        await self.session.send(data)

    def resolve(self, arg: str) -> tuple[str, Node | None]:
        parts = path_parts(self.cwd, arg)
        node: Node | None = self.tree
        for item in parts:
            node = node.children.get(item) if node and node.content is None else None
        return "/" + "/".join(parts), node

    # -- login ----------------------------------------------------------------------------
    async def login(self, verb: str, arg: str) -> bool:
        """USER/PASS; False when the connection must close."""
        if verb == "USER":
            if self.logged_in:
                await self.say("user_again")
                return True
            self.user = arg
            await self.say("user_anonymous" if arg.lower() in ("anonymous", "ftp") and
                           self.session.config.get("anonymous") else "user")
            return True
        if self.logged_in:
            await self.say("already")
            return True
        if self.user is None:
            await self.say("login_first")
            return True
        user, self.user = self.user, None
        anonymous = bool(self.session.config.get("anonymous")) and \
            user.lower() in ("anonymous", "ftp")
        self.session.event("login", username=user, password=arg, success=anonymous)
        if anonymous:
            self.logged_in = True
            await self.say("login_ok")
            return True
        await asyncio.sleep(_fail_delay(self.session))
        await self.say("login_bad")
        self.fails += 1
        return self.fails < MAX_FAILS or not self.dialect.closes_after_fails

    # -- after login ----------------------------------------------------------------------
    async def command(self, verb: str, arg: str) -> bool:
        """One command after login; False on QUIT."""
        if verb in ("PWD", "XPWD"):
            await self.say("pwd", path=self.cwd)
        elif verb in ("CWD", "XCWD", "CDUP", "XCUP"):
            path, node = self.resolve(".." if verb in ("CDUP", "XCUP") else arg)
            if node is not None and node.content is None:
                self.cwd = path
                await self.say("cwd_ok")
            else:
                await self.say("cwd_bad")
        elif verb == "SYST":
            await self.say("syst")
        elif verb == "TYPE":
            kind = arg.upper()[:1]
            if kind in ("A", "I"):
                self.binary = kind == "I"
                await self.say("type_ok", word="Binary" if self.binary else "ASCII",
                               letter=kind)
            else:
                await self.say("type_bad")
        elif verb == "EPSV" and arg.strip().upper() == "ALL":
            await self.reply("200 EPSV ALL ok.")
        elif verb in ("PASV", "EPSV", "PORT", "EPRT"):
            answer = await self.data.setup(verb, arg)
            await self.reply(answer if self.dialect.name == "vsftpd"
                             else answer.split(" Consider")[0])
        elif verb in ("LIST", "NLST"):
            await self.listing(verb, arg)
        elif verb == "RETR":
            await self.retrieve(arg)
        elif verb in WRITES:
            if verb in ("STOR", "APPE", "STOU"):
                self.session.event("transfer", direction="upload", path=self.resolve(arg)[0],
                                   bytes=0, allowed=False)
            await self.say("denied")
        elif verb in ("SIZE", "MDTM"):
            _, node = self.resolve(arg)
            if node is None or node.content is None:
                await self.say("size_bad" if verb == "SIZE" else "mdtm_bad")
            elif verb == "SIZE":
                await self.reply(f"213 {len(node.content)}")
            else:
                y, m, d, hh, mm = node.mtime
                await self.reply(f"213 {y:04d}{m:02d}{d:02d}{hh:02d}{mm:02d}00")
        elif verb == "REST":
            await self.say("rest", offset=arg.strip() or 0)
        elif verb == "ABOR":
            await self.say("abor")
        elif verb == "STAT":
            await self.say("stat", client=self.session.src_ip, version=self.version,
                           host=self.session.persona.hostname)
        elif verb in ("MODE", "STRU"):
            await self.say("mode" if verb == "MODE" else "stru")
        else:
            await self.say("unknown")
        return True

    async def listing(self, verb: str, arg: str) -> None:
        words = [w for w in arg.split() if not w.startswith("-")]
        path, node = self.resolve(words[0] if words else ".")
        if not self.data.ready:
            await self.say("no_data")
            return
        entries: list[tuple[str, Node]] = []
        if node is not None:
            entries = sorted(node.children.items()) if node.content is None else \
                [(path.rsplit("/", 1)[-1], node)]
        if verb == "NLST":
            body = "".join(f"{name}\r\n" for name, _ in entries)
        else:
            body = "".join(_ls_line(self.dialect, name, item) for name, item in entries)
        if not await self.data.open():
            await self.say("data_fail")
            return
        await self.say("list_start")
        await self.data.send(body.encode())
        await self.say("list_done")

    async def retrieve(self, arg: str) -> None:
        path, node = self.resolve(arg)
        if not self.data.ready:
            await self.say("no_data")
            return
        if node is None or node.content is None:
            self.session.event("transfer", direction="download", path=path, bytes=0,
                               allowed=False)
            await self.say("no_file")
            return
        if not await self.data.open():
            await self.say("data_fail")
            return
        mode = "BINARY" if self.binary else "ASCII"
        await self.say("retr_start", mode=mode, name=path.rsplit("/", 1)[-1],
                       size=len(node.content))
        await self.data.send(node.content)
        self.session.event("transfer", direction="download", path=path,
                           bytes=len(node.content), allowed=True)
        await self.say("retr_done")


def _ls_line(dialect: Dialect, name: str, node: Node) -> str:
    directory = node.content is None
    size = 4096 if node.content is None else len(node.content)
    links = 2 + sum(1 for c in node.children.values() if c.content is None) if directory else 1
    return dialect.ls_line(name, directory, 0 if directory and dialect.name == "iis" else size,
                           links, node.mtime)


def product(session: Session) -> tuple[str, Dialect]:
    """(version string, dialect) from the persona's `versions.ftp` (default vsFTPd 3.0.3)."""
    version = session.persona.version("ftp")
    dialect = dialect_for(version, session.persona.is_windows)
    return version or ("Microsoft FTP Service" if dialect.name == "iis" else "vsFTPd 3.0.3"), \
        dialect


def _fail_delay(session: Session) -> float:
    try:
        return max(0.0, min(float(session.config.get("fail_delay", 1)), 30.0))
    except (TypeError, ValueError):
        return 1.0


def _banner(session: Session, version: str, dialect: Dialect) -> bytes:
    text = session.config.get("banner")
    text = text.strip() if isinstance(text, str) and text.strip() else \
        dialect.say("greeting", version=version)
    return (text if text.startswith("220") else f"220 {text}").encode() + b"\r\n"


async def handle(session: Session) -> None:
    ftp = Ftp(session)
    await session.send(_banner(session, ftp.version, ftp.dialect))
    try:
        while True:
            raw = await session.read_line(4096)
            if not raw:
                return
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            verb, _, arg = line.strip().partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                await ftp.say("goodbye")
                return
            if verb in ("USER", "PASS"):
                if not await ftp.login(verb, arg):
                    return
            elif verb == "FEAT":
                await ftp.say("features")
            elif verb == "OPTS":
                await ftp.say("utf8" if arg.upper().startswith("UTF8 ON") else "opts_bad")
            elif not ftp.logged_in:
                await ftp.say("need_login")
            elif verb == "HELP":
                await ftp.say("help")
            elif verb == "NOOP":
                await ftp.say("noop")
            else:
                session.event("command", command=verb, arg=arg)
                await ftp.command(verb, arg)
    finally:
        with contextlib.suppress(Exception):
            await ftp.data.close()
