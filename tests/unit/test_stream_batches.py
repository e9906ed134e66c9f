"""StreamBatches: what a blocking stream has delivered comes out as one chunk, no waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from decnet_lib.logs.stream_batches import StreamBatches


def test_delivered_frames_are_joined_and_a_lone_frame_is_not_held() -> None:
    later = threading.Event()

    def frames() -> Iterator[bytes | str]:
        yield from (f"line {n}\n".encode() for n in range(50))
        later.wait(5)
        yield "alone\n"  # a TTY stream's text

    batches = StreamBatches(frames(), max_frames=20)
    chunks = iter(batches)
    time.sleep(0.2)  # the reader has queued the first 50 frames by now
    first = [next(chunks) for _ in range(3)]
    assert [chunk.count(b"\n") for chunk in first] == [20, 20, 10]
    assert b"".join(first) == b"".join(f"line {n}\n".encode() for n in range(50))
    started = time.monotonic()
    later.set()
    assert next(chunks) == b"alone\n"
    assert time.monotonic() - started < 0.5
    assert list(chunks) == []


def test_a_read_error_reaches_the_consumer_after_what_was_read() -> None:
    def frames() -> Iterator[bytes]:
        yield b"a\n"
        raise ConnectionError("stream closed")

    chunks = iter(StreamBatches(frames()))
    with pytest.raises(ConnectionError):
        received = [next(chunks)]
        received.append(next(chunks))
    assert received == [b"a\n"]
