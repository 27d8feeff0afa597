"""Dify prompt messages -> Ollama chat messages, or the prompt/system/images of a generate request.

* Multi-part content is flattened in order: text parts joined by newlines, images collected into
  `images` as raw base64. Audio, video and documents are refused with a message naming the type
  (Ollama's API has no field for them; dropping them would make the model answer without them).
* An assistant message starting with a `<think>…</think>` block (how this plugin streams thinking)
  goes back with that text in Ollama's `thinking` field and the rest as `content`.
* Assistant tool calls go back with their ids and `arguments` as a JSON object, not a string.
* Tool results carry `tool_call_id` and `tool_name`: the function's name from the message's `name`,
  else from the assistant tool call with that id. Never the id itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    ImagePromptMessageContent,
    PromptMessage,
    PromptMessageRole,
    PromptMessageTool,
    TextPromptMessageContent,
)

from models.llm.images import image_to_base64

ImageFetcher = Callable[[ImagePromptMessageContent], str]

THINK_START = "<think>"
THINK_END = "</think>"

_ROLES = {
    PromptMessageRole.SYSTEM: "system",
    PromptMessageRole.DEVELOPER: "system",
    PromptMessageRole.USER: "user",
    PromptMessageRole.ASSISTANT: "assistant",
    PromptMessageRole.TOOL: "tool",
}


class UnsupportedContentError(ValueError):
    """The message holds content Ollama's API cannot carry."""


class InvalidToolArgumentsError(ValueError):
    """An assistant tool call in the history has arguments that are not a JSON object."""


def split_thinking(content: str) -> tuple[str | None, str]:
    """(thinking, answer) of a text that may start with a `<think>…</think>` block."""
    stripped = content.lstrip()
    if not stripped.startswith(THINK_START):
        return None, content
    end = stripped.find(THINK_END)
    if end < 0:
        return None, content  # an unclosed block is not ours; leave the text as it is
    thinking = stripped[len(THINK_START) : end].strip()
    return thinking or None, stripped[end + len(THINK_END) :].lstrip()


def flatten_content(message: PromptMessage, fetch_image: ImageFetcher) -> tuple[str, list[str]]:
    """(text, base64 images) of a message's content."""
    content = message.content
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        if isinstance(part, TextPromptMessageContent):
            texts.append(part.data)
        elif isinstance(part, ImagePromptMessageContent):
            images.append(fetch_image(part))
        else:
            kind = getattr(part, "type", type(part).__name__)
            kind = getattr(kind, "value", kind)
            name = f" '{part.filename}'" if getattr(part, "filename", "") else ""
            raise UnsupportedContentError(
                f"Ollama cannot take {kind} input (file{name}): its API accepts text and images only. Remove "
                f"the {kind} file from the prompt, or turn off {kind} upload for this model."
            )
    return "\n".join(texts), images


def _arguments_object(arguments: str, function: str) -> dict[str, Any]:
    """Dify keeps tool-call arguments as a JSON string; Ollama wants the object back."""
    if not arguments or not arguments.strip():
        return {}
    try:
        value: Any = json.loads(arguments)
        if isinstance(value, str):  # arguments double-encoded by some models
            value = json.loads(value)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    # Guessing a shape would show the model a call it never made; say what is wrong instead.
    raise InvalidToolArgumentsError(
        f"The conversation history holds a call to the tool '{function}' whose arguments are not a JSON object "
        f"({arguments[:200]!r}); Ollama accepts only an object there. Start a new conversation, or correct that "
        "tool call in the history."
    )


def _assistant_fields(message: PromptMessage, text: str, names_by_id: dict[str, str]) -> dict[str, Any]:
    thinking, answer = split_thinking(text)
    fields: dict[str, Any] = {"role": "assistant", "content": answer}
    if thinking:
        fields["thinking"] = thinking
    tool_calls: list[AssistantPromptMessage.ToolCall] = getattr(message, "tool_calls", None) or []
    if tool_calls:
        calls = []
        for index, call in enumerate(tool_calls):
            name = call.function.name
            if call.id:
                names_by_id[call.id] = name
            # Shaped like the history examples in Ollama's docs (`type` is ignored by the server).
            entry: dict[str, Any] = {"id": call.id} if call.id else {}
            entry["type"] = "function"
            entry["function"] = {
                "index": index,
                "name": name,
                "arguments": _arguments_object(call.function.arguments, name),
            }
            calls.append(entry)
        fields["tool_calls"] = calls
    return fields


def to_ollama_messages(
    messages: Sequence[PromptMessage], fetch_image: ImageFetcher = image_to_base64
) -> list[dict[str, Any]]:
    """The `messages` of an /api/chat request."""
    names_by_id: dict[str, str] = {}
    converted: list[dict[str, Any]] = []
    for message in messages:
        text, images = flatten_content(message, fetch_image)
        role = _ROLES.get(message.role, "user")
        if role == "assistant":
            fields = _assistant_fields(message, text, names_by_id)
        elif role == "tool":
            fields = {"role": "tool", "content": text}
            call_id = getattr(message, "tool_call_id", "") or ""
            tool_name = message.name or names_by_id.get(call_id)
            if tool_name:
                fields["tool_name"] = tool_name
            if call_id:
                fields["tool_call_id"] = call_id
        else:
            fields = {"role": role, "content": text}
        if images:
            fields["images"] = images
        converted.append(fields)
    return converted


def to_generate_fields(
    messages: Sequence[PromptMessage], fetch_image: ImageFetcher = image_to_base64
) -> dict[str, Any]:
    """`prompt`, `system` and `images` of an /api/generate request (completion mode).

    System and developer messages become `system`; the text of the other messages, in order, the prompt.
    """
    system: list[str] = []
    prompt: list[str] = []
    images: list[str] = []
    for message in messages:
        text, message_images = flatten_content(message, fetch_image)
        images.extend(message_images)
        if _ROLES.get(message.role) == "system":
            if text:
                system.append(text)
        elif text:
            prompt.append(split_thinking(text)[1] if message.role == PromptMessageRole.ASSISTANT else text)
    fields: dict[str, Any] = {"prompt": "\n\n".join(prompt)}
    if system:
        fields["system"] = "\n\n".join(system)
    if images:
        fields["images"] = images
    return fields


def to_ollama_tools(tools: Sequence[PromptMessageTool]) -> list[dict[str, Any]]:
    """Dify tool definitions -> Ollama's; `parameters` is always an object schema."""
    converted = []
    for tool in tools:
        parameters = dict(tool.parameters) if isinstance(tool.parameters, dict) else {}
        parameters.setdefault("type", "object")
        if parameters["type"] == "object":
            parameters.setdefault("properties", {})
        converted.append(
            {
                "type": "function",
                "function": {"name": tool.name, "description": tool.description or "", "parameters": parameters},
            }
        )
    return converted
