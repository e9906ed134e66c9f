"""DECNET_SYSLOG_TARGET: every ingested event sent to a SIEM once, as its ingest log line.

The forwarder works like the ingest log (`ingest_log.py`): it reads the stored events with an
id above its position, sends each as the same RFC 5424 line (`ingest_line`), framed for the
target (`logs/syslog_target.py`), and moves its position to the last event the target
received (`logs/syslog_conn.py`: acknowledged by the peer's TCP stack). The position is kept
in `state_dir/syslog-forward.json` (replaced atomically after each batch); the database is
the queue, so events wait there while the target is down, across restarts. Forwarders hold
`state_dir/syslog-forward.lock` (flock) while they send, so a service and a hand-run
`decnet ingest --once` never send one event twice. Ingesters commit ids in order (under the
ingest log's lock), so an id below the position never appears later. Guarantees:
docs/events.md "Forwarding to a SIEM".
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Engine

from decnet_lib.atomic_files import write_json_atomic
from decnet_lib.db import new_session
from decnet_lib.db.attack_events import events_after
from decnet_lib.errors import DecnetError
from decnet_lib.file_lock import FileLock
from decnet_lib.logs.syslog_conn import SyslogConnection, tls_context
from decnet_lib.logs.syslog_target import SyslogTarget, frame, parse_syslog_target
from decnet_lib.master.ingest_log import HOSTNAME, ingest_line

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

log = logging.getLogger("decnet.siem")

BATCH = 500
IDLE_S = 1.0
"""How often the watch looks for events stored by another ingester (its own wake it)."""
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
POSITION_FILE = "syslog-forward.json"
LOCK_FILE = "syslog-forward.lock"


class SiemUnreachable(DecnetError):
    """The SIEM cannot be reached or dropped the connection; the events wait."""

    code = "SIEM_UNREACHABLE"


def read_position(path: Path) -> int:
    """The id of the last event a SIEM received, from the position file (0: none yet)."""
    try:
        return int(orjson.loads(path.read_bytes()).get("last_id", 0))
    except (FileNotFoundError, ValueError, TypeError, AttributeError):
        return 0


def forwarded_up_to(settings: Settings) -> int:
    """The highest event id the SIEM forwarder has delivered (retention's bound)."""
    return read_position(Path(settings.state_dir) / POSITION_FILE)


def forwarding_target(settings: Settings) -> SyslogTarget | None:
    """The parsed DECNET_SYSLOG_TARGET, None when unset; BadSyslogTarget when malformed."""
    return parse_syslog_target(settings.syslog_target) if settings.syslog_target else None


class SiemForwarder:
    """Sends the stored events after its position to the target, batch by batch."""

    def __init__(self, settings: Settings, engine: Engine, target: SyslogTarget,
                 hostname: str = HOSTNAME, batch: int = BATCH) -> None:
        self.engine = engine
        self.target = target
        self.hostname = hostname
        self.batch = batch
        self.context: ssl.SSLContext | None = None
        if target.tls:
            self.context = tls_context(settings.syslog_ca, settings.syslog_cert,
                                       settings.syslog_key)
        self.position_path = Path(settings.state_dir) / POSITION_FILE
        self._lock = FileLock(Path(settings.state_dir) / LOCK_FILE)
        self._connection: SyslogConnection | None = None
        self.wake = threading.Event()
        """Set after a commit: the watch sends at once instead of at its next round."""
        self.sent = 0

    # -- position ----------------------------------------------------------------------------
    def position(self) -> int:
        """The id of the last event the target received (0: none yet)."""
        return read_position(self.position_path)

    def _save(self, last_id: int) -> None:
        write_json_atomic(self.position_path, {"target": str(self.target), "last_id": last_id})

    # -- sending -----------------------------------------------------------------------------
    def _open(self) -> SyslogConnection:
        if self._connection is not None and not self._connection.alive():
            self._drop()  # closed by the receiver while idle: open a new one at once
        if self._connection is None:
            try:
                self._connection = SyslogConnection(self.target, self.context)
            except (OSError, ssl.SSLError) as exc:
                raise SiemUnreachable(f"cannot reach the syslog target {self.target}: {exc}"
                                      ) from None
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(OSError):
                connection.close()

    def _batch(self, after: int) -> tuple[list[int], list[bytes]]:
        session = new_session(self.engine)
        try:
            rows = events_after(session, after, self.batch)
            return ([row.id for row in rows],
                    [frame(self.target, ingest_line(row, self.hostname)) for row in rows])
        finally:
            session.rollback()
            session.close()

    def forward(self) -> int:
        """Send every stored event after the position; how many were sent. Raises
        SiemUnreachable (the events not acknowledged stay queued)."""
        sent = 0
        with self._lock.held():
            last = self.position()
            while True:
                ids, frames = self._batch(last)
                if not ids:
                    return sent
                delivered, error = self._open().deliver(frames)
                if delivered:
                    last = ids[delivered - 1]
                    self._save(last)
                    sent += delivered
                    self.sent += delivered
                if error is not None:
                    self._drop()
                    raise SiemUnreachable(f"syslog target {self.target}: {error} "
                                          f"({sent} events sent, the rest wait)")

    def run(self, stop: threading.Event) -> None:
        """Forward until `stop`: at each wake or every IDLE_S; back off on errors (1 s
        doubling to 60 s, with jitter)."""
        delay = BACKOFF_FIRST_S
        while not stop.is_set():
            self.wake.clear()
            try:
                self.forward()
                delay = BACKOFF_FIRST_S
            except Exception as exc:  # a SIEM away, a database hiccup: retry later
                self._drop()
                pause = delay * random.uniform(0.8, 1.2)
                log.warning("forwarding to %s failed (retrying in %.1fs): %s", self.target,
                            pause, exc)
                stop.wait(pause)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            self.wake.wait(IDLE_S)

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> SiemForwarder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
