"""mssql: python-tds and impacket's TDS client against the SQL Server emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytds
import pytest
from impacket import tds

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools

SERVICE = "mssql"
PORTS = ["1433/tcp"]
CONFIG = {"version": "15.0.4236.7"}
PERSONA = {"hostname": "sql01", "os_family": "windows"}


@pytest.fixture
def forced() -> Iterator[LocalEmulator]:
    """force_encryption: the whole connection runs in TLS."""
    yield from local_emulator(SERVICE, PORTS, {"force_encryption": True}, PERSONA)


def _impacket_login(emulator: LocalEmulator, user: str, password: str) -> tuple[bool, str, str]:
    client = tds.MSSQL(emulator.host, emulator.port(1433))
    client.connect()
    try:
        ok = client.login("master", user, password)
        (error,) = client.replies[tds.TDS_ERROR_TOKEN]
        return (ok, error["MsgText"].decode("utf-16-le"),
                error["ServerName"].decode("utf-16-le"))
    finally:
        client.disconnect()


def test_pytds_login_is_recorded(target: LocalEmulator) -> None:
    with pytest.raises(pytds.OperationalError) as caught:
        pytds.connect(dsn=target.host, port=target.port(1433), user="sa",
                      password="P@ssw0rd!", database="finance", appname="etl-job",
                      login_timeout=10)
    assert str(caught.value.args[0]) == "Login failed for user 'sa'."
    (login,) = target.events("login", wait=3)
    fields = login.fields
    assert login.src_ip == target.source
    assert (fields["username"], fields["password"]) == ("sa", "P@ssw0rd!")
    assert (fields["database"], fields["app_name"]) == ("finance", "etl-job")
    assert fields["hostname"] and fields["success"] == "false"
    assert fields["encryption"] == "2" and fields["tls"] == "false"  # pytds without a CA


def test_impacket_login_encrypted_inside_tds(target: LocalEmulator) -> None:
    """impacket asks ENCRYPT_OFF: TLS inside PRELOGIN, then only LOGIN7 encrypted."""
    ok, message, server = _impacket_login(target, "svc_backup", "Winter2024")
    assert not ok
    assert message == "Login failed for user 'svc_backup'."
    assert server == "SQL01"
    (login,) = target.events("login", wait=3)
    assert (login.fields["username"], login.fields["password"]) == ("svc_backup",
                                                                    "Winter2024")
    assert login.fields["encryption"] == "0" and login.fields["tls"] == "true"
    assert login.src_ip == target.source


def test_impacket_forced_encryption(forced: LocalEmulator) -> None:
    ok, message, _ = _impacket_login(forced, "sa", "Sup3rS3cret")
    assert not ok and message == "Login failed for user 'sa'."
    (login,) = forced.events("login", wait=3)
    assert login.fields["password"] == "Sup3rS3cret" and login.fields["tls"] == "true"


def test_nmap_names_sql_server(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(1433))
    assert "Microsoft SQL Server 2019" in line and "15.00.4236" in line
