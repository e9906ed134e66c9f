"""The hardening table: one profile per kind of container, a decky's limits on top."""

from __future__ import annotations

from decnet_lib.deploy.hardening import (
    BASE_LIMITS,
    FOOTHOLD_LIMITS,
    NOBODY,
    PROFILES,
    SERVICE_LIMITS,
    SSHD_CAPS,
    hardening_for,
    profile_key,
)


def test_profiles_are_picked_by_role_emulation_and_service() -> None:
    assert profile_key("base", "ssh", "full") == "base"
    assert profile_key("service", "ssh") == "light"
    assert profile_key("service", "http", "full") == "full"
    assert profile_key("service", "ssh", "full") == "full:ssh"
    assert profile_key("service", "ssh", "unknown") == "light"


def test_every_profile_drops_everything_it_does_not_name() -> None:
    for key, profile in PROFILES.items():
        config = profile.host_config()
        assert config["cap_drop"] == ["ALL"], key
        assert config["security_opt"] == ["no-new-privileges:true"], key
        assert config["read_only"] and "/tmp" in config["tmpfs"], key
        assert config["log_config"]["config"] == {"max-size": "10m", "max-file": "3"}
        assert all("noexec" in opts and "nosuid" in opts for opts in profile.tmpfs.values())
        if key != "full:ssh":
            assert profile.user == NOBODY and not profile.cap_add, key
    sshd = hardening_for("service", "ssh", emulation="full")
    assert sshd.cap_add == SSHD_CAPS and "NET_RAW" not in sshd.cap_add
    assert {"/home", "/root", "/tmp", "/var/log"} <= set(sshd.tmpfs)
    assert sshd.limits == FOOTHOLD_LIMITS


def test_a_deckys_resources_override_its_profile_limits() -> None:
    assert hardening_for("base").limits == BASE_LIMITS
    assert hardening_for("service", "http").limits == SERVICE_LIMITS
    tuned = hardening_for("service", "http", {"memory": "96m", "pids": 64})
    assert (tuned.limits.memory, tuned.limits.pids, tuned.limits.cpus) == ("96m", 64, 0.5)
    assert hardening_for("service", "http", {}) is PROFILES["light"]
    sshd = hardening_for("service", "ssh", {"cpus": 1.0}, emulation="full")
    assert sshd.limits.pids == FOOTHOLD_LIMITS.pids and sshd.limits.cpus == 1.0
