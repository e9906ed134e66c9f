"""Create (once) and load the CA of a PKI directory."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from decnet_lib.pki.certs import CA_DAYS, KeyType, SigningKey, make_ca, new_key
from decnet_lib.pki.errors import PkiError
from decnet_lib.pki.files import (
    CERT_MODE,
    KEY_MODE,
    cert_pem,
    ensure_dir,
    key_pem,
    load_cert,
    load_key,
    same_public_key,
    write_atomic,
)
from decnet_lib.pki.paths import PkiPaths


@dataclass(frozen=True)
class InitResult:
    """The CA files and whether this call created them."""

    cert: Path
    key: Path
    created: bool
    not_after: str

    def to_dict(self) -> dict[str, object]:
        return {"changed": self.created, "cert": str(self.cert), "key": str(self.key),
                "not_after": self.not_after}


def load_ca(pki_dir: Path) -> tuple[x509.Certificate, SigningKey]:
    """The CA certificate and key of a directory (a clear error when there is none)."""
    paths = PkiPaths(pki_dir)
    if not paths.ca_cert.exists() and not paths.ca_key.exists():
        raise PkiError(f"no CA in {pki_dir}: run `decnet pki init --dir {pki_dir}` first")
    for path in (paths.ca_cert, paths.ca_key):
        if not path.exists():
            raise PkiError(f"incomplete CA in {pki_dir}: {path.name} is missing "
                           "(`decnet pki init --force` makes a new CA)")
    cert, key = load_cert(paths.ca_cert), load_key(paths.ca_key)
    if not same_public_key(cert, key):
        raise PkiError(f"{paths.ca_key} does not belong to {paths.ca_cert}")
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    if not basic.ca:
        raise PkiError(f"{paths.ca_cert} is not a CA certificate")
    return cert, key  # type: ignore[return-value]


def init_ca(
    pki_dir: Path, *, key_type: KeyType = "ec", days: int = CA_DAYS, force: bool = False
) -> InitResult:
    """Create `ca.crt` and `ca.key` (0600); an existing, sound CA is kept unless `force`.

    Replacing a CA (`force`) invalidates every certificate it issued.
    """
    paths = PkiPaths(pki_dir)
    if not force and (paths.ca_cert.exists() or paths.ca_key.exists()):
        cert, _ = load_ca(pki_dir)
        return InitResult(paths.ca_cert, paths.ca_key, False,
                          cert.not_valid_after_utc.isoformat())
    if days < 1:
        raise PkiError("--days must be at least 1")
    ensure_dir(pki_dir)
    key = new_key(key_type)
    cert = make_ca(key, f"MazeNET CA {secrets.token_hex(4)}", days)
    write_atomic(paths.ca_key, key_pem(key), KEY_MODE)
    write_atomic(paths.ca_cert, cert_pem(cert), CERT_MODE)
    return InitResult(paths.ca_cert, paths.ca_key, True, cert.not_valid_after_utc.isoformat())
