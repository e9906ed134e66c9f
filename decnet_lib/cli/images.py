"""`decnet images build`: build the decky and service images offline on the local Docker."""

from __future__ import annotations

import time

import typer

from decnet_lib.cli.context import settings_of
from decnet_lib.cli.output import echo

SERVICE_OPTION = typer.Option(
    None, "--service", "-s", help="Build only this service's image (repeatable); "
    "the base and emulator images are always ensured.")
FORCE_OPTION = typer.Option(False, "--force", help="Rebuild even the images that are up to date.")
EMULATION_OPTION = typer.Option(
    None, "--emulation", "-e", help="Build only this emulation's images: light or full "
    "(repeatable; default both).")


def build(ctx: typer.Context, services: list[str] | None = SERVICE_OPTION,
          force: bool = FORCE_OPTION, emulation: list[str] | None = EMULATION_OPTION) -> None:
    """Build the base, emulator and service images that are missing or out of date."""
    from decnet_lib.images.build import MODES, build_images, docker_client

    started = time.monotonic()
    client = docker_client()
    try:
        built = build_images(client, services=services or None, progress=echo, force=force,
                             modes=emulation or MODES,
                             cache_dir=settings_of(ctx).state_dir / "image-cache")
    finally:
        client.close()
    elapsed = time.monotonic() - started
    if built:
        echo(f"built {len(built)} image(s) in {elapsed:.1f}s")
    else:
        echo(f"every image is up to date ({elapsed:.1f}s)")


def register(app: typer.Typer) -> None:
    """Add `images build` to the app (on the master and on agents alike)."""
    group = typer.Typer(no_args_is_help=True, help="Build the decky and service images offline.")
    group.command("build")(build)
    app.add_typer(group, name="images")
