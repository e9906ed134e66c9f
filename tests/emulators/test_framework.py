"""The emulator framework itself (decnet_emu.server), as the real `python -m decnet_emu`
process on loopback: past its connection limit a service still records every connection
(`refused`, then closed), and every served connection ends with `disconnect` and its
duration. The service is one without a protocol module (the generic stand-in), so the test
depends on no protocol helper's work."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.emulators.harness import EMULATORS, LocalEmulator, free_port, local_emulator

LIMIT = 3


@pytest.fixture
def limited() -> Iterator[LocalEmulator]:
    yield from local_emulator("frameworktest", ["7000/tcp"],
                              env={"DECNET_MAX_CHILDREN": str(LIMIT)})


def _closed_by_server(sock: socket.socket, within: float = 5.0) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(16) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_connections_past_the_limit_are_recorded_and_closed(limited: LocalEmulator) -> None:
    port = limited.port(7000)
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(LIMIT)]
    try:
        deadline = time.monotonic() + 5
        while len(limited.events("connect")) < LIMIT and time.monotonic() < deadline:
            time.sleep(0.05)
        extra = [socket.create_connection(("127.0.0.1", port)) for _ in range(2 * LIMIT)]
        assert all(_closed_by_server(sock) for sock in extra)
        refused = limited.events("refused", wait=5)
        deadline = time.monotonic() + 5
        while len(refused) < 2 * LIMIT and time.monotonic() < deadline:
            time.sleep(0.05)
            refused = limited.events("refused")
        assert len(refused) == 2 * LIMIT
        assert {e.src_port for e in refused} == {s.getsockname()[1] for s in extra}
        assert all(e.src_ip == limited.source and e.fields["limit"] == str(LIMIT)
                   for e in refused)
        assert len(limited.events("connect")) == LIMIT  # the refused ones were not served
        for sock in extra:
            sock.close()
        # the held ones are still served: one says something and is recorded
        held[0].sendall(b"hello\r\n")
        (data,) = limited.events("data", wait=5)
        assert data.fields["data"] == "hello\r\n" and data.src_port == held[0].getsockname()[1]
    finally:
        for sock in held:
            sock.close()


def test_disconnect_carries_the_duration(limited: LocalEmulator) -> None:
    sock = socket.create_connection(("127.0.0.1", limited.port(7000)))
    sport = sock.getsockname()[1]
    time.sleep(0.6)
    sock.close()
    (gone,) = limited.events("disconnect", wait=5)
    assert gone.src_port == sport and gone.src_ip == limited.source
    assert 0.5 <= float(gone.fields["duration_s"]) < 5
    (came,) = limited.events("connect")
    assert came.fields["session"] == gone.fields["session"]


@pytest.mark.slow
def test_light_emulator_records_refused_connections_too() -> None:
    """The busybox emulators (decnet-svd) past DECNET_MAX_CHILDREN: `refused` events too."""
    import uuid

    from docker_support import connect_docker

    from decnet_lib.images.build import build_images
    from decnet_lib.logs.emulator_line import parse_line

    client = connect_docker()
    build_images(client, services=["redis"], modes=("light",))
    container = client.containers.run(
        "decnet/svc-redis-light:latest", detach=True,
        labels={"decnet.test.run": uuid.uuid4().hex},
        environment={"DECNET_MAX_CHILDREN": str(LIMIT), "DECNET_DECKY": "web01"})
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 20
        while b"listening on" not in container.logs(stdout=False, stderr=True):
            assert time.monotonic() < deadline, container.logs()
            time.sleep(0.2)
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        held = [socket.create_connection((address, 6379), timeout=5) for _ in range(LIMIT)]
        time.sleep(0.5)
        extra = [socket.create_connection((address, 6379), timeout=5) for _ in range(LIMIT)]
        held += extra
        ports = {sock.getsockname()[1] for sock in extra}
        refused: list = []
        deadline = time.monotonic() + 10
        while len(refused) < LIMIT and time.monotonic() < deadline:
            lines = container.logs(stdout=True, stderr=False).decode().splitlines()
            refused = [e for e in map(parse_line, lines) if e and e.event == "refused"]
            time.sleep(0.2)
        assert {e.src_port for e in refused} == ports
        assert all(e.fields["decky"] == "web01" and e.fields["limit"] == str(LIMIT)
                   and e.service == "redis" for e in refused)
    finally:
        for sock in held:
            sock.close()
        container.remove(force=True)


def test_tls_upgrade_keeps_a_client_hello_that_arrived_early() -> None:
    """A client that sends its ClientHello at once, before the module calls start_tls (a busy
    machine, implicit TLS): the bytes the reader already holds reach the TLS handshake."""
    import asyncio
    import ssl
    import sys
    from types import SimpleNamespace

    sys.path.insert(0, str(EMULATORS))
    from decnet_emu.config import EmulatorConfig, Listen
    from decnet_emu.persona import Persona
    from decnet_emu.server import Emulator
    from decnet_emu.session import Session
    from decnet_emu.tls import server_context

    persona = Persona(hostname="web01", seed_hex="ab" * 32)
    context = server_context(persona)

    async def handle(session: Session) -> None:
        await asyncio.sleep(0.5)  # the ClientHello is in the reader's buffer by now
        await session.start_tls(context)
        await session.send(b"hello over tls\n")
        await session.read(100)

    port = free_port()
    config = EmulatorConfig("tlstest", (Listen(port),), persona=persona, host="127.0.0.1")

    def client() -> bytes:
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                tls.wrap_socket(raw) as sock:
            return sock.recv(100)

    async def run() -> bytes:
        with open("/dev/null", "w") as sink:
            from decnet_emu.events import EventWriter

            emulator = Emulator(config, EventWriter("tlstest", sink),
                                SimpleNamespace(handle=handle))  # type: ignore[arg-type]
            await emulator.start()
            try:
                return await asyncio.wait_for(asyncio.to_thread(client), 10)
            finally:
                emulator.close()

    assert asyncio.run(run()) == b"hello over tls\n"
