"""DECNET_SYSLOG_TARGET parsing, RFC 6587 / 5426 framing, and delivery over loopback sockets."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from decnet_lib.cli import main
from decnet_lib.logs.syslog_conn import SyslogConnection, tls_context
from decnet_lib.logs.syslog_target import (
    MAX_UDP_PAYLOAD,
    BadSyslogTarget,
    SyslogTarget,
    datagram,
    frame,
    octet_frame,
    parse_syslog_target,
)
from decnet_lib.settings import Settings


@pytest.mark.parametrize(("url", "expected"), [
    ("tcp+tls://siem.example:6514", SyslogTarget("tcp+tls", "siem.example", 6514)),
    ("tcp+tls://siem.example", SyslogTarget("tcp+tls", "siem.example", 6514)),
    ("TCP://10.0.0.5:1514", SyslogTarget("tcp", "10.0.0.5", 1514)),
    ("tcp://10.0.0.5", SyslogTarget("tcp", "10.0.0.5", 514)),
    ("udp://[2001:db8::1]:5140", SyslogTarget("udp", "2001:db8::1", 5140)),
    (" udp://siem/ ", SyslogTarget("udp", "siem", 514)),
])
def test_targets_parse(url: str, expected: SyslogTarget) -> None:
    target = parse_syslog_target(url)
    assert target == expected
    assert parse_syslog_target(str(target)) == target


@pytest.mark.parametrize("url", [
    "", "siem:514", "syslog://siem:514", "tls://siem:6514", "tcp://", "tcp://:514",
    "tcp://siem:99999", "tcp://siem:0", "tcp://siem:port", "tcp://user@siem:514",
    "tcp://siem:514/path", "udp://siem:514?x=1",
])
def test_bad_targets_are_one_line_errors_with_a_code(url: str) -> None:
    with pytest.raises(BadSyslogTarget) as caught:
        parse_syslog_target(url)
    assert caught.value.code == "BAD_SYSLOG_TARGET"
    assert "\n" not in caught.value.message and "tcp+tls://" in caught.value.message


def test_octet_counting_counts_octets_not_characters() -> None:
    assert octet_frame("<13>1 - - - - - - ä") == b"20 <13>1 - - - - - - \xc3\xa4"
    line = "<13>1 - h decnet - login - " + "x" * 1000
    assert frame(parse_syslog_target("tcp://h"), line) == b"1027 " + line.encode()
    assert frame(parse_syslog_target("udp://h"), line) == line.encode()


def test_a_datagram_holds_one_line_cut_to_the_udp_limit() -> None:
    assert len(datagram("y" * (MAX_UDP_PAYLOAD + 10))) == MAX_UDP_PAYLOAD


def test_tls_files_are_checked(tmp_path: Path) -> None:
    with pytest.raises(BadSyslogTarget, match="go together"):
        tls_context(None, cert=tmp_path / "c.crt")
    with pytest.raises(BadSyslogTarget, match="cannot load"):
        tls_context(tmp_path / "missing-ca.crt")


def test_a_blank_target_is_unset(tmp_path: Path) -> None:
    assert Settings(state_dir=tmp_path, syslog_target="  ").syslog_target is None


def _read_frames(data: bytes) -> list[bytes]:
    """Split an octet-counted stream (what a receiver does)."""
    frames = []
    while data:
        length, _, rest = data.partition(b" ")
        frames.append(rest[:int(length)])
        data = rest[int(length):]
    return frames


def test_tcp_delivery_counts_what_the_peer_received() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    got = bytearray()

    def receive() -> None:
        peer, _ = server.accept()
        with peer:
            while chunk := peer.recv(65536):
                got.extend(chunk)

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    target = SyslogTarget("tcp", "127.0.0.1", server.getsockname()[1])
    lines = [f"<13>1 - - decnet - login - n{i} ü " + "x" * 200 for i in range(20000)]
    connection = SyslogConnection(target)
    assert connection.alive()
    try:  # many batches: the end of each is counted exactly while ACKs come in
        for start in range(0, len(lines), 500):
            batch = [frame(target, line) for line in lines[start:start + 500]]
            assert connection.deliver(batch) == (500, None)
    finally:
        connection.close()
        thread.join(5)
        server.close()
    assert _read_frames(bytes(got)) == [line.encode() for line in lines]


def test_a_peer_that_closed_gets_nothing_and_an_error() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    target = SyslogTarget("tcp", "127.0.0.1", server.getsockname()[1])
    connection = SyslogConnection(target)
    try:
        peer, _ = server.accept()
        peer.close()  # the SIEM went away: its FIN reaches us before our next batch
        threading.Event().wait(0.1)
        assert not connection.alive()
        delivered, error = connection.deliver([octet_frame("<13>1 - - decnet - - - x")])
        assert delivered == 0 and isinstance(error, OSError)
    finally:
        connection.close()
        server.close()


def test_a_datagram_to_a_closed_port_is_not_counted() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the probe is
    target = SyslogTarget("udp", "127.0.0.1", port)
    connection = SyslogConnection(target)
    try:
        delivered, error = connection.deliver([datagram("<13>1 - - decnet - - - x")] * 3)
    finally:
        connection.close()
    assert delivered == 0 and isinstance(error, ConnectionRefusedError)


def test_ingest_refuses_a_bad_target_before_ingesting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("DECNET_BUS", "null")
    monkeypatch.setenv("DECNET_SYSLOG_TARGET", "syslog://siem:514")
    monkeypatch.delenv("DECNET_MODE", raising=False)
    monkeypatch.delenv("DECNET_DB_URL", raising=False)
    assert main(["ingest", "--once"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error[BAD_SYSLOG_TARGET]: ")
    assert not (tmp_path / "syslog-forward.json").exists()
    assert not (tmp_path / "ingest.log").exists()
