"""Topics and patterns: validation, the wildcard table, and the trie index against brute force."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decnet_lib.bus.errors import InvalidTopic
from decnet_lib.bus.topics import SubscriptionIndex, matches, validate_pattern, validate_topic

WILDCARDS = [
    # pattern, topic, matches?
    ("a.b.c", "a.b.c", True),
    ("a.b.c", "a.b", False),
    ("a.b.c", "a.b.c.d", False),
    ("a.b", "a.c", False),
    ("a.*", "a.b", True),
    ("a.*", "a", False),
    ("a.*", "a.b.c", False),
    ("*", "a", True),
    ("*", "a.b", False),
    ("*.b", "a.b", True),
    ("*.b", "a.c", False),
    ("a.*.c", "a.x.c", True),
    ("a.*.c", "a.x.d", False),
    ("a.*.c", "a.c", False),
    ("*.*", "a.b", True),
    ("*.*", "a", False),
    ("a.>", "a.b", True),
    ("a.>", "a.b.c.d", True),
    ("a.>", "a", False),
    ("a.>", "b.c", False),
    (">", "a", True),
    (">", "a.b.c", True),
    ("*.>", "a", False),
    ("*.>", "a.b", True),
    ("a.*.>", "a.b", False),
    ("a.*.>", "a.b.c", True),
    ("topology.*.mutation.enqueued", "topology.42.mutation.enqueued", True),
    ("topology.*.mutation.enqueued", "topology.42.mutation.applied", False),
    ("system.bus.health", "system.bus.health", True),
]


@pytest.mark.parametrize(("pattern", "topic", "expected"), WILDCARDS)
def test_wildcard_table(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add(pattern, "k")
    assert (index.match(topic) == ("k",)) is expected


@pytest.mark.parametrize("topic", ["a", "a.b", "topology.1f2e.status", "x-y_z:1.A~"])
def test_valid_topics(topic: str) -> None:
    assert validate_topic(topic) == tuple(topic.split("."))


@pytest.mark.parametrize(("topic", "reason"), [
    ("", "empty"),
    ("a..b", "empty token"),
    (".a", "empty token"),
    ("a.", "empty token"),
    ("a b", "printable ASCII"),
    ("a\nb", "printable ASCII"),
    ("é", "printable ASCII"),
    ("a.*", "only allowed in patterns"),
    ("a.>", "only allowed in patterns"),
    ("a*b", "only allowed in patterns"),
    ("x" * 5000, "longer than"),
])
def test_invalid_topics(topic: str, reason: str) -> None:
    with pytest.raises(InvalidTopic, match=reason):
        validate_topic(topic)


@pytest.mark.parametrize("pattern", ["a", "*", ">", "a.*", "a.>", "*.*.>", "a.*.c"])
def test_valid_patterns(pattern: str) -> None:
    validate_pattern(pattern)


@pytest.mark.parametrize(("pattern", "reason"), [
    ("", "empty"),
    ("a..b", "empty token"),
    (">.a", "last token"),
    ("a.>.b", "last token"),
    ("a*", "whole tokens"),
    ("a.b>", "whole tokens"),
    ("**", "whole tokens"),
    ("a b", "printable ASCII"),
])
def test_invalid_patterns(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidTopic, match=reason):
        validate_pattern(pattern)


def test_index_add_remove_and_dedupe() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    assert index.add("a.*", "k1")
    assert not index.add("a.*", "k1")
    assert index.add("a.>", "k1")
    assert index.add("a.b", "k2")
    assert sorted(index.match("a.b")) == ["k1", "k2"]  # k1 once despite two patterns
    assert index.remove("a.*", "k1")
    assert not index.remove("a.*", "k1")
    assert sorted(index.match("a.b")) == ["k1", "k2"]
    index.remove("a.>", "k1")
    assert index.match("a.b") == ("k2",)
    index.remove_all("k2", ["a.b"])
    assert index.match("a.b") == ()
    assert len(index) == 0 and index.patterns() == []
    assert index._root.empty()  # branches are pruned


TOKENS = st.sampled_from(["a", "b", "c"])
PATTERN_TOKENS = st.sampled_from(["a", "b", "c", "*"])


@st.composite
def patterns(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(PATTERN_TOKENS, min_size=1, max_size=4))
    if draw(st.booleans()):
        tokens.append(">")
    return ".".join(tokens)


@given(st.lists(st.tuples(patterns(), st.integers(0, 5)), max_size=25),
       st.lists(st.lists(TOKENS, min_size=1, max_size=5).map(".".join), max_size=10),
       st.lists(st.integers(0, 24), max_size=5))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_index_matches_brute_force(subs: list[tuple[str, int]], topics: list[str],
                                   removals: list[int]) -> None:
    index: SubscriptionIndex[int] = SubscriptionIndex()
    live = set(subs)
    for pattern, key in subs:
        index.add(pattern, key)
    for position in removals:
        if position < len(subs):
            index.remove(*subs[position])
            live.discard(subs[position])
    for topic in topics:
        expected = {key for pattern, key in live if matches(pattern, topic)}
        assert set(index.match(topic)) == expected
        assert len(index.match(topic)) == len(expected)


def test_match_cost_does_not_grow_with_subscribers() -> None:
    index: SubscriptionIndex[int] = SubscriptionIndex(cache_size=0)
    for key in range(20_000):
        index.add(f"deck.{key}.status", key)
    index.add("deck.*.status", -1)
    started = time.perf_counter()
    for round_ in range(2000):
        assert set(index.match(f"deck.{round_}.status")) == {round_, -1}
    assert time.perf_counter() - started < 0.5
