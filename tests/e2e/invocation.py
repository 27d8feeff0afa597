"""One request's life on the stdio protocol: the session it opens, waiting for its `end`, and what it returned."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.e2e.daemon_rules import MAX_STDOUT_LINE_BYTES, validate_stream_payload

if TYPE_CHECKING:
    from tests.e2e.driver import PluginProcess

DEFAULT_REQUEST_TIMEOUT = 60.0


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
class Session:
    """A request's result as its messages arrive, and the event its `end` sets."""

    result: InvocationResult
    finished: threading.Event = field(default_factory=threading.Event)


class PendingInvocation:
    """A request in flight; `result()` waits for its `end` message."""

    def __init__(self, process: PluginProcess, session: Session, validate: bool) -> None:
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
