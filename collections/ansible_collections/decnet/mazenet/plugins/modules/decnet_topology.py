#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MazeNET by DECNET
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: decnet_topology
short_description: Store, deploy, tear down or remove a MazeNET topology
version_added: 0.1.0
description:
  - Manages one MazeNET topology (a maze of decoy hosts over nested LANs) on the master.
  - O(state=present) validates the document (every rule at once, also against the other
    stored topologies) and stores its resolved form. It is unchanged when the topology is
    already stored with the same canonical hash; a stored topology with a different hash is
    an error (change a live maze with M(decnet.mazenet.decnet_mutation), remove it first,
    or set O(replace=true)).
  - O(state=deployed) does the same, then deploys it on the target (this machine's Docker
    Engine, or the agent O(agent_url)) and waits until every container runs. On an agent, a
    different topology still deployed there is torn down first. An active topology whose
    target already matches is unchanged.
  - O(state=torn_down) removes its containers and networks (found by label) and keeps it
    stored; O(state=absent) tears it down and deletes it with everything it owns.
  - In check mode nothing is written and Docker is only read; deployed reports the plan.
options:
  name:
    description:
      - Name of the topology. Needed for O(state=torn_down) and O(state=absent) without
        O(src) or O(spec), and for O(state=deployed) of an already stored topology.
      - When O(src) or O(spec) is given too, it must match the document's name.
    type: str
  src:
    description:
      - Path of a topology document (YAML or JSON) on the managed host.
      - Mutually exclusive with O(spec).
    type: path
  spec:
    description:
      - The topology document inline (see C(decnet topology schema)).
      - Mutually exclusive with O(src).
    type: dict
  state:
    description:
      - The wanted state of the topology.
    type: str
    choices: [present, deployed, torn_down, absent]
    default: present
  replace:
    description:
      - Replace a stored definition that differs from the document instead of failing.
      - With O(state=present) only while the topology is not deployed (the id is kept).
      - With O(state=deployed) a live topology is updated in place; only the Docker objects
        that differ are recreated.
    type: bool
    default: false
extends_documentation_fragment:
  - decnet.mazenet.connection
  - ansible.builtin.action_common_attributes
  - decnet.mazenet.attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: Validates and plans (reads the database and Docker); writes nothing.
  diff_mode:
    support: full
    details: The topology document (every address pinned) and its status, before and after.
seealso:
  - module: decnet.mazenet.decnet_mutation
  - module: decnet.mazenet.decnet_topology_info
author:
  - MazeNET by DECNET (@decnet)
"""

EXAMPLES = r"""
- name: Store a maze from a file
  decnet.mazenet.decnet_topology:
    src: /srv/mazes/acme.yml
    state: present

- name: Deploy it on this host's Docker Engine and wait until it runs
  decnet.mazenet.decnet_topology:
    src: /srv/mazes/acme.yml
    state: deployed

- name: Deploy an inline maze on an agent over mutual TLS
  decnet.mazenet.decnet_topology:
    state: deployed
    agent_url: https://agent1.example.internal:8765
    client_cert: /var/lib/decnet/pki/master.crt
    client_key: /var/lib/decnet/pki/master.key
    ca_cert: /var/lib/decnet/pki/ca.crt
    spec:
      name: lab
      lans:
        - {name: dmz, subnet: 10.230.0.0/24, dmz: true}
        - {name: office, subnet: 10.230.1.0/24}
      deckies:
        - {name: gw01, services: [ssh, http], lans: {dmz: null, office: null}}
        - {name: ws01, archetype: windows-workstation, lans: {office: null}}

- name: Tear it down but keep it stored
  decnet.mazenet.decnet_topology:
    name: lab
    state: torn_down

- name: Remove it (teardown, then delete)
  decnet.mazenet.decnet_topology:
    name: lab
    state: absent
"""

RETURN = r"""
topology:
  description: The stored, resolved topology (every address allocated); empty once absent.
  returned: always
  type: dict
  sample:
    id: 6724b6d7f73d407bb4ceb10fa95b54fd
    name: lab
    status: active
    hash: 702da1c65dfb2163ab9af3804ffb1e8b54e74b41f28977a327f2473c1138d265
    lans: [{name: dmz, subnet: 10.230.0.0/24, gateway: 10.230.0.1, dmz: true}]
    deckies: [{name: gw01, services: [ssh, http], lans: {dmz: 10.230.0.2}}]
summary:
  description: Id, name, status, canonical hash and the numbers of LANs and deckies.
  returned: always
  type: dict
  sample: {id: 6724b6d7f73d407bb4ceb10fa95b54fd, name: lab, status: active, lans: 2, deckies: 2}
status:
  description: The topology's status afterwards (C(absent) once deleted).
  returned: always
  type: str
  sample: active
action:
  description: What was (or in check mode would be) done to the stored definition.
  returned: always
  type: str
  sample: create
plan:
  description: The deployment plan (O(state=deployed) in check mode, or when already in sync).
  returned: when O(state=deployed)
  type: dict
predecessors:
  description: Other topologies torn down (or to be torn down) on the same agent first.
  returned: when O(state=deployed)
  type: list
  elements: str
report:
  description: What the deploy or teardown reported (plan summary, errors, crashed containers).
  returned: when a deploy or teardown ran
  type: dict
deleted:
  description: Id and name of the deleted topology.
  returned: when O(state=absent) deleted it
  type: dict
validation_warnings:
  description: Validation warnings of the document (for example C(LAN_EMPTY)).
  returned: when a document was given
  type: list
  elements: dict
issues:
  description: Every validation issue (severity, code, message, target) of an invalid document.
  returned: failure
  type: list
  elements: dict
error_code:
  description: Stable code of the failure (for example C(INVALID_TOPOLOGY), C(DEPLOY_FAILED)).
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.decnet.mazenet.plugins.module_utils.args_common import (
    connection_argument_spec,
)
from ansible_collections.decnet.mazenet.plugins.module_utils.common import run


def main():
    module = AnsibleModule(
        argument_spec=connection_argument_spec(
            name=dict(type="str"),
            src=dict(type="path"),
            spec=dict(type="dict"),
            state=dict(type="str", default="present",
                       choices=["present", "deployed", "torn_down", "absent"]),
            replace=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("src", "spec")],
        required_one_of=[("name", "src", "spec")],
        required_if=[("state", "present", ("src", "spec"), True)],
        supports_check_mode=True,
    )
    run(module, "run_topology")


if __name__ == "__main__":
    main()
