"""What the reliability tests share: a plugin process that keeps everything it writes, credentials, and the
check that a plugin still answers normally after a fault."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import IO, Any

from tests.e2e.driver import InvocationResult, PluginProcess
from tests.fake_ollama import FakeOllama, Scenario, chat_chunk

MODEL = "qwen3"  # registered by the fake with completion, tools and thinking
USER_HI = [{"role": "user", "content": "Hi"}]
NORMAL_TEXT = "All systems normal."
NORMAL_USAGE = (5, 3)

# Installed into the plugin process with PYTHONPATH: host names ending in `.invalid` fail to resolve at the
# C-library boundary, so the DNS-failure case needs no DNS server and no traffic leaves 127.0.0.1. Every other
# name resolves as usual.
OFFLINE_DNS_SITECUSTOMIZE = """
import _socket

_real_getaddrinfo = _socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
    if isinstance(name, str) and name.rstrip(".").lower().endswith(".invalid"):
        raise _socket.gaierror(_socket.EAI_NONAME, "Name or service not known")
    return _real_getaddrinfo(host, *args, **kwargs)


_socket.getaddrinfo = _getaddrinfo
"""


def install_offline_dns(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(OFFLINE_DNS_SITECUSTOMIZE, encoding="utf-8")
    return directory


class _Tee:
    """A readable pipe that also keeps every line read from it."""

    def __init__(self, stream: IO[bytes], sink: list[bytes], lock: threading.Lock) -> None:
        self._stream = stream
        self._sink = sink
        self._lock = lock

    def readline(self) -> bytes:
        line = self._stream.readline()
        if line:
            with self._lock:
                self._sink.append(line)
        return line


class RecordingPluginProcess(PluginProcess):
    """The plugin process of the e2e driver, keeping every byte it wrote to stdout and stderr."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._written: list[bytes] = []
        self._written_lock = threading.Lock()

    def _read_stdout(self, stream: IO[bytes]) -> None:
        super()._read_stdout(_Tee(stream, self._written, self._written_lock))  # type: ignore[arg-type]

    def _read_stderr(self, stream: IO[bytes]) -> None:
        super()._read_stderr(_Tee(stream, self._written, self._written_lock))  # type: ignore[arg-type]

    def written(self) -> bytes:
        """Everything written so far: manifest, heartbeats, logs, session payloads and errors, stderr."""
        with self._written_lock:
            return b"".join(self._written)


def creds(base_url: str, **fields: str) -> dict[str, str]:
    return {"base_url": base_url, **fields}


def normal_answer() -> Scenario:
    return Scenario.ndjson(
        [
            chat_chunk(MODEL, "All systems "),
            chat_chunk(MODEL, "normal."),
            chat_chunk(MODEL, done=True, prompt_eval_count=NORMAL_USAGE[0], eval_count=NORMAL_USAGE[1]),
        ]
    )


def final_chunks(result: InvocationResult) -> list[dict[str, Any]]:
    return [chunk for chunk in result.payloads if chunk["delta"].get("finish_reason") is not None]


def assert_serves_normally(plugin: PluginProcess, fake: FakeOllama, credentials: dict[str, str]) -> None:
    """The same plugin process answers the next request completely and correctly."""
    fake.set_route("POST", "/api/chat", normal_answer())
    result = plugin.invoke_llm(MODEL, credentials, USER_HI).raise_for_error()
    assert result.llm_text() == NORMAL_TEXT
    [final] = final_chunks(result)
    usage = final["delta"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == NORMAL_USAGE
    assert plugin.is_alive()
