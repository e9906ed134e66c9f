"""A real rsyslogd (Debian's package) listening on loopback, as a SIEM stand-in for tests.

Each `Rsyslog` runs its own `rsyslogd -n -f CONF -i PIDFILE` with one input (imtcp, imtcp
with the gtls driver, or imudp) on a free loopback port and writes every message whose
APP-NAME is `decnet` to `received.log` as its raw text (`%rawmsg%`), one per line; other
messages (the readiness probes) go to `probe.log`. It is stopped by its own PID only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from decnet_lib.logs.syslog_conn import SyslogConnection, tls_context
from decnet_lib.logs.syslog_target import SyslogTarget, frame
from decnet_lib.pki import init_ca, issue

RSYSLOGD = "/usr/sbin/rsyslogd"
GTLS_MODULE = "lmnsd_gtls.so"


def require_rsyslogd() -> None:
    """Skip without rsyslogd (and its gtls driver); under CI=true that is a failure."""
    gtls = any(Path(d, GTLS_MODULE).exists() for d in (
        "/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog",
        "/usr/lib/rsyslog"))
    if shutil.which(RSYSLOGD) and gtls:
        return
    message = "rsyslogd with its gtls driver is missing: apt-get install rsyslog rsyslog-gnutls"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Rsyslog:
    """One rsyslogd receiving `transport` on 127.0.0.1; start, stop and start again."""

    def __init__(self, workdir: Path, transport: str) -> None:
        require_rsyslogd()
        self.workdir = workdir
        self.transport = transport
        workdir.mkdir(parents=True, exist_ok=True)
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.port = free_port(kind)
        self.received = workdir / "received.log"
        self.probes = workdir / "probe.log"
        self.pki = workdir / "pki"
        if transport == "tcp+tls":
            init_ca(self.pki)
            issue(self.pki, "rsyslog", "server", sans=["127.0.0.1"])
        self.conf = workdir / "rsyslog.conf"
        self.conf.write_text(self._config())
        self.process: subprocess.Popen[bytes] | None = None
        self._probes_sent = 0

    @property
    def url(self) -> str:
        return f"{self.transport}://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.pki / "ca.crt"

    def _config(self) -> str:
        tls = ""
        if self.transport == "tcp+tls":
            tls = (f' defaultNetstreamDriver="gtls"'
                   f' defaultNetstreamDriverCAFile="{self.ca}"'
                   f' defaultNetstreamDriverCertFile="{self.pki / "rsyslog.crt"}"'
                   f' defaultNetstreamDriverKeyFile="{self.pki / "rsyslog.key"}"')
        if self.transport == "udp":
            listen = ('module(load="imudp")\n'
                      f'input(type="imudp" address="127.0.0.1" port="{self.port}")\n')
        elif self.transport == "tcp":
            listen = ('module(load="imtcp")\n'
                      f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n')
        else:
            listen = ('module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" '
                      'streamDriver.authMode="anon")\n'
                      f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n')
        return (
            f'global(workDirectory="{self.workdir}" maxMessageSize="64k"{tls})\n'
            + listen
            + 'template(name="raw" type="string" string="%rawmsg%\\n")\n'
            + 'if $app-name == "decnet" then {\n'
            + f'  action(type="omfile" file="{self.received}" template="raw")\n'
            + '} else {\n'
            + f'  action(type="omfile" file="{self.probes}" template="raw")\n'
            + '}\n'
        )

    def start(self) -> None:
        assert self.process is None, "already running"
        log = (self.workdir / "rsyslogd.out").open("ab")
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(self.workdir / "rsyslogd.pid")],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()  # a start that failed leaves no rsyslogd behind
            raise

    def _probe(self) -> None:
        """Send one probe message (APP-NAME `probe`) with the library's own sender."""
        target = SyslogTarget(self.transport, "127.0.0.1", self.port)  # type: ignore[arg-type]
        context = tls_context(self.ca) if self.transport == "tcp+tls" else None
        connection = SyslogConnection(target, context, timeout=2.0)
        try:
            self._probes_sent += 1
            connection.deliver([frame(target, f"<13>1 - - probe - - - p{self._probes_sent}")])
        finally:
            connection.close()

    def _probes_received(self, after: int) -> bool:
        """Whether a probe numbered above `after` (sent since this start) was written."""
        if not self.probes.exists():
            return False
        for line in self.probes.read_text().splitlines():
            number = line.rpartition(" p")[2]
            if number.isdigit() and int(number) > after:
                return True
        return False

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        before = self._probes_sent
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"rsyslogd exited: {self.output()}")
            try:
                self._probe()
            except OSError:
                time.sleep(0.1)
                continue
            wait_until = time.monotonic() + 1.0
            while time.monotonic() < wait_until:
                if self._probes_received(before):
                    return
                time.sleep(0.05)
        raise AssertionError(f"rsyslogd did not become ready: {self.output()}")

    def output(self) -> str:
        path = self.workdir / "rsyslogd.out"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop our rsyslogd (by its PID) and wait for it."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def lines(self) -> list[str]:
        """What rsyslogd wrote for APP-NAME `decnet`, one message a line."""
        if not self.received.exists():
            return []
        return self.received.read_text(encoding="utf-8").splitlines()
