"""A small client for Ollama's native REST API. It knows nothing about Dify."""

from ollama_client.base_url import normalise_base_url
from ollama_client.capabilities import ModelInfo, clear_cache, get_model_info, parse_show
from ollama_client.client import (
    DEFAULT_TIMEOUT_SECONDS,
    ClientConfig,
    OllamaClient,
    RetryPolicy,
    close_pooled_clients,
)
from ollama_client.errors import (
    OllamaAuthError,
    OllamaBadRequestError,
    OllamaConfigError,
    OllamaConnectionError,
    OllamaContextOverflowError,
    OllamaEndpointNotFoundError,
    OllamaError,
    OllamaModelNotFoundError,
    OllamaRateLimitError,
    OllamaRedirectError,
    OllamaServerBusyError,
    OllamaServerError,
    OllamaStreamError,
    OllamaTimeoutError,
    OllamaUnsupportedFeatureError,
)
from ollama_client.ndjson import NDJSONStreamReader, iter_ndjson

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "ClientConfig",
    "ModelInfo",
    "NDJSONStreamReader",
    "OllamaAuthError",
    "OllamaBadRequestError",
    "OllamaClient",
    "OllamaConfigError",
    "OllamaConnectionError",
    "OllamaContextOverflowError",
    "OllamaEndpointNotFoundError",
    "OllamaError",
    "OllamaModelNotFoundError",
    "OllamaRateLimitError",
    "OllamaRedirectError",
    "OllamaServerBusyError",
    "OllamaServerError",
    "OllamaStreamError",
    "OllamaTimeoutError",
    "OllamaUnsupportedFeatureError",
    "RetryPolicy",
    "clear_cache",
    "close_pooled_clients",
    "get_model_info",
    "iter_ndjson",
    "normalise_base_url",
    "parse_show",
]
