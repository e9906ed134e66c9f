"""telnet: a raw-socket telnet client (IAC negotiation like Debian's `telnet`) and nmap."""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import time
from collections.abc import Iterator

import pytest

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools

SERVICE = "telnet"
PORTS = ["23/tcp"]
CONFIG = {"accept": [{"user": "admin", "password": "letmein"}], "fail_delay": 0.3}

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
TTYPE, NAWS, NEW_ENVIRON = 24, 31, 39
CLIENT_WILL = {TTYPE, NAWS, NEW_ENVIRON}  # what netkit's client agrees to, roughly


class TelnetClient:
    """Answers the server's options like a terminal client and collects the text it sees."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=15)
        self.raw = bytearray()   # every byte received, IAC included
        self.text = bytearray()  # data bytes only
        self.server_will: set[int] = set()
        self._pending = b""

    def _handle(self, data: bytes) -> None:
        data = self._pending + data
        self._pending = b""
        i = 0
        while i < len(data):
            byte = data[i]
            if byte != IAC:
                self.text.append(byte)
                i += 1
                continue
            if i + 1 >= len(data):
                self._pending = data[i:]
                return
            verb = data[i + 1]
            if verb in (DO, DONT, WILL, WONT):
                if i + 2 >= len(data):
                    self._pending = data[i:]
                    return
                self._answer(verb, data[i + 2])
                i += 3
            elif verb == SB:
                end = data.find(bytes([IAC, SE]), i)
                if end < 0:
                    self._pending = data[i:]
                    return
                self._subneg(data[i + 2:end])
                i = end + 2
            else:
                if verb == IAC:
                    self.text.append(IAC)
                i += 2

    def _answer(self, verb: int, option: int) -> None:
        if verb == DO:
            reply = WILL if option in CLIENT_WILL else WONT
            self.sock.sendall(bytes([IAC, reply, option]))
            if option == NAWS:
                self.sock.sendall(bytes([IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE]))
        elif verb == WILL:
            self.server_will.add(option)
            self.sock.sendall(bytes([IAC, DO, option]))

    def _subneg(self, body: bytes) -> None:
        if body[:2] == bytes([TTYPE, 1]):
            self.sock.sendall(bytes([IAC, SB, TTYPE, 0]) + b"XTERM" + bytes([IAC, SE]))
        elif body[:2] == bytes([NEW_ENVIRON, 1]):
            self.sock.sendall(bytes([IAC, SB, NEW_ENVIRON, 0, 0]) + b"USER" + bytes([1])
                              + b"mallory" + bytes([IAC, SE]))

    def expect(self, needle: bytes, timeout: float = 10) -> bytes:
        """Read until `needle` appears in the text; return the text so far, then reset it."""
        deadline = time.monotonic() + timeout
        while needle not in self.text and time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            if not data:
                break
            self.raw += data
            self._handle(data)
        seen = bytes(self.text)
        assert needle in seen, f"{needle!r} not in {seen!r}"
        self.text.clear()
        return seen

    def type_line(self, text: str) -> None:
        """Type a line the way a character-mode client does: one key at a time, CR NUL."""
        for char in text.encode():
            self.sock.sendall(bytes([char]))
        self.sock.sendall(b"\r\0")

    def close(self) -> None:
        self.sock.close()


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
