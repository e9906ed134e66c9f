"""Teardown and the orphan reaper work from labels; macvlan/ipvlan LANs on a dummy link."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from decnet_lib.deploy.naming import base_container_name, network_name, service_container_name

if TYPE_CHECKING:
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]
pytestmark = pytest.mark.slow


def small(env: DockerEnv, name: str) -> str:
    s = env.subnets(2)
    return f"""
name: {name}
lans:
  - {{name: dmz, subnet: {s[0]}, dmz: true}}
  - {{name: lab, subnet: {s[1]}}}
deckies:
  - {{name: a, services: [ssh], lans: {{dmz: {env.host(s[0], 10)}, lab: null}}}}
  - {{name: b, services: [http], lans: {{lab: {env.host(s[1], 20)}}}}}
"""


def test_teardown_finds_a_renamed_container_by_label(docker_env: DockerEnv) -> None:
    env = docker_env
    topo = env.resolved(small(env, "renamed"))
    deployer = env.deployer()
    assert deployer.apply(topo).ok
    renamed = f"renamed-by-hand-{env.token}"
    env.client.containers.get(base_container_name(topo.id, "b")).rename(renamed)

    plan = deployer.plan(topo)  # the renamed one is not in the spec: removed, b rebuilt
    assert [c.name for c in plan.remove_containers] == [renamed]
    assert [s.name for s in plan.create_containers] == [base_container_name(topo.id, "b")]
    assert [s.name for _, s in plan.recreate_containers] == [
        service_container_name(topo.id, "b", "http")
    ]

    gone = deployer.teardown(topo.id)
    assert gone.ok and renamed in gone.containers
    assert env.labelled_count(topo.id) == (0, 0)


def test_reap_orphans_removes_only_topologies_not_kept(docker_env: DockerEnv) -> None:
    env = docker_env
    keep, orphan = env.resolved(small(env, "keep")), env.resolved(small(env, "orphan"))
    deployer = env.deployer()
    assert deployer.apply(keep).ok and deployer.apply(orphan).ok
    keep_ids = env.container_ids(keep.id)

    # engine-wide dry run: lists the orphan (other people's topologies may show up too)
    preview = deployer.reap_orphans({keep.id}, dry_run=True)
    assert keep.id not in preview.topologies
    assert len(preview.topologies[orphan.id].containers) == 4
    assert len(preview.topologies[orphan.id].networks) == 2
    assert env.labelled_count(orphan.id) == (4, 2)  # nothing removed

    reaped = deployer.reap_orphans({keep.id}, within={keep.id, orphan.id})
    assert reaped.ok and set(reaped.topologies) == {orphan.id}
    assert env.labelled_count(orphan.id) == (0, 0)
    assert env.container_ids(keep.id) == keep_ids
    assert deployer.inventory(keep.id).all_running


def _l2_lans(env: DockerEnv, driver: str) -> None:
    parent = env.parent_link()
    env.require_link_type(driver, parent)
    s = env.subnets(2)
    topo = env.resolved(f"""
name: l2
lans:
  - {{name: dmz, subnet: {s[0]}, dmz: true, driver: {driver}, parent: {parent}}}
  - {{name: lab, subnet: {s[1]}}}
deckies:
  - {{name: gw, services: [ssh], lans: {{dmz: {env.host(s[0], 10)}, lab: {env.host(s[1], 10)}}},
      forwards_l3: true}}
  - {{name: in, services: [ssh], lans: {{lab: {env.host(s[1], 20)}}}}}
""")
    deployer = env.deployer()
    result = deployer.apply(topo)
    assert result.ok, result.message()
    api = env.client.api
    dmz = api.inspect_network(network_name(topo.id, "dmz"))
    assert dmz["Driver"] == driver and dmz["Options"]["parent"] == parent
    assert not dmz["Internal"]
    assert api.inspect_network(network_name(topo.id, "lab"))["Internal"]
    attached = api.inspect_container(base_container_name(topo.id, "gw"))["NetworkSettings"]
    assert attached["Networks"][network_name(topo.id, "dmz")]["IPAddress"] == env.host(s[0], 10)
    assert attached["Networks"][network_name(topo.id, "lab")]["IPAddress"] == env.host(s[1], 10)
    assert not deployer.apply(topo).plan.changed
    assert deployer.teardown(topo.id).ok
    assert env.labelled_count(topo.id) == (0, 0)


def test_macvlan_lan_on_a_host_parent_link(docker_env: DockerEnv) -> None:
    _l2_lans(docker_env, "macvlan")


def test_ipvlan_lan_on_a_host_parent_link(docker_env: DockerEnv) -> None:
    _l2_lans(docker_env, "ipvlan")
