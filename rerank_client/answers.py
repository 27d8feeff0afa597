"""The request bodies rerank services take and the answers they give, normalised to scores per document.

Jina, Cohere, vLLM, Xinference, llama.cpp server and Infinity take `{model, query, documents, top_n}`
and answer `{"results": [{"index", "relevance_score"}]}`; TEI takes `{query, texts}` and answers a
bare list of `{"index", "score"}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ollama_client.wire import finite_number, whole_number
from rerank_client.errors import RerankResponseError


@dataclass(frozen=True)
class ServiceScore:
    index: int  # position in the documents sent
    score: float


def documents_body(model: str, query: str, documents: Sequence[str], top_n: int) -> dict[str, Any]:
    """The Jina/Cohere shape most services take."""
    return {"model": model, "query": query, "documents": list(documents), "top_n": top_n}


def texts_body(query: str, documents: Sequence[str]) -> dict[str, Any]:
    """TEI's shape: `truncate` cuts long texts to the model's limit instead of failing with 413."""
    return {"query": query, "texts": list(documents), "truncate": True}


def _result_list(payload: Any, url: str) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping):
        results = payload.get("results", payload.get("data"))
        if isinstance(results, list):
            return results
        shape = f"an object with keys {sorted(payload)[:8]}"
    else:
        shape = type(payload).__name__
    raise RerankResponseError(
        f"The rerank service at {url} answered {shape} instead of a list of results (a 'results' list with "
        "'index' and 'relevance_score', or TEI's list with 'index' and 'score'). Check that the Base URL is the "
        "service's rerank endpoint.",
        url=url,
    )


def normalise_results(payload: Any, document_count: int, url: str) -> list[ServiceScore]:
    """Scores per original document index from any supported answer shape; raises RerankResponseError.

    Returned document text is ignored: the caller's own text is authoritative.

    >>> normalise_results([{"index": 1, "score": 0.5}], 2, "http://tei/rerank")
    [ServiceScore(index=1, score=0.5)]
    """
    scored: list[ServiceScore] = []
    seen: set[int] = set()
    for position, item in enumerate(_result_list(payload, url)):
        if not isinstance(item, Mapping):
            raise RerankResponseError(
                f"The rerank service at {url} answered result {position} as {type(item).__name__}, not an object "
                "with 'index' and a score. Check that the Base URL is the service's rerank endpoint.",
                url=url,
            )
        index = whole_number(item.get("index"))
        if index is None:
            raise RerankResponseError(
                f"The rerank service at {url} answered result {position} without an integer 'index' "
                f"(got {item.get('index')!r}); it cannot be matched to a document.",
                url=url,
            )
        if not 0 <= index < document_count:
            raise RerankResponseError(
                f"The rerank service at {url} answered index {index}, but only {document_count} document(s) were "
                f"sent (valid: 0 to {document_count - 1}). The service or a proxy in front of it is misbehaving.",
                url=url,
            )
        if index in seen:
            raise RerankResponseError(f"The rerank service at {url} answered index {index} twice.", url=url)
        seen.add(index)
        raw_score = item.get("relevance_score", item.get("score"))
        score = finite_number(raw_score)
        if score is None:
            raise RerankResponseError(
                f"The rerank service at {url} answered result {position} (index {index}) without a numeric "
                f"'relevance_score' or 'score' (got {raw_score!r}).",
                url=url,
            )
        scored.append(ServiceScore(index=index, score=score))
    return scored
