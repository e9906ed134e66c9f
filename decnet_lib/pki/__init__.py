"""A small PKI for mutual TLS between master and agents: one CA, server and client certs.

    init_ca(pki_dir)                                  # ca.crt + ca.key (0600)
    issue(pki_dir, "agent", "server", sans=["agent1.example", "10.0.0.5"])
    issue(pki_dir, "master", "client")

Files live in `DECNET_STATE_DIR/pki` by default; every call is idempotent (existing files are
kept unless `force=True`) and every failure is a one-line PkiError.
"""

from decnet_lib.pki.ca import InitResult, init_ca, load_ca
from decnet_lib.pki.errors import PkiError
from decnet_lib.pki.issue import IssueResult, issue
from decnet_lib.pki.paths import PkiPaths, default_pki_dir

__all__ = [
    "InitResult",
    "IssueResult",
    "PkiError",
    "PkiPaths",
    "default_pki_dir",
    "init_ca",
    "issue",
    "load_ca",
]
