"""Build the decky and service images offline from the repository's `images/` directory.

Light: `decnet/base:latest` (FROM scratch + a static busybox), `decnet/emulator:latest`
(decnet-svd, compiled here with the host's C compiler, plus the busybox sh handlers) and
`decnet/svc-<name>-light:latest`. Full: `decnet/emulator-rootfs:latest` (debootstrap'd
bookworm, imported; `rootfs.py`), `decnet/emulator-full:latest` (+ locked wheels from
`wheels.py` + decnet_emu) and `decnet/svc-<name>:latest`; `specs.py` lists them all.
Nothing is ever pulled. Each image carries `decnet.managed=true`, `decnet.image=<name>` and
`decnet.image.hash=<hash of its inputs and of its parent's hash>`; an image whose hash label
already matches is not rebuilt, which makes a second build a fast no-op.
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
from pathlib import Path
from typing import Any

from decnet_lib.catalog import SERVICES
from decnet_lib.deploy.labels import MANAGED
from decnet_lib.deploy.naming import BASE_IMAGE
from decnet_lib.deploy.running import DockerUnavailable
from decnet_lib.errors import DecnetError, NotFound
from decnet_lib.images import rootfs, wheels
from decnet_lib.images.specs import EMULATOR_IMAGE, FULL_IMAGE, MODES, ImageSpec, image_specs
from decnet_lib.settings import get_settings

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
    "FULL_IMAGE",
    "MODES",
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


def images_dir() -> Path:
    """The repository's `images/` directory (or $DECNET_IMAGES_DIR)."""
    configured = get_settings().images_dir
    if configured is not None:
        return configured
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
    return get_settings().busybox or DEFAULT_BUSYBOX


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


def _hash_path(digest: Any, name: str, source: Path) -> None:
    """Add a file or a directory tree (names, executable bits, contents) to `digest`."""
    items = [(name, source)] if source.is_file() else [
        (f"{name}/{path.relative_to(source).as_posix()}", path) for path in _tree_files(source)]
    for label, path in items:
        mode = "x" if os.access(path, os.X_OK) else "-"
        digest.update(f"\0file {label} {mode}\0".encode())
        digest.update(path.read_bytes())


def _context_digest(spec: ImageSpec, root: Path, busybox: Path) -> str:
    """Hash of everything that goes into the image: files, modes, build args, parent hash."""
    digest = hashlib.sha256(HASH_FORMAT.encode())
    parent = spec.parent.digest if spec.parent else ""
    digest.update(f"\0name={spec.name}\0parent={parent}".encode())
    if spec.kind == "rootfs":
        digest.update(rootfs.digest(root, HASH_FORMAT).encode())
        return digest.hexdigest()
    for key, value in sorted(spec.buildargs.items()):
        digest.update(f"\0arg {key}={value}".encode())
    if spec.context:
        context = root / spec.context
        for path in _tree_files(context):
            _hash_path(digest, path.relative_to(context).as_posix(), path)
    for name, source in sorted(spec.files.items()):
        _hash_path(digest, name, source if source.is_absolute() else root / source)
    if spec.tail or spec.extra_hash:
        digest.update(f"\0tail\0{spec.tail}\0extra\0{spec.extra_hash}".encode())
    if spec.context == "base":
        digest.update(b"\0busybox\0" + busybox.read_bytes())
    return digest.hexdigest()


def _compile_helper(source: Path, target: Path) -> None:
    """Compile decnet-svd statically (it runs FROM scratch, with no C library)."""
    compiler = get_settings().cc or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise ImageBuildError("no C compiler to build the emulator's decnet-svd: "
                              "install gcc and libc6-dev")
    command = [compiler, "-static", "-Os", "-s", "-o", str(target), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ImageBuildError(f"cannot compile {source.name} statically: {detail} "
                              "(a static build needs libc6-dev)")


def _prepare_context(spec: ImageSpec, root: Path, busybox: Path, workdir: Path) -> Path:
    """Copy one build context into a temporary directory, with the files built on the fly."""
    context = workdir / spec.name.replace("/", "_").replace(":", "_")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    if spec.context:
        shutil.copytree(root / spec.context, context, ignore=ignore)
    context.mkdir(parents=True, exist_ok=True)
    for name, source in spec.files.items():
        source = source if source.is_absolute() else root / source
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=ignore, dirs_exist_ok=True)
        else:
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, context / name)
    if spec.tail:
        with (context / "Dockerfile").open("a") as dockerfile:
            dockerfile.write("\n" + spec.tail)
    if spec.fill is not None:
        spec.fill(context)
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


def _up_to_date(client: Any, spec: ImageSpec, existing: dict[str, list[Any]]) -> bool:
    """True when an image with this hash exists; it is (re)tagged with the name if needed."""
    for image in existing.get(spec.digest, []):
        if (image.labels or {}).get(IMAGE_LABEL) != spec.name:
            continue
        if spec.name not in (image.tags or []):
            repository, _, tag = spec.name.rpartition(":")
            image.tag(repository, tag)
        return True
    return False


def _labels(spec: ImageSpec) -> dict[str, str]:
    return {MANAGED: "true", IMAGE_LABEL: spec.name, HASH_LABEL: spec.digest}


def _check_built(client: Any, spec: ImageSpec, detail: str) -> None:
    image = client.images.get(spec.name)
    if (image.labels or {}).get(HASH_LABEL) != spec.digest:
        raise ImageBuildError(f"building {spec.name} failed: {detail or 'no image came out'}")


def _docker_build(client: Any, spec: ImageSpec, context: Path, force: bool) -> None:
    labels = _labels(spec)
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
    _check_built(client, spec, last)


def _prune_replaced(client: Any, names: Iterable[str]) -> None:
    """Remove our dangling images of these names (left behind by a rebuild); best effort."""
    from docker.errors import APIError

    wanted = set(names)
    dangling = client.images.list(filters={"dangling": True, "label": f"{MANAGED}=true"})
    order = {BASE_IMAGE: 2, rootfs.ROOTFS_IMAGE: 2, EMULATOR_IMAGE: 1, FULL_IMAGE: 1}
    candidates = [img for img in dangling if (img.labels or {}).get(IMAGE_LABEL) in wanted]
    for image in sorted(candidates, key=lambda img: order.get(img.labels[IMAGE_LABEL], 0)):
        with contextlib.suppress(APIError):  # still used by a container or a child image
            client.images.remove(image.id, noprune=False)


def _import_rootfs(client: Any, spec: ImageSpec, root: Path, cache: Path,
                   report: Progress) -> None:
    """Import the cached Debian root (made with debootstrap when it is not cached yet)."""
    key = rootfs.digest(root, HASH_FORMAT)
    if not any(cache.glob(f"rootfs-{rootfs.SUITE}-{key[:16]}.tar")):
        report(f"{spec.name}: debootstrap {rootfs.SUITE} from {rootfs.mirror()} (about a minute)")
    try:
        source = rootfs.tarball(root, cache, key)
    except (rootfs.RootfsError, OSError) as exc:
        raise ImageBuildError(f"{spec.name}: {_one_line(exc)}") from None
    rootfs.import_image(client, source, _labels(spec))
    _check_built(client, spec, "docker import gave no image")


def _wheel_filler(root: Path, cache: Path) -> Callable[[Path], None]:
    def fill(context: Path) -> None:
        try:
            wheels.unpack(wheels.download(root, cache), context / "site-packages")
        except (wheels.WheelError, OSError) as exc:
            raise ImageBuildError(_one_line(exc)) from None
    return fill


def _plan(names: Sequence[str], modes: Sequence[str], root: Path, cache: Path,
          busybox: Path) -> list[ImageSpec]:
    lock = wheels.lock_text(root) if "full" in modes else ""
    specs = image_specs(names, modes, root, _wheel_filler(root, cache), lock)
    for spec in specs:
        spec.digest = _context_digest(spec, root, busybox)
    return specs


def build_images(
    client: Any,
    services: Sequence[str] | None = None,
    progress: Progress | None = None,
    force: bool = False,
    modes: Sequence[str] = MODES,
    cache_dir: Path | None = None,
) -> list[str]:
    """Build the images that are missing or out of date.

    `services` limits the service images (default: every catalog service) and `modes`
    the emulations (light, full; default both); the decky base is always ensured.
    `cache_dir` keeps the Debian root tarball and the wheels (default: the state
    directory's `image-cache`). Returns the names of the images actually built (empty
    when everything was up to date). Raises DockerUnavailable, BusyboxMissing, NotFound
    (unknown service or mode) or ImageBuildError, each with a one-line message.
    """
    report = progress or (lambda _line: None)
    names = list(SERVICES) if services is None else list(dict.fromkeys(services))
    unknown = [name for name in names if name not in SERVICES]
    if unknown:
        raise NotFound(f"unknown service(s): {', '.join(unknown)} "
                       f"(known: {', '.join(SERVICES)})")
    bad_modes = [mode for mode in modes if mode not in MODES]
    if bad_modes:
        raise NotFound(f"unknown emulation(s): {', '.join(bad_modes)} (known: light, full)")
    root = images_dir()
    if not (root / "base" / "Dockerfile").is_file():
        raise ImageBuildError(f"no image build contexts in {root}")
    busybox = _busybox_path()
    _check_static_elf(busybox)
    cache = cache_dir or get_settings().state_dir / "image-cache"
    specs = _plan(names, modes, root, cache, busybox)

    from docker.errors import APIError, DockerException
    from requests.exceptions import RequestException

    built: list[str] = []
    try:
        client.ping()
        existing = _existing(client)
        with tempfile.TemporaryDirectory(prefix="decnet-images-") as tmp:
            # Parents first. (Parallel builds gain nothing: the engine serialises commits.)
            for spec in specs:
                if not force and _up_to_date(client, spec, existing):
                    report(f"{spec.name}: up to date ({spec.digest[:12]})")
                    continue
                started = time.monotonic()
                report(f"{spec.name}: building ({spec.digest[:12]})")
                if spec.kind == "rootfs":
                    _import_rootfs(client, spec, root, cache, report)
                else:
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
