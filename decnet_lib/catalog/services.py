"""Emulated services: their ports and the typed schema of their configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from decnet_lib.catalog.credentials import ACCEPT_FIELD, Credential

Protocol = Literal["tcp", "udp"]


MAX_TEXT = 4096
"""Characters of one config value: each reaches its container as an environment variable,
and a few MB there fail at deploy ("argument list too long")."""
MAX_ITEMS = 64
"""Items of one list value (e.g. `accept` credentials)."""


def _value_problem(value: object) -> str | None:
    """Why one config value cannot deploy; None when it can."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"a text value is longer than {MAX_TEXT} characters"
        if "\x00" in value:
            return "a text value contains a NUL character"
    elif isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            return f"a list has more than {MAX_ITEMS} items"
        return next((p for p in (_value_problem(v) for v in value) if p), None)
    elif isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            return f"a mapping has more than {MAX_ITEMS} keys"
        items = [*value.keys(), *value.values()]
        return next((p for p in (_value_problem(v) for v in items) if p), None)
    elif isinstance(value, BaseModel):
        return _value_problem(value.model_dump())
    return None


class ServiceConfig(BaseModel):
    """Base of every service's config schema: unknown keys and wrong types are refused, and
    values are bounded (length, no NUL) so that whatever validates also deploys."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        problem = _value_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    banner: str | None = Field(default=None, description="First line the emulator sends.")


class SshConfig(ServiceConfig):
    banner: str | None = Field(default="SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
    accept: list[Credential] | None = ACCEPT_FIELD


class TelnetConfig(ServiceConfig):
    login_prompt: str | None = Field(default=None, description="Default `<hostname> login: `.")
    motd: str | None = None
    accept: list[Credential] | None = ACCEPT_FIELD
    fail_delay: float | None = Field(default=None, description="Seconds before a refusal.")


class HttpConfig(ServiceConfig):
    server_header: str = "Apache/2.4.57 (Debian)"
    page_title: str = "It works!"
    page_body: str | None = None


class FtpConfig(ServiceConfig):
    banner: str | None = Field(default=None,
                               description="Default from the persona: `220 (vsFTPd 3.0.3)`.")
    anonymous: bool = False
    fail_delay: float | None = Field(default=None, description="Seconds before a refusal.")


class SmtpConfig(ServiceConfig):
    hostname: str | None = Field(default=None, description="Default: the persona's FQDN.")
    banner: str | None = Field(default=None,
                               description="Default `220 <fqdn> ESMTP Postfix (Debian/GNU)`.")
    domains: list[str] | None = Field(default=None, description="Mail accepted for these.")
    fail_delay: float | None = Field(default=None, description="Seconds before a refusal.")


class DatabaseConfig(ServiceConfig):
    version: str | None = None


class ElasticsearchConfig(DatabaseConfig):
    security: bool = Field(default=True, description="401 to every request without "
                           "valid credentials, as Elasticsearch 8.x ships; false: open node.")
    cluster_name: str | None = None
    node_name: str | None = None


class MysqlConfig(DatabaseConfig):
    """Keys of images/emulators/decnet_emu/protocols/mysql.py (None: the emulator's default)."""

    auth_plugin: Literal["caching_sha2_password", "mysql_native_password"] | None = None
    tls: bool | None = Field(default=None, description="Offer the TLS switch (default true).")


class PostgresConfig(DatabaseConfig):
    """Keys of images/emulators/decnet_emu/protocols/postgres.py."""

    auth: Literal["scram-sha-256", "md5", "password"] | None = None
    tls: bool | None = Field(default=None, description="Answer SSLRequest with S (default).")
    iterations: int | None = Field(default=None, ge=1, le=1_000_000)


class MssqlConfig(DatabaseConfig):
    """Keys of images/emulators/decnet_emu/protocols/mssql.py."""

    force_encryption: bool | None = None
    tls: bool | None = Field(default=None, description="Offer TLS at all (default true).")


LOGINS_FIELD = Field(
    default=None, max_length=64,
    description="Logins that succeed ({user, password} items): the session goes on.",
)


class RedisConfig(DatabaseConfig):
    """Keys of images/emulators/decnet_emu/protocols/redis.py."""

    password: str | None = Field(default=None, description="requirepass: AUTH succeeds.")
    protected: bool | None = Field(default=None, description="false: INFO answered.")


class MongodbConfig(DatabaseConfig):
    """Keys of images/emulators/decnet_emu/protocols/mongodb.py."""

    git_version: str | None = None
    accept: list[Credential] | None = LOGINS_FIELD


class MqttConfig(ServiceConfig):
    """Keys of images/emulators/decnet_emu/protocols/mqtt.py."""

    version: str | None = None
    anonymous: bool | None = Field(default=None, description="true: CONNECT accepted.")
    accept: list[Credential] | None = LOGINS_FIELD


class RdpConfig(ServiceConfig):
    """Keys of images/emulators/decnet_emu/protocols/rdp.py."""

    nla: bool | None = Field(default=None, description="Network Level Authentication "
                             "(CredSSP); default true, like current Windows.")


class SmbConfig(ServiceConfig):
    workgroup: str = "WORKGROUP"
    server_string: str = "Samba 4.17.12-Debian"


class SnmpConfig(ServiceConfig):
    community: str | list[str] = "public"
    sys_descr: str | None = Field(default=None, description="Default: uname -a of the persona.")
    sys_contact: str | None = None
    sys_location: str | None = None


class DnsConfig(ServiceConfig):
    domain: str | None = Field(default=None, description="Zone; default: the persona's domain.")
    version: str | None = Field(default=None, description="version.bind answer.")
    network: str | None = Field(default=None, description="The zone's /24, e.g. 10.1.2.0/24.")
    address: str | None = Field(default=None, description="The decky's own A record.")
    axfr: bool = False


class SipConfig(ServiceConfig):
    realm: str | None = Field(default=None, description="Digest realm; default: the domain.")
    user_agent: str | None = Field(default=None, description="Server header, e.g. Asterisk.")


class LdapConfig(ServiceConfig):
    base_dn: str = "dc=corp,dc=internal"


class DockerApiConfig(ServiceConfig):
    """docker_api: unset keys follow the persona (see decnet_emu.protocols.docker_api)."""

    version: str | None = None
    containers: list[dict[str, str]] | None = None
    images: list[str] | None = None
    start_error: str | None = None
    pull_error: str | None = None
    exec_error: str | None = None


class K8sConfig(ServiceConfig):
    """k8s: unset keys follow the persona (see decnet_emu.protocols.k8s)."""

    version: str | None = None
    anonymous: bool | None = None
    basic_auth: bool | None = Field(default=None, description="--basic-auth-file: the "
                                    "plain-text Basic challenge (default: before v1.19).")
    service_ip: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None


@dataclass(frozen=True, slots=True)
class Port:
    """A port an emulated service listens on."""

    number: int
    protocol: Protocol = "tcp"

    def __str__(self) -> str:
        return f"{self.number}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class Service:
    """One emulated service: its name, ports and config schema."""

    name: str
    ports: tuple[Port, ...]
    config: type[ServiceConfig]
    description: str

    @property
    def image(self) -> str:
        """The full emulator image built offline by `decnet images build` (the default)."""
        return f"decnet/svc-{self.name.replace('_', '-')}:latest"

    @property
    def light_image(self) -> str:
        """The busybox first-exchange emulator (`emulation: light`)."""
        return f"decnet/svc-{self.name.replace('_', '-')}-light:latest"

    def image_for(self, emulation: str) -> str:
        """The offline-built image of this service for `emulation` (light or full)."""
        return self.light_image if emulation == "light" else self.image


def _svc(name: str, ports: str, config: type[ServiceConfig], description: str) -> Service:
    parsed = []
    for item in ports.split():
        number, _, proto = item.partition("/")
        parsed.append(Port(int(number), proto or "tcp"))  # type: ignore[arg-type]
    return Service(name, tuple(parsed), config, description)


_ALL = [
    _svc("ssh", "22", SshConfig, "OpenSSH version banner and password prompt"),
    _svc("telnet", "23", TelnetConfig, "Telnet login prompt"),
    _svc("http", "80", HttpConfig, "HTTP server with configurable Server header and page"),
    _svc("https", "443", HttpConfig, "HTTP over TLS"),
    _svc("ftp", "21", FtpConfig, "FTP greeting and login"),
    _svc("smtp", "25 587", SmtpConfig, "SMTP greeting, EHLO and AUTH"),
    _svc("smb", "139 445", SmbConfig, "SMB/CIFS file sharing"),
    _svc("rdp", "3389", RdpConfig, "Remote Desktop"),
    _svc("vnc", "5900", ServiceConfig, "VNC remote framebuffer"),
    _svc("mysql", "3306", MysqlConfig, "MySQL greeting packet"),
    _svc("postgres", "5432", PostgresConfig, "PostgreSQL"),
    _svc("mssql", "1433", MssqlConfig, "Microsoft SQL Server"),
    _svc("mongodb", "27017", MongodbConfig, "MongoDB"),
    _svc("redis", "6379", RedisConfig, "Redis replies"),
    _svc("elasticsearch", "9200", ElasticsearchConfig, "Elasticsearch REST"),
    _svc("ldap", "389", LdapConfig, "LDAP directory"),
    _svc("dns", "53 53/udp", DnsConfig, "DNS resolver"),
    _svc("snmp", "161/udp", SnmpConfig, "SNMP agent"),
    _svc("sip", "5060/udp 5060", SipConfig, "SIP user agent"),
    _svc("mqtt", "1883", MqttConfig, "MQTT broker"),
    _svc("docker_api", "2375", DockerApiConfig, "Docker Engine API without TLS"),
    _svc("k8s", "6443", K8sConfig, "Kubernetes API server"),
]

SERVICES: dict[str, Service] = {service.name: service for service in _ALL}
