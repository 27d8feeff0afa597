"""A small client for rerank services (Jina, Cohere, TEI, vLLM, Xinference, llama.cpp server, Infinity).

It knows nothing about Dify; connections come from ollama_client's shared per-server pools.
"""

from rerank_client.answers import ServiceScore, normalise_results
from rerank_client.client import RerankServiceClient, forget_endpoints
from rerank_client.endpoint import EXAMPLES, ServiceEndpoint, names_rerank_endpoint, resolve_service_endpoint
from rerank_client.errors import (
    RerankAuthError,
    RerankConfigError,
    RerankConnectionError,
    RerankEndpointNotFoundError,
    RerankModelNotFoundError,
    RerankRateLimitError,
    RerankRedirectError,
    RerankRequestError,
    RerankResponseError,
    RerankServerError,
    RerankServiceError,
    RerankTimeoutError,
)
from rerank_client.lru import LruCache

__all__ = [
    "EXAMPLES",
    "LruCache",
    "RerankAuthError",
    "RerankConfigError",
    "RerankConnectionError",
    "RerankEndpointNotFoundError",
    "RerankModelNotFoundError",
    "RerankRateLimitError",
    "RerankRedirectError",
    "RerankRequestError",
    "RerankResponseError",
    "RerankServerError",
    "RerankServiceClient",
    "RerankServiceError",
    "RerankTimeoutError",
    "ServiceEndpoint",
    "ServiceScore",
    "forget_endpoints",
    "names_rerank_endpoint",
    "normalise_results",
    "resolve_service_endpoint",
]
