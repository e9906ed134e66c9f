"""Deploy and teardown through the master API, on this machine's real Docker Engine."""

from __future__ import annotations

from pathlib import Path

import yaml
from api_server import running_api

from decnet_lib.images.build import build_images

pytest_plugins = ["docker_support"]


def test_deploy_edit_teardown_delete_over_http(docker_env, tmp_path: Path) -> None:
    build_images(docker_env.client)
    document = yaml.safe_load(docker_env.maze_yaml("apideploy", docker_env.subnets(3)))
    with running_api(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}") as api, \
            api.client() as client:
        created = client.post("/api/v1/topologies", json=document)
        assert created.status_code == 201, created.text
        topology_id = created.json()["topology"]["id"]
        docker_env.topology_ids.append(topology_id)

        deployed = client.post("/api/v1/topologies/apideploy/deploy", timeout=600)
        assert deployed.status_code == 200, deployed.text
        assert deployed.json()["status"] == "active", deployed.json()["message"]
        assert docker_env.labelled_count(topology_id) == (9, 3)
        assert client.get("/api/v1/topologies/apideploy").json()["status"] == "active"

        refused = client.delete("/api/v1/topologies/apideploy", params={"force": True})
        assert refused.status_code == 409 and "running" in refused.json()["error"]["message"]

        torn = client.post("/api/v1/topologies/apideploy/teardown", timeout=600)
        assert torn.status_code == 200 and torn.json()["status"] == "torn_down", torn.text
        assert docker_env.labelled_count(topology_id) == (0, 0)
        assert client.delete("/api/v1/topologies/apideploy").status_code == 204
