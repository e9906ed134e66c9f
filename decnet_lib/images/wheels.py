"""PyPI wheels for the full emulators, fetched on the host, unpacked into the build context.

`images/emulators/requirements.lock` (pip-compile --generate-hashes) pins every package
and its hashes. `pip download --only-binary=:all: --platform manylinux2014_x86_64
--python-version 3.11 --require-hashes` fills a cache directory keyed by the lock's
digest (so a warm build never calls pip); each wheel's SHA-256 is checked against the lock
again and the wheels are unpacked (a wheel is a zip of its installed files) into
`site-packages/`, which the image copies to Python's dist-packages: no pip, no network and
no RUN step inside the build.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from decnet_lib.errors import DecnetError

LOCK_FILE = Path("emulators") / "requirements.lock"
PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.11"


class WheelError(DecnetError):
    """The locked wheels could not be fetched or do not match the lock."""

    code = "IMAGE_BUILD"


def lock_text(images_root: Path) -> str:
    return (images_root / LOCK_FILE).read_text()


def allowed_hashes(lock: str) -> set[str]:
    """Every `--hash=sha256:...` of the lock."""
    return set(re.findall(r"--hash=sha256:([0-9a-f]{64})", lock))


def download(images_root: Path, cache: Path) -> list[Path]:
    """The locked wheels, from the cache or downloaded into it with pip (hash-checked)."""
    lock = lock_text(images_root)
    folder = cache / ("wheels-" + hashlib.sha256(lock.encode()).hexdigest()[:16])
    done = folder / ".complete"
    if not done.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet",
                   "--disable-pip-version-check", "--only-binary=:all:", "--platform",
                   PLATFORM, "--python-version", PYTHON_VERSION, "--implementation", "cp",
                   "--no-deps", "--require-hashes",
                   "-r", str(images_root / LOCK_FILE), "-d", str(folder)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines()
                     if line.strip() and not line.startswith("WARNING")] or ["no output"]
            raise WheelError(f"pip download of {LOCK_FILE} failed: {lines[-1][:300]}")
        done.write_text("ok\n")
    wheels = sorted(folder.glob("*.whl"))
    allowed = allowed_hashes(lock)
    for wheel in wheels:
        if hashlib.sha256(wheel.read_bytes()).hexdigest() not in allowed:
            raise WheelError(f"{wheel.name} does not match any hash in {LOCK_FILE}")
    return wheels


def unpack(wheels: list[Path], target: Path) -> None:
    """Unpack wheels into `target` as an installed site-packages tree (purelib/platlib)."""
    target.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if ".." in Path(member).parts or member.startswith("/"):
                    raise WheelError(f"{wheel.name}: unsafe path {member!r}")
            archive.extractall(target)
