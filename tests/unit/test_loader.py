"""Reading topology files: YAML and JSON, unreadable input, size limit, non-mapping documents."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from decnet_lib.topology.loader import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentUnreadable,
    decode_document,
    max_document_bytes,
    read_document_data,
)
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


@pytest.mark.xfail(
    strict=True,
    reason="library bug (reported, not fixed here: loader.py is being reworked): a YAML "
    "alias cycle decodes into a self-referencing dict that validates, then cannot be "
    "serialised (pydantic 'Circular reference', orjson 'Recursion limit reached')",
)
def test_recursive_yaml_alias_is_refused() -> None:
    assert _refused(VALID_HEAD + b"    meta: &m {self: *m}\n")


@pytest.mark.xfail(
    strict=True,
    reason="library bug (reported, not fixed here: loader.py is being reworked): a ~1 kB "
    "'billion laughs' alias bomb passes the byte limit and validation; the resolved form "
    "then expands to 10^9 nodes when dumped",
)
def test_yaml_alias_bomb_is_refused() -> None:
    lines = [b"      l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        aliases = b", ".join([b"*l%d" % (level - 1)] * 10)
        lines.append(b"      l%d: &l%d [%s]" % (level, level, aliases))
    raw = VALID_HEAD + b"    meta:\n" + b"\n".join(lines) + b"\n"
    assert len(raw) < 2048
    assert _refused(raw)
