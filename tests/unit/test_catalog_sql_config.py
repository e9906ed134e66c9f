"""service_config schemas of the SQL emulators: their keys validate and reach the container."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from decnet_lib.catalog.services import SERVICES
from decnet_lib.deploy.service_env import service_environment


def test_sql_keys_validate_and_become_env() -> None:
    config = SERVICES["postgres"].config(auth="md5", tls=False, iterations=8192)
    env = service_environment("t", "db01", "postgres", config.model_dump(exclude_none=True))
    assert (env["DECNET_CFG_AUTH"], env["DECNET_CFG_TLS"]) == ("md5", "false")
    assert env["DECNET_CFG_ITERATIONS"] == "8192"
    assert SERVICES["mysql"].config(auth_plugin="mysql_native_password").tls is None
    assert SERVICES["mssql"].config(force_encryption=True).force_encryption is True


@pytest.mark.parametrize(("service", "key", "value"), [
    ("mysql", "auth_plugin", "sha256_password"), ("postgres", "auth", "trust"),
    ("postgres", "iterations", 0), ("mssql", "tls", "no"), ("mssql", "auth", "md5")])
def test_sql_keys_refuse_bad_values(service: str, key: str, value: object) -> None:
    with pytest.raises(ValidationError):
        SERVICES[service].config(**{key: value})
