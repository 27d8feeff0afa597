"""The embedding fields of the model credential form, parsed and checked once per call.

Dify sends every credential as a string (or leaves it out); this turns them into typed values
and raises ValueError with a message naming the field and a correct example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ollama_client.embed import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE
from ollama_client.keep_alive import keep_alive_value

# Variable names in provider/ollama.yaml (prefixed: the LLM form has fields of its own).
CONTEXT_SIZE = "embedding_context_size"
BATCH_SIZE = "embedding_batch_size"
TRUNCATE = "embedding_truncate"
DIMENSIONS = "embedding_dimensions"
KEEP_ALIVE = "embedding_keep_alive"
QUERY_PREFIX = "embedding_query_prefix"
DOCUMENT_PREFIX = "embedding_document_prefix"

# Reported to Dify when the form leaves the context size empty and /api/show cannot be read.
FALLBACK_CONTEXT_SIZE = 2048
MAX_CONTEXT_SIZE = 10_000_000

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class EmbeddingSettings:
    context_size: int | None  # None: not set by the user (then nothing is sent as num_ctx)
    batch_size: int
    truncate: bool
    dimensions: int | None
    keep_alive: str | int | float | None
    query_prefix: str
    document_prefix: str

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> EmbeddingSettings:
        return cls(
            context_size=_optional_int(credentials, CONTEXT_SIZE, "Context size", 1, MAX_CONTEXT_SIZE, "8192"),
            batch_size=_optional_int(credentials, BATCH_SIZE, "Batch size", 1, MAX_BATCH_SIZE, "32")
            or DEFAULT_BATCH_SIZE,
            truncate=_switch(credentials, TRUNCATE, "Truncate long texts", default=True),
            dimensions=_optional_int(credentials, DIMENSIONS, "Dimensions", 1, 100_000, "256"),
            keep_alive=keep_alive_value(credentials.get(KEEP_ALIVE), label="Keep alive"),
            query_prefix=unescape_prefix(credentials.get(QUERY_PREFIX)),
            document_prefix=unescape_prefix(credentials.get(DOCUMENT_PREFIX)),
        )

    def runner_options(self) -> dict[str, Any]:
        """Ollama `options`: only what the user set, since a changed runner option reloads the model."""
        return {"num_ctx": self.context_size} if self.context_size else {}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _optional_int(
    credentials: Mapping[str, Any], key: str, label: str, low: int, high: int, example: str
) -> int | None:
    raw = credentials.get(key)
    if _blank(raw):
        return None
    text = str(raw).strip()
    try:
        number = int(text)
    except ValueError:
        raise ValueError(
            f"{label} must be a whole number from {low} to {high} or empty, got '{text}' (example: {example})."
        ) from None
    if isinstance(raw, bool) or not low <= number <= high:
        raise ValueError(f"{label} must be a whole number from {low} to {high} or empty, got '{text}'.")
    return number


def _switch(credentials: Mapping[str, Any], key: str, label: str, *, default: bool) -> bool:
    raw = credentials.get(key)
    if isinstance(raw, bool):
        return raw
    if _blank(raw):
        return default
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{label} must be 'true' or 'false', got '{raw}'.")


def unescape_prefix(raw: Any) -> str:
    r"""Prefixes are used verbatim (a trailing space matters), except that a typed `\n` becomes a line break
    (a text field has none).

    >>> unescape_prefix(r"Instruct: find passages\nQuery: ")
    'Instruct: find passages\nQuery: '
    """
    if raw is None:
        return ""
    return str(raw).replace("\\n", "\n")


# Dify's plugin daemon reads the plugin's answers as lines of at most 5 MiB by default
# (PLUGIN_STDIO_MAX_BUFFER_SIZE); a longer line is lost. On the plugin's stdout a vector costs
# 12.7 bytes per float with Ollama's float32 numbers and 13.8 with 9-digit ones (measured,
# bench/README.md), so we count 14 and let a full batch use at most half of the limit.
DAEMON_LINE_LIMIT_BYTES = 5 * 1024 * 1024
RESPONSE_BUDGET_BYTES = DAEMON_LINE_LIMIT_BYTES // 2
JSON_BYTES_PER_FLOAT = 14


def response_bytes(batch_size: int, dimensions: int) -> int:
    """Approximate size of one embedding answer on the plugin's stdout."""
    return batch_size * dimensions * JSON_BYTES_PER_FLOAT


def largest_safe_batch(dimensions: int) -> int:
    return max(1, min(MAX_BATCH_SIZE, RESPONSE_BUDGET_BYTES // (dimensions * JSON_BYTES_PER_FLOAT)))
