"""`decnet bus serve|tail|pub` as real processes: signals, the CLI contract, group access."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import decnet_lib.cli as cli
from decnet_lib.bus.protocol import decode_frame, encode_frame

REPO = Path(__file__).resolve().parents[2]
# `decnet bus ...` once the group is listed in decnet_lib.cli, else the same group on its own
ENTRY = "decnet_lib.cli" if "bus" in cli.GROUP_MODULES else "decnet_lib.bus"
BUS = [sys.executable, "-m", ENTRY, "bus"]
SYSTEM_PYTHON = "/usr/bin/python3"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def wait_until(check, timeout: float = 10.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.02)


def answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def start_server(path: Path, *extra: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([*BUS, "serve", "--socket", str(path), *extra], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: answers(path) or process.poll() is not None, what="server up")
    except AssertionError:
        stop(process)
        raise
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    return process


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Stop a process this test started, by its PID."""
    if process.poll() is None:
        os.kill(process.pid, sig)
        try:
            return process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            raise
    return process.returncode


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    path = tmp_path / "run" / "bus.sock"
    process = start_server(path, "--health-interval", "0")
    try:
        yield path, process
    finally:
        stop(process)


def pub(path: Path, topic: str, payload: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BUS, "pub", topic, payload, "--socket", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=30)


# -- serve ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly(tmp_path: Path, sig: int) -> None:
    path = tmp_path / "fresh" / "dir" / "bus.sock"
    process = start_server(path, "--health-interval", "0")
    assert path.exists() and oct(path.stat().st_mode & 0o777) == oct(0o660)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(path))
    client.settimeout(5)
    assert stop(process, sig) == 0
    assert not path.exists()
    data = b""
    while chunk := client.recv(4096):
        data += chunk
    assert decode_frame(data).verb == "BYE"  # connected clients are told
    client.close()
    _, err = process.communicate()
    assert b"Traceback" not in err


def test_second_server_is_refused(server: tuple[Path, subprocess.Popen[bytes]]) -> None:
    path, _ = server
    second = subprocess.run([*BUS, "serve", "--socket", str(path)], cwd=REPO,
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    assert second.stderr.strip().splitlines()[-1].startswith("error[BUS_RUNNING]")
    assert "Traceback" not in second.stderr
    assert pub(path, "still.alive", "{}").returncode == 0


# -- tail and pub --------------------------------------------------------------------------
def read_line(process: subprocess.Popen[bytes], timeout: float) -> bytes | None:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else None


def test_tail_and_pub(server: tuple[Path, subprocess.Popen[bytes]]) -> None:
    path, _ = server
    tails = {
        as_json: subprocess.Popen(
            [*BUS, "tail", "cli.*", "--socket", str(path), *(["--json"] if as_json else [])],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for as_json in (True, False)
    }
    try:
        lines: dict[bool, bytes] = {}
        deadline = time.monotonic() + 15
        while len(lines) < 2 and time.monotonic() < deadline:
            done = pub(path, "cli.hello", '{"n": 1, "who": "me"}')
            assert done.returncode == 0, done.stderr
            assert done.stdout == ""
            for as_json, process in tails.items():
                if as_json not in lines and (line := read_line(process, 0.2)):
                    lines[as_json] = line
        assert len(lines) == 2, "tail printed nothing"
        event = orjson.loads(lines[True])
        assert event["topic"] == "cli.hello" and event["payload"] == {"n": 1, "who": "me"}
        assert set(event) == {"v", "id", "topic", "ts", "payload"}
        text = lines[False].decode()
        assert " cli.hello " in text and text.rstrip().endswith('{"n":1,"who":"me"}')
    finally:
        codes = [stop(process, signal.SIGINT) for process in tails.values()]
    assert codes == [0, 0]  # Ctrl-C ends tail quietly
    for process in tails.values():
        assert b"Traceback" not in process.communicate()[1]


@pytest.fixture
def decnet(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """`decnet ARGS` in-process, with the bus group registered; returns (code, out, err)."""
    if "bus" not in cli.GROUP_MODULES:
        monkeypatch.setattr(cli, "GROUP_MODULES", (*cli.GROUP_MODULES, "bus"))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.mark.parametrize(("payload", "message"), [
    ("{nope", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('"text"', "must be a JSON object"),
    ("", "not valid JSON"),
])
def test_pub_bad_json_exits_2(decnet, tmp_path: Path, payload: str, message: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = decnet("bus", "pub", "a.b", payload, "--socket", str(tmp_path / "x.sock"))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and err.startswith("error[")


def test_pub_bad_topic_exits_2(decnet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = decnet("bus", "pub", "a.*", "{}", "--socket", str(tmp_path / "x.sock"))
    assert code == 2 and err.startswith("error[BUS_TOPIC]") and len(err.splitlines()) == 1
    code, _, err = decnet("bus", "tail", "a.>.b", "--socket", str(tmp_path / "x.sock"))
    assert code == 2 and err.startswith("error[BUS_TOPIC]")


def test_pub_without_server_is_one_line(tmp_path: Path) -> None:
    done = pub(tmp_path / "none.sock", "a.b", "{}")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error[BUS_UNAVAILABLE]")
    assert len(done.stderr.splitlines()) == 1


def test_bus_is_not_master_only(decnet, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DECNET_MODE", "agent")
    code, out, _ = decnet("bus", "--help")
    assert code == 0 and "serve" in out and "tail" in out and "pub" in out


# -- the file mode is the authorization --------------------------------------------------
def _must_run_as_root() -> None:
    if os.geteuid() != 0:
        message = "creating a group and users to test socket permissions needs root"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    for tool in ("groupadd", "useradd", "userdel", "groupdel", "setpriv"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing (Debian packages passwd and util-linux)")


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@pytest.fixture
def accounts() -> Iterator[dict[str, str]]:
    """Group `decnet` (created if missing) and two throwaway users: a member and an outsider."""
    _must_run_as_root()
    import grp

    created_group = False
    try:
        grp.getgrnam("decnet")
    except KeyError:
        _sh("groupadd", "--system", "decnet")
        created_group = True
    tag = uuid.uuid4().hex[:8]
    users = {"member": f"dnbus-{tag}-m", "outsider": f"dnbus-{tag}-o"}
    made: list[str] = []
    try:
        for role, name in users.items():
            extra = ["-G", "decnet"] if role == "member" else []
            _sh("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group",
                *extra, name)
            made.append(name)
        yield users
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True, timeout=30)
        if created_group:
            subprocess.run(["groupdel", "decnet"], capture_output=True, timeout=30)


CONNECT_AS = """
import errno, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(errno.errorcode.get(exc.errno, exc.errno)); sys.exit(1)
s.sendall(bytes.fromhex(sys.argv[2]))
print("PONG" if s.recv(64).startswith(b"PONG") else "NO-PONG")
"""


def connect_as(user: str, path: Path) -> str:
    done = subprocess.run(
        ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", SYSTEM_PYTHON,
         "-c", CONNECT_AS, str(path), encode_frame("PING").hex()],
        capture_output=True, text=True, timeout=30)
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[-1]


def test_only_group_decnet_can_connect(accounts: dict[str, str]) -> None:
    import grp

    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.fail(f"{SYSTEM_PYTHON} is needed to connect as another user")
    # a directory everyone may traverse, so that only the socket's own mode decides
    base = Path(tempfile.mkdtemp(prefix="dnbus-"))
    base.chmod(0o755)
    path = base / "bus.sock"
    process = start_server(path, "--health-interval", "0")
    try:
        info = path.stat()
        assert info.st_gid == grp.getgrnam("decnet").gr_gid
        assert info.st_mode & 0o777 == 0o660
        assert connect_as(accounts["outsider"], path) == "EACCES"
        assert connect_as(accounts["member"], path) == "PONG"
    finally:
        stop(process)
        shutil.rmtree(base, ignore_errors=True)
