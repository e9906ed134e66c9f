"""`decnet topology deploy | teardown | delete` against this machine's Docker Engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from decnet_lib.cli import main
from decnet_lib.images.build import build_images

pytest_plugins = ["docker_support"]


def test_deploy_dry_run_deploy_delete_refused_teardown(
    docker_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    build_images(docker_env.client)
    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("DECNET_DB_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("DECNET_BUS", "null")
    document = tmp_path / "maze.yml"
    document.write_text(docker_env.maze_yaml("clitest", docker_env.subnets(3)))

    def decnet(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = decnet("topology", "create", str(document), "--json")
    assert code == 0
    topology_id = json.loads(out)["id"]
    docker_env.topology_ids.append(topology_id)

    code, out, _ = decnet("topology", "deploy", "clitest", "--dry-run", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["summary"]["containers"]["create"] == 9 and plan["summary"]["changed"]
    assert docker_env.labelled_count(topology_id) == (0, 0)  # a dry run changes nothing

    code, out, err = decnet("topology", "deploy", "clitest")
    assert code == 0, err
    assert "[9/12]" in err or "[12/12]" in err  # progress lines
    code, out, _ = decnet("topology", "show", "clitest", "--json")
    assert json.loads(out)["status"] == "active"
    assert docker_env.labelled_count(topology_id) == (9, 3)

    code, out, _ = decnet("topology", "deploy", "clitest", "--json")  # nothing to change
    assert code == 0 and json.loads(out)["changed"] is False

    code, _, err = decnet("topology", "delete", "clitest", "--force")
    assert code == 1 and "running" in err and "Traceback" not in err

    code, _, err = decnet("topology", "teardown", "clitest")
    assert code == 0, err
    assert docker_env.labelled_count(topology_id) == (0, 0)
    code, out, _ = decnet("topology", "show", "clitest", "--json")
    assert json.loads(out)["status"] == "torn_down"
    assert decnet("topology", "delete", "clitest")[0] == 0
