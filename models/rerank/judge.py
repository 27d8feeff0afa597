"""Rerank with an Ollama chat/generate model as judge: one request per document asks whether the
document meets the query, and the score is P("yes") / (P("yes") + P("no")) read from the
`top_logprobs` of the first answer token (Ollama 0.12.11+), as Qwen3-Reranker is scored.

Requests run in parallel up to `concurrency` (greenlets under the plugin runtime); Ollama itself
works on OLLAMA_NUM_PARALLEL of them at a time and queues the rest.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from models.input_errors import UserInputError
from models.rerank.ranking import ScoredDocument
from models.rerank.settings import JudgePrompt, JudgeSettings
from models.validation import listed_capabilities
from ollama_client import OllamaClient, OllamaError, OllamaUnsupportedFeatureError, get_model_info
from ollama_client.wire import ChatRequest, GenerateRequest, finite_number

logger = logging.getLogger(__name__)

LOGPROBS_MIN_VERSION = "0.12.11"
TOP_LOGPROBS = 20  # Ollama's maximum: the more alternatives, the likelier both "yes" and "no" are among them
SYSTEM_PROMPT = (
    "Judge whether the Document meets the requirements based on the Query and the Instruct provided. "
    'Note that the answer can only be "yes" or "no".'
)
# Qwen3-Reranker's template around the user turn, with the empty thinking block it was trained on.
QWEN3_PREFIX = f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n"
QWEN3_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
# One token is the whole answer; temperature 0 makes the token shown in errors reproducible.
ANSWER_OPTIONS = {"temperature": 0, "num_predict": 1}

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


class LogprobsUnsupportedError(OllamaUnsupportedFeatureError):
    """The server answered without `logprobs`: older than 0.12.11, or a proxy that drops the field."""


@dataclass(frozen=True)
class Verdict:
    score: float | None  # None when neither "yes" nor "no" was among the likely first tokens
    first_token: str


def version_at_least(version: str, minimum: str) -> bool | None:
    """Compare Ollama versions; None when `version` is unparseable, True for dev builds ("0.0.0")."""
    found, wanted = _VERSION.match(version.strip()), _VERSION.match(minimum)
    if found is None or wanted is None:
        return None
    numbers = tuple(int(part) for part in found.groups())
    if numbers == (0, 0, 0):
        return True
    return numbers >= tuple(int(part) for part in wanted.groups())


def user_turn(instruction: str, query: str, document: str) -> str:
    return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"


def judge_request(
    prompt: JudgePrompt, model: str, instruction: str, query: str, document: str, *, think_off: bool
) -> ChatRequest | GenerateRequest:
    """One judgement: a generate request with the raw prompt for QWEN3_RERANKER, else a chat request.
    `think_off` only for thinking models: others may reject `think`."""
    if prompt is JudgePrompt.QWEN3_RERANKER:
        text = QWEN3_PREFIX + user_turn(instruction, query, document) + QWEN3_SUFFIX
        request: ChatRequest | GenerateRequest = GenerateRequest(model=model, prompt=text, raw=True)
    else:
        request = ChatRequest(
            model=model,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_turn(instruction, query, document)},
            ],
        )
    request.update(logprobs=True, top_logprobs=TOP_LOGPROBS, options=dict(ANSWER_OPTIONS))
    if think_off:
        request["think"] = False
    return request


def read_verdict(answer: Mapping[str, Any]) -> Verdict:
    """The yes-probability from the first token's alternatives; raises LogprobsUnsupportedError without them."""
    logprobs = answer.get("logprobs")
    if not isinstance(logprobs, list) or not logprobs or not isinstance(logprobs[0], Mapping):
        raise LogprobsUnsupportedError("no logprobs")
    first = logprobs[0]
    alternatives: dict[str, float] = {}
    top = first.get("top_logprobs")
    if not isinstance(top, list) or not top:
        raise LogprobsUnsupportedError("no top_logprobs")
    for entry in [*top, first]:
        if isinstance(entry, Mapping) and isinstance(entry.get("token"), str):
            logprob = finite_number(entry.get("logprob"))
            if logprob is not None:
                alternatives.setdefault(entry["token"], logprob)
    p_yes = p_no = 0.0
    for token, logprob in alternatives.items():
        word = token.strip().lower()
        if word in ("yes", "no"):
            probability = math.exp(logprob) if logprob <= 0 else 1.0
            if word == "yes":
                p_yes += probability
            else:
                p_no += probability
    first_token = first.get("token") if isinstance(first.get("token"), str) else ""
    if p_yes + p_no <= 0:
        return Verdict(None, first_token)
    return Verdict(p_yes / (p_yes + p_no), first_token)


class Judge:
    """Scores documents against a query with one Ollama model."""

    def __init__(self, client: OllamaClient, model: str, settings: JudgeSettings) -> None:
        self.client = client
        self.model = model
        self.settings = settings

    def score(self, query: str, documents: Sequence[str]) -> list[ScoredDocument]:
        """One score per document in [0, 1]; empty documents score 0 without a request."""
        to_judge = [index for index, document in enumerate(documents) if document.strip()]
        verdicts: dict[int, Verdict] = {}
        if to_judge:
            think_off = self._is_thinking_model()
            verdicts = self._judge_all(query, documents, to_judge, think_off)
        undecided = [index for index, verdict in verdicts.items() if verdict.score is None]
        if verdicts and len(undecided) == len(verdicts):
            tokens = sorted({repr(verdicts[index].first_token) for index in undecided})[:3]
            raise UserInputError(
                f"Model '{self.model}' on {self.client.config.base_url} answered neither 'yes' nor 'no' for any "
                f"document (its first tokens: {', '.join(tokens)}), so it cannot judge relevance. Use a model that "
                "follows instructions (e.g. qwen3 or a Qwen3-Reranker build), or switch 'Judge prompt format'."
            )
        if undecided:
            logger.warning(
                "rerank judge %s answered neither yes nor no for %d of %d documents; they score 0",
                self.model,
                len(undecided),
                len(verdicts),
            )
        return [
            ScoredDocument(index=index, score=(verdicts[index].score or 0.0) if index in verdicts else 0.0)
            for index in range(len(documents))
        ]

    def _is_thinking_model(self) -> bool:
        info = get_model_info(self.client, self.model)
        if info.has("completion") is False:
            raise OllamaUnsupportedFeatureError(
                f"Model '{self.model}' on {self.client.config.base_url} cannot generate text (it has: "
                f"{listed_capabilities(info)}), so it cannot judge documents. Enter a "
                "chat model as the model name, or choose the rerank method 'Ollama embedding similarity' for an "
                "embedding model.",
                model=self.model,
            )
        return info.has("thinking") is True

    def _judge_all(
        self, query: str, documents: Sequence[str], indexes: list[int], think_off: bool
    ) -> dict[int, Verdict]:
        workers = min(self.settings.concurrency, len(indexes))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rerank-judge")
        try:
            futures: dict[int, Future[Verdict]] = {
                index: pool.submit(self._judge_one, query, documents[index], think_off) for index in indexes
            }
            return {index: future.result() for index, future in futures.items()}
        finally:
            # After a failure, requests not yet sent are dropped instead of waited for.
            pool.shutdown(wait=False, cancel_futures=True)

    def _judge_one(self, query: str, document: str, think_off: bool) -> Verdict:
        request = judge_request(
            self.settings.prompt, self.model, self.settings.instruction, query, document, think_off=think_off
        )
        raw = self.settings.prompt is JudgePrompt.QWEN3_RERANKER
        client = self.client
        answer = client.generate_answer(request) if raw else client.chat_answer(request)  # type: ignore[arg-type]
        try:
            return read_verdict(answer)
        except LogprobsUnsupportedError as missing:
            raise self._logprobs_error(client.endpoint_url("generate" if raw else "chat"), str(missing)) from None

    def _logprobs_error(self, url: str, what: str) -> LogprobsUnsupportedError:
        try:
            version = self.client.version()
        except OllamaError:
            version = ""
        running = f" (version {version})" if version else ""
        return LogprobsUnsupportedError(
            f"Ollama at {url}{running} answered model '{self.model}' with {what}: the rerank method 'Ollama model as "
            f"judge' needs Ollama {LOGPROBS_MIN_VERSION} or newer, which returns logprobs. Upgrade Ollama, or choose "
            "the rerank method 'Ollama embedding similarity' or 'Compatible rerank service'.",
            url=url,
            model=self.model,
        )
