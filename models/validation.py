"""Credential checks shared by the model types: fast (/api/show does not load the model)
and specific about what to do next."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dify_plugin.errors.model import CredentialsValidateFailedError

from models.connection import ollama_client
from models.input_errors import UserInputError
from ollama_client import (
    ModelInfo,
    OllamaClient,
    OllamaError,
    OllamaModelNotFoundError,
    OllamaUnsupportedFeatureError,
    get_model_info,
)

# Capability Ollama reports -> what a Dify user should add the model as.
_KIND_BY_CAPABILITY = {"completion": "LLM", "embedding": "Text Embedding"}
_MAX_LISTED_MODELS = 20


def listed_capabilities(info: ModelInfo) -> str:
    """The capabilities Ollama reports for the model, for a message: "completion, tools", or "none"."""
    return ", ".join(sorted(info.capabilities or ())) or "none"


def require_capability(client: OllamaClient, model: str, capability: str, *, lacking: str, fix: str) -> ModelInfo:
    """The model's (cached) info; raises OllamaUnsupportedFeatureError when Ollama says it lacks `capability`.

    The message reads "Model '<model>' on <url> <lacking> (it has: …). <fix>".
    """
    info = get_model_info(client, model)
    if info.has(capability) is False:
        raise OllamaUnsupportedFeatureError(
            f"Model '{model}' on {client.config.base_url} {lacking} (it has: {listed_capabilities(info)}). {fix}",
            model=model,
        )
    return info


def available_models(client: OllamaClient) -> list[str]:
    """Names from /api/tags, or [] when the list cannot be read (it only decorates a message)."""
    try:
        return [str(m.get("name") or m.get("model")) for m in client.tags() if m.get("name") or m.get("model")]
    except OllamaError:
        return []


def _not_pulled_message(error: OllamaModelNotFoundError, client: OllamaClient, model: str) -> str:
    names = available_models(client)
    if names:
        listed = ", ".join(names[:_MAX_LISTED_MODELS]) + (" …" if len(names) > _MAX_LISTED_MODELS else "")
        return f"{error} Models available on {client.config.base_url}: {listed}."
    return f"{error} No models are pulled on {client.config.base_url} yet."


def check_model(
    credentials: Mapping[str, Any],
    model: str,
    *,
    needs: str,
    advice: Callable[[OllamaClient, ModelInfo], str] | None = None,
) -> ModelInfo:
    """Confirm the server answers and `model` exists with capability `needs`.

    Raises CredentialsValidateFailedError (the class Dify expects from validation) with a
    message that says what to do. `advice`, when given, words the message for a model without
    the capability, or whose server does not report capabilities at all.
    """
    if not (model or "").strip():
        raise CredentialsValidateFailedError("Model name is empty: enter the name shown by `ollama list`.")
    model = model.strip()  # Dify keeps the name as typed, a pasted space included; Ollama would not find it
    try:
        client = ollama_client(credentials)
        info = get_model_info(client, model, max_age=0)
    except OllamaModelNotFoundError as error:
        raise CredentialsValidateFailedError(_not_pulled_message(error, client, model)) from error
    except (OllamaError, UserInputError) as error:
        raise CredentialsValidateFailedError(str(error)) from error
    if advice is not None and info.has(needs) is not True:
        raise CredentialsValidateFailedError(advice(client, info))
    if info.has(needs) is False:
        kinds = [kind for cap, kind in _KIND_BY_CAPABILITY.items() if cap in (info.capabilities or ())]
        suggestion = f" Add it as {' or '.join(kinds)} instead." if kinds else ""
        raise CredentialsValidateFailedError(
            f"Model '{model}' on {client.config.base_url} does not have the '{needs}' capability "
            f"(it has: {listed_capabilities(info)}).{suggestion}"
        )
    return info
