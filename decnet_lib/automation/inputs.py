"""The topology document a module is given: inline `spec` or a file `src`."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from decnet_lib.automation.errors import AutomationError
from decnet_lib.topology.loader import DocumentUnreadable, read_document_data


def load_input(spec: Mapping[str, Any] | None = None, src: str | None = None,
               max_bytes: int | None = None) -> Any:
    """The document data: the inline `spec`, or the file `src` (YAML or JSON)."""
    if spec is not None and src is not None:
        raise AutomationError("give either spec or src, not both", code="USAGE")
    if spec is not None:
        return copy.deepcopy(dict(spec))
    if src is None:
        raise AutomationError("a topology document is needed: give spec or src", code="USAGE")
    try:
        return read_document_data(src, max_bytes)
    except DocumentUnreadable as exc:
        raise AutomationError(exc.message, code=exc.code) from None
