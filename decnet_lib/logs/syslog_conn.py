"""A connection to a SIEM's syslog listener that says which frames the peer received.

Syslog over TCP (RFC 6587) and TLS (RFC 5425) has no application-level acknowledgement, so
`deliver` waits for the peer's TCP stack to acknowledge the bytes: after each frame is
written it notes the stream offset its last byte has (bytes acknowledged so far + bytes still
queued, Linux `TCP_INFO` and `SIOCOUTQ`), then waits until the acknowledged count passes each
offset. A frame counts as delivered only once the receiving kernel holds all of it; when the
connection breaks midway, the frames before the break still count and the rest are resent
on a new connection. UDP has no acknowledgement: a datagram counts as delivered unless the
local stack reports the target unreachable (an ICMP error, immediate on the same host).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import socket
import ssl
import struct
import termios
import time
from collections.abc import Sequence
from pathlib import Path

from decnet_lib.logs.syslog_target import BadSyslogTarget, SyslogTarget

CONNECT_TIMEOUT_S = 10.0
ACK_TIMEOUT_S = 15.0
TCP_ESTABLISHED = 1
_TCP_INFO_LEN = 136
_BYTES_ACKED_AT = 120
"""Offset of `tcpi_bytes_acked` (u64) in Linux's `struct tcp_info` (kernel 4.2+)."""


def tls_context(ca: Path | None, cert: Path | None = None,
                key: Path | None = None) -> ssl.SSLContext:
    """Verify the SIEM's certificate (against `ca`, else the system's CAs) and its name;
    present `cert`/`key` when the SIEM asks for a client certificate."""
    if (cert is None) != (key is None):
        raise BadSyslogTarget("DECNET_SYSLOG_CERT and DECNET_SYSLOG_KEY go together")
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        if cert is not None and key is not None:
            context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise BadSyslogTarget(f"cannot load the syslog TLS files: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SyslogConnection:
    """One open connection to the target; `deliver` frames, then `close`."""

    def __init__(self, target: SyslogTarget, context: ssl.SSLContext | None = None,
                 timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.target = target
        self.timeout = timeout
        if target.stream:
            raw = socket.create_connection((target.host, target.port), timeout=timeout)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock: socket.socket = raw
            if target.tls:
                assert context is not None, "a TLS target needs a TLS context"
                try:  # the TLS socket takes the descriptor over: TCP facts come from it
                    self.sock = context.wrap_socket(raw, server_hostname=target.host)
                except BaseException:
                    raw.close()
                    raise
        else:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)
            family, kind, proto, _, address = infos[0]
            self.sock = socket.socket(family, kind, proto)
            self.sock.settimeout(timeout)
            self.sock.connect(address)  # connected: ICMP errors come back to this socket

    # -- TCP facts ---------------------------------------------------------------------------
    def _tcp_info(self) -> bytes:
        return self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)

    def _acked(self) -> int:
        return int(struct.unpack_from("=Q", self._tcp_info(), _BYTES_ACKED_AT)[0])

    def _offset(self) -> int:
        """Where the last byte written so far sits in the stream: acknowledged + still
        queued, read again until no acknowledgement came in between (exact, never late)."""
        while True:
            acked = self._acked()
            queued = struct.unpack("i", fcntl.ioctl(self.sock.fileno(), termios.TIOCOUTQ,
                                                    b"\0\0\0\0"))[0]
            if self._acked() == acked:
                return acked + queued

    def _broken(self) -> OSError | None:
        """The error of a connection that failed or that the peer closed, else None."""
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            return OSError(code, f"syslog target {self.target}: {errno.errorcode.get(code)}")
        if self._tcp_info()[0] != TCP_ESTABLISHED:
            return ConnectionResetError(f"syslog target {self.target} closed the connection")
        return None

    def alive(self) -> bool:
        """False when the peer closed the connection (an idle timeout) or it failed."""
        return not self.target.stream or self._broken() is None

    # -- delivering ------------------------------------------------------------------------
    def deliver(self, frames: Sequence[bytes]) -> tuple[int, Exception | None]:
        """Send `frames` in order: how many of the first ones the peer received, and the
        error that stopped the rest (then the connection is unusable: close it)."""
        if not frames:
            return 0, None
        if not self.target.stream:
            return self._deliver_datagrams(frames)
        error: Exception | None = self._broken()
        if error is not None:
            return 0, error
        ends: list[int] = []
        try:
            for data in frames:
                self.sock.sendall(data)
                ends.append(self._offset())
        except (OSError, ssl.SSLError) as exc:
            error = exc
        if not ends:
            return 0, error
        return self._wait_acked(ends, error)

    def _wait_acked(self, ends: list[int], error: Exception | None
                    ) -> tuple[int, Exception | None]:
        deadline = time.monotonic() + ACK_TIMEOUT_S
        pause = 0.0005
        while True:
            acked = self._acked()
            done = sum(1 for end in ends if end <= acked)
            if done == len(ends) or error is not None:
                return done, error
            error = self._broken()
            if error is None and time.monotonic() > deadline:
                error = TimeoutError(f"syslog target {self.target} did not acknowledge a batch "
                                     f"in {ACK_TIMEOUT_S:.0f}s")
            if error is None:
                time.sleep(pause)
                pause = min(pause * 2, 0.05)

    def _deliver_datagrams(self, frames: Sequence[bytes]) -> tuple[int, Exception | None]:
        for done, data in enumerate(frames):
            try:
                self.sock.send(data)
            except OSError as exc:
                return done, exc
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:  # this datagram met a closed port
                return done, OSError(code, f"syslog target {self.target}: "
                                           f"{errno.errorcode.get(code)}")
        return len(frames), None

    def close(self) -> None:
        """Close; over TLS say so first (close_notify), as RFC 5425 asks."""
        if isinstance(self.sock, ssl.SSLSocket):
            with contextlib.suppress(OSError, ValueError):
                self.sock.settimeout(1.0)
                self.sock.unwrap()
        self.sock.close()
