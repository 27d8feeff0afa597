"""tools/try_ollama.py run as a user runs it: as a subprocess from another directory, and through `make try`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fake_ollama import FakeOllama
from tests.tools.support import REPO_ROOT
from tests.tools.try_ollama_support import API_KEY, lines_after, run_script, script_every_step, section

pytestmark = pytest.mark.usefixtures("fresh_caches")


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
