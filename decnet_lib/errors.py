"""Errors a user can cause: each carries a stable code and a one-line message."""

from __future__ import annotations

from collections.abc import Sequence

from decnet_lib.validation.issues import Issue, clip_message


class DecnetError(Exception):
    """Base of every user-facing error; the CLI prints `error[CODE]: message`."""

    code = "ERROR"
    exit_code = 1

    def __init__(self, message: str) -> None:
        message = clip_message(message)
        super().__init__(message)
        self.message = message


class NotFound(DecnetError):
    code = "NOT_FOUND"


class AlreadyExists(DecnetError):
    code = "ALREADY_EXISTS"


class InvalidTransition(DecnetError):
    code = "INVALID_TRANSITION"


class Refused(DecnetError):
    """The operation is not allowed in the current state (e.g. delete while running)."""

    code = "REFUSED"


class InvalidTopology(DecnetError):
    """A document or a change would make a topology invalid; carries every issue."""

    code = "INVALID_TOPOLOGY"

    def __init__(self, message: str, issues: Sequence[Issue]) -> None:
        super().__init__(message)
        self.issues = list(issues)


class DatabaseUnavailable(DecnetError):
    code = "DB_UNAVAILABLE"
