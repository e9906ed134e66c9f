#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MazeNET by DECNET
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: decnet_mutation
short_description: Change a live MazeNET topology with one mutation
version_added: 0.1.0
description:
  - Queues one mutation (O(op) with its O(payload)) for an active or degraded topology and,
    with O(wait=true), applies it at once and pushes the new form to the topology's target.
  - Idempotent. The op is first applied in memory to the stored topology (with the
    mutations still in its queue on top); when that changes nothing, its effect is already
    there and nothing is queued (C(changed=false)).
  - An op that would break a rule of the topology fails before anything is queued.
  - In check mode nothing is queued; the result says whether the op would change the
    topology, and diff mode shows the document before and after.
options:
  topology:
    description: Name of the topology to change.
    type: str
    required: true
    aliases: [name]
  op:
    description: The mutation.
    type: str
    required: true
    choices:
      - add_lan
      - remove_lan
      - add_decky
      - attach_decky
      - detach_decky
      - update_decky
      - remove_decky
      - update_lan
  payload:
    description:
      - The op's payload, for example C({name, lan, services}) for C(add_decky) or
        C({decky}) for C(remove_decky). See the MazeNET documentation of mutations.
    type: dict
    default: {}
  wait:
    description:
      - Apply the mutation now (draining the topology's queue in-process with the same
        atomic claims as C(decnet reconcile)) and fail when it fails.
      - With V(false) it is only queued; a running C(decnet reconcile --watch) applies it.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the mutation with O(wait=true).
    type: float
    default: 120
extends_documentation_fragment:
  - decnet.mazenet.connection
  - ansible.builtin.action_common_attributes
  - decnet.mazenet.attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: Applies the op in memory only; nothing is queued.
  diff_mode:
    support: full
    details: The topology document (every address pinned) before and after the op.
seealso:
  - module: decnet.mazenet.decnet_topology
  - module: decnet.mazenet.decnet_topology_info
author:
  - MazeNET by DECNET (@decnet)
"""

EXAMPLES = r"""
- name: Add a database server to the office LAN and wait until it runs
  decnet.mazenet.decnet_mutation:
    topology: acme
    op: add_decky
    payload:
      name: db01
      lan: office
      services: [mysql, ssh]

- name: Remove a decky (queued only; the reconciler applies it)
  decnet.mazenet.decnet_mutation:
    topology: acme
    op: remove_decky
    payload: {decky: ws01}
    wait: false

- name: Change a banner
  decnet.mazenet.decnet_mutation:
    topology: acme
    op: update_decky
    payload:
      decky: gw01
      patch: {service_config: {ssh: {banner: "SSH-2.0-OpenSSH_8.4p1"}}}
"""

RETURN = r"""
mutation:
  description:
    - The mutation (id, op, payload, state, attempts, created_at, finished_at, error).
    - V(null) when nothing needed to be queued; in check mode its state is C(would_enqueue).
  returned: always
  type: dict
  sample: {id: 12, op: add_decky, state: applied, attempts: 1, error: null}
status:
  description: The topology's status afterwards.
  returned: when the topology exists
  type: str
  sample: active
queued:
  description: Mutations still open in the topology's queue.
  returned: when the topology exists
  type: int
  sample: 0
issues:
  description: The validation issues of an op that would break the topology.
  returned: failure
  type: list
  elements: dict
error_code:
  description: Stable code of the failure (for example C(NOT_FOUND), C(DECKY_NAME_DUP)).
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.decnet.mazenet.plugins.module_utils.args_common import (
    connection_argument_spec,
)
from ansible_collections.decnet.mazenet.plugins.module_utils.common import run

OPS = ["add_lan", "remove_lan", "add_decky", "attach_decky", "detach_decky",
       "update_decky", "remove_decky", "update_lan"]


def main():
    module = AnsibleModule(
        argument_spec=connection_argument_spec(
            topology=dict(type="str", required=True, aliases=["name"]),
            op=dict(type="str", required=True, choices=OPS),
            payload=dict(type="dict", default={}),
            wait=dict(type="bool", default=True),
            timeout=dict(type="float", default=120),
        ),
        supports_check_mode=True,
    )
    run(module, "run_mutation")


if __name__ == "__main__":
    main()
