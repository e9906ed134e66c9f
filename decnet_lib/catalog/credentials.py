"""Foothold credentials: `service_config.<ssh|telnet>.accept`, the logins that succeed.

Each item is `{user, password}`; the user is a POSIX login name (what the emulator can
create), the password one line of text. Anything else is a SERVICE_CFG_INVALID issue.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

USER_PATTERN = r"^[a-z_][a-z0-9_.-]{0,31}$"
MAX_PASSWORD = 128


class Credential(BaseModel):
    """One login that succeeds and gives a shell in the decky."""

    model_config = ConfigDict(extra="forbid", strict=True)

    user: str = Field(pattern=USER_PATTERN, description="Login name (POSIX).")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD, pattern=r"^[^\r\n\x00]+$",
                          description="One line of text.")


ACCEPT_FIELD = Field(
    default=None, max_length=64,
    description="Logins that succeed ({user, password} items): a real shell (a foothold).",
)
