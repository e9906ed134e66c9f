"""Load YAML: plain documents through the C builder, everything else through PyYAML.

The optional extension `_fastyaml` (see setup.py) turns libyaml's events straight into
Python objects. Whatever it does not handle (tags, anchors and aliases, several documents,
errors, deep nesting, a scalar its constructor cannot read) it hands back, and
`safe_yaml.load_with_pyyaml` loads the document, giving the same result or error as always.
"""

from __future__ import annotations

from typing import Any

import yaml

from decnet_lib.topology.safe_yaml import (
    _BASE_LOADER,
    _SCALAR,
    _SCALAR_TAGS,
    _STR,
    DEFAULT_MAX_ALIAS_NODES,
    MAX_NESTING,
    _CheckedSafeLoader,
    _Fallback,
    load_with_pyyaml,
)

try:  # built only where libyaml's headers were found (see setup.py)
    from decnet_lib.topology import _fastyaml
except ImportError:  # pragma: no cover - depends on the build
    _fastyaml = None


class _PlainScalars:
    """Resolve and construct a plain scalar as the safe loader does (for `_fastyaml`).

    It asks a loader of the class the PyYAML path uses, so resolvers and constructors
    registered on that class (or its bases) count. Raises for anything but a string, null,
    bool, int, float or timestamp (merge keys, say) and for a value its tag cannot read, so
    the document goes to PyYAML instead.
    """

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __call__(self, value: str) -> Any:
        loader = self._loader
        tag = loader.resolve(_SCALAR, value, (True, False))
        if tag == _STR:
            return value
        if tag not in _SCALAR_TAGS:
            raise _Fallback(tag)
        return loader.yaml_constructors[tag](loader, _SCALAR(tag, value))


def _first_chars() -> str | None:
    """The characters a plain non-string scalar can start with; None: no such shortcut.

    Read from the PyYAML path's own loader class on every load (other code may register
    resolvers with PyYAML at any time). Path resolvers, wildcard resolvers and first
    characters the C builder cannot take (not one ASCII character, NUL) turn it off.
    """
    if _CheckedSafeLoader.yaml_path_resolvers:
        return None
    firsts = _CheckedSafeLoader.yaml_implicit_resolvers
    chars = [first for first in firsts if first != ""]
    if not all(isinstance(c, str) and len(c) == 1 and c.isascii() and c != "\0" for c in chars):
        return None
    return "".join(chars)


def _libyaml_versions() -> tuple[str, str]:
    """(the libyaml the C builder was linked with, the one PyYAML's loader bundles)."""
    try:
        from yaml import _yaml  # type: ignore[attr-defined]

        pyyaml = str(_yaml.get_version_string())
    except (ImportError, AttributeError):  # pragma: no cover - depends on PyYAML's build
        pyyaml = ""
    return (_fastyaml.libyaml_version() if _fastyaml is not None else "", pyyaml)


def _why_not_fast() -> str:
    """Why the C builder stands aside ("" when it is in use).

    Any libyaml version is accepted: the differential tests (every plain-scalar form,
    hypothesis documents and random text, C path vs PyYAML) run in CI on the pinned PyYAML
    and the system's libyaml, and they showed 0.2.5 and 0.2.6 to agree; the nesting limit
    is ours and below either libyaml's own.
    """
    if _fastyaml is None:
        return "the C YAML builder is not built (it needs gcc and libyaml's headers)"
    if _BASE_LOADER is not getattr(yaml, "CSafeLoader", None):
        return "PyYAML was built without libyaml (no CSafeLoader)"
    return ""


_WHY_NOT = _why_not_fast()
_FAST = not _WHY_NOT


def fast_path_available() -> bool:
    """Is the C builder in use (built, and PyYAML has its libyaml loader)?"""
    return _FAST


def fast_path_status() -> dict[str, Any]:
    """What loads YAML here, for `validate --json`, the bench and bug reports."""
    built, bundled = _libyaml_versions()
    return {"fast": _FAST, "reason": _WHY_NOT if not _FAST else "",
            "libyaml_c_builder": built, "libyaml_pyyaml": bundled,
            "pyyaml": getattr(yaml, "__version__", "")}


FALLBACK: Any = _fastyaml.FALLBACK if _fastyaml is not None else object()


def load_with_libyaml_events(text: str) -> Any:
    """The C builder's result for `text`, or FALLBACK when PyYAML must load it."""
    first_chars = _first_chars()
    if not _FAST or first_chars is None or type(text) is not str:
        return FALLBACK
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: PyYAML says what is wrong
        return FALLBACK
    loader = _CheckedSafeLoader("")
    try:
        return _fastyaml.load(data, _PlainScalars(loader), first_chars, MAX_NESTING)
    finally:
        loader.dispose()


def load_yaml(text: str, alias_limit: int = DEFAULT_MAX_ALIAS_NODES) -> Any:
    """Load one YAML document safely; raise YamlRefused, yaml.YAMLError or another error.

    The C builder takes plain documents; PyYAML takes the rest (and gives every error).
    """
    data = load_with_libyaml_events(text)
    return load_with_pyyaml(text, alias_limit) if data is FALLBACK else data


