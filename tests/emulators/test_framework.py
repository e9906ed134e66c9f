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

from tests.emulators.harness import LocalEmulator, local_emulator

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
