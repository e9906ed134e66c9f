"""docker_api: the Docker Engine API on plain TCP (2375), as dockerd answers it.

`/_ping` (GET, HEAD), `/version`, `/info`, `/containers/json`, `/images/json`,
`/networks`, `/volumes`, `/system/df`, container inspect/top/stats/changes/logs, image
inspect/history, and every path under a `/v1.NN/`
prefix (a version above the server's is refused like dockerd does); `OPTIONS` on any path
answers 200 like dockerd's CORS handler. The engine runs a small, persona-derived set of
containers and holds their images. What an attacker tries is recorded and fails the way a
real, unlucky daemon fails:

- `POST /containers/create` for a held image: 201 with an Id (the container then shows in
  `docker ps -a` as Created); an unknown image: 404 `No such image` (the CLI then pulls);
- `POST /containers/{id}/start`: 500, an OCI runtime error (`start_error`);
- `POST /images/create` (pull): 500, the registry cannot be resolved (`pull_error`);
- `POST /containers/{id}/exec` on a running container: 201, then `POST /exec/{id}/start`
  fails with an OCI exec error; on a Created one: 409 `is not running`;
- `PUT /containers/{id}/archive` (docker cp into): the upload is recorded, 200.
Unknown paths: 404 `{"message":"page not found"}` without the API headers, as dockerd.

Config keys: `version` (engine version; default the persona's `versions.docker_api`, else
24.0.7; API version, Go version and commit follow it), `containers` (list of
`{name, image, command}` replacing the derived ones), `images` (extra `repo:tag` held),
`start_error`, `pull_error`, `exec_error` (the messages of those failures).

Events (besides `request` for every request and `login` for an Authorization header):
`command` with `action` (`container.create`, `container.start`, `container.exec`,
`exec.start`, `image.pull`, `container.delete`, `container.kill`, ...), `command` (the
command line it amounts to), and per action `image`, `cmd`, `entrypoint`, `binds`,
`privileged`, `network_mode`, `pid_mode`, `cap_add`, `devices`, `user`, `env`, `name`,
`container`; `login` (`mech=registry`, `username`, `password`, `server`) for `docker login`
(POST /auth, answered with the registry lookup error) and an X-Registry-Auth header on a
pull; `transfer`
(`direction=upload`, `path`, `bytes`, `container`, `files`: the tar's member names,
`file_bytes`) for an archive upload (`docker cp` into a container).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from decnet_emu.persona import Persona
from decnet_emu.protocols._go_http import Hijacked, go_response, json_body, serve
from decnet_emu.protocols._http_core import Request, Response
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
_DIR, _STICKY = 1 << 31, 1 << 20  # Go's os.ModeDir, os.ModeSticky
DIRECTORIES = {path: _DIR | 0o755 for path in (
    "/", "/root", "/etc", "/home", "/opt", "/usr", "/usr/local", "/usr/local/bin", "/usr/bin",
    "/bin", "/var", "/srv", "/mnt", "/app", "/data")}
DIRECTORIES.update({"/tmp": _DIR | _STICKY | 0o777, "/var/tmp": _DIR | _STICKY | 0o777,
                    "/dev/shm": _DIR | _STICKY | 0o777, "/root": _DIR | 0o700})
VERSIONED = re.compile(r"^/v(\d+\.\d+)(/.*)$")


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


def _hex(persona: Persona, label: str) -> str:
    return persona.derive(label, 32).hex()


def _release(version: str, persona: Persona) -> tuple[str, str, str, str, int]:
    """(api, min api, git commit, go version, build time) of an engine version."""
    parts = version.split("+")[0].split(".")
    series = ".".join(parts[:2])
    api = API_BY_RELEASE.get(series, "1.43")
    min_api = "1.12" if float(api) < 1.44 else "1.24"
    commit, go, built = RELEASES.get(version, ("", "", 0))
    return (api, min_api, commit or _hex(persona, f"docker-commit/{version}")[:7],
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


def _engine(persona: Persona, config: dict[str, Any]) -> Engine:
    versions = persona.extra.get("versions") if isinstance(persona.extra, dict) else None
    default = versions.get("docker_api") if isinstance(versions, dict) else None
    version = str(config.get("version") or default or DEFAULT_VERSION)
    api, min_api, commit, go, built = _release(version, persona)
    now = int(time.time())
    booted = now - 86400 * (9 + persona.number("docker-uptime", 60))
    images: dict[str, str] = {}
    containers = []
    for number, (name, image, command, ports) in enumerate(_workloads(persona, config)):
        image = normalize_image(image)
        images.setdefault(image, _hex(persona, f"docker-image/{image}"))
        state = "exited" if number == 3 else "running"
        containers.append(Container(
            id=_hex(persona, f"docker-container/{name}"), name=name, image=image,
            command=command, created=booted - 86400 * (1 + persona.number(name, 90)),
            state=state, ports=ports, ip=f"172.17.0.{number + 2}"))
    extra = config.get("images")
    for image in [*BASE_IMAGES, *(extra if isinstance(extra, list) else [])][:64]:
        name = normalize_image(str(image))
        family = name.split(":")[0]
        same = next((i for n, i in images.items() if n.split(":")[0] == family), None)
        images.setdefault(name, same or _hex(persona, f"docker-image/{name}"))
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
        _ENGINES[key] = _engine(session.persona, session.config)
    return _ENGINES[key]


# -- documents ------------------------------------------------------------------------------
def _iso(when: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + \
        f".{(when * 7919) % 1_000_000_000:09d}Z"


def _ago(seconds: float) -> str:
    """Docker's HumanDuration."""
    if seconds < 60:
        return f"{int(seconds)} seconds" if seconds >= 2 else "Less than a second"
    minutes = int(seconds / 60)
    if minutes < 60:
        return "About a minute" if minutes == 1 else f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def version_doc(engine: Engine) -> dict[str, Any]:
    persona = engine.persona
    build = time.strftime("%Y-%m-%dT%H:%M:%S.000000000+00:00", time.gmtime(engine.built))
    containerd, runc = (("1.6.20~ds1", "1.1.5+ds1") if engine.version.startswith("20.")
                        else ("1.7.24~ds1", "1.1.15+ds1")) if engine.debian else \
        ("1.6.26", "1.1.10")
    details = {"ApiVersion": engine.api, "Arch": "amd64", "BuildTime": build,
               "Experimental": "false", "GitCommit": engine.commit, "GoVersion": engine.go,
               "KernelVersion": persona.kernel, "MinAPIVersion": engine.min_api, "Os": "linux"}
    commit = _hex(persona, "docker-containerd")
    return {
        "Platform": {"Name": "" if engine.debian else "Docker Engine - Community"},
        "Components": [
            {"Name": "Engine", "Version": engine.version, "Details": details},
            {"Name": "containerd", "Version": containerd, "Details": {
                "GitCommit": f"{containerd}-1" if engine.debian else commit[:40]}},
            {"Name": "runc", "Version": runc, "Details": {
                "GitCommit": f"{runc}-1" if engine.debian else f"v{runc}-0-g{commit[40:47]}"}},
            {"Name": "docker-init", "Version": "0.19.0", "Details": {
                "GitCommit": "" if engine.debian else "de40ad0"}},
        ],
        "Version": engine.version, "ApiVersion": engine.api, "MinAPIVersion": engine.min_api,
        "GitCommit": engine.commit, "GoVersion": engine.go, "Os": "linux", "Arch": "amd64",
        "KernelVersion": persona.kernel, "BuildTime": build,
    }


def info_doc(engine: Engine) -> dict[str, Any]:
    persona = engine.persona
    running = sum(c.state == "running" for c in engine.containers)
    stopped = len(engine.containers) - running
    cpus = (2, 4, 8, 16)[persona.number("docker-ncpu", 4)]
    version = version_doc(engine)
    containerd = version["Components"][1]["Details"]["GitCommit"]
    runc = version["Components"][2]["Details"]["GitCommit"]
    ident = str(uuid.UUID(bytes=persona.derive("docker-id", 16), version=4))
    return {
        "ID": ident, "Containers": len(engine.containers), "ContainersRunning": running,
        "ContainersPaused": 0, "ContainersStopped": stopped,
        "Images": len(set(engine.images.values())), "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"],
                         ["Using metacopy", "false"], ["Native Overlay Diff", "true"],
                         ["userxattr", "false"]],
        "Plugins": {"Volume": ["local"],
                    "Network": ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"],
                    "Authorization": None,
                    "Log": ["awslogs", "fluentd", "gcplogs", "gelf", "journald", "json-file",
                            "local", "splunk", "syslog"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "BridgeNfIptables": True, "BridgeNfIp6tables": True, "Debug": False,
        "NFd": 31 + 6 * running, "OomKillDisable": False, "NGoroutines": 38 + 9 * running,
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) +
        f".{time.time_ns() % 1_000_000_000:09d}Z",
        "LoggingDriver": "json-file", "CgroupDriver": "systemd", "CgroupVersion": "2",
        "NEventsListener": 0, "KernelVersion": persona.kernel,
        "OperatingSystem": persona.os_name, "OSVersion": _os_version(persona.os_name),
        "OSType": "linux", "Architecture": "x86_64",
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": None,
                           "AllowNondistributableArtifactsHostnames": None,
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [],
                                                          "Secure": True, "Official": True}},
                           "Mirrors": None},
        "NCPU": cpus, "MemTotal": cpus * 2 * 1024 ** 3 - 180 * 1024 ** 2 -
        persona.number("docker-mem", 1 << 26),
        "GenericResources": None, "DockerRootDir": "/var/lib/docker", "HttpProxy": "",
        "HttpsProxy": "", "NoProxy": "", "Name": persona.hostname, "Labels": [],
        "ExperimentalBuild": False, "ServerVersion": engine.version,
        "Runtimes": {"io.containerd.runc.v2": {"path": "runc"}, "runc": {"path": "runc"}},
        "DefaultRuntime": "runc",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": containerd, "Expected": containerd},
        "RuncCommit": {"ID": runc, "Expected": runc},
        "InitCommit": {"ID": version["Components"][3]["Details"]["GitCommit"],
                       "Expected": version["Components"][3]["Details"]["GitCommit"]},
        "SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin",
                            "name=cgroupns"],
        "Warnings": ["WARNING: API is accessible on http://0.0.0.0:2375 without encryption.\n"
                     "         Access to the remote API is equivalent to root access on the "
                     "host. Refer\n         to the 'Docker daemon attack surface' section in "
                     "the documentation for\n         more information: https://docs.docker."
                     "com/go/attack-surface/"],
    }


def _os_version(os_name: str) -> str:
    match = re.search(r"(\d+(?:\.\d+)?)", os_name)
    return match.group(1) if match else ""


def _status(container: Container, now: float) -> str:
    if container.state == "running":
        return f"Up {_ago(now - container.created)}"
    if container.state == "created":
        return "Created"
    return f"Exited (137) {_ago(now - container.created - 3600 * 5)} ago"


def container_summary(engine: Engine, item: Container, now: float) -> dict[str, Any]:
    private, public = item.ports
    ports: list[dict[str, Any]] = []
    if private and public and item.state == "running":
        ports = [{"IP": "0.0.0.0", "PrivatePort": private, "PublicPort": public, "Type": "tcp"},
                 {"IP": "::", "PrivatePort": private, "PublicPort": public, "Type": "tcp"}]
    elif private:
        ports = [{"PrivatePort": private, "Type": "tcp"}]
    image_id = engine.images.get(item.image, _hex(engine.persona, item.image))
    network = {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress":
               f"02:42:ac:11:00:{int(item.ip.rsplit('.', 1)[-1]):02x}" if item.ip and
               item.state == "running" else "",
               "NetworkID": _hex(engine.persona, "docker-net-bridge"),
               "EndpointID": _hex(engine.persona, f"docker-ep/{item.name}")
               if item.state == "running" else "",
               "Gateway": "172.17.0.1" if item.state == "running" else "",
               "IPAddress": item.ip if item.state == "running" else "", "IPPrefixLen":
               16 if item.state == "running" else 0, "IPv6Gateway": "",
               "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DriverOpts": None}
    return {"Id": item.id, "Names": [f"/{item.name}"], "Image": item.image,
            "ImageID": f"sha256:{image_id}", "Command": item.command, "Created": item.created,
            "Ports": ports, "Labels": {}, "State": item.state,
            "Status": _status(item, now), "HostConfig": {"NetworkMode": "default"},
            "NetworkSettings": {"Networks": {"bridge": network}}, "Mounts": []}


def container_inspect(engine: Engine, item: Container) -> dict[str, Any]:
    config = item.config or {}
    running = item.state == "running"
    created = _iso(item.created)
    cmd = config.get("Cmd") if config else item.command.split()[1:]
    path = item.command.split()[0] if item.command else ""
    return {
        "Id": item.id, "Created": created, "Path": path, "Args": cmd or [],
        "State": {"Status": item.state, "Running": running, "Paused": False,
                  "Restarting": False, "OOMKilled": False, "Dead": False,
                  "Pid": 1000 + int(item.id[:4], 16) % 60000 if running else 0,
                  "ExitCode": 137 if item.state == "exited" else 0,
                  "Error": "", "StartedAt": created if running else "0001-01-01T00:00:00Z",
                  "FinishedAt": "0001-01-01T00:00:00Z"},
        "Image": f"sha256:{engine.images.get(item.image, '0' * 64)}",
        "Name": f"/{item.name}", "RestartCount": 0, "Driver": "overlay2",
        "Platform": "linux", "MountLabel": "", "ProcessLabel": "",
        "AppArmorProfile": "docker-default", "ExecIDs": None,
        "HostConfig": config.get("HostConfig") or {"NetworkMode": "default",
                                                   "RestartPolicy": {"Name": "always",
                                                                     "MaximumRetryCount": 0}},
        "Config": {"Hostname": item.id[:12], "Image": item.image, "Cmd": cmd,
                   "Env": config.get("Env") or ["PATH=/usr/local/sbin:/usr/local/bin:"
                                                "/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Labels": {}, "Tty": bool(config.get("Tty")), "OpenStdin":
                   bool(config.get("OpenStdin"))},
        "NetworkSettings": container_summary(engine, item, time.time())["NetworkSettings"],
    }


def image_summary(engine: Engine, repo_tags: list[str], image_id: str) -> dict[str, Any]:
    family = repo_tags[0].rsplit(":", 1)[0]
    size = IMAGE_SIZES.get(family, 20_000_000 + int(image_id[:6], 16) * 17)
    summary = {"Containers": -1, "Created": engine.started - 86400 * 95 -
               int(image_id[6:10], 16) * 263, "Id": f"sha256:{image_id}", "Labels": None,
               "ParentId": "", "RepoDigests": [f"{repo_tags[0].split(':')[0]}@sha256:"
                                                f"{_hex(engine.persona, image_id)}"],
               "RepoTags": repo_tags, "SharedSize": -1, "Size": size}
    if float(engine.api) < 1.44:
        summary["VirtualSize"] = size
    return summary


# -- the site -------------------------------------------------------------------------------
class DockerSite:
    """dockerd's router for one connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _api_headers(self) -> dict[str, str]:
        return {"Api-Version": self.engine.api, "Docker-Experimental": "false",
                "Ostype": "linux", "Server": f"Docker/{self.engine.version} (linux)"}

    def json(self, request: Request, status: int, value: Any) -> Response:
        headers = {**self._api_headers(), "Content-Type": "application/json"}
        return go_response(status, request, headers, json_body(value), sized=False)

    def message(self, request: Request, status: int, text: str) -> Response:
        return self.json(request, status, {"message": text})

    def not_found(self, request: Request | None) -> Response:
        return go_response(404, request, {"Content-Type": "application/json"},
                           json_body({"message": "page not found"}))

    def upgraded(self, request: Request, stream: bytes) -> Response:
        """dockerd's hijack answer (101 UPGRADED, raw stream follows), then the stream."""
        multiplexed = float(self.engine.api) >= 1.42 and stream[:1] == b"\x01"
        kind = "multiplexed-stream" if multiplexed else "raw-stream"
        return Hijacked(101, [("Content-Type", f"application/vnd.docker.{kind}"),
                              ("Connection", "Upgrade"), ("Upgrade", "tcp")],
                        reason="UPGRADED", close=True, stream=stream)

    def empty(self, request: Request, status: int) -> Response:
        return go_response(status, request, self._api_headers())

    async def respond(self, session: Session, request: Request) -> Response:
        path = unquote(request.path)
        match = VERSIONED.match(path)
        if match:
            wanted, path = match.group(1), match.group(2)
            if request.method != "OPTIONS" and path != "/_ping":
                problem = self._version_problem(wanted)
                if problem:
                    return self.message(request, 400, problem)
        if request.method == "OPTIONS":
            return self.empty(request, 200)
        if path == "/_ping" and request.method in ("GET", "HEAD"):
            return self._ping(request)
        routes = {("GET", "/version"): lambda: self.json(request, 200,
                                                         version_doc(self.engine)),
                  ("GET", "/info"): lambda: self.json(request, 200, info_doc(self.engine)),
                  ("GET", "/containers/json"): lambda: self._containers(request),
                  ("GET", "/images/json"): lambda: self._images(request),
                  ("GET", "/networks"): lambda: self.json(request, 200, self._networks()),
                  ("GET", "/system/df"): lambda: self.json(request, 200, self._df()),
                  ("GET", "/volumes"): lambda: self.json(request, 200,
                                                         {"Volumes": [], "Warnings": None}),
                  ("POST", "/containers/create"): lambda: self._create(session, request),
                  ("POST", "/images/create"): lambda: self._pull(session, request),
                  ("POST", "/auth"): lambda: self._auth(session, request)}
        route = routes.get((request.method, path))
        if route is not None:
            return route()
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "containers":
            return self._container_action(session, request, parts[1], "/".join(parts[2:]))
        if len(parts) == 3 and parts[0] == "exec" and parts[2] in ("start", "json"):
            return self._exec_action(session, request, parts[1], parts[2])
        if len(parts) >= 3 and parts[0] == "images" and parts[-1] == "json" and \
                request.method == "GET":
            return self._image_inspect(request, "/".join(parts[1:-1]))
        if len(parts) >= 3 and parts[0] == "images" and parts[-1] == "history" and \
                request.method == "GET":
            return self._image_history(request, "/".join(parts[1:-1]))
        return self.not_found(request)

    def _version_problem(self, wanted: str) -> str:
        def key(text: str) -> tuple[int, ...]:
            return tuple(int(p) for p in text.split("."))

        if key(wanted) > key(self.engine.api):
            return (f"client version {wanted} is too new. Maximum supported API version is "
                    f"{self.engine.api}")
        if key(wanted) < key(self.engine.min_api):
            return (f"client version {wanted} is too old. Minimum supported API version is "
                    f"{self.engine.min_api}, please upgrade your client to a newer version")
        return ""

    def _ping(self, request: Request) -> Response:
        headers = {**self._api_headers(), "Builder-Version": "2",
                   "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}
        if request.method == "HEAD":
            headers["Content-Type"] = "text/plain; charset=utf-8"
            headers["Content-Length"] = "0"
            return go_response(200, request, headers)
        return go_response(200, request, headers, b"OK",
                           sniffed_type="text/plain; charset=utf-8")

    # -- listings -----------------------------------------------------------------------
    def _containers(self, request: Request) -> Response:
        params = dict(parse_qsl(request.query))
        every = params.get("all", "") in ("1", "true", "True")
        now = time.time()
        items = [container_summary(self.engine, c, now) for c in self.engine.containers
                 if every or c.state == "running"]
        items.sort(key=lambda item: -int(item["Created"]))
        limit = params.get("limit", "")
        if limit.isdigit() and int(limit) > 0:
            items = items[:int(limit)]
        return self.json(request, 200, items)

    def _images(self, request: Request) -> Response:
        by_id: dict[str, list[str]] = {}
        for name, image_id in self.engine.images.items():
            by_id.setdefault(image_id, []).append(name)
        items = [image_summary(self.engine, sorted(tags), image_id)
                 for image_id, tags in by_id.items()]
        items.sort(key=lambda item: -int(item["Created"]))
        return self.json(request, 200, items)

    def _image_inspect(self, request: Request, ref: str) -> Response:
        image_id = self.engine.image_id(ref)
        if image_id is None:
            return self.message(request, 404, f"No such image: {ref}")
        tags = sorted(n for n, i in self.engine.images.items() if i == image_id)
        summary = image_summary(self.engine, tags, image_id)
        layer = _hex(self.engine.persona, image_id + "/layer")
        return self.json(request, 200, {
            "Id": summary["Id"], "RepoTags": tags, "RepoDigests": summary["RepoDigests"],
            "Parent": "", "Comment": "", "Created": _iso(int(summary["Created"])),
            "DockerVersion": "", "Author": "", "Architecture": "amd64", "Os": "linux",
            "Size": summary["Size"], "GraphDriver": {"Name": "overlay2", "Data": None},
            "RootFS": {"Type": "layers", "Layers": [f"sha256:{layer}"]},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"}})

    def _image_history(self, request: Request, ref: str) -> Response:
        image_id = self.engine.image_id(ref)
        if image_id is None:
            return self.message(request, 404, f"No such image: {ref}")
        tags = sorted(n for n, i in self.engine.images.items() if i == image_id)
        summary = image_summary(self.engine, tags, image_id)
        created = int(summary["Created"])
        return self.json(request, 200, [
            {"Comment": "", "Created": created, "CreatedBy": '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
             "Id": summary["Id"], "Size": 0, "Tags": tags},
            {"Comment": "", "Created": created - 2, "CreatedBy": "/bin/sh -c #(nop) ADD file:"
             f"{_hex(self.engine.persona, image_id + '/add')} in / ", "Id": "<missing>",
             "Size": summary["Size"], "Tags": None}])

    def _df(self) -> dict[str, Any]:
        by_id: dict[str, list[str]] = {}
        for name, image_id in self.engine.images.items():
            by_id.setdefault(image_id, []).append(name)
        images = []
        for image_id, tags in by_id.items():
            item = image_summary(self.engine, sorted(tags), image_id)
            item["Containers"] = sum(self.engine.images.get(c.image) == image_id
                                     for c in self.engine.containers)
            item["SharedSize"] = 0
            images.append(item)
        now = time.time()
        containers = []
        for container in self.engine.containers:
            item = container_summary(self.engine, container, now)
            item["SizeRw"] = 4096 * (1 + int(container.id[:3], 16) % 300)
            item["SizeRootFs"] = IMAGE_SIZES.get(container.image.rsplit(":", 1)[0],
                                                 50_000_000) + item["SizeRw"]
            containers.append(item)
        layers = sum(int(i["Size"]) for i in images)
        return {"LayersSize": layers, "Images": images, "Containers": containers,
                "Volumes": [], "BuildCache": []}

    def _networks(self) -> list[dict[str, Any]]:
        created = _iso(self.engine.started)
        out = []
        for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null")):
            ipam = [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}] \
                if name == "bridge" else []
            out.append({"Name": name, "Id": _hex(self.engine.persona, f"docker-net-{name}"),
                        "Created": created, "Scope": "local", "Driver": driver,
                        "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None,
                                                      "Config": ipam},
                        "Internal": False, "Attachable": False, "Ingress": False,
                        "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
                        "Options": {}, "Labels": {}})
        return out

    # -- what attackers do --------------------------------------------------------------
    def _create(self, session: Session, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return self.message(request, 400, "invalid JSON: unexpected end of JSON input"
                                if not request.body else "invalid character looking for "
                                "beginning of value")
        host = body.get("HostConfig") if isinstance(body.get("HostConfig"), dict) else {}
        image = str(body.get("Image") or "")
        name = dict(parse_qsl(request.query)).get("name", "")
        cmd = body.get("Cmd")
        entrypoint = body.get("Entrypoint")
        words = [str(w) for w in (entrypoint if isinstance(entrypoint, list) else
                                  [entrypoint] if entrypoint else [])]
        words += [str(w) for w in (cmd if isinstance(cmd, list) else [cmd] if cmd else [])]
        flags = []
        if host.get("Privileged"):
            flags.append("--privileged")
        binds = host.get("Binds") if isinstance(host.get("Binds"), list) else []
        flags += [f"-v {b}" for b in binds if isinstance(b, str)]
        if host.get("PidMode"):
            flags.append(f"--pid={host['PidMode']}")
        if host.get("NetworkMode") not in (None, "", "default", "bridge"):
            flags.append(f"--network={host['NetworkMode']}")
        session.event("command", action="container.create",
                      command=" ".join(["docker run", *flags, image, *words])[:256],
                      image=image, cmd=_j(cmd), entrypoint=_j(entrypoint), name=name or None,
                      binds=_j(host.get("Binds")), mounts=_j(host.get("Mounts")),
                      privileged=bool(host.get("Privileged")),
                      network_mode=host.get("NetworkMode") or None,
                      pid_mode=host.get("PidMode") or None, cap_add=_j(host.get("CapAdd")),
                      devices=_j(host.get("Devices")), user=body.get("User") or None,
                      env=_j(body.get("Env")))
        if not image:
            return self.message(request, 400, "no command specified" if not words else
                                "invalid reference format")
        if self.engine.image_id(image) is None:
            return self.message(request, 404, f"No such image: {normalize_image(image)}")
        holder = self.engine.container(name) if name else None
        if holder is not None:
            return self.message(request, 409, f'Conflict. The container name "/{name}" is '
                                f'already in use by container "{holder.id}". You have to '
                                "remove (or rename) that container to be able to reuse that "
                                "name.")
        ident = os.urandom(32).hex()
        created = [c for c in self.engine.containers if c.state == "created"]
        if len(created) >= MAX_CREATED:
            self.engine.containers.remove(created[0])
        self.engine.containers.append(Container(
            id=ident, name=name or _random_name(ident), image=normalize_image(image),
            command=" ".join(words), created=int(time.time()), state="created",
            config={"Cmd": cmd, "HostConfig": host, "Env": body.get("Env"),
                    "Tty": body.get("Tty"), "OpenStdin": body.get("OpenStdin")}))
        return self.json(request, 201, {"Id": ident, "Warnings": []})

    def _pull(self, session: Session, request: Request) -> Response:
        params = dict(parse_qsl(request.query))
        image = params.get("fromImage", "")
        tag = params.get("tag", "")
        reference = f"{image}:{tag}" if tag and not tag.startswith("sha256") else image
        session.event("command", action="image.pull", command=f"docker pull {reference}",
                      image=reference)
        auth = request.header("x-registry-auth")
        if auth:
            creds = _registry_auth(auth)
            if creds.get("username") or creds.get("password") or creds.get("identitytoken"):
                session.event("login", mech="registry", success=False,
                              username=creds.get("username"), password=creds.get("password"),
                              token=creds.get("identitytoken"),
                              server=creds.get("serveraddress"))
        if params.get("fromSrc"):
            return self.message(request, 500, "import from a URL or archive is disabled")
        return self.message(request, 500, self.engine.pull_error)

    def _auth(self, session: Session, request: Request) -> Response:
        """docker login: the daemon checks the credentials against the registry."""
        body = request.json() if isinstance(request.json(), dict) else {}
        server = str(body.get("serveraddress") or "https://index.docker.io/v1/")
        session.event("login", mech="registry", success=False,
                      username=str(body.get("username") or "") or None,
                      password=str(body.get("password") or "") or None,
                      token=str(body.get("identitytoken") or "") or None, server=server)
        host = server.removeprefix("https://").removeprefix("http://").split("/")[0]
        if host in ("index.docker.io", "docker.io", "registry-1.docker.io"):
            return self.message(request, 500, self.engine.pull_error)
        return self.message(request, 500, f'Get "https://{host}/v2/": dial tcp: lookup '
                            f"{host} on 127.0.0.53:53: server misbehaving")

    def _container_action(self, session: Session, request: Request, ref: str,
                          action: str) -> Response:
        item = self.engine.container(ref)
        method = request.method
        known = {("GET", "json"), ("POST", "start"), ("POST", "stop"), ("POST", "restart"),
                 ("POST", "kill"), ("DELETE", ""), ("POST", "exec"), ("PUT", "archive"),
                 ("GET", "archive"), ("HEAD", "archive"), ("GET", "logs"), ("GET", "top"),
                 ("POST", "wait"), ("POST", "attach"), ("POST", "pause"),
                 ("POST", "unpause"), ("GET", "stats"), ("GET", "changes"),
                 ("GET", "export"), ("POST", "rename"), ("POST", "update"),
                 ("POST", "resize")}
        if (method, action) not in known:
            return self.not_found(request)
        if (method != "GET" or action == "archive") and action not in ("wait", "attach",
                                                                          "resize"):
            self._record_action(session, request, ref, action, item)
        if item is None:
            return self.message(request, 404, f"No such container: {ref}")
        if (method, action) == ("GET", "json"):
            return self.json(request, 200, container_inspect(self.engine, item))
        if action == "start":
            if item.state == "running":
                return self.empty(request, 304)
            return self.message(request, 500, self.engine.start_error.format(id=item.id))
        if action == "exec":
            if item.state != "running":
                return self.message(request, 409, f"Container {item.id} is not running")
            exec_id = os.urandom(32).hex()
            if len(self.engine.execs) >= MAX_CREATED:
                self.engine.execs.pop(next(iter(self.engine.execs)))
            self.engine.execs[exec_id] = item.id
            return self.json(request, 201, {"Id": exec_id})
        if action == "archive":
            return self._archive(session, request, item)
        if method == "DELETE":
            force = dict(parse_qsl(request.query)).get("force", "") in ("1", "true", "True")
            if item.state == "running" and force:
                return self.message(request, 500, f"Could not kill running container "
                                    f"{item.id}, cannot remove - tried to kill container, but "
                                    "did not receive an exit event")
            if item.state == "running":
                return self.message(request, 409, f"You cannot remove a running container "
                                    f"{item.id}. Stop the container before attempting removal"
                                    " or force remove")
            self.engine.containers.remove(item)
            return self.empty(request, 204)
        if action in ("stop", "kill", "restart", "pause", "unpause", "update", "rename"):
            return self.message(request, 500, f"Cannot {action} container {item.id}: "
                                "permission denied")
        if action == "attach" and request.header("upgrade"):
            return self.upgraded(request, b"")
        if action == "wait":
            return self.json(request, 200, {"Error": None, "StatusCode": 137})
        if action == "logs":
            return go_response(200, request, {**self._api_headers(), "Content-Type":
                                              "application/vnd.docker.multiplexed-stream"},
                               sized=False)
        if item.state != "running" and action in ("top", "stats"):
            return self.message(request, 409, f"Container {item.id} is not running")
        if action == "top":
            return self.json(request, 200, _top(item))
        if action == "stats":
            return self.json(request, 200, _stats(self.engine, item))
        if action == "changes":
            return self.json(request, 200, [{"Kind": 0, "Path": "/tmp"},
                                            {"Kind": 0, "Path": "/run"}])
        return self.message(request, 500, f"Container {item.id} is not running"
                            if item.state != "running" else "context canceled")

    def _archive(self, session: Session, request: Request, item: Container) -> Response:
        """docker cp: a stat (HEAD) of the usual directories answers, an upload is kept."""
        path = dict(parse_qsl(request.query)).get("path", "")
        clean = "/" + path.strip("/") if path.strip("/") else "/"
        if request.method == "PUT":
            names, sizes = _tar_members(request.body)
            session.event("transfer", direction="upload", path=path, bytes=len(request.body),
                          container=item.name, files=",".join(names)[:256] or None,
                          file_bytes=sizes or None)
            return self.empty(request, 200)
        if clean in DIRECTORIES and request.method == "HEAD":
            stat = {"name": clean.rsplit("/", 1)[-1] or "/", "size": 4096,
                    "mode": DIRECTORIES[clean], "mtime": _iso(item.created).replace(
                        "Z", "+00:00"), "linkTarget": ""}
            encoded = base64.b64encode(json.dumps(stat, separators=(",", ":")).encode())
            headers = {**self._api_headers(), "X-Docker-Container-Path-Stat": encoded.decode()}
            return go_response(200, request, headers, b"")
        return self.message(request, 404, f"Could not find the file {path} in container "
                            f"{item.name}")

    def _record_action(self, session: Session, request: Request, ref: str, action: str,
                       item: Container | None) -> None:
        fields: dict[str, Any] = {"container": item.name if item else ref}
        verb = {"DELETE": "rm", "PUT": "cp"}.get(request.method, action or "inspect")
        command = f"docker {verb} {ref}"
        if action == "exec":
            body = request.json() if isinstance(request.json(), dict) else {}
            cmd = body.get("Cmd")
            words = [str(w) for w in cmd] if isinstance(cmd, list) else [str(cmd or "")]
            command = " ".join(["docker exec", *(["--privileged"] if body.get("Privileged")
                                                 else []), ref, *words])
            fields.update(cmd=_j(cmd), user=body.get("User") or None,
                          privileged=bool(body.get("Privileged")))
        action_name = "container.delete" if request.method == "DELETE" else \
            f"container.{action or 'inspect'}"
        session.event("command", action=action_name, command=command[:256], **fields)

    def _exec_action(self, session: Session, request: Request, exec_id: str,
                     action: str) -> Response:
        container = self.engine.execs.get(exec_id)
        if action == "start" and request.method == "POST":
            session.event("command", action="exec.start", command=f"exec start {exec_id[:12]}",
                          exec_id=exec_id[:64], container=container)
            if container is None:
                return self.message(request, 404, f"No such exec instance: {exec_id}")
            body = request.json() if isinstance(request.json(), dict) else {}
            if body.get("Detach") or not request.header("upgrade"):
                return self.message(request, 500, self.engine.exec_error)
            text = (self.engine.exec_error + "\r\n").encode()
            if not body.get("Tty"):
                text = b"\x01\x00\x00\x00" + len(text).to_bytes(4, "big") + text
            return self.upgraded(request, text)
        if action == "json" and request.method == "GET":
            if container is None:
                return self.message(request, 404, f"No such exec instance: {exec_id}")
            return self.json(request, 200, {"ID": exec_id, "Running": False, "ExitCode": 126,
                                            "ContainerID": container, "Pid": 0,
                                            "OpenStdin": False, "OpenStdout": True,
                                            "OpenStderr": True, "CanRemove": False,
                                            "DetachKeys": "", "ProcessConfig": {}})
        return self.not_found(request)


def _top(item: Container) -> dict[str, Any]:
    """`docker top`: the container's main process and a worker or two."""
    pid = 1000 + int(item.id[:4], 16) % 60000
    started = time.strftime("%b%d", time.gmtime(item.created))
    processes = [["root", str(pid), str(pid - 23), "0", started, "?", "00:00:41",
                  item.command or "/bin/sh"]]
    for offset in range(1, 1 + int(item.id[4], 16) % 3):
        processes.append(["999", str(pid + 17 * offset), str(pid), "0", started, "?",
                          f"00:0{offset}:1{offset}", item.command.split()[0] if item.command
                          else "/bin/sh"])
    return {"Processes": processes,
            "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]}


def _stats(engine: Engine, item: Container) -> dict[str, Any]:
    """One sample of `docker stats` (stream=false)."""
    seed = int(item.id[:12], 16)
    uptime = max(1.0, time.time() - item.created)
    total = int(uptime * 1e9 * (0.002 + (seed % 50) / 10_000))
    system = int(uptime * 1e9 * 4)
    cpus = (2, 4, 8, 16)[engine.persona.number("docker-ncpu", 4)]
    memory = 30_000_000 + seed % 400_000_000
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + \
        f".{time.time_ns() % 1_000_000_000:09d}Z"
    cpu = {"cpu_usage": {"total_usage": total, "usage_in_kernelmode": total // 5,
                         "usage_in_usermode": total - total // 5},
           "system_cpu_usage": system, "online_cpus": cpus, "throttling_data": {
               "periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    previous = {**cpu, "cpu_usage": {**cpu["cpu_usage"], "total_usage":
                                                   total - 500_000 - seed % 40_000_000},
                "system_cpu_usage": system - cpus * 1_000_000_000}
    return {"name": f"/{item.name}", "id": item.id, "read": now, "preread": now,
            "pids_stats": {"current": 3 + seed % 20, "limit": 18446744073709551615},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "read", "value": seed % 90_000_000},
                {"major": 8, "minor": 0, "op": "write", "value": seed % 20_000_000}]},
            "num_procs": 0, "storage_stats": {}, "cpu_stats": cpu, "precpu_stats": previous,
            "memory_stats": {"usage": memory, "limit": cpus * 2 * 1024 ** 3,
                             "stats": {"inactive_file": memory // 9}},
            "networks": {"eth0": {"rx_bytes": seed % 900_000_000, "rx_packets": seed % 900_000,
                                  "rx_errors": 0, "rx_dropped": 0,
                                  "tx_bytes": seed % 300_000_000, "tx_packets": seed % 400_000,
                                  "tx_errors": 0, "tx_dropped": 0}}}


def _tar_members(data: bytes) -> tuple[list[str], int]:
    """The member names (at most 32) and total file size of an uploaded tar archive."""
    names: list[str] = []
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member in archive:
                if len(names) >= 32:
                    break
                names.append(member.name)
                total += member.size if member.isfile() else 0
    except (tarfile.TarError, EOFError, OSError, ValueError):
        pass
    return names, total


def _j(value: Any) -> str | None:
    """A JSON field of the payload as compact JSON text (None when absent or empty)."""
    if value in (None, "", [], {}):
        return None
    return json.dumps(value, separators=(",", ":"))[:256]


def _registry_auth(header: str) -> dict[str, str]:
    """X-Registry-Auth: base64url JSON {username, password, serveraddress, identitytoken}."""
    try:
        raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        data = json.loads(raw)
    except (ValueError, TypeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k.lower(): str(v) for k, v in data.items() if isinstance(v, str | int) and v}


_ADJECTIVES = ("admiring", "brave", "clever", "eager", "focused", "gallant", "jolly",
               "keen", "nostalgic", "quirky", "sharp", "vigilant", "wizardly", "zealous")
_NAMES = ("archimedes", "babbage", "curie", "darwin", "euler", "faraday", "galileo",
          "hopper", "lovelace", "newton", "pasteur", "tesla", "turing", "wozniak")


def _random_name(ident: str) -> str:
    """Docker's adjective_scientist container names."""
    number = int(ident[:8], 16)
    return f"{_ADJECTIVES[number % len(_ADJECTIVES)]}_{_NAMES[(number >> 8) % len(_NAMES)]}"


async def handle(session: Session) -> None:
    site = DockerSite(engine_for(session))
    await serve(session, site.respond)
