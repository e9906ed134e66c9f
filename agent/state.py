"""The agent's on-disk state: the pinned topology and the last error, written atomically.

`DECNET_STATE_DIR/agent/pinned.json`: the resolved topology the agent is asked to run, its
canonical hash and status. It is written *before* Docker is touched, so an agent killed in the
middle of an apply leaves a breadcrumb naming what it was building. `last_error.json`: the
error of a failed apply or teardown together with that topology's resolved form (what
`record_error` keeps), so a later teardown can still find every network and container.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from decnet_lib.atomic_files import remove_durably, write_json_atomic

__all__ = ["LastError", "Pinned", "StateStore", "remove_durably", "write_json_atomic"]

PINNED_FILE = "pinned.json"
LAST_ERROR_FILE = "last_error.json"
log = logging.getLogger("decnet.agent.state")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")

    topology: dict[str, Any]
    hash: str = ""

    @property
    def id(self) -> str:
        return str(self.topology.get("id", ""))

    @property
    def name(self) -> str:
        return str(self.topology.get("name", ""))


class Pinned(_Record):
    """The topology this agent runs (or was building when it stopped)."""

    status: str = "deploying"
    updated_at: str = Field(default_factory=now_iso)
    summary: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "hash": self.hash, "status": self.status,
                "updated_at": self.updated_at, "summary": self.summary}


class LastError(_Record):
    """The last failure, with the resolved topology it concerned."""

    error: str
    details: dict[str, Any] = Field(default_factory=dict)
    at: str = Field(default_factory=now_iso)

    def public(self, full: bool = False) -> dict[str, Any]:
        data = {"topology_id": self.id, "name": self.name, "hash": self.hash,
                "error": self.error, "at": self.at, "details": self.details}
        if full:
            data["topology"] = self.topology
        return data


class StateStore:
    """Reads and writes the agent's state files in one directory (callers serialise writes)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def pinned_path(self) -> Path:
        return self.directory / PINNED_FILE

    @property
    def last_error_path(self) -> Path:
        return self.directory / LAST_ERROR_FILE

    def _read(self, path: Path, model: type[_Record]) -> Any:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return model.model_validate(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValidationError):
            aside = path.with_name(f"{path.name}.corrupt-{int(dt.datetime.now().timestamp())}")
            os.replace(path, aside)
            log.warning("state file %s is unreadable; moved aside to %s", path, aside.name)
            return None

    # -- pinned -----------------------------------------------------------------------------
    def pinned(self) -> Pinned | None:
        return self._read(self.pinned_path, Pinned)

    def pin(self, topology: dict[str, Any], hash_: str, status: str = "deploying") -> Pinned:
        """Pin a topology (replacing any other) with a status; durable on return."""
        record = Pinned(topology=topology, hash=hash_, status=status)
        write_json_atomic(self.pinned_path, record.model_dump(mode="json"))
        return record

    def set_status(self, status: str, summary: dict[str, Any] | None = None) -> Pinned | None:
        """Change the pinned topology's status (no-op when nothing is pinned)."""
        record = self.pinned()
        if record is None:
            return None
        record = record.model_copy(
            update={"status": status, "updated_at": now_iso(),
                    "summary": summary if summary is not None else record.summary}
        )
        write_json_atomic(self.pinned_path, record.model_dump(mode="json"))
        return record

    def unpin(self) -> None:
        remove_durably(self.pinned_path)

    # -- last error -------------------------------------------------------------------------
    def last_error(self) -> LastError | None:
        return self._read(self.last_error_path, LastError)

    def record_error(
        self, topology: dict[str, Any], hash_: str, error: str,
        details: dict[str, Any] | None = None,
    ) -> LastError:
        """Keep an error with the resolved topology it concerns (the teardown breadcrumb)."""
        record = LastError(topology=topology, hash=hash_, error=" ".join(error.split()),
                           details=details or {})
        write_json_atomic(self.last_error_path, record.model_dump(mode="json"))
        return record

    def clear_error(self) -> None:
        remove_durably(self.last_error_path)

    def held_ids(self) -> set[str]:
        """The topologies this agent answers for: the pinned one and the last failed one
        (whose containers may still run until a teardown)."""
        return {record.id for record in (self.pinned(), self.last_error()) if record is not None}

    def known(self, topology_id: str) -> _Record | None:
        """The pinned or last-error record of a topology id (the pinned one first)."""
        for record in (self.pinned(), self.last_error()):
            if record is not None and record.id == topology_id:
                return record
        return None
