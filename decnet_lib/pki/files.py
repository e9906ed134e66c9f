"""Atomic, permission-aware file writes and PEM loading for the PKI."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from decnet_lib.pki.errors import PkiError

KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o700


def ensure_dir(path: Path) -> None:
    """Create the PKI directory (0700) when it does not exist; an existing one is kept."""
    if path.is_dir():
        return
    try:
        path.mkdir(parents=True, mode=DIR_MODE)
        path.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask
    except FileExistsError:
        if not path.is_dir():
            raise PkiError(f"{path} exists and is not a directory") from None
    except OSError as exc:
        raise PkiError(f"cannot create {path}: {exc.strerror or exc}") from None


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file created with `mode`, fsync, then rename over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.fchmod(fd, mode)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise PkiError(f"cannot write {path}: {exc.strerror or exc}") from None


def key_pem(key: PrivateKeyTypes) -> bytes:
    """PKCS#8 PEM, unencrypted (the file mode protects it)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PkiError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError:
        raise PkiError(f"{path} is not a PEM certificate") from None


def load_key(path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError):
        raise PkiError(f"{path} is not an unencrypted PEM private key") from None


def same_public_key(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    """True when the private key belongs to the certificate."""
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)
