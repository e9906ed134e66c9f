"""smtp: Python's smtplib (STARTTLS, AUTH, mail) and swaks against the Postfix emulator, nmap."""

from __future__ import annotations

import smtplib
import socket
import ssl
import subprocess

import pytest

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools

SERVICE = "smtp"
PORTS = ["25/tcp", "587/tcp"]
CONFIG = {"fail_delay": 0.1}
PERSONA = {"domain": "corp.example"}


def _no_verify() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_starttls_and_auth_are_recorded(target: LocalEmulator) -> None:
    with smtplib.SMTP(target.host, target.port(25), timeout=10) as smtp:
        code, greeting = smtp.ehlo("attacker.example")
        assert code == 250 and greeting.startswith(b"decky01.corp.example\n")
        assert smtp.has_extn("starttls") and smtp.has_extn("chunking")
        code, _ = smtp.starttls(context=_no_verify())
        assert code == 220
        assert isinstance(smtp.sock, ssl.SSLSocket)
        cert = smtp.sock.getpeercert(binary_form=True)
        assert cert
        smtp.ehlo("attacker.example")
        assert not smtp.has_extn("starttls")
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            smtp.login("postmaster", "Winter2024!")
        assert failed.value.smtp_code == 535
        assert failed.value.smtp_error.startswith(b"5.7.8 Error: authentication failed")
    logins = target.events("login", wait=3)
    assert {e.fields["mech"] for e in logins} == {"PLAIN", "LOGIN"}  # smtplib tries both
    for login in logins:
        assert login.fields["username"] == "postmaster"
        assert login.fields["password"] == "Winter2024!"
        assert login.fields["success"] == "false"
        assert login.src_ip == target.source


def test_local_mail_is_taken_and_relay_denied(target: LocalEmulator) -> None:
    message = ("From: ceo@corp.example\r\nTo: it@corp.example\r\nSubject: urgent invoice\r\n"
               "\r\nplease pay\r\n.dot line\r\n")
    with smtplib.SMTP(target.host, target.port(587), timeout=10) as smtp:
        smtp.ehlo("mx.attacker.example")
        refused = smtp.sendmail("ceo@corp.example", ["it@corp.example", "x@gmail.com"], message)
        assert refused == {"x@gmail.com": (454, b"4.7.1 <x@gmail.com>: Relay access denied")}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("a@b.example", ["victim@elsewhere.example"], "Subject: x\r\n\r\nx")
    (mail,) = target.events("transfer", wait=3)
    assert mail.fields["mail_from"] == "ceo@corp.example"
    assert mail.fields["rcpt_to"] == "it@corp.example"
    assert mail.fields["subject"] == "urgent invoice"
    assert mail.src_ip == target.source
    rcpts = [e for e in target.events("command") if e.fields["command"] == "RCPT"]
    assert [e.fields["accepted"] for e in rcpts] == ["true", "false", "false"]


def test_swaks_tls_auth_login(target: LocalEmulator) -> None:
    require_tools("swaks", packages="swaks")
    out = subprocess.run(["swaks", "--server", f"{target.host}:{target.port(25)}", "--tls",
                          "--auth", "LOGIN", "--auth-user", "svc_backup", "--auth-password",
                          "Backup#1", "--to", "root@decky01.corp.example", "--timeout", "10"],
                         capture_output=True, text=True, timeout=30)
    assert "<-  220 2.0.0 Ready to start TLS" in out.stdout
    assert "535 5.7.8 Error: authentication failed" in out.stdout + out.stderr
    (login,) = target.events("login", wait=3)
    assert (login.fields["username"], login.fields["password"]) == ("svc_backup", "Backup#1")
    assert login.fields["mech"] == "LOGIN"


def test_plain_text_pipelined_after_starttls_is_dropped(target: LocalEmulator) -> None:
    with socket.create_connection((target.host, target.port(25)), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"EHLO x\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        sock.sendall(b"STARTTLS\r\nVRFY root\r\n")
        assert reader.readline() == b"220 2.0.0 Ready to start TLS\r\n"
        with _no_verify().wrap_socket(sock, server_hostname="decky01") as tls:
            tls.sendall(b"NOOP\r\n")
            assert tls.recv(100) == b"250 2.0.0 Ok\r\n"  # VRFY was not run: no 252
            tls.sendall(b"QUIT\r\n")
            assert tls.recv(100) == b"221 2.0.0 Bye\r\n"
    dropped = [e for e in target.events("data", wait=3) if "STARTTLS" in e.fields.get("note", "")]
    assert dropped and dropped[0].fields["data"] == "VRFY root\r\n"


def test_windows_persona_looks_like_exchange() -> None:
    persona = {"os_family": "windows", "hostname": "EX01", "domain": "corp.example",
               "versions": {"smtp": "Microsoft ESMTP MAIL Service"}}
    for emulator in local_emulator(SERVICE, PORTS, CONFIG, persona):
        with smtplib.SMTP(emulator.host, emulator.port(25), timeout=10) as smtp:
            _, text = smtp.ehlo("x.example")
            assert text.startswith(b"EX01.corp.example Hello [")
            assert smtp.has_extn("x-anonymoustls")
            smtp.starttls(context=_no_verify())
            smtp.ehlo("x.example")
            with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
                smtp.login("CORP\\svc_scan", "Scan2024")
            assert failed.value.smtp_error == b"5.7.3 Authentication unsuccessful"
            refused = smtp.sendmail("a@corp.example", ["b@corp.example", "c@gmail.com"], "x")
            assert refused["c@gmail.com"][0] == 550
        (login,) = emulator.events("login", wait=3)
        assert login.fields["username"] == "CORP\\svc_scan" and login.fields["mech"] == "LOGIN"
        require_tools("nmap", packages="nmap")
        assert "Microsoft Exchange smtpd" in nmap_service(emulator.host, emulator.port(25))


def test_nmap_names_postfix(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(25))
    assert "Postfix smtpd" in line
