"""Ollama tool calls -> Dify's: unique ids, arguments as a JSON object string, malformed calls refused."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from dify_plugin.entities.model.message import AssistantPromptMessage

from models.llm.answer_errors import ToolArgumentsError, malformed

logger = logging.getLogger(__name__)

ToolCall = AssistantPromptMessage.ToolCall
# The tool calls of one chunk travel to Dify as one stdout line (the daemon drops a plugin past 5 MiB). At most
# this many characters of arguments (at most 4 bytes each as the SDK writes them: UTF-8, or a quote escaped
# twice) fit with room to spare.
MAX_ARGUMENTS_CHARS = 512 * 1024


class ToolCallIds:
    """Hands out tool-call ids that are unique within one response."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def assign(self, proposed: Any) -> str:
        if isinstance(proposed, str) and proposed and proposed not in self._used:
            call_id = proposed
        else:
            if proposed:
                logger.warning("Ollama repeated tool-call id %r in one response; giving the call a new id", proposed)
            call_id = "call_" + uuid.uuid4().hex
        self._used.add(call_id)
        return call_id


def _arguments_text(arguments: Any, name: str) -> str:
    """Dify's arguments string, always a JSON object (agents json.loads it and call the tool with it)."""
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return "{}"
    if isinstance(arguments, Mapping):
        return json.dumps(arguments, ensure_ascii=False)
    if isinstance(arguments, str):  # Ollama sends an object; a proxy in front of it may send a string
        try:
            if isinstance(json.loads(arguments), dict):
                return arguments
        except ValueError:
            pass
    shown = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    raise ToolArgumentsError(
        f"The model called the tool '{name}' with arguments that are not a JSON object ({shown[:200]!r}), so the "
        "tool cannot be run. Retry, or use a model that calls tools reliably."
    )


def _call_name(raw: Any) -> str | None:
    """The function name of one Ollama tool call, or None when the call is unusable."""
    if not isinstance(raw, Mapping):
        return None
    function = raw.get("function")
    if not isinstance(function, Mapping):
        return None
    name = function.get("name")
    return name.strip() if isinstance(name, str) and name.strip() else None


def to_dify_tool_call(raw: Mapping[str, Any], name: str, ids: ToolCallIds) -> ToolCall:
    """One complete Ollama tool call (`arguments` is an object) -> Dify's (arguments as a JSON string)."""
    return ToolCall(
        id=ids.assign(raw.get("id")),
        type="function",
        function=ToolCall.ToolCallFunction(
            name=name, arguments=_arguments_text(raw["function"].get("arguments"), name)
        ),
    )


def dify_tool_calls(raw_calls: Any, ids: ToolCallIds, model: str) -> list[ToolCall]:
    """The `tool_calls` of one chunk. A call without a function name is skipped (logged) when the chunk has
    valid ones; a chunk with no usable call, or a `tool_calls` that is not a list, is a malformed answer."""
    if raw_calls is None:
        return []
    if not isinstance(raw_calls, list):
        raise malformed(model, f"'tool_calls' is {type(raw_calls).__name__}, not a list")
    calls: list[ToolCall] = []
    for raw in raw_calls:
        name = _call_name(raw)
        if name is None:
            logger.warning("model %s: skipped a tool call without a function name: %.200r", model, raw)
            continue
        calls.append(to_dify_tool_call(raw, name, ids))
    if raw_calls and not calls:
        raise malformed(model, "its tool calls have no function name")
    if sum(len(call.function.arguments) + len(call.function.name) for call in calls) > MAX_ARGUMENTS_CHARS:
        raise malformed(model, "its tool calls are over 512 Ki characters, more than Dify can receive at once")
    return calls
