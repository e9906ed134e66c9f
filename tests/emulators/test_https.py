"""https: real TLS with the persona's certificate; curl, ssl, httpx and nmap against it."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from tests.emulators.harness import LocalEmulator, nmap_service, require_tools
from tests.emulators.waiting import wait_for

SERVICE = "https"
PERSONA = {"hostname": "decky01", "domain": "corp.internal"}  # deployed: the same FQDN
PORTS = ["443/tcp"]
FQDN = "decky01.corp.internal"  # the persona's FQDN (hostname decky01, default domain)


def peer_certificate(target: LocalEmulator) -> bytes:
    """The DER certificate the server presents (read without verification)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((target.host, target.port(443)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=FQDN) as tls:
        der = tls.getpeercert(binary_form=True)
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert der
    return der


def _ca_file(target: LocalEmulator, tmp_path: Path) -> Path:
    path = tmp_path / "persona.pem"
    path.write_text(ssl.DER_cert_to_PEM_cert(peer_certificate(target)))
    return path


def test_certificate_names_the_persona(target: LocalEmulator) -> None:
    cert = x509.load_der_x509_certificate(peer_certificate(target))
    (common_name,) = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert common_name.value == FQDN
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert FQDN in names.get_values_for_type(x509.DNSName)
    assert peer_certificate(target) == cert.public_bytes(Encoding.DER)  # stable


def test_curl_verifies_the_certificate(target: LocalEmulator, tmp_path: Path) -> None:
    require_tools("curl", packages="curl")
    ca = _ca_file(target, tmp_path)
    port = target.port(443)
    out = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", "--cacert", str(ca),
                          "--resolve", f"{FQDN}:{port}:{target.host}",
                          f"https://{FQDN}:{port}/"], capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode("latin-1")
    assert text.startswith("HTTP/1.1 200 OK")
    assert "\r\nServer: Apache/2.4.57 (Debian)\r\n" in text
    assert "Apache2 Debian Default Page" in text
    request = wait_for(target, "request", lambda e: e.fields["path"] == "/")
    assert request.src_ip == target.source
    # a client that checks names refuses the address the certificate does not carry
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", str(ca),
                          f"https://{target.host}:{port}/"], capture_output=True, timeout=20)
    assert out.returncode != 0


def test_openssl_client_sending_at_once(target: LocalEmulator) -> None:
    """openssl s_client sends its ClientHello the moment it connects (as nmap and Go do):
    the handshake must not depend on the server reading first."""
    require_tools("openssl", packages="openssl")
    for _ in range(3):
        out = subprocess.run(["openssl", "s_client", "-quiet", "-connect",
                              f"{target.host}:{target.port(443)}", "-servername", FQDN],
                             input=b"GET /nope HTTP/1.0\r\n\r\n", capture_output=True,
                             timeout=20)
        assert out.stdout.startswith(b"HTTP/1.1 404 Not Found\r\n"), out.stderr
        assert f"CN = {FQDN}".encode() in out.stderr
    wait_for(target, "request", lambda e: e.fields["path"] == "/nope")


def test_form_login_post_and_404_over_tls(target: LocalEmulator, tmp_path: Path) -> None:
    ca = _ca_file(target, tmp_path)
    base = f"https://{target.host}:{target.port(443)}"
    with httpx.Client(base_url=base, verify=_no_name_check(ca), timeout=10) as client:
        missing = client.get("/.env")
        assert missing.status_code == 404
        assert missing.headers["server"] == "Apache/2.4.57 (Debian)"
        answer = client.post("/wp-login.php", data={"log": "editor", "pwd": "P@ssw0rd"})
    assert answer.status_code == 200
    login = wait_for(target, "login", lambda e: e.fields.get("mech") == "form")
    assert (login.fields["username"], login.fields["password"]) == ("editor", "P@ssw0rd")
    assert login.fields["success"] == "false"
    assert login.src_ip == target.source
    post = wait_for(target, "request", lambda e: e.fields.get("method") == "POST")
    assert post.fields["body"] == "log=editor&pwd=P%40ssw0rd"


def test_basic_auth_over_tls(target: LocalEmulator, tmp_path: Path) -> None:
    ca = _ca_file(target, tmp_path)
    response = httpx.get(f"https://{target.host}:{target.port(443)}/webdav/",
                         auth=("admin", "admin123"), verify=_no_name_check(ca), timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Restricted Area"'
    login = wait_for(target, "login", lambda e: e.fields.get("mech") == "basic")
    assert (login.fields["username"], login.fields["password"]) == ("admin", "admin123")


def test_plain_http_on_the_tls_port(target: LocalEmulator) -> None:
    require_tools("curl", packages="curl")
    out = subprocess.run(["curl", "-sS", "-i", "--max-time", "10",
                          f"http://{target.host}:{target.port(443)}/admin"],
                         capture_output=True, timeout=20)
    text = out.stdout.decode("latin-1")
    assert text.startswith("HTTP/1.1 400 Bad Request\r\n")
    assert "Reason: You're speaking plain HTTP to an SSL-enabled server port." in text
    request = wait_for(target, "request", lambda e: e.fields.get("tls") == "false")
    assert request.fields["path"] == "/admin"
    assert request.src_ip == target.source


def test_tls_garbage_is_refused_and_recorded(target: LocalEmulator) -> None:
    with socket.create_connection((target.host, target.port(443)), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")
        sock.settimeout(10)
        try:
            reply = sock.recv(100)
        except ConnectionResetError:
            reply = b""
    assert reply[:1] == b"\x15"  # a TLS alert record, as a real server sends
    failed = wait_for(target, "data", lambda e: "tls" in e.fields.get("reason", ""))
    assert failed.src_ip == target.source


@pytest.fixture
def on_ssl_port() -> Iterator[LocalEmulator]:
    """The emulator on a port nmap knows as a TLS port (it tries TLS first there, as on 443;
    elsewhere its plain GET meets Apache's "plain HTTP" page first and it says http)."""
    port = next((p for p in (44443, 14443, 10443, 9443, 7443, 4443, 3443)
                 if _free(p)), None)
    if port is None:
        pytest.skip("no free port among nmap's TLS ports")
    emulator = LocalEmulator(SERVICE, {"443/tcp": port})
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_nmap_names_ssl_http_apache(on_ssl_port: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(on_ssl_port.host, on_ssl_port.port(443))
    assert "ssl/http" in line and "Apache httpd 2.4.57" in line, line


def _no_name_check(ca: Path) -> ssl.SSLContext:
    """Trust the persona's certificate but connect by address (no DNS for the FQDN)."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    return context
