"""Where the PKI keeps its files: `<dir>/ca.crt`, `<dir>/ca.key`, `<dir>/<name>.crt|.key`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from decnet_lib.pki.errors import PkiError
from decnet_lib.settings import get_settings

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

CA_NAME = "ca"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def default_pki_dir(settings: Settings | None = None) -> Path:
    """`DECNET_STATE_DIR/pki`."""
    return (settings or get_settings()).state_dir / "pki"


def check_name(name: str) -> str:
    """A certificate name usable as a file name (letters, digits, '.', '_', '-'), not 'ca'."""
    if not NAME_RE.match(name) or name.endswith((".crt", ".key")):
        raise PkiError(
            f"invalid certificate name {name!r}: use 1-64 letters, digits, '.', '_' or '-'"
        )
    if name == CA_NAME:
        raise PkiError("'ca' is reserved for the CA: choose another certificate name")
    return name


@dataclass(frozen=True)
class PkiPaths:
    """The file layout of one PKI directory."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / f"{CA_NAME}.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / f"{CA_NAME}.key"

    def cert(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.crt"

    def key(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.key"
