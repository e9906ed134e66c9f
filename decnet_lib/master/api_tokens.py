"""Bearer tokens of the master API: create (the token is shown once), list, revoke, check.

A token reads `dn_<lookup>_<secret>` (hex). Only the lookup key and the SHA-256 of the
secret are stored; a presented token is found by its lookup key and its secret compared in
constant time (`hmac.compare_digest`). A verified token is remembered in-process for a few
seconds (`token_cache`): revocation is immediate in the revoking process, and within
`TOKEN_CACHE_SECONDS` in a server running elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import Engine, delete, select, update

from decnet_lib.db.models import ApiToken, utcnow
from decnet_lib.errors import AlreadyExists, DecnetError, NotFound
from decnet_lib.master.database import read_session, transaction, write_session
from decnet_lib.master.token_cache import TokenCache, token_key

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

Role = Literal["viewer", "operator"]
ROLES: tuple[Role, ...] = ("viewer", "operator")
PREFIX = "dn"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TOKEN = re.compile(rf"{PREFIX}_([0-9a-f]{{16}})_([0-9a-f]{{64}})")
LAST_USED_EVERY = timedelta(seconds=60)
"""`last_used_at` is written at most this often per token (no write per request)."""


class BadTokenRequest(DecnetError):
    code = "BAD_PARAMETER"
    exit_code = 2


@dataclass(frozen=True)
class Caller:
    """Who a valid token belongs to."""

    name: str
    role: Role

    @property
    def may_change(self) -> bool:
        return self.role == "operator"


TOKENS: TokenCache[Caller] = TokenCache()
"""Verified tokens of this process (see `token_cache`)."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_token(settings: Settings, name: str, role: str) -> str:
    """Store a new token named `name` with `role`; the token (shown once, never stored)."""
    if not _NAME.fullmatch(name or ""):
        raise BadTokenRequest(f"token name {name!r}: 1-64 letters, digits, '_', '.', '-'")
    if role not in ROLES:
        raise BadTokenRequest(f"role {role!r}: use one of {', '.join(ROLES)}")
    lookup, secret = secrets.token_hex(8), secrets.token_hex(32)
    with transaction(settings) as session:
        if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise AlreadyExists(f"an API token named {name!r} already exists")
        session.add(ApiToken(name=name, role=role, lookup=lookup, secret_hash=_digest(secret)))
    return f"{PREFIX}_{lookup}_{secret}"


def list_tokens(settings: Settings) -> list[dict[str, Any]]:
    """Every token's name, role, creation and last use (never the token)."""
    with transaction(settings) as session:
        return [
            {"name": row.name, "role": row.role, "created_at": row.created_at.isoformat(),
             "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None}
            for row in session.scalars(select(ApiToken).order_by(ApiToken.name))
        ]


def revoke_token(settings: Settings, name: str) -> None:
    """Delete the token `name` (NotFound when there is none): it stops working at once."""
    with transaction(settings) as session:
        if session.execute(delete(ApiToken).where(ApiToken.name == name)).rowcount == 0:
            raise NotFound(f"no API token named {name!r}")
    TOKENS.forget(name)


def cached_caller(engine: Engine, token: str) -> Caller | None:
    """The caller of `token` when verified in the last few seconds (no database read)."""
    return TOKENS.get(token_key(str(engine.url), token))


def authenticate(engine: Engine, token: str) -> Caller | None:
    """The caller a presented token belongs to; None for a malformed, unknown or revoked one."""
    key = token_key(str(engine.url), token or "")
    remembered = TOKENS.get(key)
    if remembered is not None:
        return remembered
    match = _TOKEN.fullmatch(token or "")
    if match is None:
        return None
    lookup, secret = match.groups()
    with read_session(engine) as session:
        assert session is not None
        row = session.scalars(select(ApiToken).where(ApiToken.lookup == lookup)).first()
        if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
            return None
        caller = Caller(row.name, cast(Role, row.role))
        token_id, used = row.id, row.last_used_at
    now = utcnow()
    if used is None or now - used >= LAST_USED_EVERY:
        with write_session(engine) as session:
            session.execute(update(ApiToken).where(ApiToken.id == token_id)
                            .values(last_used_at=now))
    TOKENS.put(key, caller.name, caller)
    return caller
