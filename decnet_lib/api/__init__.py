"""The master's REST API (FastAPI): a thin front end over `decnet_lib.master` (docs/api.md)."""

from decnet_lib.api.app import create_app

__all__ = ["create_app"]
