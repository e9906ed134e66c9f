"""Pure certificate building: keys, the CA certificate, server and client certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from decnet_lib.pki.errors import PkiError

KeyType = Literal["ec", "rsa"]
Kind = Literal["server", "client"]
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
CA_DAYS = 3650
LEAF_DAYS = 825
MAX_LEAF_DAYS = 3650
DEFAULT_SERVER_SANS = ("localhost", "127.0.0.1")
ORGANIZATION = "MazeNET"
BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew between hosts
DNS_RE = re.compile(r"^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?)+$")
EKU = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}


def new_key(key_type: KeyType = "ec") -> SigningKey:
    """EC P-256 (default) or RSA 2048."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise PkiError(f"unknown key type {key_type!r}: use ec or rsa")


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_usage(key: SigningKey, *, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca and isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(key: SigningKey, common_name: str, days: int = CA_DAYS) -> x509.Certificate:
    """A self-signed CA certificate that may sign leaf certificates only (pathlen 0)."""
    now = _now()
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def parse_san(value: str) -> x509.GeneralName:
    """An IP address when it parses as one, else a DNS name (checked)."""
    text = value.strip()
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    if len(text) > 253 or not DNS_RE.match(text):
        raise PkiError(f"invalid --san {value!r}: expected a DNS name or an IP address")
    return x509.DNSName(text.lower().rstrip("."))


def parse_sans(values: Iterable[str]) -> list[x509.GeneralName]:
    """Parsed SANs in order, without duplicates."""
    return list(dict.fromkeys(parse_san(value) for value in values))


def san_text(name: x509.GeneralName) -> str:
    """One SAN as text (what `--san` takes)."""
    return str(name.value)


def make_leaf(
    key: SigningKey,
    name: str,
    kind: Kind,
    ca_cert: x509.Certificate,
    ca_key: SigningKey,
    sans: Sequence[x509.GeneralName],
    days: int = LEAF_DAYS,
) -> x509.Certificate:
    """A server (serverAuth + SANs) or client (clientAuth) certificate signed by the CA.

    Its validity ends no later than the CA's.
    """
    now = _now()
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    public = key.public_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([EKU[kind]]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def cert_kind(cert: x509.Certificate) -> Kind | None:
    """'server' or 'client' from the EKU (None when it has neither)."""
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if ExtendedKeyUsageOID.SERVER_AUTH in usages:
        return "server"
    if ExtendedKeyUsageOID.CLIENT_AUTH in usages:
        return "client"
    return None


def cert_sans(cert: x509.Certificate) -> list[x509.GeneralName]:
    """The certificate's SANs (empty when it has none)."""
    try:
        return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


def signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """True when the CA's key signed this certificate."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
