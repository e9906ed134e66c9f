"""Load YAML safely through PyYAML: bounded nesting, no recursive aliases, no alias bombs.

`load_with_pyyaml` refuses (YamlRefused, one line) what libyaml could only turn into a crash
or an unbounded structure; `gc_paused` speeds up building large documents. `yaml_events`
puts the C builder in front of this path (`load_yaml`).
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import yaml

from decnet_lib.topology.duplicate_keys import duplicate_keys_of, key_text, with_duplicates
from decnet_lib.topology.yaml_nodes import children, one_line

MAX_NESTING = 512
"""Collections inside one another, ours on every path (JSON, the C builder, PyYAML with any
libyaml): below libyaml 0.2.6's own limit (1,000 flow or block levels), so that limit can
never decide first, and below orjson's (1,024)."""
DEFAULT_MAX_ALIAS_NODES = 5_000_000  # or the document's length in bytes, when larger

_BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "binary", "timestamp"))
_STR, _SEQ, _MAP = _TAG + "str", _TAG + "seq", _TAG + "map"
_SCALAR, _SEQUENCE, _MAPPING = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode
_IN_PROGRESS = object()
_T = TypeVar("_T")

# libyaml composes nodes recursively in C: measured 300-400 bytes of C stack per nesting
# level, so a generous 1 KiB per level plus a base. Up to _INLINE_NESTING levels (about
# 100 KiB) are composed on the caller's thread; a deeper possible nesting is composed on a
# helper thread with a stack sized for it, or, beyond _MAX_COMPOSE_STACK, checked first.
_INLINE_NESTING = 256
_STACK_PER_LEVEL = 1024
_STACK_BASE = 1024 * 1024
_MAX_COMPOSE_STACK = 256 * 1024 * 1024
_STACK_LOCK = threading.Lock()

# A block collection starts at a column no further right than the run of indentation and
# block indicators ("- ", "? ", ": ") that begins its line, and each column holds at most
# a mapping and its indentless sequence. Lines whose run is shorter than this are cheap to
# rule out with one regular-expression search.
_LINE_PREFIX_LIMIT = 64
_PREFIX_CHARS = "\ufeff \t?:\\-"
_DEEP_LINE = re.compile(f"\n[{_PREFIX_CHARS}]{{{_LINE_PREFIX_LIMIT}}}")
_LINE_PREFIX = re.compile(f"\n([{_PREFIX_CHARS}]*)")
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")  # libyaml's other line breaks
_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^']|'')*'""")


class _Fallback(Exception):
    """The fast constructor met something only the standard one handles."""


class _NoThread(Exception):
    """No helper thread with a big enough stack could be started."""


class YamlRefused(Exception):
    """The document decodes, but into something that must not be used (message: one line)."""


def _where(node: Any) -> str:
    mark = getattr(node, "start_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


TOO_DEEP = f"nests collections deeper than {MAX_NESTING} levels"
"""The one refusal for nesting, the same words on every path and with every libyaml."""

# libyaml 0.2.6 refuses 1,000 levels itself ("exceeded maximum nesting depth"); only a
# document far deeper than MAX_NESTING can reach it, so it is the same refusal as ours.
_LIBYAML_NESTING = "exceeded maximum nesting depth"


def _too_deep() -> YamlRefused:
    return YamlRefused(TOO_DEEP)


def is_libyaml_nesting_error(exc: BaseException) -> bool:
    """Is this libyaml's own nesting refusal (libyaml 0.2.6 and later)?"""
    return isinstance(exc, yaml.YAMLError) and _LIBYAML_NESTING in str(
        getattr(exc, "problem", "") or "")


def _recursive(node: Any) -> YamlRefused:
    return YamlRefused(f"has a recursive alias: the node anchored{_where(node)} contains an "
                    "alias to itself")


def _bomb(limit: int) -> YamlRefused:
    return YamlRefused(f"has aliases that expand to more than {limit} nodes (an alias bomb)")


def alias_node_limit(document_bytes: int) -> int:
    """How many nodes aliases may add to a document of this many bytes."""
    return max(DEFAULT_MAX_ALIAS_NODES, document_bytes)


class _Measures:
    """Expanded size and height of (already checked, acyclic) nodes, computed iteratively."""

    def __init__(self) -> None:
        self.known: dict[Any, tuple[int, int]] = {}

    def of(self, root: Any) -> tuple[int, int]:
        known = self.known
        stack = [root]
        while stack:
            node = stack[-1]
            if node in known:
                stack.pop()
                continue
            inside = children(node)
            pending = [c for c in inside if type(c) is not _SCALAR and c not in known]
            if pending:
                stack.extend(pending)
                continue
            size, height = 1, 0
            for child in inside:
                if type(child) is _SCALAR:
                    size += 1
                else:
                    child_size, child_height = known[child]
                    size += child_size
                    height = max(height, child_height)
            known[node] = (size, height + 1)
            stack.pop()
        return known[root]


def check_node_graph(root: Any, alias_limit: int) -> None:
    """Refuse a composed YAML node graph that is recursive, too deep or an alias bomb.

    Iterative, so any depth is safe; every node is visited once and each further use of a
    node (an alias) adds the nodes of its expanded subtree to the count.
    """
    measures = _Measures()
    on_path: set[Any] = set()
    aliased = 0
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, leaving = stack.pop()
        if type(node) is _SCALAR or node is None:
            continue
        if leaving:
            on_path.discard(node)
            measures.of(node)  # every child is measured already: one step
            continue
        if node in on_path:
            raise _recursive(node)
        if node in measures.known:  # an alias of a node already checked
            size, height = measures.known[node]
            if depth + height - 1 > MAX_NESTING:
                raise _too_deep()
            aliased += size
            if aliased > alias_limit:
                raise _bomb(alias_limit)
            continue
        if depth > MAX_NESTING:
            raise _too_deep()
        on_path.add(node)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(children(node)))


class _FastSafeLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader with a direct constructor.

    Plain documents (maps, sequences, scalars, aliases) are built in one recursive pass;
    anything else (merge keys, recursion, other tags, errors) is handed to the standard
    constructor from scratch, so the result and every error are those of the safe loader.

    With `checked` set (see _CheckedSafeLoader) it refuses instead, raising YamlRefused: a
    recursive alias, nesting deeper than MAX_NESTING, aliases expanding to more than
    `alias_limit` nodes (an alias costs nothing unless it is used) and a scalar its tag
    cannot read; before falling back it runs the same checks on the node graph.
    """

    checked = False
    alias_limit = DEFAULT_MAX_ALIAS_NODES

    def construct_document(self, node: Any) -> Any:
        self._measures = _Measures()
        self._aliased = 0
        self.duplicates: list[str] = []
        try:
            data = self._build(node, {}, 1)
            if self.state_generators:
                raise _Fallback
        except YamlRefused:
            raise
        except Exception:  # the standard constructor decides what the error is
            self.constructed_objects, self.recursive_objects = {}, {}
            self.state_generators, self.deep_construct = [], False
            if self.checked:
                check_node_graph(node, self.alias_limit)
                self.duplicates = duplicate_keys_of(node)
            return super().construct_document(node)
        finally:
            self._measures = _Measures()
        self.constructed_objects, self.recursive_objects = {}, {}
        return data

    def _scalar(self, node: Any) -> Any:
        if not self.checked:
            return self.construct_object(node)
        try:
            return self.construct_object(node)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # e.g. the date 2001-13-45, or !!bool maybe
            kind = node.tag.rsplit(":", 1)[-1]
            raise YamlRefused(f"is not valid YAML{_where(node)}: {node.value!r} is not a valid "
                           f"{kind} ({one_line(str(exc), 120)})") from None

    def _alias(self, node: Any, depth: int) -> None:
        """Count a further use of a built node against the depth and alias limits."""
        size, height = self._measures.of(node)
        if depth + height - 1 > MAX_NESTING:
            raise _too_deep()
        self._aliased += size
        if self._aliased > self.alias_limit:
            raise _bomb(self.alias_limit)

    def _build(self, node: Any, memo: dict[Any, Any], depth: int) -> Any:
        if type(node) is _SCALAR:
            if node.tag == _STR:
                return node.value
            if node.tag in _SCALAR_TAGS:
                return self._scalar(node)
            raise _Fallback
        done = memo.get(node)
        if done is not None:
            if done is _IN_PROGRESS:
                raise _recursive(node) if self.checked else _Fallback  # a recursive structure
            if self.checked:
                self._alias(node, depth)
            return done  # an alias of a node already built
        if depth > MAX_NESTING and self.checked:
            raise _too_deep()
        memo[node] = _IN_PROGRESS
        if type(node) is _SEQUENCE and node.tag == _SEQ:
            depth += 1
            data: Any = [self._build(child, memo, depth) for child in node.value]
        elif type(node) is _MAPPING and node.tag == _MAP:
            data = self._build_map(node, memo, depth + 1)
        else:
            raise _Fallback
        memo[node] = data
        return data

    def _build_map(self, node: Any, memo: dict[Any, Any], depth: int) -> dict[Any, Any]:
        data: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if type(key_node) is _SCALAR and key_node.tag == _STR:
                key = key_node.value  # the common case, inlined
            elif key_node.tag in (_TAG + "merge", _TAG + "value"):
                raise _Fallback
            else:
                key = self._build(key_node, memo, depth)
                try:
                    hash(key)
                except TypeError:
                    raise _Fallback from None
            if self.checked and key in data:
                self.duplicates.append(key_text(key_node))
            if type(value_node) is _SCALAR and value_node.tag == _STR:
                data[key] = value_node.value
            else:
                data[key] = self._build(value_node, memo, depth)
        return data


class _CheckedSafeLoader(_FastSafeLoader):
    """The fast safe loader that refuses unusable documents (what decode_document uses)."""

    checked = True


def _block_bound(text: str) -> int:
    """At most two block levels per column of the widest indicator run starting a line."""
    other_breaks = any(char in text for char in "\r\x85\u2028\u2029")
    lines = _OTHER_BREAKS.sub("\n", text) if other_breaks else text
    lines = "\n" + lines
    if _DEEP_LINE.search(lines) is None:
        return 2 * _LINE_PREFIX_LIMIT
    return 2 * (max(map(len, _LINE_PREFIX.findall(lines))) + 1)


def nesting_bound(text: str) -> int:
    """A cheap, sound upper bound of how deeply the collections of a YAML text can nest.

    Flow collections: at most one level per '[' or '{'. Block collections: at most two
    levels (a mapping and its indentless sequence) per column of the widest run of
    indentation and block indicators at the start of a line, since a block collection starts
    at a column no further right than that run.
    """
    return text.count("[") + text.count("{") + _block_bound(text)


def _naive_flow_nesting(text: str) -> int:
    """How deeply the brackets of a text nest, taken at face value (stops past the limit)."""
    brackets = text.encode("utf-8", "surrogatepass").translate(_AS_PARENS, _NOT_BRACKETS)
    passes = 0
    while passes < 8 and b"()" in brackets:  # each pass removes the innermost pairs
        brackets = brackets.replace(b"()", b"")
        passes += 1
    depth = deepest = 0
    for char in brackets:
        if char == 40:  # "("
            depth += 1
            if depth > deepest:
                deepest = depth
                if passes + deepest > MAX_NESTING:
                    break
        elif depth:
            depth -= 1
    return passes + deepest


def _likely_flow_nesting(text: str) -> int:
    """How deeply flow collections seem to nest, with and without the quoted scalars.

    A heuristic, not a bound (a bracket can hide in a quoted scalar or a comment): it only
    picks the faster of two safe paths, so a mistake costs time, never a crash.
    """
    likely = _naive_flow_nesting(text)
    if likely <= MAX_NESTING and ('"' in text or "'" in text):
        likely = max(likely, _naive_flow_nesting(_QUOTED.sub("", text)))
    return likely


def _nesting_by_events(text: str) -> int:
    """The exact nesting depth of a YAML text, from libyaml's events (no recursion)."""
    parser = _BASE_LOADER(text)
    opening = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    closing = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    depth = deepest = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, opening):
                depth += 1
                if depth > MAX_NESTING:
                    raise _too_deep()
                deepest = max(deepest, depth)
            elif isinstance(event, closing):
                depth -= 1
    finally:
        parser.dispose()
    return deepest


def _on_big_stack(func: Callable[[], _T], stack_bytes: int) -> _T:
    """Run func on a helper thread with a stack of at least stack_bytes; re-raise its error."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = func()
        except BaseException as exc:
            outcome["error"] = exc

    size = -(-stack_bytes // 65536) * 65536
    thread = threading.Thread(target=target, name="decnet-yaml-compose", daemon=True)
    with _STACK_LOCK:  # stack_size() is process-wide: set it only around our own thread
        try:
            previous = threading.stack_size(size)
        except (ValueError, RuntimeError) as exc:
            raise _NoThread from exc
        try:
            thread.start()
        except (RuntimeError, MemoryError) as exc:
            raise _NoThread from exc
        finally:
            threading.stack_size(previous)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _compose(loader: Any, text: str) -> Any:
    """libyaml's node graph of a single-document text, without overflowing the C stack.

    libyaml's parser also takes time quadratic in the flow nesting depth, so a document that
    looks deep is checked event by event first, which stops at the first level too deep.
    """
    block = _block_bound(text)
    bound = text.count("[") + text.count("{") + block  # nesting_bound(text)
    if bound <= _INLINE_NESTING:
        return loader.get_single_node()
    stack_bytes = bound * _STACK_PER_LEVEL + _STACK_BASE
    if stack_bytes <= _MAX_COMPOSE_STACK and _likely_flow_nesting(text) + block <= MAX_NESTING:
        try:
            return _on_big_stack(loader.get_single_node, stack_bytes)
        except _NoThread:
            pass  # e.g. address space limits: check the exact depth instead
    depth = _nesting_by_events(text)  # exact; refuses a deep document early
    if depth > _INLINE_NESTING:
        try:
            return _on_big_stack(loader.get_single_node, depth * _STACK_PER_LEVEL + _STACK_BASE)
        except _NoThread:
            pass  # at most MAX_NESTING levels: a few hundred KiB of stack
    return loader.get_single_node()


def load_with_pyyaml(text: str, alias_limit: int = DEFAULT_MAX_ALIAS_NODES) -> Any:
    """Load one YAML document through PyYAML's nodes, with every safety check."""
    loader = _CheckedSafeLoader(text)
    loader.alias_limit = alias_limit
    try:
        node = _compose(loader, text)
        if node is None:
            return None
        return with_duplicates(loader.construct_document(node), loader.duplicates)
    except yaml.YAMLError as exc:
        if is_libyaml_nesting_error(exc):
            raise _too_deep() from None
        raise
    finally:
        loader.dispose()


def check_data_depth(data: Any) -> None:
    """Refuse decoded data (JSON) nested deeper than MAX_NESTING; iterative, any depth."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _too_deep()
        if type(value) is dict:
            stack.extend((child, depth + 1) for child in value.values()
                         if type(child) is dict or type(child) is list)
        elif type(value) is list:
            stack.extend((child, depth + 1) for child in value
                         if type(child) is dict or type(child) is list)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building a large acyclic tree (it would rescan it often).

    Nests safely: only the outermost pause turns the collector back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
