"""The `Settings` model: every DECNET_* variable with its default (pydantic-settings).

Import it through `decnet_lib.settings` (`Settings`, `get_settings()`). An empty variable
counts as unset; numbers that do not parse fall back to their defaults, as they always did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from decnet_lib.settings import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    ENV_PREFIX,
    Mode,
    default_runtime_dir,
    default_state_dir,
    parse_mode,
)

DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_DEPLOY_LEASE_SECONDS = 60.0


class Settings(BaseSettings):
    """Where MazeNET keeps its state and how it talks to its parts."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True,
                                      frozen=True, extra="ignore")

    state_dir: Path = Field(default_factory=default_state_dir)
    db_url: str = ""
    """Default: a SQLite file in `state_dir`."""
    bus_socket: Path = Field(default_factory=lambda: default_runtime_dir() / "bus.sock")
    agent_log_file: Path | None = None
    """Agent-side decky log; default `state_dir/agent-decky.log`."""
    ingest_log_file: Path | None = None
    """Master-side ingest log; default `state_dir/ingest.log`."""
    agent_events_file: Path | None = None
    """Agent-side event journal the master ingests from; default `state_dir/agent-events.db`."""
    events_retention_days: int = 90
    """Master: stored attacker events older than this are deleted; 0 keeps them forever."""
    agent_events_max_days: int = 30
    """Agent: journal entries older than this go even unacknowledged; 0 keeps them until the
    master acknowledges them (docs/events.md, "Retention")."""
    syslog_target: str | None = None
    """Forward every ingested event to a SIEM: tcp+tls://host:6514, tcp://h:p or udp://h:p."""
    syslog_ca: Path | None = None
    """The CA that signed the SIEM's TLS certificate; default the system's CAs."""
    syslog_cert: Path | None = None
    syslog_key: Path | None = None
    """A client certificate and key for a SIEM that asks for one (TLS)."""
    mode: Mode = "master"
    bus: str = "unix"
    """unix | fake | null (checked by `get_bus`)."""
    agent_url: str | None = None
    """The agent the Ansible modules deploy on (None: this machine's Docker)."""
    master_cert: Path | None = None
    master_key: Path | None = None
    ca: Path | None = None
    """The master's client certificate, key and CA; default `state_dir/pki/*`."""
    lock_dir: Path = Field(default_factory=lambda: default_runtime_dir() / "locks")
    mutation_lease_seconds: float = DEFAULT_LEASE_SECONDS
    deploy_lease_seconds: float = DEFAULT_DEPLOY_LEASE_SECONDS
    """How long a deploy/teardown holds a topology before another may take it over."""
    containment: bool = True
    """DECNET_CONTAINMENT=off only to measure what containment costs."""
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    images_dir: Path | None = None
    """The image build contexts; default the repository's `images/`."""
    busybox: Path | None = None
    """The static busybox put in the images; default /bin/busybox."""
    docker_host: str | None = Field(default=None, validation_alias=AliasChoices(
        "docker_host", "DOCKER_HOST"))
    """DOCKER_HOST (not ours, read here so nothing else reads the environment)."""
    cc: str | None = Field(default=None, validation_alias=AliasChoices("cc", "CC"))
    """CC: the C compiler for the image helpers (not ours either)."""
    debian_mirror: str | None = None
    """The Debian mirror the full images' rootfs is bootstrapped from; default the host's."""
    api_cors_origins: str = ""
    """Comma-separated origins the master API answers with CORS headers (none by default)."""
    api_stream_keepalive_seconds: float = 15.0
    """How often `GET /api/v1/stream` sends a keep-alive comment."""
    api_stream_max_per_token: int = 4
    """Open event streams one API token may hold at once, over all workers (429 beyond)."""
    api_workers: int = Field(default=1, ge=1, le=64)
    """Processes `decnet api serve` runs on its one port (`--workers` overrides)."""
    api_bundle_dir: Path | None = None
    """The dashboard bundle served at `/`; default the package's `decnet_lib/web/bundle`."""

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Mode:
        return parse_mode(value)

    @field_validator("mutation_lease_seconds", mode="before")
    @classmethod
    def _lease(cls, value: Any) -> float:
        try:
            return max(float(value), 0.1)
        except (TypeError, ValueError):
            return DEFAULT_LEASE_SECONDS

    @field_validator("deploy_lease_seconds", mode="before")
    @classmethod
    def _deploy_lease(cls, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return DEFAULT_DEPLOY_LEASE_SECONDS
        return number if number > 0 else DEFAULT_DEPLOY_LEASE_SECONDS

    @field_validator("containment", mode="before")
    @classmethod
    def _containment(cls, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        return str(value or "on").strip().lower() not in ("off", "0", "false", "no")

    @field_validator("max_document_bytes", mode="before")
    @classmethod
    def _max_bytes(cls, value: Any) -> int:
        if isinstance(value, int):
            return value
        text = str(value)
        return int(text) if text.isdigit() else DEFAULT_MAX_DOCUMENT_BYTES

    @field_validator("events_retention_days", "agent_events_max_days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> int:
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit():
            raise ValueError(f"must be 0 (keep forever) or a whole number of days, not {text!r}")
        return int(text)

    @field_validator("images_dir", "busybox", "docker_host", "cc", "debian_mirror",
                     "syslog_target", "api_bundle_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        """Fill the defaults that depend on `state_dir`."""
        pki = self.state_dir / "pki"
        derived = {
            "db_url": self.db_url or f"sqlite:///{self.state_dir / 'decnet.db'}",
            "agent_log_file": self.agent_log_file or self.state_dir / "agent-decky.log",
            "ingest_log_file": self.ingest_log_file or self.state_dir / "ingest.log",
            "agent_events_file": self.agent_events_file or self.state_dir / "agent-events.db",
            "master_cert": self.master_cert or pki / "master.crt",
            "master_key": self.master_key or pki / "master.key",
            "ca": self.ca or pki / "ca.crt",
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        return self

    @property
    def is_master(self) -> bool:
        return self.mode == "master"

    def configured(self, name: str) -> Any:
        """A field's value when it was given (environment or argument), else None."""
        return getattr(self, name) if name in self.model_fields_set else None

    @property
    def cors_origins(self) -> tuple[str, ...]:
        """The origins of DECNET_API_CORS_ORIGINS (blanks dropped, trailing '/' removed)."""
        return tuple(origin.strip().rstrip("/") for origin in self.api_cors_origins.split(",")
                     if origin.strip())

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"
