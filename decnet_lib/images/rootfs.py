"""The full emulators' runtime: a debootstrap'd Debian root imported as a Docker image.

`debootstrap --variant=minbase --include=<packages> <suite> DIR <mirror>`, trimmed (docs,
man pages, locales, apt lists), packed with `tar -C DIR -c .` into a tarball cached under
the image cache directory and keyed by the digest of the suite and the package list, then
imported (`docker import` through the SDK) as `decnet/emulator-rootfs:latest` with the
usual labels. An unchanged package list neither runs debootstrap nor imports again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from decnet_lib.errors import DecnetError
from decnet_lib.settings import get_settings

ROOTFS_IMAGE = "decnet/emulator-rootfs:latest"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
MIRROR_ENV = "DECNET_DEBIAN_MIRROR"
PACKAGES_FILE = Path("emulators") / "rootfs-packages.txt"
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
TRIM = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
        "var/lib/apt/lists", "var/cache/apt", "var/cache/debconf/templates.dat-old")


class RootfsError(DecnetError):
    """The Debian root could not be made (debootstrap missing or failing)."""

    code = "IMAGE_BUILD"


def packages(images_root: Path) -> list[str]:
    """The packages of the runtime root: python3 first, then the file's, each once."""
    text = (images_root / PACKAGES_FILE).read_text()
    names = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return list(dict.fromkeys(["python3", *(name for name in names if name)]))


def digest(images_root: Path, fmt: str) -> str:
    """The cache key: suite and sorted package list (the mirror does not count)."""
    payload = f"{fmt}\0rootfs\0{SUITE}\0" + "\0".join(sorted(packages(images_root)))
    return hashlib.sha256(payload.encode()).hexdigest()


def mirror() -> str:
    """$DECNET_DEBIAN_MIRROR, else the host's Debian mirror from its apt sources."""
    configured = get_settings().debian_mirror
    if configured:
        return configured
    for path in APT_SOURCES:
        try:
            text = path.read_text()
        except OSError:
            continue
        for url in re.findall(r"(?:URIs:|deb)\s+(\S+)", text):
            if url.rstrip("/").endswith("/debian"):
                return url
    return DEFAULT_MIRROR


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise RootfsError(f"{what} failed: {lines[-1][:300]}")


def _debootstrap(target: Path, names: list[str]) -> None:
    tool = shutil.which("debootstrap") or ("/usr/sbin/debootstrap"
                                           if Path("/usr/sbin/debootstrap").exists() else "")
    if not tool:
        raise RootfsError("debootstrap is missing: apt-get install -y debootstrap")
    _run([tool, "--variant=minbase", f"--include={','.join(names)}", SUITE, str(target),
          mirror()], f"debootstrap {SUITE}")
    for item in TRIM:
        path = target / item
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True, exist_ok=True)


def tarball(images_root: Path, cache: Path, key: str) -> Path:
    """The cached rootfs tarball for `key`, made with debootstrap when it is missing."""
    target = cache / f"rootfs-{SUITE}-{key[:16]}.tar"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=cache) as work:
        root = Path(work) / "root"
        _debootstrap(root, packages(images_root))
        partial = Path(work) / "rootfs.tar"
        _run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], "tar")
        os.replace(partial, target)
    for old in cache.glob(f"rootfs-{SUITE}-*.tar"):  # one cached root is enough
        if old != target:
            old.unlink(missing_ok=True)
    return target


def import_image(client: Any, source: Path, labels: dict[str, str]) -> None:
    """`docker import` of the tarball as ROOTFS_IMAGE, labelled (SDK, streamed from disk)."""
    repository, _, tag = ROOTFS_IMAGE.rpartition(":")
    changes = [f'LABEL {key}="{value}"' for key, value in labels.items()]
    changes += ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                'CMD ["/bin/bash"]']
    client.api.import_image_from_file(str(source), repository=repository, tag=tag,
                                      changes=changes)
