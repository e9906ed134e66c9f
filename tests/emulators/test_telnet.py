"""telnet: a raw-socket telnet client (IAC negotiation like Debian's `telnet`) and nmap."""

from __future__ import annotations

import os
import pty
import select
import signal
import time
from collections.abc import Iterator

import pytest
from telnet_client import DO, DONT, IAC, WILL, WONT, TelnetClient

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools

SERVICE = "telnet"
PORTS = ["23/tcp"]
CONFIG = {"accept": [{"user": "admin", "password": "letmein"}], "fail_delay": 0.3}

@pytest.fixture
def client(target: LocalEmulator) -> Iterator[TelnetClient]:
    session = TelnetClient(target.host, target.port(23))
    try:
        yield session
    finally:
        session.close()


def test_negotiation_and_failed_login_recorded(target: LocalEmulator,
                                               client: TelnetClient) -> None:
    banner = client.expect(b"decky01 login: ")
    assert client.raw.startswith(b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27")
    assert {1, 3} <= client.server_will  # ECHO and SUPPRESS-GO-AHEAD: the server echoes
    assert b"Debian GNU/Linux 12" in banner
    client.type_line("root")
    assert client.expect(b"Password: ").startswith(b"root")  # the username was echoed
    client.type_line("hunter2")
    after = client.expect(b"decky01 login: ")
    assert b"Login incorrect" in after and b"hunter2" not in after  # no password echo
    (login,) = target.events("login", wait=3)
    assert login.fields["username"] == "root" and login.fields["password"] == "hunter2"
    assert login.fields["success"] == "false"
    assert login.src_ip == target.source
    (told,) = target.events("data", wait=3)
    assert told.fields["ttype"] == "XTERM" and told.fields["env_user"] == "mallory"


def test_unknown_options_are_refused_once(target: LocalEmulator,
                                          client: TelnetClient) -> None:
    client.expect(b"login: ")
    odd = 99
    client.sock.sendall(bytes([IAC, WILL, odd, IAC, DO, odd]) * 2)
    client.type_line("")  # an empty line: the prompt again, after the answers
    client.expect(b"login: ")
    assert client.raw.count(bytes([IAC, DONT, odd])) == 1
    assert client.raw.count(bytes([IAC, WONT, odd])) == 1


# local only: the recorded shell look of an emulator running as root; deployed, an accepted
# login gets a real bash (tests/integration/test_foothold_walk.py walks it)
@pytest.mark.local_only
def test_accepted_login_gets_a_recorded_prompt(target: LocalEmulator,
                                               client: TelnetClient) -> None:
    client.expect(b"login: ")
    client.type_line("admin")
    client.expect(b"Password: ")
    client.type_line("letmein")
    client.expect(b"admin@decky01:~$ ")
    client.type_line("id")
    assert b"uid=1000(admin)" in client.expect(b"$ ")
    client.type_line("uname -a")
    assert b"Linux decky01" in client.expect(b"$ ")
    client.type_line("exit")
    logins = target.events("login", wait=3)
    assert [e.fields["success"] for e in logins] == ["true"]
    commands = target.events("command", wait=3)
    assert [e.fields["command"] for e in commands][:2] == ["id", "uname -a"]
    assert all(e.src_ip == target.source for e in commands)


def test_debian_telnet_client(target: LocalEmulator) -> None:
    """The real `telnet` on a pty: it negotiates, the server echoes the name, not the password."""
    require_tools("telnet", packages="telnet")
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec the client
        os.execvp("telnet", ["telnet", target.host, str(target.port(23))])
    screen = bytearray()

    def read_until(needle: bytes, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while needle not in screen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    screen.extend(os.read(fd, 4096))
                except OSError:
                    break
        assert needle in screen, bytes(screen)

    try:
        read_until(b"decky01 login: ")
        os.write(fd, b"operator\r")
        read_until(b"Password: ")
        os.write(fd, b"Pa55word!\r")
        read_until(b"Login incorrect")
        assert b"operator" in screen and b"Pa55word!" not in screen
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    (login,) = target.events("login", wait=3)
    assert (login.fields["username"], login.fields["password"]) == ("operator", "Pa55word!")
    assert login.src_ip == target.source


def test_windows_persona_is_microsoft_telnet() -> None:
    for emulator in local_emulator(SERVICE, PORTS, {"fail_delay": 0.1},
                                   {"os_family": "windows", "hostname": "WS01"}):
        session = TelnetClient(emulator.host, emulator.port(23))
        try:
            assert b"Welcome to Microsoft Telnet Service" in session.expect(b"login: ")
            session.type_line("administrator")
            session.expect(b"password: ")
            session.type_line("P@ssw0rd")
            assert b"Login Failed" in session.expect(b"login: ")
        finally:
            session.close()
        (login,) = emulator.events("login", wait=3)
        assert login.fields["username"] == "administrator"
        require_tools("nmap", packages="nmap")
        assert "Microsoft Windows" in nmap_service(emulator.host, emulator.port(23))


def test_nmap_names_linux_telnetd(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    assert "Linux telnetd" in nmap_service(target.host, target.port(23))
