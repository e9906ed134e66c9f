"""Read a followed log stream in batches: whatever it has delivered, without waiting for more.

Docker hands a followed container's stdout over one frame per line. `StreamBatches` reads
the frames on its own thread into a bounded queue; its iterator blocks for the first frame
only, then takes every frame already queued (up to `max_frames`) and yields them as one
chunk. A burst thus becomes few large chunks (one journal transaction each) while a line
arriving alone is yielded at once.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator

MAX_FRAMES = 1000
"""Frames (one line each, from Docker) joined into one chunk at most."""
QUEUE_FRAMES = 4 * MAX_FRAMES
"""Frames read ahead at most (the reader waits for room: a slow consumer slows it)."""
_PUT_POLL_S = 0.1
_END = object()


class StreamBatches:
    """Iterate a blocking stream of chunks as batches of the chunks already read."""

    def __init__(self, stream: Iterable[bytes | str], max_frames: int = MAX_FRAMES,
                 name: str = "decnet-log-reader") -> None:
        self._stream = stream
        self._max = max_frames
        self._queue: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self._closed = threading.Event()
        self._error: BaseException | None = None
        self._reader = threading.Thread(target=self._read, name=name, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for chunk in self._stream:
                if isinstance(chunk, str):  # a TTY container's raw stream may be text
                    chunk = chunk.encode("utf-8", "surrogateescape")
                if not self._put(chunk):
                    return
        except BaseException as exc:  # handed to the consumer, who raises it
            self._error = exc
        self._put(_END)

    def _put(self, item: object) -> bool:
        """Queue one item, waiting for room unless closed; False when closed."""
        while not self._closed.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(item, timeout=_PUT_POLL_S)
                return True
        return False

    def __iter__(self) -> Iterator[bytes]:
        """Chunks: the frames read so far joined, the first waited for; ends with the
        stream (raising what reading it raised)."""
        try:
            while True:
                first = self._queue.get()
                if first is _END:
                    break
                frames = [first]
                ended = False
                while len(frames) < self._max:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _END:
                        ended = True
                        break
                    frames.append(item)
                yield b"".join(frames)  # type: ignore[arg-type]
                if ended:
                    break
            if self._error is not None:
                raise self._error
        finally:
            self._closed.set()

    def close(self) -> None:
        """Stop reading ahead (the caller closes the underlying stream to wake the reader)."""
        self._closed.set()
