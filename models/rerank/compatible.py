"""Client for rerank services with a Jina/Cohere-style API (Jina, Cohere, vLLM, Xinference, llama.cpp
server, Infinity) or TEI's, and the normalisation of their answers into scored documents.

Sends `{model, query, documents, top_n}`. TEI wants `{query, texts}` instead and says so with a 422
naming `texts`; the request is then repeated in TEI's shape, and that endpoint is remembered.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from models.rerank.ranking import ScoredDocument, top_n_limit
from models.rerank.service_url import EXAMPLES, ServiceEndpoint
from ollama_client import (
    ClientConfig,
    OllamaAuthError,
    OllamaBadRequestError,
    OllamaConnectionError,
    OllamaEndpointNotFoundError,
    OllamaError,
    OllamaModelNotFoundError,
    OllamaRateLimitError,
    OllamaRedirectError,
    OllamaServerBusyError,
    OllamaServerError,
    OllamaTimeoutError,
)
from ollama_client.client import MAX_CONNECT_TIMEOUT_SECONDS, pooled_http_client
from ollama_client.errors import describe_body, redact_secret

logger = logging.getLogger(__name__)

DOCKER_HINT = (
    "If Dify runs in Docker, 'localhost' is the Dify container itself: use host.docker.internal or the LAN IP "
    "of the machine running the service, and make the service listen on all interfaces (0.0.0.0)."
)
BATCH_HINT = (
    "Set 'Documents per request' in the model settings to the service's limit (TEI: --max-client-batch-size, "
    "32 by default), or raise that limit on the service."
)
MAX_QUOTED_MESSAGE = 300

# Endpoints (full URLs) that answered like TEI, and the path that worked for each origin+candidates:
# a new model instance serves every Dify request, so this lives at module level.
_tei_urls: set[str] = set()
_working_path: dict[tuple[str, tuple[str, ...]], str] = {}
_memory_lock = threading.Lock()


def forget_endpoints() -> None:
    """Forget which endpoints answered like TEI and which path worked (tests; a live process never needs it)."""
    with _memory_lock:
        _tei_urls.clear()
        _working_path.clear()


class RerankResponseError(ValueError):
    """The service answered 2xx with something that is not a usable rerank result."""


# --- response normalisation ---------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def normalise_results(payload: Any, document_count: int, url: str) -> list[ScoredDocument]:
    """Scores per original document index from any supported answer shape; raises RerankResponseError.

    Accepted: `{"results": [{"index", "relevance_score"|"score", "document"?}]}` (Jina, Cohere, vLLM,
    Xinference, llama.cpp, Infinity; `data` instead of `results` too) and TEI's bare list
    `[{"index", "score", "text"?}]`. Returned document text is ignored: Dify's own text is authoritative.
    """
    if isinstance(payload, list):
        results = payload
    elif isinstance(payload, Mapping) and isinstance(payload.get("results", payload.get("data")), list):
        results = payload.get("results", payload.get("data"))
    else:
        shape = f"an object with keys {sorted(payload)[:8]}" if isinstance(payload, Mapping) else type(payload).__name__
        raise RerankResponseError(
            f"The rerank service at {url} answered {shape} instead of a list of results (a 'results' list with "
            "'index' and 'relevance_score', or TEI's list with 'index' and 'score'). Check that the Base URL is "
            "the service's rerank endpoint."
        )
    scored: list[ScoredDocument] = []
    seen: set[int] = set()
    for position, item in enumerate(results):
        if not isinstance(item, Mapping):
            raise RerankResponseError(
                f"The rerank service at {url} answered result {position} as {type(item).__name__}, not an object "
                "with 'index' and a score. Check that the Base URL is the service's rerank endpoint."
            )
        index = item.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise RerankResponseError(
                f"The rerank service at {url} answered result {position} without an integer 'index' "
                f"(got {index!r}); it cannot be matched to a document."
            )
        if not 0 <= index < document_count:
            raise RerankResponseError(
                f"The rerank service at {url} answered index {index}, but only {document_count} document(s) were "
                f"sent (valid: 0 to {document_count - 1}). The service or a proxy in front of it is misbehaving."
            )
        if index in seen:
            raise RerankResponseError(f"The rerank service at {url} answered index {index} twice.")
        seen.add(index)
        raw_score = item.get("relevance_score", item.get("score"))
        score = _number(raw_score)
        if score is None:
            raise RerankResponseError(
                f"The rerank service at {url} answered result {position} (index {index}) without a numeric "
                f"'relevance_score' or 'score' (got {raw_score!r})."
            )
        scored.append(ScoredDocument(index=index, score=score))
    return scored


# --- HTTP ---------------------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTED_MESSAGE else text[:MAX_QUOTED_MESSAGE] + "…"


def service_message(body: bytes, content_type: str | None) -> str:
    """A short description of an error body: the service's own message when it has one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping):
        for key in ("error", "message", "detail", "error_message"):
            value = parsed.get(key)
            if isinstance(value, Mapping):  # OpenAI style {"error": {"message": ...}}
                value = value.get("message")
            if isinstance(value, list) and value and isinstance(value[0], Mapping):  # FastAPI validation
                value = "; ".join(str(entry.get("msg", entry)) for entry in value[:3])
            if isinstance(value, str) and value.strip():
                return f'"{_quoted(value)}"'
    return describe_body(body, content_type)[1]


class CompatibleRerankClient:
    """Reranks through one compatible service; cheap to create (the connection pool is shared)."""

    def __init__(self, endpoint: ServiceEndpoint, api_key: str | None, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._api_key = api_key
        # Built directly: ClientConfig.create would apply Ollama's Base URL rules to a foreign service.
        self._http = pooled_http_client(ClientConfig(base_url=endpoint.origin, api_key=api_key, timeout=timeout))

    def rerank(
        self,
        model: str,
        query: str,
        documents: Sequence[str],
        *,
        top_n: int | None = None,
        batch_size: int | None = None,
    ) -> list[ScoredDocument]:
        """Scores for the documents (at most `top_n` when everything fits one request), original indexes."""
        if not documents:
            return []
        try:
            return self._rerank_all(model, query, documents, top_n, batch_size)
        except (OllamaError, RerankResponseError) as error:
            # Errors quote the service's answer, and some services echo the Authorization header.
            redact_secret(error, self._api_key)
            raise

    def _rerank_all(
        self, model: str, query: str, documents: Sequence[str], top_n: int | None, batch_size: int | None
    ) -> list[ScoredDocument]:
        per_request = batch_size or len(documents)
        single = per_request >= len(documents)
        scored: list[ScoredDocument] = []
        for start in range(0, len(documents), per_request):
            batch = list(documents[start : start + per_request])
            # Across several requests only the merged list can be cut to top_n.
            limit = (top_n_limit(top_n) or len(batch)) if single else len(batch)
            for doc in self._rerank_batch(model, query, batch, min(limit, len(batch))):
                scored.append(ScoredDocument(index=start + doc.index, score=doc.score))
        return scored

    # -- one request, with endpoint discovery and the TEI fallback ------------------------------------

    def _candidate_paths(self) -> list[str]:
        paths = list(self.endpoint.paths)
        known = _working_path.get((self.endpoint.origin, self.endpoint.paths))
        if known in paths:
            paths.remove(known)
            paths.insert(0, known)
        return paths

    def _rerank_batch(self, model: str, query: str, documents: list[str], top_n: int) -> list[ScoredDocument]:
        not_found: list[tuple[str, str]] = []
        for path in self._candidate_paths():
            url = self.endpoint.origin + path
            response = self._post(path, url, self._body(url, model, query, documents, top_n), model)
            if response.status_code == 404 and not _mentions_model(response.content):
                not_found.append((url, service_message(response.content, response.headers.get("content-type"))))
                continue
            if response.status_code in (400, 422) and url not in _tei_urls and _asks_for_texts(response.content):
                with _memory_lock:
                    _tei_urls.add(url)
                logger.info("rerank service at %s wants TEI's request shape; resending", url)
                response = self._post(path, url, self._body(url, model, query, documents, top_n), model)
            if response.status_code >= 300:
                raise self._http_error(response, url, model)
            with _memory_lock:
                _working_path[(self.endpoint.origin, self.endpoint.paths)] = path
            return normalise_results(self._json(response, url), len(documents), url)
        tried = "; ".join(f"{url} answered {said}" for url, said in not_found)
        raise OllamaEndpointNotFoundError(
            f"No rerank endpoint found (HTTP 404): {tried}. Enter the service's full rerank endpoint as the "
            f"Base URL, e.g. {EXAMPLES}. Ollama itself has no rerank endpoint: for a plain Ollama server choose "
            "the rerank method 'Ollama embedding similarity' or 'Ollama model as judge'.",
            status=404,
            url=not_found[-1][0],
            model=model,
        )

    @staticmethod
    def _body(url: str, model: str, query: str, documents: list[str], top_n: int) -> dict[str, Any]:
        if url in _tei_urls:
            # TEI: `truncate` cuts long texts to the model's limit instead of failing with 413/422.
            return {"query": query, "texts": documents, "truncate": True}
        return {"model": model, "query": query, "documents": documents, "top_n": top_n}

    def _post(self, path: str, url: str, body: dict[str, Any], model: str) -> httpx.Response:
        """POST and read the whole answer; transport failures become Ollama error classes naming the URL."""
        for attempt in range(2):
            try:
                return self._http.post(path, json=body)
            except httpx.ConnectTimeout as exc:
                raise OllamaTimeoutError(
                    f"Could not connect to the rerank service at {url} within "
                    f"{min(self.timeout, MAX_CONNECT_TIMEOUT_SECONDS):g} s. Check the address and any firewall in "
                    f"between. {DOCKER_HINT}",
                    url=url,
                    model=model,
                ) from exc
            except httpx.ConnectError as exc:
                raise OllamaConnectionError(
                    f"Could not connect to the rerank service at {url} ({exc or type(exc).__name__}). Check the Base "
                    f"URL and that the service is running. {DOCKER_HINT}",
                    url=url,
                    model=model,
                ) from exc
            except httpx.RemoteProtocolError as exc:
                if attempt == 0:
                    continue  # a pooled keep-alive connection the server had closed: nothing was processed
                raise OllamaConnectionError(
                    f"The rerank service at {url} closed the connection without answering ({exc}). Check that it "
                    "is running and not restarting.",
                    url=url,
                    model=model,
                ) from exc
            except httpx.TimeoutException as exc:
                raise OllamaTimeoutError(
                    f"The rerank service at {url} (model '{model}') did not answer within {self.timeout:g} s. Raise "
                    "'Request timeout' in the model settings, or send fewer documents per request.",
                    url=url,
                    model=model,
                ) from exc
            except httpx.TransportError as exc:
                raise OllamaConnectionError(
                    f"Request to the rerank service at {url} failed: {type(exc).__name__}: {exc}", url=url, model=model
                ) from exc
        raise AssertionError("unreachable")

    @staticmethod
    def _json(response: httpx.Response, url: str) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            said = describe_body(response.content, response.headers.get("content-type"))[1]
            raise RerankResponseError(
                f"The rerank service at {url} answered HTTP {response.status_code} with {said} instead of JSON. "
                "Check that the Base URL is the service's rerank endpoint."
            ) from None

    @staticmethod
    def _http_error(response: httpx.Response, url: str, model: str) -> OllamaError:
        status = response.status_code
        said = service_message(response.content, response.headers.get("content-type"))
        base = f"The rerank service at {url} (model '{model}') answered HTTP {status}: {said}."
        kwargs: dict[str, Any] = {"status": status, "url": url, "model": model}
        if 300 <= status < 400:
            target = response.headers.get("location")
            return OllamaRedirectError(
                f"The rerank service at {url} answered with a redirect (HTTP {status})"
                + (f" to {target}" if target else "")
                + ". Enter the final address as the Base URL (e.g. https:// instead of http://).",
                **kwargs,
            )
        if status in (401, 403):
            return OllamaAuthError(
                f"{base} Check the API key field: enter the key this service expects (it is sent as "
                "'Authorization: Bearer <key>'), or leave it empty for a service without authentication.",
                **kwargs,
            )
        if status == 404:
            return OllamaModelNotFoundError(
                f"{base} Enter as the model name a rerank model this service serves.", **kwargs
            )
        if status == 413:
            return OllamaBadRequestError(f"{base} The request was too large. {BATCH_HINT}", **kwargs)
        if status == 429:
            return OllamaRateLimitError(f"{base} Wait and retry, or raise the service's rate limit.", **kwargs)
        if status == 503:
            return OllamaServerBusyError(f"{base} The service is overloaded or still starting; retry later.", **kwargs)
        if status >= 500:
            return OllamaServerError(f"{base} Check the rerank service's log.", **kwargs)
        lowered = said.lower()
        if "batch" in lowered:
            hint = BATCH_HINT
        elif "model" in lowered:
            hint = "Check the model name: enter a rerank model this service serves."
        else:
            hint = "Check the model name and that the Base URL is a rerank endpoint."
        return OllamaBadRequestError(f"{base} {hint}", **kwargs)


def _mentions_model(body: bytes) -> bool:
    """A 404 about the model (vLLM: "The model `x` does not exist.") rather than about the path."""
    text = body[:2000].decode("utf-8", "replace").lower()
    return "model" in text


def _asks_for_texts(body: bytes) -> bool:
    """TEI's answer to our body: 422 "Failed to deserialize the JSON body …: missing field `texts` …"."""
    text = body[:2000].decode("utf-8", "replace")
    return "`texts`" in text or '"texts"' in text or "missing field texts" in text.lower()
