"""docker_api's JSON documents: what dockerd answers for version, info, container and image
listings, inspect, top and stats, built from the engine's state."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from decnet_emu.protocols._docker_engine import IMAGE_SIZES, Container, Engine, hex_id


def iso_time(when: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + \
        f".{(when * 7919) % 1_000_000_000:09d}Z"


def _ago(seconds: float) -> str:
    """Docker's HumanDuration."""
    if seconds < 60:
        return f"{int(seconds)} seconds" if seconds >= 2 else "Less than a second"
    minutes = int(seconds / 60)
    if minutes < 60:
        return "About a minute" if minutes == 1 else f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def version_doc(engine: Engine) -> dict[str, Any]:
    persona = engine.persona
    build = time.strftime("%Y-%m-%dT%H:%M:%S.000000000+00:00", time.gmtime(engine.built))
    containerd, runc = (("1.6.20~ds1", "1.1.5+ds1") if engine.version.startswith("20.")
                        else ("1.7.24~ds1", "1.1.15+ds1")) if engine.debian else \
        ("1.6.26", "1.1.10")
    details = {"ApiVersion": engine.api, "Arch": "amd64", "BuildTime": build,
               "Experimental": "false", "GitCommit": engine.commit, "GoVersion": engine.go,
               "KernelVersion": persona.kernel, "MinAPIVersion": engine.min_api, "Os": "linux"}
    commit = hex_id(persona, "docker-containerd")
    return {
        "Platform": {"Name": "" if engine.debian else "Docker Engine - Community"},
        "Components": [
            {"Name": "Engine", "Version": engine.version, "Details": details},
            {"Name": "containerd", "Version": containerd, "Details": {
                "GitCommit": f"{containerd}-1" if engine.debian else commit[:40]}},
            {"Name": "runc", "Version": runc, "Details": {
                "GitCommit": f"{runc}-1" if engine.debian else f"v{runc}-0-g{commit[40:47]}"}},
            {"Name": "docker-init", "Version": "0.19.0", "Details": {
                "GitCommit": "" if engine.debian else "de40ad0"}},
        ],
        "Version": engine.version, "ApiVersion": engine.api, "MinAPIVersion": engine.min_api,
        "GitCommit": engine.commit, "GoVersion": engine.go, "Os": "linux", "Arch": "amd64",
        "KernelVersion": persona.kernel, "BuildTime": build,
    }


def info_doc(engine: Engine) -> dict[str, Any]:
    persona = engine.persona
    running = sum(c.state == "running" for c in engine.containers)
    stopped = len(engine.containers) - running
    cpus = (2, 4, 8, 16)[persona.number("docker-ncpu", 4)]
    version = version_doc(engine)
    containerd = version["Components"][1]["Details"]["GitCommit"]
    runc = version["Components"][2]["Details"]["GitCommit"]
    ident = str(uuid.UUID(bytes=persona.derive("docker-id", 16), version=4))
    return {
        "ID": ident, "Containers": len(engine.containers), "ContainersRunning": running,
        "ContainersPaused": 0, "ContainersStopped": stopped,
        "Images": len(set(engine.images.values())), "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"],
                         ["Using metacopy", "false"], ["Native Overlay Diff", "true"],
                         ["userxattr", "false"]],
        "Plugins": {"Volume": ["local"],
                    "Network": ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"],
                    "Authorization": None,
                    "Log": ["awslogs", "fluentd", "gcplogs", "gelf", "journald", "json-file",
                            "local", "splunk", "syslog"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "BridgeNfIptables": True, "BridgeNfIp6tables": True, "Debug": False,
        "NFd": 31 + 6 * running, "OomKillDisable": False, "NGoroutines": 38 + 9 * running,
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) +
        f".{time.time_ns() % 1_000_000_000:09d}Z",
        "LoggingDriver": "json-file", "CgroupDriver": "systemd", "CgroupVersion": "2",
        "NEventsListener": 0, "KernelVersion": persona.kernel,
        "OperatingSystem": persona.os_name, "OSVersion": _os_version(persona.os_name),
        "OSType": "linux", "Architecture": "x86_64",
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": None,
                           "AllowNondistributableArtifactsHostnames": None,
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [],
                                                          "Secure": True, "Official": True}},
                           "Mirrors": None},
        "NCPU": cpus, "MemTotal": cpus * 2 * 1024 ** 3 - 180 * 1024 ** 2 -
        persona.number("docker-mem", 1 << 26),
        "GenericResources": None, "DockerRootDir": "/var/lib/docker", "HttpProxy": "",
        "HttpsProxy": "", "NoProxy": "", "Name": persona.hostname, "Labels": [],
        "ExperimentalBuild": False, "ServerVersion": engine.version,
        "Runtimes": {"io.containerd.runc.v2": {"path": "runc"}, "runc": {"path": "runc"}},
        "DefaultRuntime": "runc",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": containerd, "Expected": containerd},
        "RuncCommit": {"ID": runc, "Expected": runc},
        "InitCommit": {"ID": version["Components"][3]["Details"]["GitCommit"],
                       "Expected": version["Components"][3]["Details"]["GitCommit"]},
        "SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin",
                            "name=cgroupns"],
        "Warnings": ["WARNING: API is accessible on http://0.0.0.0:2375 without encryption.\n"
                     "         Access to the remote API is equivalent to root access on the "
                     "host. Refer\n         to the 'Docker daemon attack surface' section in "
                     "the documentation for\n         more information: https://docs.docker."
                     "com/go/attack-surface/"],
    }


def _os_version(os_name: str) -> str:
    match = re.search(r"(\d+(?:\.\d+)?)", os_name)
    return match.group(1) if match else ""


def _status(container: Container, now: float) -> str:
    if container.state == "running":
        return f"Up {_ago(now - container.created)}"
    if container.state == "created":
        return "Created"
    return f"Exited (137) {_ago(now - container.created - 3600 * 5)} ago"


def container_summary(engine: Engine, item: Container, now: float) -> dict[str, Any]:
    private, public = item.ports
    ports: list[dict[str, Any]] = []
    if private and public and item.state == "running":
        ports = [{"IP": "0.0.0.0", "PrivatePort": private, "PublicPort": public, "Type": "tcp"},
                 {"IP": "::", "PrivatePort": private, "PublicPort": public, "Type": "tcp"}]
    elif private:
        ports = [{"PrivatePort": private, "Type": "tcp"}]
    image_id = engine.images.get(item.image, hex_id(engine.persona, item.image))
    network = {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress":
               f"02:42:ac:11:00:{int(item.ip.rsplit('.', 1)[-1]):02x}" if item.ip and
               item.state == "running" else "",
               "NetworkID": hex_id(engine.persona, "docker-net-bridge"),
               "EndpointID": hex_id(engine.persona, f"docker-ep/{item.name}")
               if item.state == "running" else "",
               "Gateway": "172.17.0.1" if item.state == "running" else "",
               "IPAddress": item.ip if item.state == "running" else "", "IPPrefixLen":
               16 if item.state == "running" else 0, "IPv6Gateway": "",
               "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DriverOpts": None}
    return {"Id": item.id, "Names": [f"/{item.name}"], "Image": item.image,
            "ImageID": f"sha256:{image_id}", "Command": item.command, "Created": item.created,
            "Ports": ports, "Labels": {}, "State": item.state,
            "Status": _status(item, now), "HostConfig": {"NetworkMode": "default"},
            "NetworkSettings": {"Networks": {"bridge": network}}, "Mounts": []}


def container_inspect(engine: Engine, item: Container) -> dict[str, Any]:
    config = item.config or {}
    running = item.state == "running"
    created = iso_time(item.created)
    cmd = config.get("Cmd") if config else item.command.split()[1:]
    path = item.command.split()[0] if item.command else ""
    return {
        "Id": item.id, "Created": created, "Path": path, "Args": cmd or [],
        "State": {"Status": item.state, "Running": running, "Paused": False,
                  "Restarting": False, "OOMKilled": False, "Dead": False,
                  "Pid": 1000 + int(item.id[:4], 16) % 60000 if running else 0,
                  "ExitCode": 137 if item.state == "exited" else 0,
                  "Error": "", "StartedAt": created if running else "0001-01-01T00:00:00Z",
                  "FinishedAt": "0001-01-01T00:00:00Z"},
        "Image": f"sha256:{engine.images.get(item.image, '0' * 64)}",
        "Name": f"/{item.name}", "RestartCount": 0, "Driver": "overlay2",
        "Platform": "linux", "MountLabel": "", "ProcessLabel": "",
        "AppArmorProfile": "docker-default", "ExecIDs": None,
        "HostConfig": config.get("HostConfig") or {"NetworkMode": "default",
                                                   "RestartPolicy": {"Name": "always",
                                                                     "MaximumRetryCount": 0}},
        "Config": {"Hostname": item.id[:12], "Image": item.image, "Cmd": cmd,
                   "Env": config.get("Env") or ["PATH=/usr/local/sbin:/usr/local/bin:"
                                                "/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Labels": {}, "Tty": bool(config.get("Tty")), "OpenStdin":
                   bool(config.get("OpenStdin"))},
        "NetworkSettings": container_summary(engine, item, time.time())["NetworkSettings"],
    }


def image_summary(engine: Engine, repo_tags: list[str], image_id: str) -> dict[str, Any]:
    family = repo_tags[0].rsplit(":", 1)[0]
    size = IMAGE_SIZES.get(family, 20_000_000 + int(image_id[:6], 16) * 17)
    summary = {"Containers": -1, "Created": engine.started - 86400 * 95 -
               int(image_id[6:10], 16) * 263, "Id": f"sha256:{image_id}", "Labels": None,
               "ParentId": "", "RepoDigests": [f"{repo_tags[0].split(':')[0]}@sha256:"
                                                f"{hex_id(engine.persona, image_id)}"],
               "RepoTags": repo_tags, "SharedSize": -1, "Size": size}
    if float(engine.api) < 1.44:
        summary["VirtualSize"] = size
    return summary


def top_doc(item: Container) -> dict[str, Any]:
    """`docker top`: the container's main process and a worker or two."""
    pid = 1000 + int(item.id[:4], 16) % 60000
    started = time.strftime("%b%d", time.gmtime(item.created))
    processes = [["root", str(pid), str(pid - 23), "0", started, "?", "00:00:41",
                  item.command or "/bin/sh"]]
    for offset in range(1, 1 + int(item.id[4], 16) % 3):
        processes.append(["999", str(pid + 17 * offset), str(pid), "0", started, "?",
                          f"00:0{offset}:1{offset}", item.command.split()[0] if item.command
                          else "/bin/sh"])
    return {"Processes": processes,
            "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]}


def stats_doc(engine: Engine, item: Container) -> dict[str, Any]:
    """One sample of `docker stats` (stream=false)."""
    seed = int(item.id[:12], 16)
    uptime = max(1.0, time.time() - item.created)
    total = int(uptime * 1e9 * (0.002 + (seed % 50) / 10_000))
    system = int(uptime * 1e9 * 4)
    cpus = (2, 4, 8, 16)[engine.persona.number("docker-ncpu", 4)]
    memory = 30_000_000 + seed % 400_000_000
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + \
        f".{time.time_ns() % 1_000_000_000:09d}Z"
    cpu = {"cpu_usage": {"total_usage": total, "usage_in_kernelmode": total // 5,
                         "usage_in_usermode": total - total // 5},
           "system_cpu_usage": system, "online_cpus": cpus, "throttling_data": {
               "periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    previous = {**cpu, "cpu_usage": {**cpu["cpu_usage"], "total_usage":
                                                   total - 500_000 - seed % 40_000_000},
                "system_cpu_usage": system - cpus * 1_000_000_000}
    return {"name": f"/{item.name}", "id": item.id, "read": now, "preread": now,
            "pids_stats": {"current": 3 + seed % 20, "limit": 18446744073709551615},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "read", "value": seed % 90_000_000},
                {"major": 8, "minor": 0, "op": "write", "value": seed % 20_000_000}]},
            "num_procs": 0, "storage_stats": {}, "cpu_stats": cpu, "precpu_stats": previous,
            "memory_stats": {"usage": memory, "limit": cpus * 2 * 1024 ** 3,
                             "stats": {"inactive_file": memory // 9}},
            "networks": {"eth0": {"rx_bytes": seed % 900_000_000, "rx_packets": seed % 900_000,
                                  "rx_errors": 0, "rx_dropped": 0,
                                  "tx_bytes": seed % 300_000_000, "tx_packets": seed % 400_000,
                                  "tx_errors": 0, "tx_dropped": 0}}}
