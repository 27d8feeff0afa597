"""Scripted answers for the rerank tests, installed on the loopback fake Ollama with `set_route`.

The fake stands in for three kinds of server: a compatible rerank service (its `/v1/rerank` or
`/rerank` route), Ollama's `/api/embed` with vectors whose similarity is known, and Ollama's
`/api/chat` / `/api/generate` answering a yes/no judgement with logprobs.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tests.fake_ollama import FakeOllama, RecordedRequest, Scenario, chat_chunk, generate_chunk, logprob_entry

QUERY = "What is the capital of France?"
DOCS = [
    "Bananas are rich in potassium.",  # 0: unrelated
    "Paris is the capital of France.",  # 1: answers the query
    "France is a country in Europe.",  # 2: related
    "",  # 3: empty chunk
]

# --- a compatible rerank service ---------------------------------------------------------------------

# Relevance the fake service gives, by document text: the same order for every shape.
SERVICE_SCORES = {DOCS[0]: 0.02, DOCS[1]: 0.97, DOCS[2]: 0.55, DOCS[3]: 0.0}


def service_score(text: str) -> float:
    return SERVICE_SCORES.get(text, 0.1)


def jina_answer(documents: Sequence[str], top_n: int | None = None, *, with_text: bool = True) -> dict[str, Any]:
    """Jina/Cohere/vLLM style: `results` sorted by `relevance_score`, `document.text` optional."""
    results = []
    for index, text in enumerate(documents):
        item: dict[str, Any] = {"index": index, "relevance_score": service_score(text)}
        if with_text:
            item["document"] = {"text": text}
        results.append(item)
    results.sort(key=lambda item: -item["relevance_score"])
    return {"model": "jina-reranker-v2", "usage": {"total_tokens": 42}, "results": results[:top_n]}


def tei_answer(texts: Sequence[str], *, with_text: bool = False) -> list[dict[str, Any]]:
    """TEI: a bare list of `{index, score}` (plus `text` with return_text), sorted by score."""
    ranks = []
    for index, text in enumerate(texts):
        item: dict[str, Any] = {"index": index, "score": service_score(text)}
        if with_text:
            item["text"] = text
        ranks.append(item)
    return sorted(ranks, key=lambda item: -item["score"])


def jina_service(request: RecordedRequest) -> Scenario:
    body = request.json or {}
    return Scenario.json(jina_answer(body["documents"], body.get("top_n")))


def tei_service(request: RecordedRequest) -> Scenario:
    """Rejects our default body the way TEI (axum) does, and answers its own shape."""
    body = request.json or {}
    if "texts" not in body:
        return Scenario.text(
            "Failed to deserialize the JSON body into the target type: missing field `texts` at line 1 column 120",
            status=422,
        )
    return Scenario.json(tei_answer(body["texts"]))


# --- Ollama /api/embed with vectors of known similarity -----------------------------------------------

VOCABULARY = ("paris", "capital", "france", "banana", "potassium", "europe")


def keyword_vector(text: str) -> list[float]:
    """Counts of a few words plus a small constant: texts sharing words with the query point its way."""
    words = re.findall(r"[a-z]+", text.lower())
    return [float(sum(word.startswith(term) for word in words)) + 0.01 for term in VOCABULARY]


def cosine(first: Sequence[float], second: Sequence[float]) -> float:
    dot = sum(a * b for a, b in zip(first, second, strict=True))
    return dot / (math.sqrt(sum(a * a for a in first)) * math.sqrt(sum(b * b for b in second)))


def keyword_embed(request: RecordedRequest) -> Scenario:
    body = request.json or {}
    inputs = body.get("input", [])
    inputs = [inputs] if isinstance(inputs, str) else inputs
    return Scenario.json(
        {"model": body.get("model"), "embeddings": [keyword_vector(text) for text in inputs], "prompt_eval_count": 9}
    )


# --- Ollama as a yes/no judge with logprobs -----------------------------------------------------------


def judged_document(body: dict[str, Any]) -> str:
    """The document text inside a judge request, for chat and for raw generate."""
    text = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
    return text.split("<Document>: ", 1)[1].split("<|im_end|>", 1)[0]


def p_yes_for(document: str) -> float:
    """The fake judge's confidence: high for the answer, middling for related, low otherwise."""
    if "capital" in document.lower():
        return 0.9
    if "france" in document.lower():
        return 0.6
    return 0.05


def judge_answer(model: str, body: dict[str, Any], p_yes: float, *, extra: Sequence[tuple[str, float]] = ()) -> dict:
    """A non-streamed answer whose first token carries the yes/no alternatives, as Ollama 0.12.11+ sends."""
    alternatives = [("yes", math.log(p_yes)), ("no", math.log(1 - p_yes)), *extra]
    alternatives.sort(key=lambda pair: -pair[1])
    first = alternatives[0][0]
    logprobs = [logprob_entry(first, alternatives[0][1], alternatives[: body.get("top_logprobs", 0)])]
    if "messages" in body:
        return chat_chunk(model, first, done=True, prompt_eval_count=80, eval_count=1, logprobs=logprobs)
    return generate_chunk(model, first, done=True, prompt_eval_count=80, eval_count=1, logprobs=logprobs)


class JudgeRoute:
    """A scripted /api/chat or /api/generate judge that also measures how many requests overlap."""

    def __init__(self, delay: float = 0.0, p_yes: Callable[[str], float] = p_yes_for) -> None:
        self.delay = delay
        self.p_yes = p_yes
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Scenario:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            body = request.json or {}
            return Scenario.json(judge_answer(body["model"], body, self.p_yes(judged_document(body))))
        finally:
            with self._lock:
                self.in_flight -= 1


def install_judge(fake: FakeOllama, route: JudgeRoute | None = None) -> JudgeRoute:
    route = route or JudgeRoute()
    fake.set_route("POST", "/api/chat", route)
    fake.set_route("POST", "/api/generate", route)
    return route


# --- a server that is not Ollama ------------------------------------------------------------------------------


def act_as_foreign_service(fake: FakeOllama, not_found: Scenario) -> None:
    """Make the fake answer Ollama's own routes the way another web server would (`not_found` for both)."""
    fake.set_route("POST", "/api/show", not_found)
    fake.set_route("GET", "/api/version", not_found)
