"""Dify prompt messages -> Ollama chat messages, or the prompt/system/images of a generate request.

* Multi-part content is flattened in order: text parts joined by newlines, images and audio (WAV, MP3;
  models with the `audio` capability, Ollama 0.20.0+) collected in order into `images` as raw base64
  (prompt_files.py checks and fetches them). Video and documents are refused with a message naming the
  type (Ollama's API has no field for them; dropping them would make the model answer without them).
* An assistant message starting with a `<think>…</think>` block (how this plugin streams thinking)
  goes back with that text in Ollama's `thinking` field and the rest as `content`.
* Assistant tool calls go back with their ids and `arguments` as a JSON object, not a string.
* Tool results carry `tool_call_id` and `tool_name`: the function's name from the message's `name`,
  else from the assistant tool call with that id. Never the id itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Unpack

from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    PromptMessageRole,
    PromptMessageTool,
    TextPromptMessageContent,
)

from models.input_errors import UserInputError
from models.llm.prompt_files import (
    FileOptions,
    MediaFetcher,
    UnsupportedContentError,
    convert_files,
    media_to_base64,
)
from models.llm.think_tags import THINK_END, THINK_START

ImageFetcher = MediaFetcher  # the older name
__all__ = ["ImageFetcher", "MediaFetcher", "UnsupportedContentError"]


def ollama_role(role: PromptMessageRole) -> str:
    """Ollama's role for a Dify message: the same name, but Ollama has no developer role (it is a system one)."""
    return "system" if role is PromptMessageRole.DEVELOPER else PromptMessageRole(role).value


class InvalidToolArgumentsError(UserInputError):
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


def flatten_content(message: PromptMessage, files: Mapping[int, str]) -> tuple[str, list[str]]:
    """(text, base64 images and audio) of a message's content; `files` from convert_files."""
    content = message.content
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    media: list[str] = []
    for part in content:
        if isinstance(part, TextPromptMessageContent):
            texts.append(part.data)
        elif id(part) in files:
            media.append(files[id(part)])
    return "\n".join(texts), media


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


def _flattened(
    messages: Sequence[PromptMessage], fetch_image: MediaFetcher, files: FileOptions
) -> Iterator[tuple[PromptMessage, str, str, list[str]]]:
    """(message, Ollama role, text, base64 images and audio) of each message; every file is checked first."""
    converted = convert_files(messages, fetch_image, **files)
    for message in messages:
        text, media = flatten_content(message, converted)
        yield message, ollama_role(message.role), text, media


def to_ollama_messages(
    messages: Sequence[PromptMessage], fetch_image: MediaFetcher = media_to_base64, **files: Unpack[FileOptions]
) -> list[dict[str, Any]]:
    """The `messages` of an /api/chat request."""
    names_by_id: dict[str, str] = {}
    converted: list[dict[str, Any]] = []
    for message, role, text, images in _flattened(messages, fetch_image, files):
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
    messages: Sequence[PromptMessage], fetch_image: MediaFetcher = media_to_base64, **files: Unpack[FileOptions]
) -> dict[str, Any]:
    """`prompt`, `system` and `images` of an /api/generate request (completion mode).

    System and developer messages become `system`; the text of the other messages, in order, the prompt.
    """
    system: list[str] = []
    prompt: list[str] = []
    images: list[str] = []
    for _message, role, text, media in _flattened(messages, fetch_image, files):
        images.extend(media)
        if role == "system":
            if text:
                system.append(text)
        elif text:
            prompt.append(split_thinking(text)[1] if role == "assistant" else text)
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
