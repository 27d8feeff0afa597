"""Batched embeddings over `POST /api/embed` (Ollama 0.2.6+). Knows nothing about Dify.

One request carries a list of inputs; Ollama embeds them in parallel and answers the
vectors in input order. Calls with more inputs than `batch_size` are split into several
requests, sent one after the other, and the vectors are concatenated in order. Every
answer is checked: one vector per input, all of one length, and of the requested
`dimensions`; nothing is dropped or guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ollama_client.client import EMBED_PATH, OllamaClient
from ollama_client.errors import (
    OllamaBadRequestError,
    OllamaConfigError,
    OllamaContextOverflowError,
    OllamaEndpointNotFoundError,
    OllamaError,
    OllamaServerBusyError,
    OllamaServerError,
    OllamaUnsupportedFeatureError,
    ollama_at,
)
from ollama_client.token_estimate import estimate_tokens
from ollama_client.wire import EmbedRequest, EmbedResponse, token_count, whole_number

# Chosen by measurement (bench/embedding_indexing.py, bench/README.md): indexing is 7x faster
# than with one text per request, and a full batch of 4096-dimensional vectors stays at about a
# third of the Dify plugin daemon's 5 MiB message limit (64 would reach 69 %).
DEFAULT_BATCH_SIZE = 32
MAX_BATCH_SIZE = 256


class EmbedInputError(OllamaBadRequestError):
    """An input cannot be embedded (empty, not a string); raised before anything is sent."""


@dataclass(frozen=True)
class EmbedResult:
    model: str
    embeddings: list[list[float]]  # one per input, in input order
    prompt_tokens: int  # Ollama's prompt_eval_count summed over requests (estimated where absent)
    tokens_estimated: bool  # True when at least one answer had no prompt_eval_count
    requests: int  # HTTP requests made

    @property
    def dimensions(self) -> int | None:
        return len(self.embeddings[0]) if self.embeddings else None


def check_inputs(inputs: Sequence[Any]) -> list[str]:
    """The inputs as a list of strings, or EmbedInputError naming the first bad one.

    Empty and whitespace-only texts are refused: Ollama's answer for them is an error or a
    meaningless vector, depending on the version, and a caller (Dify indexing) that pairs
    vectors with texts must never get fewer vectors than texts.
    """
    if isinstance(inputs, str | bytes):
        raise EmbedInputError("Embedding input must be a list of texts, not a single string.")
    texts = list(inputs)
    for position, text in enumerate(texts, start=1):
        if not isinstance(text, str):
            raise EmbedInputError(
                f"Text {position} of {len(texts)} is a {type(text).__name__}, not a string; nothing was embedded."
            )
        if not text.strip():
            raise EmbedInputError(
                f"Text {position} of {len(texts)} is empty or only whitespace, and an empty text has no "
                "meaningful embedding; nothing was embedded. Remove empty chunks from the document and retry."
            )
    return texts


def embed(
    client: OllamaClient,
    model: str,
    inputs: Sequence[str],
    *,
    truncate: bool = True,
    dimensions: int | None = None,
    keep_alive: str | int | float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    options: Mapping[str, Any] | None = None,
) -> EmbedResult:
    """Embed `inputs` with `model`, `batch_size` texts per request, vectors in input order.

    `truncate=False` makes Ollama refuse a text longer than the context window instead of
    cutting it; `dimensions` (Ollama 0.11.11+) shortens and re-normalises the vectors;
    `keep_alive` and `options` (e.g. `{"num_ctx": 8192}`) are sent only when given.
    Raises an OllamaError subclass; its message says what to change.
    """
    texts = check_inputs(inputs)
    _check_settings(batch_size, dimensions)
    body_base: EmbedRequest = {"model": model, "truncate": bool(truncate)}
    if dimensions is not None:
        body_base["dimensions"] = dimensions
    if keep_alive is not None:
        body_base["keep_alive"] = keep_alive
    if options:
        body_base["options"] = dict(options)

    vectors: list[list[float]] = []
    prompt_tokens = 0
    estimated = False
    requests = 0
    answered_model = model
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        payload = _post_batch(client, model, {**body_base, "input": batch}, batch, start, len(texts), truncate)
        requests += 1
        batch_vectors = _vectors(payload, batch, start, len(texts), client, model)
        _check_dimensions(batch_vectors, vectors, dimensions, client, model)
        vectors.extend(batch_vectors)
        count = token_count(payload.get("prompt_eval_count"))
        if count is not None:
            prompt_tokens += count
        else:  # omitted by some servers and proxies: estimate this batch only
            prompt_tokens += sum(estimate_tokens(text) for text in batch)
            estimated = True
        if isinstance(payload.get("model"), str) and payload["model"]:
            answered_model = payload["model"]
    return EmbedResult(answered_model, vectors, prompt_tokens, estimated, requests)


def _check_settings(batch_size: int, dimensions: int | None) -> None:
    if not 1 <= (whole_number(batch_size) or 0) <= MAX_BATCH_SIZE:
        raise OllamaConfigError(f"Batch size must be a whole number from 1 to {MAX_BATCH_SIZE}, got {batch_size!r}.")
    if dimensions is not None and (whole_number(dimensions) or 0) < 1:
        raise OllamaConfigError(f"Dimensions must be a positive whole number or empty, got {dimensions!r}.")


def _post_batch(
    client: OllamaClient,
    model: str,
    body: EmbedRequest,
    batch: list[str],
    start: int,
    total: int,
    truncate: bool,
) -> EmbedResponse:
    try:
        return client.embed(body)
    except OllamaContextOverflowError as error:
        longest = max(batch, key=len)
        where = f"texts {start + 1}–{start + len(batch)} of {total}" if total > 1 else "the text"
        if truncate:
            hint = (
                f"Ollama could not shorten one of {where} to fit the model's context window. Use a "
                "larger context size or shorter chunks."
            )
        else:
            hint = (
                f"Truncate is off, so every text must fit the model's context window; the longest of {where} "
                f"has {len(longest)} characters (about {estimate_tokens(longest)} tokens). Turn Truncate on "
                "to let Ollama cut long texts, make the document's chunks shorter, or raise the context size."
            )
        raise _with_hint(error, hint) from error
    except OllamaEndpointNotFoundError as error:
        hint = "If the Base URL is right, the server is older than Ollama 0.2.6, which added /api/embed: upgrade it."
        raise _with_hint(error, hint) from error
    except OllamaServerError as error:
        if error.ollama_message and "support embeddings" in error.ollama_message:
            hint = "Pick an embedding model (for example nomic-embed-text, bge-m3 or qwen3-embedding)."
            raise _with_hint(error, hint, OllamaUnsupportedFeatureError) from error
        raise


def _with_hint(error: OllamaError, hint: str, cls: type[OllamaError] | None = None) -> OllamaError:
    """The same kind of error (or `cls`) with `hint` appended to its message."""
    enriched = (cls or type(error))(
        f"{error.message} {hint}",
        status=error.status,
        ollama_message=error.ollama_message,
        url=error.url,
        model=error.model,
    )
    if isinstance(error, OllamaServerBusyError) and isinstance(enriched, OllamaServerBusyError):
        enriched.retry_after = error.retry_after
    return enriched


def _vectors(
    payload: EmbedResponse, batch: list[str], start: int, total: int, client: OllamaClient, model: str
) -> list[list[float]]:
    url = client.config.base_url + EMBED_PATH
    vectors = payload.get("embeddings")
    if not isinstance(vectors, list):
        raise OllamaServerError(
            f"{ollama_at(url, model)} answered without an 'embeddings' list; check that the Base URL "
            "points at Ollama 0.2.6 or newer.",
            url=url,
            model=model,
        )
    if len(vectors) != len(batch):
        raise OllamaServerError(
            f"{ollama_at(url, model)} returned {len(vectors)} vectors for {len(batch)} texts "
            f"(texts {start + 1}–{start + len(batch)} of {total}); refusing to guess which vector belongs to which "
            "text. Check the Ollama server log, or whatever proxy sits in front of it.",
            url=url,
            model=model,
        )
    for offset, vector in enumerate(vectors):
        if not isinstance(vector, list) or not vector:
            raise OllamaServerError(
                f"{ollama_at(url, model)} returned an empty or malformed vector for text "
                f"{start + offset + 1} of {total}. Check the Ollama server log.",
                url=url,
                model=model,
            )
    return vectors


def _check_dimensions(
    batch_vectors: list[list[float]],
    earlier: list[list[float]],
    dimensions: int | None,
    client: OllamaClient,
    model: str,
) -> None:
    url = client.config.base_url + EMBED_PATH
    expected = len(earlier[0]) if earlier else len(batch_vectors[0])
    for vector in batch_vectors:
        if len(vector) != expected:
            raise OllamaServerError(
                f"{ollama_at(url, model)} returned vectors of different lengths ({expected} and "
                f"{len(vector)}) in one call. Check the Ollama server log.",
                url=url,
                model=model,
            )
    if dimensions is None or expected == dimensions:
        return
    if expected > dimensions:
        raise OllamaUnsupportedFeatureError(
            f"Ollama at {url} ignored Dimensions = {dimensions} and returned {expected}-dimensional vectors: "
            "shortening vectors needs Ollama 0.11.11 or newer. Upgrade Ollama, or clear the Dimensions field.",
            url=url,
            model=model,
        )
    raise OllamaBadRequestError(
        f"Model '{model}' produces {expected}-dimensional vectors, so Dimensions = {dimensions} cannot be met. "
        f"Set Dimensions to {expected} or less, or leave it empty.",
        url=url,
        model=model,
    )
