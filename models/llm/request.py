"""Assemble one Ollama request (a typed chat or generate request) from Dify's invoke arguments.

Always streams, also for Dify's blocking calls: the client's read timeout then bounds the silence
between chunks instead of the whole answer, so a long answer cannot time out while tokens flow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dify_plugin.entities.model.message import ImagePromptMessageContent, PromptMessage, PromptMessageTool

from models.input_errors import UserInputError
from models.llm.messages import MediaFetcher, to_generate_fields, to_ollama_messages, to_ollama_tools
from models.llm.parameters import request_parameters
from models.llm.prompt_files import media_to_base64
from models.llm.schema import CHAT, Capabilities, LLMSettings, effective_context_size
from ollama_client import OllamaClient
from ollama_client.wire import ChatRequest, GenerateRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OllamaRequest:
    chat: bool  # a chat (messages); else a completion (prompt)
    body: ChatRequest | GenerateRequest
    show_thinking: bool

    @property
    def context_window(self) -> int | None:
        return self.body["options"].get("num_ctx")

    def stream(self, client: OllamaClient) -> Iterator[list[Mapping[str, Any]]]:
        """The streamed answer, in batches (see OllamaClient.chat)."""
        if self.chat:
            return client.chat(self.body)  # type: ignore[arg-type,return-value]
        return client.generate(self.body)  # type: ignore[arg-type,return-value]


def has_images(messages: Sequence[PromptMessage]) -> bool:
    return any(
        isinstance(part, ImagePromptMessageContent)
        for message in messages
        if isinstance(message.content, list)
        for part in message.content
    )


def build_request(
    model: str,
    settings: LLMSettings,
    capabilities: Capabilities,
    messages: Sequence[PromptMessage],
    model_parameters: dict[str, Any],
    tools: Sequence[PromptMessageTool] | None = None,
    stop: Sequence[str] | None = None,
    fetch_image: MediaFetcher = media_to_base64,
) -> OllamaRequest:
    """Raises UserInputError (a bad request for Dify) with what to change when the input cannot be sent."""
    if capabilities.vision is False and has_images(messages):
        # Ollama would silently ignore the images and the model would answer without seeing them.
        raise UserInputError(
            f"Model '{model}' cannot read images (Ollama does not list 'vision' among its capabilities, or "
            "Vision support is set to No). Use a vision model such as llava, gemma3 or qwen2.5vl, or remove "
            "the image."
        )
    params = request_parameters(
        model_parameters,
        context_size=effective_context_size(settings, capabilities),
        max_tokens=settings.max_tokens,
        stop=stop,
        thinking=capabilities.thinking,
    )
    body: dict[str, Any] = {"model": model}
    chat = settings.mode == CHAT
    if chat:
        body["messages"] = to_ollama_messages(messages, fetch_image, audio=capabilities.audio, model=model)
        if tools:
            if capabilities.tool_call is False:
                logger.warning(
                    "model %s has no tool calling; the %d tool(s) Dify sent were not passed", model, len(tools)
                )
            else:
                body["tools"] = to_ollama_tools(tools)
    else:
        body.update(to_generate_fields(messages, fetch_image, audio=capabilities.audio, model=model))
        if tools:
            logger.warning("completion mode (/api/generate) cannot call tools; %d tool(s) were not passed", len(tools))
    body.update(params.fields)
    body["options"] = params.options
    typed = ChatRequest(**body) if chat else GenerateRequest(**body)
    return OllamaRequest(chat=chat, body=typed, show_thinking=params.show_thinking)
