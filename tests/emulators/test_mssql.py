"""mssql: python-tds and impacket's TDS client against the SQL Server emulator."""

from __future__ import annotations

import hmac
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytds
import pytest
from impacket import ntlm, tds

from tests.emulators.harness import (
    EMULATORS,
    LocalEmulator,
    local_emulator,
    nmap_service,
    require_tools,
)

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


def _mssqlclient(emulator: LocalEmulator, *args: str) -> str:
    """impacket's mssqlclient.py, the tool attackers run, from the venv's bin."""
    script = Path(sys.executable).parent / "mssqlclient.py"
    out = subprocess.run([sys.executable, str(script), *args, "-port", str(emulator.port(1433))],
                         capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    return out.stdout + out.stderr


def test_mssqlclient_sql_login(target: LocalEmulator) -> None:
    out = _mssqlclient(target, f"sa:Passw0rd@{target.host}")
    assert "ERROR(SQL01): Line 1: Login failed for user 'sa'." in out
    assert "Unknown Token" not in out  # TDS 7.1 client: short LineNumber and row count
    (login,) = target.events("login", wait=3)
    assert login.fields["password"] == "Passw0rd" and login.fields["tds_version"] == "71000000"


def test_mssqlclient_windows_auth_netntlmv2(target: LocalEmulator) -> None:
    out = _mssqlclient(target, f"CORP/jdoe:Autumn2025@{target.host}", "-windows-auth")
    assert "Login failed. The login is from an untrusted domain" in out
    (login,) = target.events("login", wait=3)
    fields = login.fields
    assert (fields["username"], fields["domain"], fields["ntlm"]) == ("jdoe", "CORP",
                                                                      "netntlmv2")
    full = "".join(fields[k] for k in sorted(
        (k for k in fields if k == "hash" or k.startswith("hash_")),
        key=lambda k: int(k.partition("_")[2] or 1)))
    user, _, domain, challenge, proof, blob = full.split(":")
    key = ntlm.NTOWFv2(user, "Autumn2025", domain)
    expect = hmac.new(key, bytes.fromhex(challenge) + bytes.fromhex(blob), "md5").hexdigest()
    assert proof == expect  # the recorded NetNTLMv2 cracks to the password
    assert login.src_ip == target.source


def test_nmap_names_sql_server(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(1433))
    assert "Microsoft SQL Server 2019" in line and "15.00.4236" in line


@pytest.fixture
def sql2022() -> Iterator[LocalEmulator]:
    """A domain controller persona: SQL Server 2022 (decnet_lib.personas versions)."""
    yield from local_emulator(SERVICE, PORTS, {},
                              {**PERSONA, "versions": {"mssql": "16.0.1000.6"}})


def test_persona_version_in_prelogin(sql2022: LocalEmulator) -> None:
    client = tds.MSSQL(sql2022.host, sql2022.port(1433))
    client.connect()
    try:
        client.preLogin()
        version = client.mssql_version
    finally:
        client.disconnect()
    assert version.version_number == "16.0.1000"
    assert version.version_name.startswith("Microsoft SQL Server 2022")


@pytest.mark.local_only  # the certificate of the persona the test gives
def test_pytds_full_tls_with_the_persona_certificate(target: LocalEmulator,
                                                     tmp_path: Path) -> None:
    """pytds with a CA file asks ENCRYPT_ON: the whole connection runs in TLS and the
    certificate is the persona's, byte for byte (deterministic across restarts)."""
    if str(EMULATORS) not in sys.path:
        sys.path.insert(0, str(EMULATORS))
    from decnet_emu.persona import Persona
    from decnet_emu.tls import certificate_pem

    persona = Persona.from_environment({"DECNET_PERSONA": json.dumps(
        {"hostname": "decky01", **target.persona})})
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(certificate_pem(persona)[0])
    with pytest.raises(pytds.OperationalError) as caught:
        pytds.connect(dsn=target.host, port=target.port(1433), user="sa", password="Tls!pw",
                      login_timeout=10, cafile=str(cafile), validate_host=False)
    assert str(caught.value.args[0]) == "Login failed for user 'sa'."
    (login,) = target.events("login", wait=3)
    assert login.fields["encryption"] == "1" and login.fields["tls"] == "true"
    assert login.fields["password"] == "Tls!pw"
