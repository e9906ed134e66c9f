"""`GET /api/v1/stream`: Server-Sent Events from the bus (status, mutations, deckies, attacks).

Each event is `event: <kind>` and `data: <the bus envelope as JSON>`; a `: keep-alive`
comment is sent after `api_stream_keepalive_seconds` of quiet. One token holds at most
`api_stream_max_per_token` streams (429 beyond); a stream's slot and subscriptions are
released when its client goes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from decnet_lib.api.errors import ApiError, responses
from decnet_lib.api.security import current_caller
from decnet_lib.api.state import settings_of
from decnet_lib.bus import Bus, get_bus
from decnet_lib.master.api_tokens import Caller
from decnet_lib.master.live import event_kind, live_events
from decnet_lib.settings_model import Settings

router = APIRouter(tags=["stream"])
KEEPALIVE = b": keep-alive\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class StreamSlots:
    """Open streams per token name (the event loop is the only user: no lock)."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()

    def take(self, name: str, cap: int) -> None:
        if self.open[name] >= cap:
            raise ApiError("TOO_MANY_STREAMS", f"token {name!r} already holds {cap} event "
                           "streams (close one first)")
        self.open[name] += 1

    def give_back(self, name: str) -> None:
        self.open[name] -= 1
        if self.open[name] <= 0:
            del self.open[name]


def stream_bus(request: Request, settings: Settings) -> Bus:
    """The app's subscribing bus client, made on first use on the server's event loop."""
    state = request.app.state
    if state.stream_bus is None:
        state.stream_bus = get_bus(settings, name="decnet-api-stream")
    bus = state.stream_bus
    assert isinstance(bus, Bus)
    return bus


async def _frames(bus: Bus, keepalive: float, release: StreamSlots, name: str
                  ) -> AsyncIterator[bytes]:
    try:
        yield KEEPALIVE  # the client sees the stream open at once
        async for event in live_events(bus, keepalive):
            if event is None:
                yield KEEPALIVE
                continue
            data = orjson.dumps(event.to_dict()).decode()
            yield f"id: {event.id}\nevent: {event_kind(event.topic)}\ndata: {data}\n\n".encode()
    finally:
        release.give_back(name)


@router.get("/stream", response_class=StreamingResponse, responses={
    200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."},
    **responses(401, 429)})
async def stream(request: Request, caller: Annotated[Caller, Depends(current_caller)],
                 settings: Annotated[Settings, Depends(settings_of)]) -> StreamingResponse:
    """Live status changes, mutations, decky states and attacks."""
    slots: StreamSlots = request.app.state.stream_slots
    slots.take(caller.name, settings.api_stream_max_per_token)
    try:
        bus = stream_bus(request, settings)
    except Exception:
        slots.give_back(caller.name)
        raise
    frames = _frames(bus, settings.api_stream_keepalive_seconds, slots, caller.name)
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)
