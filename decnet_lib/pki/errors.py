"""The one PKI error: a clear one-line message (no traceback for a user mistake)."""

from __future__ import annotations

from decnet_lib.errors import DecnetError


class PkiError(DecnetError):
    """A CA or certificate cannot be created, loaded or kept as asked."""

    code = "PKI"
