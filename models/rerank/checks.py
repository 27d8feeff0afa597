"""Credential checks for rerank: fast (nothing is loaded) and, when a model does not fit the method, the
advice names the rerank method that fits it, never another model type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.connection import ollama_client
from models.rerank.judge import LOGPROBS_MIN_VERSION, version_at_least
from models.rerank.settings import METHOD_LABELS, RerankMethod, compatible_settings
from models.validation import available_models
from ollama_client import OllamaError, OllamaModelNotFoundError, OllamaUnsupportedFeatureError, get_model_info
from rerank_client import RerankServiceClient

# A real request, so URL, key, model name and answer shape are all checked at once.
PROBE_QUERY = "What is the capital of France?"
PROBE_DOCUMENTS = ["Paris is the capital and largest city of France.", "Bananas are rich in potassium."]

_NEEDS = {RerankMethod.EMBEDDING_SIMILARITY: "embedding", RerankMethod.LLM_JUDGE: "completion"}
_METHOD_FOR_CAPABILITY = {"embedding": RerankMethod.EMBEDDING_SIMILARITY, "completion": RerankMethod.LLM_JUDGE}
_MAX_LISTED_MODELS = 20


def with_available_models(error: OllamaModelNotFoundError, credentials: Mapping[str, Any]) -> str:
    """The not-found message, followed by the models that are there to choose from."""
    client = ollama_client(credentials)
    names = available_models(client)
    if not names:
        return f"{error} No models are pulled on {client.config.base_url} yet."
    listed = ", ".join(names[:_MAX_LISTED_MODELS]) + (" …" if len(names) > _MAX_LISTED_MODELS else "")
    return f"{error} Models available on {client.config.base_url}: {listed}."


def check_ollama_model(credentials: Mapping[str, Any], model: str, method: RerankMethod) -> None:
    """The model exists and has the capability `method` needs; raises OllamaError otherwise."""
    client = ollama_client(credentials)
    info = get_model_info(client, model, max_age=0)
    needs = _NEEDS[method]
    if info.has(needs) is not False:
        return
    have = sorted(info.capabilities or ())
    fitting = [_METHOD_FOR_CAPABILITY[cap] for cap in ("embedding", "completion") if cap in have]
    if fitting:
        advice = f"Choose the rerank method '{METHOD_LABELS[fitting[0]]}' (or 'Auto') for this model."
    else:
        advice = "Enter an embedding model (e.g. bge-m3) or a chat model (e.g. qwen3) as the model name."
    raise OllamaUnsupportedFeatureError(
        f"Model '{model}' on {client.config.base_url} does not have the '{needs}' capability that the rerank "
        f"method '{METHOD_LABELS[method]}' needs (it has: {', '.join(have) or 'none'}). {advice}",
        model=model,
    )


def check_compatible_service(credentials: Mapping[str, Any], model: str) -> None:
    """One real rerank of two short documents."""
    settings = compatible_settings(credentials)
    client = RerankServiceClient(settings.endpoint, settings.api_key, settings.timeout)
    client.rerank(model, PROBE_QUERY, PROBE_DOCUMENTS, batch_size=settings.batch_size)


def check_logprobs_version(credentials: Mapping[str, Any]) -> None:
    """The judge reads logprobs: refuse an Ollama that is known to be too old."""
    client = ollama_client(credentials)
    try:
        version = client.version()
    except OllamaError:
        return  # e.g. a proxy without /api/version: the first rerank reports missing logprobs instead
    if version_at_least(version, LOGPROBS_MIN_VERSION) is False:
        label = METHOD_LABELS[RerankMethod.LLM_JUDGE]
        raise OllamaUnsupportedFeatureError(
            f"Ollama at {client.config.base_url} is version {version}; the rerank method '{label}' reads "
            f"logprobs, which need Ollama {LOGPROBS_MIN_VERSION} or newer. Upgrade Ollama, or choose "
            f"'{METHOD_LABELS[RerankMethod.EMBEDDING_SIMILARITY]}' with an embedding model, or "
            f"'{METHOD_LABELS[RerankMethod.COMPATIBLE_SERVICE]}'."
        )
