"""mqtt: a Mosquitto 2.0 broker (MQTT 3.1, 3.1.1 and 5.0).

Every CONNECT is parsed and recorded (client id, username, password, will). As Mosquitto 2
with `allow_anonymous false` and a password file, the broker answers CONNACK "not
authorized" (3.x return code 5, 5.0 reason 0x87) and closes, unless `anonymous` is true
(every client accepted, like `allow_anonymous true` without a password file) or the
credentials are in `accept`. An accepted client can SUBSCRIBE (retained `$SYS/broker/...`
topics like Mosquitto's, `$SYS/broker/version` = `mosquitto version X`, which is how
`nmap -sV`'s mqtt-subscribe names Mosquitto), UNSUBSCRIBE, PUBLISH (QoS 0-2; retained
messages kept in memory, bounded), PINGREQ and DISCONNECT. Anything but a CONNECT first
closes the connection, as Mosquitto does.

Config keys: `version` (default: the persona's `versions.mqtt`, else `2.0.11`),
`anonymous` (default false), `accept` (list of `{user, password}` that log in).

Events: `login` (`client_id`, `username`, `password`, `protocol` 3.1/3.1.1/5.0,
`keepalive`, `will_topic`, `will_payload`, `success`), `command` (`command` SUBSCRIBE,
UNSUBSCRIBE or PUBLISH, `topic`, `payload`, `qos`, `retain`), `data` (malformed packets).
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from collections import OrderedDict
from typing import Any

from decnet_emu.session import Session

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = range(8, 15)
MAX_PACKET = 256 * 1024  # a decoy keeps its memory small (Mosquitto allows 256 MB)
PROTOCOLS = {(b"MQIsdp", 3): "3.1", (b"MQTT", 4): "3.1.1", (b"MQTT", 5): "5.0"}
NOT_AUTHORIZED_V3, NOT_AUTHORIZED_V5 = 5, 0x87
RETAINED_MAX, RETAINED_PAYLOAD_MAX = 100, 1024
_retained: OrderedDict[str, bytes] = OrderedDict()  # shared by the connections of a broker


class Malformed(ValueError):
    """A packet Mosquitto would drop the connection for."""


class Reader:
    """Fields of one packet body."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise Malformed("truncated packet")
        chunk = self.data[self.pos: self.pos + size]
        self.pos += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def binary(self) -> bytes:
        return self.take(self.u16())

    def varint(self) -> int:
        value, shift = 0, 0
        for _ in range(4):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        raise Malformed("bad variable byte integer")

    def properties(self) -> bytes:
        return self.take(self.varint())

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def packet(kind: int, body: bytes, flags: int = 0) -> bytes:
    return bytes([kind << 4 | flags]) + varint(len(body)) + body


def utf8(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(data)) + data


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic matching (`+`, `#`; wildcards at the start do not match `$` topics)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels, topics = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(levels):
        if level == "#":
            return True
        if index >= len(topics) or (level != "+" and level != topics[index]):
            return False
    return len(levels) == len(topics)


async def read_packet(session: Session, connect: bool = False) -> tuple[int, int, bytes] | None:
    """(type, flags, body); None at end of stream or, with `connect`, when the first byte
    cannot start a CONNECT (Mosquitto closes at once)."""
    first = await session.read(1)
    if not first:
        return None
    if connect and first[0] != CONNECT << 4:
        session.event("data", note="not a CONNECT", data=first + await _pending(session))
        return None
    size, shift = 0, 0
    for _ in range(4):
        byte = (await session.read_exactly(1))[0]
        size |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    else:
        raise Malformed("bad remaining length")
    if size > MAX_PACKET:
        raise Malformed("packet too large")
    return first[0] >> 4, first[0] & 0x0F, await session.read_exactly(size)


async def _pending(session: Session) -> bytes:
    """What the client already sent after its first byte (for the record), without waiting."""
    try:
        return await asyncio.wait_for(session.reader.read(64), 0.05)
    except TimeoutError:
        return b""


def sys_topics(session: Session, version: str) -> dict[str, bytes]:
    """Mosquitto's retained broker statistics (deterministic per persona)."""
    persona = session.persona
    uptime = 86400 + persona.number("mqtt-uptime", 86400 * 90)
    clients = 2 + persona.number("mqtt-clients", 12)
    received = 1000 + persona.number("mqtt-received", 500000)
    sent = received * 3 + persona.number("mqtt-sent", 1000)
    values: dict[str, Any] = {
        "version": f"mosquitto version {version}", "uptime": f"{uptime} seconds",
        "clients/total": clients + 3, "clients/connected": clients,
        "clients/disconnected": 3, "clients/maximum": clients + 6, "clients/expired": 0,
        "messages/stored": 40 + clients, "messages/received": received,
        "messages/sent": sent, "subscriptions/count": clients * 2,
        "retained messages/count": 40 + clients, "bytes/received": received * 57,
        "bytes/sent": sent * 61, "store/messages/count": 40 + clients,
        "store/messages/bytes": 1800 + clients * 90,
        "publish/bytes/received": received * 31, "publish/bytes/sent": sent * 29,
        "load/connections/1min": "0.91", "load/messages/received/1min": "12.47"}
    return {f"$SYS/broker/{key}": str(value).encode() for key, value in values.items()}


class MqttSession:
    """One client: its protocol level and subscriptions."""

    def __init__(self, session: Session) -> None:
        self.session = session
        config = session.config
        hint = session.persona.version("mqtt").removeprefix("mosquitto ").strip()
        self.version = str(config.get("version") or hint or "2.0.11")
        anonymous = config.get("anonymous", False)
        self.anonymous = anonymous is True or str(anonymous).lower() == "true"
        self.accept = [(str(a.get("user", "")), str(a.get("password", "")))
                       for a in (config.get("accept") or []) if isinstance(a, dict)]
        self.level = 4
        self.subscriptions: dict[str, int] = {}
        self.next_id = 1

    @property
    def v5(self) -> bool:
        return self.level == 5

    # -- CONNECT -------------------------------------------------------------------------
    async def connect(self, body: bytes) -> bool:
        """Parse, record and answer the CONNECT; True when the client is in."""
        data = Reader(body)
        name = data.binary()
        self.level = data.u8()
        protocol = PROTOCOLS.get((name, self.level))
        if protocol is None:
            self.session.event("data", note="unsupported protocol", protocol_name=name,
                               level=self.level)
            if name in (b"MQTT", b"MQIsdp"):  # Mosquitto: unacceptable protocol version
                self.level = min(self.level, 4)
                await self.session.send(packet(CONNACK, b"\x00\x01"))
            return False
        flags = data.u8()
        if flags & 0x01 or (flags >> 3) & 0x03 == 3 or (self.level == 4 and flags & 0xC0 == 0x40):
            raise Malformed("bad CONNECT flags")  # Mosquitto drops these without a CONNACK
        keepalive = data.u16()
        if self.v5:
            data.properties()
        client_id = data.binary()
        will_topic = will_payload = username = password = None
        if flags & 0x04:
            if self.v5:
                data.properties()
            will_topic, will_payload = data.binary(), data.binary()
        if flags & 0x80:
            username = data.binary()
        if flags & 0x40:
            password = data.binary()
        ok = self.allowed(username, password)
        self.session.event("login", client_id=client_id, username=username,
                           password=password, protocol=protocol, keepalive=keepalive,
                           will_topic=will_topic, will_payload=will_payload, success=ok)
        if not ok:
            code = NOT_AUTHORIZED_V5 if self.v5 else NOT_AUTHORIZED_V3
            await self.session.send(packet(CONNACK, bytes([0, code]) + (b"\x00" if self.v5
                                                                          else b"")))
            return False
        if not client_id and (not self.v5 and (self.level == 3 or not flags & 0x02)):
            await self.session.send(packet(CONNACK, b"\x00\x02"))  # identifier rejected
            return False
        properties = b""
        if self.v5:
            properties = b"\x22" + struct.pack(">H", 10)  # topic alias maximum
            if not client_id:
                assigned = f"auto-{os.urandom(16).hex().upper()}"
                properties += b"\x12" + utf8(assigned)
            properties = varint(len(properties)) + properties
        await self.session.send(packet(CONNACK, b"\x00\x00" + properties))
        return True

    def allowed(self, username: bytes | None, password: bytes | None) -> bool:
        if self.anonymous:
            return True
        if username is None:
            return False
        given = (username.decode("utf-8", "replace"),
                 (password or b"").decode("utf-8", "replace"))
        return given in self.accept

    # -- after CONNACK -------------------------------------------------------------------
    def publish_packet(self, topic: str, payload: bytes, qos: int, retain: bool) -> bytes:
        body = utf8(topic)
        if qos:
            body += struct.pack(">H", self.next_id)
            self.next_id = self.next_id % 65535 + 1
        if self.v5:
            body += b"\x00"
        return packet(PUBLISH, body + payload, (qos << 1) | int(retain))

    async def subscribe(self, body: bytes) -> None:
        data = Reader(body)
        packet_id = data.u16()
        if self.v5:
            data.properties()
        granted, filters = [], []
        while data.left:
            topic_filter = data.binary().decode("utf-8", "replace")
            qos = data.u8() & 0x03
            self.session.event("command", command="SUBSCRIBE", topic=topic_filter, qos=qos)
            filters.append(topic_filter)
            self.subscriptions[topic_filter] = min(qos, 2)
            granted.append(min(qos, 2))
        head = struct.pack(">H", packet_id) + (b"\x00" if self.v5 else b"")
        await self.session.send(packet(SUBACK, head + bytes(granted)))
        retained = {**sys_topics(self.session, self.version), **_retained}
        for topic, payload in retained.items():
            for topic_filter in filters:
                if matches(topic_filter, topic):
                    qos = min(self.subscriptions[topic_filter], 1)
                    await self.session.send(self.publish_packet(topic, payload, qos, True))
                    break

    async def publish(self, flags: int, body: bytes) -> None:
        data = Reader(body)
        qos, retain = (flags >> 1) & 0x03, bool(flags & 0x01)
        topic = data.binary().decode("utf-8", "replace")
        packet_id = data.u16() if qos else 0
        if self.v5:
            data.properties()
        payload = data.take(data.left)
        self.session.event("command", command="PUBLISH", topic=topic, payload=payload,
                           qos=qos, retain=retain)
        if retain and not topic.startswith("$") and len(payload) <= RETAINED_PAYLOAD_MAX:
            _retained.pop(topic, None)
            if payload:
                _retained[topic] = payload
                while len(_retained) > RETAINED_MAX:
                    _retained.popitem(last=False)
        if qos == 1:
            await self.session.send(packet(PUBACK, struct.pack(">H", packet_id)))
        elif qos == 2:
            await self.session.send(packet(PUBREC, struct.pack(">H", packet_id)))
        for topic_filter, granted in self.subscriptions.items():
            if matches(topic_filter, topic):
                await self.session.send(self.publish_packet(topic, payload, min(qos, granted),
                                                            False))
                break

    async def unsubscribe(self, body: bytes) -> None:
        data = Reader(body)
        packet_id = data.u16()
        if self.v5:
            data.properties()
        count = 0
        while data.left:
            topic_filter = data.binary().decode("utf-8", "replace")
            self.session.event("command", command="UNSUBSCRIBE", topic=topic_filter)
            self.subscriptions.pop(topic_filter, None)
            count += 1
        tail = b"\x00" + b"\x00" * count if self.v5 else b""
        await self.session.send(packet(UNSUBACK, struct.pack(">H", packet_id) + tail))

    async def serve(self) -> None:
        """Packets of a connected client until DISCONNECT or the end of the stream."""
        while True:
            item = await read_packet(self.session)
            if item is None:
                return
            kind, flags, body = item
            if kind == PUBLISH:
                await self.publish(flags, body)
            elif kind == SUBSCRIBE:
                await self.subscribe(body)
            elif kind == UNSUBSCRIBE:
                await self.unsubscribe(body)
            elif kind == PINGREQ:
                await self.session.send(packet(PINGRESP, b""))
            elif kind == PUBREL:
                await self.session.send(packet(PUBCOMP, body[:2]))
            elif kind in (PUBACK, PUBREC, PUBCOMP):
                if kind == PUBREC:
                    await self.session.send(packet(PUBREL, body[:2], 0x02))
            elif kind == DISCONNECT:
                return
            else:  # a second CONNECT or AUTH: Mosquitto drops the client
                self.session.event("data", note="unexpected packet", packet_type=kind)
                return


async def handle(session: Session) -> None:
    state = MqttSession(session)
    started = time.monotonic()
    try:
        item = await read_packet(session, connect=True)
        if item is None:
            return
        if await state.connect(item[2]):
            await state.serve()
    except Malformed as exc:
        session.event("data", note=f"malformed: {exc}",
                      seconds=f"{time.monotonic() - started:.3f}")
