"""The daemon's model requests, by name and with its field names (D pkg/entities/requests/model.go).

A mixin of PluginProcess: each method builds one request's data and sends it with `_send`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import partialmethod
from typing import Any

from tests.e2e.invocation import DEFAULT_REQUEST_TIMEOUT, InvocationResult

PROVIDER = "ollama"
Credentials = Mapping[str, Any]
Messages = Sequence[Mapping[str, Any]]  # prompt messages and tools, as Dify sends them
Tools = Sequence[Mapping[str, Any]]


def model_data(model: str, model_type: str, credentials: Credentials, **fields: Any) -> dict[str, Any]:
    """A request about one model: provider, model, model_type and credentials, then the action's own fields."""
    return {"provider": PROVIDER, "model": model, "model_type": model_type, "credentials": dict(credentials), **fields}


class ModelRequests(ABC):
    """invoke_llm, invoke_rerank, get_model_schema…: one method per request the daemon sends a model plugin."""

    @abstractmethod
    def _send(self, action: str, data: dict[str, Any], timeout: float, validate: bool) -> InvocationResult:
        """Send one request and wait for its `end`."""

    def model_request(
        self, action: str, model: str, model_type: str, credentials: Credentials, timeout: float, **fields: Any
    ) -> InvocationResult:
        """Send a request about one model and wait for its `end` (the payloads checked by the daemon's rules)."""
        return self._send(action, model_data(model, model_type, credentials, **fields), timeout, True)

    # (model, model_type, credentials, *, timeout=...): requests with no fields of their own.
    validate_model_credentials = partialmethod(
        model_request, "validate_model_credentials", timeout=DEFAULT_REQUEST_TIMEOUT
    )
    get_model_schema = partialmethod(model_request, "get_ai_model_schemas", timeout=DEFAULT_REQUEST_TIMEOUT)

    def validate_provider_credentials(
        self, credentials: Credentials, *, timeout: float = DEFAULT_REQUEST_TIMEOUT
    ) -> InvocationResult:
        data = {"provider": PROVIDER, "credentials": dict(credentials)}
        return self._send("validate_provider_credentials", data, timeout, True)

    def invoke_llm(
        self,
        model: str,
        credentials: Credentials,
        prompt_messages: Messages,
        model_parameters: Mapping[str, Any] | None = None,
        tools: Tools | None = None,
        stop: Sequence[str] | None = None,
        stream: bool = True,
        *,
        json_schema: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
        validate: bool = True,
    ) -> InvocationResult:
        data = model_data(
            model,
            "llm",
            credentials,
            model_parameters=dict(model_parameters or {}),
            prompt_messages=list(prompt_messages),
            tools=None if tools is None else list(tools),
            stop=None if stop is None else list(stop),
            json_schema=None if json_schema is None else dict(json_schema),
            stream=stream,
        )
        return self._send("invoke_llm", data, timeout, validate)

    def get_llm_num_tokens(
        self,
        model: str,
        credentials: Credentials,
        prompt_messages: Messages,
        tools: Tools | None = None,
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        """The daemon never sends null here: missing lists become []."""
        fields = {"prompt_messages": list(prompt_messages), "tools": list(tools or [])}
        return self.model_request("get_llm_num_tokens", model, "llm", credentials, timeout, **fields)

    def invoke_text_embedding(
        self,
        model: str,
        credentials: Credentials,
        texts: Sequence[str],
        input_type: str = "document",
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        fields = {"texts": list(texts), "input_type": input_type}
        return self.model_request("invoke_text_embedding", model, "text-embedding", credentials, timeout, **fields)

    def get_text_embedding_num_tokens(
        self, model: str, credentials: Credentials, texts: Sequence[str], *, timeout: float = DEFAULT_REQUEST_TIMEOUT
    ) -> InvocationResult:
        action = "get_text_embedding_num_tokens"
        return self.model_request(action, model, "text-embedding", credentials, timeout, texts=list(texts))

    def invoke_rerank(
        self,
        model: str,
        credentials: Credentials,
        query: str,
        docs: Sequence[str],
        score_threshold: float = 0.0,
        top_n: int = 0,
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> InvocationResult:
        """The defaults are what the daemon sends when Dify passes None (non-pointer Go fields)."""
        fields = {"query": query, "docs": list(docs), "score_threshold": float(score_threshold), "top_n": int(top_n)}
        return self.model_request("invoke_rerank", model, "rerank", credentials, timeout, **fields)

    def invoke_speech2text(
        self, model: str, credentials: Credentials, audio: bytes, *, timeout: float = DEFAULT_REQUEST_TIMEOUT
    ) -> InvocationResult:
        """The daemon sends the uploaded file hex-encoded (D pkg/entities/requests/model.go)."""
        return self.model_request("invoke_speech2text", model, "speech2text", credentials, timeout, file=audio.hex())
