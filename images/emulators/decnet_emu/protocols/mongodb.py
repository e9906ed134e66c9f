"""mongodb: a mongod 7.0 with authorization enabled (OP_MSG, legacy OP_QUERY handshake).

Answered without authentication, as mongod does: `hello`/`isMaster` (OP_MSG or OP_QUERY;
`maxWireVersion` of the claimed version, `topologyVersion`, `connectionId`,
`saslSupportedMechs`, speculative SCRAM), `buildInfo`, `ping`, `connectionStatus`,
`whatsmyuri`, `saslStart`/`saslContinue` (SCRAM-SHA-256 and SCRAM-SHA-1). A SCRAM exchange
ends `Authentication failed.` (code 18) unless the password is in `accept`. Other known
commands fail `Command <name> requires authentication` (code 13), unknown ones `no such
command` (59); OP_QUERY other than the handshake gets code 352 like mongod 6+. An HTTP
request on the port gets mongod's "It looks like you are trying to access MongoDB over HTTP"
answer (what `nmap -sV` recognises: "MongoDB 2.5.1 or later", as for a real mongod 6/7 with
authorization); a TLS ClientHello or an impossible message length closes the connection.

Config keys: `version` (default: the persona's `versions.mongodb`, else `7.0.14`),
`git_version` (default derived from the version), `accept` (list of `{user, password}`
that authenticate; then commands get empty but well-formed answers).

Events: `login` (`username`, `database`, `mechanism`, `client_nonce`, `nonce` (combined),
`salt` (base64), `iterations`, `proof` (base64), `channel_binding` (`c=`), `success`;
PLAIN: `password`; the SCRAM AuthMessage to crack the proof against is
`n=USER,r=CLIENT_NONCE,r=NONCE,s=SALT,i=ITERATIONS,c=CHANNEL_BINDING,r=NONCE`),
`command` (`command`, `database`, `args`; the first `hello` with `client` metadata),
`query` (CRUD commands: `command`, `collection`, `database`, `args`), `request` (HTTP),
`data` (unparseable or unsupported messages).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import struct
import time
from typing import Any

from decnet_emu.protocols import _bson
from decnet_emu.protocols._bson import Int64, ObjectId
from decnet_emu.session import Session

OP_REPLY, OP_QUERY, OP_MSG, OP_COMPRESSED = 1, 2004, 2013, 2012
MAX_MESSAGE = 4 * 1024 * 1024  # far below mongod's 48 MB: a decoy keeps its memory small
WIRE_VERSIONS = {"4.4": 9, "5.0": 13, "6.0": 17, "7.0": 21, "8.0": 25}
HTTP_ANSWER = (b"HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n"
               b"Content-Length: 84\r\n\r\nIt looks like you are trying to access MongoDB "
               b"over HTTP on the native driver port.\n")
HELLO = {"hello", "isMaster", "ismaster"}
NO_AUTH = HELLO | {"buildInfo", "buildinfo", "ping", "saslStart", "saslContinue",
                   "authenticate", "logout", "connectionStatus", "whatsmyuri", "endSessions"}
CRUD = {"find", "insert", "update", "delete", "aggregate", "count", "distinct",
        "findAndModify", "getMore", "mapReduce"}
KNOWN = NO_AUTH | CRUD | {
    "listDatabases", "listCollections", "listIndexes", "create", "drop", "dropDatabase",
    "createIndexes", "dropIndexes", "serverStatus", "hostInfo", "getCmdLineOpts",
    "getParameter", "setParameter", "usersInfo", "rolesInfo", "createUser", "dropUser",
    "updateUser", "grantRolesToUser", "dbStats", "collStats", "currentOp", "killOp",
    "shutdown", "replSetGetStatus", "replSetGetConfig", "getLog", "fsync", "profile", "top",
    "validate", "explain", "renameCollection", "killCursors", "killAllSessions",
    "listCommands", "getDefaultRWConcern", "startSession", "refreshSessions", "dataSize",
    "features", "lockInfo", "logRotate", "compact", "collMod", "cloneCollectionAsCapped",
    "connPoolStats", "getShardMap", "isdbgrid", "sharding", "abortTransaction",
    "commitTransaction", "bulkWrite", "dropAllUsersFromDatabase", "createRole", "dbHash",
    "filemd5", "reIndex", "convertToCapped", "planCacheClear", "replSetInitiate",
    "replSetReconfig", "replSetStepDown", "replSetFreeze", "listSearchIndexes",
    "setFeatureCompatibilityVersion", "getDiagnosticData", "hello", "checkShardingIndex",
    "revokeRolesFromUser", "updateRole", "dropRole", "invalidateUserCache"}
ITERATIONS = {"SCRAM-SHA-1": 10000, "SCRAM-SHA-256": 15000}
SALT_SIZE = {"SCRAM-SHA-1": 16, "SCRAM-SHA-256": 28}
HASHES = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}
_connections = itertools.count(1)


def error(code: int, name: str, message: str) -> dict[str, Any]:
    return {"ok": 0.0, "errmsg": message, "code": code, "codeName": name}


def _pairs(text: str) -> dict[str, str]:
    """`a=1,b=2` SCRAM attributes (values may contain '=')."""
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep and len(key) == 1:
            out.setdefault(key, value)
    return out


def _scram_name(value: str) -> str:
    return value.replace("=2C", ",").replace("=3D", "=")


def _render(doc: dict[str, Any]) -> str:
    """A command document as compact JSON (driver bookkeeping fields left out)."""
    skip = {"$db", "lsid", "$clusterTime", "$readPreference", "apiVersion", "txnNumber"}
    return json.dumps({k: v for k, v in doc.items() if k not in skip}, default=str,
                      separators=(",", ":"))[:1024]


class Scram:
    """One SCRAM conversation of a connection."""

    def __init__(self, mechanism: str, database: str, user: str, client_nonce: str,
                 first_bare: str, salt: bytes, server_nonce: str) -> None:
        self.mechanism = mechanism
        self.database = database
        self.user = user
        self.client_nonce = client_nonce
        self.first_bare = first_bare
        self.salt = salt
        self.nonce = client_nonce + server_nonce
        self.iterations = ITERATIONS[mechanism]
        self.server_first = (f"r={self.nonce},s={base64.b64encode(salt).decode()},"
                             f"i={self.iterations}")

    def salted(self, password: str) -> bytes:
        secret = password
        if self.mechanism == "SCRAM-SHA-1":  # mongod's SHA-1 credential is MD5(user:mongo:pw)
            secret = hashlib.md5(f"{self.user}:mongo:{password}".encode()).hexdigest()
        return hashlib.pbkdf2_hmac(HASHES[self.mechanism], secret.encode(), self.salt,
                                   self.iterations)

    def verify(self, password: str, auth_message: bytes, proof: bytes) -> bytes | None:
        """The server signature when `password` produced `proof`, else None."""
        digest = HASHES[self.mechanism]
        salted = self.salted(password)
        client_key = hmac.new(salted, b"Client Key", digest).digest()
        stored = hashlib.new(digest, client_key).digest()
        signature = hmac.new(stored, auth_message, digest).digest()
        expected = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        if not hmac.compare_digest(expected, proof):
            return None
        server_key = hmac.new(salted, b"Server Key", digest).digest()
        return hmac.new(server_key, auth_message, digest).digest()


class MongoSession:
    """State of one client connection."""

    def __init__(self, session: Session) -> None:
        self.session = session
        config = session.config
        self.version = str(config.get("version") or session.persona.version("mongodb", "7.0.14"))
        self.wire = WIRE_VERSIONS.get(".".join(self.version.split(".")[:2]), 21)
        persona = session.persona
        self.git_version = str(config.get("git_version") or hashlib.sha1(
            f"mongodb-{self.version}".encode()).hexdigest())
        self.started = int(time.time()) - 86400 - persona.number("mongod-uptime", 86400 * 60)
        self.process_id = ObjectId(struct.pack(">I", self.started)
                                   + persona.derive("mongod-process", 5) + b"\0\0\x01")
        self.connection_id = 40 + persona.number("mongod-conn", 900) + next(_connections)
        accept = config.get("accept") or []
        self.accept = [(str(a.get("user", "")), str(a.get("password", "")))
                       for a in accept if isinstance(a, dict)]
        self.user: str | None = None
        self.scram: Scram | None = None
        self.greeted = False

    # -- handshake -----------------------------------------------------------------------
    def hello(self, name: str, doc: dict[str, Any], db: str) -> dict[str, Any]:
        if not self.greeted:
            self.greeted = True
            client = doc.get("client") if isinstance(doc.get("client"), dict) else {}
            driver = client.get("driver") if isinstance(client.get("driver"), dict) else {}
            app = client.get("application") if isinstance(client.get("application"),
                                                          dict) else {}
            self.session.event("command", command=name, database=db,
                               client=f"{driver.get('name', '')} {driver.get('version', '')}"
                               .strip(), application=app.get("name"))
        reply: dict[str, Any] = {}
        if doc.get("helloOk"):
            reply["helloOk"] = True
        reply["isWritablePrimary" if name == "hello" else "ismaster"] = True
        reply.update({
            "topologyVersion": {"processId": self.process_id, "counter": Int64(0)},
            "maxBsonObjectSize": 16777216, "maxMessageSizeBytes": 48000000,
            "maxWriteBatchSize": 100000,
            "localTime": dt.datetime.now(dt.UTC).replace(microsecond=0),
            "logicalSessionTimeoutMinutes": 30, "connectionId": self.connection_id,
            "minWireVersion": 0, "maxWireVersion": self.wire, "readOnly": False})
        if isinstance(doc.get("saslSupportedMechs"), str):
            reply["saslSupportedMechs"] = ["SCRAM-SHA-1", "SCRAM-SHA-256"]
        speculative = doc.get("speculativeAuthenticate")
        if isinstance(speculative, dict) and "saslStart" in speculative:
            answer = self.sasl_start(speculative, str(speculative.get("db") or db))
            if answer.get("ok") == 1.0:
                answer.pop("ok")
                reply["speculativeAuthenticate"] = answer
        reply["ok"] = 1.0
        return reply

    def build_info(self) -> dict[str, Any]:
        parts = [int(p) for p in self.version.split(".")[:3] if p.isdigit()]
        openssl = "OpenSSL 3.0.15 3 Sep 2024"
        windows = self.session.persona.is_windows
        environment = {"distmod": "windows" if windows else "debian12", "distarch": "x86_64",
                       "cc": "cl: Microsoft (R) C/C++ Optimizing Compiler Version 19.31"
                       if windows else "/opt/mongodbtoolchain/v4/bin/gcc: gcc (GCC) 11.3.0",
                       "target_arch": "x86_64", "target_os": "windows" if windows else "linux"}
        return {
            "version": self.version, "gitVersion": self.git_version, "modules": [],
            "allocator": "tcmalloc", "javascriptEngine": "mozjs", "sysInfo": "deprecated",
            "versionArray": [*parts, *[0] * (4 - len(parts))],
            "openssl": {"running": "Windows SChannel"} if windows else
            {"running": openssl, "compiled": "OpenSSL 3.0.9 30 May 2023"},
            "buildEnvironment": environment,
            "bits": 64, "debug": False, "maxBsonObjectSize": 16777216,
            "storageEngines": ["devnull", "wiredTiger"], "ok": 1.0}

    # -- SCRAM ---------------------------------------------------------------------------
    def sasl_start(self, doc: dict[str, Any], db: str) -> dict[str, Any]:
        mechanism = str(doc.get("mechanism") or "")
        payload = doc.get("payload")
        data = payload if isinstance(payload, bytes) else str(payload or "").encode()
        if mechanism == "PLAIN":
            parts = data.split(b"\0")
            if len(parts) == 3:
                self.session.event("login", username=parts[1], password=parts[2],
                                   database=db, mechanism=mechanism, success=False)
        if mechanism not in ITERATIONS:
            return error(334, "MechanismUnavailable", f"Received authentication for mechanism "
                         f"{mechanism} which is not enabled")
        text = data.decode("utf-8", "replace")
        if not text.startswith(("n,", "y,")) or text.count(",") < 3:
            return error(17, "ProtocolError", "Incorrect SCRAM client|server first message "
                         "header, expected n,, or y,, or p=...")
        bare = text.split(",", 2)[2]
        attrs = _pairs(bare)
        if "n" not in attrs or "r" not in attrs:
            return error(17, "ProtocolError", "Invalid SCRAM client first message")
        user = _scram_name(attrs["n"])
        salt = self.session.persona.derive(f"mongodb-salt/{mechanism}/{db}/{user}",
                                           SALT_SIZE[mechanism])
        server_nonce = base64.b64encode(os.urandom(24)).decode()
        self.scram = Scram(mechanism, db, user, attrs["r"], bare, salt, server_nonce)
        return {"conversationId": 1, "done": False,
                "payload": self.scram.server_first.encode(), "ok": 1.0}

    def sasl_continue(self, doc: dict[str, Any]) -> dict[str, Any]:
        scram = self.scram
        if scram is None or doc.get("conversationId") != 1:
            return error(17, "ProtocolError", "No SASL session state found")
        payload = doc.get("payload")
        text = (payload if isinstance(payload, bytes) else b"").decode("utf-8", "replace")
        if not text and self.user is not None:  # the empty closing step
            self.scram = None
            return {"conversationId": 1, "done": True, "payload": b"", "ok": 1.0}
        attrs = _pairs(text)
        without_proof = text.rpartition(",p=")[0]
        auth_message = f"{scram.first_bare},{scram.server_first},{without_proof}"
        try:
            proof = base64.b64decode(attrs.get("p", ""), validate=True)
        except ValueError:
            proof = b""
        signature = None
        if attrs.get("r") == scram.nonce:
            for user, password in self.accept:
                if user == scram.user:
                    signature = scram.verify(password, auth_message.encode(), proof)
                    if signature is not None:
                        break
        self.session.event(
            "login", username=scram.user, database=scram.database, mechanism=scram.mechanism,
            client_nonce=scram.client_nonce, nonce=scram.nonce,
            salt=base64.b64encode(scram.salt).decode(), iterations=scram.iterations,
            proof=attrs.get("p", ""), channel_binding=attrs.get("c", ""),
            success=signature is not None)
        if signature is None:
            self.scram = None
            return error(18, "AuthenticationFailed", "Authentication failed.")
        self.user = scram.user
        final = b"v=" + base64.b64encode(signature)
        options = doc.get("options") if isinstance(doc.get("options"), dict) else {}
        done = scram.mechanism == "SCRAM-SHA-256" and bool(options.get("skipEmptyExchange"))
        return {"conversationId": 1, "done": done, "payload": final, "ok": 1.0}

    # -- commands ------------------------------------------------------------------------
    def command(self, doc: dict[str, Any], db: str) -> dict[str, Any]:
        if not doc:
            return error(59, "CommandNotFound", "no such command: ''")
        name = next(iter(doc))
        if name in HELLO:
            return self.hello(name, doc, db)
        if name in ("saslStart", "saslContinue"):
            return self.sasl_start(doc, db) if name == "saslStart" else self.sasl_continue(doc)
        target = doc[name] if isinstance(doc[name], str) else None
        fields: dict[str, Any] = {"command": name, "database": db, "args": _render(doc)}
        if name in CRUD:
            self.session.event("query", collection=target, **fields)
        else:
            self.session.event("command", **fields)
        if name not in KNOWN:
            return error(59, "CommandNotFound", f"no such command: '{name}'")
        if name in ("buildInfo", "buildinfo"):
            return self.build_info()
        if name in ("ping", "logout", "endSessions"):
            return {"ok": 1.0}
        if name == "whatsmyuri":
            return {"you": f"{self.session.src_ip}:{self.session.src_port}", "ok": 1.0}
        if name == "connectionStatus":
            users = [{"user": self.user, "db": "admin"}] if self.user else []
            return {"authInfo": {"authenticatedUsers": users, "authenticatedUserRoles": []},
                    "ok": 1.0}
        if name == "authenticate":
            self.session.event("login", username=doc.get("user"), database=db,
                               mechanism=doc.get("mechanism"), success=False)
            return error(18, "AuthenticationFailed", "Authentication failed.")
        if self.user is None:
            return error(13, "Unauthorized", f"Command {name} requires authentication")
        return self.authorized(name, db, target)

    def authorized(self, name: str, db: str, target: str | None) -> dict[str, Any]:
        """Empty but well-formed answers for an authenticated client."""
        if name == "listDatabases":
            dbs = [{"name": n, "sizeOnDisk": Int64(s), "empty": False}
                   for n, s in (("admin", 40960), ("config", 61440), ("local", 73728))]
            return {"databases": dbs, "totalSize": Int64(176128), "totalSizeMb": Int64(0),
                    "ok": 1.0}
        if name in ("find", "aggregate", "listCollections", "listIndexes"):
            namespace = f"{db}.{target}" if target else f"{db}.$cmd.{name}"
            return {"cursor": {"firstBatch": [], "id": Int64(0), "ns": namespace}, "ok": 1.0}
        if name in ("insert", "update", "delete", "count"):
            return {"n": 0, "ok": 1.0}
        return {"ok": 1.0}


def _op_msg(body: bytes) -> tuple[int, dict[str, Any]]:
    """The flag bits and the command document of an OP_MSG (kind-1 sections merged in)."""
    (flags,) = struct.unpack_from("<I", body, 0)
    end = len(body) - (4 if flags & 1 else 0)
    pos, doc = 4, None
    extra: dict[str, list[Any]] = {}
    while pos < end:
        kind = body[pos]
        pos += 1
        if kind == 0:
            doc, pos = _bson.document_at(body, pos)
        elif kind == 1:
            (size,) = struct.unpack_from("<i", body, pos)
            stop = pos + size
            ident_end = body.index(b"\0", pos + 4)
            ident = body[pos + 4: ident_end].decode("utf-8", "replace")
            pos, items = ident_end + 1, []
            while pos < stop:
                item, pos = _bson.document_at(body, pos)
                items.append(item)
            extra[ident] = items
        else:
            raise _bson.BSONError(f"unknown OP_MSG section kind {kind}")
    if doc is None:
        raise _bson.BSONError("OP_MSG without a body section")
    doc.update(extra)
    return flags, doc


def _message(request_id: int, response_to: int, opcode: int, body: bytes) -> bytes:
    return struct.pack("<iiii", 16 + len(body), request_id, response_to, opcode) + body


async def _http(session: Session, first: bytes) -> None:
    line = first + await session.read_line(2048)
    session.event("request", method="GET", request=line.strip())
    await session.send(HTTP_ANSWER)


async def handle(session: Session) -> None:
    state = MongoSession(session)
    replies = itertools.count(1 + session.persona.number("mongod-reqid", 1 << 20))
    first = True
    while True:
        head = await session.read_exactly(4)
        if first and head == b"GET ":
            await _http(session, head)
            return
        if first and head[:2] == b"\x16\x03":  # mongod without TLS closes on a ClientHello
            session.event("data", note="SSL handshake received but server is started "
                          "without SSL support", data=head)
            return
        first = False
        (length,) = struct.unpack("<i", head)
        if length < 16 or length > MAX_MESSAGE:  # mongod closes at once, before the header
            session.event("data", note="bad message length", length=length, data=head)
            return
        head += await session.read_exactly(12)
        _, request_id, _, opcode = struct.unpack("<iiii", head)
        body = await session.read_exactly(length - 16)
        try:
            if opcode == OP_MSG:
                flags, doc = _op_msg(body)
                db = str(doc.pop("$db", "admin"))
                answer = state.command(doc, db)
                if flags & 2:  # moreToCome: the client wants no answer
                    continue
                payload = struct.pack("<I", 0) + b"\0" + _bson.encode(answer)
                await session.send(_message(next(replies), request_id, OP_MSG, payload))
            elif opcode == OP_QUERY:
                answer = legacy_query(state, body)
                payload = struct.pack("<iqii", 0, 0, 0, 1) + _bson.encode(answer)
                await session.send(_message(next(replies), request_id, OP_REPLY, payload))
            else:
                session.event("data", note="unsupported opcode", opcode=opcode,
                              bytes=len(body))
                if opcode == OP_COMPRESSED:
                    return
        except (_bson.BSONError, struct.error, ValueError, IndexError) as exc:
            session.event("data", note=f"malformed message: {exc}"[:200], opcode=opcode)
            return


def legacy_query(state: MongoSession, body: bytes) -> dict[str, Any]:
    """OP_QUERY: the handshake on `<db>.$cmd`; mongod 6+ refuses everything else."""
    end = body.index(b"\0", 4)
    namespace = body[4:end].decode("utf-8", "replace")
    query, _ = _bson.document_at(body, end + 9)
    if isinstance(query.get("$query"), dict):
        query = query["$query"]
    name = next(iter(query), "")
    if namespace.endswith(".$cmd"):
        db = namespace[: -len(".$cmd")]
        if name in HELLO:
            return state.hello(name, query, db)
        state.session.event("command", command=name, database=db, args=_render(query),
                            legacy=True)
        return error(352, "UnsupportedOpQueryCommand", f"Unsupported OP_QUERY command: {name}. "
                     "The client driver may require an upgrade. For more details see "
                     "https://dochub.mongodb.org/core/legacy-opcode-removal")
    state.session.event("query", command="OP_QUERY", collection=namespace,
                        args=_render(query), legacy=True)
    return {"$err": "OP_QUERY is no longer supported. The client driver may require an "
            "upgrade. For more details see https://dochub.mongodb.org/core/"
            "legacy-opcode-removal", "code": 5739101, "ok": 0.0}
