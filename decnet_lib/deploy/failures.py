"""Deployment errors: the one-line DeployError and per-object errors collected by the pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decnet_lib.errors import DecnetError


class DeployError(DecnetError):
    """Docker cannot be reached or refuses a whole operation (one line, no traceback)."""

    code = "DEPLOY_FAILED"


class NameConflict(Exception):
    """An object's name is taken by an object that is not labelled as this topology's."""


@dataclass(frozen=True)
class ObjectError:
    """One Docker object that could not be created, started or removed, and why."""

    kind: str  # "network" or "container"
    name: str
    action: str  # create | remove | start | restart
    message: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.action} failed: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "action": self.action,
                "message": self.message}


def one_line(exc: BaseException, limit: int = 400) -> str:
    """A one-line message for an exception (Docker's explanation when there is one)."""
    text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
