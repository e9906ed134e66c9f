"""`decnet ingest --once | --watch`, `decnet events` and `decnet attackers` (master-only)."""

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
    """Gather the events of every agent holding a deployed topology, exactly once."""
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
            if not report.ok:
                fail("some agents could not be read (their events wait for the next run)",
                     code="AGENT_UNREACHABLE")
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


def attackers(
    ctx: typer.Context,
    topology: str | None = typer.Option(None, "--topology", help="Only this topology."),
    as_json: bool = typer.Option(False, "--json", help="One JSON array of attacker records."),
) -> None:
    """Who is in the maze: per source address, the deckies, LANs and depth reached, the
    credentials and commands tried; pivots through footholds count for their holder."""
    from decnet_lib.master.attackers import list_attackers

    found = list_attackers(settings_of(ctx), topology=topology)
    if as_json:
        emit_json(found)
        return
    if not found:
        note("no attackers")
        return
    echo(f"{'SOURCE':<40} {'FIRST SEEN':<27} {'LAST SEEN':<27} {'EVENTS':>6} {'DEPTH':>5} "
         "LOGINS  PATH")
    for record in found:
        logins = record["credentials"]
        won = sum(1 for c in logins if c["success"])
        path = " > ".join(f"{hop['decky']}@{hop['lan'] or '-'}" for hop in record["path"])
        echo(f"{record['src_ip']:<40} {record['first_seen']:<27} {record['last_seen']:<27} "
             f"{record['events']:>6} {record['depth']:>5} {won:>2}/{len(logins):<4} {path}")


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
    """Add `ingest`, `events` and `attackers` (master-only)."""
    add_master_command(app, "ingest", ingest)
    add_master_command(app, "events", events)
    add_master_command(app, "attackers", attackers)
