"""Dify adapter for rerank: picks the method the credentials name, scores, ranks, validates.

Ollama has no rerank endpoint, so there are three methods (models/rerank/settings.py):
a compatible rerank service at the Base URL, cosine similarity of Ollama embeddings, or an
Ollama model judging each document through logprobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dify_plugin import RerankModel
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelType
from dify_plugin.entities.model.rerank import RerankDocument, RerankResult
from dify_plugin.errors.model import CredentialsValidateFailedError

from models.connection import ollama_client
from models.invoke_errors import OllamaInvokeErrors
from models.rerank.compatible import CompatibleRerankClient
from models.rerank.judge import LOGPROBS_MIN_VERSION, Judge, version_at_least
from models.rerank.ranking import ScoredDocument, rank
from models.rerank.settings import (
    METHOD_LABELS,
    RerankMethod,
    compatible_settings,
    embedding_settings,
    judge_settings,
    rerank_method,
)
from models.rerank.similarity import EmbeddingSimilarity
from models.validation import check_model
from ollama_client import OllamaError

# A real request, so URL, key, model name and answer shape are all checked at once.
PROBE_QUERY = "What is the capital of France?"
PROBE_DOCUMENTS = ["Paris is the capital and largest city of France.", "Bananas are rich in potassium."]


def score_documents(
    model: str, credentials: Mapping[str, Any], query: str, docs: list[str], top_n: int | None
) -> list[ScoredDocument]:
    method = rerank_method(credentials)
    if method is RerankMethod.COMPATIBLE_SERVICE:
        settings = compatible_settings(credentials)
        client = CompatibleRerankClient(settings.endpoint, settings.api_key, settings.timeout)
        return client.rerank(model, query, docs, top_n=top_n, batch_size=settings.batch_size)
    if method is RerankMethod.EMBEDDING_SIMILARITY:
        similarity = EmbeddingSimilarity(ollama_client(credentials), model, embedding_settings(credentials))
        return similarity.score(query, docs)
    return Judge(ollama_client(credentials), model, judge_settings(credentials)).score(query, docs)


class OllamaRerankModel(OllamaInvokeErrors, RerankModel):
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
        if not docs:
            return RerankResult(model=model, docs=[])
        scored = score_documents(model, credentials, query, docs, top_n)
        ranked = rank(scored, top_n=top_n, score_threshold=score_threshold)
        return RerankResult(
            model=model,
            docs=[RerankDocument(index=doc.index, text=docs[doc.index], score=doc.score) for doc in ranked],
        )

    def validate_credentials(self, model: str, credentials: Mapping[str, Any]) -> None:
        try:
            method = rerank_method(credentials)
            if method is RerankMethod.COMPATIBLE_SERVICE:
                self._validate_compatible(model, credentials)
            elif method is RerankMethod.EMBEDDING_SIMILARITY:
                embedding_settings(credentials)
                check_model(credentials, model, needs="embedding")
            else:
                judge_settings(credentials)
                check_model(credentials, model, needs="completion")
                self._validate_logprobs_version(credentials)
        except (OllamaError, ValueError) as error:
            raise CredentialsValidateFailedError(str(error)) from error

    @staticmethod
    def _validate_compatible(model: str, credentials: Mapping[str, Any]) -> None:
        if not (model or "").strip():
            raise ValueError("Model name is empty: enter the name of the rerank model the service serves.")
        settings = compatible_settings(credentials)
        client = CompatibleRerankClient(settings.endpoint, settings.api_key, settings.timeout)
        client.rerank(model, PROBE_QUERY, PROBE_DOCUMENTS, batch_size=settings.batch_size)

    @staticmethod
    def _validate_logprobs_version(credentials: Mapping[str, Any]) -> None:
        client = ollama_client(credentials)
        try:
            version = client.version()
        except OllamaError:
            return  # e.g. a proxy without /api/version: the first rerank reports missing logprobs instead
        if version_at_least(version, LOGPROBS_MIN_VERSION) is False:
            label = METHOD_LABELS[RerankMethod.LLM_JUDGE]
            raise ValueError(
                f"Ollama at {client.config.base_url} is version {version}; the rerank method '{label}' reads "
                f"logprobs, which need Ollama {LOGPROBS_MIN_VERSION} or newer. Upgrade Ollama, or choose "
                f"'{METHOD_LABELS[RerankMethod.EMBEDDING_SIMILARITY]}' or "
                f"'{METHOD_LABELS[RerankMethod.COMPATIBLE_SERVICE]}'."
            )

    def get_customizable_model_schema(self, model: str, credentials: Mapping[str, Any]) -> AIModelEntity:
        # Dify lists a customizable model only when it has a schema; rerank needs no parameters.
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=model),
            model_type=ModelType.RERANK,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={},
        )
