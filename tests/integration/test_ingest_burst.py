"""A burst of 50,000 event lines from a real container's stdout is ingested completely.

A busybox container labelled as a service of a live local topology prints 50,000 emulator
lines at once; `Ingester.once` collects them through the real collector (Docker's log
stream, the journal) and stores them: every line once, ids in order in the ingest log.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from docker_support import SLEEP, STAND_IN, ensure_image
from helpers import sample_resolved, store_live
from sqlalchemy import func, select

from decnet_lib.db import AttackEvent, init_db, make_engine, session_scope
from decnet_lib.deploy import labels as L
from decnet_lib.master.ingest import Ingester
from decnet_lib.settings import Settings

pytest_plugins = ["docker_support"]

BURST = 50_000
# the lines carry the time of the run: older ones would be pruned by retention after `once`
SCRIPT = (
    f"/bin/busybox seq 1 {BURST} | /bin/busybox awk '{{printf \"DECNET1 ts={int(time.time())}.%06d "
    "svc=http event=request src=203.0.113.9 sport=%d proto=tcp dport=80 n=%d\\n\", "
    "$1, $1 % 60000 + 1, $1}'"
)


def burst_container(docker_env: Any, topology_id: str, decky: str) -> Any:
    """A container of the topology's `decky` (http) that prints the burst and exits."""
    image = ensure_image(docker_env.client, STAND_IN, SLEEP)
    labels = {**docker_env.owner_labels, L.MANAGED: "true", L.TOPOLOGY_SERVICE: "true",
              L.TOPOLOGY_ID: topology_id, L.TOPOLOGY_NAME: "acme", L.DECKY: decky,
              L.SERVICE: "http"}
    return docker_env.client.containers.run(image, ["/bin/busybox", "sh", "-c", SCRIPT],
                                            labels=labels, detach=True, network_mode="none")


def test_a_burst_of_50000_lines_is_ingested_completely(docker_env: Any, tmp_path: Path,
                                                       db_url: str) -> None:
    settings = Settings(state_dir=tmp_path / "master", db_url=db_url, bus="null")
    engine = make_engine(db_url, sqlite_immediate=True)
    init_db(engine)
    try:
        with session_scope(engine) as session:
            resolved = sample_resolved()
            row = store_live(session, resolved)
            row.agent = "local"
            topology_id = row.id
        decky = resolved.deckies[0].name
        container = burst_container(docker_env, topology_id, decky)
        assert container.wait(timeout=120)["StatusCode"] == 0

        started = time.monotonic()
        ingester = Ingester(settings, engine)
        try:
            report = ingester.once()
        finally:
            ingester.close()
        took = time.monotonic() - started
        assert report.ok, report
        assert report.stored == BURST

        with session_scope(engine) as session:
            numbers = [int(fields["n"]) for fields in session.scalars(
                select(AttackEvent.fields).order_by(AttackEvent.id))]
        assert numbers == list(range(1, BURST + 1))  # each once, in the container's order
        assert settings.ingest_log_file is not None
        logged = [int(m) for m in re.findall(r'\[decnet@32473 id="(\d+)"',
                                              settings.ingest_log_file.read_text())]
        assert len(logged) == BURST and logged == sorted(set(logged))

        again = Ingester(settings, engine)  # a restarted ingester finds nothing new
        try:
            assert again.once().stored == 0
        finally:
            again.close()
        with session_scope(engine) as session:
            assert session.scalar(select(func.count()).select_from(AttackEvent)) == BURST
        print(f"burst of {BURST} lines ingested in {took:.1f} s ({BURST / took:.0f}/s)")
    finally:
        engine.dispose()
