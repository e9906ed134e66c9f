"""`generate --footholds`: a generated maze can be walked from the DMZ to its deepest LAN."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from decnet_lib.topology.footholds import credential, path_to_deepest
from decnet_lib.topology.generator import GeneratorParams, generate
from decnet_lib.validation.validate import validate_data


def walk(doc: dict) -> set[str]:
    """LANs an attacker reaches from the DMZ by logging in to accepting ssh deckies."""
    reached, queue = {"dmz"}, deque(["dmz"])
    while queue:
        lan = queue.popleft()
        for decky in doc["deckies"]:
            accept = decky.get("service_config", {}).get("ssh", {}).get("accept")
            if lan in decky["lans"] and accept:
                for other in decky["lans"]:
                    if other not in reached:
                        reached.add(other)
                        queue.append(other)
    return reached


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_footholds_reach_the_deepest_lan_and_validate(seed: int) -> None:
    params = GeneratorParams(name="walk", depth=3, branching=2, seed=seed,
                             cross_edge_p=0.3, footholds=True)
    doc = generate(params)
    _, issues = validate_data(doc)
    assert not [i for i in issues if i.severity == "error"], issues
    path = path_to_deepest(doc)
    assert len(path) == 3  # one bridge per level below the DMZ: a tree of depth 3
    for decky in path:
        assert "ssh" in decky["services"]
        assert decky["service_config"]["ssh"]["accept"] == [credential(seed, decky["name"])]
    assert set(path[-1]["lans"]) <= walk(doc)  # the deepest LAN is reached by logging in


def test_footholds_are_deterministic_and_off_by_default() -> None:
    params = GeneratorParams(name="walk", depth=2, seed=5, footholds=True)
    assert generate(params) == generate(params)
    plain = generate(GeneratorParams(name="walk", depth=2, seed=5))
    assert not any("service_config" in decky for decky in plain["deckies"])
    assert credential(5, "decky-3") != credential(6, "decky-3")


def test_the_cli_flag_plants_the_footholds(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import yaml

    env = {**os.environ, "DECNET_STATE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "decnet_lib.cli", "topology", "generate", "--name", "walk",
         "--depth", "2", "--seed", "9", "--footholds"],
        capture_output=True, text=True, env=env, check=True).stdout
    doc = yaml.safe_load(out)
    assert doc == generate(GeneratorParams(name="walk", depth=2, seed=9, footholds=True))
    assert len(path_to_deepest(doc)) == 2
