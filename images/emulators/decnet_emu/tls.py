"""TLS for a persona: a certificate for its FQDN, derived deterministically from its seed.

The key is an EC P-256 key whose secret is derived from the persona seed, the certificate is
self-signed with fixed dates and a derived serial: a recreated decky presents the same
certificate, two deckies never share one. `service_config` may give `tls_cert`/`tls_key`
(PEM text) to replace it.
"""

from __future__ import annotations

import datetime
import os
import ssl
import tempfile
from typing import Any

from decnet_emu.persona import Persona

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def certificate_pem(persona: Persona, organization: str = "") -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for this persona's FQDN."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    secret = int.from_bytes(persona.derive("tls-key"), "big") % (_P256_ORDER - 1) + 1
    key = ec.derive_private_key(secret, ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, persona.fqdn)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    name = x509.Name(attrs)
    year = 2023 + persona.number("tls-year", 3)
    start = datetime.datetime(year, 1 + persona.number("tls-month", 12), 1,
                              tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(persona.derive("tls-serial", 16), "big") >> 1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(persona.fqdn), x509.DNSName(persona.hostname)]), critical=False)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)  # RFC 6979: same bytes each time
    )
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


_CONTEXTS: dict[tuple[str, str, str, str], ssl.SSLContext] = {}


def _context(persona: Persona, cert_pem: str, key_pem: str) -> ssl.SSLContext:
    """Build the context once per (persona identity, configured PEMs).

    Persona carries a dict and is not hashable, so the cache key is its FQDN and seed.
    """
    key = (persona.fqdn, persona.seed.hex(), cert_pem, key_pem)
    if key not in _CONTEXTS:
        _CONTEXTS[key] = _build_context(persona, cert_pem, key_pem)
    return _CONTEXTS[key]


def _build_context(persona: Persona, cert_pem: str, key_pem: str) -> ssl.SSLContext:
    if not cert_pem or not key_pem:
        cert, key = certificate_pem(persona)
        cert_pem, key_pem = cert.decode(), key.decode()
    return context_from_pem(cert_pem.encode(), key_pem.encode())


def context_from_pem(cert_pem: bytes, key_pem: bytes,
                     alpn: list[str] | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ server context serving this certificate and key (PEM), offering `alpn`.

    Python's ssl loads a chain only from files: they live for the call in a private folder.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        context.set_alpn_protocols(alpn)
    with tempfile.TemporaryDirectory(dir=_tmp_dir()) as folder:
        cert_path, key_path = os.path.join(folder, "c.pem"), os.path.join(folder, "k.pem")
        with open(cert_path, "wb") as handle:
            handle.write(cert_pem)
        with open(key_path, "wb") as handle:
            handle.write(key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context


def _tmp_dir() -> str | None:
    for folder in ("/run/decnet", "/tmp", "/dev/shm"):
        if os.path.isdir(folder) and os.access(folder, os.W_OK):
            return folder
    return None


def server_context(persona: Persona, config: dict[str, Any] | None = None) -> ssl.SSLContext:
    """A TLS server context with the persona's certificate (or the configured one)."""
    config = config or {}
    return _context(persona, str(config.get("tls_cert") or ""), str(config.get("tls_key") or ""))
