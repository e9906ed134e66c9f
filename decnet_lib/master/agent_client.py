"""The master's client of an agent's HTTP API, over mutual TLS.

    client = AgentClient("https://agent1:8765", cert=..., key=..., ca=...)
    answer = client.apply(resolved)     # {"status": "active"|"degraded"|"failed", ...}

Every failure (transport, TLS, an HTTP error status, a body that is not JSON) raises one
AgentError whose one-line message names the agent, the HTTP status and the agent's reason.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

from decnet_lib.errors import DecnetError
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.resolved import ResolvedTopology

DEFAULT_TIMEOUT = 600.0  # seconds: an apply of a large maze takes minutes
CONNECT_TIMEOUT = 10.0


class AgentError(DecnetError):
    """An agent call failed; `status` is the HTTP status (None: no HTTP answer)."""

    code = "AGENT"

    def __init__(
        self, message: str, status: int | None = None, reason: str = "",
        agent_code: str | None = None, body: Any = None,
    ) -> None:
        super().__init__(" ".join(message.split()))
        self.status = status
        self.reason = reason
        self.agent_code = agent_code
        self.body = body


def _normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if "://" in url else f"https://{url}"


def _reason(response: httpx.Response) -> tuple[str, str | None, Any]:
    """The agent's one-line reason, its error code and the decoded body (when JSON)."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())[:300]
        return text or response.reason_phrase, None, None
    if isinstance(body, dict):
        detail = body.get("detail")
        if not isinstance(detail, str):
            detail = str(detail) if detail is not None else response.reason_phrase
        return detail, body.get("code"), body
    return str(body)[:300], None, body


class AgentClient:
    """Calls one agent: apply, teardown, topology, health (a fresh connection per call)."""

    def __init__(
        self,
        url: str,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        ca: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = _normalise_url(url)
        self.cert = Path(cert) if cert else None
        self.key = Path(key) if key else None
        self.ca = Path(ca) if ca else None
        self.timeout = timeout

    @cached_property
    def _ssl_context(self) -> ssl.SSLContext:
        """Trust only the CA (when given); present the client certificate (when given)."""
        try:
            context = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
            if self.cert is not None:
                context.load_cert_chain(str(self.cert), str(self.key) if self.key else None)
        except (OSError, ssl.SSLError, ValueError) as exc:
            files = ", ".join(str(p) for p in (self.cert, self.key, self.ca) if p)
            raise AgentError(f"agent {self.url}: cannot load TLS files ({files}): {exc}") from None
        return context

    def _client(self) -> httpx.Client:
        verify: ssl.SSLContext | bool = (
            self._ssl_context if self.url.startswith("https://") else False
        )
        timeout = httpx.Timeout(self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout))
        return httpx.Client(base_url=self.url, verify=verify, timeout=timeout,
                            trust_env=False)

    def _request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        where = f"agent {self.url} {method} {path}"
        try:
            with self._client() as client:
                response = client.request(method, path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise AgentError(f"{where}: timed out: {exc or type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise AgentError(f"{where}: cannot reach the agent: "
                             f"{exc or type(exc).__name__}") from None
        if response.is_error:
            reason, code, body = _reason(response)
            raise AgentError(f"{where}: HTTP {response.status_code}: {reason}",
                             response.status_code, reason, code, body)
        try:
            body = response.json()
        except ValueError:
            raise AgentError(f"{where}: the answer is not JSON", response.status_code) from None
        if not isinstance(body, dict):
            raise AgentError(f"{where}: the answer is not a JSON object", response.status_code)
        return body

    # -- the API ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """`{"ok": true, "version": ...}`."""
        return self._request("GET", "/health")

    def apply(self, resolved: ResolvedTopology | Mapping[str, Any]) -> dict[str, Any]:
        """Send the resolved topology and its canonical hash; the agent's answer."""
        if isinstance(resolved, ResolvedTopology):
            topology = resolved.model_dump(mode="json")
        else:
            topology = dict(resolved)
        body = {"topology": topology, "hash": canonical_hash(topology)}
        return self._request("POST", "/topology/apply", json=body)

    def teardown(self, topology_id: str | None = None) -> dict[str, Any]:
        """Tear down the given id (by labels), else whatever the agent has pinned."""
        body = {"topology_id": topology_id} if topology_id else {}
        return self._request("POST", "/topology/teardown", json=body)

    def events(self, after: int = 0, limit: int = 1000, wait: float = 0.0,
               epoch: str | None = None) -> dict[str, Any]:
        """Journalled events after `after` (long-polled up to `wait` s):
        `{"epoch", "events": [{"seq", ...}], "last"}`."""
        params: dict[str, Any] = {"after": after, "limit": limit, "wait": wait}
        if epoch:
            params["epoch"] = epoch
        return self._request("GET", "/events", params=params)

    def topology(self, topology_id: str | None = None, full: bool = False) -> dict[str, Any]:
        """Pinned id, name, hash, status, last error and the Docker inventory."""
        params: dict[str, Any] = {}
        if topology_id:
            params["topology_id"] = topology_id
        if full:
            params["full"] = "true"
        return self._request("GET", "/topology", params=params or None)
