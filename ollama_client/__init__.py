"""A small client for Ollama's native REST API. It knows nothing about Dify."""

from ollama_client.base_url import normalise_base_url
from ollama_client.capabilities import ModelInfo, clear_cache, get_model_info, parse_show
from ollama_client.client import (
    DEFAULT_TIMEOUT_SECONDS,
    ClientConfig,
    OllamaClient,
    RetryPolicy,
)
from ollama_client.deadline import METADATA_SECONDS, Deadline
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
    OllamaResponseTooLargeError,
    OllamaServerBusyError,
    OllamaServerError,
    OllamaStreamError,
    OllamaTimeoutError,
    OllamaTLSError,
    OllamaUnsupportedFeatureError,
)
from ollama_client.ndjson import NDJSONStreamReader, iter_ndjson
from ollama_client.pool import close_pooled_clients, http_client_for, leased_http_client

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "METADATA_SECONDS",
    "ClientConfig",
    "Deadline",
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
    "OllamaResponseTooLargeError",
    "OllamaServerBusyError",
    "OllamaServerError",
    "OllamaStreamError",
    "OllamaTLSError",
    "OllamaTimeoutError",
    "OllamaUnsupportedFeatureError",
    "RetryPolicy",
    "clear_cache",
    "close_pooled_clients",
    "get_model_info",
    "http_client_for",
    "iter_ndjson",
    "leased_http_client",
    "normalise_base_url",
    "parse_show",
]
