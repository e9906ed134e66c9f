"""The `decnet topology` group (master-only)."""

from __future__ import annotations

import typer

from decnet_lib.cli import mutations, topology_docs, topology_lifecycle, topology_store
from decnet_lib.cli.gating import add_master_group


def register(app: typer.Typer) -> None:
    """Add `topology` and its commands to the app."""
    group = typer.Typer(no_args_is_help=True)
    topology_docs.register(group)
    topology_store.register(group)
    topology_lifecycle.register(group)
    mutations.register(group)
    add_master_group(app, group, "topology", "Describe, validate, store and inspect mazes.")
