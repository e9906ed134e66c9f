"""The one error type the Ansible modules turn into `fail_json`."""

from __future__ import annotations

from typing import Any

from decnet_lib.errors import DecnetError


class AutomationError(DecnetError):
    """A module call that cannot succeed: one clear line plus structured details.

    `details` are returned to Ansible beside `msg` (e.g. the validation `issues`, the
    deploy `report`), so a playbook can act on them.
    """

    code = "AUTOMATION"

    def __init__(self, message: str, code: str | None = None, **details: Any) -> None:
        super().__init__(" ".join(message.split()), code, **details)

    def to_result(self) -> dict[str, Any]:
        """The keys a failing module returns: msg, error code and the details."""
        return {"msg": self.message, "error_code": self.code, **self.details}


def from_decnet_error(exc: DecnetError, prefix: str = "") -> AutomationError:
    """Wrap a library error, keeping its code, its details and (for invalid topologies)
    its issues."""
    if isinstance(exc, AutomationError):
        return exc
    details: dict[str, Any] = dict(exc.details)
    issues = getattr(exc, "issues", None)
    if issues:
        details["issues"] = [issue.to_dict() for issue in issues]
    message = f"{prefix}{exc.message}" if prefix else exc.message
    return AutomationError(message, code=exc.code, **details)
