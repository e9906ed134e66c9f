"""sip: sipsak and sipvicious' svmap, a raw digest-computing client over UDP and TCP, nmap."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess

from tests.emulators.harness import LocalEmulator, nmap_service, require_tools
from tests.emulators.waiting import events_until

SERVICE = "sip"
PORTS = ["5060/udp", "5060/tcp"]
PERSONA = {"hostname": "pbx01", "domain": "acme.internal",
           "versions": {"sip": "Asterisk PBX 20.9.3"}}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _digest(user: str, realm: str, password: str, method: str, uri: str, nonce: str,
            nc: str, cnonce: str) -> str:
    ha1, ha2 = _md5(f"{user}:{realm}:{password}"), _md5(f"{method}:{uri}")
    return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


def _register(port: int, call_id: str, cseq: int, transport: str,
              authorization: str = "") -> bytes:
    lines = [f"REGISTER sip:127.0.0.1:{port} SIP/2.0",
             f"Via: SIP/2.0/{transport} 127.0.0.1:5099;branch=z9hG4bK{call_id}{cseq};rport",
             "Max-Forwards: 70", "From: <sip:1001@acme.internal>;tag=a1b2c3",
             "To: <sip:1001@acme.internal>", f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER",
             "Contact: <sip:1001@127.0.0.1:5099>", "User-Agent: Zoiper v2.10", "Expires: 3600"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode()


def _challenge(reply: bytes) -> dict[str, str]:
    header = re.search(rb"WWW-Authenticate: Digest (.*)\r\n", reply)
    assert header, reply
    return dict(re.findall(r'(\w+)="?([^",]+)"?', header.group(1).decode()))


def _exchange(target: LocalEmulator, transport: str, password: str) -> tuple[bytes, str]:
    """REGISTER, answer the challenge with `password`; (final reply, response sent)."""
    port = target.port(5060, transport.lower())
    kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(5)
        sock.connect((target.host, port))
        call_id = f"c{transport}1234"
        sock.sendall(_register(port, call_id, 1, transport))
        first = sock.recv(4096)
        assert first.startswith(b"SIP/2.0 401 Unauthorized\r\n"), first
        params = _challenge(first)
        assert params["realm"] == "acme.internal" and params["qop"] == "auth"
        uri = f"sip:127.0.0.1:{port}"
        response = _digest("1001", params["realm"], password, "REGISTER", uri, params["nonce"],
                           "00000001", "0a4f113b")
        authorization = (f'Digest username="1001",realm="{params["realm"]}",'
                         f'nonce="{params["nonce"]}",uri="{uri}",response="{response}",'
                         f'algorithm=MD5,cnonce="0a4f113b",opaque="{params["opaque"]}",'
                         'qop=auth,nc=00000001')
        sock.sendall(_register(port, call_id, 2, transport, authorization))
        return sock.recv(4096), response


def test_sipsak_options_gets_asterisk(target: LocalEmulator) -> None:
    require_tools("sipsak", packages="sipsak")
    out = subprocess.run(["sipsak", "-vv", "-s", f"sip:pbx01@{target.host}:"
                          f"{target.port(5060, 'udp')}"], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SIP/2.0 200 OK" in out.stdout and "Server: Asterisk PBX 20.9.3" in out.stdout
    assert "Allow: OPTIONS, REGISTER" in out.stdout
    (request,) = target.events("request", wait=3)
    assert request.fields["method"] == "OPTIONS"
    assert request.fields["user_agent"].startswith("sipsak")
    assert request.src_ip == target.source


def test_sipsak_register_digest_is_recorded(target: LocalEmulator) -> None:
    require_tools("sipsak", packages="sipsak")
    out = subprocess.run(["sipsak", "-U", "-i", "-s", f"sip:1001@{target.host}:"
                          f"{target.port(5060, 'udp')}", "-a", "hunter2"],
                         capture_output=True, text=True, timeout=20)
    assert "authorization failed" in out.stdout + out.stderr
    (login,) = target.events("login", wait=3)
    fields = login.fields
    assert fields["realm"] == "acme.internal" and fields["method"] == "REGISTER"
    assert fields["success"] == "false" and login.src_ip == target.source
    # everything needed to crack it offline is there
    expected = _digest(fields["username"], fields["realm"], "hunter2", fields["method"],
                       fields["uri"], fields["nonce"], fields["nc"], fields["cnonce"])
    assert fields["response"] == expected
    assert fields["hash"].startswith("$sip$*") and fields["hash"].endswith(expected)


def test_raw_digest_over_udp_and_tcp(target: LocalEmulator) -> None:
    for transport in ("UDP", "TCP"):
        expected = len(target.events("login")) + 1  # this round adds one login
        reply, response = _exchange(target, transport, "Passw0rd!")
        assert reply.startswith(b"SIP/2.0 401 Unauthorized\r\n"), reply
        assert b"Server: Asterisk PBX 20.9.3\r\n" in reply
        logins = [e for e in events_until(target, "login", lambda found, n=expected: len(found)
                                           >= n) if e.fields["response"] == response]
        assert len(logins) == 1, transport
        assert logins[0].fields["username"] == "1001" and logins[0].fields["cnonce"] == "0a4f113b"
        assert logins[0].fields["proto"] == transport.lower()
    requests = events_until(target, "request", lambda found: len(found) >= 4)
    vias = [e.fields for e in requests if e.fields["method"] == "REGISTER"]
    assert len(vias) == 4 and all(v["user_agent"] == "Zoiper v2.10" for v in vias)


def test_nonce_differs_per_request(target: LocalEmulator) -> None:
    nonces = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        for cseq in (1, 2):
            sock.sendto(_register(5060, "n1", cseq, "UDP"),
                        (target.host, target.port(5060, "udp")))
            nonces.add(_challenge(sock.recv(4096))["nonce"])
    assert len(nonces) == 2


def test_garbage_is_recorded_unanswered(target: LocalEmulator) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        sock.sendto(b"\x00\x01garbage", (target.host, target.port(5060, "udp")))
        try:
            answer = sock.recv(4096)
        except TimeoutError:
            answer = b""
    assert answer == b""
    (data,) = target.events("data", wait=3)
    assert data.fields["bytes"] == "9"


def test_svmap_names_asterisk(target: LocalEmulator) -> None:
    require_tools("svmap", packages="sipvicious")
    out = subprocess.run(["svmap", "-p", str(target.port(5060, "udp")), target.host],
                         capture_output=True, text=True, timeout=30)
    assert "Asterisk PBX 20.9.3" in out.stdout, out.stdout + out.stderr


def test_nmap_names_asterisk_over_udp(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(5060, "udp"), udp=True)
    assert "Asterisk PBX 20.9.3" in line, line


def test_invite_is_challenged_and_ack_unanswered(target: LocalEmulator) -> None:
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
          "m=audio 4000 RTP/AVP 0\r\n"
    head = ["INVITE sip:900442079460000@acme.internal SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKinv1", "Max-Forwards: 70",
            "From: \"100\" <sip:100@acme.internal>;tag=f00",
            "To: <sip:900442079460000@acme.internal>",
            "Call-ID: inv-1", "CSeq: 1 INVITE", "Contact: <sip:100@127.0.0.1:5099>",
            "Content-Type: application/sdp", f"Content-Length: {len(sdp)}"]
    invite = ("\r\n".join(head) + "\r\n\r\n" + sdp).encode()
    ack = ("\r\n".join([h.replace("1 INVITE", "1 ACK").replace("INVITE sip", "ACK sip")
                        for h in head[:9]] + ["Content-Length: 0"]) + "\r\n\r\n").encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.connect((target.host, target.port(5060, "udp")))
        sock.send(invite)
        reply = sock.recv(4096)
        assert reply.startswith(b"SIP/2.0 401 Unauthorized\r\n")
        assert b"CSeq: 1 INVITE\r\n" in reply and f"received={target.source}".encode() in reply
        sock.settimeout(1)
        sock.send(ack)
        try:
            extra = sock.recv(4096)
        except TimeoutError:
            extra = b""
    assert extra == b""
    requests = target.events("request", wait=3)
    assert [r.fields["method"] for r in requests] == ["INVITE"]
    assert requests[0].fields["uri"] == "sip:900442079460000@acme.internal"
