"""vnc: an RFB 3.8 client doing VNC authentication (DES), and nmap -sV."""

from __future__ import annotations

import socket
import struct
import warnings

from tests.emulators.harness import LocalEmulator, nmap_service, require_tools

SERVICE = "vnc"
PORTS = ["5900/tcp"]


def _vnc_response(password: str, challenge: bytes) -> bytes:
    """What a VNC viewer sends: DES of the challenge, key = password with bits mirrored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
        from cryptography.hazmat.primitives.ciphers import Cipher, modes
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in password.encode()[:8].ljust(8, b"\0"))
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


def _recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_rfb38_vnc_auth_is_recorded(target: LocalEmulator) -> None:
    with socket.create_connection((target.host, target.port(5900)), timeout=5) as sock:
        assert _recv(sock, 12) == b"RFB 003.008\n"
        sock.sendall(b"RFB 003.008\n")
        count = _recv(sock, 1)[0]
        assert 2 in _recv(sock, count)
        sock.sendall(b"\x02")
        challenge = _recv(sock, 16)
        response = _vnc_response("secret", challenge)
        sock.sendall(response)
        status, size = struct.unpack(">II", _recv(sock, 8))
        assert status == 1
        assert _recv(sock, size) == b"Authentication failed"
    (login,) = target.events("login", wait=3)
    assert login.src_ip == target.source
    assert login.fields["challenge"] == challenge.hex()
    assert login.fields["hash"] == f"$vnc$*{challenge.hex().upper()}*{response.hex().upper()}"


def test_challenge_differs_per_session(target: LocalEmulator) -> None:
    seen = set()
    for _ in range(2):
        with socket.create_connection((target.host, target.port(5900)), timeout=5) as sock:
            _recv(sock, 12)
            sock.sendall(b"RFB 003.003\n")
            assert _recv(sock, 4) == b"\0\0\0\x02"
            seen.add(_recv(sock, 16))
    assert len(seen) == 2


def test_garbage_is_recorded_and_closed(target: LocalEmulator) -> None:
    with socket.create_connection((target.host, target.port(5900)), timeout=5) as sock:
        _recv(sock, 12)
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert sock.recv(100) == b""
    assert target.events("data", wait=3)


def test_nmap_names_vnc(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(5900))
    assert "VNC" in line and "protocol 3.8" in line
