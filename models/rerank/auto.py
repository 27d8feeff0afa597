"""The Auto rerank method: which method fits this Base URL and model, decided once per (server, model).

- A Base URL whose path ends in a rerank endpoint (`/rerank`, `/v1/rerank`, …), the way the official
  plugin has users enter it, is a compatible rerank service; nothing is asked.
- Otherwise Ollama's `/api/show` is asked for the model's capabilities (the same cached lookup every model
  type uses): `embedding` means embedding similarity, `completion` (a chat model) means the judge.
- A server that does not speak Ollama's API is a compatible rerank service: `/api/show` answers a 404/405
  that is not Ollama's `{"error": "…"}` shape (or a 2xx that is not Ollama's JSON), and `/api/version`
  does not answer Ollama's `{"version": "…"}` either. Decided by status and shape, never by error text.

The choice is cached (bounded, with a TTL) and logged at INFO once per resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dify_plugin.config.logger_format import plugin_logger_handler

from models.connection import API_KEY, BASE_URL, ollama_client
from models.rerank.settings import METHOD_LABELS, RerankMethod
from models.validation import listed_capabilities
from ollama_client import OllamaClient, OllamaError, OllamaUnsupportedFeatureError, get_model_info
from ollama_client.redaction import secret_digest
from rerank_client import LruCache, RerankConfigError, names_rerank_endpoint

# Dify's daemon keeps the plugin's log events (stdout); plain `logging` would go nowhere in the plugin process.
logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)
if plugin_logger_handler not in logger.handlers:
    logger.addHandler(plugin_logger_handler)

RESOLUTION_TTL_SECONDS = 300.0  # as long as the capability cache: a model re-pulled under the same name is seen
MAX_RESOLUTIONS = 256


@dataclass(frozen=True)
class Resolution:
    method: RerankMethod
    reason: str  # why, for logs and `make try`

    def describe(self) -> str:
        return f"{METHOD_LABELS[self.method]} ({self.reason})"


_resolutions: LruCache[tuple[str, str, str], Resolution] = LruCache(MAX_RESOLUTIONS, ttl=RESOLUTION_TTL_SECONDS)


def forget_resolutions() -> None:
    """Forget every cached choice (tests; a live process relies on the TTL)."""
    _resolutions.clear()


def resolve_method(credentials: Mapping[str, Any], model: str, *, fresh: bool = False) -> Resolution:
    """The method Auto uses for `model` at the credentials' Base URL; `fresh` asks again (validation).

    Raises OllamaError when the server cannot be asked or the model is missing, with the usual message.
    """
    base_url = str(credentials.get(BASE_URL) or "").strip()
    key = (base_url, secret_digest(str(credentials.get(API_KEY) or "").strip() or None), model.strip())
    cached = None if fresh else _resolutions.get(key)
    if cached is not None:
        return cached
    resolution = _decide(credentials, model.strip())
    _resolutions.put(key, resolution)
    logger.info("rerank method Auto for model '%s' at %s: %s", model.strip(), base_url, resolution.describe())
    return resolution


def _decide(credentials: Mapping[str, Any], model: str) -> Resolution:
    if _names_rerank_endpoint(credentials.get(BASE_URL)):
        return Resolution(RerankMethod.COMPATIBLE_SERVICE, "the Base URL is a rerank endpoint")
    client = ollama_client(credentials)
    try:
        info = get_model_info(client, model)
    except OllamaError as error:
        if _foreign_answer(error) and not _speaks_ollama(client):
            return Resolution(
                RerankMethod.COMPATIBLE_SERVICE,
                f"the Base URL does not serve Ollama's API: /api/show answered HTTP {error.status}",
            )
        raise
    if info.has("embedding"):
        return Resolution(RerankMethod.EMBEDDING_SIMILARITY, f"'{model}' has the 'embedding' capability")
    if info.has("completion"):
        return Resolution(RerankMethod.LLM_JUDGE, f"'{model}' is a chat model (the 'completion' capability)")
    if info.capabilities is None:
        # Ollama < 0.6.4 reports no capabilities, and is far too old for the judge's logprobs (0.12.11+).
        return Resolution(RerankMethod.EMBEDDING_SIMILARITY, "this Ollama reports no capabilities (older than 0.6.4)")
    raise OllamaUnsupportedFeatureError(
        f"Model '{model}' on {client.config.base_url} can neither embed nor generate text (it has: "
        f"{listed_capabilities(info)}), so no rerank method fits it. Enter an embedding model "
        "(e.g. bge-m3) or a chat model (e.g. qwen3) as the model name, or the address of a rerank service as the "
        "Base URL.",
        model=model,
    )


def _names_rerank_endpoint(raw: object) -> bool:
    try:
        return names_rerank_endpoint(raw)
    except RerankConfigError:
        return False  # an unusable Base URL: Ollama's own check words the message for an Ollama user


def _foreign_answer(error: OllamaError) -> bool:
    """/api/show answered, but not as Ollama does: a missing route, or a 2xx that is not Ollama's JSON."""
    if error.status is None:
        return False  # no answer at all (connection, timeout): nothing is known about the server
    if 200 <= error.status < 300:
        return True
    return error.status in (404, 405) and error.ollama_message is None


def _speaks_ollama(client: OllamaClient) -> bool:
    """Whether GET /api/version answers Ollama's `{"version": "…"}`; a failed connection is raised."""
    try:
        return bool(client.version())
    except OllamaError as error:
        if error.status is None:
            raise
        return False
