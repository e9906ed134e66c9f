"""requirements.lock agrees with pyproject.toml, and the check notices when it does not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(root / "scripts" / "check_lock.py")],
                          capture_output=True, text=True, timeout=60, check=False)


def _copy(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "check_lock.py", tmp_path / "scripts")
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    shutil.copy(REPO / "requirements.lock", tmp_path)
    return tmp_path


def test_the_committed_lock_agrees_with_pyproject() -> None:
    result = _check(REPO)
    assert result.returncode == 0, result.stderr


def test_every_lock_entry_is_pinned_with_hashes() -> None:
    text = (REPO / "requirements.lock").read_text()
    entries = [line for line in text.splitlines() if line and line[0] not in " #"]
    assert entries and all("==" in line and line.endswith("\\") for line in entries), entries[:3]
    assert "file://" not in text  # the project itself is never in its lock


def test_a_changed_dependency_without_a_new_lock_fails(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"orjson>=3.9"', '"orjson>=3.9,<4"'))
    result = _check(root)
    assert result.returncode == 1
    assert "run scripts/lock.sh" in result.stderr


def test_a_pin_outside_the_range_fails(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    lock = root / "requirements.lock"
    text = lock.read_text()
    pinned = next(line for line in text.splitlines() if line.startswith("orjson=="))
    lock.write_text(text.replace(pinned, "orjson==3.0.0 \\"))
    result = _check(root)
    assert result.returncode == 1
    assert "orjson==3.0.0 in the lock does not satisfy" in result.stderr
