"""Where a SIEM listens (`DECNET_SYSLOG_TARGET`) and how one syslog line is framed for it.

    tcp+tls://host:6514   RFC 5425 (TLS), octet-counted frames
    tcp://host:514        RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`
    udp://host:514        RFC 5426: one datagram per message

The port defaults to 6514 for TLS and 514 otherwise; an IPv6 address goes in brackets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from decnet_lib.errors import DecnetError

Transport = Literal["tcp+tls", "tcp", "udp"]
DEFAULT_PORTS: dict[str, int] = {"tcp+tls": 6514, "tcp": 514, "udp": 514}
MAX_UDP_PAYLOAD = 65507
"""The most one IPv4 UDP datagram carries; a longer line is cut (RFC 5426 allows it)."""


class BadSyslogTarget(DecnetError):
    """DECNET_SYSLOG_TARGET (or its TLS files) is not usable."""

    code = "BAD_SYSLOG_TARGET"


@dataclass(frozen=True, slots=True)
class SyslogTarget:
    """A parsed DECNET_SYSLOG_TARGET."""

    transport: Transport
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.transport == "tcp+tls"

    @property
    def stream(self) -> bool:
        return self.transport != "udp"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}://{host}:{self.port}"


def parse_syslog_target(url: str) -> SyslogTarget:
    """`tcp+tls://host:port`, `tcp://host:port` or `udp://host:port`; else BadSyslogTarget."""
    text = url.strip()
    hint = "use tcp+tls://host:6514, tcp://host:port or udp://host:port"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise BadSyslogTarget(f"DECNET_SYSLOG_TARGET {text!r}: {exc}; {hint}") from None
    transport = parts.scheme.lower()
    if transport not in DEFAULT_PORTS:
        raise BadSyslogTarget(f"DECNET_SYSLOG_TARGET {text!r}: unknown scheme; {hint}")
    if not parts.hostname:
        raise BadSyslogTarget(f"DECNET_SYSLOG_TARGET {text!r}: no host; {hint}")
    if parts.username or parts.password or parts.path not in ("", "/") or parts.query \
            or parts.fragment:
        raise BadSyslogTarget(f"DECNET_SYSLOG_TARGET {text!r}: only a host and a port; {hint}")
    if port == 0:
        raise BadSyslogTarget(f"DECNET_SYSLOG_TARGET {text!r}: port 0; {hint}")
    return SyslogTarget(transport, parts.hostname,  # type: ignore[arg-type]
                        port or DEFAULT_PORTS[transport])


def octet_frame(line: str) -> bytes:
    """RFC 6587 octet counting (also RFC 5425 over TLS): `MSG-LEN SP SYSLOG-MSG`."""
    message = line.encode("utf-8")
    return b"%d %s" % (len(message), message)


def datagram(line: str) -> bytes:
    """RFC 5426: the message alone, cut to what one datagram holds."""
    return line.encode("utf-8")[:MAX_UDP_PAYLOAD]


def frame(target: SyslogTarget, line: str) -> bytes:
    """The bytes of one line for `target`'s transport."""
    return octet_frame(line) if target.stream else datagram(line)
