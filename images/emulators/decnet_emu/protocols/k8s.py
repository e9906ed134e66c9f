"""k8s: a Kubernetes API server (kube-apiserver, 6443) over TLS, as a kubeadm cluster answers.

TLS carries a kubeadm-like serving certificate, derived from the persona seed: subject
`CN=kube-apiserver`, issued by the cluster CA `CN=kubernetes`, with the SANs kubeadm puts
there (the node name, `kubernetes`, `kubernetes.default[.svc[.cluster.local]]`, the service
IP and the address the client connected to). ALPN offers http/1.1 only.

Anonymous requests (no Authorization header) are `system:anonymous`: `/version`, `/healthz`,
`/livez` and `/readyz` answer (the public-info-viewer role of every cluster), everything else
is 403 with the RBAC message the path implies (`pods is forbidden: User "system:anonymous"
cannot list resource "pods" in API group "" in the namespace "default"`, or `cannot get path`
for non-resource paths). A bearer token or Basic credentials are never valid: 401
`Unauthorized` Status, recorded as `login` (`mech` bearer/basic, `token` or
`username`/`password`; a JWT's `sub` as `username` and `iss` as `issuer`). With
`anonymous: false` (kube-apiserver --anonymous-auth=false) every request without valid
credentials is 401, /version included. A cluster from before v1.19 (or `basic_auth: true`)
had the static password file of --basic-auth-file: a request without credentials to any
path but the public ones gets the plain-text 401 with `Www-Authenticate: Basic
realm="kubernetes-master"` (what nmap names "Kubernetes master node httpd"; nmap 7.93 has
no signature of a newer API server). Headers as kube-apiserver sends
them (Audit-Id, Cache-Control, X-Kubernetes-Pf-* of the API priority and fairness filter).

Config keys: `version` (gitVersion, default the persona's `versions.k8s`, else v1.29.2;
major, minor, gitCommit, buildDate and goVersion follow it), `anonymous` (default true),
`basic_auth` (default: true before v1.19), `service_ip` (default 10.96.0.1),
`tls_cert`/`tls_key` (PEM: replace the derived certificate).

Events (besides `connect`/`disconnect`, `request` for every request with its path, `login`
for credentials, `data` for a failed TLS handshake or malformed input): `command` for every
request that would change the cluster or run something (create, update, patch, delete,
deletecollection; pods/exec, pods/attach, pods/portforward, nodes/proxy), with `verb`,
`resource`, `subresource`, `namespace`, `name`, `api_group`, `command` (`<verb> <resource>`)
and the body's first bytes in `body`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from decnet_emu.persona import Persona
from decnet_emu.protocols import _http_core as core
from decnet_emu.protocols._go_http import go_response, json_body, serve, tls_alert
from decnet_emu.protocols._http_core import Request, Response, start_tls
from decnet_emu.protocols._k8s_tls import tls_context
from decnet_emu.session import Session

DEFAULT_VERSION = "v1.29.2"
# gitVersion -> (gitCommit, buildDate, goVersion) of real releases; others are derived
RELEASES = {
    "v1.27.3": ("25b4e43193bcda6c7328a6d147b1fb73a33f1598", "2023-06-14T09:47:40Z", "go1.20.5"),
    "v1.28.2": ("89a4ea3e1e4ddd7f7572286090359983e0387b2f", "2023-09-13T09:29:07Z", "go1.20.8"),
    "v1.29.2": ("4b8e819355d791d96b7e9d9efe4cbafae2311c88", "2024-02-14T10:32:40Z", "go1.21.7"),
    "v1.30.4": ("a51b3b711150f57ffc1f526a640ec058514ed596", "2024-08-14T19:02:46Z", "go1.22.5"),
}
GO_BY_MINOR = {"25": "go1.19.13", "26": "go1.19.13", "27": "go1.20.13", "28": "go1.21.9",
               "29": "go1.21.13", "30": "go1.22.8", "31": "go1.22.9", "32": "go1.23.6",
               "33": "go1.24.4"}
PUBLIC_PATHS = frozenset({"/version", "/version/", "/healthz", "/livez", "/readyz"})
RUNS_SOMETHING = frozenset({"pods/exec", "pods/attach", "pods/portforward", "nodes/proxy",
                            "pods/proxy", "services/proxy"})
ANONYMOUS = 'User "system:anonymous"'


@dataclass(frozen=True)
class ApiServer:
    """The cluster's identity as its API server shows it."""

    version: str
    commit: str
    build_date: str
    go: str
    anonymous: bool
    basic_auth: bool
    flowschema: dict[str, str]
    priority: dict[str, str]


def _uid(persona: Persona, label: str) -> str:
    return str(uuid.UUID(bytes=persona.derive(label, 16), version=4))


def server_for(persona: Persona, config: dict[str, Any]) -> ApiServer:
    version = str(config.get("version") or persona.version("k8s", DEFAULT_VERSION))
    if not version.startswith("v"):
        version = "v" + version
    commit, built, go = RELEASES.get(version, ("", "", ""))
    if not commit:
        minor = version.split(".")[1] if version.count(".") >= 2 else "29"
        commit = persona.derive(f"k8s-commit/{version}", 20).hex()
        stamp = 1_690_000_000 + persona.number(f"k8s-built/{version}", 40_000_000)
        built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
        go = GO_BY_MINOR.get(minor, "go1.21.7")
    anonymous = config.get("anonymous")
    basic_auth = config.get("basic_auth")
    if basic_auth is None:  # --basic-auth-file was removed in v1.19
        minor = version.lstrip("v").split(".")[1] if version.count(".") >= 1 else "29"
        basic_auth = minor.isdigit() and int(minor) < 19
    return ApiServer(
        version=version, commit=commit, build_date=built, go=go,
        anonymous=anonymous not in (False, "false", "0", "no"),
        basic_auth=basic_auth not in (False, "false", "0", "no"),
        flowschema={name: _uid(persona, f"k8s-fs/{name}")
                    for name in ("probes", "global-default", "exempt")},
        priority={name: _uid(persona, f"k8s-pl/{name}")
                  for name in ("exempt", "global-default")})


def version_doc(server: ApiServer) -> dict[str, str]:
    numbers = server.version.lstrip("v").split("-")[0].split(".")
    return {"major": numbers[0], "minor": numbers[1] if len(numbers) > 1 else "0",
            "gitVersion": server.version, "gitCommit": server.commit, "gitTreeState": "clean",
            "buildDate": server.build_date, "goVersion": server.go, "compiler": "gc",
            "platform": "linux/amd64"}


def status(code: int, reason: str, message: str,
           details: dict[str, str] | None = None) -> dict[str, Any]:
    """A metav1.Status failure, keys in the order the API server writes them."""
    out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "message": message, "reason": reason}
    if details is not None:
        out["details"] = details
    out["code"] = code
    return out


@dataclass(frozen=True)
class Access:
    """What a request asks for, in RBAC's terms (apiserver's RequestInfo)."""

    verb: str
    path: str
    resource: str = ""
    subresource: str = ""
    group: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)

    def forbidden_message(self) -> str:
        if not self.is_resource:
            return f'forbidden: {ANONYMOUS} cannot {self.verb} path "{self.path}"'
        qualified = f"{self.resource}.{self.group}" if self.group else self.resource
        subject = f'{qualified} "{self.name}"' if self.name else qualified
        full = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        scope = f'in the namespace "{self.namespace}"' if self.namespace else \
            "at the cluster scope"
        return (f'{subject} is forbidden: {ANONYMOUS} cannot {self.verb} resource "{full}" '
                f'in API group "{self.group}" {scope}')

    def details(self) -> dict[str, str]:
        if not self.is_resource:
            return {}
        out = {"name": self.name} if self.name else {}
        if self.group:
            out["group"] = self.group
        out["kind"] = self.resource
        return out


def access(request: Request) -> Access:
    """The verb and resource of a request, parsed as kube-apiserver's RequestInfo does."""
    path = unquote(request.path)
    method = request.method
    parts = [unquote(p) for p in request.path.strip("/").split("/") if p]
    http_verb = {"GET": "get", "HEAD": "get", "POST": "post", "PUT": "put",
                 "PATCH": "patch", "DELETE": "delete", "OPTIONS": "options"}.get(method,
                                                                               method.lower())
    if not parts or parts[0] not in ("api", "apis"):
        return Access(http_verb, path)
    if parts[0] == "api":
        group, rest = "", parts[2:] if len(parts) >= 2 else []
    else:
        if len(parts) < 3:
            return Access(http_verb, path)
        group, rest = parts[1], parts[3:]
    if not rest:
        return Access(http_verb, path)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        namespace = rest[1]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    watching = dict(parse_qsl(request.query)).get("watch", "") in ("1", "true")
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method)
    if verb is None and method == "DELETE":
        verb = "delete" if name else "deletecollection"
    if verb is None:
        verb = "watch" if watching else ("get" if name else "list")
    if subresource and method in ("GET", "POST") and subresource in ("exec", "attach",
                                                                       "portforward"):
        verb = "create" if method == "POST" else "get"
    return Access(verb, path, resource, subresource, group, namespace, name)


# -- TLS ------------------------------------------------------------------------------------


async def _handshake(session: Session) -> bool:
    return await start_tls(session, context=tls_context(session), alert=tls_alert)


# -- the site -------------------------------------------------------------------------------
class ApiSite:
    """kube-apiserver's filter chain, for one connection."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server

    def _headers(self, flow: str | None, content_type: str = "application/json",
                 nosniff: bool = False) -> dict[str, str]:
        headers = {"Audit-Id": str(uuid.uuid4()), "Cache-Control": "no-cache, private",
                   "Content-Type": content_type}
        if nosniff:
            headers["X-Content-Type-Options"] = "nosniff"
        if flow is not None:
            level = "exempt" if flow in ("probes", "exempt") else "global-default"
            headers["X-Kubernetes-Pf-Flowschema-Uid"] = self.server.flowschema[flow]
            headers["X-Kubernetes-Pf-Prioritylevel-Uid"] = self.server.priority[level]
        return headers

    def unauthorized(self, request: Request) -> Response:
        body = json_body(status(401, "Unauthorized", "Unauthorized"))
        return go_response(401, request, self._headers(None), body)

    def basic_challenge(self, request: Request) -> Response:
        """kube-apiserver with --basic-auth-file: net/http's plain-text 401."""
        headers = {"Content-Type": "text/plain; charset=utf-8",
                   "Www-Authenticate": 'Basic realm="kubernetes-master"',
                   "X-Content-Type-Options": "nosniff"}
        return go_response(401, request, headers, b"Unauthorized\n")

    async def respond(self, session: Session, request: Request) -> Response:
        wanted = access(request)
        self._record(session, request, wanted)
        path = unquote(request.path)
        if request.header("authorization") or not self.server.anonymous:
            return self.unauthorized(request)
        if self.server.basic_auth and path not in PUBLIC_PATHS:
            return self.basic_challenge(request)
        if path in PUBLIC_PATHS and request.method in ("GET", "HEAD"):
            if path.startswith("/version"):
                body = json_body(version_doc(self.server), indent=True)
                return go_response(200, request, self._headers("probes"), body)
            headers = self._headers("probes", "text/plain; charset=utf-8", nosniff=True)
            return go_response(200, request, headers, b"ok")
        body = json_body(status(403, "Forbidden", wanted.forbidden_message(),
                                wanted.details()))
        return go_response(403, request, self._headers("global-default", nosniff=True), body)

    @staticmethod
    def _record(session: Session, request: Request, wanted: Access) -> None:
        full = f"{wanted.resource}/{wanted.subresource}" if wanted.subresource else \
            wanted.resource
        if not wanted.is_resource:
            return
        if wanted.verb in ("get", "list", "watch") and full not in RUNS_SOMETHING:
            return
        params = dict(parse_qsl(request.query))
        command = params.get("command") if full == "pods/exec" else None
        line = " ".join([wanted.verb, full, *([wanted.name] if wanted.name else [])])
        if full == "pods/exec":
            words = [v for k, v in parse_qsl(request.query) if k == "command"]
            line = f"exec {wanted.name} -- {' '.join(words)}" if words else line
        session.event("command", command=line[:256], verb=wanted.verb, resource=wanted.resource,
                      subresource=wanted.subresource or None,
                      namespace=wanted.namespace or None, name=wanted.name or None,
                      api_group=wanted.group or None, exec_command=command,
                      body=request.body[:256] or None)


def token_claims(token: str) -> dict[str, str]:
    """`sub` and `iss` of a JWT bearer token (a service account's), unverified."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return {}
    if not isinstance(payload, dict):
        return {}
    return {key: str(payload[key])[:128] for key in ("sub", "iss") if payload.get(key)}


def record(session: Session, request: Request) -> None:
    """_http_core's `request` event; the `login` of a bearer token names its subject."""
    auth = request.header("authorization")
    if not auth:
        core.record_request(session, request)
        return
    headers = [(k, v) for k, v in request.headers if k.lower() != "authorization"]
    core.record_request(session, dataclasses.replace(request, headers=headers))
    fields = core.authorization_fields(auth)
    if not fields:
        return
    if fields.get("mech") == "bearer":
        claims = token_claims(str(fields.get("token", "")))
        if claims.get("sub"):
            fields["username"] = claims["sub"]
        if claims.get("iss"):
            fields["issuer"] = claims["iss"]
    session.event("login", success=False, path=request.path, **fields)


async def handle(session: Session) -> None:
    site = ApiSite(server_for(session.persona, session.config))
    await serve(session, site.respond, before=_handshake, record=record)
