"""Offline token estimates for prompts: no tokenizer download, no tokenizer library.

Used only where Ollama gives no count: `get_num_tokens` (Dify's context budgeting) and the usage of a
reply whose final chunk lacks `prompt_eval_count`/`eval_count`. Text is counted with the shared rule
in `ollama_client.token_estimate` (one token per CJK character, per 4 ASCII characters, per 2
characters of other scripts); this module adds what a chat prompt holds besides text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    ImagePromptMessageContent,
    PromptMessage,
    PromptMessageTool,
    TextPromptMessageContent,
)

from ollama_client.token_estimate import estimate_tokens as estimate_text_tokens

# Images are not text: a vision encoder turns each into a fixed number of tokens (llava 576, gemma3 256,
# larger for qwen-vl). Counting the base64 text instead would claim ~100k tokens for one photo.
TOKENS_PER_IMAGE = 768
# Role markers and separators the chat template adds around each message.
TOKENS_PER_MESSAGE = 4

__all__ = ["TOKENS_PER_IMAGE", "estimate_prompt_tokens", "estimate_text_tokens", "estimate_texts_tokens"]


def estimate_texts_tokens(texts: Iterable[str]) -> int:
    return sum(estimate_text_tokens(text) for text in texts)


def _message_tokens(message: PromptMessage) -> int:
    tokens = TOKENS_PER_MESSAGE
    content = message.content
    if isinstance(content, str):
        tokens += estimate_text_tokens(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, TextPromptMessageContent):
                tokens += estimate_text_tokens(part.data)
            elif isinstance(part, ImagePromptMessageContent):
                tokens += TOKENS_PER_IMAGE
    if isinstance(message, AssistantPromptMessage):
        for call in message.tool_calls:
            tokens += estimate_text_tokens(call.function.name) + estimate_text_tokens(call.function.arguments)
    return tokens


def estimate_prompt_tokens(messages: Sequence[PromptMessage], tools: Sequence[PromptMessageTool] | None = None) -> int:
    """Tokens the prompt (every message, plus tool definitions) will take in the model's context."""
    total = sum(_message_tokens(message) for message in messages)
    for tool in tools or ():
        total += estimate_text_tokens(
            json.dumps(
                {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
                ensure_ascii=False,
            )
        )
    return total
