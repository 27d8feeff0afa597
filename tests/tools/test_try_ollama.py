"""tools/try_ollama.py, the try-it command, called in-process (`main()`) against the fake Ollama: failing steps,
API keys, colours, unexpected errors and the tool step's options. What it printed is read back."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest

from tests.fake_ollama import FakeOllama, Scenario, chat_chunk
from tests.rerank.fakes import install_judge
from tests.tools.try_ollama_support import (
    API_KEY,
    keyword_embed_768,
    only_line,
    run_main,
    script_every_step,
    section,
    tool_call_then_answer,
    try_ollama,
)

pytestmark = pytest.mark.usefixtures("fresh_caches")


def test_a_missing_model_fails_its_step_in_one_line_and_the_others_run(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ollama.enqueue("POST", "/api/chat", *tool_call_then_answer())
    fake_ollama.set_route("POST", "/api/embed", keyword_embed_768)

    code, out = run_main(capsys, "--base-url", fake_ollama.url, "--model", "mistral-small")

    assert code == 1
    chat = section(out, "Chat")
    failure = only_line(chat, "  FAIL")
    assert "CredentialsValidateFailedError" in failure
    assert "run `ollama pull mistral-small` there" in failure
    assert "Models available on" in failure and "qwen3:latest" in failure
    assert "tool result  6912" in section(out, "Tool call round trip")
    assert "ok    3 vectors of 768 dimensions" in section(out, "Text embedding")
    assert "ok    3 of 3 documents ranked" in section(out, "Rerank")
    assert "Summary: 3 passed, 1 failed, 2 skipped" in out


def test_an_error_in_the_middle_of_a_stream_ends_the_step_after_the_partial_answer(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ollama.enqueue(
        "POST", "/api/chat", Scenario.from_fixture("llm_midstream_error.ndjson"), *tool_call_then_answer()
    )

    code, out = run_main(capsys, "--base-url", fake_ollama.url)

    assert code == 1
    chat = section(out, "Chat")
    assert (
        "--- thinking ---\n    Let me think\n  --- answer ---\n    The answer\n  FAIL  InvokeServerUnavailableError:"
        in chat
    )
    assert "CUDA error: out of memory" in chat
    assert "tool result  6912" in section(out, "Tool call round trip")


def test_without_an_embedding_model_embedding_is_skipped_and_rerank_uses_a_judge(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ollama.unregister_model("nomic-embed-text")
    # The chat and tool steps come first; every later /api/chat request is a yes/no judgement.
    fake_ollama.enqueue(
        "POST", "/api/chat", Scenario.from_fixture("llm_thinking_answer.ndjson"), *tool_call_then_answer()
    )
    install_judge(fake_ollama)

    code, out = run_main(capsys, "--base-url", fake_ollama.url)

    assert code == 0
    assert "skip  no embedding model on this server; pull one, e.g. `ollama pull nomic-embed-text`" in out
    rerank = section(out, "Rerank")
    assert "Auto chose: Ollama model as judge ('llama3.2:latest' is a chat model" in rerank
    assert "model: llama3.2:latest" in rerank
    first_ranked = next(line for line in rerank.splitlines() if line.startswith("  1. "))
    assert "Paris is the capital and largest city of France." in first_ranked
    assert "Summary: 3 passed, 0 failed, 3 skipped" in out


def test_an_empty_server_skips_every_step_with_what_to_pull(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ollama.clear_models()

    code, out = run_main(capsys, "--base-url", fake_ollama.url)

    assert code == 0
    assert "note  no models pulled yet" in out
    assert out.count("  skip  ") == 6
    assert "ollama pull qwen3" in section(out, "Chat")
    assert fake_ollama.requests_to("/api/chat") == []


def test_the_api_key_is_sent_but_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOllama(bearer_token=API_KEY) as cloud:
        script_every_step(cloud)
        code, out = run_main(capsys, "--base-url", cloud.url, "--api-key", API_KEY)

        assert code == 0, out
        assert "API key set (not shown)" in out
        assert API_KEY not in out
        assert {request.header("authorization") for request in cloud.requests} == {f"Bearer {API_KEY}"}


def test_a_wrong_api_key_stops_with_one_line_and_does_not_echo_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_key = "sk-wrong-key-fedcba9876543210"
    monkeypatch.setenv("OLLAMA_API_KEY", wrong_key)  # the default of --api-key, as for the ollama CLI
    with FakeOllama(bearer_token=API_KEY) as cloud:
        code, out = run_main(capsys, "--base-url", cloud.url)

        assert cloud.last_request().header("authorization") == f"Bearer {wrong_key}"
    assert code == 2
    [failure] = [line for line in out.splitlines() if "FAIL" in line]
    assert "listing the models failed: OllamaAuthError:" in failure and "HTTP 401" in failure
    assert wrong_key not in out


class TerminalOutput(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("1", False)])
def test_colour_only_on_a_terminal_without_no_color(
    closed_port_url: str, monkeypatch: pytest.MonkeyPatch, no_color: str | None, coloured: bool
) -> None:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    terminal = TerminalOutput()
    monkeypatch.setattr(sys, "stdout", terminal)

    code = try_ollama.main(["--base-url", closed_port_url])

    assert code == 2
    assert ("\x1b[31mFAIL" in terminal.getvalue()) is coloured
    assert ("\x1b[" in terminal.getvalue()) is coloured


def test_an_unexpected_error_is_one_line_unless_debug_is_asked(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_step(session: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(try_ollama, "STEPS", [("Broken", broken_step), ("Text embedding", try_ollama.embedding_step)])

    code, out = run_main(capsys, "--base-url", fake_ollama.url)
    assert code == 1
    assert "FAIL  unexpected RuntimeError: boom (a bug in the plugin? rerun with --debug" in out
    assert "ok    3 vectors of 768 dimensions" in out  # the next step still ran

    try_ollama.main(["--base-url", fake_ollama.url, "--debug"])
    assert "Traceback (most recent call last)" in capsys.readouterr().out


def test_thinking_markers_split_across_chunks_are_still_recognised() -> None:
    content = "<think>\nFirst I add.\n</think>The sum is 3."

    def split(pieces: list[str]) -> list[tuple[str, str]]:
        splitter = try_ollama.ThinkingSplitter()
        found = [piece for text in pieces for piece in splitter.feed(text)] + splitter.finish()
        merged: list[tuple[str, str]] = []
        for kind, text in found:
            if merged and merged[-1][0] == kind:
                merged[-1] = (kind, merged[-1][1] + text)
            else:
                merged.append((kind, text))
        return merged

    expected = [("thinking", "\nFirst I add.\n"), ("answer", "The sum is 3.")]
    assert split([content]) == expected
    assert split(list(content)) == expected  # one character per chunk
    assert split(["No thinking here, ", "just <think> in the text."]) == [
        ("answer", "No thinking here, just <think> in the text.")
    ]


def plain_answer(model: str) -> Scenario:
    return Scenario.ndjson(
        [chat_chunk(model, "It is 6912."), chat_chunk(model, done=True, prompt_eval_count=150, eval_count=6)]
    )


def test_a_tool_step_without_a_tool_call_fails_with_advice(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ollama.enqueue("POST", "/api/chat", Scenario.from_fixture("llm_thinking_answer.ndjson"), plain_answer("qwen3"))
    fake_ollama.set_route("POST", "/api/embed", keyword_embed_768)

    code, out = run_main(capsys, "--base-url", fake_ollama.url, "--tool-model", "qwen3")

    assert code == 1
    tools = section(out, "Tool call round trip")
    failure = only_line(tools, "  FAIL")
    assert "'qwen3' answered without calling the add tool" in failure
    assert "'tools' capability" in failure and "--tool-model" in failure
    assert "--tool-no-think" in failure and "Thinking parameter off" in failure
    assert "tool call(s) executed" not in tools
    assert "Summary: 3 passed, 1 failed, 2 skipped" in out


def test_tool_no_think_turns_thinking_off_in_the_tool_step(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ollama.enqueue(
        "POST", "/api/chat", Scenario.from_fixture("llm_thinking_answer.ndjson"), *tool_call_then_answer("qwen3")
    )
    fake_ollama.set_route("POST", "/api/embed", keyword_embed_768)

    code, out = run_main(capsys, "--base-url", fake_ollama.url, "--tool-model", "qwen3", "--tool-no-think")

    assert code == 0, out
    chat_request, *tool_requests = fake_ollama.requests_to("/api/chat")[:3]
    assert "think" not in (chat_request.json or {}) or chat_request.json["think"] is not False
    assert [request.json["think"] for request in tool_requests] == [False, False]
