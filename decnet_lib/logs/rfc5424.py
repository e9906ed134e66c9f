"""RFC 5424 syslog lines, one per emulator event (what the agent writes to its log file).

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [decnet@32473 k="v" ...] MSG

Header fields keep to PRINTUSASCII (anything else becomes `_`), absent ones are the NILVALUE
`-`. SD-PARAM values are UTF-8 with `"`, `\\` and `]` escaped as the RFC says; control
characters, lone surrogates and the Unicode line/paragraph separators are written as `\\xNN` /
`\\uNNNN` so that a line never breaks (a decoder shows them as that text). MSG is a short
ASCII summary for humans (same escapes); the structured data is the authoritative record.
"""

from __future__ import annotations

import re
import socket
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from functools import lru_cache

from decnet_lib.deploy import labels as L
from decnet_lib.logs.emulator_line import EmulatorEvent

NILVALUE = "-"
VERSION = 1
LOCAL0 = 16
"""Facility local0 (the default); local0..local7 are 16..23."""
APP_NAME = "decnet"
SD_ID = "decnet@32473"
"""Our SD-ID: `name@<private enterprise number>` (32473 is the PEN reserved for examples)."""

MAX_HOSTNAME = 255
MAX_APP_NAME = 48
MAX_PROCID = 128
MAX_MSGID = 32
MAX_SD_NAME = 32
MAX_SUMMARY_VALUE = 64
"""Characters of an attacker value quoted in MSG (the SD keeps the whole value)."""


class Severity(IntEnum):
    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7


SEVERITY_BY_EVENT: dict[str, Severity] = {
    "login": Severity.WARNING,  # credentials were tried
    "command": Severity.NOTICE,
    "request": Severity.NOTICE,
    "data": Severity.NOTICE,
    "datagram": Severity.NOTICE,
    "bad_ident": Severity.NOTICE,
    "tls_request": Severity.NOTICE,
    "connect": Severity.INFO,
    "client_version": Severity.INFO,
    "kexinit": Severity.INFO,
}
_CREDENTIAL_WORDS = ("login", "auth", "cred", "passw")


def severity_for(event: str) -> Severity:
    """Credential attempts are warnings, connections info, anything else a notice."""
    known = SEVERITY_BY_EVENT.get(event)
    if known is not None:
        return known
    lowered = event.lower()
    if any(word in lowered for word in _CREDENTIAL_WORDS):
        return Severity.WARNING
    return Severity.NOTICE


# -- field encodings -----------------------------------------------------------------------


_PRINTUSASCII = re.compile(r"[!-~]*")
_PRINTABLE = re.compile(r"[ -~]*")
_PLAIN_VALUE = re.compile(r'[ !#-\[^-~]*')
"""A PARAM-VALUE that needs no escape: printable ASCII without `"`, `\\` and `]`."""


def _printusascii(value: str | None, limit: int, forbidden: str = "") -> str:
    """Characters 33..126 only (others become `_`), cut to `limit`; "" when nothing is left."""
    if not value:
        return ""
    if len(value) <= limit and _PRINTUSASCII.fullmatch(value) and \
            not any(c in value for c in forbidden):
        return value
    out = "".join(
        c if "!" <= c <= "~" and c not in forbidden else "_" for c in value[:limit]
    )
    return out


def header_field(value: str | None, limit: int) -> str:
    """A HOSTNAME / APP-NAME / PROCID / MSGID value, or NILVALUE when absent."""
    return _printusascii(value, limit) or NILVALUE


@lru_cache(maxsize=1024)
def sd_name(value: str) -> str:
    """An SD-ID or PARAM-NAME: PRINTUSASCII without `=`, space, `]` and `"`, 32 at most."""
    return _printusascii(value, MAX_SD_NAME, forbidden='="]')


def _char_escape(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _breaks_line(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")


def escape_param_value(value: str) -> str:
    """An SD PARAM-VALUE: `"`, `\\`, `]` backslash-escaped; line breakers as `\\xNN`."""
    if _PLAIN_VALUE.fullmatch(value):
        return value
    out: list[str] = []
    for c in value:
        if c in '"\\]':
            out.append("\\" + c)
        elif c.isascii() and c.isprintable():
            out.append(c)
        elif _breaks_line(c):
            out.append(_char_escape(c))
        else:
            out.append(c)
    return "".join(out)


def ascii_text(value: str) -> str:
    """Printable ASCII only: everything else as `\\xNN` / `\\uNNNN` (for MSG)."""
    if _PRINTABLE.fullmatch(value):
        return value
    return "".join(c if " " <= c <= "~" else _char_escape(c) for c in value)


def timestamp(ts: float | None) -> str:
    """RFC 5424 TIMESTAMP in UTC with microseconds, or NILVALUE when not representable."""
    if ts is None:
        return NILVALUE
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return NILVALUE
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def structured_data(sd_id: str, params: Iterable[tuple[str, str | int | None]]) -> str:
    """One SD-ELEMENT; params with value None or an empty name are left out."""
    parts = [sd_name(sd_id) or NILVALUE]
    for name, value in params:
        key = sd_name(name)
        if key and value is not None:
            parts.append(f'{key}="{escape_param_value(str(value))}"')
    return "[" + " ".join(parts) + "]"


def format_line(
    *,
    severity: int,
    msgid: str | None,
    params: Iterable[tuple[str, str | int | None]],
    msg: str = "",
    ts: float | None = None,
    facility: int = LOCAL0,
    hostname: str | None = None,
    app_name: str | None = APP_NAME,
    procid: str | None = None,
    sd_id: str = SD_ID,
) -> str:
    """One RFC 5424 line (no newline) with a single SD-ELEMENT."""
    if not 0 <= facility <= 23:
        raise ValueError(f"syslog facility must be 0..23, not {facility}")
    if not 0 <= severity <= 7:
        raise ValueError(f"syslog severity must be 0..7, not {severity}")
    header = " ".join((
        f"<{facility * 8 + severity}>{VERSION}",
        timestamp(ts),
        header_field(hostname, MAX_HOSTNAME),
        header_field(app_name, MAX_APP_NAME),
        header_field(procid, MAX_PROCID),
        header_field(msgid, MAX_MSGID),
    ))
    line = f"{header} {structured_data(sd_id, params)}"
    return f"{line} {ascii_text(msg)}" if msg else line


# -- emulator events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventSource:
    """Where an event was collected: the container and what its labels say."""

    container_id: str | None = None
    topology: str | None = None
    topology_id: str | None = None
    decky: str | None = None
    service: str | None = None

    @classmethod
    def from_labels(cls, labels: Mapping[str, str] | None, container_id: str | None = None
                    ) -> EventSource:
        labels = labels or {}
        return cls(
            container_id=container_id,
            topology=labels.get(L.TOPOLOGY_NAME) or None,
            topology_id=labels.get(L.TOPOLOGY_ID) or None,
            decky=labels.get(L.DECKY) or None,
            service=labels.get(L.SERVICE) or None,
        )

    @property
    def short_id(self) -> str | None:
        return self.container_id[:12] if self.container_id else None


CORE_PARAMS = ("topology", "topology_id", "decky", "service", "container", "event",
               "src_ip", "src_port", "dst_port", "proto", "truncated")


def event_params(event: EmulatorEvent, source: EventSource) -> list[tuple[str, str | int | None]]:
    """The SD-PARAMs of one event: labels first, then the attack, then the event's fields.

    The container's labels win over what the emulator says (a differing `decky` field is
    kept as `f_decky`, a differing service as `svc`); `dport`/`proto` become `dst_port`/`proto`.
    """
    fields = dict(event.fields)
    dst_port = event.dst_port
    if dst_port is not None:
        fields.pop("dport", None)
    proto = fields.pop("proto", None) or None
    service = source.service or event.service
    if event.service != service:
        fields.setdefault("svc", event.service)
    core: dict[str, str | int | None] = {
        "topology": source.topology or None,
        "topology_id": source.topology_id or None,
        "decky": source.decky or fields.get("decky") or None,
        "service": service or None,
        "container": source.short_id,
        "event": event.event,
        "src_ip": event.src_ip,
        "src_port": event.src_port,
        "dst_port": dst_port,
        "proto": proto,
        "truncated": "1" if event.truncated else None,
    }
    params: list[tuple[str, str | int | None]] = list(core.items())
    taken = set(CORE_PARAMS)
    for name, value in fields.items():
        key = sd_name(name)
        if key in taken:
            if str(core.get(key)) == value:
                continue  # the emulator said the same thing
            key = sd_name("f_" + key)
        if not key or key in taken:
            continue
        taken.add(key)
        params.append((key, value))
    return params


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _quote(value: str) -> str:
    cut = value[:MAX_SUMMARY_VALUE] + ("..." if len(value) > MAX_SUMMARY_VALUE else "")
    return '"' + cut.replace("\\", "\\\\").replace('"', '\\"') + '"'


def summary(event: EmulatorEvent, source: EventSource) -> str:
    """A short human sentence: `login on web01/ssh from 203.0.113.7:51234 user="root"`."""
    where = f"{source.decky or event.fields.get('decky') or '?'}/{source.service or event.service}"
    text = f"{event.event} on {where} from {_endpoint(event.src_ip, event.src_port)}"
    details = [f"{key}={_quote(event.fields[key])}"
               for key in ("user", "method", "path", "cmd", "qname", "tls_sni")
               if event.fields.get(key)]
    return " ".join([text, *details])


def format_event(
    event: EmulatorEvent,
    source: EventSource,
    *,
    facility: int = LOCAL0,
    hostname: str | None = None,
    sd_id: str = SD_ID,
) -> str:
    """The RFC 5424 line of one emulator event (MSGID = event name, PROCID = container)."""
    return format_line(
        severity=severity_for(event.event),
        msgid=event.event,
        params=event_params(event, source),
        msg=summary(event, source),
        ts=event.ts,
        facility=facility,
        hostname=socket.gethostname() if hostname is None else hostname,
        procid=source.short_id,
        sd_id=sd_id,
    )
