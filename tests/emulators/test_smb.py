"""smb: Samba's smbclient and impacket's SMBConnection against the emulator (Samba persona
and Windows persona), NetBIOS on 139, nmap -sV."""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
import subprocess

import pytest

from tests.emulators.harness import LocalEmulator, nmap_service, require_tools, target_fixtures

SERVICE = "smb"
PORTS = ["445/tcp", "139/tcp"]
CONFIG = {"workgroup": "WORKGROUP"}
WINDOWS = {"hostname": "fs01", "domain": "corp.internal", "os_family": "windows",
           "os_name": "Windows Server 2019 Standard"}
# nmap's SMBProgNeg probe: an SMB1 NEGOTIATE offering SMB1 dialects only
SMB1_NEGOTIATE = (b"\xffSMBr\0\0\0\0\x08\x01\x40" + b"\0" * 14 + b"\x40\x06\0\0\x01\0\0\x81\0"
                  + b"".join(b"\x02" + d + b"\0" for d in (
                      b"PC NETWORK PROGRAM 1.0", b"MICROSOFT NETWORKS 1.03",
                      b"MICROSOFT NETWORKS 3.0", b"LANMAN1.0", b"LM1.2X002", b"Samba",
                      b"NT LANMAN 1.0", b"NT LM 0.12")))


# the same service on a Windows persona (deployed: a windows-server decky)
windows_deployed, windows = target_fixtures("windows", SERVICE, ["445/tcp"], persona=WINDOWS)


def _whole_hash(fields: dict[str, str]) -> str:
    return "".join(fields.get(k, "") for k in ["hash"] + [f"hash_{i}" for i in range(2, 13)])


def _nt_hash(password: str) -> bytes | None:
    try:
        from Cryptodome.Hash import MD4  # impacket's dependency (pycryptodomex)
    except ImportError:
        return None
    return bytes.fromhex(MD4.new(password.encode("utf-16-le")).hexdigest())


def _check_netntlmv2(hashcat: str, password: str) -> None:
    user, _, domain, challenge, proof, blob = hashcat.split(":")
    nt = _nt_hash(password)
    if nt is None:
        return
    key = hmac.new(nt, (user.upper() + domain).encode("utf-16-le"), hashlib.md5).digest()
    assert hmac.new(key, bytes.fromhex(challenge + blob), hashlib.md5).hexdigest() == proof


def test_smbclient_login_is_recorded(target: LocalEmulator) -> None:
    require_tools("smbclient", packages="smbclient")
    out = subprocess.run(["smbclient", "-L", f"//{target.host}", "-p", str(target.port(445)),
                          "-U", "alice%Passw0rd"], capture_output=True, text=True, timeout=20)
    assert "NT_STATUS_LOGON_FAILURE" in out.stdout + out.stderr
    (login,) = target.events("login", wait=3)
    assert login.src_ip == target.source
    fields = login.fields
    assert (fields["username"], fields["domain"], fields["ntlm"]) == \
        ("alice", "WORKGROUP", "netntlmv2")
    assert fields["workstation"]
    whole = _whole_hash(fields)
    assert whole.startswith(f"alice::WORKGROUP:{fields['challenge']}:")
    _check_netntlmv2(whole, "Passw0rd")
    (negotiate,) = [e for e in target.events("request") if e.fields.get("method") == "NEGOTIATE"]
    assert "0x0311" in negotiate.fields["dialects"]


def test_impacket_smb3_against_windows_persona(windows: LocalEmulator) -> None:
    from impacket.smbconnection import SessionError, SMBConnection

    conn = SMBConnection("*SMBSERVER", windows.host, sess_port=windows.port(445), timeout=5)
    assert conn.getDialect() == 0x0311
    with pytest.raises(SessionError) as failure:
        conn.login("bob", "Summer2024", "CORP")
    assert failure.value.getErrorCode() == 0xC000006D
    assert conn.getServerName() == "FS01"
    assert conn.getServerDNSDomainName() == "corp.internal"
    (login,) = windows.events("login", wait=3)
    assert (login.fields["username"], login.fields["domain"]) == ("bob", "CORP")
    assert login.src_ip == windows.source
    _check_netntlmv2(_whole_hash(login.fields), "Summer2024")


def test_impacket_smb1_legacy_login(target: LocalEmulator) -> None:
    from impacket import smb
    from impacket.smbconnection import SessionError, SMBConnection

    conn = SMBConnection("*SMBSERVER", target.host, sess_port=target.port(445), timeout=5,
                         preferredDialect=smb.SMB_DIALECT)
    with pytest.raises(SessionError):
        conn.login("carol", "pw", "CORP")
    (login,) = target.events("login", wait=3)
    assert login.fields["username"] == "carol"
    assert login.fields["hash"].startswith("carol::CORP:")


def test_netbios_session_and_smb1_probe_on_139(target: LocalEmulator) -> None:
    def name(text: str) -> bytes:
        raw = text.ljust(16).encode()
        return b"\x20" + bytes(c for b in raw for c in (65 + (b >> 4), 65 + (b & 15))) + b"\0"

    with socket.create_connection((target.host, target.port(139)), timeout=5) as sock:
        request = name("*SMBSERVER") + name("KALI")
        sock.sendall(b"\x81\0" + struct.pack(">H", len(request)) + request)
        assert sock.recv(4) == b"\x82\0\0\0"
        sock.sendall(struct.pack(">I", len(SMB1_NEGOTIATE)) + SMB1_NEGOTIATE)
        answer = sock.recv(4096)
    assert answer[4:9] == b"\xffSMBr"
    assert answer[36:39] == b"\x11\x06\0"  # 17 words, "NT LANMAN 1.0" as Samba picks
    assert "WORKGROUP".encode("utf-16-le") in answer
    (session,) = [e for e in target.events("request", wait=3)
                  if e.fields.get("method") == "netbios-session"]
    assert (session.fields["called"], session.fields["calling"]) == ("*SMBSERVER", "KALI")


def test_garbage_is_recorded(target: LocalEmulator) -> None:
    with socket.create_connection((target.host, target.port(445)), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert sock.recv(10) == b""
    assert target.events("data", wait=3)


def test_nmap_names_samba(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    assert "Samba smbd" in nmap_service(target.host, target.port(445))


def test_nmap_names_windows(windows: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(windows.host, windows.port(445))
    assert "Microsoft Windows" in line and "microsoft-ds" in line
