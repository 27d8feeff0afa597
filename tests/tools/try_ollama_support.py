"""What the try_ollama.py tests share: the script, loaded in-process or run as a user would, the fake's scripted
answers for every step, and readers of what it printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_ollama import FakeOllama, RecordedRequest, Scenario, chat_chunk
from tests.rerank.fakes import keyword_vector
from tests.tools.support import TOOLS_DIR, load_tool

SCRIPT = TOOLS_DIR / "try_ollama.py"
API_KEY = "sk-try-it-0123456789abcdef"
EMBEDDING_DIMENSIONS = 768

try_ollama = load_tool("try_ollama.py")


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


def only_line(text: str, prefix: str) -> str:
    """The one line of `text` that starts with `prefix`; there must be exactly one."""
    [line] = [line for line in text.splitlines() if line.startswith(prefix)]
    return line
