"""mysql: the MariaDB `mysql` CLI and pymysql against the MySQL 8.0 emulator."""

from __future__ import annotations

import hashlib
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Iterator

import pymysql
import pytest

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools

SERVICE = "mysql"
PORTS = ["3306/tcp"]
CONFIG = {"version": "8.0.36"}
DENIED = "Access denied for user '{user}'@'{src}' (using password: YES)"


@pytest.fixture
def native_plain() -> Iterator[LocalEmulator]:
    """mysql_native_password accounts, no TLS offered: the scramble is all there is."""
    yield from local_emulator(SERVICE, PORTS, {"auth_plugin": "mysql_native_password",
                                               "tls": False})


@pytest.fixture
def sha2_plain() -> Iterator[LocalEmulator]:
    """caching_sha2_password without TLS: the client fetches the RSA key."""
    yield from local_emulator(SERVICE, PORTS, {"tls": False})


def _native_scramble(password: bytes, salt: bytes) -> bytes:
    stage1 = hashlib.sha1(password).digest()
    mix = hashlib.sha1(salt + hashlib.sha1(stage1).digest()).digest()
    return bytes(a ^ b for a, b in zip(stage1, mix, strict=True))


def test_mysql_cli_is_denied_and_password_recorded(target: LocalEmulator) -> None:
    require_tools("mysql", packages="default-mysql-client")
    out = subprocess.run(["mysql", "-h", target.host, "-P", str(target.port(3306)),
                          "-u", "root", "-phunter2", "payroll", "-e", "select 1"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    assert "ERROR 1045 (28000): " + DENIED.format(user="root", src=target.source) in out.stderr
    (login,) = target.events("login", wait=3)
    assert login.src_ip == target.source
    fields = login.fields
    assert fields["username"] == "root" and fields["database"] == "payroll"
    assert fields["plugin"] == "caching_sha2_password" and fields["success"] == "false"
    assert len(bytes.fromhex(fields["salt"])) == 20 and len(bytes.fromhex(fields["scramble"])) == 32
    assert fields["password"] == "hunter2"  # full authentication over the TLS switch
    assert fields["tls"] == "true" and "program_name=mysql" in fields["attrs"]


def test_native_scramble_is_recorded_with_its_salt(native_plain: LocalEmulator) -> None:
    require_tools("mysql", packages="default-mysql-client")
    # the CLI offers caching_sha2_password: the server switches it to mysql_native_password
    out = subprocess.run(["mysql", "-h", native_plain.host, "-P", str(native_plain.port(3306)),
                          "-u", "svc_app", "-pWinter2024!", "--skip-ssl",
                          "--default-auth=caching_sha2_password", "-e", "select 1"],
                         capture_output=True, text=True, timeout=20)
    assert DENIED.format(user="svc_app", src=native_plain.source) in out.stderr
    with pytest.raises(pymysql.err.OperationalError) as caught:
        pymysql.connect(host=native_plain.host, port=native_plain.port(3306), user="bob",
                        password="letmein", connect_timeout=10)
    assert caught.value.args == (1045, DENIED.format(user="bob", src=native_plain.source))
    logins = native_plain.events("login", wait=3)
    for _ in range(30):  # both were written before their ERR; the log reader may lag
        if len(logins) >= 2:
            break
        time.sleep(0.1)
        logins = native_plain.events("login")
    for login, password in zip(logins, (b"Winter2024!", b"letmein"), strict=True):
        salt, scramble = (bytes.fromhex(login.fields[k]) for k in ("salt", "scramble"))
        assert login.fields["plugin"] == "mysql_native_password"
        assert scramble == _native_scramble(password, salt)  # crackable offline
        assert login.fields["hash"] == f"$mysqlna${salt.hex()}*{scramble.hex()}"
        assert login.src_ip == native_plain.source
    assert logins[0].fields["client_plugin"] == "caching_sha2_password"


def test_pymysql_rsa_full_authentication(sha2_plain: LocalEmulator) -> None:
    with pytest.raises(pymysql.err.OperationalError) as caught:
        pymysql.connect(host=sha2_plain.host, port=sha2_plain.port(3306), user="dba",
                        password="s3cr3t", database="crm", connect_timeout=10)
    assert caught.value.args == (1045, DENIED.format(user="dba", src=sha2_plain.source))
    (login,) = sha2_plain.events("login", wait=3)
    assert login.fields["password"] == "s3cr3t" and login.fields["tls"] == "false"
    assert login.fields["database"] == "crm" and login.src_ip == sha2_plain.source


def test_nmap_names_mysql(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(3306))
    assert "MySQL 8.0.36" in line


@pytest.fixture
def mariadb() -> Iterator[LocalEmulator]:
    """A Debian persona whose mysql is MariaDB (decnet_lib.personas versions)."""
    yield from local_emulator(SERVICE, PORTS, {},
                              {"versions": {"mysql": "10.11.6-MariaDB-0+deb12u1"}})


def test_persona_mariadb_looks_like_mariadb(mariadb: LocalEmulator) -> None:
    with pytest.raises(pymysql.err.OperationalError) as caught:
        pymysql.connect(host=mariadb.host, port=mariadb.port(3306), user="root",
                        password="toor", ssl_disabled=True, connect_timeout=10)
    assert caught.value.args[0] == 1045
    (login,) = mariadb.events("login", wait=3)
    assert login.fields["plugin"] == "mysql_native_password"
    salt, scramble = (bytes.fromhex(login.fields[k]) for k in ("salt", "scramble"))
    assert scramble == _native_scramble(b"toor", salt)
    require_tools("nmap", packages="nmap")
    line = nmap_service(mariadb.host, mariadb.port(3306))
    assert "MySQL 5.5.5-10.11.6-MariaDB-0+deb12u1" in line


def test_malformed_handshake_gets_bad_handshake(target: LocalEmulator) -> None:
    """A truncated HandshakeResponse (a scanner's) is answered as mysqld does, not crashed on."""
    with socket.create_connection((target.host, target.port(3306)), 10) as sock:
        sock.recv(4096)  # the greeting
        body = struct.pack("<I", 0x8000 | 0x200) + b"\0" * 28 + b"scanner\0"  # no auth length
        sock.sendall(struct.pack("<I", len(body))[:3] + b"\x01" + body)
        reply = sock.recv(4096)
    assert reply[4:7] == b"\xff" + struct.pack("<H", 1043) and b"Bad handshake" in reply
    (event,) = target.events("error", wait=3)
    assert event.fields["reason"] == "bad handshake" and "error" not in event.fields


def test_client_hello_in_the_same_segment_as_ssl_request(target: LocalEmulator) -> None:
    """Clients send the ClientHello right behind SSLRequest without waiting; through a proxy
    (docker's, NAT) both arrive in one segment: the TLS handshake must still complete."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    with socket.create_connection((target.host, target.port(3306)), 10) as sock:
        sock.recv(4096)  # the greeting
        request = struct.pack("<IIB23x", 0x800 | 0x200 | 0x8000 | 0x80000, 1 << 24, 255)
        sock.sendall(struct.pack("<I", len(request))[:3] + b"\x01" + request + outgoing.read())
        while True:
            data = sock.recv(65536)
            assert data, "server closed during the TLS handshake"
            incoming.write(data)
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
    assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert target.events("tls_request", wait=3)
