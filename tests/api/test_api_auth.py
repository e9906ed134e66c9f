"""Bearer tokens and roles: 401 and 403 come before any work, health is open."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

import httpx
from api_server import DECNET, REPO, Api, refused_within
from sqlalchemy import text

from decnet_lib.db import init_db, make_engine
from decnet_lib.master.api_tokens import list_tokens, revoke_token

DOC = {"name": "authmaze", "lans": [{"name": "dmz", "subnet": "10.231.40.0/24", "dmz": True}],
       "deckies": [{"name": "web01", "services": ["http"], "lans": {"dmz": None}}]}


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def stored_only_hashes(api: Api) -> None:
    """The database holds each token's lookup key and the SHA-256 of its secret, no more."""
    engine = make_engine(api.settings.db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM api_tokens")).mappings().all()
    finally:
        engine.dispose()
    dump = repr([dict(row) for row in rows])
    for token in api.tokens.values():
        _, lookup, secret = token.split("_")
        assert secret not in dump and token not in dump
        row = next(row for row in rows if row["lookup"] == lookup)
        assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()


def _altered(token: str) -> str:
    """The same token with its last secret digit changed."""
    return token[:-1] + ("1" if token[-1] == "0" else "0")


def test_tokens_and_roles(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as anonymous:
        assert anonymous.get("/api/v1/health").json()["status"] == "ok"
        missing = anonymous.get("/api/v1/topologies")
        _error(missing, 401, "UNAUTHORIZED")
        assert missing.headers["www-authenticate"] == "Bearer"
        for token in ("nonsense", "dn_0123456789abcdef_" + "0" * 64,
                      _altered(api.tokens["viewer"])):
            _error(anonymous.get("/api/v1/topologies",
                                 headers={"Authorization": f"Bearer {token}"}),
                   401, "UNAUTHORIZED")
        _error(anonymous.get("/api/v1/topologies",
                             headers={"Authorization": f"Basic {api.tokens['viewer']}"}),
               401, "UNAUTHORIZED")
        # no token and a broken body: 401, not 422 (nothing is read before the token)
        _error(anonymous.post("/api/v1/topologies", content=b"{broken"), 401, "UNAUTHORIZED")

    with api.client("viewer") as viewer:
        assert viewer.get("/api/v1/topologies").json() == []
        _error(viewer.post("/api/v1/topologies", json=DOC), 403, "FORBIDDEN")
        _error(viewer.post("/api/v1/topologies", content=b"{broken"), 403, "FORBIDDEN")
        _error(viewer.delete("/api/v1/topologies/authmaze"), 403, "FORBIDDEN")
        _error(viewer.patch("/api/v1/topologies/authmaze/deckies/web01", json={}),
               403, "FORBIDDEN")
        assert viewer.get("/api/v1/topologies").json() == []  # the refused create did nothing

    with api.client("operator") as operator:
        assert operator.post("/api/v1/topologies", json=DOC).status_code == 201
    with api.client("viewer") as viewer:
        assert [t["name"] for t in viewer.get("/api/v1/topologies").json()] == ["authmaze"]

    stored_only_hashes(api)
    listed = {row["name"]: row for row in list_tokens(api.settings)}
    assert listed["test-viewer"]["role"] == "viewer"
    assert listed["test-viewer"]["last_used_at"] is not None
    revoked = time.monotonic()
    revoke_token(api.settings, "test-viewer")  # in this process, not the server's
    with api.client("viewer") as viewer:
        assert refused_within(viewer, "/api/v1/topologies", revoked)


def test_token_cli_prints_the_token_once(sqlite_api: Api) -> None:
    api = sqlite_api
    created = subprocess.run([*DECNET, "api", "token", "create", "--name", "ci",
                              "--role", "viewer"], cwd=REPO, env=api.env,
                             capture_output=True, text=True, check=True)
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("dn_")
    with httpx.Client(base_url=api.url, timeout=30) as client:
        answer = client.get("/api/v1/catalog/services",
                            headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and answer.json()
    listing = subprocess.run([*DECNET, "api", "token", "list", "--json"], cwd=REPO,
                             env=api.env, capture_output=True, text=True, check=True).stdout
    assert token not in listing and token.split("_")[2] not in listing
    assert '"ci"' in listing
    again = subprocess.run([*DECNET, "api", "token", "create", "--name", "ci", "--role",
                            "operator"], cwd=REPO, env=api.env, capture_output=True, text=True)
    assert again.returncode != 0 and again.stdout == ""
    assert again.stderr.startswith("error[ALREADY_EXISTS]")
    bad_role = subprocess.run([*DECNET, "api", "token", "create", "--name", "x", "--role",
                               "root"], cwd=REPO, env=api.env, capture_output=True, text=True)
    assert bad_role.returncode == 2 and "error[BAD_PARAMETER]" in bad_role.stderr
    revoked = time.monotonic()
    subprocess.run([*DECNET, "api", "token", "revoke", "ci"], cwd=REPO, env=api.env,
                   check=True, capture_output=True)
    with httpx.Client(base_url=api.url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        assert refused_within(client, "/api/v1/catalog/services", revoked)


def test_serve_refuses_an_outdated_database_and_agent_mode(tmp_path: Path) -> None:
    """One error line and a non-zero exit, never a traceback or a half-started server."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    try:
        init_db(engine)
        with engine.begin() as connection:  # as a database of the previous release
            connection.execute(text("DROP TABLE api_tokens"))
            connection.execute(text("UPDATE alembic_version SET version_num = '0002_events'"))
    finally:
        engine.dispose()
    env = {**os.environ, "DECNET_DB_URL": url, "DECNET_STATE_DIR": str(tmp_path)}
    served = subprocess.run([*DECNET, "api", "serve", "--port", "1"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert served.returncode == 1
    assert served.stderr.startswith("error[SCHEMA_OUTDATED]") and "Traceback" not in served.stderr
    assert "decnet db upgrade" in served.stderr
    agent = subprocess.run([*DECNET, "api", "token", "list"], cwd=REPO,
                           env={**env, "DECNET_MODE": "agent"}, capture_output=True, text=True)
    assert agent.returncode == 2 and agent.stderr.startswith("error[MASTER_ONLY]")
