"""An Ollama model as yes/no judge: request shapes, reading logprobs, and a loopback fake Ollama."""

from __future__ import annotations

import math

import pytest

from models.connection import ollama_client
from models.input_errors import UserInputError
from models.rerank.judge import (
    QWEN3_PREFIX,
    QWEN3_SUFFIX,
    Judge,
    LogprobsUnsupportedError,
    judge_request,
    read_verdict,
    version_at_least,
)
from models.rerank.settings import DEFAULT_JUDGE_INSTRUCTION, JudgePrompt, JudgeSettings
from ollama_client import OllamaModelNotFoundError, OllamaUnsupportedFeatureError
from tests.fake_ollama import FakeOllama, logprob_entry
from tests.rerank.fakes import DOCS, QUERY, JudgeRoute, install_judge, p_yes_for

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "qwen3"


def judge(fake: FakeOllama, prompt: JudgePrompt = JudgePrompt.CHAT, concurrency: int = 4, model: str = MODEL) -> Judge:
    settings = JudgeSettings(prompt=prompt, instruction=DEFAULT_JUDGE_INSTRUCTION, concurrency=concurrency)
    return Judge(ollama_client({"base_url": fake.url, "timeout": "5"}), model, settings)


def answer(*entries: dict) -> dict:
    return {"model": MODEL, "message": {"role": "assistant", "content": "yes"}, "done": True, "logprobs": list(entries)}


# --- reading the verdict ---------------------------------------------------------------------------------


def test_the_score_is_p_yes_over_p_yes_plus_p_no_across_spellings():
    top = [("yes", math.log(0.6)), (" Yes", math.log(0.1)), ("no", math.log(0.2)), ("Maybe", math.log(0.05))]
    verdict = read_verdict(answer(logprob_entry("yes", math.log(0.6), top)))
    assert verdict.score == pytest.approx(0.7 / 0.9)
    assert verdict.first_token == "yes"


def test_a_missing_no_means_certain_yes_and_a_missing_yes_certain_no():
    assert read_verdict(answer(logprob_entry("yes", -0.01, [("yes", -0.01), ("The", -6.0)]))).score == 1.0
    assert read_verdict(answer(logprob_entry("No", -0.01, [("No", -0.01)]))).score == 0.0


def test_neither_yes_nor_no_among_the_alternatives_is_undecided():
    verdict = read_verdict(answer(logprob_entry("<think>", -0.01, [("<think>", -0.01), ("Okay", -5.0)])))
    assert verdict.score is None
    assert verdict.first_token == "<think>"


@pytest.mark.parametrize(
    "reply",
    [
        {"model": MODEL, "message": {"role": "assistant", "content": "yes"}, "done": True},
        answer(),
        answer(logprob_entry("yes", -0.1)),  # logprobs without top_logprobs
    ],
)
def test_an_answer_without_logprobs_or_alternatives_is_refused(reply):
    with pytest.raises(LogprobsUnsupportedError):
        read_verdict(reply)


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.12.11", True), ("0.13.0-rc1", True), ("0.12.10", False), ("0.5.1", False), ("0.0.0", True), ("dev", None)],
)
def test_versions_compare_numerically(version, expected):
    assert version_at_least(version, "0.12.11") is expected


# --- request shapes --------------------------------------------------------------------------------------


def test_the_chat_format_asks_one_token_with_top_logprobs_through_the_models_template():
    body = judge_request(JudgePrompt.CHAT, MODEL, "Find facts", QUERY, DOCS[1], think_off=True)
    assert body["messages"][1] == {
        "role": "user",
        "content": f"<Instruct>: Find facts\n<Query>: {QUERY}\n<Document>: {DOCS[1]}",
    }
    assert 'answer can only be "yes" or "no"' in body["messages"][0]["content"]
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 20
    assert body["options"] == {"temperature": 0, "num_predict": 1}
    assert body["think"] is False


def test_the_qwen3_reranker_format_sends_its_exact_raw_prompt_and_no_think_for_other_models():
    body = judge_request(JudgePrompt.QWEN3_RERANKER, MODEL, "Find facts", QUERY, DOCS[1], think_off=False)
    assert body["raw"] is True
    assert "think" not in body
    assert body["prompt"] == (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
        'provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
        f"<Instruct>: Find facts\n<Query>: {QUERY}\n<Document>: {DOCS[1]}<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    assert body["prompt"].startswith(QWEN3_PREFIX) and body["prompt"].endswith(QWEN3_SUFFIX)


# --- against the fake Ollama -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "path"), [(JudgePrompt.CHAT, "/api/chat"), (JudgePrompt.QWEN3_RERANKER, "/api/generate")]
)
def test_each_document_is_judged_once_and_empty_ones_are_not_sent(fake_ollama: FakeOllama, prompt, path):
    install_judge(fake_ollama)
    scored = judge(fake_ollama, prompt).score(QUERY, DOCS)

    assert [doc.index for doc in scored] == [0, 1, 2, 3]
    assert [doc.score for doc in scored] == pytest.approx([p_yes_for(text) for text in DOCS[:3]] + [0.0])
    requests = fake_ollama.requests_to(path)
    assert sorted(request.json["model"] for request in requests) == [MODEL] * 3
    assert all(request.json["stream"] is False for request in requests)  # one short answer each
    assert all(request.json["think"] is False for request in requests)  # qwen3 has the thinking capability


def test_think_is_left_out_for_models_without_thinking(fake_ollama: FakeOllama):
    install_judge(fake_ollama)
    judge(fake_ollama, model="llama3.2").score(QUERY, DOCS[:2])
    assert all("think" not in request.json for request in fake_ollama.requests_to("/api/chat"))


def test_parallel_requests_never_exceed_the_setting(fake_ollama: FakeOllama):
    route = install_judge(fake_ollama, JudgeRoute(delay=0.05))
    docs = [f"France fact number {i}" for i in range(8)]
    judge(fake_ollama, concurrency=3).score(QUERY, docs)
    assert len(fake_ollama.requests_to("/api/chat")) == 8
    assert route.max_in_flight == 3


def test_one_at_a_time_when_concurrency_is_one(fake_ollama: FakeOllama):
    route = install_judge(fake_ollama, JudgeRoute(delay=0.01))
    judge(fake_ollama, concurrency=1).score(QUERY, DOCS)
    assert route.max_in_flight == 1


def test_a_server_without_logprobs_gets_an_error_naming_the_minimum_version(fake_ollama: FakeOllama):
    fake_ollama.version = "0.12.10"  # the built-in chat ignores `logprobs` like real servers before 0.12.11
    with pytest.raises(LogprobsUnsupportedError) as caught:
        judge(fake_ollama).score(QUERY, DOCS)
    message = str(caught.value)
    assert "needs Ollama 0.12.11 or newer" in message
    assert "(version 0.12.10)" in message
    assert f"{fake_ollama.url}/api/chat" in message
    assert "'Ollama embedding similarity'" in message


def test_a_model_that_never_says_yes_or_no_is_reported_with_its_first_tokens(fake_ollama: FakeOllama):
    # The built-in chat (0.13.0) answers "Hello" with logprobs but no yes/no among the alternatives.
    with pytest.raises(UserInputError, match=r"neither 'yes' nor 'no' for any document \(its first tokens: 'Hello'\)"):
        judge(fake_ollama).score(QUERY, DOCS)


def test_an_embedding_model_cannot_judge(fake_ollama: FakeOllama):
    with pytest.raises(OllamaUnsupportedFeatureError, match="'nomic-embed-text'.*cannot generate text.*embedding"):
        judge(fake_ollama, model="nomic-embed-text").score(QUERY, DOCS)
    assert fake_ollama.requests_to("/api/chat") == []


def test_a_model_that_is_not_pulled_says_to_pull_it(fake_ollama: FakeOllama):
    with pytest.raises(OllamaModelNotFoundError, match="ollama pull dengcao/Qwen3-Reranker-0.6B"):
        judge(fake_ollama, model="dengcao/Qwen3-Reranker-0.6B").score(QUERY, DOCS)
