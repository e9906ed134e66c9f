"""telnet: a Linux telnetd (netkit, as Debian ships it) or the Microsoft Telnet Service.

Linux persona: the server opens with DO TERMINAL-TYPE, DO TSPEED, DO XDISPLOC, DO
NEW-ENVIRON (the bytes nmap knows as "Linux telnetd"), asks for what the client agreed to
send (SB ... SEND), then offers WILL SUPPRESS-GO-AHEAD, WILL ECHO, WILL STATUS and asks DO
NAWS, DO LFLOW, DO LINEMODE. Then the issue (`Debian GNU/Linux 12`: the persona's
`versions.telnet`, else its OS name) and `<hostname> login: `; the username is echoed by the
server, the password is not; a wrong password gives `Login incorrect` after `fail_delay`
seconds; the connection closes after 5 tries like login(1). Windows persona: the Microsoft
Telnet Service negotiation (DO AUTH, WILL ECHO, ...), `Welcome to Microsoft Telnet Service`,
`login: `/`password: `.

Config (service_config.telnet): `banner` (the issue text instead of the persona's OS),
`login_prompt` (instead of `<hostname> login: `), `motd` (shown after an accepted login),
`accept` (list of `{user, password}`: those logins succeed; on a Linux persona in the full
image they get a real bash on a pty as the container's unprivileged user, every typed line
recorded (_telnet_shell.py); never a real shell when the emulator runs as root (a local
test) or without bash: then the minimal recorded shell look of _fake_shell.py),
`fail_delay` (seconds, default 3).

Events: `data` (what the client told in negotiation: `ttype`, `tspeed`, `xdisploc`, `naws`,
`env_user`, `env_display`, ... when sent), `login` (`username`, `password`, `success`) for
every try, `command` (`command`) for every line typed after an accepted login.
"""

from __future__ import annotations

import asyncio
import os
import re

from decnet_emu.protocols import _telnet_shell
from decnet_emu.protocols._fake_shell import FakeShell
from decnet_emu.protocols._telnet_io import (
    AUTHENTICATION,
    DO,
    ECHO,
    LFLOW,
    LINEMODE,
    NAWS,
    NEW_ENVIRON,
    SGA,
    STATUS,
    TSPEED,
    TTYPE,
    WILL,
    XDISPLOC,
    Interrupted,
    TelnetIO,
    cmd,
)
from decnet_emu.session import Session

BINARY = 0
LINUX_TRIES = 5
WINDOWS_TRIES = 3
NEGOTIATION_WAIT = 10.0  # netkit waits for the terminal-type answers; nmap reads for 6 s


def _accepted(session: Session, user: str, password: str) -> bool:
    accept = session.config.get("accept")
    if not isinstance(accept, list):
        return False
    return any(isinstance(item, dict) and item.get("user") == user
               and item.get("password") == password for item in accept)


def _fail_delay(session: Session) -> float:
    try:
        return max(0.0, min(float(session.config.get("fail_delay", 3)), 30.0))
    except (TypeError, ValueError):
        return 3.0


def _issue(session: Session) -> str:
    banner = session.config.get("banner")
    if isinstance(banner, str) and banner:
        return banner
    os_name = re.sub(r"\s*\(.*\)\s*$", "", session.persona.os_name)
    return session.persona.version("telnet") or os_name or "Debian GNU/Linux 12"


async def _negotiate(session: Session, tio: TelnetIO, windows: bool) -> None:
    if windows:
        first = (cmd(DO, AUTHENTICATION), cmd(WILL, ECHO), cmd(WILL, SGA), cmd(DO, NEW_ENVIRON),
                 cmd(DO, NAWS), cmd(DO, BINARY), cmd(WILL, BINARY))
        await tio.request(*first)
        await tio.settle({AUTHENTICATION, ECHO, SGA, NEW_ENVIRON, NAWS}, NEGOTIATION_WAIT)
    else:
        await tio.request(cmd(DO, TTYPE), cmd(DO, TSPEED), cmd(DO, XDISPLOC),
                          cmd(DO, NEW_ENVIRON))
        await tio.settle({TTYPE, TSPEED, XDISPLOC, NEW_ENVIRON}, NEGOTIATION_WAIT)
        if tio.eof:
            return
        await tio.request(cmd(WILL, SGA), cmd(DO, NAWS), cmd(WILL, STATUS), cmd(DO, LFLOW),
                          cmd(DO, LINEMODE), cmd(WILL, ECHO))
        await tio.settle({SGA, NAWS, ECHO}, 2.0)
    if tio.info:
        session.event("data", **tio.info)


async def _login(session: Session, tio: TelnetIO, windows: bool) -> str | None:
    """Prompt for logins until one is accepted (its user) or the tries run out (None)."""
    prompt = session.config.get("login_prompt")
    if not isinstance(prompt, str) or not prompt:
        prompt = "login: " if windows else f"{session.persona.hostname} login: "
    if windows:
        await session.send(b"Welcome to Microsoft Telnet Service \r\n\n\r")
    else:
        await tio.write(f"{_issue(session)}\n")
    tries = 0
    while tries < (WINDOWS_TRIES if windows else LINUX_TRIES):
        await tio.write(prompt)
        try:
            raw = await tio.read_line(echo=True, limit=256)
        except Interrupted:
            continue
        if raw is None or raw == b"\x04":
            return None
        user = raw.decode("utf-8", "replace").strip()
        if not user:
            continue
        await session.send(b"\n\rpassword: " if windows else b"Password: ")
        try:
            secret = await tio.read_line(echo=False, limit=256)
        except Interrupted:
            secret = b""
        if secret is None:
            session.event("login", username=user, success=False)
            return None
        password = secret.decode("utf-8", "replace")
        success = _accepted(session, user, password)
        session.event("login", username=user, password=password, success=success)
        if success:
            return user
        tries += 1
        await asyncio.sleep(_fail_delay(session))
        await session.send(b"\r\nThe handle is invalid.\r\n\n\rLogin Failed\r\n\n\r" if windows
                           else b"\r\nLogin incorrect\r\n")
    return None


def _real_shell_allowed(windows: bool) -> bool:
    """A real shell only on a Linux persona, with bash, and never as root."""
    return not windows and os.geteuid() != 0 and _telnet_shell.available()


async def _shell(session: Session, tio: TelnetIO, user: str, windows: bool) -> None:
    if _real_shell_allowed(windows):
        motd = session.config.get("motd")
        if isinstance(motd, str) and motd:
            await tio.write(motd + "\n")
        await _telnet_shell.run_shell(session, tio, user)
        return
    shell = FakeShell(session.persona, user, session.dst_ip)
    motd = session.config.get("motd")
    await tio.write(motd + "\n" if isinstance(motd, str) and motd else shell.motd())
    while True:
        await tio.write(shell.prompt())
        try:
            raw = await tio.read_line(echo=True)
        except Interrupted:
            continue
        if raw is None:
            return
        if raw == b"\x04":
            await tio.write("logout\n")
            return
        line = raw.decode("utf-8", "replace").strip()
        if line:
            session.event("command", command=line, user=user)
        output, more = shell.run(line)
        if output:
            await tio.write(output)
        if not more:
            return


async def handle(session: Session) -> None:
    windows = session.persona.is_windows
    if windows:
        tio = TelnetIO(session, we_will={ECHO, SGA, BINARY},
                       they_do={NEW_ENVIRON, NAWS, BINARY, TTYPE})
    else:
        tio = TelnetIO(session, we_will={ECHO, SGA, STATUS},
                       they_do={TTYPE, TSPEED, XDISPLOC, NEW_ENVIRON, NAWS, LFLOW, LINEMODE})
    await _negotiate(session, tio, windows)
    if tio.eof:
        return
    user = await _login(session, tio, windows)
    if user is not None:
        await _shell(session, tio, user, windows)
