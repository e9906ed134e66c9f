"""The dashboard's build lands where the API serves it from and where the package carries it."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from decnet_lib.api.bundle import DEFAULT_BUNDLE

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "decnet_lib" / "web" / "frontend"


def test_vite_builds_into_the_bundle_the_api_serves() -> None:
    config = (FRONTEND / "vite.config.ts").read_text()
    out_dir = re.search(r'outDir:\s*"([^"]+)"', config)
    assert out_dir is not None
    assert (FRONTEND / out_dir.group(1)).resolve() == DEFAULT_BUNDLE


def test_the_package_carries_the_bundle_and_git_does_not() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["decnet_lib.web"]
    assert {"bundle/*", "bundle/**/*"} <= set(patterns)
    assert (REPO / "decnet_lib" / "web" / "__init__.py").is_file()
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert "/decnet_lib/web/bundle/" in ignored
    assert "/decnet_lib/web/frontend/node_modules/" in ignored


def test_npm_ci_has_a_lock_matching_the_manifest() -> None:
    manifest = json.loads((FRONTEND / "package.json").read_text())
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    root = lock["packages"][""]
    assert root.get("dependencies", {}) == manifest.get("dependencies", {})
    assert root.get("devDependencies", {}) == manifest.get("devDependencies", {})
    for name in ("react", "@xyflow/react", "elkjs"):
        assert f"node_modules/{name}" in lock["packages"], name
