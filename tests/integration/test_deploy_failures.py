"""Deploy failures on the real Docker Engine: missing images, crashes, name conflicts."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from decnet_lib.deploy import labels as L
from decnet_lib.deploy import ops
from decnet_lib.deploy.deployer import Deployer
from decnet_lib.deploy.failures import DeployError
from decnet_lib.deploy.naming import base_container_name, network_name, service_container_name

if TYPE_CHECKING:
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]
pytestmark = pytest.mark.slow

MISSING_IMAGE = "decnet-test/does-not-exist:never"


def two_deckies(env: DockerEnv, name: str) -> str:
    s = env.subnets(2)
    return f"""
name: {name}
lans:
  - {{name: dmz, subnet: {s[0]}, dmz: true}}
  - {{name: office, subnet: {s[1]}}}
deckies:
  - {{name: good, services: [ssh], lans: {{dmz: {env.host(s[0], 10)}}}}}
  - name: bad
    services: [http, ftp]
    lans: {{dmz: {env.host(s[0], 11)}, office: {env.host(s[1], 11)}}}
    forwards_l3: true
"""


def test_missing_image_is_reported_and_teardown_removes_everything(
    docker_env: DockerEnv,
) -> None:
    env = docker_env
    topo = env.resolved(two_deckies(env, "noimg"), images={"http": MISSING_IMAGE})
    deployer = env.deployer()
    result = deployer.apply(topo)
    assert not result.ok
    bad_http = service_container_name(topo.id, "bad", "http")
    assert [(e.name, e.action) for e in result.errors] == [(bad_http, "create")]
    assert "no such image" in result.errors[0].message.lower()
    assert bad_http in result.message()
    running = {c["name"] for c in deployer.inventory(topo.id).containers}
    assert running == {
        base_container_name(topo.id, "good"), service_container_name(topo.id, "good", "ssh"),
        base_container_name(topo.id, "bad"), service_container_name(topo.id, "bad", "ftp"),
    }
    assert env.labelled_count(topo.id) == (4, 2)

    gone = deployer.teardown(topo.id)
    assert gone.ok, gone.errors
    assert env.labelled_count(topo.id) == (0, 0)


def test_a_container_crashing_at_boot_is_reported_by_verify(docker_env: DockerEnv) -> None:
    env = docker_env
    topo = env.resolved(two_deckies(env, "crash"), images={"ftp": env.crash_image()})
    deployer = env.deployer()
    result = deployer.apply(topo)
    assert not result.ok and not result.errors
    bad_ftp = service_container_name(topo.id, "bad", "ftp")
    assert [c.name for c in result.crashed] == [bad_ftp]
    crash = result.crashed[0]
    assert crash.state == "exited" and crash.exit_code == 1
    assert crash.last_log == "fatal: cannot bind port"
    assert bad_ftp in result.message() and "exit 1" in result.message()

    again = deployer.apply(topo)  # it is started again, and crashes again
    assert [spec.name for spec in again.plan.start_containers] == [bad_ftp]
    assert [c.name for c in again.crashed] == [bad_ftp]


def test_name_taken_by_unlabelled_objects_is_an_error_and_they_are_left_alone(
    docker_env: DockerEnv,
) -> None:
    env, api = docker_env, docker_env.client.api
    topo = env.resolved(two_deckies(env, "clash"))
    squatter = api.create_container(
        env.image, name=base_container_name(topo.id, "good"), labels=env.owner_labels,
        host_config=api.create_host_config(network_mode="none"),
    )["Id"]
    office = network_name(topo.id, "office")
    foreign_net = api.create_network(
        office, labels=env.owner_labels, internal=True, check_duplicate=True,
    )["Id"]

    deployer = env.deployer()
    result = deployer.apply(topo)
    by_name = {e.name: e for e in result.errors}
    assert set(by_name) == {
        office,  # its name is taken by a network that is not ours
        base_container_name(topo.id, "good"),  # same for this container
        service_container_name(topo.id, "good", "ssh"),  # its base failed
        base_container_name(topo.id, "bad"),  # it needs the office LAN
        service_container_name(topo.id, "bad", "http"),
        service_container_name(topo.id, "bad", "ftp"),
    }
    assert "not labelled" in by_name[office].message
    assert squatter[:12] in by_name[base_container_name(topo.id, "good")].message
    assert "not attempted" in by_name[service_container_name(topo.id, "good", "ssh")].message

    gone = deployer.teardown(topo.id)
    assert gone.ok
    assert api.inspect_container(squatter)["Id"] == squatter  # untouched
    assert api.inspect_network(foreign_net)["Id"] == foreign_net
    assert env.labelled_count(topo.id) == (0, 0)


def test_retry_adopts_or_replaces_our_own_objects(docker_env: DockerEnv) -> None:
    env, api = docker_env, docker_env.client.api
    topo = env.resolved(two_deckies(env, "retry"))
    deployer = env.deployer()
    desired = deployer.desired(topo)
    bad = desired.containers[base_container_name(topo.id, "bad")]

    # half-deployed: the base was created on its home LAN, then the apply died
    for net in desired.networks.values():
        ops.create_network(api, net, topo.id)
    half = api.create_container(**ops._create_kwargs(api, bad))["Id"]
    result = deployer.apply(topo)
    assert result.ok, result.message()
    attached = api.inspect_container(bad.name)["NetworkSettings"]["Networks"]
    assert {net: cfg["IPAddress"] for net, cfg in attached.items()} == dict(bad.networks)
    assert api.inspect_container(bad.name)["Id"] == half  # adopted, not recreated

    # a create racing a finished one: ours with the same hash is adopted...
    ids = env.container_ids(topo.id)
    ops.create_container(api, bad, topo.id)
    for net in desired.networks.values():
        ops.create_network(api, net, topo.id)
    assert env.container_ids(topo.id) == ids
    # ...ours with another hash is removed and recreated
    stale = dataclasses.replace(bad, labels={**bad.labels, L.SPEC_HASH: "0" * 64})
    ops.create_container(api, stale, topo.id)
    assert env.container_ids(topo.id)[bad.name] != ids[bad.name]


def test_docker_unreachable_is_one_deploy_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/decnet-test/docker.sock")
    with pytest.raises(DeployError) as caught:
        Deployer().inventory("0" * 32)
    assert caught.value.code == "DEPLOY_FAILED"
    assert "\n" not in caught.value.message and "cannot reach Docker" in caught.value.message
