"""Errors a user can cause: each carries a stable code and a one-line message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from decnet_lib.issues import Issue, clip_message


class DecnetError(Exception):
    """Base of every user-facing error; the CLI prints `error[CODE]: message`.

    `code` overrides the class's code; `details` are structured facts for callers that
    report more than one line (the Ansible modules return them beside `msg`).
    """

    code = "ERROR"
    exit_code = 1

    def __init__(self, message: str, code: str | None = None, **details: Any) -> None:
        message = clip_message(message)
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class NotFound(DecnetError):
    code = "NOT_FOUND"


class AlreadyExists(DecnetError):
    code = "ALREADY_EXISTS"


class InvalidTransition(DecnetError):
    code = "INVALID_TRANSITION"


class Refused(DecnetError):
    """The operation is not allowed in the current state (e.g. delete while running)."""

    code = "REFUSED"


class DefinitionChanged(DecnetError):
    """A document names a stored topology but defines it differently."""

    code = "DEFINITION_CHANGED"


class InvalidTopology(DecnetError):
    """A document or a change would make a topology invalid; carries every issue."""

    code = "INVALID_TOPOLOGY"

    def __init__(self, message: str, issues: Sequence[Issue]) -> None:
        super().__init__(message)
        self.issues = list(issues)


class DatabaseUnavailable(DecnetError):
    code = "DB_UNAVAILABLE"


class SchemaOutdated(DecnetError):
    """The database's schema revision is not the one this release runs on."""

    code = "SCHEMA_OUTDATED"


class InvalidSettings(DecnetError):
    """A DECNET_* variable has a value MazeNET cannot use."""

    code = "BAD_SETTING"
