"""Rerank through one service: endpoint discovery, the TEI request shape, batches, typed errors.

Behaviour follows status codes and answer shapes only:
- a 404 that looks like a missing route (errors.is_missing_route) moves on to the next candidate path;
- a 422 with a body that is not JSON is a server that could not read our request shape: TEI (axum) answers
  so for `{model, query, documents}`, so the request is repeated once in TEI's `{query, texts}` shape;
- a 413 to several documents halves the documents per request until the service accepts them.
What worked is remembered per endpoint (bounded), since a new client serves every Dify request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ollama_client.deadline import Deadline
from ollama_client.redaction import api_key_problem, redact_error
from rerank_client import transport
from rerank_client.answers import ServiceScore, documents_body, normalise_results, texts_body
from rerank_client.endpoint import EXAMPLES, ServiceEndpoint
from rerank_client.errors import (
    RerankConfigError,
    RerankEndpointNotFoundError,
    RerankRequestError,
    RerankResponseError,
    RerankServiceError,
    describe_answer,
    error_from_status,
    is_missing_route,
    parse_json,
)
from rerank_client.lru import LruCache

logger = logging.getLogger(__name__)

MAX_REMEMBERED_ENDPOINTS = 256
# Endpoints (full URLs) that want TEI's request shape, and the path that answered per origin + candidates.
_texts_shape_urls: LruCache[str, bool] = LruCache(MAX_REMEMBERED_ENDPOINTS)
_working_path: LruCache[tuple[str, tuple[str, ...]], str] = LruCache(MAX_REMEMBERED_ENDPOINTS)
# Documents per request that an endpoint accepted after refusing more with 413.
_batch_limits: LruCache[tuple[str, tuple[str, ...]], int] = LruCache(MAX_REMEMBERED_ENDPOINTS)


def forget_endpoints() -> None:
    """Forget what was learnt about endpoints (tests; a live process never needs it)."""
    _texts_shape_urls.clear()
    _working_path.clear()
    _batch_limits.clear()


class RerankServiceClient:
    """Reranks through one service; cheap to create (connections come from the shared pools)."""

    def __init__(self, endpoint: ServiceEndpoint, api_key: str | None, timeout: float) -> None:
        problem = api_key_problem(api_key)
        if problem:
            raise RerankConfigError(problem)
        self.endpoint = endpoint
        self.timeout = timeout
        self._api_key = api_key

    def rerank(
        self,
        model: str,
        query: str,
        documents: Sequence[str],
        *,
        top_n: int | None = None,
        batch_size: int | None = None,
    ) -> list[ServiceScore]:
        """Scores by original index: at most `top_n` (None: all) when one request holds every document, all of
        them when the documents take several requests (`batch_size`, or a service that answered 413)."""
        if not documents:
            return []
        deadline = Deadline.after(self.timeout)  # for every request of this call: discovery and resends included
        try:
            return self._rerank_all(model, query, documents, top_n, batch_size, deadline)
        except RerankServiceError as error:
            redact_error(error, self._api_key)  # services may quote the Authorization header back
            raise

    def _rerank_all(
        self,
        model: str,
        query: str,
        documents: Sequence[str],
        top_n: int | None,
        batch_size: int | None,
        deadline: Deadline,
    ) -> list[ServiceScore]:
        key = (self.endpoint.origin, self.endpoint.paths)
        per_request = min(size for size in (batch_size, _batch_limits.get(key), len(documents)) if size)
        scored: list[ServiceScore] = []
        start = 0
        while start < len(documents):
            batch = list(documents[start : start + per_request])
            # Across several requests only the merged list can be cut to top_n.
            whole = len(batch) == len(documents)
            limit = min(top_n or len(batch), len(batch)) if whole else len(batch)
            try:
                scores = self._rerank_batch(model, query, batch, limit, deadline)
            except RerankRequestError as error:
                if error.status != 413 or len(batch) == 1:
                    raise
                # Too many documents for one request (TEI's --max-client-batch-size, a proxy's body limit).
                per_request = len(batch) // 2
                _batch_limits.put(key, per_request)
                logger.info(
                    "rerank service at %s answered 413 to %d documents; trying %d", error.url, len(batch), per_request
                )
                continue
            scored += [ServiceScore(index=start + score.index, score=score.score) for score in scores]
            start += len(batch)
        return scored

    def _candidate_paths(self) -> list[str]:
        paths = list(self.endpoint.paths)
        known = _working_path.get((self.endpoint.origin, self.endpoint.paths))
        if known in paths:
            paths.remove(known)
            paths.insert(0, known)
        return paths

    def _rerank_batch(
        self, model: str, query: str, documents: list[str], top_n: int, deadline: Deadline
    ) -> list[ServiceScore]:
        missing: list[str] = []
        for path in self._candidate_paths():
            url = self.endpoint.origin + path
            answer = self._post(url, model, query, documents, top_n, deadline)
            if answer.status == 404 and is_missing_route(answer.body):
                missing.append(f"{url} answered {describe_answer(answer.body, answer.content_type)}")
                continue
            if answer.status == 422 and parse_json(answer.body) is None and _texts_shape_urls.get(url) is None:
                _texts_shape_urls.put(url, True)
                logger.info("rerank service at %s could not read the documents shape; resending in TEI's", url)
                answer = self._post(url, model, query, documents, top_n, deadline)
            if answer.status >= 300:
                raise error_from_status(
                    answer.status,
                    answer.body,
                    url=url,
                    model=model,
                    content_type=answer.content_type,
                    location=answer.location,
                )
            _working_path.put((self.endpoint.origin, self.endpoint.paths), path)
            return normalise_results(self._json(answer, url, model), len(documents), url)
        raise RerankEndpointNotFoundError(
            f"No rerank endpoint found (HTTP 404): {'; '.join(missing)}. Enter the service's full rerank endpoint "
            f"as the Base URL, e.g. {EXAMPLES}. Ollama itself has no rerank endpoint: for a plain Ollama server "
            "choose the rerank method 'Auto', 'Ollama embedding similarity' or 'Ollama model as judge'.",
            status=404,
            url=self.endpoint.urls[-1],
            model=model,
        )

    def _post(
        self, url: str, model: str, query: str, documents: list[str], top_n: int, deadline: Deadline
    ) -> transport.Answer:
        if _texts_shape_urls.get(url):
            body = texts_body(query, documents)
        else:
            body = documents_body(model, query, documents, top_n)
        return transport.post(url, body, api_key=self._api_key, timeout=self.timeout, deadline=deadline, model=model)

    @staticmethod
    def _json(answer: transport.Answer, url: str, model: str) -> object:
        payload = parse_json(answer.body)
        if payload is None and answer.body.strip() != b"null":
            raise RerankResponseError(
                f"The rerank service at {url} answered HTTP {answer.status} with "
                f"{describe_answer(answer.body, answer.content_type)} instead of JSON. Check that the Base URL is "
                "the service's rerank endpoint.",
                status=answer.status,
                url=url,
                model=model,
            )
        return payload
