"""The agent's log collector: emulator stdout -> RFC 5424 lines in DECNET_AGENT_LOG_FILE.

This module watches containers; what happens to each line is `pipeline.LinePipeline`'s job.
It follows the stdout of every container labelled `decnet.managed=true` and
`decnet.topology.service=true`: those running when it starts and those started later (a
Docker events stream filtered by label). One thread per followed container reads
`docker logs --follow --timestamps` (a helper thread reading ahead, `StreamBatches`) and
hands the lines Docker has delivered so far, as one batch, with the source the container's
labels name, to the pipeline (dedupe, parse, RFC 5424 line, `system.log` on the bus).
A container that stops is attached again when it
starts; a per-container cursor (the Docker timestamp of the last line read) is passed as
`since`, and lines at or before it are skipped, so a restart repeats no line. Cursors are
saved to `DECNET_STATE_DIR/agent/log-cursors.json` every second and at stop, so a new agent
process does not collect again what an earlier one wrote (after a crash, at most the last
second may repeat). The agent starts the collector on its first successful apply (never at
boot) and stops it with the app.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
from docker.errors import NotFound

from decnet_lib.deploy import labels as L
from decnet_lib.logs.cursors import CURSOR_FILE, Cursor, CursorBook, CursorFile
from decnet_lib.logs.pipeline import LinePipeline, LineSplitter
from decnet_lib.logs.rfc5424 import LOCAL0, EventSource
from decnet_lib.logs.stream_batches import StreamBatches
from decnet_lib.settings import get_settings

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

log = logging.getLogger(__name__)

LABEL_FILTER = [f"{L.MANAGED}=true", f"{L.TOPOLOGY_SERVICE}=true"]
EVENT_FILTERS: dict[str, list[str]] = {
    "type": ["container"],
    "event": ["start", "restart", "destroy"],
    "label": LABEL_FILTER,
}
REATTACH_INTERVAL = 0.5
RECHECK_STOPPED = 30.0
MAX_BACKOFF = 10.0
CURSOR_FLUSH_INTERVAL = 1.0
ONCE_BATCH = 1000
"""Lines journalled per transaction by `collect_once` (a stream that is not followed)."""

ClientFactory = Callable[[], Any]

def default_client_factory() -> Any:
    """A Docker client from the environment, with room for one stream per container."""
    return docker.from_env(timeout=30, max_pool_size=256)


def is_collected(labels: dict[str, str] | None,
                 held: Callable[[], Collection[str]] | None = None) -> bool:
    """True for the containers the collector follows: both labels say true and, when
    `held` is given, the container belongs to one of the topologies it returns (an agent
    follows only what it holds, never another agent's topology on the same host)."""
    labels = labels or {}
    if labels.get(L.MANAGED) != "true" or labels.get(L.TOPOLOGY_SERVICE) != "true":
        return False
    return held is None or labels.get(L.TOPOLOGY_ID) in held()


@dataclass(frozen=True, slots=True)
class CollectorStats:
    """Counters since the collector was made (containers: now)."""

    lines_written: int
    lines_ignored: int
    duplicates_skipped: int
    write_errors: int
    containers_followed: int
    """Containers whose log stream is attached right now."""
    containers_known: int
    """Labelled containers with a follower (running or waiting for a restart)."""
    running: bool


class _Followed:
    """One labelled container and its follower thread."""

    def __init__(self, container_id: str, cursor: Cursor) -> None:
        self.id = container_id
        self.cursor = cursor
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.attached = False
        self.failing = False


class LogCollector:
    """Follow labelled service containers and write their events as RFC 5424 lines.

    `client_factory()` makes the Docker client (default: `docker.from_env`); it is called
    on every start() and the client is closed by stop(). start() and stop() are idempotent;
    a stopped collector can be started again (cursors are kept, so no line is repeated), and
    so can a new one on the same `cursor_file` (default: DECNET_STATE_DIR/agent/).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        client_factory: ClientFactory | None = None,
        *,
        facility: int = LOCAL0,
        hostname: str | None = None,
        cursor_file: Path | None = None,
        held_topologies: Callable[[], Collection[str]] | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.hostname = hostname or socket.gethostname()
        self._client_factory = client_factory or default_client_factory
        self._held = held_topologies
        self._life = threading.Lock()  # serialises start() and stop()
        self._lock = threading.Lock()  # followers, streams
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._running = False
        self._client: Any = None
        self._api: Any = None
        self._watcher: threading.Thread | None = None
        self._followed: dict[str, _Followed] = {}
        self._cursors = CursorBook(
            CursorFile(cursor_file or self.settings.state_dir / "agent" / CURSOR_FILE))
        self.pipeline = LinePipeline(self.settings, self._cursors, facility=facility,
                                     hostname=self.hostname)
        self._flusher: threading.Thread | None = None
        self._streams: set[Any] = set()

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Check the log paths, open the sink and start following. No-op when running.

        Raises LogPathClash when the agent and ingest log files are one file, LogSinkError
        when the log file cannot be opened. Docker being down does not fail start(): the
        collector keeps retrying in the background.
        """
        with self._life:
            if self._running:
                return
            path = self.pipeline.open()
            try:
                client = self._client_factory()
            except Exception:
                self.pipeline.close()
                raise
            self._client = client
            self._api = getattr(client, "api", client)
            self._cursors.load()
            self._stop = threading.Event()
            self._ready.clear()
            self._running = True
            self._watcher = threading.Thread(target=self._watch, name="decnet-log-watch",
                                             daemon=True)
            self._flusher = threading.Thread(target=self._flush_every_second,
                                             args=(self._stop,), name="decnet-log-cursors",
                                             daemon=True)
            self._watcher.start()
            self._flusher.start()
            log.info("log collector started, writing to %s", path)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop every thread (closing their API streams), then close the sink. Idempotent."""
        with self._life:
            if not self._running:
                return
            deadline = time.monotonic() + timeout
            with self._lock:
                self._stop.set()
                streams = list(self._streams)
                followers = list(self._followed.values())
            for stream in streams:
                _close_stream(stream)
            for followed in followers:
                followed.wake.set()
            threads = [self._watcher, self._flusher, *(f.thread for f in followers)]
            for thread in threads:
                if thread is not None:
                    thread.join(max(0.0, deadline - time.monotonic()))
            stuck = [t.name for t in threads if t is not None and t.is_alive()]
            if stuck:
                log.warning("log collector threads still running after stop: %s", stuck)
            self._cursors.save()
            self.pipeline.close()
            with contextlib.suppress(Exception):
                self._client.close()
            with self._lock:
                self._followed.clear()
            self._running = False
            log.info("log collector stopped")

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the containers running at start are being followed."""
        return self._ready.wait(timeout)

    def stats(self) -> CollectorStats:
        counts = self.pipeline.counts()
        with self._lock:
            followed = list(self._followed.values())
        return CollectorStats(
            lines_written=counts["written"],
            lines_ignored=counts["ignored"],
            duplicates_skipped=counts["duplicates"],
            write_errors=counts["write_errors"],
            containers_followed=sum(1 for f in followed if f.attached),
            containers_known=sum(1 for f in followed if f.thread and f.thread.is_alive()),
            running=self._running,
        )

    def followed_ids(self, attached: bool = True) -> set[str]:
        """Ids of the containers whose log stream is attached right now (attached=False:
        also those stopped, whose follower waits for them to start again)."""
        with self._lock:
            return {f.id for f in self._followed.values() if f.attached or not attached}

    def __enter__(self) -> LogCollector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- cursors on disk (saved every second and at stop) ----------------------------------
    def _flush_every_second(self, stop: threading.Event) -> None:
        # its own run's event: a flusher that outlives stop() is not revived by start()
        while not stop.wait(CURSOR_FLUSH_INTERVAL):
            self._cursors.save()

    # -- helpers ----------------------------------------------------------------------------
    def _register(self, stream: Any) -> bool:
        """Track a stream so stop() can close it; False (and closed) when stopping."""
        with self._lock:
            if not self._stop.is_set():
                self._streams.add(stream)
                return True
        _close_stream(stream)
        return False

    def _unregister(self, stream: Any) -> None:
        with self._lock:
            self._streams.discard(stream)
        _close_stream(stream)

    # -- the watcher: running containers, then Docker events ------------------------------
    def _watch(self) -> None:
        backoff = 0.5
        failing = False
        while not self._stop.is_set():
            stream = None
            try:
                stream = self._api.events(decode=True, filters=EVENT_FILTERS)
                if not self._register(stream):
                    break
                # subscribed first, listed second: no start can fall between the two
                for item in self._api.containers(filters={"label": LABEL_FILTER}):
                    if is_collected(item.get("Labels"), self._held):
                        self._ensure_follower(item["Id"])
                self._ready.set()
                if failing:
                    log.info("log collector: Docker events stream is back")
                failing, backoff = False, 0.5
                for event in stream:
                    if self._stop.is_set():
                        break
                    self._on_event(event)
            except Exception as exc:
                if not self._stop.is_set() and not failing:
                    log.warning("log collector: Docker events stream failed: %s", exc)
                failing = True
            finally:
                if stream is not None:
                    self._unregister(stream)
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _on_event(self, event: dict[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        actor = event.get("Actor") or {}
        container_id = actor.get("ID") or event.get("id")
        if not container_id:
            return
        if action in ("start", "restart"):
            if is_collected(actor.get("Attributes"), self._held):
                self._ensure_follower(container_id)
        elif action == "destroy":
            with self._lock:
                followed = self._followed.get(container_id)
            if followed is not None:
                followed.wake.set()

    def _ensure_follower(self, container_id: str) -> None:
        """Start following a container, or wake its follower (it may have restarted)."""
        with self._lock:
            if self._stop.is_set():
                return
            followed = self._followed.get(container_id)
            if followed and followed.thread and followed.thread.is_alive():
                followed.wake.set()
                return
            cursor = self._cursors.cursor(container_id)
            followed = _Followed(container_id, cursor)
            followed.thread = threading.Thread(
                target=self._follow, args=(followed,), daemon=True,
                name=f"decnet-log-{container_id[:12]}",
            )
            self._followed[container_id] = followed
            followed.thread.start()

    # -- one follower per container ---------------------------------------------------------
    def _follow(self, followed: _Followed) -> None:
        gone = False
        backoff = 0.5
        last_attach = 0.0
        try:
            while not self._stop.is_set():
                followed.wake.clear()  # before inspecting: a start after this wakes us
                try:
                    info = self._api.inspect_container(followed.id)
                    labels = (info.get("Config") or {}).get("Labels") or {}
                    if not is_collected(labels, self._held):
                        return
                    if not (info.get("State") or {}).get("Running"):
                        followed.wake.wait(RECHECK_STOPPED)
                        continue
                    pause = last_attach + REATTACH_INTERVAL - time.monotonic()
                    if pause > 0 and self._stop.wait(pause):
                        return
                    last_attach = time.monotonic()
                    source = EventSource.from_labels(labels, followed.id)
                    self._read_stream(followed, source)
                    backoff = 0.5
                    if followed.failing:
                        log.info("log collector: following %s again", followed.id[:12])
                    followed.failing = False
                except NotFound:
                    gone = True
                    return
                except Exception as exc:
                    if self._stop.is_set():
                        return
                    if not followed.failing:
                        log.warning("log collector: cannot follow %s: %s", followed.id[:12], exc)
                    followed.failing = True
                    if self._stop.wait(backoff):
                        return
                    backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            with self._lock:
                if self._followed.get(followed.id) is followed:
                    del self._followed[followed.id]
                if gone:
                    self._cursors.forget(followed.id)

    def _read_stream(self, followed: _Followed, source: EventSource) -> None:
        """Read the container's stdout until the stream ends (container stopped, stop())."""
        stream = self._api.logs(followed.id, stdout=True, stderr=False, stream=True,
                                follow=True, timestamps=True, since=followed.cursor.since())
        response = getattr(stream, "_response", None)
        status = getattr(response, "status_code", 200)
        if isinstance(status, int) and status >= 400:
            _close_stream(stream)
            raise RuntimeError(f"Docker refused the log stream (HTTP {status})")
        if not self._register(stream):
            return
        followed.attached = True
        try:
            batches = StreamBatches(stream, name=f"decnet-log-read-{followed.id[:12]}")
            try:
                self._feed(batches, followed.cursor, source)
            finally:
                batches.close()
        finally:
            followed.attached = False
            self._unregister(stream)

    def _feed(self, stream: Any, cursor: Cursor, source: EventSource, batch: int = 1) -> None:
        """Hand every line of a log stream to the pipeline, until the stream ends; at least
        `batch` lines at a time (a followed stream, read through `StreamBatches`: each chunk's
        lines, i.e. what Docker had delivered, so one transaction per burst)."""
        lines, pipeline = LineSplitter(), self.pipeline
        pending: list[bytes] = []
        for chunk in stream:
            pending += lines.feed(chunk)
            if len(pending) >= batch:
                pipeline.handle_many(cursor, source, pending)
                pending = []
            pipeline.count("ignored", lines.dropped)
            lines.dropped = 0
        rest = lines.rest()
        if rest and not self._stop.is_set():
            pending.append(rest)  # a last line without newline
        pipeline.handle_many(cursor, source, pending)

    # -- one pass, no following (`decnet ingest --once` on the local target) -------------
    def collect_once(self) -> int:
        """Read what every collected container (running or stopped) has written so far,
        through the pipeline, then save the cursors; the lines written. Not while running.
        Raises LogSinkError/LogPathClash (see start()) and Docker's errors."""
        with self._life:
            if self._running:
                raise RuntimeError("collect_once() on a running collector")
            self.pipeline.open()
            before = self.pipeline.counts()["written"]
            client = None
            try:
                client = self._client_factory()
                api = getattr(client, "api", client)
                self._cursors.load()
                self._stop = threading.Event()
                for item in api.containers(all=True, filters={"label": LABEL_FILTER}):
                    if not is_collected(item.get("Labels"), self._held):
                        continue
                    cursor = self._cursors.cursor(item["Id"])
                    try:
                        stream = api.logs(item["Id"], stdout=True, stderr=False, stream=True,
                                          follow=False, timestamps=True,
                                          since=cursor.since())
                    except NotFound:  # removed since it was listed
                        continue
                    try:
                        self._feed(stream, cursor, EventSource.from_labels(
                            item["Labels"], item["Id"]), batch=ONCE_BATCH)
                    finally:
                        _close_stream(stream)
            finally:
                self._cursors.save()
                self.pipeline.close()
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.close()
            return self.pipeline.counts()["written"] - before


def _close_stream(stream: Any) -> None:
    """Close a Docker API stream from any thread (wakes its reader); never raises."""
    with contextlib.suppress(Exception):
        stream.close()
    response = getattr(stream, "_response", None)
    if response is not None:
        with contextlib.suppress(Exception):
            response.close()
