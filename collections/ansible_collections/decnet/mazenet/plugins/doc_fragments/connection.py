# -*- coding: utf-8 -*-
# Copyright: MazeNET by DECNET
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Documentation of the connection options (module_utils/args_common.py CONNECTION_ARG_SPEC)."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  db_url:
    description:
      - SQLAlchemy URL of the master database, for example
        C(sqlite:////var/lib/decnet/decnet.db) or C(mysql+pymysql://decnet:secret@db1/decnet).
      - If not set, the environment variable E(DECNET_DB_URL) is used, and then the SQLite
        file C(decnet.db) in O(state_dir).
    type: str
  state_dir:
    description:
      - The MazeNET state directory (default SQLite database, PKI, logs).
      - If not set, the environment variable E(DECNET_STATE_DIR) is used, and then
        C(/var/lib/decnet) for root or C(~/.local/state/decnet) for other users.
    type: path
  agent_url:
    description:
      - URL of the agent that deploys the topology, for example C(https://agent1:8765),
        reached over mutual TLS with O(client_cert), O(client_key) and O(ca_cert).
      - C(local) (the default) deploys on the Docker Engine of the host the module runs on.
      - If not set, the environment variable E(DECNET_AGENT_URL) is used.
    type: str
  client_cert:
    description:
      - Client certificate the master presents to agents.
      - If not set, E(DECNET_MASTER_CERT) is used, and then C(master.crt) in the PKI
        directory O(state_dir)C(/pki).
    type: path
  client_key:
    description:
      - Private key of O(client_cert).
      - If not set, E(DECNET_MASTER_KEY) is used, and then C(master.key) in the PKI directory.
    type: path
  ca_cert:
    description:
      - CA certificate that agent certificates must chain to.
      - If not set, E(DECNET_CA) is used, and then C(ca.crt) in the PKI directory.
    type: path
  bus_socket:
    description:
      - The master's event bus socket. Status changes and queued mutations are published
        there (notification only; a bus that is down changes nothing). Nothing is published
        in check mode.
      - If not set, E(DECNET_BUS_SOCKET) is used, and then C(/run/decnet/bus.sock) for root.
    type: path
notes:
  - The modules import the C(decnet_lib) library (the C(mazenet) Python package), so
    C(ansible_python_interpreter) must point at the Python of the MazeNET virtualenv on
    the managed host (the master).
requirements:
  - python >= 3.11
  - mazenet (provides C(decnet_lib))
"""
