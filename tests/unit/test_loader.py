"""Reading topology files: YAML and JSON, unreadable input, size limit, non-mapping documents,
recursive aliases, alias bombs, values the decoders cannot build, deep nesting, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from decnet_lib.topology import loader as loader_module
from decnet_lib.topology import safe_yaml as yaml_module
from decnet_lib.topology import yaml_load as yaml_events
from decnet_lib.topology.loader import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentUnreadable,
    decode_document,
    max_document_bytes,
    read_document_data,
)
from decnet_lib.topology.safe_yaml import (
    DEFAULT_MAX_ALIAS_NODES,
    MAX_NESTING,
    _FastSafeLoader,
    alias_node_limit,
    nesting_bound,
)
from decnet_lib.topology.yaml_load import load_yaml
from decnet_lib.validation.validate import validate_data

DATA = {
    "name": "acme",
    "lans": [
        {"name": "dmz", "subnet": "172.20.0.0/24", "dmz": True},
        {"name": "office", "subnet": "172.20.1.0/24"},
    ],
    "deckies": [
        {
            "name": "gw01",
            "archetype": "linux-server",
            "services": ["http"],
            "lans": {"dmz": "172.20.0.10", "office": None},
            "forwards_l3": True,
            "service_config": {"ssh": {"banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2"}},
        }
    ],
}

YAML_TEXT = """\
# a maze
name: acme
lans:
  - {name: dmz, subnet: 172.20.0.0/24, dmz: true}
  - {name: office, subnet: 172.20.1.0/24}
deckies:
  - name: gw01
    archetype: linux-server   # adds ssh
    services: [http]
    lans: {dmz: 172.20.0.10, office: null}
    forwards_l3: true
    service_config: {ssh: {banner: "SSH-2.0-OpenSSH_9.2p1 Debian-2"}}
"""

MALFORMED_YAML = [
    "name: acme\nlans: [\n  {name: dmz\n",  # unclosed flow sequence
    "name: acme\n  lans: x\n bad: indent\n",
    "key: value: other\n",
    "\tname: acme\n",  # a tab cannot start a token
    "name: !!python/object/apply:os.system ['true']\n",  # never constructed by the safe loader
]

MALFORMED_JSON = [
    '{"name": "acme",}',
    '{"name": "acme"',
    '{\n  "name": "acme",\n  "lans": [\n}\n',
    "[1, 2,,]",
    '  {"name": NaN}',
]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def assert_one_line_naming(exc: DocumentUnreadable, path: Path) -> None:
    message = str(exc)
    assert message.strip()
    assert "\n" not in message and "\r" not in message
    assert str(path) in message


# --- valid input -----------------------------------------------------------------------------


def test_valid_yaml_file(tmp_path: Path) -> None:
    path = write(tmp_path, "maze.yaml", YAML_TEXT)
    data = read_document_data(path)
    assert data == DATA
    doc, issues = validate_data(data)
    assert doc is not None and issues == []


def test_valid_json_file(tmp_path: Path) -> None:
    path = write(tmp_path, "maze.json", orjson.dumps(DATA, option=orjson.OPT_INDENT_2))
    assert read_document_data(path) == DATA


def test_read_accepts_a_str_path(tmp_path: Path) -> None:
    path = write(tmp_path, "maze.yml", YAML_TEXT)
    assert read_document_data(str(path)) == DATA


@pytest.mark.parametrize(
    "raw",
    [
        YAML_TEXT.encode(),
        orjson.dumps(DATA),
        b"\n\n   " + orjson.dumps(DATA),  # leading whitespace before JSON
        b"\xef\xbb\xbf" + YAML_TEXT.encode(),  # a UTF-8 byte order mark
        b"\xef\xbb\xbf" + orjson.dumps(DATA),
    ],
    ids=["yaml", "json", "json-leading-space", "yaml-bom", "json-bom"],
)
def test_decode_document_yaml_and_json(raw: bytes) -> None:
    assert decode_document(raw) == DATA


def test_yaml_and_json_give_the_same_validation() -> None:
    from_yaml = validate_data(decode_document(YAML_TEXT.encode()))
    from_json = validate_data(decode_document(orjson.dumps(DATA)))
    assert from_yaml == from_json


# --- unreadable input ------------------------------------------------------------------------


@pytest.mark.parametrize("text", MALFORMED_YAML)
def test_malformed_yaml_is_unreadable_with_one_line_naming_the_file(
    tmp_path: Path, text: str
) -> None:
    path = write(tmp_path, "broken.yaml", text)
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(path)
    assert_one_line_naming(info.value, path)
    assert "YAML" in str(info.value)


@pytest.mark.parametrize("text", MALFORMED_JSON)
def test_malformed_json_is_unreadable_with_one_line_naming_the_file(
    tmp_path: Path, text: str
) -> None:
    path = write(tmp_path, "broken.json", text)
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(path)
    assert_one_line_naming(info.value, path)
    assert "JSON" in str(info.value)


def test_malformed_yaml_message_gives_the_line() -> None:
    with pytest.raises(DocumentUnreadable) as info:
        decode_document(b"name: acme\nlans: [\n  {name: dmz\n", source="maze.yaml")
    message = str(info.value)
    assert message.startswith("maze.yaml ")
    assert "line" in message


def test_decode_document_names_the_default_source() -> None:
    with pytest.raises(DocumentUnreadable) as info:
        decode_document(b'{"name": ')
    assert "<input>" in str(info.value)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(path)
    assert_one_line_naming(info.value, path)


def test_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(tmp_path)
    assert_one_line_naming(info.value, tmp_path)


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00n\x00a\x00m\x00e",  # UTF-16 with a BOM
        "name: caf\xe9\n".encode("latin-1"),  # Latin-1, not UTF-8
        b'{"name": "caf\xe9"}',  # JSON with a Latin-1 byte
        b"name: \x80\x81\n",
    ],
    ids=["utf16", "latin1-yaml", "latin1-json", "stray-bytes"],
)
def test_non_utf8_bytes_are_unreadable(tmp_path: Path, raw: bytes) -> None:
    path = write(tmp_path, "maze.yaml", raw)
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(path)
    assert_one_line_naming(info.value, path)


# --- size limit -------------------------------------------------------------------------------


def test_file_over_the_size_limit_is_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECNET_MAX_DOCUMENT_BYTES", "64")
    path = write(tmp_path, "big.yaml", "name: acme\n" + "# padding\n" * 10)
    assert path.stat().st_size > 64
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(path)
    assert_one_line_naming(info.value, path)
    assert "64" in str(info.value)


def test_file_at_the_size_limit_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = "name: acme\n" + "#" * 52 + "\n"
    assert len(content.encode()) == 64
    monkeypatch.setenv("DECNET_MAX_DOCUMENT_BYTES", "64")
    path = write(tmp_path, "edge.yaml", content)
    assert read_document_data(path) == {"name": "acme"}


@pytest.mark.parametrize("value", ["", "abc", "-5", "1e6", " 12 "])
def test_bad_size_limit_falls_back_to_the_default(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("DECNET_MAX_DOCUMENT_BYTES", value)
    assert max_document_bytes() == DEFAULT_MAX_DOCUMENT_BYTES


def test_size_limit_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DECNET_MAX_DOCUMENT_BYTES", raising=False)
    assert max_document_bytes() == DEFAULT_MAX_DOCUMENT_BYTES
    monkeypatch.setenv("DECNET_MAX_DOCUMENT_BYTES", "1024")
    assert max_document_bytes() == 1024


# --- decoded, but not a topology document ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"- dmz\n- office\n", "list"),
        (b"[1, 2, 3]", "list"),
        (b"just a string\n", "str"),
        (b"42\n", "int"),
        (b"", "empty"),
        (b"# only a comment\n", "empty"),
        (b"null", "empty"),
    ],
)
def test_non_mapping_document_is_a_schema_issue(raw: bytes, kind: str) -> None:
    data = decode_document(raw)  # decodes fine: it is YAML/JSON, just not a mapping
    doc, issues = validate_data(data)
    assert doc is None
    assert [(issue.severity, issue.code, issue.target) for issue in issues] == [
        ("error", "SCHEMA", "document"),
    ]
    assert kind in issues[0].message


def test_yaml_typed_scalars_are_schema_issues_naming_the_field() -> None:
    data = decode_document(b"name: 2024-01-01\nlans: []\n")  # YAML makes a date of it
    doc, issues = validate_data(data)
    assert doc is None
    assert [(issue.code, issue.target) for issue in issues] == [("SCHEMA", "name")]


# --- YAML aliases -----------------------------------------------------------------------------


def test_yaml_anchors_and_aliases_are_allowed() -> None:
    raw = b"""\
name: acme
lans: [{name: dmz, subnet: 172.20.0.0/24, dmz: true}]
deckies:
  - {name: a, services: [ssh], lans: {dmz: null}, service_config: {ssh: &b {banner: SSH-2.0-x}}}
  - {name: b, services: [ssh], lans: {dmz: null}, service_config: {ssh: *b}}
"""
    doc, issues = validate_data(decode_document(raw))
    assert doc is not None and issues == []
    assert doc.deckies[1].service_config == {"ssh": {"banner": "SSH-2.0-x"}}


def _refused(raw: bytes) -> bool:
    """True when the input is refused: unreadable, or decoded with an error issue."""
    try:
        data = decode_document(raw, source="maze.yaml")
    except DocumentUnreadable as exc:
        assert "\n" not in str(exc)
        return True
    _, issues = validate_data(data)
    return any(issue.severity == "error" for issue in issues)


VALID_HEAD = b"""\
name: acme
lans: [{name: dmz, subnet: 172.20.0.0/24, dmz: true}]
deckies:
  - name: d
    lans: {dmz: null}
"""



RECURSIVE_TAILS = [
    b"    meta: &m {self: *m}\n",
    b"    meta: &m [1, *m]\n",
    b"    meta: &m {a: {b: [x, *m]}}\n",
    b"    meta: {<<: {a: 1}, m: &m [*m]}\n",  # a merge key: the standard constructor's path
    b"    meta: !!omap [a: &m [*m]]\n",  # another tag: the standard constructor's path
]


@pytest.mark.parametrize("tail", RECURSIVE_TAILS, ids=range(len(RECURSIVE_TAILS)))
def test_recursive_yaml_alias_is_refused(tmp_path: Path, tail: bytes) -> None:
    path = write(tmp_path, "maze.yaml", VALID_HEAD + tail)
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(path)
    assert_one_line_naming(info.value, path)
    assert "recursive alias" in str(info.value)
    assert "line 6" in str(info.value)  # where the anchor is
    assert _refused(VALID_HEAD + tail)


def test_the_fast_loader_itself_still_matches_the_safe_loader_on_recursion() -> None:
    # yaml.load(..., Loader=_FastSafeLoader) keeps the safe loader's behaviour; only
    # decode_document refuses
    data = yaml.load("a: &r [1, *r]\n", Loader=_FastSafeLoader)
    assert data["a"][1] is data["a"]


def alias_bomb(levels: int = 9, width: int = 10, head: bytes = VALID_HEAD) -> bytes:
    """A 'billion laughs' document: width**levels strings from a few hundred bytes."""
    xs = b", ".join([b"x"] * width)
    lines = [b"      l0: &l0 [%s]" % xs]
    for level in range(1, levels):
        aliases = b", ".join([b"*l%d" % (level - 1)] * width)
        lines.append(b"      l%d: &l%d [%s]" % (level, level, aliases))
    return head + b"    meta:\n" + b"\n".join(lines) + b"\n"


@pytest.mark.parametrize(
    "raw",
    [
        alias_bomb(),
        alias_bomb(levels=30, width=2),  # 2**30 nodes from a deep, narrow chain
        alias_bomb() + b"    z: {<<: {q: 1}}\n",  # a merge key: the standard constructor
        alias_bomb().replace(b"    meta:\n", b"    meta: !!omap\n")
        .replace(b"      l", b"      - l"),  # another tag: the standard constructor
    ],
    ids=["wide", "narrow", "merge-key", "omap"],
)
def test_yaml_alias_bomb_is_refused(tmp_path: Path, raw: bytes) -> None:
    assert len(raw) < 2048
    path = write(tmp_path, "bomb.yaml", raw)
    start = time.perf_counter()
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(path)
    assert time.perf_counter() - start < 5
    assert_one_line_naming(info.value, path)
    assert "alias bomb" in str(info.value)
    assert str(DEFAULT_MAX_ALIAS_NODES) in str(info.value)


def test_alias_limit_is_proportional_to_the_document_size() -> None:
    assert alias_node_limit(10) == DEFAULT_MAX_ALIAS_NODES
    assert alias_node_limit(DEFAULT_MAX_ALIAS_NODES * 3) == DEFAULT_MAX_ALIAS_NODES * 3


@pytest.mark.parametrize("checked_path", ["fast", "standard"])
def test_alias_expansion_counts_the_nodes_each_use_stands_for(checked_path: str) -> None:
    # &a is a sequence of three scalars: 4 nodes; each of the 3 further uses adds 4
    text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"
    if checked_path == "standard":
        text += "c: {<<: {d: 1}}\n"
    data = load_yaml(text, alias_limit=12)
    assert data["b"] == [[1, 2, 3]] * 3
    with pytest.raises(yaml_module.YamlRefused, match="more than 11 nodes"):
        load_yaml(text, alias_limit=11)


def test_many_uses_of_a_small_alias_are_fine() -> None:
    deckies = "".join(
        f"  - {{name: d{i}, services: [ssh], lans: {{dmz: null}}, service_config: *cfg}}\n"
        for i in range(2000)
    )
    raw = (
        "name: acme\nlans: [{name: dmz, subnet: 10.0.0.0/16, dmz: true}]\n"
        "defaults: &cfg {ssh: {banner: SSH-2.0-x}}\ndeckies:\n" + deckies
    ).encode()
    data = decode_document(raw)
    assert data["deckies"][1999]["service_config"] is data["defaults"]


def test_aliases_nested_too_deep_through_reuse_are_refused() -> None:
    # each alias is shallow, but using it inside itself many times nests past MAX_NESTING
    levels, extra = MAX_NESTING * 600 // 1024, MAX_NESTING * 500 // 1024
    inner = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, levels))
    data = load_yaml(inner)  # `levels` levels: fine
    last = f"a{levels - 1}"
    assert data[last][0][0][0] is data[f"a{levels - 4}"]
    doubled = inner + "b: [[" + "[" * extra + f"*{last}" + "]" * extra + "]]\n"
    with pytest.raises(DocumentUnreadable, match=f"deeper than {MAX_NESTING} levels"):
        decode_document(doubled.encode())


# --- whatever the YAML/JSON layer raises: one line, never a traceback ---------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 2001-13-45\n", "'2001-13-45' is not a valid timestamp (month must be in 1..12)"),
        ("a: 2001-02-29\n", "'2001-02-29' is not a valid timestamp"),
        ("a:\n  b: !!timestamp 2001-02-30\n", "is not a valid timestamp"),
        ("a: !!int x\n", "'x' is not a valid int"),
        ("a: !!float nope\n", "'nope' is not a valid float"),
        ("a: !!bool maybe\n", "'maybe' is not a valid bool"),
        ("a: [1, !custom 2]\n", "could not determine a constructor"),
        ("a: {<<: [1]}\n", "expected a mapping"),
        ("? [a, b]\n: 1\n", "unhashable"),
    ],
)
def test_values_the_yaml_layer_cannot_build_are_unreadable(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, "maze.yaml", text)
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(path)
    assert_one_line_naming(info.value, path)
    assert expected in str(info.value)


def test_an_invalid_date_gives_its_position() -> None:
    with pytest.raises(DocumentUnreadable) as info:
        decode_document(b"name: acme\nlans:\n  - {name: dmz, subnet: 2001-13-45}\n", "m.yaml")
    assert str(info.value).startswith("m.yaml is not valid YAML at line 3, column 25: ")


@pytest.mark.parametrize("error", [
    RuntimeError("boom\nsecond line\n"), RecursionError("maximum recursion depth exceeded"),
    MemoryError(), KeyError("x"), AttributeError("no"),
])
@pytest.mark.parametrize("kind", ["yaml", "json"])
def test_any_exception_of_the_decoders_is_unreadable(
    monkeypatch: pytest.MonkeyPatch, error: Exception, kind: str
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise error

    if kind == "yaml":
        monkeypatch.setattr(loader_module, "load_yaml", explode)
        raw = b"name: acme\n"
    else:
        monkeypatch.setattr(loader_module.orjson, "loads", explode)
        raw = b'{"name": "acme"}'
    with pytest.raises(DocumentUnreadable) as info:
        decode_document(raw, source="maze.doc")
    message = str(info.value)
    assert message.startswith(f"maze.doc cannot be decoded as {kind.upper()}: ")
    assert type(error).__name__ in message
    assert "\n" not in message


def test_a_nul_byte_in_the_path_is_unreadable() -> None:
    with pytest.raises(DocumentUnreadable, match="cannot read"):
        read_document_data("maze\x00.yaml")


@pytest.mark.parametrize(
    ("raw", "target"),
    [
        (b"name: acme\nlans: [{name: dmz, subnet: 2001-01-01, dmz: true}]\n", "lans[0].subnet"),
        (b"name: 2001-12-14t21:59:43.10-05:00\n", "name"),
        (b"name: !!binary YWNtZQ==\n", "name"),
        (b"name: acme\ndeckies: [{name: d, services: !!set {ssh}}]\n", "deckies[0].services"),
        (b"name: acme\ndeckies: [{name: d, lans: {dmz: 2001-01-01}}]\n", "deckies[0].lans.dmz"),
    ],
    ids=["date-subnet", "datetime-name", "binary-name", "set-services", "date-ip"],
)
def test_yaml_only_types_in_typed_fields_are_schema_issues(raw: bytes, target: str) -> None:
    doc, issues = validate_data(decode_document(raw))
    assert doc is None
    assert ("SCHEMA", target) in [(issue.code, issue.target) for issue in issues]
    assert all(issue.code in ("SCHEMA", "NAME_INVALID") for issue in issues)


# --- nesting depth ------------------------------------------------------------------------


def _indented(levels: int) -> bytes:
    return b"a:\n" + b"".join(b" " * i + b"-\n" for i in range(1, levels))


DEEP = 100_000
DEEP_DOCUMENTS = {
    "json-lists": b"[" * DEEP + b"]" * DEEP,
    "json-objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "json-under-meta": b'{"name": "x", "meta": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    "yaml-flow-lists": b"name: x\nmeta: " + b"[" * DEEP + b"]" * DEEP + b"\n",
    "yaml-flow-maps": b"a: " + b"{a: " * DEEP + b"1" + b"}" * DEEP + b"\n",
    "yaml-flow-unclosed": b"a: " + b"[" * DEEP,
    "yaml-compact-block": b"name: x\nmeta:\n  a:\n  " + b"- " * DEEP + b"x\n",
    "yaml-compact-block-cr": b"name: x\rmeta:\r  a:\r  " + b"- " * DEEP + b"x\r",
    "yaml-compact-block-nel": "a:\u2028  ".encode() + b"- " * DEEP + b"x\n",
    "yaml-compact-keys": b"? " * DEEP + b"x\n",
    "yaml-indented-block": _indented(MAX_NESTING + 50),
    "yaml-quoted-closers": b"a: " + b'[ "]", ' * 20_000 + b"]" * 20_000 + b"\n",
    "yaml-bom": b"\xef\xbb\xbf" + b"- " * DEEP + b"x\n",
}


@pytest.mark.parametrize("name", list(DEEP_DOCUMENTS))
def test_very_deep_nesting_is_unreadable_in_one_line(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, f"deep.{name.split('-')[0]}", DEEP_DOCUMENTS[name])
    start = time.perf_counter()
    with pytest.raises(DocumentUnreadable) as info:
        read_document_data(path)
    assert time.perf_counter() - start < 20
    assert_one_line_naming(info.value, path)


@pytest.mark.parametrize(
    ("make", "levels"),
    [
        (lambda n: b"[" * n + b"]" * n, MAX_NESTING),  # JSON: orjson's own limit
        (lambda n: b"a: " + b"[" * (n - 1) + b"]" * (n - 1) + b"\n", MAX_NESTING),
        (lambda n: b"a:\n  " + b"- " * (n - 1) + b"x\n", MAX_NESTING),
        (lambda n: b"- " * n + b"x\n", MAX_NESTING),
        (lambda n: _indented(n), MAX_NESTING),
    ],
    ids=["json", "yaml-flow", "yaml-compact", "yaml-top-sequence", "yaml-indented"],
)
def test_the_nesting_limit_is_exact(make: Any, levels: int) -> None:
    data = decode_document(make(levels))
    depth = 0
    while isinstance(data, dict | list):
        depth += 1
        if not data:
            break
        data = next(iter(data.values())) if isinstance(data, dict) else data[0]
    assert depth == levels
    with pytest.raises(DocumentUnreadable, match=f"deeper than {MAX_NESTING}|depth limit"):
        decode_document(make(levels + 1))


@pytest.fixture(params=["c-builder", "pyyaml"])
def yaml_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through each loading path (plain documents take the C builder when it
    is built; "pyyaml" turns it off so PyYAML's composer and its stack guards run)."""
    if request.param == "pyyaml":
        monkeypatch.setattr(yaml_events, "_FAST", False)
    return str(request.param)


@pytest.fixture
def pyyaml_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The PyYAML path only: what the test checks is its composer's stack handling."""
    monkeypatch.setattr(yaml_events, "_FAST", False)


def test_deep_but_allowed_nesting_gives_a_schema_issue_not_a_crash(yaml_path: str) -> None:
    raw = b"name: acme\nlans: []\ndeckies: [{name: d, lans: {}, meta: {a: "
    raw += b"[" * (MAX_NESTING - 8) + b"]" * (MAX_NESTING - 8) + b"}}]\n"
    doc, issues = validate_data(decode_document(raw))
    assert doc is not None
    assert ("SCHEMA", "deckies[0].meta") in [(i.code, i.target) for i in issues]


def _flow_style(data: Any) -> bytes:
    """Flow-style YAML (a comment first, so that it is not taken for JSON)."""
    return b"# flow\n" + yaml.safe_dump(data, default_flow_style=True, width=10**9).encode()


def test_flow_style_documents_with_many_brackets_decode_normally(yaml_path: str) -> None:
    # more brackets than the inline limit: composed on a helper thread with a big stack
    data = {**DATA, "deckies": [
        {"name": f"d{i}", "services": ["ssh"], "lans": {"dmz": None}} for i in range(400)
    ]}
    raw = _flow_style(data)
    assert raw.count(b"[") + raw.count(b"{") > yaml_module._INLINE_NESTING
    assert decode_document(raw) == data


@pytest.mark.parametrize("how", ["events", "no-thread"])
def test_the_exact_depth_check_path(
    monkeypatch: pytest.MonkeyPatch, how: str, pyyaml_path: None
) -> None:
    if how == "events":  # the stack a helper thread would need is over the cap
        monkeypatch.setattr(yaml_module, "_MAX_COMPOSE_STACK", 0)
    else:  # no helper thread can be started

        def refuse(*_args: object) -> int:
            raise RuntimeError("no threads here")

        monkeypatch.setattr(yaml_module.threading, "stack_size", refuse)
    data = {"a": [[[[{"b": [1, 2]}]]]], "c": [{"d": i} for i in range(300)]}
    assert decode_document(_flow_style(data)) == data
    deep = b"a:\n  " + b"- " * (MAX_NESTING - 12) + b"x\n"  # within the limit, > inline
    assert decode_document(deep) is not None
    with pytest.raises(DocumentUnreadable, match="deeper than"):
        decode_document(DEEP_DOCUMENTS["yaml-quoted-closers"])


yaml_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                      st.sampled_from(["]", "[", "}", "{", "a]b", "# [", "'", '"']))
yaml_tree = st.recursive(
    yaml_leaf,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=3), children, max_size=3)),
    max_leaves=40,
)


def _exact_depth(text: str) -> int:
    depth = deepest = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
            deepest = max(deepest, depth)
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1
    return deepest


@settings(max_examples=200, deadline=None)
@given(yaml_tree, st.sampled_from([False, True, None]), st.integers(1, 8))
def test_nesting_bound_is_an_upper_bound(data: Any, flow: bool | None, indent: int) -> None:
    text = "# any style\n" + yaml.safe_dump(data, default_flow_style=flow, indent=max(indent, 2))
    assert nesting_bound(text) >= _exact_depth(text)
    assert decode_document(text.encode()) == data


@pytest.mark.parametrize("text", [
    "- - - - - x\n",
    "? - ? - x\n    : y\n: z\n",
    "a:\n- b:\n  - c:\n    - d\n",  # indentless sequences: two levels per column
    "a:\r- b:\r  - c:\r    - d\r",
    "\ufeff- - - x\n",
    "x: &a\n  - - [y]\n",
])
def test_nesting_bound_on_compact_block_styles(text: str) -> None:
    assert nesting_bound(text) >= _exact_depth(text)


# --- the command line ----------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def _decnet() -> str:
    candidate = REPO / ".venv" / "bin" / "decnet"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("decnet")
    if found is None:
        pytest.skip("the decnet console script is not installed")
    return found


def run_validate(tmp_path: Path, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_")}
    env["DECNET_STATE_DIR"] = str(tmp_path / "state")  # no database: no cross-topology notes
    return subprocess.run(
        [_decnet(), "topology", "validate", str(path), *extra],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


CLI_UNREADABLE = {
    "recursive-alias": ("maze.yaml", VALID_HEAD + b"    meta: &m {self: *m}\n"),
    "alias-bomb": ("maze.yaml", alias_bomb()),
    "invalid-date": ("maze.yaml", b"a: 2001-13-45\n"),
    "deep-json": ("maze.json", DEEP_DOCUMENTS["json-lists"]),
    "deep-yaml-flow": ("maze.yaml", DEEP_DOCUMENTS["yaml-flow-lists"]),
    "deep-yaml-block": ("maze.yaml", DEEP_DOCUMENTS["yaml-compact-block"]),
}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("case", list(CLI_UNREADABLE))
def test_cli_validate_refuses_in_one_line(tmp_path: Path, case: str, as_json: bool) -> None:
    name, content = CLI_UNREADABLE[case]
    path = write(tmp_path, name, content)
    result = run_validate(tmp_path, path, *(["--json"] if as_json else []))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error[UNREADABLE]: ")
    assert str(path) in lines[0]
    assert result.stdout == ""


def test_cli_validate_reports_deep_meta_as_a_schema_issue(tmp_path: Path) -> None:
    levels = MAX_NESTING - 8  # just within the limit once the document's own levels count
    raw = VALID_HEAD + b"    meta: {a: " + b"[" * levels + b"]" * levels + b"}\n"
    path = write(tmp_path, "maze.yaml", raw)
    result = run_validate(tmp_path, path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr == ""
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("error")]
    assert "SCHEMA" in line and "deckies[0].meta" in line and "deeper than" in line
    as_json = run_validate(tmp_path, path, "--json")
    assert as_json.returncode == 1
    report = orjson.loads(as_json.stdout)
    assert report["valid"] is False
    assert [issue["code"] for issue in report["issues"]] == ["SCHEMA"]


def test_loader_for_names_the_loader(tmp_path: Path) -> None:
    from decnet_lib.topology.loader import loader_for

    path = write(tmp_path, "maze.yaml", VALID_HEAD)
    fast = yaml_events.fast_path_available()
    assert loader_for(path)[0] == ("yaml-c" if fast else "yaml-pyyaml")
    as_json = write(tmp_path, "maze.json", orjson.dumps(yaml.safe_load(VALID_HEAD)))
    assert loader_for(as_json) == ("json", "")
    result = run_validate(tmp_path, path, "--json")  # the C builder in use: nothing to say
    assert result.stderr == ("" if fast else result.stderr)


def test_validate_says_when_the_c_builder_stands_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from decnet_lib.cli import build_app
    from decnet_lib.topology import loader as loader_module

    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(loader_module, "fast_path_status", lambda: {
        "fast": False, "reason": "the C YAML builder is not built"})
    path = write(tmp_path, "maze.yaml", VALID_HEAD)
    result = CliRunner().invoke(build_app(), ["topology", "validate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {"valid": True, "issues": []}  # the contract
    assert "PyYAML alone (slower): the C YAML builder is not built" in result.stderr


# --- duplicate keys: a SCHEMA issue naming the key, never a silent last-wins ---------------


@pytest.mark.parametrize("raw", [
    b"name: acme\nname: other\nlans: []\ndeckies: []\n",
    b'{"name": "acme", "name": "other", "lans": [], "deckies": []}',
    b'{"name":"acme","lans":[],"deckies":[{"name":"d","name" : "e","lans":{}}]}',
    b"name: acme\nlans: []\ndeckies:\n  - {name: d, lans: {}, meta: {a: 1, a: 2}}\n",
], ids=["yaml-top", "json-top", "json-spaced-nested", "yaml-nested-flow"])
def test_duplicate_keys_are_schema_issues(raw: bytes, yaml_path: str) -> None:
    _doc, issues = validate_data(decode_document(raw))
    duplicates = [i for i in issues if i.code == "SCHEMA" and "used twice" in i.message]
    assert len(duplicates) == 1, issues
    assert "'name'" in duplicates[0].message or "'a'" in duplicates[0].message


def test_cli_refuses_a_document_with_a_duplicate_name(tmp_path: Path) -> None:
    path = write(tmp_path, "maze.yaml", VALID_HEAD.replace(b"name: acme\n",
                                                           b"name: acme\nname: evil\n"))
    result = run_validate(tmp_path, path, "--json")
    assert result.returncode == 1
    report = orjson.loads(result.stdout)
    assert any(i["code"] == "SCHEMA" and "'name'" in i["message"] for i in report["issues"])


json_keys = st.sampled_from(["a", "b", 'q"', "s\\", "x y", " :", '":', "\\\\"])
json_values = st.recursive(
    st.one_of(st.none(), st.integers(), st.sampled_from(['"', "\\", '":', " : ", "k"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.lists(st.tuples(json_keys, inner), max_size=4)),
    max_leaves=20,
)


def _render(value: Any, spaced: bool) -> str:
    """JSON text with objects given as pair lists, so duplicates can be written."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        sep = " : " if spaced else ":"
        return "{" + ",".join(json.dumps(k) + sep + _render(v, spaced) for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_render(v, spaced) for v in value) + "]"
    return json.dumps(value)


@given(json_values, st.booleans())
@settings(max_examples=400, deadline=None)
def test_json_duplicate_keys_are_found_exactly(value: Any, spaced: bool) -> None:
    text = _render(value, spaced)
    wrapped = ("{" + text[1:]) if text.startswith("{") else '{"v":' + text + "}"
    expected: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        expected.extend(k for i, k in enumerate(keys) if k in keys[:i])
        return dict(items)

    json.loads(wrapped, object_pairs_hook=pairs)
    data = decode_document(wrapped.encode())
    assert len(getattr(data, "duplicate_keys", [])) == len(expected)
