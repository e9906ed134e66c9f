"""Issue server and client certificates signed by the CA (idempotent)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from decnet_lib.pki.ca import load_ca
from decnet_lib.pki.certs import (
    DEFAULT_SERVER_SANS,
    LEAF_DAYS,
    MAX_LEAF_DAYS,
    KeyType,
    Kind,
    cert_kind,
    cert_sans,
    make_leaf,
    new_key,
    parse_sans,
    san_text,
    signed_by,
)
from decnet_lib.pki.errors import PkiError
from decnet_lib.pki.files import (
    CERT_MODE,
    KEY_MODE,
    cert_pem,
    key_pem,
    load_cert,
    load_key,
    same_public_key,
    write_atomic,
)
from decnet_lib.pki.paths import PkiPaths, check_name


@dataclass(frozen=True)
class IssueResult:
    """The certificate and key files, and whether this call created them."""

    name: str
    kind: Kind
    cert: Path
    key: Path
    created: bool
    not_after: str
    sans: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"changed": self.created, "name": self.name, "kind": self.kind,
                "cert": str(self.cert), "key": str(self.key), "not_after": self.not_after,
                "sans": self.sans}


def _result(name: str, kind: Kind, paths: PkiPaths, cert: x509.Certificate,
            created: bool) -> IssueResult:
    return IssueResult(name, kind, paths.cert(name), paths.key(name), created,
                       cert.not_valid_after_utc.isoformat(),
                       [san_text(san) for san in cert_sans(cert)])


def _check_existing(
    paths: PkiPaths, name: str, kind: Kind, sans: list[x509.GeneralName],
    ca_cert: x509.Certificate,
) -> x509.Certificate:
    """The existing certificate when it is exactly what was asked for; else a clear error."""
    cert_path, key_path = paths.cert(name), paths.key(name)
    for path in (cert_path, key_path):
        if not path.exists():
            raise PkiError(f"{path} is missing but {name}'s other file exists: "
                           "use --force to issue a new pair")
    cert, key = load_cert(cert_path), load_key(key_path)
    hint = "use --force to reissue"
    if not same_public_key(cert, key):
        raise PkiError(f"{key_path} does not belong to {cert_path}: {hint}")
    if not signed_by(cert, ca_cert):
        raise PkiError(f"{cert_path} was not issued by the CA in {paths.root}: {hint}")
    existing_kind = cert_kind(cert)
    if existing_kind != kind:
        raise PkiError(f"{cert_path} exists as a {existing_kind or 'plain'} certificate, "
                       f"not a {kind} one: {hint}")
    if set(cert_sans(cert)) != set(sans):
        have = ", ".join(san_text(san) for san in cert_sans(cert)) or "none"
        raise PkiError(f"{cert_path} exists with other SANs ({have}): {hint}")
    return cert


def issue(
    pki_dir: Path,
    name: str,
    kind: Kind,
    *,
    sans: Sequence[str] | None = None,
    days: int = LEAF_DAYS,
    key_type: KeyType = "ec",
    force: bool = False,
) -> IssueResult:
    """Issue `<name>.crt` + `<name>.key` (0600) signed by the CA of `pki_dir`.

    Server certificates carry serverAuth and SANs (default: localhost, 127.0.0.1); client
    certificates carry clientAuth (and SANs only when given). An existing pair that matches
    the request is kept; one that differs is an error unless `force`.
    """
    check_name(name)
    if kind not in ("server", "client"):
        raise PkiError(f"unknown certificate kind {kind!r}: use server or client")
    if not 1 <= days <= MAX_LEAF_DAYS:
        raise PkiError(f"--days must be between 1 and {MAX_LEAF_DAYS}, got {days}")
    wanted = list(sans or ())
    if kind == "server" and not wanted:
        wanted = list(DEFAULT_SERVER_SANS)
    general_names = parse_sans(wanted)
    ca_cert, ca_key = load_ca(pki_dir)
    paths = PkiPaths(pki_dir)
    if not force and (paths.cert(name).exists() or paths.key(name).exists()):
        cert = _check_existing(paths, name, kind, general_names, ca_cert)
        return _result(name, kind, paths, cert, created=False)
    key = new_key(key_type)
    cert = make_leaf(key, name, kind, ca_cert, ca_key, general_names, days)
    write_atomic(paths.key(name), key_pem(key), KEY_MODE)
    write_atomic(paths.cert(name), cert_pem(cert), CERT_MODE)
    return _result(name, kind, paths, cert, created=True)
