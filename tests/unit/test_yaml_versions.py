"""The nesting limit is ours on every path and with every libyaml PyYAML may bundle.

PyYAML 6.0.3 bundles libyaml 0.2.5 and 6.0.4 bundles 0.2.6 (which refuses 1,000 levels on
its own). Each is installed into a scratch folder from PyPI and loads the same documents in
a child process, through the C builder and through PyYAML alone: the outcomes must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from decnet_lib.topology import yaml_load as yaml_events
from decnet_lib.topology.loader import DocumentUnreadable, decode_document
from decnet_lib.topology.safe_yaml import MAX_NESTING, TOO_DEEP

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
from decnet_lib.topology import yaml_load as yaml_events
from decnet_lib.topology.loader import DocumentUnreadable, decode_document
from decnet_lib.topology.safe_yaml import MAX_NESTING
import yaml
n = MAX_NESTING
docs = {
    "flow-at": b"[" * n + b"]" * n,
    "flow-over": b"a: " + b"[" * n + b"]" * n + b"\n",
    "block-at": b"- " * n + b"x\n",
    "block-over": b"- " * (n + 1) + b"x\n",
    "libyaml-limit": b"a: " + b"[" * 1200 + b"]" * 1200 + b"\n",
    "json-over": b"[" * (n + 1) + b"]" * (n + 1),
}
out = {"pyyaml": yaml.__version__}
for fast in (True, False):
    yaml_events._FAST = fast and yaml_events.fast_path_available()
    for name, raw in docs.items():
        try:
            decode_document(raw)
            out[f"{fast}/{name}"] = "ok"
        except DocumentUnreadable as exc:
            out[f"{fast}/{name}"] = exc.message
print(json.dumps(out))
"""


def _outcomes(pythonpath: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            env=env, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_pyyaml_603_and_604_refuse_and_accept_the_same_documents(tmp_path: Path) -> None:
    seen = {}
    for version in ("6.0.3", "6.0.4"):
        target = tmp_path / version
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
             "--target", str(target), f"PyYAML=={version}"],
            capture_output=True, text=True, timeout=300)
        assert pip.returncode == 0, pip.stderr
        seen[version] = _outcomes(os.pathsep.join([str(target), str(REPO)]))
    assert seen["6.0.3"].pop("pyyaml") == "6.0.3"
    assert seen["6.0.4"].pop("pyyaml") == "6.0.4"
    assert seen["6.0.3"] == seen["6.0.4"]
    for key, outcome in seen["6.0.4"].items():
        expected = "ok" if key.endswith("-at") else f"<input> {TOO_DEEP}"
        assert outcome == expected, key


@pytest.mark.parametrize("fast", [True, False], ids=["c-builder", "pyyaml"])
def test_one_refusal_just_past_the_limit_on_every_path(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yaml_events, "_FAST", fast and yaml_events.fast_path_available())
    n = MAX_NESTING
    for raw in (b"[" * (n + 1) + b"]" * (n + 1), b"a: " + b"[" * n + b"]" * n + b"\n",
                b"- " * (n + 1) + b"x\n", b"a: " + b"[" * 5000 + b"\n"):
        with pytest.raises(DocumentUnreadable) as info:
            decode_document(raw)
        assert info.value.message == f"<input> {TOO_DEEP}"
    assert decode_document(b"- " * n + b"x\n") is not None
