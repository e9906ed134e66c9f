"""CLI contract: exit codes, one JSON document on stdout, one-line errors, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from decnet_lib.cli import main
from decnet_lib.images.build import build_images

pytest_plugins = ["docker_support"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme.yml"


@pytest.fixture
def decnet(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    """Run `decnet ARGS` in-process against a fresh database; returns (code, out, err)."""
    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DECNET_DB_URL", db_url)
    monkeypatch.delenv("DECNET_MODE", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()  # drop anything printed before this command
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_one_line_error(err: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert len(lines) == 1, err
    assert "Traceback" not in err


def test_validate_valid_json(decnet) -> None:
    code, out, _ = decnet("topology", "validate", str(EXAMPLE), "--json")
    assert code == 0
    assert json.loads(out) == {"valid": True, "issues": []}


def test_validate_invalid_exits_1_with_all_issues(decnet, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yml", """
name: Bad_Name
lans:
  - {name: dmz, subnet: 172.20.0.0/24}
deckies:
  - {name: a, lans: {nowhere: null}}
""")
    code, out, _ = decnet("topology", "validate", str(bad), "--json")
    assert code == 1
    document = json.loads(out)
    codes = {issue["code"] for issue in document["issues"]}
    assert document["valid"] is False
    assert {"NAME_INVALID", "DMZ_MISSING", "IP_UNKNOWN_LAN"} <= codes


@pytest.mark.parametrize("content", ["name: [unclosed\n", "{\"name\": ", ""])
def test_validate_unreadable_exits_2(decnet, tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "broken.yml", content)
    code, out, err = decnet("topology", "validate", str(path), "--json")
    if content == "":
        assert code == 1 and json.loads(out)["issues"][0]["code"] == "SCHEMA"
        return
    assert code == 2 and out == ""
    assert_one_line_error(err)


def test_validate_missing_file_exits_2(decnet, tmp_path: Path) -> None:
    code, out, err = decnet("topology", "validate", str(tmp_path / "nope.yml"))
    assert code == 2 and out == ""
    assert_one_line_error(err)


def test_validate_schema_issue_names_field(decnet, tmp_path: Path) -> None:
    path = write(tmp_path, "x.yml", EXAMPLE.read_text().replace("expose: false", "expose: 3"))
    code, out, _ = decnet("topology", "validate", str(path), "--json")
    issues = json.loads(out)["issues"]
    assert code == 1
    assert issues[0]["code"] == "SCHEMA" and "expose" in issues[0]["target"]


def test_schema_is_json(decnet) -> None:
    code, out, _ = decnet("topology", "schema")
    assert code == 0
    assert json.loads(out)["title"] == "MazeNET topology"


def test_create_show_list_export_delete(decnet, tmp_path: Path) -> None:
    code, out, _ = decnet("topology", "create", str(EXAMPLE), "--json")
    assert code == 0
    created = json.loads(out)
    assert created["name"] == "acme" and created["status"] == "pending"
    assert set(created) >= {"id", "name", "status", "hash", "lans", "deckies"}

    code, out, _ = decnet("topology", "show", "acme", "--json")
    assert code == 0 and json.loads(out) == created

    code, out, _ = decnet("topology", "show", "acme")
    assert code == 0
    assert "lan dmz  172.20.0.0/24  DMZ" in out
    assert "gw01" in out and "172.20.0.10" in out and "forwards_l3" in out

    code, out, _ = decnet("topology", "list", "--json")
    assert [row["name"] for row in json.loads(out)] == ["acme"]

    code, out, _ = decnet("topology", "export", "acme")
    exported = write(tmp_path, "exported.yml", out)
    code, out, _ = decnet("topology", "validate", str(exported), "--json")
    assert code == 0, out  # same name: the stored acme is not its own neighbour

    code, _, err = decnet("topology", "create", str(EXAMPLE))
    assert code == 1
    assert_one_line_error(err)

    code, _, _ = decnet("topology", "delete", "acme")
    assert code == 0
    code, out, _ = decnet("topology", "list", "--json")
    assert json.loads(out) == []


def test_create_invalid_writes_nothing(decnet, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yml", EXAMPLE.read_text().replace("172.20.0.10", "172.20.0.1"))
    code, _, err = decnet("topology", "create", str(bad))
    assert code == 1
    assert "IP_RESERVED" in err and "Traceback" not in err
    code, out, _ = decnet("topology", "list", "--json")
    assert json.loads(out) == []


def test_overlap_with_stored_topology(decnet, tmp_path: Path) -> None:
    assert decnet("topology", "create", str(EXAMPLE))[0] == 0
    other = write(tmp_path, "other.yml", EXAMPLE.read_text().replace("name: acme", "name: beta"))
    code, out, _ = decnet("topology", "validate", str(other), "--json")
    assert code == 1
    assert "SUBNET_OVERLAP" in {issue["code"] for issue in json.loads(out)["issues"]}
    code, _, err = decnet("topology", "create", str(other))
    assert code == 1 and "SUBNET_OVERLAP" in err


def test_generate_is_deterministic_and_valid(decnet, tmp_path: Path) -> None:
    args = ("topology", "generate", "--name", "gen", "--depth", "2", "--branching", "2",
            "--deckies-per-lan", "1-3", "--seed", "5")
    first = decnet(*args)
    second = decnet(*args)
    assert first[0] == 0 and first[1] == second[1]
    path = write(tmp_path, "gen.yml", first[1])
    assert decnet("topology", "validate", str(path))[0] == 0


def test_generate_skips_stored_subnets(decnet, tmp_path: Path) -> None:
    assert decnet("topology", "create", str(EXAMPLE))[0] == 0
    out_file = tmp_path / "gen.json"
    code, _, _ = decnet("topology", "generate", "--name", "gen", "--seed", "1",
                        "-o", str(out_file))
    assert code == 0
    generated = json.loads(out_file.read_text())
    assert all(not lan["subnet"].startswith(("172.20.0.", "172.20.1."))
               for lan in generated["lans"])
    assert decnet("topology", "create", str(out_file))[0] == 0


def test_generate_bad_range(decnet) -> None:
    code, out, err = decnet("topology", "generate", "--name", "g", "--deckies-per-lan", "5-2")
    assert code == 2 and out == ""
    assert_one_line_error(err)


def test_show_unknown_topology(decnet) -> None:
    code, out, err = decnet("topology", "show", "ghost", "--json")
    assert code == 1 and out == ""
    assert_one_line_error(err)


def test_db_reset_needs_yes(decnet) -> None:
    assert decnet("db", "reset")[0] == 2
    assert decnet("topology", "create", str(EXAMPLE))[0] == 0
    assert decnet("db", "reset", "--yes")[0] == 0
    _code, out, _ = decnet("topology", "list", "--json")
    assert json.loads(out) == []


def test_catalog_json(decnet) -> None:
    code, out, _ = decnet("services", "--json")
    assert code == 0 and len(json.loads(out)) == 22
    code, out, _ = decnet("archetypes", "--json")
    assert code == 0 and len(json.loads(out)) == 15


def test_agent_mode_hides_and_refuses(decnet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECNET_MODE", "agent")
    code, out, _ = decnet("--help")
    assert code == 0
    assert "topology" not in out and "services" in out
    code, _, err = decnet("topology", "list")
    assert code == 2 and "master-only" in err
    code, _, err = decnet("db", "init")
    assert code == 2 and "master-only" in err


def test_console_script_no_traceback(tmp_path: Path) -> None:
    """The installed `decnet` script: bad input gives one line on stderr, no traceback."""
    env = {**os.environ, "DECNET_STATE_DIR": str(tmp_path)}
    env.pop("DECNET_DB_URL", None)
    broken = write(tmp_path, "broken.yml", "lans: [\n")
    decnet_bin = Path(sys.executable).with_name("decnet")
    result = subprocess.run([str(decnet_bin), "topology", "validate", str(broken)],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 2
    assert_one_line_error(result.stderr)
    result = subprocess.run([str(decnet_bin), "topology", "create", str(tmp_path / "x.yml")],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 2
    assert_one_line_error(result.stderr)


def _activate(db_url: str, name: str) -> None:
    from decnet_lib.db import make_engine, new_session, require_topology
    from decnet_lib.db.status import transition

    engine = make_engine(db_url)
    with new_session(engine) as session:
        row = require_topology(session, name)
        transition(session, row, "deploying", "test")
        transition(session, row, "active", "test")
        session.commit()
    engine.dispose()


def test_mutate_mutations_and_reconcile(decnet, docker_env, tmp_path: Path) -> None:
    """Mutations through the CLI on a maze deployed on this machine: each push changes
    Docker, and the maze is torn down at the end (docker_env removes leftovers by label)."""
    build_images(docker_env.client)
    subnets = docker_env.subnets(3)
    maze = write(tmp_path, "maze.yml", docker_env.maze_yaml("live", subnets))
    code, out, _ = decnet("topology", "create", str(maze), "--json")
    assert code == 0
    docker_env.topology_ids.append(json.loads(out)["id"])
    code, _, err = decnet("topology", "mutate", "live", "add_decky",
                          "--payload", '{"name": "x1", "lan": "office"}')
    assert code == 1 and "pending" in err  # only live topologies take mutations
    try:
        assert decnet("topology", "deploy", "live")[0] == 0

        code, out, err = decnet("topology", "mutate", "live", "add_decky",
                                "--payload", '{"name": "x1", "lan": "office"}', "--json")
        assert code == 0, err
        assert json.loads(out)["state"] == "pending"
        code, out, _ = decnet("reconcile", "--once", "--json")
        assert code == 0 and [o["state"] for o in json.loads(out)] == ["applied"]

        code, out, err = decnet("topology", "mutate", "live", "remove_decky",
                                "--payload", '{"decky": "x1"}', "--wait", "--json")
        assert code == 0 and json.loads(out)["state"] == "applied"
        reserved = str(subnets[1].network_address + 1)
        code, out, err = decnet("topology", "mutate", "live", "add_decky", "--wait", "--payload",
                                f'{{"name": "x2", "lan": "office", "ip": "{reserved}"}}')
        assert code == 1 and "IP_RESERVED" in err and "Traceback" not in err

        code, out, _ = decnet("topology", "mutations", "live", "--json")
        assert [m["state"] for m in json.loads(out)] == ["applied", "applied", "failed"]
        code, out, _ = decnet("topology", "mutations", "live", "--state", "failed", "--json")
        assert [m["error"]["code"] for m in json.loads(out)] == ["INVALID_TOPOLOGY"]
        code, out, _ = decnet("topology", "show", "live", "--json")
        assert json.loads(out)["status"] == "active"  # refused: nothing changed (14.5)

        # a change the target cannot take: applied to the record, the push fails, exit 1
        code, out, err = decnet("topology", "mutate", "live", "update_decky", "--wait",
                                "--payload", '{"decky": "web", "patch": {"images": '
                                '{"http": "decnet/does-not-exist:never"}}}')
        assert code == 1 and "PUSH_FAILED" in err and "Traceback" not in err, err
        code, out, _ = decnet("topology", "show", "live", "--json")
        assert json.loads(out)["status"] == "degraded"  # the target did not follow
    finally:
        decnet("topology", "teardown", "live")


@pytest.mark.parametrize("payload", ["{not json", "[1, 2]", '{"name": "x"}'])
def test_mutate_refuses_bad_payload_before_queueing(decnet, db_url: str, payload: str) -> None:
    assert decnet("topology", "create", str(EXAMPLE))[0] == 0
    _activate(db_url, "acme")
    code, out, err = decnet("topology", "mutate", "acme", "add_decky", "--payload", payload)
    assert code == 2 and out == ""
    assert_one_line_error(err)
    code, out, _ = decnet("topology", "mutations", "acme", "--json")
    assert json.loads(out) == []
