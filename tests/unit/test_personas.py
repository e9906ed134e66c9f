"""Personas (issue 12.2): one believable host per decky, derived from the topology id and the
decky name, agreeing with its archetype, with its own SSH host keys and TLS certificate, and
overridable by service_config. The master side (decnet_lib.personas, the deploy spec's
environment) and the emulator side (decnet_emu.persona, .config, .tls, protocols.ssh) are
checked together: what the master computes is what a container reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from decnet_lib.catalog import SERVICES
from decnet_lib.deploy.spec import desired_state
from decnet_lib.personas import WINDOWS_ARCHETYPES, persona, seed_hex
from decnet_lib.topology.resolve import resolve
from decnet_lib.validation.validate import validate_data

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "images" / "emulators"))

from decnet_emu.config import from_environment
from decnet_emu.persona import Persona
from decnet_emu.protocols._ssh_keys import host_keys, write_host_keys_apart
from decnet_emu.tls import certificate_pem

LINUX_WORDS = ("debian", "linux", "samba", "xrdp", "apache", "postfix", "vsftpd", "openldap")
WINDOWS_WORDS = ("windows", "microsoft", "iis", "active directory")


def _doc(emulation: str = "full") -> dict[str, Any]:
    return {"name": "acme", "emulation": emulation,
            "lans": [{"name": "dmz", "subnet": "10.77.0.0/24", "dmz": True}],
            "deckies": [
                {"name": "web01", "services": ["http", "https", "ssh", "smtp", "snmp"],
                 "lans": {"dmz": "10.77.0.10"}},
                {"name": "dc01", "archetype": "domain-controller",
                 "services": ["http", "smb", "snmp"], "lans": {"dmz": "10.77.0.11"},
                 "service_config": {"http": {"server_header": "Custom/1.0"}}},
            ]}


def _environments(emulation: str = "full") -> dict[tuple[str, str], dict[str, str]]:
    doc, issues = validate_data(_doc(emulation))
    assert doc is not None, issues
    resolved = resolve(doc)
    desired = desired_state(resolved, "decnet/base:latest")
    return {(spec.decky, spec.environment["DECNET_SERVICE"]): dict(spec.environment)
            for spec in desired.services()}


def test_persona_is_deterministic_and_unique_per_decky() -> None:
    one = persona("t-1", "acme", "web01", "linux-server")
    assert one == persona("t-1", "acme", "web01", "linux-server")
    assert one["seed_hex"] == seed_hex("t-1", "web01")
    others = {persona(t, "acme", d)["seed_hex"] for t in ("t-1", "t-2") for d in ("a", "b")}
    assert len(others) == 4 and one["seed_hex"] not in others
    assert one["hostname"] == "web01" and one["domain"] == "acme.internal"


@pytest.mark.parametrize("archetype", sorted(WINDOWS_ARCHETYPES))
def test_windows_archetypes_look_like_windows_everywhere(archetype: str) -> None:
    value = persona("t-1", "acme", "pc01", archetype)
    assert value["os_family"] == "windows" and "Windows" in value["os_name"]
    for service, version in value["versions"].items():
        text = version.lower()
        assert not any(word in text for word in LINUX_WORDS), (service, version)
    for service in ("smb", "rdp", "http", "ldap", "dns"):
        assert any(w in value["versions"][service].lower() for w in WINDOWS_WORDS), service


def test_linux_personas_agree_on_debian() -> None:
    value = persona("t-1", "acme", "web01", "linux-server")
    assert value["os_family"] == "linux" and "Debian" in value["os_name"]
    assert value["kernel"].endswith("-amd64")
    for service, version in value["versions"].items():
        assert not any(word in version.lower() for word in WINDOWS_WORDS), (service, version)
    assert "Debian" in value["versions"]["ssh"] and "Debian" in value["versions"]["http"]


def test_every_service_of_a_decky_gets_the_same_persona() -> None:
    envs = _environments()
    for decky in ("web01", "dc01"):
        personas = {env["DECNET_PERSONA"] for (d, _), env in envs.items() if d == decky}
        assert len(personas) == 1
    web = json.loads(envs[("web01", "http")]["DECNET_PERSONA"])
    dc = json.loads(envs[("dc01", "smb")]["DECNET_PERSONA"])
    assert web["os_family"] == "linux" and dc["os_family"] == "windows"
    assert web["seed_hex"] != dc["seed_hex"]


def test_full_emulators_get_no_catalog_defaults_that_contradict_the_persona() -> None:
    full, light = _environments("full"), _environments("light")
    # the catalog's Debian defaults reach the busybox emulators only
    assert "DECNET_CFG_SERVER_HEADER" not in full[("web01", "http")]
    assert light[("web01", "http")]["DECNET_CFG_SERVER_HEADER"].startswith("Apache/")
    assert "DECNET_CFG_SERVER_STRING" not in full[("dc01", "smb")]
    assert "DECNET_CFG_SYS_DESCR" not in full[("dc01", "snmp")]
    # what the user configured always arrives
    assert full[("dc01", "http")]["DECNET_CFG_SERVER_HEADER"] == "Custom/1.0"
    for env in full.values():
        assert not any("Debian" in value for key, value in env.items()
                       if key.startswith("DECNET_CFG_") and env["DECNET_DECKY"] == "dc01")


def test_the_container_reads_the_persona_the_master_computed() -> None:
    env = _environments()[("dc01", "smb")]
    config = from_environment(env)
    master = json.loads(env["DECNET_PERSONA"])
    assert config.persona.hostname == "dc01" and config.persona.is_windows
    assert config.persona.seed_hex == master["seed_hex"]
    assert config.persona.version("smb") == master["versions"]["smb"]
    assert config.persona.version("nothing", "fallback") == "fallback"


def test_service_config_overrides_the_persona_for_that_service() -> None:
    env = {**_environments()[("web01", "http")], "DECNET_CFG_VERSION": "nginx/1.24.0",
           "DECNET_CFG_DOMAIN": "example.org", "DECNET_CFG_OS_NAME": "Ubuntu 22.04"}
    config = from_environment(env)
    assert config.persona.version("http") == "nginx/1.24.0"
    assert config.persona.version("ssh").startswith("OpenSSH_9.2p1")  # others untouched
    assert config.persona.domain == "example.org" and config.persona.os_name == "Ubuntu 22.04"
    assert config.persona.hostname == "web01"  # the decky's name stays in every event


def test_host_keys_and_certificates_are_per_decky_and_stable() -> None:
    from cryptography.hazmat.primitives import serialization

    def keys_and_cert(topology: str, decky: str) -> tuple[bytes, bytes]:
        data = persona(topology, "acme", decky)
        who = Persona(hostname=decky, domain=data["domain"], seed_hex=data["seed_hex"])
        key = serialization.load_ssh_private_key(host_keys(who, rsa_bits=0)["ed25519"], None)
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH)
        return public, certificate_pem(who)[0]  # the whole certificate, signature included

    first = keys_and_cert("t-1", "web01")
    assert first == keys_and_cert("t-1", "web01")  # a recreated decky keeps its identity
    for other in (keys_and_cert("t-1", "web02"), keys_and_cert("t-2", "web01")):
        assert other[0] != first[0] and other[1] != first[1]


def test_the_certificate_names_the_persona_and_can_be_replaced() -> None:
    from cryptography import x509

    who = Persona(hostname="web01", domain="acme.internal", seed_hex=seed_hex("t", "web01"))
    cert = x509.load_pem_x509_certificate(certificate_pem(who)[0])
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"web01.acme.internal", "web01"}
    assert "CN=web01.acme.internal" in cert.subject.rfc4514_string()


def test_every_catalog_service_has_a_version_on_debian() -> None:
    versions = persona("t", "acme", "x")["versions"]
    missing = [s for s in SERVICES if s not in versions and s != "mssql"]
    assert not missing


def test_host_keys_written_by_a_forked_child_are_the_persona_keys(tmp_path: Path) -> None:
    who = Persona(hostname="web01", seed_hex=seed_hex("t", "web01"))
    paths = write_host_keys_apart(who, 0, tmp_path)
    assert [p.name for p in paths] == ["ssh_host_ecdsa_key", "ssh_host_ed25519_key"]
    from cryptography.hazmat.primitives import serialization

    for path in paths:
        assert path.stat().st_mode & 0o777 == 0o600
        name = path.name.split("_")[2]
        raw = (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
               serialization.NoEncryption())
        mine = serialization.load_ssh_private_key(path.read_bytes(), None)
        want = serialization.load_ssh_private_key(host_keys(who, 0)[name], None)
        assert mine.private_bytes(*raw) == want.private_bytes(*raw)
