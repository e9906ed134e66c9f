"""k8s's serving certificate as kubeadm issues it, derived from the persona seed.

Subject `CN=kube-apiserver`, issued by the cluster CA `CN=kubernetes`, one year from the last
yearly renewal, SANs: the node name, `kubernetes`, `kubernetes.default[.svc[.cluster.local]]`,
the service IP and the address the client connected to. ALPN offers http/1.1 only.
`tls_cert`/`tls_key` in the config replace it (decnet_emu.tls then serves them).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from typing import Any

from decnet_emu.persona import Persona
from decnet_emu.session import Session
from decnet_emu.tls import context_from_pem, server_context

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_CONTEXTS: dict[tuple[str, str, str], ssl.SSLContext] = {}


def _ec_key(persona: Persona, label: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    secret = int.from_bytes(persona.derive(label), "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(secret, ec.SECP256R1())


def certificate_pem(persona: Persona, address: str, service_ip: str) -> tuple[bytes, bytes]:
    """(serving certificate PEM, key PEM) as kubeadm issues them, from the persona seed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    ca_key, key = _ec_key(persona, "k8s-ca-key"), _ec_key(persona, "k8s-apiserver-key")
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    year = 2022 + persona.number("k8s-ca-year", 3)
    ca_start = datetime.datetime(year, 1 + persona.number("k8s-ca-month", 12),
                                 1 + persona.number("k8s-ca-day", 28),
                                 persona.number("k8s-ca-hour", 24), tzinfo=datetime.UTC)
    now = datetime.datetime.now(datetime.UTC)
    renewals = max(0, (now - ca_start).days // 365)
    start = ca_start + datetime.timedelta(days=365 * renewals)
    names: list[x509.GeneralName] = [
        x509.DNSName(persona.hostname), x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"), x509.DNSName("kubernetes.default.svc"),
        x509.DNSName("kubernetes.default.svc.cluster.local")]
    for text in (service_ip, address):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            continue
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(persona.derive(f"k8s-serial/{renewals}", 8), "big") >> 1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=True, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def tls_context(session: Session) -> ssl.SSLContext:
    """The serving context: the configured PEMs, else the kubeadm-like certificate."""
    config = session.config
    if config.get("tls_cert") and config.get("tls_key"):
        return server_context(session.persona, config)
    service_ip = str(config.get("service_ip") or "10.96.0.1")
    key = (session.persona.seed.hex(), session.dst_ip, service_ip)
    if key not in _CONTEXTS:
        cert, private = certificate_pem(session.persona, session.dst_ip, service_ip)
        context = context_from_pem(cert, private, alpn=["http/1.1"])
        _CONTEXTS[key] = context
    return _CONTEXTS[key]

