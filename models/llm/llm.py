"""Dify adapter for Ollama chat and completion models (thin: schema, invoke, validate, token count).

Keep dataclasses (and anything else that looks its module up in sys.modules) out of this file: the
SDK executes it without registering it there.
"""

import json
from collections.abc import Generator, Iterator, Mapping
from itertools import chain
from typing import Any

from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model import AIModelEntity
from dify_plugin.entities.model.llm import LLMResult, LLMResultChunk, LLMUsage
from dify_plugin.entities.model.message import PromptMessage, PromptMessageTool
from dify_plugin.errors.model import CredentialsValidateFailedError

from models.connection import ollama_client
from models.input_errors import UserInputError
from models.invoke_errors import OllamaInvokeErrors, mapped_stream
from models.llm.request import OllamaRequest, build_request
from models.llm.schema import (
    ModelProfile,
    forget_failed_lookups,
    model_profile,
    read_settings,
    switched_on_but_missing,
)
from models.llm.stream import StreamTranslator, collect
from models.llm.tokens import estimate_prompt_tokens
from models.validation import check_model
from ollama_client import OllamaClient


class OllamaLargeLanguageModel(OllamaInvokeErrors, LargeLanguageModel):
    # -- schema ----------------------------------------------------------------------------------

    def get_customizable_model_schema(self, model: str, credentials: Mapping[str, Any]) -> AIModelEntity:
        return self._profile(model, credentials).schema

    def _profile(self, model: str, credentials: Mapping[str, Any]) -> ModelProfile:
        # The SDK asks for the schema several times per invoke (parameter filtering, then prices for
        # the usage). The instance lives for one request, so remembering it here is safe.
        memo: dict[tuple[str, str], ModelProfile] = self.__dict__.setdefault("_profiles", {})
        key = (model, json.dumps(credentials, sort_keys=True, default=str))
        profile = memo.get(key)
        if profile is None:
            profile = memo[key] = model_profile(model, credentials)
        return profile

    # -- validation ------------------------------------------------------------------------------

    def validate_credentials(self, model: str, credentials: Mapping[str, Any]) -> None:
        try:
            settings = read_settings(credentials, strict=True)
        except UserInputError as error:
            raise CredentialsValidateFailedError(str(error)) from error
        info = check_model(credentials, model, needs="completion")
        problems = switched_on_but_missing(settings, info)
        if problems:
            raise CredentialsValidateFailedError(" ".join(problems))
        forget_failed_lookups()  # the server answers now; let schemas ask it again at once

    # -- invoke ----------------------------------------------------------------------------------

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
        profile = self._profile(model, credentials)
        request = build_request(
            model, profile.settings, profile.capabilities, prompt_messages, model_parameters, tools, stop
        )
        client = ollama_client(credentials, deadline=profile.deadline)

        def usage(prompt_tokens: int, completion_tokens: int) -> LLMUsage:
            return self._calc_response_usage(model, credentials, prompt_tokens, completion_tokens)

        def estimate_prompt() -> int:
            return estimate_prompt_tokens(prompt_messages, tools)

        translator = StreamTranslator(
            model,
            usage,
            chat=request.chat,
            show_thinking=request.show_thinking,
            estimate_prompt_tokens=estimate_prompt,
            context_window=request.context_window,
        )
        if not stream:
            # Streamed from Ollama all the same (see request.py), collected from the translator's output.
            return collect(chain.from_iterable(request.stream(client)), translator)
        return self._stream(client, request, translator)

    @mapped_stream
    def _stream(
        self, client: OllamaClient, request: OllamaRequest, translator: StreamTranslator
    ) -> Iterator[LLMResultChunk]:
        # Each batch is what one network read completed: text deltas in it leave merged, at once.
        translate = translator.translate
        for batch in request.stream(client):
            yield from translate(batch)
        translator.finish()

    # -- tokens ----------------------------------------------------------------------------------

    def get_num_tokens(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None = None,
    ) -> int:
        """Offline estimate (no tokenizer download): Dify uses it for context budgeting only."""
        return estimate_prompt_tokens(prompt_messages, tools)
