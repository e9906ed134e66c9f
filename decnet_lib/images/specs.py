"""What `decnet images build` builds: one ImageSpec per image, parents first.

Light (busybox, FROM scratch): `decnet/base`, `decnet/emulator`, `decnet/svc-<name>-light`.
Full: `decnet/emulator-rootfs` (debootstrap'd bookworm, imported), `decnet/emulator-full`
(+ wheels + decnet_emu), `decnet/svc-<name>` (+ the service's own steps and command from
FULL_SERVICES). The decky base stays `decnet/base` in both modes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from decnet_lib.catalog import SERVICES
from decnet_lib.deploy.naming import BASE_IMAGE
from decnet_lib.images.rootfs import ROOTFS_IMAGE

EMULATOR_IMAGE = "decnet/emulator:latest"
FULL_IMAGE = "decnet/emulator-full:latest"
LIBRARY_ROOT = Path(__file__).resolve().parents[1]  # decnet_lib/
EMULATOR_LINE = LIBRARY_ROOT / "logs" / "emulator_line.py"
DEFAULT_COMMAND = ("python3", "-m", "decnet_emu")
MODES = ("light", "full")


@dataclass(frozen=True)
class FullService:
    """How one service's full image differs from the shared full emulator."""

    command: tuple[str, ...] = DEFAULT_COMMAND
    files: tuple[tuple[str, str], ...] = ()  # (path under images/, name in the context)
    steps: tuple[str, ...] = ()  # Dockerfile lines after the files are in the context


FULL_SERVICES: dict[str, FullService] = {
    # the real OpenSSH sshd under decnet_emu.protocols.ssh's supervisor (emulators/ssh/)
    "ssh": FullService(files=(("emulators/ssh", "ssh"),),
                       steps=("COPY ssh/ /opt/decnet/ssh/",
                              "RUN sh /opt/decnet/ssh/image-setup.sh")),
}


@dataclass
class ImageSpec:
    """One image: its name, how it is made, and what its content hash covers.

    `context` is a directory under images/ copied whole; `files` maps names in the build
    context to files or directories (absolute, or relative to images/); `tail` is appended
    to the Dockerfile; `extra_hash` is hashed too (the wheel lock); `fill` adds files
    that are only needed when the image is really built (downloaded wheels).
    """

    name: str
    context: str = ""
    buildargs: dict[str, str] = field(default_factory=dict)
    parent: ImageSpec | None = None
    files: dict[str, Path] = field(default_factory=dict)
    tail: str = ""
    extra_hash: str = ""
    kind: str = "build"  # build | rootfs
    fill: Callable[[Path], None] | None = None
    digest: str = ""


def _ports(name: str) -> str:
    return " ".join(str(port) for port in SERVICES[name].ports)


def _full_service(name: str, parent: ImageSpec, images_root: Path) -> ImageSpec:
    extra = FULL_SERVICES.get(name, FullService())
    files = {"Dockerfile": images_root / "emulators" / "service" / "Dockerfile"}
    files.update({target: images_root / source for source, target in extra.files})
    tail = "\n".join([*extra.steps, f"CMD {json.dumps(list(extra.command))}", ""])
    return ImageSpec(SERVICES[name].image, buildargs={
        "EMULATOR": FULL_IMAGE, "SERVICE": name, "PORTS": _ports(name)},
        parent=parent, files=files, tail=tail)


def image_specs(services: Sequence[str], modes: Sequence[str], images_root: Path,
                fill_wheels: Callable[[Path], None] | None = None,
                lock: str = "") -> list[ImageSpec]:
    """Every image to ensure, parents before children (the base always)."""
    base = ImageSpec(BASE_IMAGE, "base")
    specs = [base]
    if "light" in modes:
        emulator = ImageSpec(EMULATOR_IMAGE, "emulator", {"BASE": BASE_IMAGE}, parent=base)
        specs.append(emulator)
        specs += [ImageSpec(SERVICES[name].light_image, "service", {
            "EMULATOR": EMULATOR_IMAGE, "SERVICE": name, "PORTS": _ports(name)},
            parent=emulator) for name in services]
    if "full" in modes:
        rootfs = ImageSpec(ROOTFS_IMAGE, kind="rootfs")
        full = ImageSpec(FULL_IMAGE, buildargs={"ROOTFS": ROOTFS_IMAGE}, parent=rootfs,
                         files={"Dockerfile": images_root / "emulators" / "Dockerfile",
                                "decnet_emu": images_root / "emulators" / "decnet_emu",
                                "decnet_emu/_emulator_line.py": EMULATOR_LINE},
                         extra_hash=lock, fill=fill_wheels)
        specs += [rootfs, full]
        specs += [_full_service(name, full, images_root) for name in services]
    return specs
