"""The C YAML builder gives exactly what PyYAML's safe loader gives, or hands over to it."""

from __future__ import annotations

import math
import os
import re
from datetime import date, datetime
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decnet_lib.topology.safe_yaml import MAX_NESTING, YamlRefused, load_with_pyyaml
from decnet_lib.topology.yaml_load import (
    FALLBACK,
    fast_path_available,
    load_with_libyaml_events,
    load_yaml,
)

pytestmark = pytest.mark.skipif(
    not fast_path_available() and os.environ.get("CI") != "true",
    reason="the C YAML builder was not built (libyaml's headers missing)",
)


def test_the_c_builder_is_built() -> None:
    """In CI a missing build is a failure, not a skip (scripts install libyaml-dev)."""
    assert fast_path_available()


def typed(value: Any) -> Any:
    """A comparable form that tells 1 from True and 1.0, and NaN equal to itself."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def assert_same(text: str) -> Any:
    """The C builder took `text` and agrees with PyYAML; returns the data."""
    fast = load_with_libyaml_events(text)
    assert fast is not FALLBACK, f"fell back on {text!r}"
    assert typed(fast) == typed(load_with_pyyaml(text))
    assert typed(fast) == typed(yaml.load(text, Loader=yaml.CSafeLoader))
    return fast


def outcome(load: Any, text: str) -> tuple[str, str]:
    try:
        return ("ok", repr(typed(load(text))))
    except Exception as exc:  # the comparison is the point: type and message
        return (type(exc).__name__, str(exc))


PLAIN_SCALARS = [
    "yes", "No", "ON", "off", "y", "n", "true", "False", "~", "null", "Null", "NULL", "",
    "0", "-17", "+5", "0x1F", "0b101", "017", "0o17", "1_000", "190:20:30", "3.14", "-.5",
    "1e3", "6.8523015e+5", "685.230_15e+03", ".inf", "-.Inf", ".NaN", "2001-12-14",
    "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10", "1.2.3", "10.0.0.1",
    "10.0.0.0/24", "name", "dmz", "web-01", "o'brien", "nulls", "yess", "0x", "1:2:3:4",
    "-", "+", ".", "é", "日本", "a b c", "trueish", "<<x", "=x", "=", "0.", "._",
]


@pytest.mark.parametrize("scalar", PLAIN_SCALARS)
def test_plain_scalars_resolve_like_pyyaml(scalar: str) -> None:
    for text in (f"k: {scalar}\n", f"- {scalar}\n", f"{scalar}: v\n" if scalar else "x: 1\n",
                 f"[{scalar}]\n" if scalar else "[]\n"):
        try:
            expected = yaml.load(text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError:
            continue  # not a valid document in this position: PyYAML's errors, tested below
        if isinstance(expected, dict) and any(isinstance(k, (list, dict)) for k in expected):
            continue
        if scalar == "=":  # the `value` tag: PyYAML's business
            assert load_with_libyaml_events(text) is FALLBACK
            assert outcome(load_yaml, text) == outcome(load_with_pyyaml, text)
            continue
        assert_same(text)


def test_quoted_and_block_scalars_stay_strings() -> None:
    data = assert_same("a: 'yes'\nb: \"1\"\nc: |\n  no\nd: >\n  ~\ne: ''\n")
    assert data == {"a": "yes", "b": "1", "c": "no\n", "d": "~\n", "e": ""}


def test_typical_document() -> None:
    text = (
        "name: acme\nlans:\n  - {name: dmz, subnet: 10.0.0.0/24, dmz: yes}\n"
        "  - name: office\n    subnet: 10.0.1.0/24\ndeckies:\n"
        "  - name: web01\n    lans: {dmz: 10.0.0.5, office: null}\n    services: [ssh, http]\n"
        "    forwards_l3: false\n    expose: {22: 2222}\n    when: 2001-12-14\n"
    )
    data = assert_same(text)
    assert data["lans"][0]["dmz"] is True and data["deckies"][0]["expose"] == {22: 2222}
    assert data["deckies"][0]["when"] == date(2001, 12, 14)


def test_duplicate_keys_are_handed_to_pyyaml_which_names_them() -> None:
    text = "a: 1\na: 2\nb: 3\n"
    assert load_with_libyaml_events(text) is FALLBACK
    data = load_yaml(text)
    assert data == {"a": 2, "b": 3} == yaml.load(text, Loader=yaml.CSafeLoader)
    assert data.duplicate_keys == ["'a' (line 2)"]


def test_empty_documents() -> None:
    assert load_with_libyaml_events("") is None
    assert load_with_libyaml_events("# only a comment\n") is None
    assert load_with_libyaml_events("---\n...\n") is None
    assert assert_same("--- x\n") == "x"


def test_timestamps_and_floats_keep_their_types() -> None:
    data = assert_same("t: 2001-12-14t21:59:43.10-05:00\nf: 1.0\ni: 1\nb: true\n")
    assert isinstance(data["t"], datetime) and type(data["f"]) is float
    assert type(data["i"]) is int and data["b"] is True


HANDED_OVER = {
    "anchor": "a: &x [1, 2]\nb: *x\n",
    "merge key": "base: &b {x: 1}\nthing:\n  <<: *b\n  y: 2\n",
    "merge key without anchor": "thing:\n  <<: {x: 1}\n  y: 2\n",
    "value key": "=: 1\n",
    "explicit tag": "a: !!str 1\nb: !!binary aGVsbG8=\n",
    "non-specific tag": "a: ! 1\n",
    "local tag": "a: !thing 1\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "parse error": "a: [1, 2\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "collection key": "? [a, b]\n: c\n",
    "mapping key": "? {a: 1}\n: c\n",
    "impossible date": "d: 2001-13-45\n",
    "recursive alias": "a: &a [*a]\n",
    "tab indentation": "a:\n\tb: 1\n",
    "control character": "a: \x07\n",
}


@pytest.mark.parametrize("text", HANDED_OVER.values(), ids=HANDED_OVER.keys())
def test_what_the_c_builder_leaves_to_pyyaml(text: str) -> None:
    assert load_with_libyaml_events(text) is FALLBACK
    assert outcome(load_yaml, text) == outcome(load_with_pyyaml, text)


def test_nesting_limit_is_handed_over_and_refused() -> None:
    deep = "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)
    assert load_with_libyaml_events(deep) is FALLBACK
    with pytest.raises(YamlRefused, match="deeper than"):
        load_yaml(deep)
    limit = "[" * MAX_NESTING + "]" * MAX_NESTING
    for data in (load_with_libyaml_events(limit), load_with_pyyaml(limit)):
        for _ in range(MAX_NESTING - 1):  # walked, not compared: == would recurse too deep
            assert type(data) is list and len(data) == 1
            data = data[0]
        assert data == []


def test_lone_surrogates_are_left_to_pyyaml() -> None:
    assert load_with_libyaml_events("a: \udcff\n") is FALLBACK


# Anything PyYAML's safe dumper writes, in every style, loads the same both ways.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(PLAIN_SCALARS),
    st.dates(), st.datetimes(),
)
keys = st.one_of(st.text(max_size=8), st.integers(), st.sampled_from(PLAIN_SCALARS),
                 st.booleans(), st.none())
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.sampled_from([None, True, False]), st.booleans())
def test_dumped_documents_load_the_same(data: Any, flow: bool | None, unicode: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=unicode)
    fast = load_with_libyaml_events(text)
    if fast is FALLBACK:  # a tag: some plugins make PyYAML's dumper write e.g. !!timestamp
        assert "!" in text
        assert outcome(load_yaml, text) == outcome(load_with_pyyaml, text)
    else:
        assert typed(fast) == typed(load_with_pyyaml(text))


yamlish = st.text(alphabet="ab01 :-[]{},#&*!|>'\"\n\t?%@`~.=<yn\u00e9", max_size=60)


@settings(max_examples=1500, deadline=None)
@given(yamlish)
def test_any_text_gives_what_pyyaml_gives(text: str) -> None:
    """Garbage in: the same data or the same error, never a crash."""
    assert outcome(load_yaml, text) == outcome(load_with_pyyaml, text)


def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register resolvers and constructors on CSafeLoader, undone afterwards."""
    loader = yaml.CSafeLoader
    monkeypatch.setattr(loader, "yaml_constructors", dict(loader.yaml_constructors))
    monkeypatch.setattr(loader, "yaml_implicit_resolvers",
                        {k: list(v) for k, v in loader.yaml_implicit_resolvers.items()})
    monkeypatch.setattr(loader, "yaml_path_resolvers", dict(loader.yaml_path_resolvers))


def test_a_constructor_registered_on_the_loader_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_registry(monkeypatch)
    yaml.add_constructor("tag:yaml.org,2002:timestamp", lambda ld, node: ld.construct_scalar(node),
                         Loader=yaml.CSafeLoader)
    assert load_yaml("when: 2001-12-14\n") == {"when": "2001-12-14"}


def test_a_resolver_registered_on_the_loader_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_registry(monkeypatch)
    yaml.add_implicit_resolver("tag:yaml.org,2002:int", re.compile("^xyz$"), ["x"],
                               Loader=yaml.CSafeLoader)
    text = "a: xyz\n"
    assert outcome(load_yaml, text) == outcome(load_with_pyyaml, text)
    assert outcome(load_yaml, text)[0] == "YamlRefused"


def test_path_resolvers_and_odd_first_characters_turn_the_c_builder_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolated_registry(monkeypatch)
    yaml.add_implicit_resolver("tag:yaml.org,2002:null", re.compile("^\x00$"), ["\x00"],
                               Loader=yaml.CSafeLoader)
    assert load_with_libyaml_events("a: 1\n") is FALLBACK
    assert load_yaml("a: 1\n") == {"a": 1}
    isolated_registry(monkeypatch)
    yaml.add_path_resolver("!thing", ["a"], str, Loader=yaml.CSafeLoader)
    assert load_with_libyaml_events("a: b\n") is FALLBACK
    assert outcome(load_yaml, "a: b\n") == outcome(load_with_pyyaml, "a: b\n")


def test_only_exact_strings_are_taken() -> None:
    class Text(str):
        pass

    assert load_with_libyaml_events(Text("a: 1")) is FALLBACK
    assert outcome(load_yaml, Text("a: 1")) == outcome(load_with_pyyaml, Text("a: 1"))
