"""Build the decky and service images offline from the repository's `images/` directory.

Three kinds of image, each from one build context under `images/`:
`decnet/base:latest` (FROM scratch + a static busybox), `decnet/emulator:latest` (the one
shared emulator layer: decnet-svd, compiled here with the host's C compiler, plus the busybox
sh handlers) and one metadata-only `decnet/svc-<name>:latest` per catalog service.
Nothing is ever pulled. Each image carries `decnet.managed=true`, `decnet.image=<name>` and
`decnet.image.hash=<hash of its build context and of its parent's hash>`; an image whose
hash label already matches is not rebuilt, which makes a second build a fast no-op.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decnet_lib.catalog import SERVICES
from decnet_lib.deploy.labels import MANAGED
from decnet_lib.deploy.naming import BASE_IMAGE
from decnet_lib.deploy.probe import DockerUnavailable
from decnet_lib.errors import DecnetError, NotFound

EMULATOR_IMAGE = "decnet/emulator:latest"
IMAGE_LABEL = "decnet.image"
HASH_LABEL = "decnet.image.hash"
HASH_FORMAT = "decnet-images-v1"
DEFAULT_BUSYBOX = Path("/bin/busybox")
IMAGES_DIR_ENV = "DECNET_IMAGES_DIR"
BUSYBOX_ENV = "DECNET_BUSYBOX"

Progress = Callable[[str], None]

__all__ = [
    "BASE_IMAGE",
    "EMULATOR_IMAGE",
    "BusyboxMissing",
    "DockerUnavailable",
    "ImageBuildError",
    "build_images",
    "docker_client",
    "images_dir",
]


class ImageBuildError(DecnetError):
    """An image could not be built (the Docker build failed, or a tool is missing)."""

    code = "IMAGE_BUILD"


class BusyboxMissing(ImageBuildError):
    """No static busybox to put in the images."""

    code = "BUSYBOX_MISSING"


@dataclass
class _Spec:
    """One image to build: its name, context directory, build args and extra files."""

    name: str
    context: str
    buildargs: dict[str, str] = field(default_factory=dict)
    parent: _Spec | None = None
    digest: str = ""


def images_dir() -> Path:
    """The repository's `images/` directory (or $DECNET_IMAGES_DIR)."""
    configured = os.environ.get(IMAGES_DIR_ENV, "").strip()
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "images"


def docker_client(timeout: int = 60) -> Any:
    """A Docker SDK client that has answered a ping; DockerUnavailable (one line) otherwise."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise DockerUnavailable(f"the docker Python SDK is not installed: {exc}") from None
    from requests.exceptions import RequestException

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (DockerException, RequestException) as exc:
        raise DockerUnavailable(f"Docker Engine does not answer: {_one_line(exc)}") from None
    return client


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _busybox_path() -> Path:
    return Path(os.environ.get(BUSYBOX_ENV, "").strip() or DEFAULT_BUSYBOX)


def _check_static_elf(path: Path) -> None:
    """Refuse a missing busybox, or one that needs a dynamic loader (useless FROM scratch)."""
    hint = "install busybox-static (apt-get install -y busybox-static)"
    try:
        data = path.read_bytes()
    except OSError:
        raise BusyboxMissing(f"no busybox at {path}: {hint}") from None
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BusyboxMissing(f"{path} is not a 64-bit little-endian ELF binary: {hint}")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for index in range(phnum):
        p_type, = struct.unpack_from("<I", data, phoff + index * phentsize)
        if p_type == 3:  # PT_INTERP: dynamically linked
            raise BusyboxMissing(f"{path} is dynamically linked: {hint}")


def _tree_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _context_digest(spec: _Spec, root: Path, busybox: Path) -> str:
    """Hash of everything that goes into the image: files, modes, build args, parent hash."""
    digest = hashlib.sha256(HASH_FORMAT.encode())
    parent = spec.parent.digest if spec.parent else ""
    digest.update(f"\0name={spec.name}\0parent={parent}".encode())
    for key, value in sorted(spec.buildargs.items()):
        digest.update(f"\0arg {key}={value}".encode())
    context = root / spec.context
    for path in _tree_files(context):
        mode = "x" if os.access(path, os.X_OK) else "-"
        digest.update(f"\0file {path.relative_to(context).as_posix()} {mode}\0".encode())
        digest.update(path.read_bytes())
    if spec.context == "base":
        digest.update(b"\0busybox\0" + busybox.read_bytes())
    return digest.hexdigest()


def _specs(services: Sequence[str]) -> list[_Spec]:
    base = _Spec(BASE_IMAGE, "base")
    emulator = _Spec(EMULATOR_IMAGE, "emulator", {"BASE": BASE_IMAGE}, parent=base)
    specs = [base, emulator]
    for name in services:
        service = SERVICES[name]
        specs.append(_Spec(
            service.image,
            "service",
            {"EMULATOR": EMULATOR_IMAGE, "SERVICE": service.name,
             "PORTS": " ".join(str(port) for port in service.ports)},
            parent=emulator,
        ))
    return specs


def _compile_helper(source: Path, target: Path) -> None:
    """Compile decnet-svd statically (it runs FROM scratch, with no C library)."""
    compiler = os.environ.get("CC", "").strip() or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise ImageBuildError("no C compiler to build the emulator's decnet-svd: "
                              "install gcc and libc6-dev")
    command = [compiler, "-static", "-Os", "-s", "-o", str(target), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ImageBuildError(f"cannot compile {source.name} statically: {detail} "
                              "(a static build needs libc6-dev)")


def _prepare_context(spec: _Spec, root: Path, busybox: Path, workdir: Path) -> Path:
    """Copy one build context into a temporary directory, with the files built on the fly."""
    context = workdir / spec.context
    shutil.copytree(root / spec.context, context, ignore=shutil.ignore_patterns("__pycache__"))
    if spec.context == "base":
        shutil.copyfile(busybox, context / "busybox")
        (context / "busybox").chmod(0o755)
    elif spec.context == "emulator":
        _compile_helper(context / "decnet-svd.c", context / "decnet-svd")
        (context / "decnet-svd.c").unlink()
    for path in context.rglob("*"):
        if path.is_file():
            path.chmod(0o755 if path.suffix == ".sh" or os.access(path, os.X_OK) else 0o644)
    return context


def _existing(client: Any) -> dict[str, list[Any]]:
    """Our images that carry a content hash, by hash."""
    found: dict[str, list[Any]] = {}
    for image in client.images.list(filters={"label": [f"{MANAGED}=true", HASH_LABEL]}):
        found.setdefault((image.labels or {}).get(HASH_LABEL, ""), []).append(image)
    return found


def _up_to_date(client: Any, spec: _Spec, existing: dict[str, list[Any]]) -> bool:
    """True when an image with this hash exists; it is (re)tagged with the name if needed."""
    for image in existing.get(spec.digest, []):
        if (image.labels or {}).get(IMAGE_LABEL) != spec.name:
            continue
        if spec.name not in (image.tags or []):
            repository, _, tag = spec.name.rpartition(":")
            image.tag(repository, tag)
        return True
    return False


def _docker_build(client: Any, spec: _Spec, context: Path, force: bool) -> None:
    labels = {MANAGED: "true", IMAGE_LABEL: spec.name, HASH_LABEL: spec.digest}
    stream = client.api.build(
        path=str(context), tag=spec.name, labels=labels, buildargs=spec.buildargs,
        rm=True, forcerm=True, pull=False, nocache=force, decode=True,
    )
    last = ""
    for chunk in stream:
        if "error" in chunk:
            detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            raise ImageBuildError(f"building {spec.name} failed: {' '.join(str(detail).split())}")
        text = str(chunk.get("stream", "")).strip()
        if text:
            last = text
    image = client.images.get(spec.name)
    if (image.labels or {}).get(HASH_LABEL) != spec.digest:
        raise ImageBuildError(f"building {spec.name} failed: {last or 'no image came out'}")


def _prune_replaced(client: Any, names: Iterable[str]) -> None:
    """Remove our dangling images of these names (left behind by a rebuild); best effort."""
    from docker.errors import APIError

    wanted = set(names)
    dangling = client.images.list(filters={"dangling": True, "label": f"{MANAGED}=true"})
    order = {BASE_IMAGE: 2, EMULATOR_IMAGE: 1}
    candidates = [img for img in dangling if (img.labels or {}).get(IMAGE_LABEL) in wanted]
    for image in sorted(candidates, key=lambda img: order.get(img.labels[IMAGE_LABEL], 0)):
        with contextlib.suppress(APIError):  # still used by a container or a child image
            client.images.remove(image.id, noprune=False)


def build_images(
    client: Any,
    services: Sequence[str] | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> list[str]:
    """Build the base, emulator and service images that are missing or out of date.

    `services` limits the service images (default: every catalog service); the base and
    emulator images are always ensured. Returns the names of the images actually built
    (empty when everything was up to date). Raises DockerUnavailable, BusyboxMissing,
    NotFound (unknown service) or ImageBuildError, each with a one-line message.
    """
    report = progress or (lambda _line: None)
    names = list(SERVICES) if services is None else list(dict.fromkeys(services))
    unknown = [name for name in names if name not in SERVICES]
    if unknown:
        raise NotFound(f"unknown service(s): {', '.join(unknown)} "
                       f"(known: {', '.join(SERVICES)})")
    root = images_dir()
    if not (root / "base" / "Dockerfile").is_file():
        raise ImageBuildError(f"no image build contexts in {root}")
    busybox = _busybox_path()
    _check_static_elf(busybox)
    specs = _specs(names)
    for spec in specs:
        spec.digest = _context_digest(spec, root, busybox)

    from docker.errors import APIError, DockerException
    from requests.exceptions import RequestException

    built: list[str] = []
    try:
        client.ping()
        existing = _existing(client)
        with tempfile.TemporaryDirectory(prefix="decnet-images-") as tmp:
            # In order: base, the emulator layer on it, then the services on the emulator.
            # (Parallel builds gain nothing: the engine serialises the commits.)
            for spec in specs:
                if not force and _up_to_date(client, spec, existing):
                    report(f"{spec.name}: up to date ({spec.digest[:12]})")
                    continue
                started = time.monotonic()
                report(f"{spec.name}: building ({spec.digest[:12]})")
                context = _prepare_context(spec, root, busybox, Path(tmp))
                _docker_build(client, spec, context, force)
                shutil.rmtree(context, ignore_errors=True)
                built.append(spec.name)
                report(f"{spec.name}: built in {time.monotonic() - started:.1f}s")
        with contextlib.suppress(DockerException, RequestException):
            _prune_replaced(client, [spec.name for spec in specs])
    except APIError as exc:
        raise ImageBuildError(f"Docker refused an image build: {_one_line(exc)}") from None
    except (DockerException, RequestException) as exc:
        raise DockerUnavailable(f"Docker Engine failed while building images: "
                                f"{_one_line(exc)}") from None
    return built
