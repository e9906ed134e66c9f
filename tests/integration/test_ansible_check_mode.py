"""Check mode of the decnet.mazenet collection, for real: `ansible-playbook -C` against a
throwaway SQLite state directory and this machine's Docker Engine.

Every module must run in check mode (never skipped), report `changed` when the change would
happen, and leave the database and Docker exactly as they were.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ANSIBLE_PLAYBOOK = BIN / "ansible-playbook"
NAMES = ("ck-live", "ck-stored", "ck-new", "ck-play")

pytestmark = pytest.mark.slow

CALLBACK = '''
import json, os
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Write every task result to $RECORD_FILE (one JSON list)."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.records = []

    def _record(self, result, status):
        task = getattr(result, "task", None) or result._task
        data = getattr(result, "result", None)
        if data is None:
            data = result._result
        self.records.append({"task": task.get_name(), "action": task.action, "status": status,
                             "changed": bool(data.get("changed")),
                             "msg": str(data.get("msg", ""))[:500]})

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["RECORD_FILE"], "w") as handle:
            json.dump(self.records, handle)
'''


def _doc(name: str, third: int, extra: int = 0) -> dict[str, Any]:
    deckies = [{"name": "gw01", "services": ["ssh"], "lans": {"dmz": None, "office": None},
                "forwards_l3": True},
               {"name": "ws01", "services": ["http"], "lans": {"office": None}}]
    deckies += [{"name": f"ws{i + 2:02d}", "services": ["http"], "lans": {"office": None}}
                for i in range(extra)]
    return {"name": name,
            "lans": [{"name": "dmz", "subnet": f"10.230.{third}.0/24", "dmz": True},
                     {"name": "office", "subnet": f"10.230.{third + 1}.0/24"}],
            "deckies": deckies}


def _docker_ok() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            client.ping()
            client.images.get("decnet/base:latest")
        finally:
            client.close()
    except Exception:
        return False
    return True


def _docker_state() -> list[tuple[str, ...]]:
    """Our test topologies' containers and networks: (kind, name, id, state)."""
    import docker

    client = docker.from_env(timeout=30)
    try:
        found: list[tuple[str, ...]] = []
        for name in NAMES:
            selector = {"label": ["decnet.managed=true", f"decnet.topology.name={name}"]}
            found += [("container", c.name, c.id, c.status)
                      for c in client.containers.list(all=True, filters=selector)]
            found += [("network", n.name, n.id, "") for n in client.networks.list(filters=selector)]
        return sorted(found)
    finally:
        client.close()


def _db_state(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-core is not installed in this virtualenv")
    if not _docker_ok():
        pytest.skip("Docker Engine (with the decnet images) is not available")
    from decnet_lib.automation import (
        Connection,
        topology_absent,
        topology_deployed,
        topology_present,
    )

    state = tmp_path / "state"
    db = state / "decnet.db"
    conn = Connection(db_url=f"sqlite:///{db}", state_dir=str(state))
    plugins = tmp_path / "callback_plugins"
    plugins.mkdir()
    (plugins / "record_results.py").write_text(CALLBACK)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "children": {"decnet_master": {"hosts": {"localhost": None}},
                     "decnet_agents": {"hosts": {"localhost": None}}},
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "decnet_module_python": sys.executable, "decnet_venv": str(BIN.parent),
                 "decnet_state_dir": str(state), "decnet_db_url": f"sqlite:///{db}",
                 "decnet_target": "local"}}}))
    record = tmp_path / "record.json"
    environment = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / "collections"),
        "ANSIBLE_CALLBACK_PLUGINS": str(plugins),
        "ANSIBLE_CALLBACKS_ENABLED": "record_results",
        "ANSIBLE_NOCOLOR": "1",
        "RECORD_FILE": str(record),
    }
    for stale in NAMES:  # a previous interrupted run may have left labelled objects
        _remove_labelled(stale)
    topology_deployed(conn, spec=_doc("ck-live", 40))
    topology_present(conn, spec=_doc("ck-stored", 42))
    try:
        yield {"conn": conn, "db": db, "state": state, "inventory": inventory,
               "environment": environment, "record": record, "tmp": tmp_path}
    finally:
        for name in NAMES:
            with contextlib.suppress(Exception):  # the label sweep below still cleans up
                topology_absent(conn, name)
            _remove_labelled(name)
        assert _docker_state() == []


def _remove_labelled(name: str) -> None:
    """Remove what carries this test topology's labels (ours only)."""
    import docker

    client = docker.from_env(timeout=60)
    try:
        selector = {"label": ["decnet.managed=true", f"decnet.topology.name={name}"]}
        for container in client.containers.list(all=True, filters=selector):
            container.remove(force=True)
        for network in client.networks.list(filters=selector):
            network.remove()
    finally:
        client.close()


def _play(env: dict[str, Any], playbook: Path, *extra: str) -> list[dict[str, Any]]:
    env["record"].unlink(missing_ok=True)
    completed = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-C", "--diff", "-i", str(env["inventory"]), str(playbook),
         *extra],
        cwd=REPO, env=env["environment"], capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    return json.loads(env["record"].read_text())


CHECK_PLAY = """
- name: Every module in check mode
  hosts: decnet_master
  gather_facts: false
  module_defaults:
    group/decnet.mazenet.all:
      db_url: "{{ decnet_db_url }}"
      state_dir: "{{ decnet_state_dir }}"
      agent_url: local
  tasks:
    - name: present (new)
      decnet.mazenet.decnet_topology: {spec: "{{ new_doc }}", state: present}
    - name: deployed (new)
      decnet.mazenet.decnet_topology: {spec: "{{ new_doc }}", state: deployed}
    - name: present (replace a stored definition)
      decnet.mazenet.decnet_topology: {spec: "{{ stored_doc }}", state: present, replace: true}
    - name: deployed (stored, not deployed yet)
      decnet.mazenet.decnet_topology: {name: ck-stored, state: deployed}
    - name: mutation (live)
      decnet.mazenet.decnet_mutation:
        topology: ck-live
        op: add_decky
        payload: {name: db01, lan: office, services: [mysql]}
    - name: mutation (on a topology an earlier task would create)
      decnet.mazenet.decnet_mutation:
        topology: ck-new
        op: remove_decky
        payload: {decky: ws01}
    - name: torn_down (live)
      decnet.mazenet.decnet_topology: {name: ck-live, state: torn_down}
    - name: absent (live)
      decnet.mazenet.decnet_topology: {name: ck-live, state: absent}
    - name: absent (stored)
      decnet.mazenet.decnet_topology: {name: ck-stored, state: absent}
    - name: info
      decnet.mazenet.decnet_topology_info: {name: ck-live}
    - name: events info
      decnet.mazenet.decnet_events_info: {topology: ck-live, since: 1h}
"""


def test_every_module_reports_changed_in_check_mode_and_changes_nothing(
    env: dict[str, Any]
) -> None:
    playbook = env["tmp"] / "check.yml"
    playbook.write_text(CHECK_PLAY)
    db_before, docker_before = _db_state(env["db"]), _docker_state()
    assert any(kind == "container" for kind, *_ in docker_before)

    records = _play(env, playbook,
                    "-e", json.dumps({"new_doc": _doc("ck-new", 44),
                                      "stored_doc": _doc("ck-stored", 42, extra=1)}))

    ours = [r for r in records if r["action"].startswith("decnet.mazenet.")]
    assert [r["task"] for r in ours] == [
        "present (new)", "deployed (new)", "present (replace a stored definition)",
        "deployed (stored, not deployed yet)", "mutation (live)",
        "mutation (on a topology an earlier task would create)", "torn_down (live)",
        "absent (live)", "absent (stored)", "info", "events info"]
    for record in ours:
        assert record["status"] == "ok", record
    assert all(r["changed"] for r in ours if not r["action"].endswith("_info")), ours
    assert not ours[-1]["changed"] and not ours[-2]["changed"]
    assert _db_state(env["db"]) == db_before
    assert _docker_state() == docker_before


def test_the_playbooks_change_nothing_in_check_mode(env: dict[str, Any]) -> None:
    document = env["tmp"] / "ck-play.yml"
    document.write_text(yaml.safe_dump(_doc("ck-play", 46)))
    db_before, docker_before = _db_state(env["db"]), _docker_state()

    deploy = _play(env, REPO / "playbooks" / "deploy_topology.yml",
                   "-e", f"topology_file={document}", "-e", "decnet_api_enabled=true")
    by_task = {r["task"]: r for r in deploy}
    printed = by_task["Print how to reach it"]["msg"]
    assert "would be deployed" in printed and "dashboard: http://127.0.0.1:8700/" in printed
    for task in ("Persist the topology (validated against the other stored topologies)",
                 "Deploy it and wait until every container runs"):
        assert by_task[task]["status"] == "ok" and by_task[task]["changed"], by_task[task]
    assert by_task["Wait until it is healthy (active, every container running)"]["status"] == "ok"

    teardown = _play(env, REPO / "playbooks" / "teardown_topology.yml",
                     "-e", "topology_name=ck-live", "-e", "delete=true")
    removed = next(r for r in teardown if r["action"] == "decnet.mazenet.decnet_topology")
    assert removed["status"] == "ok" and removed["changed"]

    assert _db_state(env["db"]) == db_before
    assert _docker_state() == docker_before
