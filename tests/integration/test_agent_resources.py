"""The agent stays small under hostile connections (issue 14.3): a real `decnet agent serve`
process with mutual TLS, its RSS read from /proc.

Bound: the agent's RSS grows by less than 64 MiB over its idle size while 2,000 TCP
connections never start TLS and while a 300 MiB chunked body is sent, and a legitimate
client is served all along. (Before: 99 -> 693 MiB, and 702 MiB for the body.)
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from decnet_lib.pki import init_ca, issue

RSS_BOUND_MIB = 64


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int, Path]]:
    state = tmp_path_factory.mktemp("agent-state")
    pki = state / "pki"
    init_ca(pki)
    issue(pki, "agent", "server")
    issue(pki, "master", "client")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_")}
    env.update(DECNET_STATE_DIR=str(state), DECNET_MODE="agent", DECNET_BUS="null")
    process = subprocess.Popen(
        [sys.executable, "-m", "decnet_lib.cli", "agent", "serve", "--port", str(port),
         "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"agent did not start: {process.stderr.read()!r}")
        yield process.pid, port, pki
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def client(port: int, pki: Path) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(pki / "master.crt", pki / "master.key")
    return httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context, timeout=30)


def test_stalled_handshakes_neither_grow_the_agent_nor_starve_clients(
    agent: tuple[int, int, Path],
) -> None:
    pid, port, pki = agent
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2100:  # 2,000 sockets of our own: raise our limit as far as we may
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    with client(port, pki) as http:
        assert http.get("/health").json()["ok"] is True
    idle = rss_mib(pid)
    stalled = []
    try:
        for _ in range(2000):
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", port))
            stalled.append(sock)
        time.sleep(2)
        with client(port, pki) as http:  # retries: the gate refuses while it is full
            for _ in range(50):
                try:
                    assert http.get("/health").status_code == 200
                    break
                except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
                    time.sleep(0.3)
            else:
                raise AssertionError("a legitimate client was never served")
        peak = rss_mib(pid)
    finally:
        for sock in stalled:
            sock.close()
    print(f"agent RSS with 2,000 stalled connections: idle {idle:.0f} MiB, peak {peak:.0f} MiB")
    assert peak - idle < RSS_BOUND_MIB, (idle, peak)


def test_an_oversized_chunked_body_is_refused_while_it_streams(
    agent: tuple[int, int, Path],
) -> None:
    pid, port, pki = agent
    idle = rss_mib(pid)
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(pki / "master.crt", pki / "master.key")
    chunk = b"x" * (1024 * 1024)
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"POST /topology/apply HTTP/1.1\r\nHost: agent\r\n"
                    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        tls.settimeout(0.05)
        for _ in range(300):  # up to 300 MiB, stopping as soon as the agent answers
            try:
                tls.sendall(framed)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                break
            sent += len(chunk)
            try:
                answer += tls.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            if answer:
                break
        tls.settimeout(5)
        while b"\r\n\r\n" not in answer:
            more = tls.recv(65536)
            if not more:
                break
            answer += more
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"BODY_TOO_LARGE" in answer or b"\r\n\r\n" in answer
    assert sent <= 64 * len(chunk)  # refused at the 16 MiB limit, not after 300 MiB
    after = rss_mib(pid)
    print(f"agent RSS with a 300 MiB chunked body: {idle:.0f} -> {after:.0f} MiB, "
          f"{sent >> 20} MiB sent before the 413")
    assert after - idle < RSS_BOUND_MIB
