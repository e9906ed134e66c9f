"""k8s: curl and httpx over TLS against the emulated kube-apiserver; what nmap -sV makes of
it (ssl, then no product: nmap 7.93 has no match for a current kube-apiserver either)."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.emulators.harness import LocalEmulator, local_emulator, require_tools

SERVICE = "k8s"
PORTS = ["6443/tcp"]
PERSONA = {"hostname": "k8s-cp01", "versions": {"k8s": "v1.29.2"}}
CONFIG = {"version": "v1.29.2"}  # the same version on a deployed decky (its persona differs)
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def _url(target: LocalEmulator, path: str) -> str:
    return f"https://{target.host}:{target.port(6443)}{path}"


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    require_tools("curl", packages="curl")
    return subprocess.run(["curl", "-sk", "--max-time", "10", *args], capture_output=True,
                          text=True, timeout=20)


@pytest.fixture
def closed_cluster() -> Iterator[LocalEmulator]:
    """--anonymous-auth=false: nothing answers without credentials."""
    yield from local_emulator(SERVICE, PORTS, {"anonymous": False}, PERSONA)


def test_version_over_tls_with_a_kubeadm_certificate(target: LocalEmulator) -> None:
    response = httpx.get(_url(target, "/version"), verify=False, timeout=10)
    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-cache, private"
    assert "audit-id" in response.headers
    version = response.json()
    assert version["gitVersion"] == "v1.29.2"
    assert (version["major"], version["minor"]) == ("1", "29")
    assert version["platform"] == "linux/amd64"
    assert version["gitCommit"] == "4b8e819355d791d96b7e9d9efe4cbafae2311c88"
    pem = ssl.get_server_certificate((target.host, target.port(6443)))
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "kube-apiserver"
    assert cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc.cluster.local" in names.get_values_for_type(x509.DNSName)
    assert "k8s-cp01" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == \
        ["10.96.0.1", target.host]
    again = ssl.get_server_certificate((target.host, target.port(6443)))
    assert again == pem
    healthz = _curl(_url(target, "/healthz"))
    assert healthz.stdout == "ok"


def test_anonymous_requests_get_rbac_forbidden(target: LocalEmulator) -> None:
    out = _curl("-w", "\n%{http_code}", _url(target, "/api/v1/namespaces/kube-system/secrets"))
    body, _, code = out.stdout.rpartition("\n")
    assert code == "403"
    status = json.loads(body)
    assert status["reason"] == "Forbidden"
    assert status["message"] == ('secrets is forbidden: User "system:anonymous" cannot list '
                                 'resource "secrets" in API group "" in the namespace '
                                 '"kube-system"')
    assert status["details"] == {"kind": "secrets"}
    nodes = httpx.get(_url(target, "/api/v1/nodes"), verify=False, timeout=10).json()
    assert nodes["message"].endswith('cannot list resource "nodes" in API group "" at the '
                                     "cluster scope")
    root = httpx.get(_url(target, "/"), verify=False, timeout=10)
    assert root.status_code == 403
    assert root.json()["message"] == 'forbidden: User "system:anonymous" cannot get path "/"'
    deploy = httpx.post(_url(target, "/apis/apps/v1/namespaces/default/deployments"),
                        json={"kind": "Deployment", "metadata": {"name": "miner"}},
                        verify=False, timeout=10)
    assert deploy.status_code == 403
    assert deploy.json()["details"] == {"group": "apps", "kind": "deployments"}
    paths = [e.fields["path"] for e in target.events("request", wait=3)]
    assert "/api/v1/namespaces/kube-system/secrets" in paths
    (command,) = target.events("command", wait=3)
    assert command.fields["verb"] == "create"
    assert command.fields["resource"] == "deployments"
    assert command.fields["api_group"] == "apps"
    assert "miner" in command.fields["body"]
    assert command.src_ip == target.source
    assert not target.events("login")


def test_credentials_are_unauthorized_and_recorded(target: LocalEmulator) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdCJ9.c2ln"
    response = httpx.get(_url(target, "/api/v1/namespaces/default/pods"), verify=False,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    out = _curl("-u", "admin:Kube2024!", _url(target, "/api/v1/secrets"))
    assert json.loads(out.stdout) == UNAUTHORIZED
    logins = target.events("login", wait=3)
    assert any(e.fields.get("mech") == "bearer" and e.fields.get("token") == token
               for e in logins)
    assert any(e.fields.get("username") == "admin" and e.fields.get("password") == "Kube2024!"
               and e.fields.get("success") == "false" for e in logins)
    assert all(e.src_ip == target.source for e in logins)


def test_exec_attempt_is_a_command(target: LocalEmulator) -> None:
    out = _curl("-X", "POST", _url(target, "/api/v1/namespaces/default/pods/web-0/exec"
                                           "?command=sh&command=-c&command=id&stdout=true"))
    assert 'cannot create resource "pods/exec"' in json.loads(out.stdout)["message"]
    (command,) = target.events("command", wait=3)
    assert command.fields["command"] == "exec web-0 -- sh -c id"
    assert command.fields["namespace"] == "default"


def test_plaintext_and_old_tls_are_refused_like_go(target: LocalEmulator) -> None:
    require_tools("curl", packages="curl")
    plain = subprocess.run(["curl", "-s", "--max-time", "10",
                            f"http://{target.host}:{target.port(6443)}/version"],
                           capture_output=True, text=True, timeout=20)
    assert plain.stdout == "Client sent an HTTP request to an HTTPS server.\n"
    old = _curl("--tls-max", "1.1", _url(target, "/version"))
    assert old.returncode != 0
    reasons = [e.fields.get("detail", "") for e in target.events("data", wait=3)]
    assert any("plaintext HTTP" in reason for reason in reasons)


def test_closed_cluster_answers_401_everywhere(closed_cluster: LocalEmulator) -> None:
    for path in ("/version", "/api", "/api/v1/pods"):
        response = httpx.get(_url(closed_cluster, path), verify=False, timeout=10)
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED


def test_nmap_sees_tls_and_the_api_server(target: LocalEmulator) -> None:
    """Intensity 1 keeps it short: the SSL probe, then GetRequest inside TLS."""
    require_tools("nmap", packages="nmap")
    result = subprocess.run(["nmap", "-sV", "-Pn", "-n", "--version-intensity", "1", "-p",
                             str(target.port(6443)), target.host], capture_output=True,
                            text=True, timeout=120)
    line = next(row for row in result.stdout.splitlines()
                if row.startswith(f"{target.port(6443)}/"))
    assert "ssl/" in line, result.stdout
    assert "system:anonymous" in result.stdout  # the fingerprint holds the API server's 403


def test_a_basic_auth_era_cluster_is_named_kubernetes_by_nmap() -> None:
    """A v1.18 cluster (static passwords, --basic-auth-file): the plain-text Basic challenge,
    which nmap names; credentials sent to it are recorded."""
    require_tools("nmap", packages="nmap")
    for old in local_emulator(SERVICE, PORTS, {"version": "v1.18.20"}, PERSONA):
        result = subprocess.run(["nmap", "-sV", "-Pn", "-n", "-p", str(old.port(6443)),
                                 old.host], capture_output=True, text=True, timeout=180)
        assert "Kubernetes master node httpd" in result.stdout, result.stdout
        answer = httpx.get(f"https://{old.host}:{old.port(6443)}/api/v1/pods", verify=False)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Basic realm="kubernetes-master"'
        assert answer.text == "Unauthorized\n"
        assert httpx.get(f"https://{old.host}:{old.port(6443)}/version",
                         verify=False).json()["gitVersion"] == "v1.18.20"
        httpx.get(f"https://{old.host}:{old.port(6443)}/api", auth=("admin", "kube"),
                  verify=False)
        (login,) = old.events("login", wait=3)
        assert login.fields["username"] == "admin" and login.fields["password"] == "kube"
