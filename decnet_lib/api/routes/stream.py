"""`GET /api/v1/stream`: Server-Sent Events from the bus (status, mutations, deckies, attacks).

Each event is `event: <kind>` and `data: <the bus envelope as JSON>`; a `: keep-alive`
comment is sent after `api_stream_keepalive_seconds` of quiet. One token holds at most
`api_stream_max_per_token` streams over all server processes (429 beyond; `stream_slots`); a
stream's slot and subscriptions are released when its client goes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from decnet_lib.api.errors import responses
from decnet_lib.api.security import current_caller
from decnet_lib.api.state import settings_of
from decnet_lib.api.stream_slots import StreamSlots
from decnet_lib.bus import Bus, get_bus
from decnet_lib.master.api_tokens import Caller
from decnet_lib.master.live import event_kind, live_events
from decnet_lib.settings_model import Settings

router = APIRouter(tags=["stream"])
KEEPALIVE = b": keep-alive\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def stream_bus(request: Request, settings: Settings) -> Bus:
    """The app's subscribing bus client, made on first use on the server's event loop."""
    state = request.app.state
    if state.stream_bus is None:
        state.stream_bus = get_bus(settings, name="decnet-api-stream")
    bus = state.stream_bus
    assert isinstance(bus, Bus)
    return bus


async def _frames(bus: Bus, keepalive: float, slot: int) -> AsyncIterator[bytes]:
    try:
        yield KEEPALIVE  # the client sees the stream open at once
        async for event in live_events(bus, keepalive):
            if event is None:
                yield KEEPALIVE
                continue
            data = orjson.dumps(event.to_dict()).decode()
            yield f"id: {event.id}\nevent: {event_kind(event.topic)}\ndata: {data}\n\n".encode()
    finally:
        StreamSlots.give_back(slot)


@router.get("/stream", response_class=StreamingResponse, responses={
    200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."},
    **responses(401, 429, 503)})
async def stream(request: Request, caller: Annotated[Caller, Depends(current_caller)],
                 settings: Annotated[Settings, Depends(settings_of)]) -> StreamingResponse:
    """Live status changes, mutations, decky states and attacks."""
    slots: StreamSlots = request.app.state.stream_slots
    slot = slots.take(caller.name, settings.api_stream_max_per_token)
    try:
        bus = stream_bus(request, settings)
    except Exception:
        slots.give_back(slot)
        raise
    frames = _frames(bus, settings.api_stream_keepalive_seconds, slot)
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)
