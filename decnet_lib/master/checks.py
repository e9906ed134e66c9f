"""Checks of a document against the stored topologies, when there is a database to ask.

Cheap to import: SQLAlchemy is loaded only when there is a database to open.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from decnet_lib.errors import DecnetError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from decnet_lib.settings import Settings

T = TypeVar("T")


def database_exists(settings: Settings) -> bool:
    """False only for a SQLite file that was never created (so read-only uses skip it)."""
    url = settings.db_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).exists()
    return True


def with_stored_topologies(settings: Settings, use: Callable[[Session | None], T],
                           skipped: Callable[[str], None]) -> T:
    """Run `use` with a session when a database exists, else (or when it fails) with None;
    `skipped` hears why the cross-topology checks were skipped."""
    if database_exists(settings):
        from sqlalchemy.exc import SQLAlchemyError

        from decnet_lib.master.database import transaction

        try:
            with transaction(settings, create=False) as session:
                return use(session)
        except DecnetError as exc:
            skipped(f"note: cross-topology checks skipped ({exc.message})")
        except SQLAlchemyError as exc:
            skipped(f"note: cross-topology checks skipped ({type(exc).__name__})")
    return use(None)
