"""Dify adapter for rerank."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dify_plugin import RerankModel
from dify_plugin.entities.model.rerank import RerankResult
from dify_plugin.errors.model import InvokeBadRequestError

from models.invoke_errors import OllamaInvokeErrors
from models.validation import check_model


class OllamaRerankModel(OllamaInvokeErrors, RerankModel):
    def validate_credentials(self, model: str, credentials: Mapping[str, Any]) -> None:
        check_model(credentials, model, needs="completion")

    def _invoke(
        self,
        model: str,
        credentials: dict,
        query: str,
        docs: list[str],
        score_threshold: float | None = None,
        top_n: int | None = None,
        user: str | None = None,
    ) -> RerankResult:
        raise InvokeBadRequestError("Rerank is not available in this build of the plugin yet.")
