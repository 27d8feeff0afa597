"""The embedding fields of the model credential form, parsed and checked once per call.

Dify sends every credential as a string (or leaves it out); this turns them into typed values
and raises UserInputError (models/settings_fields.py) naming the field and a correct example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.settings_fields import WholeNumberField, keep_alive, on_off
from ollama_client.embed import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE

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

_CONTEXT_SIZE = WholeNumberField(CONTEXT_SIZE, "Context size", 1, MAX_CONTEXT_SIZE, None, example=8192)
_BATCH_SIZE = WholeNumberField(BATCH_SIZE, "Batch size", 1, MAX_BATCH_SIZE, DEFAULT_BATCH_SIZE)
_DIMENSIONS = WholeNumberField(DIMENSIONS, "Dimensions", 1, 100_000, None, example=256)


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
            context_size=_CONTEXT_SIZE.read(credentials),
            batch_size=_BATCH_SIZE.read(credentials),
            truncate=on_off(credentials.get(TRUNCATE), label="Truncate long texts", default=True),
            dimensions=_DIMENSIONS.read(credentials),
            keep_alive=keep_alive(credentials.get(KEEP_ALIVE), label="Keep alive"),
            query_prefix=unescape_prefix(credentials.get(QUERY_PREFIX)),
            document_prefix=unescape_prefix(credentials.get(DOCUMENT_PREFIX)),
        )

    def runner_options(self) -> dict[str, Any]:
        """Ollama `options`: only what the user set, since a changed runner option reloads the model."""
        return {"num_ctx": self.context_size} if self.context_size else {}


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
