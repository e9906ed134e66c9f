"""snmp: an SNMP agent answering like net-snmp 5.9 on Debian (Windows personas: the Windows
SNMP service, v1/v2c only).

* SNMPv1/v2c GET, GETNEXT and GETBULK for the configured community (config `community`,
  default "public"; a list allows several) over the MIB of `_snmp_mib` (system with
  sysORTable, interfaces, ip scalars, hrSystem); a walk ends with endOfMibView (v2c) or
  noSuchName (v1). SET is refused (noAccess, v1 noSuchName). Config `sys_descr`,
  `sys_contact`, `sys_location` override the persona's values.
* A wrong community gets no answer, as net-snmp gives none, and is recorded.
* SNMPv3: a discovery (or any request for another engine) gets a Report of
  usmStatsUnknownEngineIDs with the persona's net-snmp engine ID (80001f8880...); a request
  for this engine a Report of usmStatsUnknownUserNames (no user exists).

Events: `login` (community and password = the community, version, success=false) for a wrong
community; `query` (community, version, pdu, oids, request_id) for an accepted request;
`command` (pdu=set, oids) for SET; SNMPv3: `login` (username, engine_id, auth, priv,
success=false; when authenticated also auth_params and message_b64, the message with its
authentication parameters zeroed: what hashcat -m 25000/25100 cracks) or `query`
(pdu=discovery); `data` for what is not SNMP.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from decnet_emu.persona import Persona
from decnet_emu.protocols import _snmp_mib as mibs
from decnet_emu.protocols import _win_ber as ber
from decnet_emu.session import Datagram

GET, GETNEXT, RESPONSE, SET, TRAP, GETBULK, INFORM, TRAP2, REPORT = range(0xA0, 0xA9)
PDU_NAMES = {GET: "get", GETNEXT: "getnext", GETBULK: "getbulk", SET: "set"}
TOO_BIG, NO_SUCH_NAME, NO_ACCESS = 1, 2, 6
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82
MAX_VARBINDS = 512
MAX_MESSAGE = 1472  # net-snmp's default maximum message size over UDP
MAX_BULK_BYTES = 1300  # a GETBULK answer fits one Ethernet frame (and amplifies little)
UNKNOWN_ENGINE_IDS = "1.3.6.1.6.3.15.1.1.4.0"
UNKNOWN_USER_NAMES = "1.3.6.1.6.3.15.1.1.3.0"


class Agent:
    """One persona's agent: its MIB, engine ID and statistics counters."""

    def __init__(self, persona: Persona, config: dict[str, Any]) -> None:
        self.started = time.time()
        self.mib = mibs.build(persona, config, self.started)
        raw = config.get("community", "public")
        self.communities = {str(c).encode() for c in (raw if isinstance(raw, list) else [raw])}
        self.windows = persona.is_windows
        self.engine_id = bytes.fromhex("80001f8880") + persona.derive("snmp-engine", 8)
        self.boots = 1 + persona.number("snmp-boots", 30)
        self.unknown_engine_ids = 0
        self.unknown_user_names = 0

    @property
    def engine_time(self) -> int:
        return int(time.time() - self.started)


_AGENTS: dict[tuple[int, int], Agent] = {}


def agent_for(persona: Persona, config: dict[str, Any]) -> Agent:
    key = (id(persona), id(config))
    if key not in _AGENTS:
        _AGENTS[key] = Agent(persona, config)
    return _AGENTS[key]


# -- encoding ----------------------------------------------------------------------------
def _value(value: mibs.Value) -> bytes:
    tag, data = value
    if tag == mibs.OID:
        return ber.oid(str(data))
    if tag == mibs.OCTETS:
        return ber.octets(bytes(data))
    if tag in (mibs.NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW):
        return bytes([tag, 0])
    return ber.integer(int(data), tag)


def _varbinds(pairs: list[tuple[mibs.Oid, bytes]]) -> bytes:
    return ber.tlv(ber.SEQUENCE, b"".join(
        ber.tlv(ber.SEQUENCE, ber.oid(".".join(map(str, oid))) + value) for oid, value in pairs))


def _pdu(tag: int, request_id: int, status: int, index: int, varbinds: bytes) -> bytes:
    return ber.tlv(tag, ber.integer(request_id) + ber.integer(status) + ber.integer(index)
                   + varbinds)


# -- v1 / v2c ----------------------------------------------------------------------------
def _oids(varbinds: bytes) -> list[tuple[mibs.Oid, bytes]]:
    """(OID, raw value) of each request varbind."""
    out = []
    for tag, body in ber.items(varbinds, MAX_VARBINDS):
        if tag != ber.SEQUENCE:
            raise ValueError("bad varbind")
        (otag, obody), (vtag, vbody) = ber.items(body, 2)
        if otag != ber.OID:
            raise ValueError("bad varbind name")
        out.append((mibs.parse_oid(ber.oid_text(obody) or "0"), ber.tlv(vtag, vbody)))
    return out


Varbinds = list[tuple[mibs.Oid, bytes]]


def _respond(agent: Agent, version: int, pdu: int, fields: list[int],
             request: Varbinds) -> tuple[int, int, Varbinds]:
    """(error status, error index, varbinds) of the response to a get/getnext/getbulk."""
    v1 = version == 0
    out: list[tuple[mibs.Oid, bytes]] = []
    if pdu == GET:
        for position, (oid, _raw) in enumerate(request, 1):
            found = agent.mib.get(oid)
            if found is None:
                if v1:
                    return NO_SUCH_NAME, position, request
                tag = NO_SUCH_INSTANCE if agent.mib.has_object(oid) else NO_SUCH_OBJECT
                out.append((oid, bytes([tag, 0])))
            else:
                out.append((oid, _value(found)))
        return 0, 0, out
    if pdu == GETNEXT:
        for position, (oid, _raw) in enumerate(request, 1):
            step = agent.mib.next_after(oid)
            if step is None:
                if v1:
                    return NO_SUCH_NAME, position, request
                out.append((oid, bytes([END_OF_MIB_VIEW, 0])))
            else:
                out.append((step[0], _value(step[1])))
        return 0, 0, out
    non_repeaters = max(0, min(fields[0], len(request)))
    repetitions = max(0, min(fields[1], MAX_VARBINDS))
    for oid, _raw in request[:non_repeaters]:
        step = agent.mib.next_after(oid)
        out.append((step[0], _value(step[1])) if step else (oid, bytes([END_OF_MIB_VIEW, 0])))
    cursors: list[mibs.Oid | None] = [oid for oid, _raw in request[non_repeaters:]]
    size = 0
    for _ in range(repetitions):
        if not cursors or all(c is None for c in cursors) or len(out) >= MAX_VARBINDS:
            break
        for i, oid in enumerate(cursors):
            step = agent.mib.next_after(oid) if oid is not None else None
            if step is None:
                out.append((oid or request[non_repeaters + i][0], bytes([END_OF_MIB_VIEW, 0])))
                cursors[i] = None
            else:
                out.append((step[0], _value(step[1])))
                cursors[i] = step[0]
            size += len(out[-1][1]) + len(out[-1][0]) + 6
        if size > MAX_BULK_BYTES:
            break
    return 0, 0, out


def _community_request(dgram: Datagram, agent: Agent, version: int,
                       elements: list[tuple[int, bytes]]) -> bytes | None:
    community = elements[1][1]
    pdu_tag, pdu_body = elements[2]
    label = "1" if version == 0 else "2c"
    if community not in agent.communities:
        dgram.event("login", community=community, password=community, version=label,
                    success=False)
        return None
    parts = ber.items(pdu_body, 4)
    if pdu_tag not in PDU_NAMES or len(parts) != 4 or (pdu_tag == GETBULK and version == 0):
        dgram.event("data", version=label, pdu=f"0x{pdu_tag:02x}", bytes=len(pdu_body))
        return None
    request_id, first, second = (ber.to_int(parts[i][1]) for i in range(3))
    request = _oids(parts[3][1])
    oids = " ".join(".".join(map(str, oid)) for oid, _raw in request[:8])
    kind = "command" if pdu_tag == SET else "query"
    dgram.event(kind, community=community, version=label, pdu=PDU_NAMES[pdu_tag], oids=oids,
                request_id=request_id)
    if pdu_tag == SET:
        status, index, varbinds = (NO_SUCH_NAME if version == 0 else NO_ACCESS), 1, request
    else:
        status, index, varbinds = _respond(agent, version, pdu_tag, [first, second], request)
    pdu = _pdu(RESPONSE, request_id, status, index, _varbinds(varbinds))
    if len(pdu) > MAX_MESSAGE:  # tooBig, as net-snmp answers past its message size
        pdu = _pdu(RESPONSE, request_id, TOO_BIG, 0, _varbinds(request if version == 0 else []))
    return ber.tlv(ber.SEQUENCE, ber.integer(version) + ber.octets(community) + pdu)


# -- v3 ----------------------------------------------------------------------------------
def _v3_request(dgram: Datagram, agent: Agent, elements: list[tuple[int, bytes]],
                message: bytes) -> bytes | None:
    if agent.windows or len(elements) < 4:
        dgram.event("data", version="3", bytes=sum(len(body) for _tag, body in elements))
        return None
    header = ber.items(elements[1][1], 4)
    msg_id = ber.to_int(header[0][1])
    flags = header[2][1][:1] or b"\0"
    security = ber.items(ber.items(elements[2][1], 1)[0][1], 6)
    engine_id, user, auth_params = (security[i][1] for i in (0, 3, 4))
    request_id = 0
    if elements[3][0] == ber.SEQUENCE:  # a plaintext scoped PDU
        scoped = ber.items(elements[3][1], 3)
        if len(scoped) == 3 and len(ber.items(scoped[2][1], 4)) == 4:
            request_id = ber.to_int(ber.items(scoped[2][1], 4)[0][1])
    if user:
        dgram.event("login", username=user, engine_id=engine_id.hex(), version="3",
                    auth=bool(flags[0] & 1), priv=bool(flags[0] & 2),
                    auth_params=auth_params.hex() or None, msg_id=msg_id, success=False,
                    message_b64=base64.b64encode(message.replace(auth_params, bytes(len(
                        auth_params)), 1)).decode() if auth_params else None)
    else:
        dgram.event("query", version="3", pdu="discovery", engine_id=engine_id.hex(),
                    msg_id=msg_id)
    if engine_id != agent.engine_id:
        agent.unknown_engine_ids += 1
        oid, count = UNKNOWN_ENGINE_IDS, agent.unknown_engine_ids
    else:
        agent.unknown_user_names += 1
        oid, count = UNKNOWN_USER_NAMES, agent.unknown_user_names
    if not flags[0] & 4:
        return None  # not reportable: net-snmp drops it silently
    varbinds = _varbinds([(mibs.parse_oid(oid), ber.integer(count, mibs.COUNTER32))])
    report = _pdu(REPORT, request_id, 0, 0, varbinds)
    usm = ber.tlv(ber.SEQUENCE, ber.octets(agent.engine_id) + ber.integer(agent.boots)
                  + ber.integer(agent.engine_time) + ber.octets(user) + ber.octets(b"")
                  + ber.octets(b""))
    glob = ber.tlv(ber.SEQUENCE, ber.integer(msg_id) + ber.integer(65507)
                   + ber.octets(b"\0") + ber.integer(3))
    scoped_pdu = ber.tlv(ber.SEQUENCE, ber.octets(agent.engine_id) + ber.octets(b"") + report)
    return ber.tlv(ber.SEQUENCE, ber.integer(3) + glob + ber.octets(usm) + scoped_pdu)


def datagram(dgram: Datagram, data: bytes) -> bytes | None:
    """One SNMP message: answered as net-snmp would, recorded."""
    agent = agent_for(dgram.persona, dgram.config)
    try:
        tag, body, _end = ber.read(data)
        elements = ber.items(body, 8) if tag == ber.SEQUENCE else []
        version = ber.to_int(elements[0][1]) if elements and elements[0][0] == ber.INTEGER \
            else -1
        if version in (0, 1) and len(elements) == 3 and elements[1][0] == ber.OCTET_STRING:
            return _community_request(dgram, agent, version, elements)
        if version == 3:
            return _v3_request(dgram, agent, elements, data)
    except (ValueError, IndexError):
        pass
    dgram.event("data", bytes=len(data), data=data[:256])
    return None
