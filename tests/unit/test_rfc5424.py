"""RFC 5424 lines: header, severities, SD escaping, hostile values, parser round trip."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decnet_lib.deploy import labels as L
from decnet_lib.logs import rfc5424 as R
from decnet_lib.logs.emulator_line import EmulatorEvent, format_line, parse_line

# -- an independent, strict RFC 5424 parser (section 6 ABNF) --------------------------------

_HEADER = re.compile(
    r"<(?P<pri>\d{1,3})>(?P<version>[1-9]\d{0,2}) (?P<ts>\S+) (?P<host>\S{1,255}) "
    r"(?P<app>\S{1,48}) (?P<procid>\S{1,128}) (?P<msgid>\S{1,32}) "
)
_TIMESTAMP = re.compile(r"-|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")
_SD_NAME = re.compile(r'[!-~]{1,32}')


@dataclass
class Parsed:
    pri: int
    ts: str
    host: str
    app: str
    procid: str
    msgid: str
    sd: dict[str, dict[str, str]]
    msg: str | None


def _sd_name(line: str, pos: int) -> tuple[str, int]:
    end = pos
    while end < len(line) and "!" <= line[end] <= "~" and line[end] not in '= ]"':
        end += 1
    name = line[pos:end]
    assert _SD_NAME.fullmatch(name), f"bad SD-NAME at {pos}: {line[pos:pos + 40]!r}"
    return name, end


def parse_rfc5424(line: str) -> Parsed:
    """Parse one line strictly; any deviation from RFC 5424 fails the assertion."""
    m = _HEADER.match(line)
    assert m, f"bad header: {line[:80]!r}"
    for key in ("host", "app", "procid", "msgid"):
        assert all("!" <= c <= "~" for c in m[key]), key
    assert _TIMESTAMP.fullmatch(m["ts"]), m["ts"]
    pos = m.end()
    sd: dict[str, dict[str, str]] = {}
    if line[pos] == "-":
        pos += 1
    else:
        while pos < len(line) and line[pos] == "[":
            sd_id, pos = _sd_name(line, pos + 1)
            assert sd_id not in sd
            params: dict[str, str] = {}
            while line[pos] == " ":
                name, pos = _sd_name(line, pos + 1)
                assert line[pos:pos + 2] == '="', f"expected =\" at {pos}"
                pos += 2
                value: list[str] = []
                while True:
                    c = line[pos]
                    if c == "\\" and line[pos + 1] in '"\\]':
                        value.append(line[pos + 1])
                        pos += 2
                    elif c == '"':
                        pos += 1
                        break
                    else:
                        assert c != "]", f"unescaped ] in PARAM-VALUE at {pos}"
                        value.append(c)
                        pos += 1
                assert name not in params, f"repeated {name}"
                params[name] = "".join(value)
            assert line[pos] == "]", f"expected ] at {pos}: {line[pos:pos + 20]!r}"
            pos += 1
            sd[sd_id] = params
    msg = None
    if pos < len(line):
        assert line[pos] == " ", f"expected SP before MSG at {pos}"
        msg = line[pos + 1:]
    return Parsed(int(m["pri"]), m["ts"], m["host"], m["app"], m["procid"], m["msgid"], sd,
                  msg)


def one_line(line: str) -> None:
    assert "\n" not in line and "\r" not in line
    assert len(line.splitlines()) == 1  # nor any other Unicode line break
    line.encode("utf-8")  # strict: no lone surrogate


def shown(value: str) -> str:
    """What the SD value of `value` decodes to: line breakers appear as \\xNN / \\uNNNN."""
    out = []
    for c in value:
        if R._breaks_line(c):
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


# -- fixtures -------------------------------------------------------------------------------

SOURCE = R.EventSource(
    container_id="0123456789abcdef" * 4,
    topology="maze one",
    topology_id="9f" * 16,
    decky="web01",
    service="ssh",
)
HOSTILE = [
    'quote " inside',
    "bracket ] inside",
    "back\\slash",
    "ends with backslash\\",
    '\\"',
    '"] [decnet@32473 forged="1"] x',
    "new\nline",
    "cr\r\nlf",
    "tab\tnul\x00esc\x1b[31mred",
    "nel\x85 ls\u2028ps\u2029",
    "ünïcødé ☃ 中文 🐍",
    "= ' ` $(reboot) ; --",
    "",
]


def event(fields: dict[str, str] | None = None, name: str = "login", **kwargs: object
          ) -> EmulatorEvent:
    base: dict[str, object] = dict(ts=1718000000.123456, service="ssh", event=name,
                                   src_ip="203.0.113.7", src_port=51234)
    base.update(kwargs)
    return EmulatorEvent(fields=dict(fields or {}), **base)  # type: ignore[arg-type]


# -- header ---------------------------------------------------------------------------------


def test_a_login_line_has_every_part() -> None:
    ev = event({"proto": "tcp", "dport": "22", "decky": "web01", "user": "root",
                "password": "hunter2"})
    line = R.format_event(ev, SOURCE, hostname="agent-1")
    one_line(line)
    p = parse_rfc5424(line)
    assert p.pri == 16 * 8 + 4  # local0.warning
    assert line.startswith("<132>1 2024-06-10T06:13:20.123456Z agent-1 decnet 0123456789ab ")
    assert p.msgid == "login"
    assert p.sd == {"decnet@32473": {
        "topology": "maze one", "topology_id": "9f" * 16, "decky": "web01", "service": "ssh",
        "container": "0123456789ab", "event": "login", "src_ip": "203.0.113.7",
        "src_port": "51234", "dst_port": "22", "proto": "tcp", "user": "root",
        "password": "hunter2",
    }}
    assert p.msg == 'login on web01/ssh from 203.0.113.7:51234 user="root"'


@pytest.mark.parametrize(("name", "severity"), [
    ("login", R.Severity.WARNING), ("auth_attempt", R.Severity.WARNING),
    ("command", R.Severity.NOTICE), ("request", R.Severity.NOTICE),
    ("something_new", R.Severity.NOTICE),
    ("connect", R.Severity.INFO), ("kexinit", R.Severity.INFO),
])
def test_severity_by_event(name: str, severity: R.Severity) -> None:
    assert R.severity_for(name) is severity
    p = parse_rfc5424(R.format_event(event(name=name), SOURCE, hostname="h"))
    assert p.pri == R.LOCAL0 * 8 + severity


def test_facility_is_configurable_and_checked() -> None:
    p = parse_rfc5424(R.format_event(event(name="connect"), SOURCE, facility=23, hostname="h"))
    assert p.pri == 23 * 8 + 6
    with pytest.raises(ValueError):
        R.format_event(event(), SOURCE, facility=24)


def test_absent_values_are_nilvalue() -> None:
    line = R.format_line(severity=6, msgid=None, params=[("a", None)], ts=None, hostname="",
                         app_name=None, procid=None)
    assert line == "<134>1 - - - - - [decnet@32473]"
    p = parse_rfc5424(line)
    assert p.sd == {"decnet@32473": {}} and p.msg is None
    bare = R.format_event(event(), R.EventSource(), hostname="h")
    params = parse_rfc5424(bare).sd["decnet@32473"]
    assert "decky" not in params and "topology" not in params and params["service"] == "ssh"
    assert " h decnet - login " in bare


def test_unrepresentable_timestamp_is_nilvalue() -> None:
    assert R.timestamp(1e20) == "-"
    assert R.timestamp(0) == "1970-01-01T00:00:00.000000Z"


def test_header_fields_keep_to_printusascii() -> None:
    line = R.format_line(severity=5, msgid="lo gin\né" + "x" * 40, params=[],
                         hostname="host name\tü", procid="p" * 300)
    p = parse_rfc5424(line)
    assert p.msgid == "lo_gin__" + "x" * 24 and len(p.msgid) == 32
    assert p.host == "host_name__" and len(p.procid) == 128


def test_param_names_are_sd_names() -> None:
    assert R.sd_name('a=b c]d"e') == "a_b_c_d_e"
    assert R.sd_name("x" * 40) == "x" * 32
    assert R.sd_name("") == "" and R.sd_name("ü") == "_"


# -- hostile values ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_field_values_stay_in_their_param(value: str) -> None:
    ev = event({"user": value, "password": value, "cmd": value})
    line = R.format_event(ev, SOURCE, hostname="h")
    one_line(line)
    p = parse_rfc5424(line)
    params = p.sd["decnet@32473"]
    assert list(p.sd) == ["decnet@32473"]
    assert params["user"] == params["password"] == params["cmd"] == shown(value)
    assert params["src_ip"] == "203.0.113.7" and params["decky"] == "web01"
    assert p.msg is not None and p.msg.isascii() and p.msg.isprintable()


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_labels_and_event_names(value: str) -> None:
    source = R.EventSource("c" * 64, topology=value, topology_id=value, decky=value,
                           service=value)
    line = R.format_event(event(name=value or "x"), source, hostname=value)
    one_line(line)
    p = parse_rfc5424(line)
    params = p.sd["decnet@32473"]
    assert params["topology"] == shown(value) if value else "topology" not in params
    assert params["event"] == shown(value or "x")


def test_escaping_is_exactly_the_rfc_one() -> None:
    assert R.escape_param_value('a"b\\c]d') == 'a\\"b\\\\c\\]d'
    assert R.escape_param_value("x\ny\u2028") == "x\\x0ay\\u2028"
    assert R.escape_param_value("é [ } =") == "é [ } ="


def test_a_forged_element_in_a_value_is_only_text() -> None:
    forged = '"] [decnet@32473 src_ip="6.6.6.6"'
    p = parse_rfc5424(R.format_event(event({"user": forged}), SOURCE, hostname="h"))
    assert p.sd["decnet@32473"]["src_ip"] == "203.0.113.7"
    assert p.sd["decnet@32473"]["user"] == forged


def test_field_names_clashing_with_core_params() -> None:
    ev = event({"decky": "other", "event": "login", "container": "x"}, service="telnet")
    params = parse_rfc5424(R.format_event(ev, SOURCE, hostname="h")).sd["decnet@32473"]
    assert params["decky"] == "web01" and params["f_decky"] == "other"
    assert "f_event" not in params  # same as the core value: not repeated
    assert params["f_container"] == "x"
    assert params["service"] == "ssh" and params["svc"] == "telnet"


def test_truncated_events_are_marked() -> None:
    params = parse_rfc5424(R.format_event(event(truncated=True), SOURCE, hostname="h")).sd
    assert params["decnet@32473"]["truncated"] == "1"


def test_ipv6_source_in_summary() -> None:
    p = parse_rfc5424(R.format_event(event(src_ip="2001:db8::7"), SOURCE, hostname="h"))
    assert p.msg is not None and "from [2001:db8::7]:51234" in p.msg


# -- the whole path: emulator line -> parse_line -> RFC 5424 -> parser ------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_emulator_line_to_rfc5424_round_trip(value: str) -> None:
    raw = format_line("ssh", "login", "198.51.100.9", 40000,
                      {"proto": "tcp", "dport": 22, "decky": "web01", "user": value,
                       "password": value}, ts=1718000000.5)
    ev = parse_line(raw)
    assert ev is not None
    line = R.format_event(ev, SOURCE, hostname="h")
    one_line(line)
    params = parse_rfc5424(line).sd["decnet@32473"]
    assert params["user"] == shown(ev.fields["user"])
    assert params["password"] == shown(value)
    assert params["src_ip"] == "198.51.100.9" and params["src_port"] == "40000"


@settings(max_examples=300, deadline=None)
@given(values=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True),
                              st.text(max_size=40), max_size=6),
       label=st.text(max_size=20))
def test_any_text_gives_one_parseable_line(values: dict[str, str], label: str) -> None:
    source = R.EventSource("a" * 64, topology=label, decky=label, service="http")
    line = R.format_event(event(values, name="request"), source, hostname=label)
    one_line(line)
    params = parse_rfc5424(line).sd["decnet@32473"]
    core = set(R.CORE_PARAMS)
    for key, value in values.items():
        if key in core:
            continue
        if key in ("proto",):
            assert params.get("proto") == (shown(value) or None) or not value
            continue
        if key == "dport" and value.isdigit():
            assert params["dst_port"] == str(int(value))
            continue
        assert params[key] == shown(value)


def test_labels_module_names_match() -> None:
    source = R.EventSource.from_labels({
        L.TOPOLOGY_NAME: "t", L.TOPOLOGY_ID: "id", L.DECKY: "d", L.SERVICE: "s"}, "c" * 64)
    assert source == R.EventSource("c" * 64, "t", "id", "d", "s")
    assert source.short_id == "c" * 12
