"""The in-process cache of verified tokens: a revoke in the same process takes effect at once,
one made by another process within TOKEN_CACHE_SECONDS; unknown tokens are never remembered."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_server import DECNET, REPO, Api, refused_within
from sqlalchemy import Engine

from decnet_lib.api import verifier as verifier_module
from decnet_lib.api.verifier import TokenVerifier
from decnet_lib.master import api_tokens
from decnet_lib.master.api_tokens import Caller, authenticate, create_token, revoke_token
from decnet_lib.master.database import open_engine
from decnet_lib.master.token_cache import TOKEN_CACHE_SECONDS, TokenCache
from decnet_lib.settings import get_settings
from decnet_lib.settings_model import Settings


class Clock:
    """A monotonic clock the test moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A fresh token cache of this process on a clock the test drives."""
    moved = Clock()
    monkeypatch.setattr(api_tokens, "TOKENS", TokenCache(clock=moved))
    return moved


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    settings = get_settings(state_dir=tmp_path / "state", db_url=db_url, bus="null")
    engine = open_engine(settings)
    try:
        yield settings, engine
    finally:
        engine.dispose()


def test_a_revoke_in_this_process_takes_effect_at_once(
        store: tuple[Settings, Engine], clock: Clock) -> None:
    settings, engine = store
    token = create_token(settings, "ops", "operator")
    assert authenticate(engine, token) == Caller("ops", "operator")
    assert authenticate(engine, token) == Caller("ops", "operator")  # now from the cache
    revoke_token(settings, "ops")
    assert authenticate(engine, token) is None


def test_a_revoke_by_another_process_takes_effect_within_the_ttl(
        store: tuple[Settings, Engine], clock: Clock, db_url: str, tmp_path: Path) -> None:
    settings, engine = store
    token = create_token(settings, "viewer1", "viewer")
    assert authenticate(engine, token) == Caller("viewer1", "viewer")
    env = {**os.environ, "DECNET_STATE_DIR": str(tmp_path / "state"), "DECNET_DB_URL": db_url,
           "DECNET_BUS": "null"}
    subprocess.run([*DECNET, "api", "token", "revoke", "viewer1"], cwd=REPO, env=env,
                   check=True, capture_output=True)
    clock.now += TOKEN_CACHE_SECONDS - 0.1
    assert authenticate(engine, token) is not None  # remembered: the documented window
    clock.now += 0.1
    assert authenticate(engine, token) is None


def test_unknown_and_malformed_tokens_are_not_remembered(
        store: tuple[Settings, Engine], clock: Clock) -> None:
    settings, engine = store
    token = create_token(settings, "later", "viewer")
    lookup = token.split("_")[1]
    forged = f"dn_{lookup}_{'0' * 64}"
    for bad in (forged, "dn_nothex", ""):
        assert authenticate(engine, bad) is None
        assert api_tokens.cached_caller(engine, bad) is None
    assert authenticate(engine, token) is not None
    assert authenticate(engine, forged) is None  # a known lookup key with a wrong secret


def test_the_server_refuses_a_token_revoked_by_the_cli_within_the_ttl(sqlite_api: Api) -> None:
    api = sqlite_api
    with api.client("viewer") as viewer:
        assert viewer.get("/api/v1/topologies").status_code == 200  # cached in the server
        revoked = time.monotonic()
        subprocess.run([*DECNET, "api", "token", "revoke", "test-viewer"], cwd=REPO,
                       env=api.env, check=True, capture_output=True)
        assert refused_within(viewer, "/api/v1/topologies", revoked)



def test_a_burst_with_an_expired_token_checks_the_database_once(
        store: tuple[Settings, Engine], clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """50 requests carrying a token whose cache entry expired: one database check, awaited by
    all (not 50 worker threads at once); a waiter that goes away does not cancel it."""
    settings, engine = store
    token = create_token(settings, "burst", "viewer")
    checks: list[str] = []
    real = verifier_module.authenticate

    def counted(engine: Engine, presented: str) -> Caller | None:
        checks.append(presented)
        time.sleep(0.05)  # a slow database: the burst arrives while the check runs
        return real(engine, presented)

    monkeypatch.setattr(verifier_module, "authenticate", counted)

    async def burst() -> list[Caller | None]:
        verifier = TokenVerifier()
        quitter = asyncio.ensure_future(verifier.caller(engine, token))
        await asyncio.sleep(0)
        quitter.cancel()  # a client that went away while its token was checked
        return await asyncio.gather(*(verifier.caller(engine, token) for _ in range(50)))

    callers = asyncio.run(burst())
    assert callers == [Caller("burst", "viewer")] * 50
    assert checks == [token]
    clock.now += TOKEN_CACHE_SECONDS  # expired again: the next burst checks once more
    assert asyncio.run(burst()) == [Caller("burst", "viewer")] * 50
    assert checks == [token, token]
    assert asyncio.run(TokenVerifier().caller(engine, "dnt_bad")) is None
