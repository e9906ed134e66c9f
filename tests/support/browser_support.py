"""What the browser tests need: Node.js, Debian's chromium, the built dashboard bundle and the
frontend's node_modules (playwright-core). Missing under CI=true is a failure, else a skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "decnet_lib" / "web" / "frontend"
BUNDLE = REPO / "decnet_lib" / "web" / "bundle"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def missing_browser_parts() -> list[str]:
    """What is missing to run the dashboard in a browser (empty when all is there)."""
    missing = []
    if shutil.which("node") is None:
        missing.append("node (Node.js >= 20)")
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not (BUNDLE / "index.html").is_file():
        missing.append("the dashboard bundle (scripts/lib/web.sh ensure_web_bundle)")
    if not (FRONTEND / "node_modules" / "playwright-core").is_dir():
        missing.append("playwright-core (npm ci in decnet_lib/web/frontend)")
    return missing


def require_browser() -> None:
    missing = missing_browser_parts()
    if not missing:
        return
    message = "the browser tests need: " + ", ".join(missing)
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def run_node_script(script: str, config: dict[str, Any], config_file: Path,
                    timeout: float = 300.0) -> dict[str, Any]:
    """Runs `node e2e/SCRIPT CONFIG` in the frontend; returns the JSON of its last line."""
    config_file.write_text(json.dumps(config))
    env = {**os.environ, "CHROMIUM_PATH": CHROMIUM, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    done = subprocess.run(["node", f"e2e/{script}", str(config_file)], cwd=FRONTEND, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])
