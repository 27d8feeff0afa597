"""What a model can do, from `POST /api/show`, cached for a few minutes.

Dify asks for the model schema on every invocation, so without the cache each chat
message would cost an extra round trip to Ollama.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ollama_client.client import OllamaClient

CACHE_TTL_SECONDS = 300.0
_MAX_CACHE_ENTRIES = 512


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
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value > 0:
        return int(value)
    return None


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


_cache: dict[tuple[str, str, str], tuple[float, ModelInfo]] = {}
_cache_lock = threading.Lock()


def get_model_info(client: OllamaClient, model: str, *, max_age: float = CACHE_TTL_SECONDS) -> ModelInfo:
    """ModelInfo for `model` on the client's server; raises OllamaError when /api/show fails."""
    config = client.config
    key_digest = hashlib.sha256(config.api_key.encode()).hexdigest() if config.api_key else ""
    key = (config.base_url, key_digest, model)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    info = parse_show(model, client.show(model))
    with _cache_lock:
        if len(_cache) >= _MAX_CACHE_ENTRIES:
            _cache.clear()
        _cache[key] = (now, info)
    return info


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
