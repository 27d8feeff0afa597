"""Dify adapter for rerank: picks the method the credentials name, scores, ranks, validates.

Ollama has no rerank endpoint, so there are three methods (models/rerank/settings.py): a
compatible rerank service at the Base URL (rerank_client), cosine similarity of Ollama
embeddings, or an Ollama model judging each document through logprobs; Auto (the default)
picks one per Base URL and model (models/rerank/auto.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dify_plugin import RerankModel
from dify_plugin.entities.model import AIModelEntity, ModelType
from dify_plugin.entities.model.rerank import RerankDocument, RerankResult
from dify_plugin.errors.model import CredentialsValidateFailedError

from models.connection import ollama_client
from models.customizable_schema import customizable_schema
from models.input_errors import UserInputError
from models.invoke_errors import OllamaInvokeErrors
from models.rerank.auto import resolve_method
from models.rerank.checks import (
    check_compatible_service,
    check_logprobs_version,
    check_ollama_model,
    with_available_models,
)
from models.rerank.judge import Judge
from models.rerank.ranking import ScoredDocument, rank, top_n_limit
from models.rerank.settings import (
    RerankMethod,
    compatible_settings,
    judge_settings,
    rerank_method,
    shared_fields_only,
    similarity_settings,
)
from models.rerank.similarity import EmbeddingSimilarity
from ollama_client import OllamaError, OllamaModelNotFoundError
from rerank_client import RerankServiceClient, RerankServiceError


def chosen_method(
    model: str, credentials: Mapping[str, Any], *, fresh: bool = False
) -> tuple[RerankMethod, Mapping[str, Any]]:
    """The method to use and the credentials its settings are read from (only the shared ones under Auto)."""
    method = rerank_method(credentials)
    if method is RerankMethod.AUTO:
        return resolve_method(credentials, model, fresh=fresh).method, shared_fields_only(credentials)
    return method, credentials


def score_documents(
    model: str, credentials: Mapping[str, Any], query: str, docs: list[str], top_n: int | None
) -> list[ScoredDocument]:
    method, settings_from = chosen_method(model, credentials)
    if method is RerankMethod.COMPATIBLE_SERVICE:
        settings = compatible_settings(settings_from)
        client = RerankServiceClient(settings.endpoint, settings.api_key, settings.timeout)
        scores = client.rerank(model, query, docs, top_n=top_n_limit(top_n), batch_size=settings.batch_size)
        return [ScoredDocument(index=score.index, score=score.score) for score in scores]
    if method is RerankMethod.EMBEDDING_SIMILARITY:
        similarity = EmbeddingSimilarity(ollama_client(credentials), model, similarity_settings(settings_from))
        return similarity.score(query, docs)
    return Judge(ollama_client(credentials), model, judge_settings(settings_from)).score(query, docs)


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
        if not (model or "").strip():
            raise CredentialsValidateFailedError(
                "Model name is empty: enter the name shown by `ollama list`, or the rerank model a rerank service "
                "serves."
            )
        try:
            method, settings_from = chosen_method(model, credentials, fresh=True)
            if method is RerankMethod.COMPATIBLE_SERVICE:
                check_compatible_service(settings_from, model)
            elif method is RerankMethod.EMBEDDING_SIMILARITY:
                similarity_settings(settings_from)
                check_ollama_model(credentials, model, method)
            else:
                judge_settings(settings_from)
                check_ollama_model(credentials, model, method)
                check_logprobs_version(credentials)
        except OllamaModelNotFoundError as error:
            raise CredentialsValidateFailedError(with_available_models(error, credentials)) from error
        except (OllamaError, RerankServiceError, UserInputError) as error:
            raise CredentialsValidateFailedError(str(error)) from error

    def get_customizable_model_schema(self, model: str, credentials: Mapping[str, Any]) -> AIModelEntity:
        # Dify lists a customizable model only when it has a schema; rerank needs no parameters.
        return customizable_schema(model, ModelType.RERANK)
