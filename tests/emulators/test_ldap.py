"""ldap: ldapsearch (OpenLDAP's client) and ldap3 against the emulator as OpenLDAP and as
Active Directory; nmap -sV names both."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess

from tests.emulators.harness import LocalEmulator, nmap_service, require_tools, target_fixtures

SERVICE = "ldap"
PORTS = ["389/tcp"]
CONFIG = {"base_dn": "dc=corp,dc=internal"}
WINDOWS = {"hostname": "dc01", "domain": "corp.internal", "os_family": "windows",
           "os_name": "Windows Server 2019 Standard"}
NT_HASH = "8846f7eaee8fb117ad06bdd830b7586c"  # NT hash of "password"


# the same service on a Windows persona (Active Directory; deployed: a domain-controller)
ad_deployed, active_directory = target_fixtures("active_directory", SERVICE, PORTS,
                                                persona=WINDOWS)


def _ldapsearch(target: LocalEmulator, *args: str) -> subprocess.CompletedProcess[str]:
    require_tools("ldapsearch", packages="ldap-utils")
    env = {**os.environ, "LDAPTLS_REQCERT": "never"}
    url = f"ldap://{target.host}:{target.port(389)}"
    return subprocess.run(["ldapsearch", "-x", "-H", url, *args],
                          capture_output=True, text=True, timeout=15, env=env)


def test_ldapsearch_root_dse_and_failed_bind(target: LocalEmulator) -> None:
    out = _ldapsearch(target, "-b", "", "-s", "base")
    assert out.returncode == 0, out.stderr
    assert "namingContexts: dc=corp,dc=internal" in out.stdout
    assert "supportedLDAPVersion: 3" in out.stdout
    assert "OpenLDAProotDSE" in out.stdout
    out = _ldapsearch(target, "-D", "cn=admin,dc=corp,dc=internal", "-w", "secret",
                      "-b", "dc=corp,dc=internal", "(uid=*)")
    assert "Invalid credentials (49)" in out.stderr
    (login,) = target.events("login", wait=3)
    assert login.src_ip == target.source
    assert login.fields["username"] == "cn=admin,dc=corp,dc=internal"
    assert login.fields["password"] == "secret"
    assert login.fields["success"] == "false"
    assert any(e.fields.get("base") == "" for e in target.events("query"))


def test_anonymous_search_is_refused_and_recorded(target: LocalEmulator) -> None:
    out = _ldapsearch(target, "-b", "dc=corp,dc=internal",
                      "(&(objectClass=person)(uid=adm*))", "cn", "mail")
    assert "result: 50 Insufficient access" in out.stdout
    queries = [e.fields["query"] for e in target.events("query", wait=3)]
    assert "(&(objectClass=person)(uid=adm*))" in queries


def test_starttls_with_persona_certificate(target: LocalEmulator) -> None:
    out = _ldapsearch(target, "-ZZ", "-b", "", "-s", "base", "namingContexts")
    assert out.returncode == 0, out.stderr
    assert "namingContexts: dc=corp,dc=internal" in out.stdout


def test_ldap3_ntlm_bind_on_ad_records_netntlmv2(active_directory: LocalEmulator) -> None:
    import ldap3

    server = ldap3.Server(active_directory.host, port=active_directory.port(389),
                          get_info=ldap3.ALL)
    anonymous = ldap3.Connection(server)
    assert anonymous.bind()
    assert server.info is not None
    assert server.info.other["dnsHostName"] == ["dc01.corp.internal"]
    assert server.info.other["defaultNamingContext"] == ["DC=corp,DC=internal"]
    assert not anonymous.search("DC=corp,DC=internal", "(objectClass=user)")
    assert anonymous.result["result"] == 1  # operationsError: bind first
    conn = ldap3.Connection(server, user="CORP\\bob", authentication=ldap3.NTLM,
                            password=f"aad3b435b51404eeaad3b435b51404ee:{NT_HASH}")
    assert not conn.bind()
    assert conn.result["result"] == 49
    assert "AcceptSecurityContext error, data 52e" in conn.result["message"]
    (login,) = active_directory.events("login", wait=3)
    assert login.src_ip == active_directory.source
    fields = login.fields
    assert (fields["username"], fields["domain"], fields["ntlm"]) == ("bob", "CORP", "netntlmv2")
    whole = "".join(fields[k] for k in ("hash", "hash_2", "hash_3", "hash_4") if k in fields)
    user, _, domain, challenge, proof, blob = whole.split(":")
    assert (user, domain, challenge) == ("bob", "CORP", fields["challenge"])
    # the recorded response is crackable: NTProofStr checks out with the right password
    key = hmac.new(bytes.fromhex(NT_HASH), "BOBCORP".encode("utf-16-le"), hashlib.md5).digest()
    expected = hmac.new(key, bytes.fromhex(challenge + blob), hashlib.md5).hexdigest()
    assert proof == expected


def test_ad_simple_bind_diagnostic(active_directory: LocalEmulator) -> None:
    out = _ldapsearch(active_directory, "-D", "CORP\\admin", "-w", "Winter2024!",
                      "-b", "", "-s", "base")
    assert "Invalid credentials (49)" in out.stderr
    assert "data 52e" in out.stderr
    (login,) = active_directory.events("login", wait=3)
    assert login.fields["password"] == "Winter2024!"


def test_nmap_names_openldap(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    assert "OpenLDAP" in nmap_service(target.host, target.port(389))


def test_nmap_names_active_directory(active_directory: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(active_directory.host, active_directory.port(389))
    assert "Microsoft Windows Active Directory LDAP" in line
    assert "corp.internal" in line
