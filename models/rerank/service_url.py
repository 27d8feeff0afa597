"""Turn the Base URL of a compatible rerank service into the endpoint(s) to POST to.

A full endpoint URL is used as typed; a server root gets `/v1/rerank`, and `/rerank` after
it when the first answers 404 (TEI and Infinity serve only `/rerank`):

>>> resolve_service_endpoint("https://api.jina.ai/v1/rerank").urls
('https://api.jina.ai/v1/rerank',)
>>> resolve_service_endpoint("http://tei:8080").urls
('http://tei:8080/v1/rerank', 'http://tei:8080/rerank')
>>> resolve_service_endpoint("localhost:8000/v1/").urls
('http://localhost:8000/v1/rerank',)
>>> resolve_service_endpoint("http://gateway/xinference").urls
('http://gateway/xinference/v1/rerank', 'http://gateway/xinference/rerank')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ollama_client import OllamaConfigError
from ollama_client.base_url import split_http_url

EXAMPLES = (
    "https://api.jina.ai/v1/rerank, http://host.docker.internal:8080/rerank (TEI) or http://192.168.1.20:8000 (vLLM)"
)
ROOT_PATHS = ("/v1/rerank", "/rerank")

_ENDPOINT_SEGMENTS = ("rerank", "reranking")
_VERSION_SEGMENT = re.compile(r"^v\d+$", re.IGNORECASE)


@dataclass(frozen=True)
class ServiceEndpoint:
    origin: str  # scheme://host[:port]
    paths: tuple[str, ...]  # tried in order; a 404 moves on to the next

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(self.origin + path for path in self.paths)


def _invalid(raw: str, problem: str) -> OllamaConfigError:
    shown = f" '{raw}'" if raw else ""
    return OllamaConfigError(
        f"Base URL{shown} is not usable for a compatible rerank service: {problem}. Enter the service's address "
        f"or its full rerank endpoint, e.g. {EXAMPLES}."
    )


def resolve_service_endpoint(raw: object) -> ServiceEndpoint:
    origin, path = split_http_url(raw, _invalid)
    last_segment = path.rsplit("/", 1)[-1].lower()
    if last_segment in _ENDPOINT_SEGMENTS:
        paths: tuple[str, ...] = (path,)
    elif _VERSION_SEGMENT.match(last_segment):
        paths = (path + "/rerank",)
    else:
        paths = tuple(path + suffix for suffix in ROOT_PATHS)
    return ServiceEndpoint(origin=origin, paths=paths)
