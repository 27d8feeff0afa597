"""Tests for tools/try_ollama.py, the try-it command, run against the fake Ollama.

Some run the script as a subprocess from another directory, as a user would; the rest call its `main()`
in-process (faster) and read what it printed.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from models.llm.schema import forget_failed_lookups
from ollama_client import clear_cache, close_pooled_clients
from tests.fake_ollama import FakeOllama, RecordedRequest, Scenario, chat_chunk
from tests.rerank.fakes import install_judge, keyword_vector

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "tools" / "try_ollama.py"
API_KEY = "sk-try-it-0123456789abcdef"
EMBEDDING_DIMENSIONS = 768


def _load_tool() -> ModuleType:
    # tools/ is a plain folder, not a package: load the script by path.
    spec = importlib.util.spec_from_file_location("try_ollama_tool", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


try_ollama = _load_tool()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    # Fakes of earlier tests may have had the same port: forget what they said and their connections.
    clear_cache()
    forget_failed_lookups()
    yield
    clear_cache()
    forget_failed_lookups()
    close_pooled_clients()


# --- scripted answers ----------------------------------------------------------------------------------


def keyword_embed_768(request: RecordedRequest) -> Scenario:
    """Vectors whose cosine follows shared words (France, capital, …), padded to a realistic length."""
    body = request.json or {}
    inputs = body.get("input", [])
    inputs = [inputs] if isinstance(inputs, str) else inputs
    vectors = [(keyword_vector(text) + [0.0] * EMBEDDING_DIMENSIONS)[:EMBEDDING_DIMENSIONS] for text in inputs]
    return Scenario.json({"model": body.get("model"), "embeddings": vectors, "prompt_eval_count": 7 * len(inputs)})


def tool_call_then_answer(model: str = "llama3.2") -> list[Scenario]:
    """The tool step's two turns: the model calls add(1234, 5678), then answers with the result."""
    call = {"id": "call_try1", "function": {"index": 0, "name": "add", "arguments": {"a": 1234, "b": 5678}}}
    return [
        Scenario.ndjson(
            [chat_chunk(model, tool_calls=[call]), chat_chunk(model, done=True, prompt_eval_count=150, eval_count=20)]
        ),
        Scenario.ndjson(
            [
                chat_chunk(model, "1234 + 5678 = "),
                chat_chunk(model, "6912."),
                chat_chunk(model, done=True, prompt_eval_count=180, eval_count=9),
            ]
        ),
    ]


def script_every_step(fake: FakeOllama) -> None:
    """Chat (qwen3, thinking), then the tool round trip (llama3.2), then embeddings and rerank."""
    fake.enqueue("POST", "/api/chat", Scenario.from_fixture("llm_thinking_answer.ndjson"), *tool_call_then_answer())
    fake.set_route("POST", "/api/embed", keyword_embed_768)


def run_script(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in ("OLLAMA_API_KEY", "NO_COLOR")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = try_ollama.main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out


def section(output: str, title: str) -> str:
    """The text of one `== title ==` section."""
    start = output.index(f"== {title}")
    end = output.find("\n== ", start + 1)
    return output[start : end if end >= 0 else len(output)]


def lines_after(text: str, marker: str) -> list[str]:
    return text.split(marker, 1)[1].strip().splitlines()


# --- as a user runs it ---------------------------------------------------------------------------------


def test_happy_path_shows_models_thinking_tool_round_trip_embeddings_and_rerank(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    script_every_step(fake_ollama)

    result = run_script("--base-url", fake_ollama.url, cwd=tmp_path)  # not the repo: the script finds it itself

    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in out + result.stderr
    assert '"event"' not in out  # the adapters' JSON log lines for Dify's daemon stay off the terminal
    assert "Ollama 0.13.0" in out
    models = section(out, "Models on the server")
    assert [line.split() for line in models.splitlines()[2:]] == [
        ["llama3.2:latest", "completion,", "tools", "131072", "3.2B"],
        ["qwen3:latest", "completion,", "thinking,", "tools", "40960", "8.2B"],
        ["llava:latest", "completion,", "vision", "32768", "7B"],
        ["nomic-embed-text:latest", "embedding", "(768", "dims)", "2048", "137M"],
    ]

    chat = section(out, "Chat")
    assert "model: qwen3:latest (picked: first model with thinking)" in chat
    assert "--- thinking ---\n    The user asks for 2+2. That is 4.\n  --- answer ---\n    2 + 2 = 4.\n" in chat
    assert "<think>" not in chat
    assert "finished: stop, 18 prompt + 27 completion tokens" in chat

    tools = section(out, "Tool call round trip")
    assert "model: llama3.2:latest (picked: first chat model with tool calling)" in tools
    assert 'tool call    add({"a": 1234, "b": 5678})  id call_try1' in tools
    assert "tool result  6912\n" in tools
    assert lines_after(tools, "--- answer ---")[0].strip() == "1234 + 5678 = 6912."
    assert "1 tool call(s) executed; finished: stop" in tools
    # The second turn carried the call and its result back, as Dify's agent does.
    second_turn = fake_ollama.requests_to("/api/chat")[2].json
    assert [tool["function"]["name"] for tool in second_turn["tools"]] == ["add", "get_time"]
    assert second_turn["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_try1",
                    "type": "function",
                    "function": {"index": 0, "name": "add", "arguments": {"a": 1234, "b": 5678}},
                }
            ],
        },
        {"role": "tool", "content": "6912", "tool_name": "add", "tool_call_id": "call_try1"},
    ]

    embedding = section(out, "Text embedding")
    assert "model: nomic-embed-text:latest (picked: first embedding model)" in embedding
    assert "3 vectors of 768 dimensions, 21 tokens" in embedding

    rerank = section(out, "Rerank")
    assert "method: Auto (the default; choose another with --rerank-method)" in rerank
    chosen = "Auto chose: Ollama embedding similarity ('nomic-embed-text:latest' has the 'embedding' capability)"
    assert chosen in rerank
    ranked = [line.split("  ", 2)[2] for line in rerank.splitlines() if line.startswith("  ") and ". 0." in line]
    assert ranked == [
        "Paris is the capital and largest city of France.  (document #1)",
        "France is a country in Western Europe.  (document #2)",
        "Bananas are rich in potassium.  (document #0)",
    ]
    assert out.rstrip().endswith("Summary: 4 passed, 0 failed, 2 skipped")  # no audio model: both audio steps
    assert "\x1b[" not in out  # not a terminal: no colour codes


def test_unreachable_ollama_says_how_to_start_it_without_a_traceback(closed_port_url: str, tmp_path: Path) -> None:
    result = run_script("--base-url", closed_port_url, cwd=tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == ""
    assert f"Ollama is not reachable. Cannot connect to Ollama at {closed_port_url}/api/version" in result.stdout
    assert "connection refused" in result.stdout
    for advice in ("ollama serve", "OLLAMA_HOST=0.0.0.0", "http://host.docker.internal:11434", "--base-url"):
        assert advice in result.stdout


def test_a_bad_timeout_is_one_line_saying_what_to_enter_without_a_traceback(
    closed_port_url: str, tmp_path: Path
) -> None:
    result = run_script("--base-url", closed_port_url, "--timeout", "0.5", cwd=tmp_path)

    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert "Request timeout '0.5' is not a number of seconds from 1 to 3600" in result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_try_passes_options_through_and_keeps_the_key_off_the_command_line() -> None:
    shown = subprocess.run(
        [
            "make",
            "-n",
            "try",
            f"API_KEY={API_KEY}",
            "BASE_URL=http://gpu-box:11434",
            "MODEL=qwen3:8b",
            "PROMPT=What's up?",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert shown.returncode == 0, shown.stderr
    assert "tools/try_ollama.py --base-url 'http://gpu-box:11434' --model 'qwen3:8b'" in shown.stdout
    assert "--prompt 'What'\\''s up?'" in shown.stdout
    assert API_KEY not in shown.stdout + shown.stderr


# --- in-process --------------------------------------------------------------------------------------


def test_a_missing_model_fails_its_step_in_one_line_and_the_others_run(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ollama.enqueue("POST", "/api/chat", *tool_call_then_answer())
    fake_ollama.set_route("POST", "/api/embed", keyword_embed_768)

    code, out = run_main(capsys, "--base-url", fake_ollama.url, "--model", "mistral-small")

    assert code == 1
    chat = section(out, "Chat")
    [failure] = [line for line in chat.splitlines() if line.startswith("  FAIL")]
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
    [failure] = [line for line in tools.splitlines() if line.startswith("  FAIL")]
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


# --- audio steps -----------------------------------------------------------------------------------------


def test_without_an_audio_model_both_audio_steps_skip_with_what_to_pull(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    script_every_step(fake_ollama)

    code, out = run_main(capsys, "--base-url", fake_ollama.url)

    assert code == 0, out
    for title in ("Speech to text", "Audio in chat"):
        [skipped] = [line for line in section(out, title).splitlines() if line.startswith("  skip")]
        assert "no audio model on this server" in skipped
        assert "`ollama pull gemma4:e4b` (audio input needs Ollama 0.20.0 or later)" in skipped
    assert fake_ollama.audio_clips == []


def audio_server(fake: FakeOllama) -> FakeOllama:
    fake.version = "0.20.0"
    fake.register_audio_model("gemma4:e4b")
    script_every_step(fake)
    return fake


def test_speech_to_text_transcribes_the_sdks_sample_with_the_audio_model(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    audio_server(fake_ollama)

    code, out = run_main(capsys, "--base-url", fake_ollama.url)

    speech = section(out, "Speech to text")
    assert "model: gemma4:e4b (picked: first model with audio input)" in speech
    assert "ok    validate_credentials: Dify would accept this model as Speech2text" in speech
    assert "audio: audio.mp3 from dify_plugin (MP3, 218,880 bytes)" in speech
    assert "--- transcript ---\n    mp3 clip of 10.94 seconds\n" in speech
    assert "ok    transcribed in " in speech
    assert fake_ollama.audio_clips[0].data == try_ollama.AUDIO_SAMPLE.read_bytes()
    assert '{"event": "log"' not in out  # the adapter's log line for the daemon stays off the terminal
    assert code in (0, 1) and "FAIL" not in speech


def test_a_model_named_with_audio_model_that_cannot_hear_fails_the_step_in_one_line(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    script_every_step(fake_ollama)

    code, out = run_main(capsys, "--base-url", fake_ollama.url, "--audio-model", "llama3.2")

    assert code == 1
    [failure] = [line for line in section(out, "Speech to text").splitlines() if line.startswith("  FAIL")]
    assert "CredentialsValidateFailedError" in failure and "'audio' capability" in failure
    assert "gemma4:e4b" in failure


def test_audio_in_chat_sends_the_sample_to_the_audio_model(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    audio_server(fake_ollama)

    _, out = run_main(capsys, "--base-url", fake_ollama.url)

    chat = section(out, "Audio in chat")
    assert "model: gemma4:e4b (picked: first model with audio input)" in chat
    if "its schema has no audio feature" in chat:
        pytest.skip("the LLM does not declare the audio feature yet (issue 12 part A)")
    assert "you> Listen to this recording." in chat and "[+ audio.mp3]" in chat
    assert lines_after(chat, "--- answer ---")[0].strip() == "mp3 clip of 10.94 seconds"
    assert "FAIL" not in chat
    assert fake_ollama.audio_clips[-1].data == try_ollama.AUDIO_SAMPLE.read_bytes()
