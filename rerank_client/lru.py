"""A small thread-safe LRU mapping with an optional time to live: module-level memory that stays bounded.

>>> cache = LruCache[str, int](maxsize=2)
>>> cache.put("a", 1); cache.put("b", 2); cache.put("c", 3)
>>> cache.get("a") is None, cache.get("c")
(True, 3)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class LruCache[K, V]:
    """At most `maxsize` entries, the least recently used dropped first; an entry older than `ttl` seconds
    counts as absent."""

    def __init__(self, maxsize: int, *, ttl: float | None = None) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if self.ttl is not None and time.monotonic() - stored_at >= self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
