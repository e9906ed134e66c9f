"""Validation issues and their stable codes (the codes are an API)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Literal

Severity = Literal["error", "warning"]

QUOTE_LIMIT = 200
"""Characters of one piece of user input that an error message may quote."""
MESSAGE_LIMIT = 1000
"""Characters of a whole message (several quoted inputs, or input with spaces)."""
_LONG_RUN = re.compile(rf"\S{{{QUOTE_LIMIT + 1},}}")


def clip_message(text: str) -> str:
    """Shorten what a message quotes: each run of more than QUOTE_LIMIT non-space
    characters, and the whole message past MESSAGE_LIMIT (a 120 KB decky name must not
    make a 120 KB error line)."""
    if len(text) <= QUOTE_LIMIT:
        return text
    text = _LONG_RUN.sub(lambda m: f"{m.group(0)[:QUOTE_LIMIT]}...[{len(m.group(0))} chars]",
                         text)
    if len(text) > MESSAGE_LIMIT:
        text = f"{text[:MESSAGE_LIMIT]}...[{len(text)} chars]"
    return text


class Code(StrEnum):
    """Every validation code. Never rename one: scripts match on them."""

    SCHEMA = "SCHEMA"
    NAME_INVALID = "NAME_INVALID"
    DMZ_MISSING = "DMZ_MISSING"
    DMZ_MULTIPLE = "DMZ_MULTIPLE"
    LAN_UNREACHABLE = "LAN_UNREACHABLE"
    DECKY_ORPHAN = "DECKY_ORPHAN"
    LAN_NAME_DUP = "LAN_NAME_DUP"
    DECKY_NAME_DUP = "DECKY_NAME_DUP"
    IP_UNKNOWN_LAN = "IP_UNKNOWN_LAN"
    IP_MALFORMED = "IP_MALFORMED"
    IP_OUT_OF_SUBNET = "IP_OUT_OF_SUBNET"
    IP_RESERVED = "IP_RESERVED"
    IP_COLLISION = "IP_COLLISION"
    SUBNET_MALFORMED = "SUBNET_MALFORMED"
    SUBNET_TOO_SMALL = "SUBNET_TOO_SMALL"
    SUBNET_OVERLAP = "SUBNET_OVERLAP"
    SUBNET_RESERVED = "SUBNET_RESERVED"
    UNKNOWN_SERVICE = "UNKNOWN_SERVICE"
    UNKNOWN_ARCHETYPE = "UNKNOWN_ARCHETYPE"
    SERVICE_CFG_UNDECLARED = "SERVICE_CFG_UNDECLARED"
    SERVICE_CFG_INVALID = "SERVICE_CFG_INVALID"
    EXPOSE_NOT_IN_DMZ = "EXPOSE_NOT_IN_DMZ"
    PORT_COLLISION = "PORT_COLLISION"
    IMAGE_INVALID = "IMAGE_INVALID"
    LAN_EMPTY = "LAN_EMPTY"


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding of validation. `target` names the field or object concerned."""

    severity: Severity
    code: str
    message: str
    target: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", clip_message(self.message))
        object.__setattr__(self, "target", clip_message(self.target))

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.severity} {self.code} at {self.target}: {self.message}"


def error(code: Code, target: str, message: str) -> Issue:
    """An error issue."""
    return Issue("error", code.value, message, target)


def warning(code: Code, target: str, message: str) -> Issue:
    """A warning issue."""
    return Issue("warning", code.value, message, target)


def has_errors(issues: Iterable[Issue]) -> bool:
    """True when any issue is an error."""
    return any(issue.severity == "error" for issue in issues)
