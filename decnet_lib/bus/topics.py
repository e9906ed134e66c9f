"""Topics and subscription patterns: validation, matching, and a trie index of subscribers.

A topic is dot-separated, non-empty tokens of printable ASCII (no space, no '.'); `*` and `>`
are reserved. A pattern may use `*` as a whole token (exactly one token) and `>` as its last
token (one or more trailing tokens), NATS style.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

from decnet_lib.bus.errors import InvalidTopic

STAR = "*"
TAIL = ">"
MAX_TOPIC = 4000
_RESERVED = frozenset("*>")

K = TypeVar("K", bound=Hashable)


def _tokens(text: str, what: str) -> list[str]:
    if not text:
        raise InvalidTopic(f"empty {what}")
    if len(text) > MAX_TOPIC:
        raise InvalidTopic(f"{what} longer than {MAX_TOPIC} characters")
    if not text.isascii() or not text.isprintable() or " " in text:
        raise InvalidTopic(f"{what} {text!r}: only printable ASCII without spaces")
    tokens = text.split(".")
    if "" in tokens:
        raise InvalidTopic(f"{what} {text!r}: empty token")
    return tokens


def validate_topic(topic: str) -> tuple[str, ...]:
    """The tokens of a concrete topic (what one publishes on); raise InvalidTopic if malformed."""
    tokens = _tokens(topic, "topic")
    for token in tokens:
        if not _RESERVED.isdisjoint(token):
            raise InvalidTopic(f"topic {topic!r}: '*' and '>' are only allowed in patterns")
    return tuple(tokens)


def validate_pattern(pattern: str) -> tuple[str, ...]:
    """The tokens of a subscription pattern; raise InvalidTopic if malformed."""
    tokens = _tokens(pattern, "pattern")
    last = len(tokens) - 1
    for index, token in enumerate(tokens):
        if token == STAR:
            continue
        if token == TAIL:
            if index != last:
                raise InvalidTopic(f"pattern {pattern!r}: '>' is only allowed as the last token")
            continue
        if not _RESERVED.isdisjoint(token):
            raise InvalidTopic(f"pattern {pattern!r}: '*' and '>' must be whole tokens")
    return tuple(tokens)


def matches(pattern: str, topic: str) -> bool:
    """True when `topic` matches `pattern` (both validated; raises InvalidTopic otherwise)."""
    want = validate_pattern(pattern)
    have = validate_topic(topic)
    for index, token in enumerate(want):
        if token == TAIL:
            return len(have) > index
        if index >= len(have) or (token != STAR and token != have[index]):
            return False
    return len(have) == len(want)


class _Node(Generic[K]):
    """One trie level: literal children, a `*` child, subscribers ending here or at `>`."""

    __slots__ = ("children", "here", "star", "tail")

    def __init__(self) -> None:
        self.children: dict[str, _Node[K]] = {}
        self.star: _Node[K] | None = None
        self.here: set[K] = set()
        self.tail: set[K] = set()

    def empty(self) -> bool:
        return not (self.children or self.star or self.here or self.tail)


class SubscriptionIndex(Generic[K]):
    """Which keys (subscribers) have a pattern matching a topic: a token trie plus a cache.

    `match` walks at most one literal and one `*` branch per level, so its cost grows with the
    topic's length and the number of wildcard branches, not with the number of subscribers;
    results are cached per topic until the next add/remove.
    """

    def __init__(self, cache_size: int = 4096) -> None:
        self._root: _Node[K] = _Node()
        self._patterns: dict[str, set[K]] = {}
        self._cache: dict[str, tuple[K, ...]] = {}
        self._cache_size = cache_size

    def __len__(self) -> int:
        """Number of distinct (pattern, key) pairs."""
        return sum(len(keys) for keys in self._patterns.values())

    def patterns(self) -> list[str]:
        """Every pattern someone subscribes to."""
        return list(self._patterns)

    def add(self, pattern: str, key: K) -> bool:
        """Subscribe `key` to `pattern`; False when it already was."""
        tokens = validate_pattern(pattern)
        keys = self._patterns.setdefault(pattern, set())
        if key in keys:
            return False
        keys.add(key)
        node = self._root
        for token in tokens:
            if token == TAIL:
                node.tail.add(key)
                break
            if token == STAR:
                if node.star is None:
                    node.star = _Node()
                node = node.star
            else:
                child = node.children.get(token)
                if child is None:
                    child = node.children[token] = _Node()
                node = child
        else:
            node.here.add(key)
        self._cache.clear()
        return True

    def remove(self, pattern: str, key: K) -> bool:
        """Unsubscribe `key` from `pattern`; False when it was not subscribed."""
        keys = self._patterns.get(pattern)
        if not keys or key not in keys:
            return False
        keys.discard(key)
        if not keys:
            del self._patterns[pattern]
        self._remove_path(validate_pattern(pattern), key)
        self._cache.clear()
        return True

    def remove_all(self, key: K, patterns: Iterable[str]) -> None:
        """Unsubscribe `key` from each of `patterns`."""
        for pattern in list(patterns):
            self.remove(pattern, key)

    def _remove_path(self, tokens: tuple[str, ...], key: K) -> None:
        path: list[tuple[_Node[K], str]] = []
        node = self._root
        for token in tokens:
            if token == TAIL:
                node.tail.discard(key)
                break
            nxt = node.star if token == STAR else node.children.get(token)
            if nxt is None:
                return
            path.append((node, token))
            node = nxt
        else:
            node.here.discard(key)
        for parent, token in reversed(path):  # prune empty branches
            child = parent.star if token == STAR else parent.children[token]
            if child is None or not child.empty():
                break
            if token == STAR:
                parent.star = None
            else:
                del parent.children[token]

    def match(self, topic: str) -> tuple[K, ...]:
        """Every key with a pattern matching the concrete `topic` (each key once)."""
        cached = self._cache.get(topic)
        if cached is not None:
            return cached
        tokens = validate_topic(topic)
        found: set[K] = set()
        nodes = [self._root]
        for token in tokens:
            following: list[_Node[K]] = []
            for node in nodes:
                if node.tail:
                    found.update(node.tail)
                child = node.children.get(token)
                if child is not None:
                    following.append(child)
                if node.star is not None:
                    following.append(node.star)
            nodes = following
            if not nodes:
                break
        for node in nodes:
            found.update(node.here)
        result = tuple(found)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[topic] = result
        return result
