"""What routes get from the app: its settings and its database engine (built at start)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine

from decnet_lib.settings_model import Settings


def settings_of(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


def engine_of(request: Request) -> Engine:
    engine = request.app.state.engine
    assert isinstance(engine, Engine)
    return engine
