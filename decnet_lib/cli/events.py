"""`decnet ingest --once | --watch` and `decnet events` (master-only): attacker events."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

import orjson
import typer

from decnet_lib.cli.context import publishing_settings, settings_of
from decnet_lib.cli.gating import add_master_command
from decnet_lib.cli.output import echo, emit_json, fail, note

FOLLOW_POLL_S = 1.0


def ingest(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Drain every agent once, then exit."),
    watch: bool = typer.Option(False, "--watch", help="Long-poll every agent until stopped."),
) -> None:
    """Gather the events of every agent holding a deployed topology, exactly once (and
    forward them to DECNET_SYSLOG_TARGET when it is set)."""
    if once == watch:
        fail("choose exactly one of --once and --watch", code="BAD_PARAMETER", exit_code=2)
    from decnet_lib.master.database import engine_scope
    from decnet_lib.master.ingest import ingest_once, ingest_watch

    settings = publishing_settings(ctx)
    with engine_scope(settings, sqlite_immediate=True) as engine:
        if once:
            report = ingest_once(settings, engine)
            for result in report.sources:
                if result.error:
                    note(f"{result.source}: {result.error}")
            note(f"ingested {report.stored} events from {len(report.sources)} agents")
            if settings.syslog_target:
                note(f"forwarded {report.forwarded} events to {settings.syslog_target}")
            if not report.ok:
                fail("some agents could not be read (their events wait for the next run)",
                     code="AGENT_UNREACHABLE")
            if report.forward_error:
                fail(f"{report.forward_error}", code="SIEM_UNREACHABLE")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        note("ingest watching every agent that holds a deployed topology")
        ingest_watch(settings, engine, stop)


def events(
    ctx: typer.Context,
    topology: str | None = typer.Option(None, "--topology", help="Only this topology."),
    attacker: str | None = typer.Option(None, "--attacker", help="Only this source address."),
    since: str | None = typer.Option(None, "--since", help="10m, 2h, 3d or an ISO 8601 time."),
    follow: bool = typer.Option(False, "--follow", help="Keep printing new events."),
    as_json: bool = typer.Option(False, "--json", help="One JSON array (one object per line "
                                                       "with --follow)."),
) -> None:
    """The attacker events the master has ingested, oldest first."""
    from decnet_lib.master.attack_events import list_events

    settings = settings_of(ctx)
    found = list_events(settings, topology=topology, attacker=attacker, since=since)
    if as_json and not follow:
        emit_json(found)
        return
    last = 0
    for event in found:
        _print(event, as_json)
        last = max(last, event["id"])
    while follow:
        time.sleep(FOLLOW_POLL_S)
        for event in sorted(list_events(settings, topology=topology, attacker=attacker,
                                        since=since, after_id=last), key=lambda e: e["id"]):
            _print(event, as_json)
            last = max(last, event["id"])


def _print(event: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(event).decode() + "\n")
        sys.stdout.flush()
        return
    fields = " ".join(f"{k}={v}" for k, v in event["fields"].items()
                      if k not in ("proto", "dport", "decky", "session"))
    echo(f"{event['ts']} {event['topology'] or '-'}/{event['decky'] or '-'}"
         f"/{event['service'] or '-'} {event['event']} from {event['src_ip']}:"
         f"{event['src_port']} {fields}".rstrip())


def register(app: typer.Typer) -> None:
    """Add `ingest` and `events` (master-only)."""
    add_master_command(app, "ingest", ingest)
    add_master_command(app, "events", events)
