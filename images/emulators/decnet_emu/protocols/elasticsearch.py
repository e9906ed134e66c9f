"""Elasticsearch 8.x REST API (port 9200) as a node with security enabled, or an open one.

What runs: the http group core (`_http_core`) with an Elasticsearch site. Headers are Netty's
as Elasticsearch writes them (`WWW-Authenticate` first on a 401, then `X-elastic-product:
Elasticsearch` on every answer, lower-case `content-type: application/json` and
`content-length`), HTTP/1.0 answered as HTTP/1.0, error bodies compact JSON, `GET /` pretty.

- `security: true` (default, as 8.x ships): every request without credentials gets 401 with
  the `security_exception` body and the three `WWW-Authenticate` challenges (Basic realm
  "security", Bearer, ApiKey), whatever the path (authentication comes before routing, as
  in Elasticsearch). Basic credentials are `login` events (`mech=basic`, `username`,
  `password`, `success=false`) and answered "unable to authenticate user [u] for REST request
  [/path]"; Bearer/ApiKey tokens are `login` events with `token`. The missing-credentials
  reason reads "missing authentication token for REST request [/]", the wording of
  Elasticsearch's security realm through 7.3 (8.x says "credentials"): it is the answer
  nmap's service probes name "Elasticsearch REST API", and nmap 7.93 matches no answer a
  stock 8.x node gives (its open-node matches need `content-type` as the first header,
  which 8.x no longer sends).
- `security: false`: an open node: `GET /` answers the cluster JSON (node name from the
  persona, `cluster_uuid` derived from it, version with build fields, "You Know, for
  Search"), `/_cluster/health`, `/_cat/*`, empty `_search` results, documents written
  (`PUT|POST /index/_doc[/id]`: 201 created; the body is in the `request` event),
  `index_not_found_exception` 404s for unknown indices, "no handler found" 400s for
  unknown `_` endpoints, 405s with the allowed methods. nmap names no product then (above).

Config: `version` (default 8.12.1; other 8.x numbers get a Lucene version of that line and
derived build fields), `security` (bool), `cluster_name` (default "elasticsearch"),
`node_name` (default the persona's hostname). Events: `request` for every request (method,
path, query, body up to 256 bytes), `query` for searches (`index`, `query` from `q=` or the
body), `login` as above.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from decnet_emu.protocols._http_core import Request, Response, authorization_fields, serve
from decnet_emu.session import Session

DEFAULT_VERSION = "8.12.1"
# (build_hash, build_date, lucene) of real releases; other versions get derived values
BUILDS = {"8.12.1": ("6185ba65d27469afabc9bc951cded6c17c21e3f3",
                     "2024-02-01T13:07:13.727175297Z", "9.9.2")}
LUCENE = {0: "9.0.0", 1: "9.1.0", 2: "9.2.0", 3: "9.3.0", 4: "9.4.1", 5: "9.4.2", 6: "9.4.2",
          7: "9.5.0", 8: "9.6.0", 9: "9.7.0", 10: "9.7.0", 11: "9.8.0", 12: "9.9.2",
          13: "9.10.0", 14: "9.10.0", 15: "9.11.1", 16: "9.12.0", 17: "9.12.0"}
CHALLENGES = ('Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', "ApiKey")
JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=UTF-8"
SEARCH_ENDPOINTS = ("_search", "_count", "_msearch", "_async_search", "_sql")


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _pretty(value: Any) -> bytes:
    """Jackson's pretty printer as Elasticsearch uses it (`"key" : value`, newline at end)."""
    return (json.dumps(value, indent=2, separators=(",", " : ")) + "\n").encode()


def _error(kind: str, reason: str, status: int, **extra: Any) -> dict[str, Any]:
    cause = {"type": kind, "reason": reason, **extra}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


@dataclass
class ElasticSite:
    """One Elasticsearch node as a client sees it over REST."""

    node_name: str
    cluster_name: str
    cluster_uuid: str
    version: str
    build: tuple[str, str, str]
    security: bool
    echo_version: bool = True  # Netty answers HTTP/1.0 to HTTP/1.0

    # -- answers ------------------------------------------------------------------------
    def _answer(self, status: int, body: bytes, content_type: str = JSON_TYPE,
                first: list[tuple[str, str]] | None = None,
                close: bool = False) -> Response:
        headers = [*(first or []), ("X-elastic-product", "Elasticsearch"),
                   ("content-type", content_type), ("content-length", str(len(body)))]
        return Response(status, headers, body, close=close)

    def error(self, status: int, request: Request | None) -> Response:
        """Malformed HTTP (from the core): Netty's decoder failure as ES reports it."""
        body = _compact(_error("illegal_argument_exception", "invalid HTTP request", status))
        return self._answer(status, body, close=True)

    def _unauthorized(self, reason: str, **extra: Any) -> Response:
        body = _error("security_exception", reason, 401, **extra,
                      header={"WWW-Authenticate": list(CHALLENGES)})
        first = [("WWW-Authenticate", value) for value in CHALLENGES]
        return self._answer(401, _compact(body), first=first)

    def main_document(self) -> dict[str, Any]:
        build_hash, build_date, lucene = self.build
        return {"name": self.node_name, "cluster_name": self.cluster_name,
                "cluster_uuid": self.cluster_uuid,
                "version": {"number": self.version, "build_flavor": "default",
                            "build_type": "deb", "build_hash": build_hash,
                            "build_date": build_date, "build_snapshot": False,
                            "lucene_version": lucene,
                            "minimum_wire_compatibility_version": "7.17.0",
                            "minimum_index_compatibility_version": "7.0.0"},
                "tagline": "You Know, for Search"}

    # -- Site ---------------------------------------------------------------------------
    async def respond(self, session: Session, request: Request) -> Response:
        path = unquote(request.path)
        _record_query(session, request, path)
        if self.security:
            return self._secured(request, path)
        return self._open(request, path)

    def _secured(self, request: Request, path: str) -> Response:
        uri = request.target
        auth = request.header("authorization")
        fields = authorization_fields(auth) if auth else None
        if not fields:
            return self._unauthorized(f"missing authentication token for REST request [{uri}]")
        if fields.get("mech") == "basic" and "username" in fields:
            user = fields["username"].decode("utf-8", "replace")
            return self._unauthorized(f"unable to authenticate user [{user}] for REST request "
                                      f"[{uri}]")
        return self._unauthorized(
            "unable to authenticate with provided credentials and anonymous access is not "
            "allowed for this request",
            additional_unsuccessful_credentials=_token_failure(str(fields.get("mech", ""))))

    def _open(self, request: Request, path: str) -> Response:
        method = request.method
        parts = [p for p in path.split("/") if p]
        if not parts:
            if method not in ("GET", "HEAD"):
                return self._not_allowed(request, "HEAD, GET")
            return self._answer(200, _pretty(self.main_document()))
        if parts[0] == "_cluster" and parts[1:2] == ["health"]:
            return self._answer(200, _compact(self._health()))
        if parts[0] == "_cat":
            return self._cat(parts[1:], request)
        if parts[-1] in SEARCH_ENDPOINTS:
            if len(parts) > 1 and parts[0] not in ("_all", "*"):
                return self._missing_index(parts[0])
            return self._answer(200, _compact(_empty_hits()))
        if parts[0].startswith("_"):
            return self._no_handler(request)
        if method in ("PUT", "POST") and len(parts) in (2, 3) and \
                parts[1] in ("_doc", "_create"):
            return self._indexed(parts)
        if method == "PUT" and len(parts) == 1:
            return self._answer(200, _compact({"acknowledged": True,
                                               "shards_acknowledged": True,
                                               "index": parts[0]}))
        return self._missing_index(parts[0])

    def _indexed(self, parts: list[str]) -> Response:
        """A document written (the index auto-created, as by default): 201 created."""
        doc_id = parts[2] if len(parts) == 3 else \
            base64.urlsafe_b64encode(os.urandom(15)).decode()[:20]
        body = {"_index": parts[0], "_id": doc_id, "_version": 1, "result": "created",
                "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": 0,
                "_primary_term": 1}
        response = self._answer(201, _compact(body))
        response.headers.insert(0, ("Location", f"/{parts[0]}/_doc/{doc_id}"))
        return response

    def _health(self) -> dict[str, Any]:
        return {"cluster_name": self.cluster_name, "status": "green", "timed_out": False,
                "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 0,
                "active_shards": 0, "relocating_shards": 0, "initializing_shards": 0,
                "unassigned_shards": 0, "delayed_unassigned_shards": 0,
                "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
                "task_max_waiting_in_queue_millis": 0,
                "active_shards_percent_as_number": 100.0}

    def _cat(self, parts: list[str], request: Request) -> Response:
        verbose = "v" in request.params()
        if parts == ["health"]:
            head = "epoch      timestamp cluster status node.total node.data shards pri " \
                   "relo init unassign pending_tasks max_task_wait_time active_shards_percent\n"
            line = f"1700000000 00:00:00  {self.cluster_name} green 1 1 0 0 0 0 0 0 - 100.0%\n"
            return self._answer(200, ((head if verbose else "") + line).encode(), TEXT_TYPE)
        if parts in (["indices"], ["aliases"], ["shards"], ["templates"]):
            return self._answer(200, b"", TEXT_TYPE)
        if parts == ["nodes"]:
            line = f"127.0.0.1 12 96 1 0.00 0.01 0.05 cdfhilmrstw * {self.node_name}\n"
            return self._answer(200, line.encode(), TEXT_TYPE)
        if not parts:
            return self._answer(200, b"=^.^=\n/_cat/health\n/_cat/indices\n/_cat/nodes\n",
                                TEXT_TYPE)
        return self._no_handler(request)

    def _missing_index(self, index: str) -> Response:
        body = _error("index_not_found_exception", f"no such index [{index}]", 404,
                      **{"resource.type": "index_or_alias", "resource.id": index,
                         "index_uuid": "_na_", "index": index})
        return self._answer(404, _compact(body))

    def _no_handler(self, request: Request) -> Response:
        body = {"error": f"no handler found for uri [{request.target}] and method "
                         f"[{request.method}]"}
        return self._answer(400, _compact(body))

    def _not_allowed(self, request: Request, allowed: str) -> Response:
        body = {"error": f"Incorrect HTTP method for uri [{request.target}] and method "
                         f"[{request.method}], allowed: [{allowed}]", "status": 405}
        response = self._answer(405, _compact(body))
        response.headers.insert(0, ("Allow", allowed.replace(" ", "")))
        return response


def _token_failure(mech: str) -> list[str]:
    if mech == "apikey":
        return ["API key: unable to find apikey with id [invalid]"]
    if mech == "bearer":
        return ["oauth2 token: token malformed"]
    return []


def _empty_hits() -> dict[str, Any]:
    return {"took": 1, "timed_out": False,
            "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": 0.0, "hits": []}}


def _record_query(session: Session, request: Request, path: str) -> None:
    """A `query` event for a search: its index and the query (q= or the body)."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[-1] not in SEARCH_ENDPOINTS:
        return
    query = request.params().get("q") or request.body.decode("utf-8", "replace") or None
    session.event("query", endpoint=parts[-1], index=parts[0] if len(parts) > 1 else None,
                  query=query)


def build_fields(version: str, session: Session) -> tuple[str, str, str]:
    """(build_hash, build_date, lucene_version) of a version: real ones where known."""
    if version in BUILDS:
        return BUILDS[version]
    try:
        minor = int(version.split(".")[1])
    except (IndexError, ValueError):
        minor = 12
    lucene = LUCENE.get(minor, "9.9.2")
    build_hash = session.persona.derive(f"es-build/{version}", 20).hex()
    day = 1 + session.persona.number(f"es-day/{version}", 27)
    year, month = 2022 + min(minor, 17) // 6, 1 + (minor * 2) % 12
    return build_hash, f"{year}-{month:02d}-{day:02d}T10:{day:02d}:13.{day:09d}Z", lucene


def site_for(session: Session) -> ElasticSite:
    """The node this persona and config describe."""
    config = session.config
    version = str(config.get("version") or DEFAULT_VERSION)
    uuid = base64.urlsafe_b64encode(session.persona.derive("es-cluster-uuid", 16))
    return ElasticSite(node_name=str(config.get("node_name") or session.persona.hostname),
                       cluster_name=str(config.get("cluster_name") or "elasticsearch"),
                       cluster_uuid=uuid.decode().rstrip("="), version=version,
                       build=build_fields(version, session),
                       security=config.get("security", True) not in (False, "false"))


async def handle(session: Session) -> None:
    await serve(session, site_for(session))
