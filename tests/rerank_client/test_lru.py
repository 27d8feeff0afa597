"""The bounded memory behind the rerank client's and the Auto method's module-level caches."""

from __future__ import annotations

import time

from rerank_client import LruCache


def test_the_least_recently_used_entry_goes_first_when_full():
    cache = LruCache[str, int](maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert len(cache) == 2


def test_an_entry_older_than_the_ttl_counts_as_absent(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache = LruCache[str, int](maxsize=8, ttl=300)
    cache.put("a", 1)
    now[0] += 299
    assert cache.get("a") == 1
    now[0] += 1
    assert cache.get("a") is None
    assert len(cache) == 0
