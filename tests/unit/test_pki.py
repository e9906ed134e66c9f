"""The PKI: a CA, server and client certificates, their EKUs, SANs, file modes, idempotence."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from typer.testing import CliRunner

from decnet_lib.cli import pki as pki_cli
from decnet_lib.pki import PkiError, default_pki_dir, init_ca, issue, load_ca
from decnet_lib.pki.certs import signed_by


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType:
    return cert.extensions.get_extension_for_class(kind).value


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    init_ca(directory)
    return directory


def test_ca_is_a_ten_year_p256_ca_with_a_private_key_file(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "pki"
    result = init_ca(directory)
    assert result.created and result.cert == directory / "ca.crt"
    cert = _cert(result.cert)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    basic = _ext(cert, x509.BasicConstraints)
    assert basic.ca is True and basic.path_length == 0
    usage = _ext(cert, x509.KeyUsage)
    assert usage.key_cert_sign and usage.crl_sign
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 3649 <= lifetime.days <= 3651
    assert cert.issuer == cert.subject and signed_by(cert, cert)
    assert _mode(result.key) == 0o600
    assert _mode(directory) == 0o700


def test_rsa_ca(tmp_path: Path) -> None:
    result = init_ca(tmp_path, key_type="rsa")
    key = _cert(result.cert).public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048


def test_server_cert_has_server_auth_and_default_sans(pki: Path) -> None:
    result = issue(pki, "agent", "server")
    assert result.created and result.sans == ["localhost", "127.0.0.1"]
    cert = _cert(pki / "agent.crt")
    assert _ext(cert, x509.ExtendedKeyUsage) == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH])
    sans = _ext(cert, x509.SubjectAlternativeName)
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert _ext(cert, x509.BasicConstraints).ca is False
    ca_cert, _ = load_ca(pki)
    assert signed_by(cert, ca_cert)
    assert cert.not_valid_after_utc <= ca_cert.not_valid_after_utc
    assert _mode(pki / "agent.key") == 0o600


def test_server_cert_with_given_sans_and_days(pki: Path) -> None:
    result = issue(pki, "agent1", "server", sans=["Agent1.Example.org", "10.0.0.5", "::1"],
                   days=30)
    assert result.sans == ["agent1.example.org", "10.0.0.5", "::1"]
    cert = _cert(result.cert)
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days in (30, 29)


def test_client_cert_has_client_auth_only(pki: Path) -> None:
    result = issue(pki, "master", "client")
    cert = _cert(result.cert)
    assert _ext(cert, x509.ExtendedKeyUsage) == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH])
    assert result.sans == []
    assert _mode(result.key) == 0o600


def test_certs_work_for_mutual_tls_contexts(pki: Path) -> None:
    issue(pki, "agent", "server")
    issue(pki, "master", "client")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki / "agent.crt", pki / "agent.key")
    server.load_verify_locations(pki / "ca.crt")
    client = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    client.load_cert_chain(pki / "master.crt", pki / "master.key")


def test_idempotent_ca_and_certs(pki: Path) -> None:
    ca_before = (pki / "ca.crt").read_bytes()
    assert not init_ca(pki).created
    assert (pki / "ca.crt").read_bytes() == ca_before
    first = issue(pki, "agent", "server", sans=["a.example", "10.1.2.3"])
    before = (pki / "agent.crt").read_bytes(), (pki / "agent.key").read_bytes()
    again = issue(pki, "agent", "server", sans=["10.1.2.3", "a.example"])
    assert first.created and not again.created
    assert ((pki / "agent.crt").read_bytes(), (pki / "agent.key").read_bytes()) == before
    forced = issue(pki, "agent", "server", sans=["a.example"], force=True)
    assert forced.created and (pki / "agent.crt").read_bytes() != before[0]
    assert init_ca(pki, force=True).created  # force makes a new CA
    assert (pki / "ca.crt").read_bytes() != ca_before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "client"}, "exists as a server certificate"),
        ({"kind": "server", "sans": ["other.example"]}, "exists with other SANs"),
    ],
)
def test_existing_cert_that_differs_is_an_error_without_force(
    pki: Path, kwargs: dict, message: str
) -> None:
    issue(pki, "agent", "server")
    with pytest.raises(PkiError, match=message):
        issue(pki, "agent", **kwargs)


def test_cert_of_a_replaced_ca_is_refused(pki: Path) -> None:
    issue(pki, "agent", "server")
    init_ca(pki, force=True)
    with pytest.raises(PkiError, match="was not issued by the CA"):
        issue(pki, "agent", "server")
    assert issue(pki, "agent", "server", force=True).created


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: issue(d / "none", "agent", "server"), "no CA in"),
        (lambda d: issue(d, "bad name", "client"), "invalid certificate name"),
        (lambda d: issue(d, "ca", "client"), "reserved for the CA"),
        (lambda d: issue(d, "agent", "server", sans=["not a host"]), "invalid --san"),
        (lambda d: issue(d, "agent", "server", days=0), "--days must be"),
        (lambda d: issue(d, "agent", "both"), "unknown certificate kind"),  # type: ignore[arg-type]
    ],
)
def test_clear_errors(pki: Path, call, message: str) -> None:
    with pytest.raises(PkiError, match=message) as info:
        call(pki)
    assert "\n" not in str(info.value)


def test_incomplete_ca_is_reported(pki: Path) -> None:
    (pki / "ca.key").unlink()
    with pytest.raises(PkiError, match=r"incomplete CA .*ca\.key is missing"):
        init_ca(pki)
    assert init_ca(pki, force=True).created


def test_default_dir_is_in_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path / "state"))
    assert default_pki_dir() == tmp_path / "state" / "pki"


def _cli() -> typer.Typer:
    app = typer.Typer()
    pki_cli.register(app)

    @app.callback()
    def _root() -> None:
        """Test root."""

    return app


def test_cli_init_issue_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path / "state"))
    runner, app = CliRunner(), _cli()
    result = runner.invoke(app, ["pki", "init"])
    assert result.exit_code == 0 and "created CA" in result.output
    assert (tmp_path / "state" / "pki" / "ca.key").exists()
    assert "kept existing CA" in runner.invoke(app, ["pki", "init"]).output
    result = runner.invoke(app, ["pki", "issue", "agent", "--server", "--san", "10.9.8.7",
                                 "--json"])
    assert result.exit_code == 0 and '"changed": true' in result.output
    assert '"10.9.8.7"' in result.output
    result = runner.invoke(app, ["pki", "issue", "master", "--client", "--dir",
                                 str(tmp_path / "state" / "pki")])
    assert result.exit_code == 0 and "issued client certificate" in result.output
    result = runner.invoke(app, ["pki", "issue", "x"])
    assert result.exit_code == 2 and "exactly one of --server or --client" in result.output
    result = runner.invoke(app, ["pki", "issue", "x", "--client", "--dir", str(tmp_path / "no")])
    assert result.exit_code == 1
    assert result.output.startswith("error[PKI]: no CA in") and result.output.count("\n") == 1
