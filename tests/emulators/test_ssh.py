"""ssh: the real OpenSSH server in its container, against OpenSSH's `ssh`, paramiko and nmap.

The container runs hardened as the deployer should run it (read-only root, tmpfs, all
capabilities dropped but the five of images/emulators/ssh/README.md, no-new-privileges).
Image: $DECNET_TEST_SSH_IMAGE, else `decnet/svc-ssh:latest` when it carries sshd and the
capture hook, else a development image built here (debootstrap'd bookworm, cached as
`decnet-test/ssh-rootfs:bookworm`, plus the repository's files). Docker or debootstrap
missing: skipped, a failure under CI=true.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from decnet_lib.logs.emulator_line import EmulatorEvent, parse_line
from tests.emulators.harness import EMULATORS, REPO, nmap_service

if str(EMULATORS) not in sys.path:  # decnet_emu, for the key and nscd checks below
    sys.path.insert(0, str(EMULATORS))

pytest_plugins = ["docker_support"]
pytestmark = pytest.mark.slow

ROOTFS_IMAGE = "decnet-test/ssh-rootfs:bookworm"
ROOTFS_PACKAGES = ("python3,python3-cffi-backend,python3-cryptography,openssh-server,"
                   "libpam-modules,snoopy,passwd,bash,iproute2,procps")
LABEL = "decnet-test.ssh"
CAPS = ["CHOWN", "SETUID", "SETGID", "SYS_CHROOT", "AUDIT_WRITE"]
ACCEPT = [{"user": "root", "password": "123456"}, {"user": "admin", "password": "s3cret!"}]
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "PreferredAuthentications=password",
            "-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=10"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _unavailable(message: str) -> None:
    if _in_ci():
        pytest.fail(message)
    pytest.skip(message)


# -- the image --------------------------------------------------------------------------------
def _has_files(client: Any, image: str) -> bool:
    from docker.errors import DockerException

    try:
        client.containers.run(image, ["/bin/sh", "-c", "test -x /usr/sbin/sshd && test -x "
                                      "/usr/local/lib/decnet-ssh/pam-capture"],
                              entrypoint=[], remove=True, labels={LABEL: "probe"})
        return True
    except DockerException:
        return False


def _rootfs_image(client: Any) -> str:
    from docker.errors import ImageNotFound

    with contextlib.suppress(ImageNotFound):
        client.images.get(ROOTFS_IMAGE)
        return ROOTFS_IMAGE
    if shutil.which("debootstrap") is None:
        _unavailable("no debootstrap to build the ssh test image (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="ssh-rootfs-") as root:
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={ROOTFS_PACKAGES}",
                        "bookworm", root, "http://deb.debian.org/debian"],
                       check=True, capture_output=True, timeout=900)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "--change", "LABEL decnet.test.image=true", "-",
                        ROOTFS_IMAGE], stdin=tar.stdout, check=True, capture_output=True,
                       timeout=600)
        tar.wait()
    return ROOTFS_IMAGE


def _dev_image(client: Any, tag: str) -> str:
    """The repository's decnet_emu and ssh files on the bookworm root."""
    base = _rootfs_image(client)
    with tempfile.TemporaryDirectory(prefix="ssh-ctx-") as ctx:
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(EMULATORS / "decnet_emu", Path(ctx) / "decnet_emu", ignore=ignore)
        shutil.copytree(EMULATORS / "ssh", Path(ctx) / "ssh", ignore=ignore)
        shutil.copy2(REPO / "decnet_lib" / "logs" / "emulator_line.py",
                     Path(ctx) / "decnet_emu" / "_emulator_line.py")
        (Path(ctx) / "Dockerfile").write_text(
            f"FROM {base}\n"
            "COPY ssh /opt/decnet/ssh\n"
            "COPY decnet_emu /opt/decnet/emu/decnet_emu\n"
            "RUN /opt/decnet/ssh/image-setup.sh\n"
            "ENV PYTHONPATH=/opt/decnet/emu PYTHONDONTWRITEBYTECODE=1\n"
            f"LABEL {LABEL}=image\n"
            'CMD ["python3", "-m", "decnet_emu"]\n')
        client.images.build(path=ctx, tag=tag, rm=True, forcerm=True)
    return tag


@dataclass
class SshDecky:
    """The running container: its address and its events."""

    container: Any
    ip: str

    def events(self, kind: str | None = None, wait: float = 0.0,
               where: Any = None) -> list[EmulatorEvent]:
        """Parsed events (waiting up to `wait` s for one of `kind` matching `where`)."""
        deadline = time.monotonic() + wait
        while True:
            lines = self.container.logs(stdout=True, stderr=False).decode("ascii", "replace")
            parsed = [e for e in map(parse_line, lines.splitlines()) if e is not None]
            found = [e for e in parsed if (kind is None or e.event == kind)
                     and (where is None or where(e))]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.2)


@pytest.fixture(scope="module")
def ssh_decky(docker_client: Any) -> Iterator[SshDecky]:
    from docker.errors import APIError, ImageNotFound, NotFound

    token = uuid.uuid4().hex[:10]
    own_image = None
    image = os.environ.get("DECNET_TEST_SSH_IMAGE", "")
    if not image:
        image = "decnet/svc-ssh:latest"
        try:
            docker_client.images.get(image)
            usable = _has_files(docker_client, image)
        except ImageNotFound:
            usable = False
        if not usable:
            image = own_image = _dev_image(docker_client, f"decnet-test/ssh-dev:{token}")
    network = container = None
    try:
        network = docker_client.networks.create(f"decnet-test-ssh-{token}", driver="bridge",
                                                labels={LABEL: token})
        container = docker_client.containers.run(
            image, detach=True, name=f"decnet-test-ssh-{token}", network=network.name,
            labels={LABEL: token}, read_only=True,
            tmpfs={path: "" for path in ("/run", "/tmp", "/home", "/var/log", "/root")},
            cap_drop=["ALL"], cap_add=CAPS, security_opt=["no-new-privileges"],
            pids_limit=256, mem_limit="256m",
            environment={"DECNET_SERVICE": "ssh", "DECNET_PORTS": "22/tcp",
                         "DECNET_DECKY": "web01",
                         "DECNET_PERSONA": json.dumps({"hostname": "web01",
                                                       "seed_hex": token}),
                         "DECNET_CFG_ACCEPT": json.dumps(ACCEPT),
                         "DECNET_CFG_MOTD": "Authorized use only"})
        deadline = time.monotonic() + 60
        while b"listening on" not in container.logs(stdout=False, stderr=True):
            container.reload()
            if container.status == "exited" or time.monotonic() > deadline:
                raise RuntimeError("ssh container did not start: "
                                   + container.logs().decode("utf-8", "replace"))
            time.sleep(0.25)
        container.reload()
        ip = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        yield SshDecky(container, ip)
    finally:
        if container is not None:
            with contextlib.suppress(NotFound, APIError):
                container.remove(force=True)
        if network is not None:
            with contextlib.suppress(NotFound, APIError):
                network.remove()
        if own_image is not None:
            with contextlib.suppress(ImageNotFound, APIError):
                docker_client.images.remove(own_image, force=True)


def _ssh(ip: str, user: str, password: str, *command: str,
         tty: bool = False, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    args = ["sshpass", "-p", password, "ssh", *SSH_OPTS, *(["-tt"] if tty else []),
            f"{user}@{ip}", *command]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, input=stdin)


def _host_ip_towards(ip: str) -> str:
    out = subprocess.run(["ip", "-4", "route", "get", ip], capture_output=True, text=True)
    words = out.stdout.split()
    return words[words.index("src") + 1] if "src" in words else ""


def _require(*tools: str) -> None:
    """The real clients a test drives (scripts/test.sh installs them; CI fails without)."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} not installed (openssh-client, sshpass, nmap)")


@pytest.fixture
def openssh_client() -> None:
    _require("ssh", "sshpass")


@pytest.fixture
def nmap_tool() -> None:
    _require("nmap")


needs_openssh = pytest.mark.usefixtures("openssh_client")


# -- failed logins ----------------------------------------------------------------------------
@needs_openssh
def test_openssh_client_password_tries_are_recorded(ssh_decky: SshDecky) -> None:
    result = _ssh(ssh_decky.ip, "root", "wrong-pw", "true")
    assert result.returncode != 0
    assert "Permission denied" in result.stderr
    result = _ssh(ssh_decky.ip, "oracle", "p4ss word", "true")  # a user that does not exist
    assert result.returncode != 0
    for user, password in (("root", "wrong-pw"), ("oracle", "p4ss word")):
        (login,) = ssh_decky.events("login", wait=10, where=lambda e, u=user, p=password:
                                    e.fields.get("user") == u and e.fields.get("password") == p)
        assert login.fields["success"] == "false"
        assert login.fields["mech"] == "password"
        assert login.src_ip == _host_ip_towards(ssh_decky.ip)
        assert login.dst_port == 22
        session = login.fields["session"]
        assert ssh_decky.events("connect", where=lambda e, s=session:
                                e.fields.get("session") == s)


def test_paramiko_password_tries_are_recorded(ssh_decky: SshDecky) -> None:
    import paramiko
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        client.connect(ssh_decky.ip, username="ubuntu", password="p@ss:w0rd%",
                       look_for_keys=False, allow_agent=False, timeout=15)
    assert client.get_transport() is None or not client.get_transport().is_authenticated()
    client.close()
    (login,) = ssh_decky.events("login", wait=10,
                                where=lambda e: e.fields.get("user") == "ubuntu")
    assert login.fields["password"] == "p@ss:w0rd%"
    assert login.fields["success"] == "false"
    session = login.fields["session"]
    (gone,) = ssh_decky.events("disconnect", wait=10,
                               where=lambda e: e.fields.get("session") == session)
    assert float(gone.fields["duration_s"]) > 0


# -- footholds --------------------------------------------------------------------------------
@needs_openssh
def test_accepted_credential_gets_a_real_shell_and_commands_are_events(
        ssh_decky: SshDecky) -> None:
    result = _ssh(ssh_decky.ip, "root", "123456", "ip addr; id")
    assert result.returncode == 0, result.stderr
    assert "uid=0(root)" in result.stdout
    assert f"inet {ssh_decky.ip}/" in result.stdout  # the decky's own interface
    (login,) = ssh_decky.events("login", wait=10, where=lambda e: e.fields.get("user") == "root"
                                and e.fields.get("success") == "true")
    assert login.fields["password"] == "123456"
    session = login.fields["session"]
    mine = lambda e: e.fields.get("session") == session  # noqa: E731
    gone = ssh_decky.events("disconnect", wait=10, where=mine)
    assert gone and float(gone[0].fields["duration_s"]) > 0
    commands = [e.fields["cmd"] for e in ssh_decky.events("command", where=mine)]
    assert "ip addr" in commands and "id" in commands, commands
    assert "bash -c ip addr; id" in commands
    assert ssh_decky.events("connect", where=mine)
    assert all(e.src_ip == login.src_ip for e in ssh_decky.events(where=mine))


@needs_openssh
def test_interactive_shell_of_a_created_account(ssh_decky: SshDecky) -> None:
    result = _ssh(ssh_decky.ip, "admin", "s3cret!", tty=True,
                  stdin="whoami\nuname -s\nexit\n")
    assert "admin" in result.stdout and "Linux" in result.stdout, result.stdout
    assert "Authorized use only" in result.stdout  # the motd
    (login,) = ssh_decky.events("login", wait=10, where=lambda e: e.fields.get("user") == "admin"
                                and e.fields.get("success") == "true")
    session = login.fields["session"]
    mine = lambda e: e.fields.get("session") == session  # noqa: E731
    ssh_decky.events("disconnect", wait=10, where=mine)
    (channel,) = ssh_decky.events("channel", where=mine)
    assert channel.fields["type"] == "shell" and channel.fields["tty"].startswith("pts/")
    commands = [e.fields["cmd"] for e in ssh_decky.events("command", where=mine)]
    assert {"whoami", "uname -s"} <= set(commands), commands
    assert all(e.fields["uid"] != "0" for e in ssh_decky.events("command", where=mine))


def test_sftp_transfers_are_events(ssh_decky: SshDecky) -> None:
    import paramiko
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(ssh_decky.ip, username="root", password="123456", look_for_keys=False,
                   allow_agent=False, timeout=15)
    sftp = client.open_sftp()
    with sftp.open("/tmp/dropped.sh", "w") as handle:
        handle.write("echo pwned\n")
    sftp.close()
    client.close()
    ops = ssh_decky.events("sftp", wait=10, where=lambda e: e.fields.get("op") == "close")
    assert any("/tmp/dropped.sh" in e.fields["detail"] for e in ops)


# -- what a scanner sees ----------------------------------------------------------------------
@pytest.mark.usefixtures("nmap_tool")
def test_nmap_names_openssh(ssh_decky: SshDecky) -> None:
    line = nmap_service(ssh_decky.ip, 22)
    assert "OpenSSH 9.2p1 Debian" in line, line


def test_host_keys_come_from_the_persona(ssh_decky: SshDecky) -> None:
    import paramiko
    from cryptography.hazmat.primitives import serialization
    from decnet_emu.persona import Persona
    from decnet_emu.protocols._ssh_keys import host_keys

    transport = paramiko.Transport((ssh_decky.ip, 22))
    try:
        transport.start_client(timeout=15)
        assert transport.remote_version.startswith("SSH-2.0-OpenSSH_9.2p1 Debian-")
        served = transport.get_remote_server_key().get_base64()
    finally:
        transport.close()
    env = dict(item.split("=", 1) for item in ssh_decky.container.attrs["Config"]["Env"])
    seed = json.loads(env["DECNET_PERSONA"])["seed_hex"]
    pem = host_keys(Persona(hostname="web01", seed_hex=seed), rsa_bits=0)["ed25519"]
    public = serialization.load_ssh_private_key(pem, None).public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert served == public.split()[1].decode()


# -- pure functions (no Docker) -----------------------------------------------------------------
def test_banner_options() -> None:
    from decnet_emu.protocols.ssh import banner_options

    assert banner_options("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3") == ("yes", "none")
    assert banner_options("SSH-2.0-OpenSSH_9.2p1") == ("no", "none")
    assert banner_options("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 corp") == ("yes", "corp")
    assert banner_options("SSH-2.0-dropbear_2022.83") == ("yes", "none")
    assert banner_options(None) == ("yes", "none")


def test_host_keys_are_deterministic_and_per_persona() -> None:
    from cryptography.hazmat.primitives import serialization
    from decnet_emu.persona import Persona
    from decnet_emu.protocols._ssh_keys import host_keys

    def public(seed: str) -> dict[str, bytes]:  # the private files carry a random check int
        keys = host_keys(Persona(hostname="a", seed_hex=seed), rsa_bits=1024)
        return {name: serialization.load_ssh_private_key(pem, None).public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            for name, pem in keys.items()}

    one, other = public("01"), public("02")
    assert one == public("01")
    assert set(one) == {"ed25519", "ecdsa", "rsa"}
    assert all(one[name] != other[name] for name in one)


def test_nscd_answer_makes_unknown_users_exist() -> None:
    from decnet_emu.protocols._ssh_supervisor import nscd_passwd_answer

    answer = nscd_passwd_answer(0, "no-such-user-x")
    version, found, name_len = struct.unpack("=iii", answer[:12])
    assert (version, found) == (2, 1)
    assert answer[36:36 + name_len] == b"no-such-user-x\0"
    assert answer.endswith(b"/bin/bash\0")
    assert struct.unpack("=ii", nscd_passwd_answer(1, "987654")[:8]) == (2, 0)


def test_accept_list_keeps_only_valid_items() -> None:
    from decnet_emu.protocols._ssh_accounts import Account, accept_list

    assert accept_list([{"user": "root", "password": "x"}, "bob:pw", {"user": "Bad User"},
                        {"user": "eve", "password": ""}, 7]) == [
        Account("root", "x"), Account("bob", "pw")]
    assert accept_list("nope") == []
