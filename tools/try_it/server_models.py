"""The models on the Ollama server, with their capabilities, and the tests that pick one for a step."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ollama_client import ModelInfo, OllamaClient, OllamaError, get_model_info

from .console import Terminal

PULL_HINTS = {
    "chat": "`ollama pull qwen3` (chat, tools, thinking) or `ollama pull llama3.2`",
    "tools": "`ollama pull qwen3` or `ollama pull llama3.2` (both call tools)",
    "embedding": "`ollama pull nomic-embed-text` or `ollama pull bge-m3`",
    "audio": "`ollama pull gemma4:e4b` (audio input needs Ollama 0.20.0 or later)",
}


@dataclass(frozen=True)
class ServerModel:
    name: str
    parameter_size: str
    info: ModelInfo | None  # None when /api/show failed
    problem: str | None = None

    def has(self, capability: str) -> bool | None:
        return self.info.has(capability) if self.info is not None else None

    def describe_capabilities(self) -> str:
        if self.info is None:
            return f"unknown ({self.problem})"
        if self.info.capabilities is None:
            return "not reported (Ollama older than 0.6.4)"
        described = ", ".join(sorted(self.info.capabilities)) or "none"
        if self.info.embedding_length and "embedding" in self.info.capabilities:
            described += f" ({self.info.embedding_length} dims)"
        return described


def list_models(client: OllamaClient) -> list[ServerModel]:
    """/api/tags, then /api/show for each model (a few at a time: ollama.com lists dozens)."""
    tags = client.tags()

    def read(tag: dict[str, Any]) -> ServerModel:
        name = str(tag.get("name") or tag.get("model") or "")
        details = tag.get("details") if isinstance(tag.get("details"), dict) else {}
        size = str(details.get("parameter_size") or "")
        try:
            return ServerModel(name, size, get_model_info(client, name))
        except OllamaError as error:
            return ServerModel(name, size, None, problem=f"/api/show failed: {type(error).__name__}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(read, [tag for tag in tags if tag.get("name") or tag.get("model")]))


def print_models(terminal: Terminal, models: Sequence[ServerModel]) -> None:
    rows = [("NAME", "CAPABILITIES", "CONTEXT", "SIZE")]
    for model in models:
        context = str(model.info.context_length) if model.info and model.info.context_length else "?"
        rows.append((model.name, model.describe_capabilities(), context, model.parameter_size))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for number, row in enumerate(rows):
        text = "  " + "  ".join(cell.ljust(widths[column]) for column, cell in enumerate(row[:3])) + "  " + row[3]
        terminal.line(text.rstrip(), "bold" if number == 0 else None)


def can_chat(model: ServerModel) -> bool:
    if model.info is not None and model.info.capabilities is not None:
        return model.has("completion") is True
    return "embed" not in model.name.lower()  # capabilities unknown: guess by name


def can_think(model: ServerModel) -> bool:
    return can_chat(model) and model.has("thinking") is True


def can_call_tools(model: ServerModel) -> bool:
    return can_chat(model) and model.has("tools") is True


def can_embed(model: ServerModel) -> bool:
    if model.info is not None and model.info.capabilities is not None:
        return model.has("embedding") is True
    return "embed" in model.name.lower()


def first(models: Iterable[ServerModel], *conditions: Callable[[ServerModel], bool]) -> ServerModel | None:
    return next((model for model in models if all(condition(model) for condition in conditions)), None)
