#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MazeNET by DECNET
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: decnet_topology_info
short_description: Read MazeNET topologies and the health of their deployment
version_added: 0.1.0
description:
  - Without O(name), lists every stored topology (id, name, status, hash, counts, target).
  - With O(name), returns the resolved topology, what its target's Docker Engine really runs
    (found by label), whether it is healthy (active and every container running), its recent
    status changes, and per decky how to reach it and where its logs are.
  - Never changes anything; a database that does not exist yet holds no topology.
options:
  name:
    description: Name of one topology to inspect.
    type: str
extends_documentation_fragment:
  - decnet.mazenet.connection
  - ansible.builtin.action_common_attributes
  - decnet.mazenet.attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: Read only; it runs the same in check mode.
  diff_mode:
    support: N/A
    details: Read only; there is nothing to compare.
seealso:
  - module: decnet.mazenet.decnet_topology
  - module: decnet.mazenet.decnet_mutation
author:
  - MazeNET by DECNET (@decnet)
"""

EXAMPLES = r"""
- name: List the stored topologies
  decnet.mazenet.decnet_topology_info:
  register: mazes

- name: Wait until acme runs completely
  decnet.mazenet.decnet_topology_info:
    name: acme
  register: acme
  until: acme.healthy
  retries: 30
  delay: 2
"""

RETURN = r"""
exists:
  description: Whether the topology (or, without O(name), any topology) is stored.
  returned: always
  type: bool
  sample: true
topologies:
  description: Summaries of every stored topology (without O(name)).
  returned: when O(name) is not given
  type: list
  elements: dict
topology:
  description: The resolved topology.
  returned: when O(name) is stored
  type: dict
summary:
  description: Id, name, status, hash and counts.
  returned: when O(name) is stored
  type: dict
status:
  description: The topology's status.
  returned: when O(name) is stored
  type: str
  sample: active
target:
  description: Where it is deployed (C(local) or an agent URL).
  returned: when O(name) is stored
  type: str
  sample: local
containers:
  description: Its containers as Docker reports them (name, state, decky, role, service, image).
  returned: when O(name) is stored
  type: list
  elements: dict
expected_containers:
  description: How many containers the topology needs.
  returned: when O(name) is stored
  type: int
running_containers:
  description: How many of them run.
  returned: when O(name) is stored
  type: int
missing_containers:
  description: Names of needed containers that do not run.
  returned: when O(name) is stored
  type: list
  elements: str
healthy:
  description: Active, and every needed container runs.
  returned: when O(name) is stored
  type: bool
  sample: true
target_error:
  description: Why the target could not be asked (V(null) when it answered).
  returned: when O(name) is stored
  type: str
events:
  description: The most recent status changes (from, to, reason, at).
  returned: when O(name) is stored
  type: list
  elements: dict
access:
  description: Per decky, its addresses, base container, services with ports and log commands.
  returned: when O(name) is stored
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.decnet.mazenet.plugins.module_utils.args_common import (
    connection_argument_spec,
)
from ansible_collections.decnet.mazenet.plugins.module_utils.common import run


def main():
    module = AnsibleModule(
        argument_spec=connection_argument_spec(name=dict(type="str")),
        supports_check_mode=True,
    )
    run(module, "run_info")


if __name__ == "__main__":
    main()
