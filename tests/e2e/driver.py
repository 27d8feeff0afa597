"""Launch the plugin the way Dify's plugin daemon does and speak its stdio protocol.

The daemon runs `<python> -m main` in the plugin directory with `INSTALL_METHOD=local`, writes one JSON request
per line to stdin, and reads newline-delimited JSON events from stdout (runtime doc §1). It also unmarshals every
`stream` payload into a Go struct and closes the stream when that fails; the `validate_*` functions below apply
the same rules so a test fails exactly where Dify would.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

PROVIDER = "ollama"
DEFAULT_STARTUP_TIMEOUT = 60.0
DEFAULT_REQUEST_TIMEOUT = 60.0
# The daemon's default stdout scanner limit (PLUGIN_STDIO_MAX_BUFFER_SIZE); longer lines never reach Dify.
MAX_STDOUT_LINE_BYTES = 5 * 1024 * 1024
STDERR_TAIL_LINES = 200

PROMPT_MESSAGE_ROLES = frozenset({"system", "user", "assistant", "tool"})
PROMPT_CONTENT_TYPES = frozenset({"text", "image", "audio", "video", "document"})
PARAMETER_TEMPLATES = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "presence_penalty",
        "frequency_penalty",
        "max_tokens",
        "response_format",
        "json_schema",
    }
)
LLM_USAGE_INT_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
LLM_USAGE_DECIMAL_FIELDS = (
    "prompt_unit_price",
    "prompt_price_unit",
    "prompt_price",
    "completion_unit_price",
    "completion_price_unit",
    "completion_price",
    "total_price",
)
EMBEDDING_USAGE_INT_FIELDS = ("tokens", "total_tokens")
EMBEDDING_USAGE_DECIMAL_FIELDS = ("unit_price", "price_unit", "total_price")


# --- daemon-side validation of stream payloads ------------------------------------------------------


def _require(condition: bool, rule: str, payload: object) -> None:
    if not condition:
        shown = json.dumps(payload, default=str)
        raise AssertionError(f"daemon would reject payload: {rule}; payload={shown[:2000]}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_decimal(value: object) -> bool:
    """shopspring/decimal accepts JSON numbers and numeric strings (pydantic dumps Decimal as "0E-7")."""
    if _is_number(value):
        return True
    if not isinstance(value, str):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def _validate_usage(usage: object, int_fields: Sequence[str], decimal_fields: Sequence[str], where: str) -> None:
    _require(isinstance(usage, dict), f"{where} must be an object", usage)
    assert isinstance(usage, dict)
    for name in int_fields:
        _require(_is_int(usage.get(name)), f"{where}.{name} must be an integer", usage)
    for name in decimal_fields:
        _require(_is_decimal(usage.get(name)), f"{where}.{name} must be a decimal number or string", usage)
    _require(isinstance(usage.get("currency"), str), f"{where}.currency must be a string", usage)
    _require(_is_number(usage.get("latency")), f"{where}.latency must be a number", usage)


def validate_llm_chunk(payload: Mapping[str, Any]) -> None:
    """LLMResultChunk as the daemon unmarshals it (D pkg/entities/model_entities/llm.go)."""
    model = payload.get("model")
    _require(isinstance(model, str) and model != "", "model must be a non-empty string", payload)
    _require(
        payload.get("system_fingerprint") is None or isinstance(payload["system_fingerprint"], str),
        "system_fingerprint must be a string or null",
        payload,
    )
    delta = payload.get("delta")
    _require(isinstance(delta, dict), "delta must be an object", payload)
    assert isinstance(delta, dict)
    _require(_is_int(delta.get("index")), "delta.index must be an integer", payload)
    message = delta.get("message")
    _require(isinstance(message, dict), "delta.message must be an object", payload)
    assert isinstance(message, dict)
    _require(
        message.get("role") in PROMPT_MESSAGE_ROLES,
        "delta.message.role must be one of system/user/assistant/tool",
        payload,
    )
    content = message.get("content")
    _require(content is not None, "delta.message.content must be present and not null", payload)
    _require(isinstance(content, str | list), "delta.message.content must be a string or a list", payload)
    if isinstance(content, list):
        for item in content:
            _require(
                isinstance(item, dict) and item.get("type") in PROMPT_CONTENT_TYPES,
                "delta.message.content[].type must be text/image/audio/video/document",
                payload,
            )
    for call in message.get("tool_calls") or []:
        _require(isinstance(call, dict), "delta.message.tool_calls[] must be objects", payload)
        function = call.get("function")
        _require(isinstance(function, dict), "delta.message.tool_calls[].function must be an object", payload)
        assert isinstance(function, dict)
        _require(
            isinstance(function.get("arguments"), str),
            "delta.message.tool_calls[].function.arguments must be a JSON string",
            payload,
        )
        for key in ("id", "type"):
            _require(
                call.get(key) is None or isinstance(call[key], str),
                f"delta.message.tool_calls[].{key} must be a string",
                payload,
            )
        _require(
            function.get("name") is None or isinstance(function["name"], str),
            "delta.message.tool_calls[].function.name must be a string",
            payload,
        )
    if delta.get("usage") is not None:
        _validate_usage(delta["usage"], LLM_USAGE_INT_FIELDS, LLM_USAGE_DECIMAL_FIELDS, "delta.usage")
    finish_reason = delta.get("finish_reason")
    _require(
        finish_reason is None or isinstance(finish_reason, str), "delta.finish_reason must be a string or null", payload
    )


def validate_credentials_result(payload: Mapping[str, Any]) -> None:
    _require(isinstance(payload.get("result"), bool), "result must be a boolean", payload)
    _require(isinstance(payload.get("credentials"), dict), "credentials must be an object", payload)


def validate_model_schema_result(payload: Mapping[str, Any]) -> None:
    """{"model_schema": ModelDeclaration | null}; an unknown use_template makes the Go unmarshal fail."""
    _require("model_schema" in payload, "model_schema key must be present", payload)
    schema = payload["model_schema"]
    if schema is None:
        return
    _require(isinstance(schema, dict), "model_schema must be an object or null", payload)
    _require(isinstance(schema.get("model"), str), "model_schema.model must be a string", payload)
    _require(isinstance(schema.get("model_type"), str), "model_schema.model_type must be a string", payload)
    rules = schema.get("parameter_rules")
    _require(rules is None or isinstance(rules, list), "model_schema.parameter_rules must be a list", payload)
    for rule in rules or []:
        _require(
            isinstance(rule, dict) and isinstance(rule.get("name"), str),
            "parameter_rules[].name must be a string",
            payload,
        )
        template = rule.get("use_template")
        _require(
            template in (None, "") or template in PARAMETER_TEMPLATES,
            f"parameter_rules[].use_template {template!r} is not one of {sorted(PARAMETER_TEMPLATES)}",
            payload,
        )
        for key in ("min", "max"):
            _require(
                rule.get(key) is None or _is_number(rule[key]),
                f"parameter_rules[].{key} must be a number or null",
                payload,
            )
        _require(
            rule.get("precision") is None or _is_int(rule["precision"]),
            "parameter_rules[].precision must be an integer or null",
            payload,
        )
        options = rule.get("options")
        _require(
            options is None or (isinstance(options, list) and all(isinstance(o, str) for o in options)),
            "parameter_rules[].options must be a list of strings",
            payload,
        )


def validate_text_embedding_result(payload: Mapping[str, Any]) -> None:
    _require(isinstance(payload.get("model"), str), "model must be a string", payload)
    embeddings = payload.get("embeddings")
    _require(isinstance(embeddings, list), "embeddings must be a list", payload)
    assert isinstance(embeddings, list)
    for vector in embeddings:
        _require(
            isinstance(vector, list) and all(_is_number(value) for value in vector),
            "embeddings must be a list of float lists",
            payload,
        )
    _validate_usage(payload.get("usage"), EMBEDDING_USAGE_INT_FIELDS, EMBEDDING_USAGE_DECIMAL_FIELDS, "usage")


def validate_llm_num_tokens(payload: Mapping[str, Any]) -> None:
    _require(_is_int(payload.get("num_tokens")), "num_tokens must be an integer", payload)


def validate_text_embedding_num_tokens(payload: Mapping[str, Any]) -> None:
    counts = payload.get("num_tokens")
    _require(
        isinstance(counts, list) and all(_is_int(count) for count in counts),
        "num_tokens must be a list of integers",
        payload,
    )


def validate_rerank_result(payload: Mapping[str, Any]) -> None:
    _require(isinstance(payload.get("model"), str), "model must be a string", payload)
    docs = payload.get("docs")
    _require(isinstance(docs, list), "docs must be a list", payload)
    assert isinstance(docs, list)
    for doc in docs:
        _require(isinstance(doc, dict), "docs[] must be objects", payload)
        _require(_is_int(doc.get("index")), "docs[].index must be an integer", payload)
        _require(isinstance(doc.get("text"), str), "docs[].text must be a string", payload)
        _require(_is_number(doc.get("score")), "docs[].score must be a number", payload)


def validate_speech2text_result(payload: Mapping[str, Any]) -> None:
    _require(isinstance(payload.get("result"), str), "result must be a string", payload)


PAYLOAD_VALIDATORS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "invoke_llm": validate_llm_chunk,
    "validate_provider_credentials": validate_credentials_result,
    "validate_model_credentials": validate_credentials_result,
    "get_ai_model_schemas": validate_model_schema_result,
    "invoke_text_embedding": validate_text_embedding_result,
    "get_llm_num_tokens": validate_llm_num_tokens,
    "get_text_embedding_num_tokens": validate_text_embedding_num_tokens,
    "invoke_rerank": validate_rerank_result,
    "invoke_speech2text": validate_speech2text_result,
}


def validate_stream_payload(action: str, payload: object) -> None:
    """Apply the daemon's rules for `action` to one `stream` payload; actions without rules pass."""
    _require(isinstance(payload, dict), f"{action} stream payload must be an object", payload)
    assert isinstance(payload, dict)
    validator = PAYLOAD_VALIDATORS.get(action)
    if validator is not None:
        validator(payload)


# --- results -------------------------------------------------------------------------------------------


@dataclass
class InvocationResult:
    """Everything the plugin sent back for one request (one session)."""

    session_id: str
    action: str
    payloads: list[Any] = field(default_factory=list)  # `type:"stream"` data, in order (objects when valid)
    error: dict[str, Any] | None = None  # `type:"error"` data: error_type, message, args
    ended: bool = False  # `type:"end"` arrived
    # Top-level `{"event":"error"}` lines for this session (bad request line, router TypeError): logged by the
    # daemon but they do not end the session.
    protocol_errors: list[dict[str, Any]] = field(default_factory=list)
    oversized_lines: int = 0  # stdout lines the daemon's scanner would refuse

    @property
    def ok(self) -> bool:
        return self.ended and self.error is None

    @property
    def error_type(self) -> str | None:
        return None if self.error is None else self.error.get("error_type")

    @property
    def error_message(self) -> str | None:
        return None if self.error is None else self.error.get("message")

    @property
    def error_description(self) -> str | None:
        """What Dify shows the user for an InvokeError (args.description)."""
        if self.error is None:
            return None
        return (self.error.get("args") or {}).get("description")

    @property
    def last_payload(self) -> dict[str, Any]:
        if not self.payloads:
            raise AssertionError(f"{self.action} produced no stream payload; error={self.error}")
        return self.payloads[-1]

    def llm_text(self) -> str:
        """The concatenated string content of every invoke_llm chunk."""
        parts = [chunk["delta"]["message"]["content"] for chunk in self.payloads]
        return "".join(part for part in parts if isinstance(part, str))

    def llm_tool_calls(self) -> list[dict[str, Any]]:
        return [call for chunk in self.payloads for call in chunk["delta"]["message"].get("tool_calls") or []]

    def final_llm_chunk(self) -> dict[str, Any]:
        return self.last_payload

    def raise_for_error(self) -> InvocationResult:
        if self.error is not None:
            raise AssertionError(f"{self.action} failed: {self.error_type}: {self.error_message}")
        if not self.ended:
            raise AssertionError(f"{self.action} did not end")
        return self


@dataclass
class _Session:
    result: InvocationResult
    finished: threading.Event = field(default_factory=threading.Event)


class PendingInvocation:
    """A request in flight; `result()` waits for its `end` message."""

    def __init__(self, process: PluginProcess, session: _Session, validate: bool) -> None:
        self._process = process
        self._session = session
        self._validate = validate

    @property
    def session_id(self) -> str:
        return self._session.result.session_id

    def result(self, timeout: float = DEFAULT_REQUEST_TIMEOUT) -> InvocationResult:
        deadline = time.monotonic() + timeout
        while not self._session.finished.wait(0.05):
            if self._process.stdout_closed and not self._session.finished.is_set():
                raise AssertionError(
                    f"plugin exited during {self._session.result.action} "
                    f"(rc={self._process.returncode}); stderr tail:\n{self._process.stderr_tail()}"
                )
            if time.monotonic() > deadline:
                partial = self._session.result
                raise AssertionError(
                    f"{partial.action} did not end within {timeout}s; got {len(partial.payloads)} payload(s), "
                    f"error={partial.error}; stderr tail:\n{self._process.stderr_tail()}"
                )
        result = self._session.result
        if result.oversized_lines:
            raise AssertionError(f"{result.action} wrote stdout lines over {MAX_STDOUT_LINE_BYTES} bytes")
        if self._validate:
            for payload in result.payloads:
                validate_stream_payload(result.action, payload)
        return result


# --- the process ---------------------------------------------------------------------------------------

# The type of the `start_plugin` fixture: start_plugin(plugin_dir, env=..., startup_timeout=...) -> started process.
StartPlugin = Callable[..., "PluginProcess"]


class PluginProcess:
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
        self._sessions: dict[str, _Session] = {}
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
        session = _Session(InvocationResult(session_id=session_id, action=action))
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

    # --- typed helpers (field names per D pkg/entities/requests/model.go) --------------------------------

    def invoke_llm(
        self,
        model: str,
        credentials: Mapping[str, Any],
        prompt_messages: Sequence[Mapping[str, Any]],
        model_parameters: Mapping[str, Any] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: Sequence[str] | None = None,
        stream: bool = True,
        *,
        json_schema: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
        validate: bool = True,
    ) -> InvocationResult:
        data = {
            **self._model_fields(model, "llm", credentials),
            "model_parameters": dict(model_parameters or {}),
            "prompt_messages": list(prompt_messages),
            "tools": None if tools is None else list(tools),
            "stop": None if stop is None else list(stop),
            "json_schema": None if json_schema is None else dict(json_schema),
            "stream": stream,
        }
        return self.request("invoke_llm", data, timeout=timeout, validate=validate)

    def validate_provider_credentials(
        self, credentials: Mapping[str, Any], *, timeout: float = DEFAULT_REQUEST_TIMEOUT
    ) -> InvocationResult:
        data = {"provider": PROVIDER, "credentials": dict(credentials)}
        return self.request("validate_provider_credentials", data, timeout=timeout)

    def validate_model_credentials(
        self,
        model: str,
        model_type: str,
        credentials: Mapping[str, Any],
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        data = self._model_fields(model, model_type, credentials)
        return self.request("validate_model_credentials", data, timeout=timeout)

    def get_model_schema(
        self,
        model: str,
        model_type: str,
        credentials: Mapping[str, Any],
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        data = self._model_fields(model, model_type, credentials)
        return self.request("get_ai_model_schemas", data, timeout=timeout)

    def invoke_text_embedding(
        self,
        model: str,
        credentials: Mapping[str, Any],
        texts: Sequence[str],
        input_type: str = "document",
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        data = {
            **self._model_fields(model, "text-embedding", credentials),
            "texts": list(texts),
            "input_type": input_type,
        }
        return self.request("invoke_text_embedding", data, timeout=timeout)

    def invoke_rerank(
        self,
        model: str,
        credentials: Mapping[str, Any],
        query: str,
        docs: Sequence[str],
        score_threshold: float = 0.0,
        top_n: int = 0,
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        """The defaults are what the daemon sends when Dify passes None (non-pointer Go fields)."""
        data = {
            **self._model_fields(model, "rerank", credentials),
            "query": query,
            "docs": list(docs),
            "score_threshold": float(score_threshold),
            "top_n": int(top_n),
        }
        return self.request("invoke_rerank", data, timeout=timeout)

    def invoke_speech2text(
        self,
        model: str,
        credentials: Mapping[str, Any],
        audio: bytes,
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        """The daemon sends the uploaded file hex-encoded (D pkg/entities/requests/model.go)."""
        data = {**self._model_fields(model, "speech2text", credentials), "file": audio.hex()}
        return self.request("invoke_speech2text", data, timeout=timeout)

    def get_llm_num_tokens(
        self,
        model: str,
        credentials: Mapping[str, Any],
        prompt_messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        """The daemon never sends null here: missing lists become []."""
        data = {
            **self._model_fields(model, "llm", credentials),
            "prompt_messages": list(prompt_messages),
            "tools": list(tools or []),
        }
        return self.request("get_llm_num_tokens", data, timeout=timeout)

    def get_text_embedding_num_tokens(
        self,
        model: str,
        credentials: Mapping[str, Any],
        texts: Sequence[str],
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        data = {**self._model_fields(model, "text-embedding", credentials), "texts": list(texts)}
        return self.request("get_text_embedding_num_tokens", data, timeout=timeout)

    @staticmethod
    def _model_fields(model: str, model_type: str, credentials: Mapping[str, Any]) -> dict[str, Any]:
        return {"provider": PROVIDER, "model": model, "model_type": model_type, "credentials": dict(credentials)}

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
