"""rdp: an X.224 Connection Request with an mstshash cookie, TLS with the persona
certificate and NLA (CredSSP + NTLM from impacket) against the emulator; nmap -sV."""

from __future__ import annotations

import socket
import ssl
import struct
import time

from tests.emulators.harness import LocalEmulator, nmap_service, require_tools

SERVICE = "rdp"
PORTS = ["3389/tcp"]
# deployed: a windows-server decky ts01.corp.internal (harness.decky_for_persona)
PERSONA = {"hostname": "ts01", "domain": "corp.internal", "os_family": "windows",
           "os_name": "Windows Server 2019 Standard"}


def connection_request(user: str, protocols: int) -> bytes:
    cookie = f"Cookie: mstshash={user}\r\n".encode()
    neg = struct.pack("<BBHI", 1, 0, 8, protocols)
    x224 = bytes([6 + len(cookie) + len(neg), 0xE0, 0, 0, 0, 0, 0]) + cookie + neg
    return struct.pack(">BBH", 3, 0, 4 + len(x224)) + x224


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    head = bytes([size]) if size < 128 else b"\x82" + struct.pack(">H", size)
    return bytes([tag]) + head + body


def ts_request(token: bytes) -> bytes:
    version = _der(0xA0, b"\x02\x01\x06")
    tokens = _der(0xA1, _der(0x30, _der(0x30, _der(0xA0, _der(0x04, token)))))
    return _der(0x30, version + tokens)


def _read_der(sock: ssl.SSLSocket) -> bytes:
    head = sock.recv(2)
    size = head[1]
    extra = b""
    if size & 0x80:
        extra = sock.recv(size & 0x7F)
        size = int.from_bytes(extra, "big")
    body = b""
    while len(body) < size:
        body += sock.recv(size - len(body))
    return head + extra + body


def test_cookie_tls_and_nla_are_recorded(target: LocalEmulator) -> None:
    from impacket import ntlm

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((target.host, target.port(3389)), timeout=5) as raw:
        raw.sendall(connection_request("administrator", 3))
        answer = raw.recv(64)
        assert answer == b"\x03\0\0\x13\x0e\xd0\0\0\x124\0\x02\x1f\x08\0\x02\0\0\0"  # HYBRID
        with context.wrap_socket(raw) as sock:
            cert = sock.getpeercert(binary_form=True)
            assert cert is not None and b"ts01.corp.internal" in cert
            negotiate = ntlm.getNTLMSSPType1("", "", signingRequired=True)
            sock.sendall(ts_request(negotiate.getData()))
            reply = _read_der(sock)
            challenge = reply[reply.find(b"NTLMSSP\0"):]
            assert "TS01".encode("utf-16-le") in challenge
            auth, _ = ntlm.getNTLMSSPType3(negotiate, challenge, "eve", "Spring2024", "CORP")
            sock.sendall(ts_request(auth.getData()))
            error = _read_der(sock)
    assert b"\xa4\x06\x02\x04\xc0\x00\x00\x6d" in error  # errorCode STATUS_LOGON_FAILURE
    deadline = time.monotonic() + 3
    while len(logins := target.events("login")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    cookie = [e for e in logins if e.fields.get("mech") == "mstshash"]
    nla = [e for e in logins if e.fields.get("mech") == "NTLMSSP"]
    assert cookie[0].fields["username"] == "administrator"
    assert cookie[0].src_ip == target.source
    assert (nla[0].fields["username"], nla[0].fields["domain"]) == ("eve", "CORP")
    assert nla[0].fields["hash"].startswith(f"eve::CORP:{nla[0].fields['challenge']}:")


def test_plain_rdp_security_is_refused(target: LocalEmulator) -> None:
    with socket.create_connection((target.host, target.port(3389)), timeout=5) as raw:
        raw.sendall(connection_request("scanner", 0))
        answer = raw.recv(64)
    assert answer[11:12] == b"\x03"  # RDP_NEG_FAILURE
    assert struct.unpack_from("<I", answer, 15)[0] == 5  # HYBRID_REQUIRED_BY_SERVER
    (login,) = target.events("login", wait=3)
    assert login.fields["username"] == "scanner"


def test_nmap_names_terminal_services(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(3389))
    assert "ms-wbt-server" in line and "Microsoft Terminal Service" in line
