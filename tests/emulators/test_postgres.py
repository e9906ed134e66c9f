"""postgres: psql and psycopg against the PostgreSQL 15 emulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
import subprocess
from collections.abc import Iterator

import psycopg
import pytest

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools
from tests.emulators.waiting import events_until

SERVICE = "postgres"
PORTS = ["5432/tcp"]
FAILED = 'FATAL:  password authentication failed for user "{user}"'


@pytest.fixture
def md5_target() -> Iterator[LocalEmulator]:
    """md5 authentication, no TLS."""
    yield from local_emulator(SERVICE, PORTS, {"auth": "md5", "tls": False})


def _scram_proof(password: str, fields: dict[str, str]) -> str:
    """The client proof a client knowing `password` sends (what a cracker recomputes)."""
    salt = base64.b64decode(fields["salt"])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, int(fields["iterations"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(client_key).digest()
    bare = fields["client_first"].split(",", 2)[2]
    final = fields["client_final"].rsplit(",p=", 1)[0]
    auth_message = f"{bare},{fields['server_first']},{final}".encode()
    signature = hmac.new(stored, auth_message, "sha256").digest()
    return base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature,
                                                        strict=True))).decode()


def test_psql_scram_over_tls_is_recorded(target: LocalEmulator) -> None:
    require_tools("psql", packages="postgresql-client")
    dsn = (f"host={target.host} port={target.port(5432)} user=postgres dbname=payroll "
           "application_name=etl sslmode=require")
    out = subprocess.run(["psql", dsn, "-c", "select 1"], capture_output=True, text=True,
                         timeout=20, env={**os.environ, "PGPASSWORD": "hunter2"})
    assert out.returncode != 0
    assert FAILED.format(user="postgres") in out.stderr
    (login,) = target.events("login", wait=3)
    fields = login.fields
    assert login.src_ip == target.source
    assert (fields["username"], fields["database"]) == ("postgres", "payroll")
    assert fields["application_name"] == "etl" and fields["tls"] == "true"
    assert fields["mech"].startswith("SCRAM-SHA-256") and fields["success"] == "false"
    assert fields["proof"] == _scram_proof("hunter2", fields)  # crackable offline
    assert target.events("tls_request")


def test_psycopg_plain_scram_and_stable_salt(target: LocalEmulator) -> None:
    for password in ("Summer2025", "Summer2026"):
        with pytest.raises(psycopg.OperationalError) as caught:
            psycopg.connect(host=target.host, port=target.port(5432), user="app",
                            password=password, dbname="crm", sslmode="disable",
                            connect_timeout=10)
        assert 'password authentication failed for user "app"' in str(caught.value)
    logins = [e for e in events_until(target, "login", lambda found: len(
        [e for e in found if e.fields["username"] == "app"]) >= 2)
        if e.fields["username"] == "app"]
    assert len(logins) == 2
    assert logins[0].fields["salt"] == logins[1].fields["salt"]  # one salt per role
    for login, password in zip(logins, ("Summer2025", "Summer2026"), strict=True):
        assert login.fields["mech"] == "SCRAM-SHA-256" and login.fields["tls"] == "false"
        assert login.fields["proof"] == _scram_proof(password, login.fields)
        assert login.src_ip == target.source


def test_md5_hash_recorded_with_salt(md5_target: LocalEmulator) -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(host=md5_target.host, port=md5_target.port(5432), user="report",
                        password="qwerty", dbname="dw", connect_timeout=10)
    assert 'password authentication failed for user "report"' in str(caught.value)
    (login,) = md5_target.events("login", wait=3)
    inner = hashlib.md5(b"qwertyreport").hexdigest().encode()
    expect = "md5" + hashlib.md5(inner + bytes.fromhex(login.fields["salt"])).hexdigest()
    assert login.fields["hash"] == expect and login.fields["mech"] == "md5"
    assert login.src_ip == md5_target.source


def test_error_response_fields(md5_target: LocalEmulator) -> None:
    """The wire ErrorResponse carries PostgreSQL's fields (libpq prints only S and M)."""
    with socket.create_connection((md5_target.host, md5_target.port(5432)), 10) as sock:
        params = b"user\0x\0database\0y\0\0"
        sock.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
        kind, body = _read_message(sock)
        assert kind == b"R" and struct.unpack("!I", body[:4])[0] == 5  # MD5, 4-byte salt
        sock.sendall(b"p" + struct.pack("!I", 4 + 36) + b"md5" + b"0" * 32 + b"\0")
        kind, body = _read_message(sock)
    assert kind == b"E"
    fields = {item[:1]: item[1:].decode() for item in body.split(b"\0") if item}
    assert fields[b"S"] == fields[b"V"] == "FATAL" and fields[b"C"] == "28P01"
    assert fields[b"M"] == 'password authentication failed for user "x"'
    assert (fields[b"F"], fields[b"R"]) == ("auth.c", "auth_failed")
    assert fields[b"L"].isdigit()


def _read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    head = b""
    while len(head) < 5:
        head += sock.recv(5 - len(head))
    size = struct.unpack("!I", head[1:])[0] - 4
    body = b""
    while len(body) < size:
        body += sock.recv(size - len(body))
    return head[:1], body


def test_nmap_names_postgresql(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    assert "PostgreSQL DB 15" in nmap_service(target.host, target.port(5432))


@pytest.fixture
def pg14() -> Iterator[LocalEmulator]:
    yield from local_emulator(SERVICE, PORTS, {"version": "14.5"})


def test_nmap_version_follows_config(pg14: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    assert "PostgreSQL DB 14.1 - 14.5" in nmap_service(pg14.host, pg14.port(5432))
