"""redis: a Redis 7.x server (RESP2/RESP3 and inline commands) protected by `requirepass`.

Replies are worded as redis-server 7.0 words them, in its order of checks: unknown command
or subcommand, then arity (`wrong number of arguments for 'get' command`, which is what
`nmap -sV` matches on its HTTP probe), then `-NOAUTH Authentication required.`. `AUTH`
(one or two arguments) and `HELLO ... AUTH user pass` are recorded as `login` and fail with
`-WRONGPASS ...` unless the password is the configured one. A line starting `POST` or
`Host:` closes the connection, as Redis does against cross-protocol scripting.

Config keys: `version` (default: the persona's `versions.redis`, else `7.0.15`),
`password` (the requirepass; AUTH with it succeeds, `success=true`), `protected` (default
true; false: no password needed, like a redis without requirepass). After authentication
(or unprotected) a small keyspace (shared by the connections, at most 256 keys and
settings) answers: PING, ECHO, INFO, SELECT, DBSIZE, KEYS,
GET/SET/DEL/EXISTS, CONFIG GET/SET, CLIENT, COMMAND, SAVE, FLUSHALL; other known commands
answer `+OK`.

Events: `login` (`username`, `password`, `success`, `via` AUTH/HELLO), `command`
(`command`: the command line, `authenticated`), `data` (bytes that are not RESP).
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from decnet_emu.session import Session

MAX_ARGS = 1024 * 1024  # Redis' own multibulk limit
KEEP_BULK = 4096  # bytes of one argument kept; the rest is read and dropped
MAX_BULK = 512 * 1024 * 1024

# name -> arity (negative: at least), as in Redis 7.0's command table
ARITY: dict[str, int] = {
    "acl": -2, "append": 3, "auth": -2, "bgrewriteaof": 1, "bgsave": -1, "bitcount": -2,
    "blpop": -3, "brpop": -3, "client": -2, "cluster": -2, "command": -1, "config": -2,
    "dbsize": 1, "debug": -2, "decr": 2, "del": -2, "discard": 1, "dump": 2, "echo": 2,
    "eval": -3, "evalsha": -3, "exec": 1, "exists": -2, "expire": -3, "flushall": -1,
    "flushdb": -1, "function": -2, "get": 2, "getset": 3, "hello": -1, "hget": 3,
    "hgetall": 2, "hkeys": 2, "hset": -4, "incr": 2, "info": -1, "keys": 2, "lastsave": 1,
    "latency": -2, "llen": 2, "lpop": -2, "lpush": -3, "lrange": 4, "memory": -2,
    "mget": -2, "migrate": -6, "module": -2, "monitor": 1, "move": 3, "mset": -3,
    "multi": 1, "object": -2, "persist": 2, "pexpire": -3, "ping": -1, "psubscribe": -2,
    "psync": -3, "publish": 3, "pubsub": -2, "quit": -1, "randomkey": 1, "readonly": 1,
    "rename": 3, "replicaof": 3, "reset": 1, "restore": -4, "role": 1, "rpop": -2,
    "rpush": -3, "sadd": -3, "save": 1, "scan": -2, "script": -2, "select": 2,
    "sentinel": -2, "set": -3, "setex": 4, "setnx": 3, "shutdown": -1, "slaveof": 3,
    "slowlog": -2, "smembers": 2, "strlen": 2, "subscribe": -2, "swapdb": 3, "sync": 1,
    "time": 1, "ttl": 2, "type": 2, "unlink": -2, "unwatch": 1, "wait": 3, "watch": -2,
    "xadd": -5, "zadd": -4, "zrange": -4,
}
# container commands: subcommand -> arity (counted with the container's name)
SUBCOMMANDS: dict[str, dict[str, int]] = {
    "acl": {"cat": -2, "deluser": -3, "getuser": 3, "help": 2, "list": 2, "log": -2,
            "setuser": -3, "users": 2, "whoami": 2},
    "client": {"getname": 2, "help": 2, "id": 2, "info": 2, "kill": -3, "list": -2,
               "no-evict": 3, "pause": -3, "reply": 3, "setname": 3, "unpause": 2},
    "command": {"count": 2, "docs": -2, "getkeys": -4, "help": 2, "info": -2, "list": -2},
    "config": {"get": -3, "help": 2, "resetstat": 2, "rewrite": 2, "set": -4},
    "module": {"help": 2, "list": 2, "load": -3, "loadex": -3, "unload": 3},
    "memory": {"doctor": 2, "help": 2, "stats": 2, "usage": -3},
    "script": {"exists": -3, "flush": -2, "help": 2, "kill": 2, "load": 3},
    "slowlog": {"get": -2, "help": 2, "len": 2, "reset": 2},
}
NO_AUTH = {"auth", "hello", "quit", "reset"}
MAX_KEYS = 256
_SERVER: dict[str, Any] = {}
NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
HELLO_NOAUTH = (b"-NOAUTH HELLO must be called with the client already authenticated, "
                b"otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                b"authenticate the client and select the RESP protocol version at the same "
                b"time\r\n")


class ProtocolError(Exception):
    """A request Redis answers with `-ERR Protocol error: ...` and a close."""


def bulk(value: bytes | str | None, proto: int = 2) -> bytes:
    if value is None:
        return b"_\r\n" if proto == 3 else b"$-1\r\n"
    data = value.encode() if isinstance(value, str) else value
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(items: list[bytes]) -> bytes:
    """An array of already encoded replies."""
    return b"*%d\r\n" % len(items) + b"".join(items)


def error(text: str) -> bytes:
    return b"-" + text.encode("utf-8", "replace") + b"\r\n"


async def _read_bulk(session: Session, authenticated: bool) -> bytes:
    header = await session.read_line(64)
    if not header.startswith(b"$"):
        got = header[:1].decode("latin-1") or " "
        raise ProtocolError(f"expected '$', got '{got}'")
    try:
        size = int(header[1:].strip())
    except ValueError:
        raise ProtocolError("invalid bulk length") from None
    if size < 0 or size > MAX_BULK:
        raise ProtocolError("invalid bulk length")
    if size > 16384 and not authenticated:  # Redis >= 6.2.4 (CVE-2021-32675)
        raise ProtocolError("unauthenticated bulk length")
    kept = await session.read_exactly(min(size, KEEP_BULK))
    left = size - len(kept)
    while left > 0:  # read what the client sends, keep none of it
        left -= len(await session.read_exactly(min(left, 65536)))
    await session.read_exactly(2)
    return kept


async def read_command(session: Session, authenticated: bool = False) -> list[bytes] | None:
    """One command (RESP multibulk or an inline line); None at end of stream."""
    line = await session.read_line(65536)
    if not line:
        return None
    if line.startswith(b"*"):
        try:
            count = int(line[1:].strip())
        except ValueError:
            raise ProtocolError("invalid multibulk length") from None
        if count > MAX_ARGS:
            raise ProtocolError("invalid multibulk length")
        if count > 10 and not authenticated:
            raise ProtocolError("unauthenticated multibulk length")
        return [await _read_bulk(session, authenticated) for _ in range(max(count, 0))]
    if len(line) >= 65536 and not line.endswith(b"\n"):
        raise ProtocolError("too big inline request")
    text = line.decode("latin-1").strip()
    try:
        return [word.encode("latin-1") for word in shlex.split(text, posix=True)]
    except ValueError:
        raise ProtocolError("unbalanced quotes in request") from None


def unknown_command(args: list[bytes]) -> bytes:
    rest = ""
    for arg in args[1:]:
        if len(rest) >= 128:
            break
        rest += "'" + arg.decode("latin-1")[: 128 - len(rest)] + "' "
    name = args[0].decode("latin-1")[:128]
    return error(f"ERR unknown command '{name}', with args beginning with: {rest}")


def check(args: list[bytes]) -> bytes | None:
    """The error Redis gives before looking at authentication (unknown, arity), or None."""
    name = args[0].decode("latin-1").lower()
    arity = ARITY.get(name)
    if arity is None:
        return unknown_command(args)
    full = name
    subs = SUBCOMMANDS.get(name)
    if subs is not None and len(args) >= 2:
        sub = args[1].decode("latin-1").lower()
        if sub not in subs:
            return error(f"ERR unknown subcommand '{args[1].decode('latin-1')[:128]}'. "
                         f"Try {name.upper()} HELP.")
        full, arity = f"{name}|{sub}", subs[sub]
    if (arity > 0 and len(args) != arity) or (arity < 0 and len(args) < -arity):
        return error(f"ERR wrong number of arguments for '{full}' command")
    return None


class RedisSession:
    """The state of one client: authenticated or not, RESP version, its tiny keyspace."""

    def __init__(self, session: Session) -> None:
        self.session = session
        config = session.config
        self.version = str(config.get("version") or session.persona.version("redis", "7.0.15"))
        self.password = str(config.get("password") or "")
        protected = config.get("protected", True)
        self.authenticated = protected is False or str(protected).lower() == "false"
        self.proto = 2
        self.name: bytes | None = None
        if not _SERVER:  # the server's state, shared by its connections (bounded)
            _SERVER["keys"] = {}
            _SERVER["settings"] = {
                "dir": "/var/lib/redis", "dbfilename": "dump.rdb", "bind": "* -::*",
                "protected-mode": "yes", "port": "6379", "requirepass": self.password,
                "maxmemory": "0", "appendonly": "no", "save": "3600 1 300 100 60 10000",
                "databases": "16"}
        self.keys: dict[bytes, bytes] = _SERVER["keys"]
        self.settings: dict[str, str] = _SERVER["settings"]

    # -- authentication ------------------------------------------------------------------
    def login(self, user: bytes, password: bytes, via: str) -> bool:
        ok = bool(self.password) and user == b"default" and \
            password == self.password.encode("utf-8", "replace")
        self.session.event("login", username=user, password=password, success=ok, via=via)
        if ok:
            self.authenticated = True
        return ok

    def auth(self, args: list[bytes]) -> bytes:
        if len(args) > 3:
            return b"-ERR syntax error\r\n"
        user = args[1] if len(args) == 3 else b"default"
        if len(args) == 2 and not self.password and self.authenticated:  # no requirepass
            self.session.event("login", username=user, password=args[1], success=False,
                               via="AUTH")
            return (b"-ERR AUTH <password> called without any password configured for the "
                    b"default user. Are you sure your configuration is correct?\r\n")
        return b"+OK\r\n" if self.login(user, args[-1], "AUTH") else WRONGPASS

    def hello(self, args: list[bytes]) -> bytes:
        proto = self.proto
        if len(args) > 1:
            try:
                proto = int(args[1])
            except ValueError:
                return b"-ERR Protocol version is not an integer or out of range\r\n"
            if proto not in (2, 3):
                return b"-NOPROTO unsupported protocol version\r\n"
        index = 2
        while index < len(args):
            option = args[index].lower()
            if option == b"auth" and index + 2 < len(args):
                if not self.login(args[index + 1], args[index + 2], "HELLO"):
                    return WRONGPASS
                index += 3
            elif option == b"setname" and index + 1 < len(args):
                self.name = args[index + 1]
                index += 2
            else:
                return error(f"ERR Syntax error in HELLO option '{args[index].decode('latin-1')}'")
        if not self.authenticated:
            return HELLO_NOAUTH
        self.proto = proto
        fields: list[tuple[str, bytes]] = [
            ("server", bulk("redis")), ("version", bulk(self.version)),
            ("proto", b":%d\r\n" % proto), ("id", b":%d\r\n" % self.client_id),
            ("mode", bulk("standalone")), ("role", bulk("master")), ("modules", b"*0\r\n")]
        if proto == 3:
            return b"%%%d\r\n" % len(fields) + b"".join(bulk(k) + v for k, v in fields)
        return array([part for k, v in fields for part in (bulk(k), v)])

    @property
    def client_id(self) -> int:
        return 3 + self.session.persona.number(f"redis-client/{self.session.id}", 400)

    # -- an authenticated client ---------------------------------------------------------
    def info(self) -> bytes:
        persona = self.session.persona
        uptime = 86400 * 3 + persona.number("redis-uptime", 86400 * 120)
        run_id = persona.derive("redis-run-id", 20).hex()
        build = persona.derive("redis-build-id", 8).hex()
        lines = [
            "# Server", f"redis_version:{self.version}", "redis_git_sha1:00000000",
            "redis_git_dirty:0", f"redis_build_id:{build}", "redis_mode:standalone",
            f"os:Linux {persona.kernel} x86_64", "arch_bits:64",
            "monotonic_clock:POSIX clock_gettime", "multiplexing_api:epoll",
            "atomicvar_api:c11-builtin", "gcc_version:12.2.0",
            f"process_id:{300 + persona.number('redis-pid', 4000)}", "process_supervised:systemd",
            f"run_id:{run_id}", "tcp_port:6379", f"server_time_usec:{int(time.time() * 1e6)}",
            f"uptime_in_seconds:{uptime}", f"uptime_in_days:{uptime // 86400}", "hz:10",
            "configured_hz:10", f"lru_clock:{int(time.time()) % (1 << 24)}",
            "executable:/usr/bin/redis-server", "config_file:/etc/redis/redis.conf",
            "io_threads_active:0", "", "# Clients", "connected_clients:1",
            "maxclients:10000", "blocked_clients:0", "", "# Memory",
            "used_memory:1001456", "used_memory_human:977.98K", "maxmemory:0",
            "maxmemory_policy:noeviction", "mem_allocator:jemalloc-5.3.0", "",
            "# Persistence", "loading:0", "rdb_changes_since_last_save:0",
            "rdb_last_bgsave_status:ok", "aof_enabled:0", "", "# Replication", "role:master",
            "connected_slaves:0", "", "# Keyspace", ""]
        if self.keys:
            lines.insert(-1, f"db0:keys={len(self.keys)},expires=0,avg_ttl=0")
        text = "\r\n".join(lines).encode()
        if self.proto == 3:  # a verbatim string
            return b"=%d\r\ntxt:%s\r\n" % (len(text) + 4, text)
        return bulk(text)

    def answer(self, name: str, args: list[bytes]) -> bytes:
        """The reply of a known command for an authenticated client."""
        sub = args[1].decode("latin-1").lower() if len(args) > 1 else ""
        if name == "ping":
            return bulk(args[1]) if len(args) > 1 else b"+PONG\r\n"
        if name == "echo":
            return bulk(args[1])
        if name == "info":
            return self.info()
        if name == "dbsize":
            return b":%d\r\n" % len(self.keys)
        if name == "keys":
            return array([bulk(key) for key in self.keys])
        if name == "get":
            return bulk(self.keys.get(args[1]), self.proto)
        if name == "set":
            if args[1] in self.keys or len(self.keys) < MAX_KEYS:
                self.keys[args[1]] = args[2][:KEEP_BULK]
            return b"+OK\r\n"
        if name in ("del", "unlink", "exists"):
            found = [key for key in args[1:] if key in self.keys]
            if name != "exists":
                for key in found:
                    self.keys.pop(key, None)
            return b":%d\r\n" % len(found)
        if name == "type":
            return b"+string\r\n" if args[1] in self.keys else b"+none\r\n"
        if name == "ttl":
            return b":-1\r\n" if args[1] in self.keys else b":-2\r\n"
        if name in ("flushall", "flushdb"):
            self.keys.clear()
            return b"+OK\r\n"
        if name == "time":
            now = time.time()
            return array([bulk(str(int(now))), bulk(str(int(now % 1 * 1e6)))])
        if name == "lastsave":
            return b":%d\r\n" % (int(time.time()) - 600)
        if name == "config" and sub == "get":
            pattern = args[2].decode("latin-1").lower()
            hits = [(k, v) for k, v in self.settings.items() if pattern in ("*", k)]
            if self.proto == 3:
                return b"%%%d\r\n" % len(hits) + b"".join(bulk(k) + bulk(v) for k, v in hits)
            return array([bulk(part) for pair in hits for part in pair])
        if name == "config" and sub == "set":
            key = args[2].decode("latin-1").lower()
            if key in self.settings or len(self.settings) < MAX_KEYS:
                self.settings[key] = args[3].decode("latin-1")[:256]
            return b"+OK\r\n"
        if name == "client":
            return self.client(sub, args)
        if name == "command":
            return b":240\r\n" if sub == "count" else b"*0\r\n"
        if name == "select":
            try:
                ok = 0 <= int(args[1]) < 16
            except ValueError:
                return b"-ERR value is not an integer or out of range\r\n"
            return b"+OK\r\n" if ok else b"-ERR DB index is out of range\r\n"
        if name == "hgetall" and self.proto == 3:
            return b"%0\r\n"
        if name in ("smembers", "lrange", "hgetall", "hkeys", "mget", "zrange"):
            return b"*0\r\n"
        if name == "scan":
            return array([bulk("0"), b"*0\r\n"])
        if name == "role":
            return array([bulk("master"), b":0\r\n", b"*0\r\n"])
        if name == "module" and sub == "load":
            return b"-ERR Error loading the extension. Please check the server logs.\r\n"
        return b"+OK\r\n"

    def client(self, sub: str, args: list[bytes]) -> bytes:
        if sub == "setname":
            self.name = args[2]
            return b"+OK\r\n"
        if sub == "getname":
            return bulk(self.name, self.proto)
        if sub == "id":
            return b":%d\r\n" % self.client_id
        if sub in ("list", "info"):
            session = self.session
            line = (f"id={self.client_id} addr={session.src_ip}:{session.src_port} "
                    f"laddr={session.dst_ip}:{session.dst_port} fd=8 "
                    f"name={(self.name or b'').decode('latin-1')} age=0 idle=0 flags=N db=0 "
                    f"sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 "
                    f"multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22298 events=r "
                    f"cmd=client|{sub} user=default redir=-1 resp={self.proto}\n")
            return bulk(line)
        return b"+OK\r\n"

    # -- one command ---------------------------------------------------------------------
    def reply(self, args: list[bytes]) -> bytes | None:
        """The reply to one command; None: close without a reply."""
        name = args[0].decode("latin-1").lower()
        if name in ("post", "host:"):  # Redis' defence against HTTP cross-protocol requests
            self.session.event("data", data=b" ".join(args), note="possible security attack")
            return None
        if name not in ("auth", "hello"):
            self.session.event("command", command=b" ".join(args),
                               authenticated=self.authenticated)
        problem = check(args)
        if problem is not None:
            return problem
        if name == "auth":
            return self.auth(args)
        if name == "hello":
            return self.hello(args)
        if name in ("quit", "reset"):
            return b"+OK\r\n" if name == "quit" else b"+RESET\r\n"
        if not self.authenticated:
            return NOAUTH
        return self.answer(name, args)


async def handle(session: Session) -> None:
    state = RedisSession(session)
    while True:
        try:
            args = await read_command(session, state.authenticated)
        except ProtocolError as exc:
            session.event("data", note=f"protocol error: {exc}")
            await session.send(error(f"ERR Protocol error: {exc}"))
            return
        if args is None:
            return
        if not args:
            continue
        answer = state.reply(args)
        if answer is None:
            return
        await session.send(answer)
        if args[0].lower() == b"quit":
            return
