"""ldap: LDAPv3 over BER as OpenLDAP 2.5 (linux personas) or Active Directory (windows).

* Bind: simple binds (DN + password), SASL (PLAIN, CRAM-MD5, NTLM/GSS-SPNEGO through an
  NTLMSSP challenge) and AD's Sicily NTLM bind are recorded as `login` events and refused
  with invalidCredentials (49) and the product's diagnostic; an anonymous bind succeeds.
* Search: the rootDSE (base "" scope base) is answered from the persona and `base_dn`
  (namingContexts, supportedLDAPVersion, supportedSASLMechanisms, and on AD
  defaultNamingContext, dnsHostName, dsServiceName, domainFunctionality ...); every other
  search is recorded as a `query` and refused as the product refuses anonymous reads.
* Extended: StartTLS (the persona certificate), WhoAmI; writes are recorded (`command`)
  and refused; unbind closes. Anything that is not LDAP is recorded (`data`) and closed.
"""

from __future__ import annotations

import time
from typing import Any

from decnet_emu.protocols import _win_ber as ber
from decnet_emu.protocols import _win_ntlm as ntlm
from decnet_emu.protocols import _win_tls
from decnet_emu.session import Session

MAX_MESSAGE = 256 * 1024
MAX_FILTER_DEPTH = 12
STARTTLS = "1.3.6.1.4.1.1466.20037"
WHOAMI = "1.3.6.1.4.1.4203.1.11.3"

SUCCESS, OPERATIONS_ERROR, PROTOCOL_ERROR, AUTH_METHOD_NOT_SUPPORTED = 0, 1, 2, 7
STRONGER_AUTH, SASL_IN_PROGRESS, NO_SUCH_OBJECT, INVALID_CREDENTIALS = 8, 14, 32, 49
INSUFFICIENT_ACCESS, UNWILLING = 50, 53

AD_BAD_CREDENTIALS = ("80090308: LdapErr: DSID-0C090569, comment: AcceptSecurityContext "
                      "error, data 52e, v4563\0")
AD_NEED_BIND = ("000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this "
                "operation a successful bind must be completed on the connection., "
                "data 0, v4563\0")
AD_UNKNOWN_EXTENDED = ("0000203D: LdapErr: DSID-0C0C0A39, comment: Unknown extended request "
                       "OID, data 0, v4563\0")

# request tag -> response tag of the write operations (modify, add, delete, moddn, compare)
_WRITES = {0x66: (0x67, "modify"), 0x68: (0x69, "add"), 0x4A: (0x4B, "delete"),
           0x6C: (0x6D, "modrdn"), 0x6E: (0x6F, "compare")}


def _seq(tag: int, *parts: bytes) -> bytes:
    """A constructed element with liblber/AD's 4-byte length form."""
    return ber.tlv(tag, b"".join(parts), long_form=True)


def _result(tag: int, code: int, diagnostic: str = "", matched: str = "",
            extra: bytes = b"") -> bytes:
    return _seq(tag, ber.integer(code, ber.ENUMERATED), ber.octets(matched),
                ber.octets(diagnostic), extra)


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def render_filter(tag: int, body: bytes, depth: int = 0) -> str:
    """The RFC 4515 string form of a BER search filter."""
    if depth > MAX_FILTER_DEPTH:
        raise ValueError("filter nested too deep")
    if tag in (0xA0, 0xA1):
        inner = "".join(render_filter(t, b, depth + 1) for t, b in ber.items(body, 256))
        return f"({'&' if tag == 0xA0 else '|'}{inner})"
    if tag == 0xA2:
        ((t, b),) = ber.items(body, 1)
        return f"(!{render_filter(t, b, depth + 1)})"
    if tag == 0x87:
        return f"({_text(body)}=*)"
    if tag in (0xA3, 0xA5, 0xA6, 0xA8):
        (_, attr), (_, value) = ber.items(body, 2)
        op = {0xA3: "=", 0xA5: ">=", 0xA6: "<=", 0xA8: "~="}[tag]
        return f"({_text(attr)}{op}{_text(value)})"
    if tag == 0xA4:
        (_, attr), (_, subs) = ber.items(body, 2)
        parts = {0x80: "", 0x81: "", 0x82: ""}
        middle = []
        for t, b in ber.items(subs, 64):
            if t == 0x81:
                middle.append(_text(b))
            else:
                parts[t] = _text(b)
        return f"({_text(attr)}={'*'.join([parts[0x80], *middle, parts[0x82]])})"
    if tag == 0xA9:
        fields = dict(ber.items(body, 4))
        rule = f":{_text(fields[0x81])}" if 0x81 in fields else ""
        dn = ":dn" if fields.get(0x84, b"\0") != b"\0" else ""
        return f"({_text(fields.get(0x82, b''))}{dn}{rule}:={_text(fields.get(0x83, b''))})"
    raise ValueError(f"unknown filter tag {tag:#x}")


class Directory:
    """What the server says about itself: base DN, names, rootDSE."""

    def __init__(self, session: Session) -> None:
        persona = session.persona
        self.ad = persona.is_windows
        self.names = ntlm.names(persona, session.config)
        configured = str(session.config.get("base_dn") or "")
        parts = [p.split("=", 1)[1] for p in configured.split(",") if "=" in p] or \
            (persona.domain or "corp.internal").split(".")
        self.dns_domain = ".".join(parts).lower()
        self.base = ",".join(f"DC={p}" for p in parts) if self.ad else \
            (configured or ",".join(f"dc={p}" for p in parts))

    def sasl_mechanisms(self) -> list[str]:
        if self.ad:
            return ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"]
        return ["CRAM-MD5", "NTLM", "PLAIN"]

    def root_dse(self) -> list[tuple[str, list[str]]]:
        if not self.ad:
            return [
                ("objectClass", ["top", "OpenLDAProotDSE"]),
                ("structuralObjectClass", ["OpenLDAProotDSE"]),
                ("configContext", ["cn=config"]),
                ("namingContexts", [self.base]),
                ("supportedControl", [
                    "2.16.840.1.113730.3.4.18", "2.16.840.1.113730.3.4.2",
                    "1.3.6.1.4.1.4203.1.10.1", "1.3.6.1.1.22", "1.2.840.113556.1.4.319",
                    "1.2.826.0.1.3344810.2.3", "1.3.6.1.1.13.2", "1.3.6.1.1.13.1",
                    "1.3.6.1.1.12"]),
                ("supportedExtension", [STARTTLS, "1.3.6.1.4.1.4203.1.11.1", WHOAMI,
                                        "1.3.6.1.1.8"]),
                ("supportedFeatures", [
                    "1.3.6.1.1.14", "1.3.6.1.4.1.4203.1.5.1", "1.3.6.1.4.1.4203.1.5.2",
                    "1.3.6.1.4.1.4203.1.5.3", "1.3.6.1.4.1.4203.1.5.4",
                    "1.3.6.1.4.1.4203.1.5.5"]),
                ("supportedLDAPVersion", ["3"]),
                ("supportedSASLMechanisms", self.sasl_mechanisms()),
                ("entryDN", [""]),
                ("subschemaSubentry", ["cn=Subschema"]),
            ]
        return self._ad_root_dse()

    def _ad_root_dse(self) -> list[tuple[str, list[str]]]:
        config = f"CN=Configuration,{self.base}"
        server = (f"CN={self.names.nb_computer},CN=Servers,CN=Default-First-Site-Name,"
                  f"CN=Sites,{config}")
        level = {17763: "7", 20348: "7", 26100: "10", 14393: "7", 9600: "6",
                 9200: "5", 7601: "4"}.get(self.names.version[2], "7")
        usn = str(100000 + int(time.time()) % 400000)
        return [
            ("currentTime", [time.strftime("%Y%m%d%H%M%S.0Z", time.gmtime())]),
            ("subschemaSubentry", [f"CN=Aggregate,CN=Schema,{config}"]),
            ("dsServiceName", [f"CN=NTDS Settings,{server}"]),
            ("namingContexts", [self.base, config, f"CN=Schema,{config}",
                                f"DC=DomainDnsZones,{self.base}",
                                f"DC=ForestDnsZones,{self.base}"]),
            ("defaultNamingContext", [self.base]),
            ("rootDomainNamingContext", [self.base]),
            ("configurationNamingContext", [config]),
            ("schemaNamingContext", [f"CN=Schema,{config}"]),
            ("serverName", [server]),
            ("supportedControl", [
                "1.2.840.113556.1.4.319", "1.2.840.113556.1.4.801", "1.2.840.113556.1.4.473",
                "1.2.840.113556.1.4.528", "1.2.840.113556.1.4.417", "1.2.840.113556.1.4.619",
                "1.2.840.113556.1.4.841", "1.2.840.113556.1.4.529", "1.2.840.113556.1.4.805",
                "1.2.840.113556.1.4.521", "1.2.840.113556.1.4.970", "1.2.840.113556.1.4.1338",
                "1.2.840.113556.1.4.474", "1.2.840.113556.1.4.1339", "1.2.840.113556.1.4.1340",
                "1.2.840.113556.1.4.1413", "2.16.840.1.113730.3.4.9",
                "2.16.840.1.113730.3.4.10", "1.2.840.113556.1.4.1504"]),
            ("supportedLDAPVersion", ["3", "2"]),
            ("supportedLDAPPolicies", [
                "MaxPoolThreads", "MaxPercentDirSyncRequests", "MaxDatagramRecv",
                "MaxReceiveBuffer", "InitRecvTimeout", "MaxConnections", "MaxConnIdleTime",
                "MaxPageSize", "MaxBatchReturnMessages", "MaxQueryDuration", "MaxTempTableSize",
                "MaxResultSetSize", "MinResultSets", "MaxResultSetsPerConn",
                "MaxNotificationPerConn", "MaxValRange", "MaxValRangeTransitive",
                "ThreadMemoryLimit", "SystemMemoryLimitPercent"]),
            ("highestCommittedUSN", [usn]),
            ("supportedSASLMechanisms", self.sasl_mechanisms()),
            ("dnsHostName", [f"{self.names.nb_computer.lower()}.{self.dns_domain}"]),
            ("ldapServiceName", [f"{self.dns_domain}:{self.names.nb_computer.lower()}$@"
                                 f"{self.dns_domain.upper()}"]),
            ("supportedExtension", ["1.3.6.1.4.1.1466.20037", "1.3.6.1.4.1.1466.101.119.1",
                                    "1.2.840.113556.1.4.1781", WHOAMI,
                                    "1.2.840.113556.1.4.2212"]),
            ("supportedCapabilities", ["1.2.840.113556.1.4.800", "1.2.840.113556.1.4.1670",
                                       "1.2.840.113556.1.4.1791", "1.2.840.113556.1.4.1935",
                                       "1.2.840.113556.1.4.2080", "1.2.840.113556.1.4.2237"]),
            ("isSynchronized", ["TRUE"]),
            ("isGlobalCatalogReady", ["TRUE"]),
            ("domainFunctionality", [level]),
            ("forestFunctionality", [level]),
            ("domainControllerFunctionality", [level]),
        ]


class Connection:
    """One LDAP connection: bind state, NTLM exchange, answers."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dir = Directory(session)
        self.bound_dn: str | None = ""  # "" anonymous, None after a failed bind
        self.exchange: ntlm.Exchange | None = None
        self.cram_nonce = b""
        self.tls = False

    async def reply(self, msg_id: int, *ops: bytes) -> None:
        await self.session.send(b"".join(_seq(0x30, ber.integer(msg_id), op) for op in ops))

    # -- bind ---------------------------------------------------------------------------
    async def bind(self, msg_id: int, body: bytes) -> None:
        elements = ber.items(body, 3)
        if len(elements) != 3:
            raise ValueError("bad bind request")
        version, name, (kind, auth) = ber.to_int(elements[0][1]), _text(elements[1][1]), \
            elements[2]
        if version != 3 and not self.dir.ad:
            msg = "historical protocol version requested, use LDAPv3 instead"
            await self.reply(msg_id, _result(0x61, PROTOCOL_ERROR, msg))
            return
        if kind == 0x80:
            await self.simple_bind(msg_id, name, auth)
        elif kind == 0xA3:
            await self.sasl_bind(msg_id, name, auth)
        elif kind in (0x89, 0x8A, 0x8B) and self.dir.ad:
            await self.sicily_bind(msg_id, name, kind, auth)
        else:
            await self.reply(msg_id, _result(0x61, AUTH_METHOD_NOT_SUPPORTED))

    async def fail_bind(self, msg_id: int, **fields: Any) -> None:
        self.session.event("login", **{"success": False, **fields})
        self.bound_dn = None
        await self.reply(msg_id, _result(0x61, INVALID_CREDENTIALS,
                                         AD_BAD_CREDENTIALS if self.dir.ad else ""))

    async def simple_bind(self, msg_id: int, name: str, password: bytes) -> None:
        if not name and not password:
            self.bound_dn = ""
            await self.reply(msg_id, _result(0x61, SUCCESS))
            return
        if not password:
            self.session.event("login", username=name, password="", mech="simple",
                               success=False)
            if self.dir.ad:  # an unauthenticated bind is an anonymous one on AD
                self.bound_dn = ""
                await self.reply(msg_id, _result(0x61, SUCCESS))
            else:
                await self.reply(msg_id, _result(
                    0x61, UNWILLING, "unauthenticated bind (DN with no password) disallowed"))
            return
        await self.fail_bind(msg_id, username=name, password=password, mech="simple")

    async def sasl_bind(self, msg_id: int, name: str, body: bytes) -> None:
        parts = ber.items(body, 2)
        mech = _text(parts[0][1]).upper() if parts else ""
        creds = parts[1][1] if len(parts) > 1 else b""
        if mech == "PLAIN":
            fields = creds.split(b"\0")
            if len(fields) == 3:
                await self.fail_bind(msg_id, username=fields[1], password=fields[2],
                                     authzid=fields[0], mech="SASL/PLAIN")
                return
        elif mech == "CRAM-MD5" and mech in self.dir.sasl_mechanisms():
            await self.cram_md5(msg_id, creds)
            return
        elif mech in ("GSS-SPNEGO", "NTLM") and ntlm.find(creds) is not None:
            await self.ntlm_step(msg_id, creds, f"SASL/{mech}", sicily=False)
            return
        elif mech in self.dir.sasl_mechanisms() or mech == "GSSAPI":
            await self.fail_bind(msg_id, username=name, mech=f"SASL/{mech}",
                                 response=creds[:256])
            return
        self.session.event("login", username=name, mech=f"SASL/{mech}", success=False)
        await self.reply(msg_id, _result(0x61, AUTH_METHOD_NOT_SUPPORTED,
                                         "SASL(-4): no mechanism available: "))

    async def cram_md5(self, msg_id: int, creds: bytes) -> None:
        if not creds:
            host = self.dir.names.dns_computer
            self.cram_nonce = f"<{time.time_ns() % 10**10}.{self.session.id}@{host}>".encode()
            await self.reply(msg_id, _result(0x61, SASL_IN_PROGRESS,
                                             extra=ber.octets(self.cram_nonce, 0x87)))
            return
        user, _, digest = creds.partition(b" ")
        await self.fail_bind(msg_id, username=user, challenge=self.cram_nonce,
                             response=digest, hash=f"{_text(user)}:{_text(digest)}",
                             mech="SASL/CRAM-MD5")

    async def ntlm_step(self, msg_id: int, blob: bytes, mech: str, sicily: bool) -> None:
        if self.exchange is None:
            self.exchange = ntlm.Exchange(self.session.persona, self.session.config,
                                          self.session.id)
        out, auth = self.exchange.answer(blob)
        if out is not None:
            if sicily:  # AD puts the CHALLENGE in matchedDN of a success
                await self.reply(msg_id, _seq(0x61, ber.integer(0, ber.ENUMERATED),
                                              ber.octets(out), ber.octets("")))
            else:
                await self.reply(msg_id, _result(0x61, SASL_IN_PROGRESS,
                                                 extra=ber.octets(out, 0x87)))
            return
        assert auth is not None
        fields = auth.fields(self.exchange.challenge)
        fields["mech"] = mech
        self.exchange = None
        await self.fail_bind(msg_id, **fields)

    async def sicily_bind(self, msg_id: int, name: str, kind: int, blob: bytes) -> None:
        if kind == 0x89:  # package discovery
            await self.reply(msg_id, _seq(0x61, ber.integer(0, ber.ENUMERATED),
                                          ber.octets("NTLM"),
                                          ber.octets("")))
            return
        await self.ntlm_step(msg_id, blob, "Sicily/NTLM", sicily=True)

    # -- search -------------------------------------------------------------------------
    async def search(self, msg_id: int, body: bytes) -> None:
        parts = ber.items(body, 8)
        if len(parts) != 8:
            raise ValueError("bad search request")
        base = _text(parts[0][1])
        scope = ber.to_int(parts[1][1])
        query = render_filter(*parts[6])
        attrs = [_text(b) for _, b in ber.items(parts[7][1], 256)]
        self.session.event("query", query=query, base=base, scope=str(scope),
                           attributes=",".join(attrs)[:256])
        if base == "" and scope == 0:
            await self.reply(msg_id, self.entry("", self.dir.root_dse(), attrs),
                             _result(0x65, SUCCESS))
            return
        if self.dir.ad:
            await self.reply(msg_id, _result(0x65, OPERATIONS_ERROR, AD_NEED_BIND))
        elif base.lower().endswith(self.dir.base.lower()):
            await self.reply(msg_id, _result(0x65, INSUFFICIENT_ACCESS))
        else:
            await self.reply(msg_id, _result(0x65, NO_SUCH_OBJECT))

    @staticmethod
    def entry(dn: str, attributes: list[tuple[str, list[str]]], wanted: list[str]) -> bytes:
        want = {w.lower() for w in wanted}
        every = not want or "*" in want or "+" in want
        chosen = [(name, values) for name, values in attributes
                  if every or name.lower() in want]
        if "1.1" in want and len(want) == 1:
            chosen = []
        body = b"".join(_seq(0x30, ber.octets(name),
                             _seq(0x31, *(ber.octets(v) for v in values)))
                        for name, values in chosen)
        return _seq(0x64, ber.octets(dn), _seq(0x30, body))

    # -- extended and writes -----------------------------------------------------------
    async def extended(self, msg_id: int, body: bytes) -> None:
        parts = dict(ber.items(body, 2))
        name = _text(parts.get(0x80, b""))
        self.session.event("command", command=f"extended {name}")
        if name == STARTTLS and not self.tls:
            await self.reply(msg_id, _result(0x78, SUCCESS, extra=ber.octets(STARTTLS, 0x8A)))
            await self.session.start_tls(_win_tls.server_context(self.session.persona,
                                                            self.session.config))
            self.tls = True
        elif name == STARTTLS:
            await self.reply(msg_id, _result(0x78, OPERATIONS_ERROR, "TLS already started"))
        elif name == WHOAMI:
            await self.reply(msg_id, _result(0x78, SUCCESS, extra=ber.octets("", 0x8B)))
        else:
            diag = AD_UNKNOWN_EXTENDED if self.dir.ad else "unsupported extended operation"
            await self.reply(msg_id, _result(0x78, PROTOCOL_ERROR, diag))

    async def write(self, msg_id: int, tag: int, body: bytes) -> None:
        answer, op = _WRITES[tag]
        dn = _text(body if tag == 0x4A else ber.read(body)[1])
        self.session.event("command", command=f"{op} {dn}")
        if self.dir.ad:
            await self.reply(msg_id, _result(answer, OPERATIONS_ERROR, AD_NEED_BIND))
        elif tag == 0x6E:
            await self.reply(msg_id, _result(answer, INSUFFICIENT_ACCESS))
        else:
            await self.reply(msg_id, _result(answer, STRONGER_AUTH,
                                             "modifications require authentication"))

    async def dispatch(self, message: bytes) -> bool:
        """Answer one LDAPMessage; False to close the connection."""
        tag, body, _ = ber.read(message)
        parts = ber.items(body, 3)
        if tag != ber.SEQUENCE or len(parts) < 2 or parts[0][0] != ber.INTEGER:
            raise ValueError("not an LDAPMessage")
        msg_id = ber.to_int(parts[0][1])
        op, op_body = parts[1]
        if op == 0x60:
            await self.bind(msg_id, op_body)
        elif op == 0x42:
            self.session.event("command", command="unbind")
            return False
        elif op == 0x63:
            await self.search(msg_id, op_body)
        elif op == 0x77:
            await self.extended(msg_id, op_body)
        elif op in _WRITES:
            await self.write(msg_id, op, op_body)
        elif op != 0x50:  # abandon has no answer
            raise ValueError(f"unknown operation {op:#x}")
        return True


async def handle(session: Session) -> None:
    conn = Connection(session)
    while True:
        try:
            message = await ber.read_element(session, MAX_MESSAGE, ber.SEQUENCE)
            if not message or not await conn.dispatch(message):
                return
        except (ValueError, KeyError, IndexError) as exc:
            session.event("data", error=str(exc)[:200])
            return

