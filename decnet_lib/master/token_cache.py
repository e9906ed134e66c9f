"""Verified API tokens, remembered in-process for a few seconds so that a request does not
pay a database read to check its token (the API's hottest path).

An entry is keyed by the database URL and the SHA-256 of the whole presented token (the
token itself is never kept) and holds the caller it belongs to. It is used for at most
`TOKEN_CACHE_SECONDS`; `revoke_token` drops the entries of the revoked name in its own
process at once. A token revoked by another process (`decnet api token revoke` beside a
running `decnet api serve`) is refused by the server within `TOKEN_CACHE_SECONDS`.
Only successes are remembered: an unknown token is looked up every time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

TOKEN_CACHE_SECONDS = 5.0
"""The longest a token revoked by another process keeps working in a running server."""

C = TypeVar("C")


def token_key(url: str, token: str) -> tuple[str, str]:
    """The cache key of `token` on the database at `url` (the token is not kept)."""
    return url, hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class TokenCache(Generic[C]):
    """Callers of recently verified tokens, for `ttl` seconds; safe across threads."""

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS, size: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, str, C]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> C | None:
        """The caller of `key` when verified less than `ttl` seconds ago."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() >= entry[0]:
                del self._entries[key]
                return None
            return entry[2]

    def put(self, key: tuple[str, str], name: str, caller: C) -> None:
        """Remember that `key` (the token named `name`) belongs to `caller`."""
        with self._lock:
            self._entries[key] = (self.clock() + self.ttl, name, caller)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, name: str) -> None:
        """Drop every entry of the token named `name` (on revocation)."""
        with self._lock:
            for key in [key for key, entry in self._entries.items() if entry[1] == name]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
