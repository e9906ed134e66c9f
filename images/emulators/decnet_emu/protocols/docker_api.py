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
from typing import Any
from urllib.parse import parse_qsl, unquote

from decnet_emu.protocols._docker_docs import (
    container_inspect,
    container_summary,
    image_summary,
    info_doc,
    iso_time,
    stats_doc,
    top_doc,
    version_doc,
)
from decnet_emu.protocols._docker_engine import (
    IMAGE_SIZES,
    MAX_CREATED,
    Container,
    Engine,
    engine_for,
    hex_id,
    normalize_image,
)
from decnet_emu.protocols._go_http import Hijacked, go_response, json_body, serve
from decnet_emu.protocols._http_core import Request, Response
from decnet_emu.session import Session

_DIR, _STICKY = 1 << 31, 1 << 20  # Go's os.ModeDir, os.ModeSticky
DIRECTORIES = {path: _DIR | 0o755 for path in (
    "/", "/root", "/etc", "/home", "/opt", "/usr", "/usr/local", "/usr/local/bin", "/usr/bin",
    "/bin", "/var", "/srv", "/mnt", "/app", "/data")}
DIRECTORIES.update({"/tmp": _DIR | _STICKY | 0o777, "/var/tmp": _DIR | _STICKY | 0o777,
                    "/dev/shm": _DIR | _STICKY | 0o777, "/root": _DIR | 0o700})
VERSIONED = re.compile(r"^/v(\d+\.\d+)(/.*)$")


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
        layer = hex_id(self.engine.persona, image_id + "/layer")
        return self.json(request, 200, {
            "Id": summary["Id"], "RepoTags": tags, "RepoDigests": summary["RepoDigests"],
            "Parent": "", "Comment": "", "Created": iso_time(int(summary["Created"])),
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
             f"{hex_id(self.engine.persona, image_id + '/add')} in / ", "Id": "<missing>",
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
        created = iso_time(self.engine.started)
        out = []
        for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null")):
            ipam = [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}] \
                if name == "bridge" else []
            out.append({"Name": name, "Id": hex_id(self.engine.persona, f"docker-net-{name}"),
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
            return self.json(request, 200, top_doc(item))
        if action == "stats":
            return self.json(request, 200, stats_doc(self.engine, item))
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
                    "mode": DIRECTORIES[clean], "mtime": iso_time(item.created).replace(
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
