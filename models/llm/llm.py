"""Dify adapter for Ollama chat and completion models (thin: schema, invoke, validate)."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model.llm import LLMResult, LLMResultChunk
from dify_plugin.entities.model.message import PromptMessage, PromptMessageTool
from dify_plugin.errors.model import InvokeBadRequestError

from models.invoke_errors import OllamaInvokeErrors
from models.validation import check_model


class OllamaLargeLanguageModel(OllamaInvokeErrors, LargeLanguageModel):
    def validate_credentials(self, model: str, credentials: Mapping[str, Any]) -> None:
        check_model(credentials, model, needs="completion")

    def _invoke(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        model_parameters: dict,
        tools: list[PromptMessageTool] | None = None,
        stop: list[str] | None = None,
        stream: bool = True,
        user: str | None = None,
    ) -> LLMResult | Generator[LLMResultChunk, None, None]:
        raise InvokeBadRequestError("Chat is not available in this build of the plugin yet.")

    def get_num_tokens(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None = None,
    ) -> int:
        return 0
