"""Dify adapter for Ollama embedding models: schema, invoke, validate, token counts.

The work happens in `ollama_client.embed`; this file turns Dify's credentials and input type
into its arguments and its result into Dify's entities.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dify_plugin import TextEmbeddingModel
from dify_plugin.entities.model import (
    AIModelEntity,
    EmbeddingInputType,
    ModelPropertyKey,
    ModelType,
)
from dify_plugin.entities.model.text_embedding import EmbeddingUsage, TextEmbeddingResult
from dify_plugin.errors.model import CredentialsValidateFailedError

from models.connection import ollama_client
from models.customizable_schema import customizable_schema
from models.input_errors import UserInputError
from models.invoke_errors import OllamaInvokeErrors
from models.text_embedding.answer_size import check_count_fits, check_vectors_fit
from models.text_embedding.prefixes import apply_prefix, prefix_for
from models.text_embedding.settings import (
    DAEMON_LINE_LIMIT_BYTES,
    FALLBACK_CONTEXT_SIZE,
    EmbeddingSettings,
    largest_safe_batch,
    response_bytes,
)
from models.validation import check_model
from ollama_client import OllamaClient, OllamaError, get_model_info
from ollama_client.embed import check_inputs, embed
from ollama_client.token_estimate import estimate_tokens_each

_ZERO = Decimal("0")


class OllamaTextEmbeddingModel(OllamaInvokeErrors, TextEmbeddingModel):
    def _invoke(
        self,
        model: str,
        credentials: dict,
        texts: list[str],
        user: str | None = None,
        input_type: EmbeddingInputType = EmbeddingInputType.DOCUMENT,
    ) -> TextEmbeddingResult:
        started = time.perf_counter()
        settings = EmbeddingSettings.from_credentials(credentials)
        # Checked before prefixing: "search_document: " + "" would hide an empty text.
        inputs = apply_prefix(check_inputs(texts), prefix_for(input_type, settings))
        client = ollama_client(credentials)
        if len(inputs) > settings.batch_size:  # more than Dify's indexing sends: check before the work
            check_count_fits(model, len(inputs), settings.dimensions or _vector_length(client, model))
        result = embed(
            client,
            model,
            inputs,
            truncate=settings.truncate,
            dimensions=settings.dimensions,
            keep_alive=settings.keep_alive,
            batch_size=settings.batch_size,
            options=settings.runner_options(),
        )
        if result.embeddings:
            check_vectors_fit(model, result.embeddings)
        usage = EmbeddingUsage(
            tokens=result.prompt_tokens,
            total_tokens=result.prompt_tokens,
            unit_price=_ZERO,
            price_unit=_ZERO,
            total_price=_ZERO,
            currency="USD",
            latency=time.perf_counter() - started,
        )
        return TextEmbeddingResult(model=model, embeddings=result.embeddings, usage=usage)

    def get_num_tokens(self, model: str, credentials: dict, texts: list[str]) -> list[int]:
        # Offline and cheap: Dify calls this for every batch while it splits and indexes documents.
        return estimate_tokens_each(texts)

    def validate_credentials(self, model: str, credentials: Mapping[str, Any]) -> None:
        try:
            settings = EmbeddingSettings.from_credentials(credentials)
        except UserInputError as error:
            raise CredentialsValidateFailedError(str(error)) from error
        info = check_model(credentials, model, needs="embedding")
        native = info.embedding_length
        if settings.dimensions and native and settings.dimensions > native:
            raise CredentialsValidateFailedError(
                f"Dimensions = {settings.dimensions} is more than model '{model}' produces ({native}). "
                f"Enter {native} or less, or leave Dimensions empty."
            )
        if settings.context_size and info.context_length and settings.context_size > info.context_length:
            raise CredentialsValidateFailedError(
                f"Context size {settings.context_size} is more than model '{model}' was trained for "
                f"({info.context_length} tokens); Ollama would not use more. Enter {info.context_length} or less, "
                "or leave it empty."
            )
        vector_length = settings.dimensions or native
        if vector_length and settings.batch_size > largest_safe_batch(vector_length):
            size_mib = response_bytes(settings.batch_size, vector_length) / 2**20
            raise CredentialsValidateFailedError(
                f"Batch size {settings.batch_size} with {vector_length}-dimensional vectors makes answers of about "
                f"{size_mib:.1f} MiB, too close to the {DAEMON_LINE_LIMIT_BYTES // 2**20} MiB message limit of "
                f"Dify's plugin daemon. Set Batch size to {largest_safe_batch(vector_length)} or less, or set "
                "Dimensions lower."
            )

    def get_customizable_model_schema(self, model: str, credentials: Mapping[str, Any]) -> AIModelEntity:
        # Never raises: the SDK passes errors from here to Dify unmapped. Bad fields are reported
        # by validate_credentials and invoke instead.
        try:
            settings = EmbeddingSettings.from_credentials(credentials)
        except UserInputError:
            settings = EmbeddingSettings.from_credentials({})
        properties = {
            ModelPropertyKey.CONTEXT_SIZE: settings.context_size or _trained_context(model, credentials),
            # Dify sends at most this many texts per invoke while indexing.
            ModelPropertyKey.MAX_CHUNKS: settings.batch_size,
        }
        return customizable_schema(model, ModelType.TEXT_EMBEDDING, properties)


def _vector_length(client: OllamaClient, model: str) -> int:
    """The model's vector length from /api/show (cached); 1 when unknown (the answer is checked again)."""
    try:
        return get_model_info(client, model).embedding_length or 1
    except OllamaError:
        return 1


def _trained_context(model: str, credentials: Mapping[str, Any]) -> int:
    """The model's trained context length from /api/show (cached), or a modest fallback."""
    try:
        info = get_model_info(ollama_client(credentials), model)
    except (OllamaError, UserInputError):
        return FALLBACK_CONTEXT_SIZE
    return info.context_length or FALLBACK_CONTEXT_SIZE
