"""docker_api's daemon state: its identity (version, API, commit from the persona or config)
and what it holds (persona-derived containers and images, containers an attacker created,
exec instances). One engine per process: it outlives connections."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from decnet_emu.persona import Persona
from decnet_emu.session import Session

DEFAULT_VERSION = "24.0.7"
# engine version -> (GitCommit, GoVersion, build time) of real releases; others derived
RELEASES = {
    "20.10.24+dfsg1": ("5d6db84", "go1.19.8", 1_715_116_176),
    "24.0.7": ("311b9ff", "go1.20.10", 1_698_311_297),
    "25.0.3": ("f417435", "go1.21.6", 1_707_254_062),
    "26.1.5+dfsg1": ("411e817", "go1.22.6", 1_730_822_511),
}
IMAGE_SIZES = {"alpine": 7_382_999, "busybox": 4_261_550, "ubuntu": 77_863_062,
               "nginx": 186_987_325, "registry": 25_445_287, "postgres": 425_261_036,
               "redis": 40_956_209, "grafana/grafana": 399_210_381,
               "prom/prometheus": 245_401_213, "portainer/portainer-ce": 294_150_004,
               "jenkins/jenkins": 470_530_842, "gitlab/gitlab-runner": 759_318_223,
               "containrrr/watchtower": 14_698_323}
API_BY_RELEASE = {"20.10": "1.41", "23.0": "1.42", "24.0": "1.43", "25.0": "1.44",
                  "26.0": "1.45", "26.1": "1.45", "27.0": "1.46", "27.1": "1.46",
                  "27.2": "1.47", "27.3": "1.47", "27.4": "1.47", "27.5": "1.47",
                  "28.0": "1.48", "28.1": "1.49", "28.2": "1.50"}
GO_BY_MAJOR = {"20": "go1.19.8", "23": "go1.19.9", "24": "go1.20.10", "25": "go1.21.6",
               "26": "go1.21.11", "27": "go1.21.13", "28": "go1.23.8"}
START_ERROR = ("failed to create task for container: failed to create shim task: OCI runtime "
               "create failed: runc create failed: unable to start container process: unable "
               "to apply cgroup configuration: mkdir /sys/fs/cgroup/pids/docker/{id}: no space "
               "left on device: unknown")
EXEC_ERROR = ("OCI runtime exec failed: exec failed: unable to start container process: "
              "error executing setns process: exit status 1: unknown")
PULL_ERROR = ('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io '
              "on 127.0.0.53:53: server misbehaving")
# name, image, command, (private port, public port or 0), days up
WORKLOADS = (
    ("registry", "registry:2", "/entrypoint.sh /etc/docker/registry/config.yml", (5000, 5000)),
    ("gitlab-runner", "gitlab/gitlab-runner:v16.6.1",
     "/usr/bin/dumb-init /entrypoint run --user=gitlab-runner --working-directory=/home/"
     "gitlab-runner", (0, 0)),
    ("postgres", "postgres:15", "docker-entrypoint.sh postgres", (5432, 0)),
    ("redis", "redis:7.2-alpine", "docker-entrypoint.sh redis-server", (6379, 0)),
    ("nginx-proxy", "nginx:1.25", "/docker-entrypoint.sh nginx -g 'daemon off;'", (80, 8080)),
    ("grafana", "grafana/grafana:10.2.2", "/run.sh", (3000, 3000)),
    ("prometheus", "prom/prometheus:v2.48.0",
     "/bin/prometheus --config.file=/etc/prometheus/prometheus.yml "
     "--storage.tsdb.path=/prometheus", (9090, 9090)),
    ("portainer", "portainer/portainer-ce:2.19.4", "/portainer", (9443, 9443)),
    ("jenkins", "jenkins/jenkins:lts-jdk17", "/usr/bin/tini -- /usr/local/bin/jenkins.sh",
     (8080, 8081)),
    ("watchtower", "containrrr/watchtower:1.7.1", "/watchtower", (8080, 0)),
)
BASE_IMAGES = ("alpine:3.19", "alpine:latest", "ubuntu:22.04", "busybox:latest")
MAX_CREATED = 64



@dataclass
class Container:
    """One container the engine holds."""

    id: str
    name: str
    image: str
    command: str
    created: int
    state: str = "running"  # running | exited | created
    ports: tuple[int, int] = (0, 0)
    ip: str = ""
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Engine:
    """The daemon's identity and what it holds (shared by every connection)."""

    version: str
    api: str
    min_api: str
    commit: str
    go: str
    persona: Persona
    containers: list[Container]
    images: dict[str, str]  # repo:tag -> image id (sha256 hex)
    started: int
    built: int = 0
    start_error: str = START_ERROR
    exec_error: str = EXEC_ERROR
    pull_error: str = PULL_ERROR
    execs: dict[str, str] = field(default_factory=dict)  # exec id -> container id

    @property
    def debian(self) -> bool:
        return "+dfsg" in self.version

    # -- lookups ------------------------------------------------------------------------
    def container(self, ref: str) -> Container | None:
        ref = ref.lstrip("/")
        if not ref:
            return None
        for item in self.containers:
            if item.name == ref or item.id == ref:
                return item
        matches = [c for c in self.containers if len(ref) >= 3 and c.id.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def image_id(self, ref: str) -> str | None:
        name = normalize_image(ref)
        if name in self.images:
            return self.images[name]
        bare = ref.removeprefix("sha256:")
        if len(bare) >= 6:
            return next((i for i in self.images.values() if i.startswith(bare)), None)
        return None


def normalize_image(ref: str) -> str:
    """`alpine` -> `alpine:latest`; `docker.io/library/x:t` -> `x:t`."""
    ref = ref.strip()
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if "@" in ref:
        return ref
    if ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    return ref


def hex_id(persona: Persona, label: str) -> str:
    return persona.derive(label, 32).hex()


def _release(version: str, persona: Persona) -> tuple[str, str, str, str, int]:
    """(api, min api, git commit, go version, build time) of an engine version."""
    parts = version.split("+")[0].split(".")
    series = ".".join(parts[:2])
    api = API_BY_RELEASE.get(series, "1.43")
    min_api = "1.12" if float(api) < 1.44 else "1.24"
    commit, go, built = RELEASES.get(version, ("", "", 0))
    return (api, min_api, commit or hex_id(persona, f"docker-commit/{version}")[:7],
            go or GO_BY_MAJOR.get(parts[0], "go1.20.10"),
            built or 1_700_000_000 + persona.number(f"docker-built/{version}", 30_000_000))


def _workloads(persona: Persona, config: dict[str, Any]) -> list[tuple[str, str, str,
                                                                        tuple[int, int]]]:
    configured = config.get("containers")
    if isinstance(configured, list) and configured:
        out = []
        for item in configured[:32]:
            if isinstance(item, dict) and item.get("image"):
                image = normalize_image(str(item["image"]))
                name = str(item.get("name") or image.split("/")[-1].split(":")[0])
                out.append((name, image, str(item.get("command") or ""), (0, 0)))
        if out:
            return out
    count = 3 + persona.number("docker-count", 3)
    start = persona.number("docker-pick", len(WORKLOADS))
    step = 1 + persona.number("docker-step", 3)
    picked: list[tuple[str, str, str, tuple[int, int]]] = []
    index = start
    while len(picked) < count:
        item = WORKLOADS[index % len(WORKLOADS)]
        if item not in picked:
            picked.append(item)
        index += step
    return picked


def build_engine(persona: Persona, config: dict[str, Any]) -> Engine:
    version = str(config.get("version") or persona.version("docker_api", DEFAULT_VERSION))
    api, min_api, commit, go, built = _release(version, persona)
    now = int(time.time())
    booted = now - 86400 * (9 + persona.number("docker-uptime", 60))
    images: dict[str, str] = {}
    containers = []
    for number, (name, image, command, ports) in enumerate(_workloads(persona, config)):
        image = normalize_image(image)
        images.setdefault(image, hex_id(persona, f"docker-image/{image}"))
        state = "exited" if number == 3 else "running"
        containers.append(Container(
            id=hex_id(persona, f"docker-container/{name}"), name=name, image=image,
            command=command, created=booted - 86400 * (1 + persona.number(name, 90)),
            state=state, ports=ports, ip=f"172.17.0.{number + 2}"))
    extra = config.get("images")
    for image in [*BASE_IMAGES, *(extra if isinstance(extra, list) else [])][:64]:
        name = normalize_image(str(image))
        family = name.split(":")[0]
        same = next((i for n, i in images.items() if n.split(":")[0] == family), None)
        images.setdefault(name, same or hex_id(persona, f"docker-image/{name}"))
    return Engine(version, api, min_api, commit, go, persona, containers, images, booted,
                  built=built,
                  start_error=str(config.get("start_error") or START_ERROR),
                  exec_error=str(config.get("exec_error") or EXEC_ERROR),
                  pull_error=str(config.get("pull_error") or PULL_ERROR))


_ENGINES: dict[str, Engine] = {}


def engine_for(session: Session) -> Engine:
    """The one engine of this process (its state outlives connections)."""
    key = session.persona.seed.hex()
    if key not in _ENGINES:
        _ENGINES[key] = build_engine(session.persona, session.config)
    return _ENGINES[key]
