"""ftp: Python's ftplib and curl against the vsftpd emulator, and nmap."""

from __future__ import annotations

import ftplib
import io
import subprocess

import pytest

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools

SERVICE = "ftp"
PORTS = ["21/tcp"]
CONFIG = {"anonymous": True, "fail_delay": 0.2}


def test_wrong_password_is_refused_and_recorded(target: LocalEmulator) -> None:
    with ftplib.FTP() as ftp:
        greeting = ftp.connect(target.host, target.port(21), timeout=10)
        assert greeting == "220 (vsFTPd 3.0.3)"
        with pytest.raises(ftplib.error_perm, match=r"530 Login incorrect\."):
            ftp.login("root", "toor")
        with pytest.raises(ftplib.error_perm, match=r"530 Please login with USER and PASS\."):
            ftp.sendcmd("SYST")
    (login,) = target.events("login", wait=3)
    assert (login.fields["username"], login.fields["password"]) == ("root", "toor")
    assert login.fields["success"] == "false"
    assert login.src_ip == target.source


def test_anonymous_listing_and_download(target: LocalEmulator) -> None:
    with ftplib.FTP() as ftp:
        ftp.connect(target.host, target.port(21), timeout=10)
        assert ftp.login("anonymous", "guest@example.org").startswith("230")
        assert ftp.sendcmd("SYST") == "215 UNIX Type: L8"
        assert " EPSV" in ftp.sendcmd("FEAT")
        lines: list[str] = []
        ftp.retrlines("LIST", lines.append)  # PASV
        assert any(line.startswith("drwxr-xr-x") and line.endswith(" pub") for line in lines)
        ftp.cwd("pub")
        assert ftp.pwd() == "/pub"
        assert "README" in ftp.nlst()
        data = io.BytesIO()
        ftp.retrbinary("RETR README", data.write)
        assert b"anonymous FTP" in data.getvalue()
        with pytest.raises(ftplib.error_perm, match=r"550 Permission denied\."):
            ftp.storbinary("STOR x.txt", io.BytesIO(b"x"))
    (login,) = target.events("login", wait=3)
    assert login.fields["username"] == "anonymous" and login.fields["success"] == "true"
    transfers = target.events("transfer", wait=3)
    download = next(e for e in transfers if e.fields["direction"] == "download")
    assert download.fields["path"] == "/pub/README"
    assert int(download.fields["bytes"]) == len(data.getvalue())
    assert download.src_ip == target.source
    assert any(e.fields["direction"] == "upload" and e.fields["allowed"] == "false"
               for e in transfers)


def test_curl_lists_and_fetches(target: LocalEmulator) -> None:
    require_tools("curl", packages="curl")
    base = f"ftp://{target.host}:{target.port(21)}"
    out = subprocess.run(["curl", "-sS", "--max-time", "15", f"{base}/pub/"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert "SHA256SUMS" in out.stdout
    out = subprocess.run(["curl", "-sS", "--max-time", "15", "-u", "admin:Summer2024",
                          f"{base}/"], capture_output=True, text=True, timeout=20)
    assert out.returncode != 0 and "530" in out.stderr
    logins = target.events("login", wait=3)
    assert ("admin", "Summer2024", "false") in [
        (e.fields["username"], e.fields.get("password"), e.fields["success"]) for e in logins]


@pytest.mark.local_only
def test_curl_active_mode(target: LocalEmulator) -> None:
    """Active mode (EPRT/PORT): the server connects back to the client. Local only: a
    deployed decky may not open connections to the host (containment, docs/containment.md),
    so there the data connection is refused, as it should be."""
    require_tools("curl", packages="curl")
    base = f"ftp://{target.host}:{target.port(21)}"
    out = subprocess.run(["curl", "-sS", "--max-time", "15", "--ftp-port", "-",
                          f"{base}/pub/INDEX"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert "agent-setup" in out.stdout


def test_windows_persona_is_microsoft_ftp_service() -> None:
    persona = {"os_family": "windows", "hostname": "FS01",
               "versions": {"ftp": "Microsoft FTP Service"}}
    for emulator in local_emulator(SERVICE, PORTS, CONFIG, persona):
        with ftplib.FTP() as ftp:
            assert ftp.connect(emulator.host, emulator.port(21), timeout=10) == \
                "220 Microsoft FTP Service"
            with pytest.raises(ftplib.error_perm, match=r"530 User cannot log in\."):
                ftp.login("Administrator", "Passw0rd")
            ftp.login("anonymous", "a@b.c")
            assert ftp.sendcmd("SYST") == "215 Windows_NT"
            lines: list[str] = []
            ftp.retrlines("LIST", lines.append)
            assert any("<DIR>" in line and line.endswith(" pub") for line in lines)
        logins = emulator.events("login", wait=3)
        assert [e.fields["username"] for e in logins] == ["Administrator", "anonymous"]
        require_tools("nmap", packages="nmap")
        assert "Microsoft ftpd" in nmap_service(emulator.host, emulator.port(21))


def test_nmap_names_vsftpd(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(21))
    assert "vsftpd 3.0.3" in line
