"""Turn the Base URL of a rerank service into the endpoint(s) to POST to.

A full endpoint URL is used as typed; a server root gets `/v1/rerank`, and `/rerank` after
it when the first answers like a missing route (TEI and Infinity serve only `/rerank`):

>>> resolve_service_endpoint("https://api.jina.ai/v1/rerank").urls
('https://api.jina.ai/v1/rerank',)
>>> resolve_service_endpoint("http://tei:8080").urls
('http://tei:8080/v1/rerank', 'http://tei:8080/rerank')
>>> resolve_service_endpoint("localhost:8000/v1/").urls
('http://localhost:8000/v1/rerank',)
>>> resolve_service_endpoint("http://gateway/xinference").urls
('http://gateway/xinference/v1/rerank', 'http://gateway/xinference/rerank')
>>> names_rerank_endpoint("http://tei:8080/v1/rerank/"), names_rerank_endpoint("http://ollama:11434")
(True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ollama_client.base_url import split_http_url
from rerank_client.errors import RerankConfigError

EXAMPLES = (
    "https://api.jina.ai/v1/rerank, http://host.docker.internal:8080/rerank (TEI) or http://192.168.1.20:8000 (vLLM)"
)
ROOT_PATHS = ("/v1/rerank", "/rerank")

_ENDPOINT_SEGMENTS = ("rerank", "reranking")
_VERSION_SEGMENT = re.compile(r"^v\d+$", re.IGNORECASE)


@dataclass(frozen=True)
class ServiceEndpoint:
    origin: str  # scheme://host[:port]
    paths: tuple[str, ...]  # tried in order; a missing route moves on to the next

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(self.origin + path for path in self.paths)


def _invalid(raw: str, problem: str) -> RerankConfigError:
    shown = f" '{raw}'" if raw else ""
    return RerankConfigError(
        f"Base URL{shown} is not usable for a rerank service: {problem}. Enter the service's address or its full "
        f"rerank endpoint, e.g. {EXAMPLES}."
    )


def _last_segment(path: str) -> str:
    return path.rsplit("/", 1)[-1].lower()


def names_rerank_endpoint(raw: object) -> bool:
    """Whether the URL's path ends in a rerank endpoint (`/rerank`, `/v1/rerank`, `/reranking`, …)."""
    _, path = split_http_url(raw, _invalid)
    return _last_segment(path) in _ENDPOINT_SEGMENTS


def resolve_service_endpoint(raw: object) -> ServiceEndpoint:
    origin, path = split_http_url(raw, _invalid)
    last_segment = _last_segment(path)
    if last_segment in _ENDPOINT_SEGMENTS:
        paths: tuple[str, ...] = (path,)
    elif _VERSION_SEGMENT.match(last_segment):
        paths = (path + "/rerank",)
    else:
        paths = tuple(path + suffix for suffix in ROOT_PATHS)
    return ServiceEndpoint(origin=origin, paths=paths)
