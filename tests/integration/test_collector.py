"""The agent log collector against the real Docker Engine.

Labelled containers print emulator lines (made with `format_line`); the collector must turn
them into RFC 5424 lines in DECNET_AGENT_LOG_FILE: for containers running at start and
started later, across a restart (no line twice), across a log rotation, never for a
container without `decnet.topology.service=true`, and stop() must be prompt.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import pytest
from docker import DockerClient
from docker.errors import DockerException, ImageNotFound, NotFound

from decnet_lib import events
from decnet_lib.deploy import labels as L
from decnet_lib.logs.collector import LogCollector
from decnet_lib.logs.cursors import Cursor
from decnet_lib.logs.emulator_line import format_line
from decnet_lib.logs.pipeline import parse_docker_timestamp
from decnet_lib.logs.sink import LogPathClash
from decnet_lib.settings import Settings

if TYPE_CHECKING:
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]

REAL_BASE = "decnet/base:latest"
STAND_IN = "decnet-test/collector:latest"
TEST_LABEL = "decnet-test.collector"  # on everything this module creates; cleanup by it
BUSYBOX = Path("/bin/busybox")
SD = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


# -- pure parts (no Docker) -----------------------------------------------------------------


def test_docker_timestamps() -> None:
    assert parse_docker_timestamp(b"1970-01-01T00:00:01.000000002Z") == 1_000_000_002
    assert parse_docker_timestamp(b"2024-06-10T06:13:20.5Z") == 1718000000_500_000_000
    assert parse_docker_timestamp(b"2024-06-10T08:13:20+02:00") == 1718000000_000_000_000
    assert parse_docker_timestamp(b"garbage") is None
    assert parse_docker_timestamp(b"2024-13-45T00:00:00Z") is None


def test_cursor_skips_what_was_read() -> None:
    cursor = Cursor()
    assert cursor.since() is None
    assert cursor.accept(5_000_000_000, b"a") and cursor.accept(5_000_000_000, b"b")
    assert not cursor.accept(5_000_000_000, b"a")  # replayed at the boundary
    assert not cursor.accept(4_999_999_999, b"old")
    assert cursor.accept(6_000_000_000, b"a")
    assert cursor.since() == 5.999


def test_start_refuses_clashing_paths(tmp_path: Path) -> None:
    def no_docker() -> Any:
        raise AssertionError("Docker must not be touched")

    clash = Settings(state_dir=tmp_path, db_url="sqlite://", bus_socket=tmp_path / "bus.sock",
                     agent_log_file=tmp_path / "same.log",
                     ingest_log_file=tmp_path / "same.log", mode="agent")
    collector = LogCollector(clash, client_factory=no_docker)
    with pytest.raises(LogPathClash):
        collector.start()
    assert not collector.running
    collector.stop()  # idempotent on a collector that never ran


# -- Docker helpers ---------------------------------------------------------------------------


def collector_image(client: DockerClient) -> str:
    """`decnet/base:latest` when present, else a FROM-scratch busybox stand-in."""
    for tag in (REAL_BASE, STAND_IN):
        with contextlib.suppress(ImageNotFound):
            client.images.get(tag)
            return tag
    if not BUSYBOX.exists():
        pytest.skip("no /bin/busybox to build the stand-in image")
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copy2(BUSYBOX, Path(ctx) / "busybox")
        (Path(ctx) / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\nLABEL decnet.managed=\"true\"\n"
            'CMD ["/bin/busybox", "sleep", "2147483647"]\n'
        )
        client.images.build(path=ctx, tag=STAND_IN, rm=True, forcerm=True)
    return STAND_IN


def script(runs: dict[int, list[str]]) -> str:
    """Print run N's lines on the N-th start (plus a non-event line), then idle until TERM."""
    cases = " ".join(
        f"{n}) " + "; ".join(f"echo {shlex.quote(line)}" for line in lines) + " ;;"
        for n, lines in runs.items()
    )
    return (
        "n=$(/bin/busybox cat /runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > /runs; "
        f"case $n in {cases} *) ;; esac; echo 'plain diagnostics, not an event'; "
        "trap 'exit 0' TERM INT; /bin/busybox sleep 2147483647 & wait"
    )


def emulator_line(service: str, decky: str, tag: str, src: str, sport: int,
                  event: str = "login") -> str:
    return format_line(service, event, src, sport,
                       {"proto": "tcp", "dport": 22, "decky": decky, "user": f"root {tag}",
                        "password": 'p"]\\ss'})


def inject(container: Any, line: str) -> None:
    """Make the container's PID 1 print a line on its stdout (as an emulator would)."""
    result = container.exec_run(
        ["/bin/busybox", "sh", "-c", f"echo {shlex.quote(line)} > /proc/1/fd/1"])
    assert result.exit_code == 0, result.output


def wait_for(check: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


def read_lines(*paths: Path) -> list[str]:
    out: list[str] = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            out += path.read_text().splitlines()
    return out


def params(line: str) -> dict[str, str]:
    sd = line[line.index("[decnet@32473"):]
    return {k: re.sub(r"\\(.)", r"\1", v) for k, v in SD.findall(sd.split("] ", 1)[0])}


def remove_by_label(client: DockerClient, value: str) -> None:
    filters = {"label": [f"{TEST_LABEL}={value}"]}
    for item in client.api.containers(all=True, filters=filters):
        with contextlib.suppress(NotFound, DockerException):
            client.api.remove_container(item["Id"], force=True, v=True)
    for item in client.api.networks(filters=filters):
        with contextlib.suppress(NotFound, DockerException):
            client.api.remove_network(item["Id"])


class World:
    """This test's network and containers, all labelled TEST_LABEL=<token>."""

    def __init__(self, env: DockerEnv) -> None:
        self.client = env.client
        self.token = uuid.uuid4().hex[:10]
        self.topology_id = f"collector{self.token}"
        self.owner = {**env.owner_labels, TEST_LABEL: self.token}
        self.image = collector_image(self.client)
        subnet = env.subnets(1)[0]
        pool = docker.types.IPAMPool(subnet=str(subnet))
        self.network = self.client.networks.create(
            f"dn-test-collector-{self.token}", driver="bridge", internal=True,
            ipam=docker.types.IPAMConfig(pool_configs=[pool]),
            labels={**self.owner, L.MANAGED: "true", L.TOPOLOGY_ID: self.topology_id,
                    L.LAN: "lan"},
        )

    def decky(self, name: str) -> str:
        return f"{name}-{self.token}"

    def run(self, decky: str, service: str, runs: dict[int, list[str]],
            collected: bool = True, topology_id: str | None = None) -> Any:
        labels = {**self.owner, L.MANAGED: "true",
                  L.TOPOLOGY_ID: topology_id or self.topology_id,
                  L.TOPOLOGY_NAME: f"collector {self.token}", L.DECKY: decky,
                  L.ROLE: L.ROLE_SERVICE, L.SERVICE: service}
        if collected:
            labels[L.TOPOLOGY_SERVICE] = "true"
        return self.client.containers.run(
            self.image, ["/bin/busybox", "sh", "-c", script(runs)], detach=True,
            name=f"dn-test-{decky}-{service}", labels=labels, network=self.network.name,
        )


@pytest.fixture
def world(docker_env: DockerEnv) -> Iterator[World]:
    token_holder: list[World] = []
    try:
        token_holder.append(World(docker_env))
        yield token_holder[0]
    finally:
        if token_holder:
            remove_by_label(docker_env.client, token_holder[0].token)


@pytest.fixture
def published() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    captured: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def capture(topic: str, payload: dict[str, Any]) -> None:
        with lock:
            captured.append((topic, payload))

    events.set_publisher(capture)
    try:
        yield captured
    finally:
        events.set_publisher(None)


# -- the scenario ------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_agent_follows_only_the_topologies_it_holds(world: World, tmp_path: Path) -> None:
    log_file = tmp_path / "agent.log"
    settings = Settings(state_dir=tmp_path, db_url="sqlite://", bus_socket=tmp_path / "bus.sock",
                        agent_log_file=log_file, ingest_log_file=tmp_path / "ingest.log",
                        mode="agent")
    ours, theirs = world.decky("ours"), world.decky("theirs")
    world.run(ours, "ssh", {1: [emulator_line("ssh", ours, "o1", "203.0.113.7", 40001)]})
    world.run(theirs, "ssh", {1: [emulator_line("ssh", theirs, "t1", "203.0.113.8", 40002)]},
              topology_id=f"other{world.token}")  # another agent's topology on this host
    collector = LogCollector(settings, hostname="agent-test",
                             held_topologies=lambda: {world.topology_id})
    collector.start()
    try:
        assert collector.wait_ready(15)
        wait_for(lambda: any(ours in line for line in read_lines(log_file)), what="our line")
        time.sleep(1.0)  # time enough for the other's line, were it followed
        assert not any(theirs in line for line in read_lines(log_file))
        assert len(collector.followed_ids(attached=False)) == 1
    finally:
        collector.stop()



@pytest.mark.slow
def test_collector_follows_labelled_containers(
    world: World, tmp_path: Path, published: list[tuple[str, dict[str, Any]]]
) -> None:
    log_file, rotated = tmp_path / "agent.log", tmp_path / "agent.log.1"
    settings = Settings(state_dir=tmp_path, db_url="sqlite://", bus_socket=tmp_path / "bus.sock",
                        agent_log_file=log_file, ingest_log_file=tmp_path / "ingest.log",
                        mode="agent")
    alpha, bravo, ghost = world.decky("alpha"), world.decky("bravo"), world.decky("ghost")
    a1 = emulator_line("ssh", alpha, "a1", "203.0.113.7", 40001)
    a2 = emulator_line("ssh", alpha, "a2", "203.0.113.7", 40002, event="connect")
    a3 = emulator_line("ssh", alpha, "a3", "203.0.113.8", 40003)  # second run, after restart
    b1 = emulator_line("http", bravo, "b1", "198.51.100.20", 50001)
    u1 = emulator_line("ssh", ghost, "u1", "192.0.2.66", 6666)

    container_a = world.run(alpha, "ssh", {1: [a1, a2], 2: [a3]})
    container_u = world.run(ghost, "ssh", {1: [u1]}, collected=False)

    def mine() -> list[str]:
        return [line for line in read_lines(rotated, log_file)
                if f'decky="{alpha}"' in line or f'decky="{bravo}"' in line
                or ghost in line]

    def tags() -> list[str]:
        return [params(line)["user"].split(" ", 1)[1] for line in mine()]

    collector = LogCollector(settings, hostname="agent-test")
    collector.start()
    try:
        collector.start()  # idempotent
        assert collector.wait_ready(15)

        # running at start: both lines, with the attacker, the decky and the service
        wait_for(lambda: {"a1", "a2"} <= set(tags()), what="alpha's first lines")
        by_tag = {params(line)["user"]: line for line in mine()}
        first = by_tag["root a1"]
        p = params(first)
        assert first.startswith("<132>1 ") and " agent-test decnet " in first
        assert p["src_ip"] == "203.0.113.7" and p["src_port"] == "40001"
        assert p["decky"] == alpha and p["service"] == "ssh" and p["event"] == "login"
        assert p["topology_id"] == world.topology_id and p["password"] == 'p"]\\ss'
        assert p["container"] == container_a.id[:12]
        assert by_tag["root a2"].startswith("<134>1 ")  # connect: local0.info

        # started later: followed too
        container_b = world.run(bravo, "http", {1: [b1]})
        wait_for(lambda: "b1" in tags(), what="bravo's line")
        b_params = params(next(line for line in mine() if "root b1" in line))
        assert (b_params["decky"], b_params["service"], b_params["src_ip"]) == (
            bravo, "http", "198.51.100.20")
        wait_for(lambda: container_b.id in collector.followed_ids(), what="bravo followed")

        # live lines while attached
        inject(container_a, emulator_line("ssh", alpha, "live1", "203.0.113.9", 40010))
        wait_for(lambda: "live1" in tags(), what="a live line")

        # a restart: the second run's line arrives, nothing is read twice
        container_a.restart(timeout=5)
        wait_for(lambda: "a3" in tags(), what="alpha's line after the restart")
        wait_for(lambda: container_a.id in collector.followed_ids(), what="alpha re-attached")
        inject(container_a, emulator_line("ssh", alpha, "live2", "203.0.113.9", 40011))
        wait_for(lambda: "live2" in tags(), what="a live line after the restart")
        assert collector.stats().duplicates_skipped >= 1  # the replayed tail was dropped

        # rotation: new lines land in a new file at the same path
        log_file.rename(rotated)
        inject(container_a, emulator_line("ssh", alpha, "rot-a", "203.0.113.9", 40012))
        inject(container_b, emulator_line("http", bravo, "rot-b", "198.51.100.20", 50002))
        wait_for(lambda: {"rot-a", "rot-b"} <= {
            params(line)["user"].split(" ", 1)[1] for line in read_lines(log_file)
            if world.token in line}, what="lines in the new file")
        assert not any("rot-" in line for line in read_lines(rotated))

        # stopped: no longer attached but still known; removed: forgotten
        container_b.stop(timeout=5)
        wait_for(lambda: container_b.id not in collector.followed_ids(), what="bravo detached")
        assert container_b.id in collector.followed_ids(attached=False)
        container_b.remove()
        wait_for(lambda: container_b.id not in collector.followed_ids(attached=False),
                 what="bravo forgotten")

        # the unlabelled container is never followed
        inject(container_u, emulator_line("ssh", ghost, "u2", "192.0.2.66", 6667))
        assert container_u.id not in collector.followed_ids(attached=False)

        got = tags()
        assert sorted(got) == sorted(["a1", "a2", "live1", "a3", "live2", "b1", "rot-a",
                                      "rot-b"]), got
        assert not any(ghost in line for line in read_lines(rotated, log_file))
        stats = collector.stats()
        assert stats.lines_written >= len(got) and stats.lines_ignored >= 3
        assert stats.containers_followed >= 1 and stats.running

        ours = [payload for topic, payload in list(published)
                if topic == events.SYSTEM_LOG_TOPIC and payload["decky"] in (alpha, bravo)]
        assert sorted(p["fields"]["user"].split(" ", 1)[1] for p in ours) == sorted(got)
        login = next(p for p in ours if p["fields"]["user"] == "root a1")
        assert (login["src_ip"], login["service"], login["severity"]) == (
            "203.0.113.7", "ssh", "warning")
    finally:
        began = time.monotonic()
        collector.stop()
        elapsed = time.monotonic() - began
    assert elapsed < 2.5, f"stop() took {elapsed:.2f}s"
    assert not collector.running and collector.stats().containers_followed == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("decnet-log")]
    collector.stop()  # idempotent

    # stopped means stopped: nothing more is written
    before = read_lines(log_file)
    inject(container_a, emulator_line("ssh", alpha, "after", "203.0.113.9", 40013))
    time.sleep(0.5)
    assert read_lines(log_file) == before

    # started again: it picks up where it stopped (cursors kept), without repeating a line
    collector.start()
    try:
        wait_for(lambda: "after" in tags(), what="the line logged while stopped")
        assert sorted(tags()) == sorted([*got, "after"])
    finally:
        collector.stop()

    # a new collector (the agent restarted) reads the saved cursors: nothing twice
    assert (tmp_path / "agent" / "log-cursors.json").exists()
    inject(container_a, emulator_line("ssh", alpha, "reborn", "203.0.113.9", 40014))
    successor = LogCollector(settings, hostname="agent-test")
    successor.start()
    try:
        wait_for(lambda: "reborn" in tags(), what="the line logged between two agents")
        time.sleep(0.5)
        assert sorted(tags()) == sorted([*got, "after", "reborn"])
        assert successor.stats().duplicates_skipped >= 1  # the boundary, read again
    finally:
        successor.stop()


@pytest.mark.slow
def test_a_followed_burst_is_journalled_in_batches(world: World, tmp_path: Path) -> None:
    """Docker hands a followed stream over one frame per line: a burst must still be
    journalled in few transactions (one `at` per transaction), exactly once, and a line
    arriving alone afterwards must reach the journal promptly."""
    import io
    import sqlite3
    import tarfile

    settings = Settings(state_dir=tmp_path, db_url="sqlite://", bus_socket=tmp_path / "bus.sock",
                        agent_log_file=tmp_path / "agent.log",
                        ingest_log_file=tmp_path / "ingest.log", mode="agent")
    journal = tmp_path / "agent-events.db"
    decky, burst = world.decky("burst"), 2000
    container = world.run(decky, "ssh", {})
    lines = "".join(emulator_line("ssh", decky, f"b{n}", "203.0.113.7", 40000 + n % 20000)
                    + "\n" for n in range(burst)).encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("burst.txt")
        info.size = len(lines)
        tar.addfile(info, io.BytesIO(lines))
    assert container.put_archive("/", archive.getvalue())

    def journalled() -> tuple[int, int, int]:
        """(entries, distinct keys, transactions) of this decky."""
        with contextlib.closing(sqlite3.connect(journal)) as db:
            row = db.execute("SELECT COUNT(*), COUNT(DISTINCT key), COUNT(DISTINCT at) FROM "
                             "events WHERE CAST(body AS TEXT) LIKE ?", (f"%{decky}%",)
                             ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    collector = LogCollector(settings, hostname="agent-test")
    collector.start()
    try:
        assert collector.wait_ready(15)
        wait_for(lambda: container.id in collector.followed_ids(), what="followed")
        result = container.exec_run(
            ["/bin/busybox", "sh", "-c", "/bin/busybox cat /burst.txt > /proc/1/fd/1"])
        assert result.exit_code == 0, result.output
        wait_for(lambda: journalled()[0] >= burst, timeout=60, what="the burst journalled")
        entries, keys, transactions = journalled()
        assert entries == keys == burst  # exactly once
        assert transactions <= burst // 20, f"{transactions} transactions for {burst} lines"

        started = time.monotonic()
        inject(container, emulator_line("ssh", decky, "alone", "203.0.113.8", 40999))
        deadline = started + 5
        while journalled()[0] == burst and time.monotonic() < deadline:
            time.sleep(0.005)
        took = time.monotonic() - started
        assert journalled()[0] == burst + 1, "the lone line never arrived"
        assert took < 1.0, f"a lone line took {took:.3f} s"  # docker exec itself: ~0.1 s
        assert collector.stats().lines_written == burst + 1
    finally:
        collector.stop()
