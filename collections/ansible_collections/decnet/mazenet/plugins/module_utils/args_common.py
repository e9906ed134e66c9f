# -*- coding: utf-8 -*-
# Copyright: MazeNET by DECNET
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The connection options every decnet.mazenet module shares.

Mirrors doc_fragments/connection.py (keep them in step) and decnet_lib.automation's
CONNECTION_OPTIONS: each option falls back to the DECNET_* environment variable of the
same meaning, then to the library default.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

CONNECTION_ARG_SPEC = {
    "db_url": {
        "type": "str",
        "no_log": True,
        "fallback": (env_fallback, ["DECNET_DB_URL"]),
    },
    "state_dir": {
        "type": "path",
        "fallback": (env_fallback, ["DECNET_STATE_DIR"]),
    },
    "agent_url": {
        "type": "str",
        "fallback": (env_fallback, ["DECNET_AGENT_URL"]),
    },
    "client_cert": {
        "type": "path",
        "fallback": (env_fallback, ["DECNET_MASTER_CERT"]),
    },
    "client_key": {
        "type": "path",
        "no_log": False,
        "fallback": (env_fallback, ["DECNET_MASTER_KEY"]),
    },
    "ca_cert": {
        "type": "path",
        "fallback": (env_fallback, ["DECNET_CA"]),
    },
    "bus_socket": {
        "type": "path",
        "fallback": (env_fallback, ["DECNET_BUS_SOCKET"]),
    },
}


def connection_argument_spec(**extra):
    """The shared connection options plus a module's own options."""
    spec = dict((name, dict(option)) for name, option in CONNECTION_ARG_SPEC.items())
    spec.update(extra)
    return spec
