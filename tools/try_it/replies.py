"""The plugin's streamed reply as the try-it command shows it: the thinking block, then the answer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dify_plugin.entities.model.llm import LLMResultChunk, LLMUsage
from dify_plugin.entities.model.message import AssistantPromptMessage

from .console import SECTION_LABELS, Terminal


class ThinkingSplitter:
    """Splits the content the plugin streams into ("thinking", text) and ("answer", text) pieces.

    The plugin sends thinking as one `<think>\\n…\\n</think>` block in front of the answer (how Dify shows
    reasoning); the markers are recognised even if they arrive split over several chunks.
    """

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self._state = "start"
        self._pending = ""

    def feed(self, text: str) -> list[tuple[str, str]]:
        self._pending += text
        pieces: list[tuple[str, str]] = []
        while True:
            if self._state == "start":
                stripped = self._pending.lstrip()
                if stripped.startswith(self.OPEN):
                    self._pending = stripped[len(self.OPEN) :]
                    self._state = "thinking"
                elif self.OPEN.startswith(stripped):
                    break  # blank so far, or the opening marker is still arriving
                else:
                    self._state = "answer"
            elif self._state == "thinking":
                end = self._pending.find(self.CLOSE)
                if end >= 0:
                    pieces.append(("thinking", self._pending[:end]))
                    self._pending = self._pending[end + len(self.CLOSE) :]
                    self._state = "answer"
                    continue
                cut = len(self._pending) - _partial_marker_length(self._pending, self.CLOSE)
                pieces.append(("thinking", self._pending[:cut]))
                self._pending = self._pending[cut:]
                break
            else:
                pieces.append(("answer", self._pending))
                self._pending = ""
                break
        return [(kind, piece) for kind, piece in pieces if piece]

    def finish(self) -> list[tuple[str, str]]:
        kind = "thinking" if self._state == "thinking" else "answer"
        rest, self._pending = self._pending, ""
        return [(kind, rest)] if rest else []


def _partial_marker_length(text: str, marker: str) -> int:
    """Length of the longest start of `marker` that `text` ends with (it may complete in the next chunk)."""
    for length in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:length]):
            return length
    return 0


@dataclass
class Reply:
    content: str = ""
    tool_calls: list[AssistantPromptMessage.ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: LLMUsage | None = None
    answer: str = ""  # the content without the thinking block


class ReplyPrinter:
    """Shows a streamed reply with labelled thinking and answer sections."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.splitter = ThinkingSplitter()
        self.section: str | None = None
        self._started = False  # the section has shown visible text
        self._held = ""  # trailing whitespace, written only if more text follows in the same section

    def show(self, kind: str, text: str) -> None:
        if kind != self.section:
            self.terminal.line(f"  {SECTION_LABELS[kind]}", "cyan")
            self.section, self._started, self._held = kind, False, ""
        text = self._held + text
        if not self._started:
            text = text.lstrip()  # models put blank lines around their thinking
        visible = text.rstrip()
        self._held = text[len(visible) :]
        if visible:
            self._started = True
            self.terminal.write(visible, "dim" if kind == "thinking" else None, indent="    ")

    def print_stream(self, chunks: Iterable[LLMResultChunk]) -> Reply:
        reply = Reply()
        for chunk in chunks:
            delta = chunk.delta
            text = delta.message.content if isinstance(delta.message.content, str) else ""
            if text:
                reply.content += text
                for kind, piece in self.splitter.feed(text):
                    reply.answer += piece if kind == "answer" else ""
                    self.show(kind, piece)
            reply.tool_calls.extend(delta.message.tool_calls)
            if delta.finish_reason:
                reply.finish_reason = delta.finish_reason
            if delta.usage is not None:
                reply.usage = delta.usage
        for kind, piece in self.splitter.finish():
            reply.answer += piece if kind == "answer" else ""
            self.show(kind, piece)
        self.terminal.end_line()
        return reply


def describe_finish(reply: Reply) -> str:
    parts = [f"finished: {reply.finish_reason or 'unknown'}"]
    if reply.usage is not None:
        parts.append(f"{reply.usage.prompt_tokens} prompt + {reply.usage.completion_tokens} completion tokens")
        parts.append(f"{reply.usage.latency:.2f} s")
    return ", ".join(parts)
