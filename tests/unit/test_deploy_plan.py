"""Deploy specs, plans and the pool runner: no Docker."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from helpers import resolve_yaml

from decnet_lib.deploy import labels as L
from decnet_lib.deploy.hardening import UNPRIVILEGED_PORTS
from decnet_lib.deploy.naming import base_container_name, network_name, service_container_name
from decnet_lib.deploy.observed import Observed, ObservedContainer, ObservedNetwork
from decnet_lib.deploy.plan import Plan, diff
from decnet_lib.deploy.pool import Runner, Task, make_pool
from decnet_lib.deploy.spec import IP_FORWARD, DesiredState, desired_state
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedTopology

IMAGE = "test/base:1"
MAZE = """
name: maze
lans:
  - {name: dmz, subnet: 10.50.0.0/24, dmz: true}
  - {name: office, subnet: 10.50.1.0/24}
  - {name: vault, subnet: 10.50.2.0/24, driver: macvlan, parent: eth9}
deckies:
  - name: gw
    services: [ssh]
    lans: {dmz: 10.50.0.10, office: 10.50.1.10}
    forwards_l3: true
  - name: web
    services: [http, dns]
    lans: {dmz: 10.50.0.20}
    expose: true
    service_config: {http: {server_header: nginx}}
  - name: files
    services: [ftp, smb]
    lans: {office: 10.50.1.20, vault: 10.50.2.20}
  - name: db
    services: [mysql]
    lans: {vault: 10.50.2.30}
"""


def maze() -> ResolvedTopology:
    return resolve_yaml(MAZE)


def deployed(desired: DesiredState, state: str = "running") -> Observed:
    """What Docker would report right after a successful apply of `desired`."""
    networks = [
        ObservedNetwork(spec.name, f"net-{spec.name}", dict(spec.labels))
        for spec in desired.networks.values()
    ]
    containers = [
        ObservedContainer(spec.name, f"id-{spec.name}", dict(spec.labels), state, "", spec.image)
        for spec in desired.containers.values()
    ]
    return Observed(networks, containers)


def replace(observed: Observed, target: str, **changes: object) -> Observed:
    containers = [
        dataclasses.replace(c, **changes) if c.name == target else c  # type: ignore[arg-type]
        for c in observed.containers
    ]
    return Observed(list(observed.networks), containers)


def changed_names(plan: Plan) -> dict[str, set[str]]:
    data = plan.to_dict()
    return {key: set(data[key]) for key in ("create", "recreate", "remove", "start", "restart")}


def state(topology: ResolvedTopology) -> DesiredState:
    return desired_state(topology, IMAGE)


# -- specs ------------------------------------------------------------------------------
def test_network_specs_internal_driver_and_labels() -> None:
    topo = maze()
    nets = state(topo).networks
    dmz, office, vault = (nets[network_name(topo.id, lan)] for lan in ("dmz", "office", "vault"))
    assert not dmz.internal and office.internal and vault.internal
    assert (dmz.subnet, dmz.gateway) == ("10.50.0.0/24", "10.50.0.1")
    assert vault.driver == "macvlan" and vault.options == {"parent": "eth9"}
    assert dmz.options == {}
    for net in (dmz, office, vault):
        assert net.labels[L.MANAGED] == "true"
        assert net.labels[L.TOPOLOGY_ID] == topo.id
        assert net.labels[L.TOPOLOGY_NAME] == "maze"
        assert net.labels[L.LAN] == net.lan
        assert len(net.spec_hash) == 64


def test_base_spec_ips_forwarding_ports_and_labels() -> None:
    topo = maze()
    containers = state(topo).containers
    gw = containers[base_container_name(topo.id, "gw")]
    assert gw.role == "base" and gw.image == IMAGE and gw.init
    assert gw.networks == (
        (network_name(topo.id, "dmz"), "10.50.0.10"),
        (network_name(topo.id, "office"), "10.50.1.10"),
    )
    assert gw.network_mode == network_name(topo.id, "dmz")
    assert gw.sysctls == {IP_FORWARD: "1", UNPRIVILEGED_PORTS: "0"}
    assert gw.ports == ()  # forwards_l3 does not publish anything
    assert gw.hostname == "gw"
    assert gw.labels[L.DECKY] == "gw" and gw.labels[L.ROLE] == "base"
    web = containers[base_container_name(topo.id, "web")]
    assert web.sysctls == {IP_FORWARD: "0", UNPRIVILEGED_PORTS: "0"}  # forwarding off
    assert web.ports == ((80, "tcp"), (53, "tcp"), (53, "udp"))  # protocol kept


def test_service_spec_shares_the_base_and_gets_its_env() -> None:
    topo = maze()
    containers = state(topo).containers
    http = containers[service_container_name(topo.id, "web", "http")]
    base = base_container_name(topo.id, "web")
    assert http.network_mode == f"container:{base}" and http.base == base
    assert http.image == "decnet/svc-http:latest" and http.init
    assert http.restart_policy is None
    assert http.environment["DECNET_SERVICE"] == "http"
    assert http.environment["DECNET_DECKY"] == "web"
    assert http.environment["DECNET_TOPOLOGY"] == "maze"
    assert http.environment["DECNET_CFG_SERVER_HEADER"] == "nginx"
    assert http.labels[L.ROLE] == "service" and http.labels[L.SERVICE] == "http"
    assert http.labels[L.TOPOLOGY_SERVICE] == "true"
    assert http.ports == () and http.networks == ()


def test_spec_hashes_are_stable_and_ignore_non_deployment_fields() -> None:
    topo = maze()
    other = topo.model_copy(deep=True)
    other.status, other.hash = "active", "x" * 64
    other.deckies[0].meta = {"ui": {"x": 3}}
    other.lans[0].meta = {"note": "changed"}
    first, second = state(topo), state(other)
    assert {n: s.spec_hash for n, s in first.containers.items()} == {
        n: s.spec_hash for n, s in second.containers.items()
    }
    assert {n: s.spec_hash for n, s in first.networks.items()} == {
        n: s.spec_hash for n, s in second.networks.items()
    }


def test_base_image_is_configurable_and_part_of_the_hash() -> None:
    topo = maze()
    name = base_container_name(topo.id, "db")
    one = desired_state(topo, "a:1").containers[name]
    two = desired_state(topo, "b:1").containers[name]
    assert one.image == "a:1" and two.image == "b:1" and one.spec_hash != two.spec_hash


# -- plans ------------------------------------------------------------------------------
def test_fresh_topology_creates_everything() -> None:
    desired = state(maze())
    plan = diff(desired, Observed())
    assert {n.name for n in plan.create_networks} == set(desired.networks)
    assert {c.name for c in plan.create_containers} == set(desired.containers)
    assert plan.changed and plan.unchanged == []
    assert plan.steps == len(desired.networks) + len(desired.containers)
    assert plan.summary()["containers"]["create"] == 4 + 6


def test_second_plan_is_empty() -> None:
    desired = state(maze())
    plan = diff(desired, deployed(desired))
    assert not plan.changed
    assert set(plan.unchanged) == set(desired.networks) | set(desired.containers)
    assert plan.steps == 0
    assert "nothing to do" in plan.render()


def test_adding_a_decky_plans_only_its_base_and_services() -> None:
    topo = maze()
    before = state(topo)
    grown = topo.model_copy(deep=True)
    grown.deckies.append(ResolvedDecky(
        id="new", name="mail", services=["smtp", "ssh"], lans={"dmz": "10.50.0.40"},
        images={"smtp": "decnet/svc-smtp:latest", "ssh": "decnet/svc-ssh:latest"},
    ))
    plan = diff(state(grown), deployed(before))
    assert changed_names(plan) == {
        "create": {
            base_container_name(topo.id, "mail"),
            service_container_name(topo.id, "mail", "smtp"),
            service_container_name(topo.id, "mail", "ssh"),
        },
        "recreate": set(), "remove": set(), "start": set(), "restart": set(),
    }


def test_removing_a_decky_removes_only_its_containers() -> None:
    topo = maze()
    before = state(topo)
    shrunk = topo.model_copy(deep=True)
    shrunk.deckies = [d for d in shrunk.deckies if d.name != "files"]
    plan = diff(state(shrunk), deployed(before))
    assert changed_names(plan)["remove"] == {
        base_container_name(topo.id, "files"),
        service_container_name(topo.id, "files", "ftp"),
        service_container_name(topo.id, "files", "smb"),
    }
    assert not plan.create_containers and not plan.recreate_containers
    assert not plan.remove_networks


def test_changing_a_service_config_recreates_only_that_service() -> None:
    topo = maze()
    before = state(topo)
    changed = topo.model_copy(deep=True)
    changed.decky("web").service_config["http"] = {"server_header": "IIS/10.0"}  # type: ignore[union-attr]
    plan = diff(state(changed), deployed(before))
    assert changed_names(plan)["recreate"] == {service_container_name(topo.id, "web", "http")}
    assert not plan.create_containers and not plan.remove_containers


def test_changing_the_service_list_touches_only_those_services() -> None:
    topo = maze()
    before = state(topo)
    changed = topo.model_copy(deep=True)
    db = changed.decky("db")
    assert db is not None
    db.services = ["mysql", "redis"]
    db.images["redis"] = "decnet/svc-redis:latest"
    plan = diff(state(changed), deployed(before))
    names = changed_names(plan)
    assert names["create"] == {service_container_name(topo.id, "db", "redis")}
    assert names["recreate"] == set() and names["remove"] == set()


def test_changing_a_decky_ip_recreates_its_base_and_services() -> None:
    topo = maze()
    before = state(topo)
    moved = topo.model_copy(deep=True)
    moved.decky("files").lans["vault"] = "10.50.2.99"  # type: ignore[union-attr]
    plan = diff(state(moved), deployed(before))
    assert changed_names(plan)["recreate"] == {
        base_container_name(topo.id, "files"),
        service_container_name(topo.id, "files", "ftp"),
        service_container_name(topo.id, "files", "smb"),
    }
    assert not plan.create_containers and not plan.remove_containers
    assert not plan.recreate_networks


def test_changing_a_subnet_recreates_the_network_and_everything_on_it() -> None:
    topo = maze()
    before = state(topo)
    changed = topo.model_copy(deep=True)
    vault = changed.lan("vault")
    assert vault is not None
    vault.subnet, vault.gateway = "10.50.3.0/24", "10.50.3.1"
    changed.decky("files").lans["vault"] = "10.50.3.20"  # type: ignore[union-attr]
    changed.decky("db").lans["vault"] = "10.50.3.30"  # type: ignore[union-attr]
    plan = diff(state(changed), deployed(before))
    assert [new.name for _, new in plan.recreate_networks] == [network_name(topo.id, "vault")]
    recreated = changed_names(plan)["recreate"] - {network_name(topo.id, "vault")}
    assert recreated == {
        base_container_name(topo.id, "files"), base_container_name(topo.id, "db"),
        service_container_name(topo.id, "files", "ftp"),
        service_container_name(topo.id, "files", "smb"),
        service_container_name(topo.id, "db", "mysql"),
    }


def test_unknown_labelled_objects_are_removed() -> None:
    topo = maze()
    desired = state(topo)
    found = deployed(desired)
    stray_labels = {L.MANAGED: "true", L.TOPOLOGY_ID: topo.id, L.ROLE: "base"}
    found.containers.append(ObservedContainer("renamed-gw", "id-x", stray_labels, "running"))
    found.networks.append(ObservedNetwork("dn-old-lan", "net-x", {L.MANAGED: "true"}))
    plan = diff(desired, found)
    assert changed_names(plan)["remove"] == {"renamed-gw", "dn-old-lan"}
    assert not plan.create_containers and not plan.recreate_containers


def test_half_deployed_container_without_hash_is_recreated() -> None:
    topo = maze()
    desired = state(topo)
    name = base_container_name(topo.id, "db")
    found = replace(deployed(desired), name, labels={L.MANAGED: "true", L.TOPOLOGY_ID: topo.id})
    plan = diff(desired, found)
    # its service joined the old base's namespace: it is recreated with it
    assert changed_names(plan)["recreate"] == {
        name, service_container_name(topo.id, "db", "mysql")
    }


def test_stopped_base_is_started_and_its_running_services_restarted() -> None:
    topo = maze()
    desired = state(topo)
    base = base_container_name(topo.id, "files")
    found = replace(deployed(desired), base, state="exited")
    found = replace(found, service_container_name(topo.id, "files", "ftp"), state="exited")
    plan = diff(desired, found)
    names = changed_names(plan)
    assert names["start"] == {base, service_container_name(topo.id, "files", "ftp")}
    assert names["restart"] == {service_container_name(topo.id, "files", "smb")}
    assert names["create"] == names["recreate"] == names["remove"] == set()


def test_dead_container_is_recreated() -> None:
    topo = maze()
    desired = state(topo)
    name = service_container_name(topo.id, "db", "mysql")
    plan = diff(desired, replace(deployed(desired), name, state="dead"))
    assert changed_names(plan)["recreate"] == {name}


def with_image_ids(observed: Observed, image_id: str) -> Observed:
    containers = [dataclasses.replace(c, image_id=image_id) for c in observed.containers]
    return Observed(list(observed.networks), containers)


def test_a_rebuilt_image_recreates_its_containers_only() -> None:
    topo = maze()
    for decky in topo.deckies:
        decky.images = {svc: f"test/{svc}:1" for svc in decky.services}
    desired = state(topo)
    found = with_image_ids(deployed(desired), "sha256:old")
    same = {spec.image: "sha256:old" for spec in desired.containers.values()}
    assert not diff(desired, found, same).changed
    assert not diff(desired, found).changed  # without ids nothing can be told

    plan = diff(desired, found, {**same, "test/mysql:1": "sha256:new"})
    assert changed_names(plan)["recreate"] == {service_container_name(topo.id, "db", "mysql")}
    assert "test/mysql:1 was rebuilt" in plan.render()

    plan = diff(desired, found, {**same, IMAGE: "sha256:new"})  # every base: all recreated
    assert changed_names(plan)["recreate"] == set(desired.containers)
    assert "its base is recreated" in plan.render()

    missing = {k: v for k, v in same.items() if k != "test/ssh:1"}  # not present locally
    assert not diff(desired, found, missing).changed


def test_duplicate_networks_of_one_name_keep_one() -> None:
    topo = maze()
    desired = state(topo)
    found = deployed(desired)
    dmz = next(n for n in found.networks if n.labels[L.LAN] == "dmz")
    found.networks.append(dataclasses.replace(dmz, id="net-dup"))
    plan = diff(desired, found)
    assert [n.id for n in plan.remove_networks] == ["net-dup"]
    assert not plan.create_networks and not plan.recreate_networks


def test_render_and_summary() -> None:
    topo = maze()
    plan = diff(state(topo), Observed())
    text = plan.render()
    assert text.splitlines()[0].startswith(f"Plan for topology maze ({topo.id[:8]})")
    assert f"+ network   {network_name(topo.id, 'office')}  10.50.1.0/24 internal bridge" in text
    assert "parent=eth9" in text
    assert "dmz=10.50.0.10 office=10.50.1.10" in text
    summary = plan.summary()
    assert summary["changed"] is True
    assert summary["networks"] == {"create": 3, "recreate": 0, "remove": 0}


def test_renamed_base_is_removed_and_recreated_with_its_services() -> None:
    topo = maze()
    desired = state(topo)
    base = base_container_name(topo.id, "web")
    found = replace(deployed(desired), base, name="web-renamed-by-hand")
    plan = diff(desired, found)
    names = changed_names(plan)
    assert names["remove"] == {"web-renamed-by-hand"}
    assert names["create"] == {base}
    assert names["recreate"] == {
        service_container_name(topo.id, "web", "http"),
        service_container_name(topo.id, "web", "dns"),
    }


# -- the pool runner (no Docker) -------------------------------------------------------
def _tracking_task(name: str, resources: set[str], log: list[tuple[str, str]],
                   lock: threading.Lock, **kwargs: Any) -> Task:
    def run() -> None:
        with lock:
            log.append(("start", name))
        time.sleep(0.02)
        with lock:
            log.append(("end", name))
    return Task("container", name, "create", run, resources=frozenset(resources), **kwargs)


def test_runner_never_runs_two_holders_of_one_network_at_once() -> None:
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    nets = {f"t{i}": {"a"} if i % 2 else {"b", "a"} if i == 4 else {"b"} for i in range(8)}
    tasks = [_tracking_task(name, res, log, lock) for name, res in nets.items()]
    tasks += [_tracking_task(f"free{i}", set(), log, lock) for i in range(4)]
    with make_pool(4) as pool:
        runner = Runner(pool, slots=4, total=len(tasks))
        runner.run(tasks)
    assert runner.done == 12 and not runner.errors
    running: set[str] = set()
    peak = 0
    for event, name in log:
        if event == "start":
            for other in running:
                assert not (nets.get(name, set()) & nets.get(other, set())), (name, other)
            running.add(name)
            peak = max(peak, len(running))
        else:
            running.discard(name)
    assert peak > 1  # the rest still runs in parallel


def test_runner_reports_a_failed_object_once_and_skips_what_follows() -> None:
    seen: list[tuple[int, int, str]] = []

    def boom() -> None:
        raise RuntimeError("No such image: x")

    service = Task("container", "dn-x-web-http", "create", lambda: None)
    start = Task("container", "dn-x-web", "create", lambda: None, then=(service,))
    prepare = Task("container", "dn-x-web", "create", boom, then=(start,), silent=True)
    ok = Task("container", "dn-x-db", "create", lambda: None)
    with make_pool(2) as pool:
        runner = Runner(pool, slots=2, total=3,
                        progress=lambda done, total, msg: seen.append((done, total, msg)))
        runner.run([prepare, ok])
    assert [(e.name, e.message) for e in runner.errors] == [
        ("dn-x-web", "No such image: x"),
        ("dn-x-web-http", "not attempted: container dn-x-web failed"),
    ]
    assert str(runner.errors[0]) == "container dn-x-web: create failed: No such image: x"
    assert [done for done, _, _ in seen] == [1, 2, 3] and {t for _, t, _ in seen} == {3}
