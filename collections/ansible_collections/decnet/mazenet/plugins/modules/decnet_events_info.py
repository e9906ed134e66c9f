#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MazeNET by DECNET
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: decnet_events_info
short_description: Read the attacker events the MazeNET master has ingested, and the attackers
version_added: 0.1.0
description:
  - Returns the attacker events stored on the master (gathered from the agents by
    C(decnet ingest)), oldest first, and the attacker records they make.
  - An attacker is a source address; its record says which deckies it touched (in order),
    which LANs and how deep from the DMZ it got, the credentials and commands it tried, and
    its path through the maze.
  - A connection from a foothold decky's own address is counted for the attacker who held a
    session on that decky, so a pivot does not look like a new attacker.
  - Never changes anything; a database that does not exist yet holds no events.
options:
  topology:
    description: Only the events of the topology of this name.
    type: str
  attacker:
    description:
      - Only this source address.
      - For RV(events), the address the events came from; for RV(attackers), the attacker's
        record with its pivots through footholds included.
    type: str
  since:
    description: Only events from this moment on, C(10m), C(2h), C(3d) ago or an ISO 8601 time.
    type: str
  limit:
    description: At most this many events in RV(events) (the oldest first); the attacker
      records always count every matching event.
    type: int
    default: 1000
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
  - module: decnet.mazenet.decnet_topology_info
author:
  - MazeNET by DECNET (@decnet)
"""

EXAMPLES = r"""
- name: Who was in acme in the last hour
  decnet.mazenet.decnet_events_info:
    topology: acme
    since: 1h
  register: acme_events

- name: Fail when an attacker got past the DMZ
  ansible.builtin.assert:
    that: acme_events.attackers | selectattr('depth', 'gt', 0) | list | length == 0

- name: Everything one address did
  decnet.mazenet.decnet_events_info:
    attacker: 203.0.113.7
  register: one_attacker
"""

RETURN = r"""
events:
  description:
    - The matching events, oldest first (at most O(limit)).
    - Each has C(id), C(ts) (ISO 8601 UTC), C(topology), C(topology_id), C(decky), C(lan),
      C(service), C(event) (connect, login, command, request, query, transfer, disconnect,
      data, datagram), C(src_ip), C(src_port), C(dst_ip), C(dst_port), C(proto), C(session)
      and C(fields) (every field of the emulator's line).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 12
      ts: "2026-12-04T07:30:01.123456Z"
      topology: acme
      decky: gw01
      lan: dmz
      service: ssh
      event: login
      src_ip: 203.0.113.7
      fields: {user: root, password: "123456", success: "true"}
events_truncated:
  description: Whether more events matched than O(limit).
  returned: always
  type: bool
  sample: false
attackers:
  description:
    - One record per attacker, by first seen.
    - C(src_ip), C(first_seen), C(last_seen), C(events) (how many), C(topologies),
      C(deckies) (in the order first touched), C(lans), C(depth) (LAN hops from the DMZ
      reached), C(path) (per decky first touched, C(topology), C(decky), C(lan), C(ts) and
      C(via), the foothold decky it came through or null), C(pivots) (events that came
      through a foothold), C(credentials) (C(service), C(username), C(password), C(hash),
      C(success), C(attempts)) and C(commands) (command lines, in order).
  returned: always
  type: list
  elements: dict
  sample:
    - src_ip: 203.0.113.7
      first_seen: "2026-12-04T07:30:00.000001Z"
      last_seen: "2026-12-04T07:31:12.500000Z"
      events: 9
      topologies: [acme]
      deckies: [gw01, files01]
      lans: [dmz, office]
      depth: 1
      path:
        - {topology: acme, decky: gw01, lan: dmz, ts: "2026-12-04T07:30:00.000001Z", via: null}
        - {topology: acme, decky: files01, lan: office, ts: "2026-12-04T07:31:02.000000Z",
           via: gw01}
      pivots: 3
      credentials:
        - {service: ssh, username: root, password: "123456", hash: null, success: true,
           attempts: 1}
      commands: [id, ip addr]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.decnet.mazenet.plugins.module_utils.args_common import (
    connection_argument_spec,
)
from ansible_collections.decnet.mazenet.plugins.module_utils.common import run


def main():
    module = AnsibleModule(
        argument_spec=connection_argument_spec(
            topology=dict(type="str"),
            attacker=dict(type="str"),
            since=dict(type="str"),
            limit=dict(type="int", default=1000),
        ),
        supports_check_mode=True,
    )
    run(module, "run_events_info")


if __name__ == "__main__":
    main()
