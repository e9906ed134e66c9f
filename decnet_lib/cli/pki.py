"""The `decnet pki` group: make the CA and the certificates for mutual TLS (any mode)."""

from __future__ import annotations

from pathlib import Path

import typer

from decnet_lib.cli.context import settings_of
from decnet_lib.cli.output import JSON_OPTION, echo, emit_json, fail

DIR_OPTION = typer.Option(
    None, "--dir", help="PKI directory (default: DECNET_STATE_DIR/pki)."
)
FORCE_OPTION = typer.Option(False, "--force", help="Replace existing files.")
KEY_TYPE_OPTION = typer.Option("ec", "--key-type", help="ec (P-256) or rsa (2048 bits).")


def init(
    ctx: typer.Context,
    directory: Path | None = DIR_OPTION,
    key_type: str = KEY_TYPE_OPTION,
    force: bool = FORCE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create the CA (ca.crt, ca.key 0600; 10 years). An existing CA is kept."""
    from decnet_lib.pki import PkiError, default_pki_dir, init_ca

    pki_dir = directory or default_pki_dir(settings_of(ctx))
    if key_type not in ("ec", "rsa"):
        fail(f"--key-type must be ec or rsa, not {key_type!r}", code="USAGE", exit_code=2)
    try:
        result = init_ca(pki_dir, key_type=key_type, force=force)  # type: ignore[arg-type]
    except PkiError as exc:
        fail(exc.message, code=exc.code)
    if as_json:
        emit_json(result.to_dict())
        return
    verb = "created" if result.created else "kept existing"
    echo(f"{verb} CA {result.cert} (key {result.key}), valid until {result.not_after}")


def issue_cert(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Certificate name: files NAME.crt and NAME.key."),
    server: bool = typer.Option(False, "--server", help="A server certificate (serverAuth)."),
    client: bool = typer.Option(False, "--client", help="A client certificate (clientAuth)."),
    san: list[str] | None = typer.Option(
        None, "--san", help="DNS name or IP, repeatable (server default: localhost, 127.0.0.1)."
    ),
    days: int | None = typer.Option(
        None, "--days", help="Validity in days (default: 825, capped by the CA)."),
    directory: Path | None = DIR_OPTION,
    key_type: str = KEY_TYPE_OPTION,
    force: bool = FORCE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Issue a server or client certificate signed by the CA. An identical one is kept."""
    from decnet_lib.pki import PkiError, default_pki_dir, issue
    from decnet_lib.pki.certs import LEAF_DAYS

    if server == client:
        fail("give exactly one of --server or --client", code="USAGE", exit_code=2)
    if key_type not in ("ec", "rsa"):
        fail(f"--key-type must be ec or rsa, not {key_type!r}", code="USAGE", exit_code=2)
    pki_dir = directory or default_pki_dir(settings_of(ctx))
    try:
        result = issue(pki_dir, name, "server" if server else "client", sans=san or None,
                       days=LEAF_DAYS if days is None else days, key_type=key_type, force=force)  # type: ignore[arg-type]
    except PkiError as exc:
        fail(exc.message, code=exc.code)
    if as_json:
        emit_json(result.to_dict())
        return
    verb = "issued" if result.created else "kept existing"
    sans = f", SANs {', '.join(result.sans)}" if result.sans else ""
    echo(f"{verb} {result.kind} certificate {result.cert} (key {result.key}){sans}, "
         f"valid until {result.not_after}")


def register(app: typer.Typer) -> None:
    """Add `pki init | issue` to the app (available in master and agent mode)."""
    group = typer.Typer(no_args_is_help=True, help="Make the CA and certificates for mutual TLS.")
    group.command("init")(init)
    group.command("issue")(issue_cert)
    app.add_typer(group, name="pki")
