"""Does requirements.lock agree with pyproject.toml? (CI runs this before the tests.)

`--stamp` records the digest of pyproject's dependency tables in the lock (scripts/lock.sh
does it after pip-compile). Without it, the check fails, one line on stderr, when:
- the dependency tables changed since the lock was made (the digest differs), or
- a requirement of pyproject (runtime, any extra, build) has no pin in the lock that
  satisfies it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
STAMP = "# pyproject-digest: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)


def _tables(project: dict) -> dict:
    body = project["project"]
    return {"dependencies": body.get("dependencies", []),
            "optional": body.get("optional-dependencies", {}),
            "build": project.get("build-system", {}).get("requires", []),
            "python": body.get("requires-python", "")}


def digest() -> str:
    """SHA-256 of pyproject's dependency tables (order of keys does not matter)."""
    tables = _tables(tomllib.loads(PYPROJECT.read_text()))
    return "sha256:" + hashlib.sha256(json.dumps(tables, sort_keys=True).encode()).hexdigest()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def problems() -> list[str]:
    """What disagrees between the lock and pyproject (empty: they agree)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # a fresh virtualenv: pip's own copy
        from pip._vendor.packaging.requirements import Requirement

    if not LOCK.exists():
        return [f"{LOCK.name} is missing: run scripts/lock.sh"]
    text = LOCK.read_text()
    found = [line[len(STAMP):].strip() for line in text.splitlines() if line.startswith(STAMP)]
    out = []
    if found != [digest()]:
        out.append("pyproject.toml's dependencies changed since requirements.lock was made: "
                   "run scripts/lock.sh and commit both")
    pins = {_normal(name): version for name, version in _PIN.findall(text)}
    tables = _tables(tomllib.loads(PYPROJECT.read_text()))
    wanted = [*tables["dependencies"], *tables["build"]]
    wanted += [req for extra in tables["optional"].values() for req in extra]
    for raw in wanted:
        req = Requirement(raw)
        if _normal(req.name) == "mazenet" or (req.marker and not req.marker.evaluate()):
            continue
        version = pins.get(_normal(req.name))
        if version is None:
            out.append(f"{req.name} is required by pyproject.toml but not pinned in the lock")
        elif not req.specifier.contains(version, prereleases=True):
            out.append(f"{req.name}=={version} in the lock does not satisfy '{raw}'")
    return out


def _without_self(lines: list[str]) -> list[str]:
    """Drop the entry of this project itself (the `dev` extra names it) and pip-compile's
    warning about it: the lock pins dependencies, the project is installed from its tree."""
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith(("mazenet @ ", "# WARNING: pip install will", "# Consider using")):
            skipping = True
            continue
        if skipping and line.startswith(("    ", "#    ")):
            continue
        skipping = False
        out.append(line)
    return out


def stamp() -> None:
    """Write the digest line at the top of the lock (replacing an older one)."""
    lines = [line for line in LOCK.read_text().splitlines() if not line.startswith(STAMP)]
    LOCK.write_text("\n".join([STAMP + digest(), *_without_self(lines)]) + "\n")


def main(argv: list[str]) -> int:
    if argv[1:] == ["--stamp"]:
        stamp()
    issues = problems()
    for issue in issues:
        print(f"error[LOCK]: {issue}", file=sys.stderr)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
