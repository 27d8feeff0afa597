"""What a model can do, from `POST /api/show`, cached for a few minutes.

Dify asks for the model schema on every invocation, so without the cache each chat
message would cost an extra round trip to Ollama. Once the cache has expired, a known answer
is still served at once while a background thread asks again (stale-while-revalidate), so
the first chat after a quiet spell does not wait for /api/show either.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ollama_client.client import OllamaClient
from ollama_client.errors import OllamaError
from ollama_client.redaction import secret_digest
from ollama_client.wire import finite_number

logger = logging.getLogger(__name__)

CACHE_TTL_SECONDS = 300.0
# How long an expired answer may still be served while it is refreshed: what a model name can do changes only
# when it is pulled or created again, and the refresh that serving starts corrects it for the next call.
MAX_STALE_SECONDS = 24 * 3600.0
REFRESH_RETRY_SECONDS = 20.0  # after a failed background refresh, the stale answer is served without asking
# Least recently used entries go first: one entry per (server, key, model), so many keys or models cannot grow it.
MAX_CACHE_ENTRIES = 512


@dataclass(frozen=True)
class ModelInfo:
    """The parts of /api/show the plugin uses. `capabilities` is None on Ollama < 0.6.4."""

    name: str
    capabilities: frozenset[str] | None
    context_length: int | None
    embedding_length: int | None
    family: str | None

    def has(self, capability: str) -> bool | None:
        """True/False when the server told us, None when it predates the capabilities field."""
        if self.capabilities is None:
            return None
        return capability in self.capabilities


def _positive_int(value: Any) -> int | None:
    number = finite_number(value)  # GGUF metadata is an integer; a float is taken whole, a bool or inf never
    return int(number) if number is not None and number >= 1 else None


def parse_show(model: str, show: Mapping[str, Any]) -> ModelInfo:
    raw_caps = show.get("capabilities")
    capabilities = frozenset(str(c) for c in raw_caps) if isinstance(raw_caps, list) else None
    model_info = show.get("model_info") if isinstance(show.get("model_info"), Mapping) else {}
    arch = model_info.get("general.architecture")
    context_length = embedding_length = None
    if isinstance(arch, str):
        context_length = _positive_int(model_info.get(f"{arch}.context_length"))
        embedding_length = _positive_int(model_info.get(f"{arch}.embedding_length"))
    details = show.get("details") if isinstance(show.get("details"), Mapping) else {}
    family = details.get("family") if isinstance(details.get("family"), str) else None
    return ModelInfo(model, capabilities, context_length, embedding_length, family or arch)


_cache: OrderedDict[tuple[str, str, str], tuple[float, ModelInfo]] = OrderedDict()
_cache_lock = threading.Lock()


_refreshing: set[tuple[str, str, str]] = set()
_refresh_failed_at: dict[tuple[str, str, str], float] = {}


def get_model_info(
    client: OllamaClient, model: str, *, max_age: float | None = None, max_stale: float | None = None
) -> ModelInfo:
    """ModelInfo for `model` on the client's server; raises OllamaError when /api/show fails.

    An answer younger than `max_age` (default CACHE_TTL_SECONDS) is served from the cache. An older one,
    younger than `max_stale` (default MAX_STALE_SECONDS), is served too while a background thread asks
    again. `max_age=0` always asks and waits (credential validation).
    """
    max_age = CACHE_TTL_SECONDS if max_age is None else max_age
    max_stale = MAX_STALE_SECONDS if max_stale is None else max_stale
    model = model.strip()
    config = client.config
    key = (config.base_url, secret_digest(config.api_key), model)
    cached = _cache.get(key)
    if cached is not None:
        age = time.monotonic() - cached[0]
        if age < max_age:
            return cached[1]
        if max_age > 0 and age < max_stale:
            _refresh_in_background(client, model, key)
            return cached[1]
    return _fetch(client, model, key)


def _refresh_in_background(client: OllamaClient, model: str, key: tuple[str, str, str]) -> None:
    with _cache_lock:
        failed_at = _refresh_failed_at.get(key)
        if key in _refreshing or (failed_at is not None and time.monotonic() - failed_at < REFRESH_RETRY_SECONDS):
            return
        _refreshing.add(key)

    def refresh() -> None:
        try:
            _fetch(client, model, key)
            _refresh_failed_at.pop(key, None)
        except Exception as error:  # a background thread: anything uncaught would only be printed
            # An OllamaError's text is redacted; of anything else only the class is logged.
            said = error if isinstance(error, OllamaError) else type(error).__name__
            logger.warning("refreshing the capabilities of %s failed, serving the last answer: %s", model, said)
            with _cache_lock:
                if len(_refresh_failed_at) >= MAX_CACHE_ENTRIES:
                    _refresh_failed_at.clear()
                _refresh_failed_at[key] = time.monotonic()
        finally:
            with _cache_lock:
                _refreshing.discard(key)

    threading.Thread(target=refresh, name=f"ollama-show-refresh {model}", daemon=True).start()


def _fetch(client: OllamaClient, model: str, key: tuple[str, str, str]) -> ModelInfo:
    now = time.monotonic()
    info = parse_show(model, client.show(model))
    with _cache_lock:
        _cache[key] = (now, info)
        _cache.move_to_end(key)
        while len(_cache) > MAX_CACHE_ENTRIES:
            _cache.popitem(last=False)
    return info


def cache_size() -> int:
    return len(_cache)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _refresh_failed_at.clear()
