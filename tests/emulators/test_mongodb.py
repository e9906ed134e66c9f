"""mongodb: pymongo (the reference client) and raw legacy OP_QUERY against the emulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import struct
import subprocess

import bson
import pymongo
import pytest
from pymongo.errors import OperationFailure

from tests.emulators.harness import LocalEmulator, require_tools

SERVICE = "mongodb"
PORTS = ["27017/tcp"]
CONFIG = {"version": "7.0.14", "accept": [{"user": "app", "password": "Sup3r!"}]}


def _client(target: LocalEmulator, **kwargs: object) -> pymongo.MongoClient:
    return pymongo.MongoClient(target.host, target.port(27017), serverSelectionTimeoutMS=5000,
                               connectTimeoutMS=5000, **kwargs)


def test_hello_and_build_info_without_auth(target: LocalEmulator) -> None:
    client = _client(target)
    try:
        hello = client.admin.command("hello")
        assert hello["isWritablePrimary"] is True and hello["maxWireVersion"] == 21
        assert hello["topologyVersion"]["counter"] == 0 and hello["connectionId"] > 0
        info = client.server_info()
        assert info["version"] == "7.0.14" and info["versionArray"] == [7, 0, 14, 0]
        assert len(info["gitVersion"]) == 40
        with pytest.raises(OperationFailure) as caught:
            client.list_database_names()
        assert caught.value.code == 13
        assert "Command listDatabases requires authentication" in str(caught.value)
        with pytest.raises(OperationFailure) as caught:
            client.shop.orders.find_one({"user": "bob"})
        assert caught.value.code == 13
        with pytest.raises(OperationFailure) as caught:
            client.admin.command("frobnicate")
        assert caught.value.code == 59
    finally:
        client.close()
    commands = {e.fields["command"] for e in target.events("command", wait=3)}
    assert {"listDatabases", "frobnicate"} <= commands
    (query,) = [e for e in target.events("query") if e.fields["command"] == "find"]
    assert query.fields["collection"] == "orders" and query.fields["database"] == "shop"
    assert '"user":"bob"' in query.fields["args"] and query.src_ip == target.source


def _proof_matches(login: dict[str, str], password: str) -> bool:
    """Crack check: the recorded exchange verifies against the right password only."""
    digest = "sha256" if login["mechanism"] == "SCRAM-SHA-256" else "sha1"
    if digest == "sha1":  # mongod's SHA-1 credential: MD5("user:mongo:password") in hex
        password = hashlib.md5(f"{login['username']}:mongo:{password}".encode()).hexdigest()
    salted = hashlib.pbkdf2_hmac(digest, password.encode(), base64.b64decode(login["salt"]),
                                 int(login["iterations"]))
    client_key = hmac.new(salted, b"Client Key", digest).digest()
    auth_message = (f"n={login['username']},r={login['client_nonce']},r={login['nonce']},"
                    f"s={login['salt']},i={login['iterations']},c={login['channel_binding']},"
                    f"r={login['nonce']}")
    signature = hmac.new(hashlib.new(digest, client_key).digest(), auth_message.encode(),
                         digest).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    return base64.b64encode(proof).decode() == login["proof"]


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_login_fails_and_is_recorded(target: LocalEmulator, mechanism: str) -> None:
    client = _client(target, username="root", password="toor", authSource="admin",
                     authMechanism=mechanism)
    try:
        with pytest.raises(OperationFailure) as caught:
            client.admin.command("ping")
        assert caught.value.code == 18 and "Authentication failed." in str(caught.value)
    finally:
        client.close()
    (login,) = target.events("login", wait=3)
    fields = login.fields
    assert fields["username"] == "root" and fields["mechanism"] == mechanism
    assert fields["success"] == "false" and fields["database"] == "admin"
    assert fields["nonce"].startswith(fields["client_nonce"]) and fields["proof"]
    assert int(fields["iterations"]) == (15000 if mechanism.endswith("256") else 10000)
    assert login.src_ip == target.source
    assert _proof_matches(fields, "toor") and not _proof_matches(fields, "toor2")


def test_accepted_password_authenticates(target: LocalEmulator) -> None:
    client = _client(target, username="app", password="Sup3r!", authSource="admin")
    try:
        assert set(client.list_database_names()) == {"admin", "config", "local"}
        assert client.shop.orders.find_one() is None
    finally:
        client.close()
    logins = target.events("login", wait=3)
    assert [(e.fields["username"], e.fields["success"]) for e in logins] == [("app", "true")]


def _op_query(namespace: bytes, query: bytes) -> bytes:
    body = struct.pack("<i", 0) + namespace + b"\0" + struct.pack("<ii", 0, -1) + query
    return struct.pack("<iiii", 16 + len(body), 7, 0, 2004) + body


def test_legacy_op_query_is_master_and_http(target: LocalEmulator) -> None:
    with socket.create_connection((target.host, target.port(27017)), timeout=5) as sock:
        sock.sendall(_op_query(b"admin.$cmd", bson.encode({"isMaster": 1})))
        head = sock.recv(16, socket.MSG_WAITALL)
        length, _, response_to, opcode = struct.unpack("<iiii", head)
        body = sock.recv(length - 16, socket.MSG_WAITALL)
        assert (response_to, opcode) == (7, 1)
        reply = bson.decode(body[20:])
        assert reply["ismaster"] is True and reply["maxWireVersion"] == 21
        sock.sendall(_op_query(b"test.$cmd", bson.encode({"serverStatus": 1})))
        length = struct.unpack("<i", sock.recv(4, socket.MSG_WAITALL))[0]
        reply = bson.decode(sock.recv(length - 4, socket.MSG_WAITALL)[32:])
        assert reply["code"] == 352 and "Unsupported OP_QUERY command" in reply["errmsg"]
    with socket.create_connection((target.host, target.port(27017)), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert b"trying to access MongoDB over HTTP" in sock.recv(4096)


def test_bson_codec_agrees_with_pymongo() -> None:
    import datetime as dt
    import sys

    from tests.emulators.harness import EMULATORS

    if str(EMULATORS) not in sys.path:
        sys.path.insert(0, str(EMULATORS))
    from decnet_emu.protocols import _bson

    doc = {"s": "é", "i": 7, "big": 1 << 40, "f": 1.5, "t": True, "n": None,
           "b": b"\x00\xff", "d": {"a": [1, "x", {"k": False}]},
           "when": dt.datetime(2024, 5, 1, 12, 0, 1, tzinfo=dt.UTC),
           "oid": bson.ObjectId(b"0123456789ab"), "ts": bson.Timestamp(5, 6),
           "l": bson.Int64(3)}
    ours = _bson.decode(bson.encode(doc))
    assert ours["s"] == "é" and ours["big"] == 1 << 40 and ours["b"] == b"\x00\xff"
    assert ours["d"] == {"a": [1, "x", {"k": False}]} and ours["oid"].raw == b"0123456789ab"
    assert ours["when"] == doc["when"] and ours["ts"] == _bson.Timestamp(5, 6)
    back = bson.decode(_bson.encode(ours), codec_options=bson.CodecOptions(tz_aware=True))
    assert back == doc
    for broken in (bson.encode(doc)[:-1], b"\x0e\x00\x00\x00\x02s\x00\xff\x00\x00\x00x\x00\x00",
                   b"\x08\x00\x00\x00\x99a\x00\x00"):
        with pytest.raises(_bson.BSONError):
            _bson.decode(broken)


def test_nmap_names_mongodb(target: LocalEmulator) -> None:
    """A real mongod 7 with authorization is named by nmap's HTTP probe (a soft match); at
    intensity 9 nmap then waits on ~16 more probes, as with a real mongod: intensity 2 here."""
    require_tools("nmap", packages="nmap")
    out = subprocess.run(["nmap", "-sV", "-Pn", "-n", "--version-intensity", "2", "-p",
                          str(target.port(27017)), target.host], capture_output=True,
                         text=True, timeout=90).stdout
    line = next((x for x in out.splitlines() if x.startswith(f"{target.port(27017)}/")), out)
    assert "mongodb" in line and "MongoDB" in line, line
