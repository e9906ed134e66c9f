"""What routes get from the app: its settings and its database engine (built at start).

The dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread,
a hop that costs more than reading the attribute.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine

from decnet_lib.settings_model import Settings


async def settings_of(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


async def engine_of(request: Request) -> Engine:
    engine = request.app.state.engine
    assert isinstance(engine, Engine)
    return engine
