"""`decnet bus`: run the host-local event bus server, watch it, publish on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import typer

if TYPE_CHECKING:
    from decnet_lib.bus.events import Event
    from decnet_lib.bus.subscription import Subscription
from decnet_lib.cli.context import settings_of
from decnet_lib.cli.output import fail

SOCKET_OPTION = typer.Option(None, "--socket", help="Socket path (default: DECNET_BUS_SOCKET).")
CONNECT_TIMEOUT = 1.5


@contextlib.contextmanager
def _quiet_bus_log() -> Iterator[None]:
    """Mute the client's own outage warnings (the command prints its one error line)."""
    logger = logging.getLogger("decnet.bus")
    was = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was


def _socket(ctx: typer.Context, path: Path | None) -> Path:
    return path or settings_of(ctx).bus_socket


def serve(
    ctx: typer.Context,
    socket_path: Path | None = SOCKET_OPTION,
    queue_size: int | None = typer.Option(
        None, "--queue-size", min=1,
        help="Events kept per backed-up subscriber, oldest dropped (default: 4096)."),
    health_interval: float | None = typer.Option(
        None, "--health-interval", min=0,
        help="Seconds between system.bus.health events, 0: never (default: 10)."),
) -> None:
    """Run the bus server until SIGTERM or Ctrl-C (the socket file is removed on exit)."""
    from decnet_lib.bus.errors import BusError
    from decnet_lib.bus.server import (
        DEFAULT_HEALTH_INTERVAL,
        DEFAULT_QUEUE_SIZE,
        BusServer,
        run_until_signal,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    server = BusServer(
        _socket(ctx, socket_path),
        queue_size=DEFAULT_QUEUE_SIZE if queue_size is None else queue_size,
        health_interval=DEFAULT_HEALTH_INTERVAL if health_interval is None else health_interval)
    try:
        asyncio.run(run_until_signal(server))
    except BusError as exc:
        fail(exc.message, code=exc.code)


def _line(event: Event, as_json: bool) -> str:
    if as_json:
        return orjson.dumps(event.to_dict()).decode()
    when = datetime.fromtimestamp(event.ts, UTC).isoformat(timespec="milliseconds")
    return f"{when} {event.topic} {orjson.dumps(event.payload).decode()}"


async def _print_events(sub: Subscription, as_json: bool) -> None:
    async for event in sub:
        sys.stdout.write(_line(event, as_json) + "\n")
        sys.stdout.flush()


async def _tail(path: Path, pattern: str, as_json: bool) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from decnet_lib.bus.client import BusClient

    client = BusClient(path)
    try:
        with _quiet_bus_log():  # the failure is reported once, as the error line
            await client.connect(CONNECT_TIMEOUT)
        sub = await client.subscribe(pattern)
        printer = asyncio.ensure_future(_print_events(sub, as_json))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({printer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if printer.done():
            printer.result()  # re-raise what ended it (e.g. a broken pipe)
        printer.cancel()
    finally:
        await client.close()


def tail(
    ctx: typer.Context,
    pattern: str = typer.Argument(..., help="Topic pattern: '*' one token, '>' the rest."),
    as_json: bool = typer.Option(False, "--json", help="One JSON event envelope per line."),
    socket_path: Path | None = SOCKET_OPTION,
) -> None:
    """Print one line per event matching PATTERN until Ctrl-C."""
    from decnet_lib.bus.errors import BusError, InvalidTopic
    from decnet_lib.bus.topics import validate_pattern

    try:
        validate_pattern(pattern)
    except InvalidTopic as exc:
        fail(exc.message, code=exc.code, exit_code=2)
    try:
        asyncio.run(_tail(_socket(ctx, socket_path), pattern, as_json))
    except BusError as exc:
        fail(exc.message, code=exc.code)
    except BrokenPipeError:
        with contextlib.suppress(Exception):
            sys.stdout.close()


async def _pub(path: Path, topic: str, payload: dict[str, object]) -> None:
    from decnet_lib.bus.client import BusClient

    client = BusClient(path)
    with _quiet_bus_log():
        try:
            await client.connect(CONNECT_TIMEOUT)
            await client.publish(topic, payload)
            await client.ping()  # the server has routed the event once it answers
        finally:
            await client.close()


def pub(
    ctx: typer.Context,
    topic: str = typer.Argument(..., help="Concrete topic, e.g. topology.acme.status."),
    payload: str = typer.Argument(..., help="The event payload: a JSON object."),
    socket_path: Path | None = SOCKET_OPTION,
) -> None:
    """Publish one event with a JSON-object payload."""
    from decnet_lib.bus.errors import BusError, InvalidTopic
    from decnet_lib.bus.topics import validate_topic

    try:
        validate_topic(topic)
    except InvalidTopic as exc:
        fail(exc.message, code=exc.code, exit_code=2)
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        fail(f"payload is not valid JSON: {exc}", code="BAD_JSON", exit_code=2)
    if not isinstance(document, dict):
        fail(f"payload must be a JSON object, not {type(document).__name__}", code="BAD_JSON",
             exit_code=2)
    try:
        asyncio.run(_pub(_socket(ctx, socket_path), topic, document))
    except BusError as exc:
        fail(exc.message, code=exc.code, exit_code=2 if exc.exit_code == 2 else 1)


def register(app: typer.Typer) -> None:
    """Add the `bus` group (serve, tail, pub) to the app."""
    group = typer.Typer(help="Host-local event bus over a UNIX socket.", no_args_is_help=True)
    group.command("serve")(serve)
    group.command("tail")(tail)
    group.command("pub")(pub)
    app.add_typer(group, name="bus")
