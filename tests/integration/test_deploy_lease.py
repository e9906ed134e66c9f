"""A local deploy killed with SIGKILL does not leave its topology `deploying` forever
(issue 14.2): the deploy's lease expires, the next deploy records it failed with the
reason and deploys again. Real processes, the real Docker Engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from decnet_lib.db import TopologyEvent, make_engine, new_session, require_topology
from decnet_lib.images.build import build_images

pytest_plugins = ["docker_support"]


@pytest.mark.slow
def test_a_killed_deploy_is_recovered_after_its_lease(docker_env, tmp_path: Path) -> None:
    build_images(docker_env.client)
    db = tmp_path / "db.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_")}
    env.update(DECNET_STATE_DIR=str(tmp_path), DECNET_DB_URL=f"sqlite:///{db}",
               DECNET_BUS="null", DECNET_DEPLOY_LEASE_SECONDS="2")
    document = tmp_path / "maze.yml"
    document.write_text(docker_env.maze_yaml("leased", docker_env.subnets(3)))

    def decnet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "decnet_lib.cli", *args], env=env,
                              capture_output=True, text=True, timeout=300)

    created = decnet("topology", "create", str(document), "--json")
    assert created.returncode == 0, created.stderr
    topology_id = json.loads(created.stdout)["id"]
    docker_env.topology_ids.append(topology_id)
    engine = make_engine(f"sqlite:///{db}")

    def status() -> str:
        with new_session(engine) as session:
            return require_topology(session, "leased").status

    victim = subprocess.Popen([sys.executable, "-m", "decnet_lib.cli", "topology", "deploy",
                               "leased"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while status() != "deploying" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status() == "deploying"
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    assert status() == "deploying"

    refused = decnet("topology", "deploy", "leased")  # the lease still runs: refused
    assert refused.returncode != 0 and "deploying" in refused.stderr
    time.sleep(2.5)

    again = decnet("topology", "deploy", "leased")
    assert again.returncode == 0, again.stderr
    assert status() == "active"
    with new_session(engine) as session:
        reasons = [e.reason for e in session.query(TopologyEvent).filter_by(
            topology_id=topology_id, to_status="failed")]
    assert reasons and "stopped renewing its lease" in reasons[0]
    assert decnet("topology", "teardown", "leased").returncode == 0
    engine.dispose()
