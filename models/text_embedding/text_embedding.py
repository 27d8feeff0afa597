"""Dify adapter for Ollama embedding models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dify_plugin import TextEmbeddingModel
from dify_plugin.entities.model import EmbeddingInputType
from dify_plugin.entities.model.text_embedding import TextEmbeddingResult
from dify_plugin.errors.model import InvokeBadRequestError

from models.invoke_errors import OllamaInvokeErrors
from models.validation import check_model


class OllamaTextEmbeddingModel(OllamaInvokeErrors, TextEmbeddingModel):
    def validate_credentials(self, model: str, credentials: Mapping[str, Any]) -> None:
        check_model(credentials, model, needs="embedding")

    def _invoke(
        self,
        model: str,
        credentials: dict,
        texts: list[str],
        user: str | None = None,
        input_type: EmbeddingInputType = EmbeddingInputType.DOCUMENT,
    ) -> TextEmbeddingResult:
        raise InvokeBadRequestError("Embeddings are not available in this build of the plugin yet.")

    def get_num_tokens(self, model: str, credentials: dict, texts: list[str]) -> list[int]:
        return [0 for _ in texts]
