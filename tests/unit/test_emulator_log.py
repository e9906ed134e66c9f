"""The emulator log line: encoder, parser, hostile input, and the shell encoder of the images."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decnet_lib.logs.emulator_line import (
    MAX_FIELD_CHARS,
    MAX_LINE,
    MAX_VALUE_BYTES,
    EmulatorEvent,
    encode_value,
    format_line,
    parse_line,
)

LIB_SH = Path(__file__).resolve().parents[2] / "images/emulator/rootfs/opt/decnet/lib.sh"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"

GOOD = "DECNET1 ts=1718000000.5 svc=ssh event=login src=10.1.2.3 sport=5555 user=root"


def test_parses_a_plain_line() -> None:
    event = parse_line(GOOD + "\n")
    assert event == EmulatorEvent(1718000000.5, "ssh", "login", "10.1.2.3", 5555, {"user": "root"})


def test_round_trip_keeps_every_field() -> None:
    line = format_line("http", "request", "192.0.2.7", 40000,
                       {"method": "GET", "path": "/a b?c=d&e", "proto": "tcp", "dport": 80},
                       ts=12.25)
    event = parse_line(line)
    assert event is not None
    assert (event.ts, event.service, event.event) == (12.25, "http", "request")
    assert (event.src_ip, event.src_port, event.dst_port, event.protocol) == (
        "192.0.2.7", 40000, 80, "tcp")
    assert event.fields["path"] == "/a b?c=d&e"


@pytest.mark.parametrize("hostile", [
    "root\nDECNET1 ts=1 svc=ssh event=login src=6.6.6.6 sport=1",
    "a=b c=d",
    "x src=6.6.6.6",
    "spaces   and\ttabs",
    "\r\n\x00\x1b[31m",
    "100%25 %ZZ %",
    "ünïcödé ✓",
])
def test_hostile_values_stay_inside_their_field(hostile: str) -> None:
    line = format_line("telnet", "login", "10.0.0.9", 2323, {"user": hostile, "password": "pw"})
    assert "\n" not in line and "\r" not in line
    assert line.count("=") == 7  # ts svc event src sport user password
    event = parse_line(line)
    assert event is not None
    assert event.src_ip == "10.0.0.9"
    assert event.fields == {"user": hostile, "password": "pw"}


def test_non_utf8_bytes_come_back_escaped() -> None:
    line = format_line("smb", "data", "10.0.0.9", 445, {"data": b"\xff\xfeSMB\x00"})
    event = parse_line(line)
    assert event is not None
    assert event.fields["data"] == "\\xff\\xfeSMB\x00"


def test_non_ascii_or_non_utf8_lines_are_refused() -> None:
    assert parse_line(GOOD.encode() + b" x=\xff") is None
    assert parse_line(GOOD + " x=é") is None
    assert parse_line(GOOD.encode()) is not None


@pytest.mark.parametrize("garbage", [
    "", " ", "\n", "hello world", "DECNET1", "DECNET1 ", "DECNET2 " + GOOD[8:],
    "decnet1 " + GOOD[8:], " " + GOOD, GOOD + " ", GOOD.replace(" ", "  ", 1),
    GOOD + " user=admin",                        # duplicate key
    GOOD + " User=x", GOOD + " 9x=1", GOOD + " a-b=1", GOOD + " =x", GOOD + " novalue",
    GOOD + " k=" + "a" * 10 + " b", GOOD + " k=a b=c=d", GOOD + " k=%G1", GOOD + " k=%4",
    GOOD.replace("src=10.1.2.3", "src=10.1.2.300"), GOOD.replace("src=10.1.2.3", "src="),
    GOOD.replace("sport=5555", "sport=65536"), GOOD.replace("sport=5555", "sport=-1"),
    GOOD.replace("sport=5555", "sport=1.5"), GOOD.replace("ts=1718000000.5", "ts=nan"),
    GOOD.replace("ts=1718000000.5", "ts=inf"), GOOD.replace("ts=1718000000.5", "ts=-1"),
    GOOD.replace("ts=1718000000.5", "ts=x"), GOOD.replace(" svc=ssh", ""),
    GOOD.replace("svc=ssh", "svc="), GOOD.replace("event=login", "event="),
    GOOD + "\x00", GOOD.replace("user=root", "user=ro\tot"), GOOD + "\nsecond line",
])
def test_garbage_gives_none(garbage: str) -> None:
    assert parse_line(garbage) is None


@pytest.mark.parametrize("value", [None, 42, 3.5, [GOOD], object()])
def test_wrong_types_give_none(value: object) -> None:
    assert parse_line(value) is None  # type: ignore[arg-type]


def test_values_are_cut_when_encoded() -> None:
    encoded = encode_value("A" * 10_000)
    assert encoded == "A" * MAX_VALUE_BYTES
    assert len(encode_value("\n" * 10_000)) == 3 * MAX_VALUE_BYTES


def test_very_long_lines_are_truncated_not_refused() -> None:
    filler = " ".join(f"k{i}=" + "%41" * 300 for i in range(30))
    line = GOOD + " " + filler
    assert len(line) > MAX_LINE
    event = parse_line(line)
    assert event is not None and event.truncated
    assert event.fields["user"] == "root"
    assert all(len(value) <= MAX_FIELD_CHARS for value in event.fields.values())
    assert parse_line("DECNET1 " + "x" * 100_000) is None
    for value in ("%41" * 100_000, "A" * 100_000):
        huge = parse_line(GOOD + " k=" + value)  # the pair that was cut is dropped
        assert huge is not None and huge.truncated and huge.fields == {"user": "root"}


def test_decoded_fields_are_capped() -> None:
    event = parse_line(GOOD + " big=" + "B" * (MAX_LINE - len(GOOD) - 10))
    assert event is not None and not event.truncated
    assert len(event.fields["big"]) == MAX_FIELD_CHARS


def test_ipv6_source() -> None:
    event = parse_line(format_line("ssh", "connect", "2001:db8::1", 22))
    assert event is not None and event.src_ip == "2001:db8::1"


def test_format_refuses_bad_field_names() -> None:
    with pytest.raises(ValueError):
        format_line("ssh", "connect", "10.0.0.1", 1, {"src": "forged"})
    with pytest.raises(ValueError):
        format_line("ssh", "connect", "10.0.0.1", 1, {"bad key": "x"})


@given(st.text(max_size=300) | st.binary(max_size=300))
def test_parse_never_raises(data: str | bytes) -> None:
    parse_line(data)
    parse_line(GOOD + " " + data if isinstance(data, str) else GOOD.encode() + b" " + data)


@given(st.text(max_size=200), st.text(max_size=200))
def test_any_text_round_trips(user: str, password: str) -> None:
    event = parse_line(format_line("ftp", "login", "10.9.8.7", 21,
                                   {"user": user, "password": password}))
    assert event is not None
    if len(user.encode()) <= MAX_VALUE_BYTES:
        assert event.fields["user"] == user
    if len(password.encode()) <= MAX_VALUE_BYTES:
        assert event.fields["password"] == password


# --- the shell encoder in images/emulator (busybox sh + awk) must agree with the parser ---

needs_busybox = pytest.mark.skipif(
    not (os.access(BUSYBOX, os.X_OK) and LIB_SH.is_file()), reason="busybox is not installed")


def _busybox_run(*args: bytes | str) -> bytes:
    """dn_log with fd 3 on stdout, every applet taken from busybox itself."""
    bindir = Path(os.environ.get("TMPDIR", "/tmp")) / f"decnet-bb-{os.getpid()}"
    bindir.mkdir(exist_ok=True)
    for applet in ("awk", "od", "tr", "head", "base64", "timeout", "dd"):
        link = bindir / applet
        if not link.exists():
            link.symlink_to(BUSYBOX)
    env = {"PATH": str(bindir), "DECNET_SERVICE": "ssh", "DECNET_SRC": "10.0.0.5",
           "DECNET_SPORT": "4242", "DECNET_PROTO": "tcp", "DECNET_DPORT": "22",
           "DECNET_DECKY": "web-01"}
    result = subprocess.run(
        [BUSYBOX, "sh", "-c", f'. "{LIB_SH}"; dn_log "$@" 3>&1', "sh", *args],
        env=env, capture_output=True, check=True, timeout=20, stdin=subprocess.DEVNULL,
    )
    return result.stdout


@needs_busybox
@pytest.mark.parametrize("hostile", [
    b"root", b"a b=c\nDECNET1 ts=1 svc=x event=y src=6.6.6.6 sport=1", b"\xff\xfe\x80 %41",
    "pässwörd ✓".encode(), b"\x01\x02\x1b[0m\t\r", b"=" * 40,
])
def test_shell_encoder_agrees_with_the_parser(hostile: bytes) -> None:
    out = _busybox_run("login", "user", hostile, "password", "x y")
    assert out.count(b"\n") == 1
    event = parse_line(out)
    assert event is not None
    assert (event.service, event.event, event.src_ip, event.src_port) == (
        "ssh", "login", "10.0.0.5", 4242)
    assert event.fields["user"] == hostile.decode("utf-8", "backslashreplace")
    assert event.fields["password"] == "x y"
    assert event.fields["decky"] == "web-01" and event.dst_port == 22


@needs_busybox
def test_shell_encoder_cuts_long_values_and_checks_pre_encoded_ones() -> None:
    out = _busybox_run("data", "big", "A" * 5000, "=data", "%41%42", "=bad", "a b\nc")
    event = parse_line(out)
    assert event is not None and not event.truncated
    assert event.fields["big"] == "A" * MAX_VALUE_BYTES
    assert event.fields["data"] == "AB"
    assert event.fields["bad"] == "a b\nc"


@needs_busybox
def test_shell_encoder_drops_bad_keys() -> None:
    event = parse_line(_busybox_run("command", "Bad Key", "x", "src", "forged", "cmd", "ls"))
    assert event is not None
    assert event.src_ip == "10.0.0.5"
    assert event.fields.get("cmd") == "ls" and "Bad Key" not in event.fields
