"""Launch the plugin the way Dify's plugin daemon does and speak its stdio protocol.

The daemon runs `<python> -m main` in the plugin directory with `INSTALL_METHOD=local`, writes one JSON request
per line to stdin, and reads newline-delimited JSON events from stdout (runtime doc §1). It also unmarshals every
`stream` payload into a Go struct and closes the stream when that fails; daemon_rules.py applies the same rules
so a test fails exactly where Dify would.

This module is the process: start, stop, send, and read stdout and stderr. Beside it: model_requests.py (the
typed requests), invocation.py (a request in flight and its result) and daemon_rules.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from tests.e2e.daemon_rules import (
    MAX_STDOUT_LINE_BYTES,
    PAYLOAD_VALIDATORS,
    validate_credentials_result,
    validate_llm_chunk,
    validate_llm_num_tokens,
    validate_model_schema_result,
    validate_rerank_result,
    validate_speech2text_result,
    validate_stream_payload,
    validate_text_embedding_num_tokens,
    validate_text_embedding_result,
)
from tests.e2e.invocation import DEFAULT_REQUEST_TIMEOUT, InvocationResult, PendingInvocation, Session
from tests.e2e.model_requests import PROVIDER, ModelRequests

__all__ = [
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_STARTUP_TIMEOUT",
    "MAX_STDOUT_LINE_BYTES",
    "PAYLOAD_VALIDATORS",
    "PROVIDER",
    "InvocationResult",
    "PendingInvocation",
    "PluginProcess",
    "StartPlugin",
    "validate_credentials_result",
    "validate_llm_chunk",
    "validate_llm_num_tokens",
    "validate_model_schema_result",
    "validate_rerank_result",
    "validate_speech2text_result",
    "validate_stream_payload",
    "validate_text_embedding_num_tokens",
    "validate_text_embedding_result",
]

DEFAULT_STARTUP_TIMEOUT = 60.0
STDERR_TAIL_LINES = 200


# --- the process ---------------------------------------------------------------------------------------

# The type of the `start_plugin` fixture: start_plugin(plugin_dir, env=..., startup_timeout=...) -> started process.
StartPlugin = Callable[..., "PluginProcess"]


class PluginProcess(ModelRequests):
    """The plugin as a child process speaking the daemon's stdio protocol."""

    def __init__(
        self,
        plugin_dir: Path | str,
        *,
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    ) -> None:
        self.plugin_dir = Path(plugin_dir)
        self.python = python
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.manifest: dict[str, Any] | None = None  # the first stdout line (no "event" key)
        self.logs: list[dict[str, Any]] = []  # `event:"log"` data: level, message, timestamp
        self.heartbeats = 0
        self.protocol_errors: list[dict[str, Any]] = []  # `event:"error"` lines not tied to a known session
        self.unparsed_lines: list[bytes] = []  # stdout lines that are not JSON (the daemon would ignore them)
        self._process: subprocess.Popen[bytes] | None = None
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._stdin_lock = threading.Lock()
        self._ready = threading.Event()
        self._stdout_closed = threading.Event()
        self._stderr_lines: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._threads: list[threading.Thread] = []

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> PluginProcess:
        """Launch `<python> -m main` and wait for the first heartbeat (the daemon's readiness signal)."""
        if self._process is not None:
            return self
        env = {**os.environ, **self.extra_env, "INSTALL_METHOD": "local"}
        self._process = subprocess.Popen(
            [self.python, "-m", "main"],
            cwd=self.plugin_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._spawn(self._read_stdout, self._process.stdout, "plugin-stdout")
        self._spawn(self._read_stderr, self._process.stderr, "plugin-stderr")

        deadline = time.monotonic() + self.startup_timeout
        while not self._ready.wait(0.05):
            if self._stdout_closed.is_set() or self._process.poll() is not None:
                self._process.wait(timeout=5)
                self._join_readers()
                raise AssertionError(
                    f"plugin in {self.plugin_dir} exited before its first heartbeat "
                    f"(rc={self._process.returncode}); stderr tail:\n{self.stderr_tail()}"
                )
            if time.monotonic() > deadline:
                self.close()
                raise AssertionError(
                    f"plugin in {self.plugin_dir} sent no heartbeat within {self.startup_timeout}s; "
                    f"stderr tail:\n{self.stderr_tail()}"
                )
        return self

    def close(self) -> None:
        """Kill the child: on stdin EOF the SDK's reader spins instead of exiting, so EOF alone is not enough."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._join_readers()

    def __enter__(self) -> PluginProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def is_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def stdout_closed(self) -> bool:
        return self._stdout_closed.is_set()

    def stderr_tail(self, lines: int = 40) -> str:
        with self._lock:
            return "".join(list(self._stderr_lines)[-lines:])

    def log_messages(self) -> list[str]:
        with self._lock:
            return [str(entry.get("message", "")) for entry in self.logs]

    # --- requests --------------------------------------------------------------------------------------

    def submit(
        self, action: str, data: Mapping[str, Any], access_type: str = "model", *, validate: bool = True
    ) -> PendingInvocation:
        """Send one request line without waiting; several may be in flight at once."""
        process = self._process
        if process is None or process.stdin is None:
            raise RuntimeError("plugin is not started")
        session_id = str(uuid.uuid4())
        session = Session(InvocationResult(session_id=session_id, action=action))
        with self._lock:
            self._sessions[session_id] = session
        message = {
            "session_id": session_id,
            "conversation_id": None,
            "message_id": None,
            "app_id": None,
            "endpoint_id": None,
            "context": None,
            "event": "request",
            "data": {"user_id": "test-user", "type": access_type, "action": action, **data},
        }
        line = (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
        with self._stdin_lock:
            process.stdin.write(line)
            process.stdin.flush()
        return PendingInvocation(self, session, validate)

    def request(
        self,
        action: str,
        data: Mapping[str, Any],
        access_type: str = "model",
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
        *,
        validate: bool = True,
    ) -> InvocationResult:
        """Send one request and wait for its `end`; stream payloads are checked with the daemon's rules."""
        return self.submit(action, data, access_type, validate=validate).result(timeout)

    def _send(self, action: str, data: dict[str, Any], timeout: float, validate: bool) -> InvocationResult:
        return self.request(action, data, timeout=timeout, validate=validate)

    # --- stdout/stderr readers ---------------------------------------------------------------------------

    def _spawn(self, target: Callable[[IO[bytes]], None], stream: IO[bytes], name: str) -> None:
        thread = threading.Thread(target=target, args=(stream,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _join_readers(self) -> None:
        for thread in self._threads:
            thread.join(timeout=5)

    def _read_stdout(self, stream: IO[bytes]) -> None:
        try:
            for raw_line in iter(stream.readline, b""):
                line = raw_line.strip()
                if line:  # the SDK ends every message with "\n\n"; the daemon skips blank lines
                    self._dispatch_line(line)
        except (OSError, ValueError):
            pass  # the pipe was closed under us by close()
        finally:
            self._stdout_closed.set()

    def _read_stderr(self, stream: IO[bytes]) -> None:
        try:
            for raw_line in iter(stream.readline, b""):
                with self._lock:
                    self._stderr_lines.append(raw_line.decode("utf-8", "replace"))
        except (OSError, ValueError):
            pass

    def _dispatch_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            with self._lock:
                self.unparsed_lines.append(line)
            return
        if not isinstance(message, dict):
            with self._lock:
                self.unparsed_lines.append(line)
            return
        event = message.get("event")
        data = message.get("data")
        if event is None:
            self.manifest = message  # first line in local mode: the plugin declaration
        elif event == "heartbeat":
            self.heartbeats += 1
            self._ready.set()
        elif event == "log":
            with self._lock:
                self.logs.append(data if isinstance(data, dict) else {"message": data})
        elif event == "error":
            self._record_protocol_error(message.get("session_id"), data)
        elif event == "session":
            self._record_session_message(message.get("session_id"), data, oversized=len(line) > MAX_STDOUT_LINE_BYTES)

    def _record_protocol_error(self, session_id: object, data: object) -> None:
        error = data if isinstance(data, dict) else {"error": data}
        with self._lock:
            session = self._sessions.get(session_id) if isinstance(session_id, str) else None
            if session is None:
                self.protocol_errors.append(error)
            else:
                session.result.protocol_errors.append(error)

    def _record_session_message(self, session_id: object, data: object, *, oversized: bool) -> None:
        with self._lock:
            session = self._sessions.get(session_id) if isinstance(session_id, str) else None
        if session is None or not isinstance(data, dict):
            with self._lock:
                self.protocol_errors.append({"error": "session message for an unknown session", "data": data})
            return
        result = session.result
        if oversized:
            result.oversized_lines += 1
        kind = data.get("type")
        body = data.get("data")
        if kind == "stream":
            result.payloads.append(body)  # kept as sent; validation reports a non-object
        elif kind == "error":
            result.error = body if isinstance(body, dict) else {"error_type": None, "message": body}
        elif kind == "end":
            result.ended = True
            session.finished.set()
        # "invoke" (backwards invocation into Dify) is never expected from a model plugin; keep it visible.
        elif kind == "invoke":
            result.protocol_errors.append({"error": "unexpected backwards invocation", "data": body})
