"""The persona's TLS server context for ldap (StartTLS) and rdp (TLS / CredSSP).

`decnet_emu.tls.server_context` caches by Persona, which cannot be hashed while it carries
its `extra` dict; until that is fixed this falls back to building the same context here,
cached by the persona's identity.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import Any

from decnet_emu import tls
from decnet_emu.persona import Persona

_CACHE: dict[tuple[str, str, str, str], ssl.SSLContext] = {}


def server_context(persona: Persona, config: dict[str, Any]) -> ssl.SSLContext:
    try:
        return tls.server_context(persona, config)
    except TypeError:  # unhashable Persona
        pass
    key = (persona.fqdn, persona.seed.hex(), str(config.get("tls_cert") or ""),
           str(config.get("tls_key") or ""))
    if key not in _CACHE:
        cert_pem, key_pem = key[2].encode(), key[3].encode()
        if not cert_pem or not key_pem:
            cert_pem, key_pem = tls.certificate_pem(persona)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(dir=tls._tmp_dir()) as folder:
            paths = os.path.join(folder, "c.pem"), os.path.join(folder, "k.pem")
            for path, data in zip(paths, (cert_pem, key_pem), strict=True):
                with open(path, "wb") as handle:
                    handle.write(data)
            context.load_cert_chain(*paths)
        _CACHE[key] = context
    return _CACHE[key]
