"""The persona's TLS server context for ldap (StartTLS) and rdp (TLS / CredSSP)."""

from __future__ import annotations

import ssl
from typing import Any

from decnet_emu import tls
from decnet_emu.persona import Persona


def server_context(persona: Persona, config: dict[str, Any]) -> ssl.SSLContext:
    """The persona's (or the configured) certificate, cached per persona."""
    return tls.server_context(persona, config)
