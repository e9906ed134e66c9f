"""mqtt: mosquitto_sub/mosquitto_pub and paho-mqtt against the emulated Mosquitto."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools

SERVICE = "mqtt"
PORTS = ["1883/tcp"]
CONFIG = {"accept": [{"user": "sensor", "password": "pa55"}]}
PERSONA = {"versions": {"mqtt": "mosquitto 2.0.11"}}  # the version hint of a Debian 12 persona


@pytest.fixture
def open_broker() -> Iterator[LocalEmulator]:
    """The same broker with `anonymous: true` (allow_anonymous true)."""
    yield from local_emulator(SERVICE, PORTS, {**CONFIG, "anonymous": True},
                              {"versions": {"mqtt": "mosquitto 2.0.18"}})


def _sub(target: LocalEmulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mosquitto_sub", "-h", target.host, "-p", str(target.port(1883)),
                           "-W", "3", *args], capture_output=True, text=True, timeout=15)


@pytest.mark.parametrize("version", ["mqttv31", "mqttv311", "mqttv5"])
def test_mosquitto_sub_credentials_are_refused_and_recorded(target: LocalEmulator,
                                                            version: str) -> None:
    require_tools("mosquitto_sub", packages="mosquitto-clients")
    out = _sub(target, "-V", version, "-i", "probe-1", "-u", "admin", "-P", "hunter2",
               "-t", "#")
    assert out.returncode != 0
    assert "not authori" in (out.stderr + out.stdout).lower()
    (login,) = target.events("login", wait=3)
    assert login.fields["username"] == "admin" and login.fields["password"] == "hunter2"
    assert login.fields["client_id"] == "probe-1" and login.fields["success"] == "false"
    assert login.fields["protocol"] == {"mqttv31": "3.1", "mqttv311": "3.1.1",
                                       "mqttv5": "5.0"}[version]
    assert login.src_ip == target.source


def test_paho_anonymous_refused_and_accepted_user(target: LocalEmulator) -> None:
    refused = paho.Client(CallbackAPIVersion.VERSION2, client_id="anon")
    refused.connect(target.host, target.port(1883))
    result: dict[str, object] = {}
    done = threading.Event()

    def on_connect(client: paho.Client, userdata: object, flags: object, reason: object,
                   properties: object) -> None:
        result["reason"] = reason
        done.set()

    refused.on_connect = on_connect
    refused.loop_start()
    assert done.wait(5)
    refused.loop_stop()
    assert str(result["reason"]) == "Not authorized"

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="plc-7",
                         protocol=paho.MQTTv5)
    client.username_pw_set("sensor", "pa55")
    client.will_set("plant/status", "offline")
    got: list[tuple[str, bytes]] = []
    received = threading.Event()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        got.append((message.topic, message.payload))
        if message.topic == "plant/valve":
            received.set()

    client.on_message = on_message
    client.connect(target.host, target.port(1883))
    client.loop_start()
    try:
        client.subscribe("plant/#", qos=1)
        client.publish("plant/valve", b"open", qos=1).wait_for_publish(5)
        assert received.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    assert ("plant/valve", b"open") in got
    logins = target.events("login", wait=3)
    assert [(e.fields.get("username"), e.fields["success"]) for e in logins] == [
        (None, "false"), ("sensor", "true")]
    assert logins[1].fields["will_topic"] == "plant/status"
    commands = [(e.fields["command"], e.fields["topic"]) for e in target.events("command")]
    assert ("SUBSCRIBE", "plant/#") in commands and ("PUBLISH", "plant/valve") in commands


def test_anonymous_broker_gives_sys_version(open_broker: LocalEmulator) -> None:
    require_tools("mosquitto_sub", "mosquitto_pub", packages="mosquitto-clients")
    out = _sub(open_broker, "-t", "$SYS/broker/version", "-C", "1")
    assert out.stdout.strip() == "mosquitto version 2.0.18"
    out = _sub(open_broker, "-V", "mqttv5", "-t", "$SYS/broker/uptime", "-C", "1")
    assert out.stdout.strip().endswith(" seconds"), out.stderr
    pub = subprocess.run(["mosquitto_pub", "-h", open_broker.host, "-p",
                          str(open_broker.port(1883)), "-t", "cmd/reboot", "-m", "now", "-r"],
                         capture_output=True, text=True, timeout=10)
    assert pub.returncode == 0, pub.stderr
    assert _sub(open_broker, "-t", "cmd/+", "-C", "1", "-v").stdout.strip() == "cmd/reboot now"
    published = [e for e in open_broker.events("command", wait=3)
                 if e.fields["command"] == "PUBLISH"]
    assert published[0].fields["payload"] == "now" and published[0].fields["retain"] == "true"
    assert published[0].src_ip == open_broker.source


def test_not_a_connect_closes_at_once(target: LocalEmulator) -> None:
    with socket.create_connection((target.host, target.port(1883)), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert sock.recv(16) == b""


def test_nmap_says_mqtt_when_protected(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(1883), timeout=120)
    assert "mqtt" in line, line


def test_nmap_names_mosquitto_when_anonymous(open_broker: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(open_broker.host, open_broker.port(1883), timeout=120)
    assert "mosquitto version 2.0.18" in line, line
