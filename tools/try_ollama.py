#!/usr/bin/env python3
"""Try the plugin against a live Ollama before uploading it to Dify.

Runs the plugin's own model classes in this process and calls them the way Dify does
(validate_credentials, get_model_schema, invoke): lists the server's models with their capabilities,
streams a chat answer with its thinking, makes a tool-call round trip, embeds a few texts and reranks a
few documents.

    python tools/try_ollama.py [--base-url URL] [--api-key KEY] [--model M] [--embedding-model E] ...
    make try BASE_URL=http://192.168.1.20:11434 MODEL=qwen3

An expected failure (Ollama down, a model not pulled, a wrong key) prints one line and the next step runs;
never a traceback. Exit status: 0 every step passed or was skipped, 1 a step failed, 2 Ollama could not be
used at all (not reachable, wrong address or key).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # so `python tools/try_ollama.py` works from any directory

# The SDK first, as in main.py: importing it patches the process for gevent like the plugin runtime.
import dify_plugin  # noqa: E402  (isort: skip)

import argparse  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime  # noqa: E402
from enum import Enum  # noqa: E402
from typing import Any, TextIO  # noqa: E402

from dify_plugin.entities.model import AIModelEntity, EmbeddingInputType, ModelFeature, ModelPropertyKey  # noqa: E402
from dify_plugin.entities.model.llm import LLMResultChunk, LLMUsage  # noqa: E402
from dify_plugin.entities.model.message import (  # noqa: E402
    AssistantPromptMessage,
    AudioPromptMessageContent,
    PromptMessage,
    PromptMessageTool,
    TextPromptMessageContent,
    ToolPromptMessage,
    UserPromptMessage,
)
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeError  # noqa: E402

from models.connection import client_config  # noqa: E402
from models.llm.llm import OllamaLargeLanguageModel  # noqa: E402
from models.rerank.auto import resolve_method  # noqa: E402
from models.rerank.rerank import OllamaRerankModel  # noqa: E402
from models.rerank.settings import JUDGE_PROMPT, METHOD_LABELS, JudgePrompt, RerankMethod  # noqa: E402
from models.speech2text.speech2text import OllamaSpeech2TextModel  # noqa: E402
from models.text_embedding.text_embedding import OllamaTextEmbeddingModel  # noqa: E402
from ollama_client import (  # noqa: E402
    ModelInfo,
    OllamaClient,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    RetryPolicy,
    get_model_info,
)

DEFAULT_BASE_URL = "http://localhost:11434"
EXIT_OK, EXIT_STEP_FAILED, EXIT_UNUSABLE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Failures the plugin reports on purpose, with a message that says what to do: one line, no traceback.
EXPECTED_ERRORS = (InvokeError, CredentialsValidateFailedError, OllamaError)

CHAT_PROMPT = "In two short sentences: why is the sky blue?"
TOOL_PROMPT = "What is 1234 + 5678? Use the add tool to work it out, then answer in one short sentence."
MAX_TOOL_ROUNDS = 3
EMBED_TEXTS = [
    "Ollama runs large language models on your own machine.",
    "Dify builds AI applications on top of model providers.",
    "Bananas are rich in potassium.",
]
RERANK_QUERY = "What is the capital of France?"
RERANK_DOCUMENTS = [
    "Bananas are rich in potassium.",
    "Paris is the capital and largest city of France.",
    "France is a country in Western Europe.",
]
TOOLS = [
    PromptMessageTool(
        name="add",
        description="Add two numbers and return the sum.",
        parameters={
            "type": "object",
            "properties": {
                "a": {"type": "number", "description": "The first number"},
                "b": {"type": "number", "description": "The second number"},
            },
            "required": ["a", "b"],
        },
    ),
    PromptMessageTool(
        name="get_time",
        description="The current local date and time on the user's machine.",
        parameters={"type": "object", "properties": {}},
    ),
]
PULL_HINTS = {
    "chat": "`ollama pull qwen3` (chat, tools, thinking) or `ollama pull llama3.2`",
    "tools": "`ollama pull qwen3` or `ollama pull llama3.2` (both call tools)",
    "embedding": "`ollama pull nomic-embed-text` or `ollama pull bge-m3`",
    "audio": "`ollama pull gemma4:e4b` (audio input needs Ollama 0.20.0 or later)",
}


# --- terminal output ---------------------------------------------------------------------------------

ANSI_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
# Status word and colour at the start of a result line.
MARKS = {"ok": ("ok", "green"), "fail": ("FAIL", "red"), "skip": ("skip", "yellow"), "note": ("note", "yellow")}
SECTION_LABELS = {"thinking": "--- thinking ---", "answer": "--- answer ---", "transcript": "--- transcript ---"}


class Terminal:
    """Plain text for any terminal or log file; ANSI colour only on a TTY without NO_COLOR."""

    def __init__(self, out: TextIO, colour: bool) -> None:
        self.out = out
        self.colour = colour
        self._at_line_start = True

    def paint(self, text: str, style: str | None) -> str:
        if not (self.colour and style and text):
            return text
        return f"\x1b[{ANSI_CODES[style]}m{text}\x1b[0m"

    def write(self, text: str, style: str | None = None, indent: str = "") -> None:
        """Write text that may come in pieces (a stream), indenting every line it starts."""
        for line in text.splitlines(keepends=True):
            if self._at_line_start and indent:
                self.out.write(indent)
            body = line.rstrip("\n")
            self.out.write(self.paint(body, style) + line[len(body) :])
            self._at_line_start = line.endswith("\n")
        self.out.flush()

    def end_line(self) -> None:
        if not self._at_line_start:
            self.write("\n")

    def line(self, text: str = "", style: str | None = None) -> None:
        self.end_line()
        self.write(text + "\n", style)

    def heading(self, text: str) -> None:
        self.line()
        self.line(f"== {text} ==", "bold")

    def mark(self, kind: str, text: str) -> None:
        label, style = MARKS[kind]
        self.line(f"  {self.paint(f'{label:<5}', style)} {one_line(text)}")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def wants_colour(out: TextIO, environ: Mapping[str, str]) -> bool:
    """https://no-color.org: any non-empty NO_COLOR turns colour off; so does output that is not a terminal."""
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and not environ.get("NO_COLOR")


class TerminalLogHandler(logging.Handler):
    """The plugin's own warnings (e.g. a prompt that filled the context) shown in the flow of the output."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__(logging.WARNING)
        self.terminal = terminal

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.terminal.mark("note", f"plugin log: {record.getMessage()}")
        except Exception:  # a log line must never break the run
            self.handleError(record)


# --- the plugin's streamed content: thinking, then the answer ------------------------------------------


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


# --- the server's models -------------------------------------------------------------------------------


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


# --- steps ---------------------------------------------------------------------------------------------


class Outcome(Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class Session:
    terminal: Terminal
    credentials: dict[str, str]
    models: list[ServerModel]
    args: argparse.Namespace
    outcomes: list[Outcome] = field(default_factory=list)

    def known(self, name: str) -> ServerModel | None:
        wanted = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
        return next((model for model in self.models if model.name in (name, wanted)), None)

    def run(self, title: str, step: Callable[[Session], Outcome]) -> None:
        self.terminal.heading(title)
        try:
            outcome = step(self)
        except EXPECTED_ERRORS as error:
            self.terminal.mark("fail", f"{type(error).__name__}: {error}")
            outcome = Outcome.FAILED
        except Exception as error:  # a bug, not a server problem: still one line unless --debug
            self.terminal.mark(
                "fail",
                f"unexpected {type(error).__name__}: {error} (a bug in the plugin? rerun with --debug for the "
                "traceback and report it)",
            )
            if self.args.debug:
                self.terminal.end_line()
                traceback.print_exc(file=self.terminal.out)
            outcome = Outcome.FAILED
        self.outcomes.append(outcome)


def choose_model(
    session: Session, given: str | None, purpose: str, picks: Sequence[tuple[str, Callable[[ServerModel], bool]]]
) -> str | None:
    """The model named on the command line, else the first listed one that passes a pick (in order)."""
    if given:
        session.terminal.line(f"  model: {given} (from the command line)")
        return given
    for reason, condition in picks:
        found = first(session.models, condition)
        if found is not None:
            session.terminal.line(f"  model: {found.name} (picked: {reason})")
            return found.name
    session.terminal.mark("skip", f"no {purpose} model on this server; pull one, e.g. {PULL_HINTS[purpose]}")
    return None


def describe_llm_schema(schema: AIModelEntity | None) -> str:
    if schema is None:
        return "get_model_schema: Dify would get no schema for this model"
    mode = schema.model_properties.get(ModelPropertyKey.MODE, "?")
    context = schema.model_properties.get(ModelPropertyKey.CONTEXT_SIZE, "?")
    features = ", ".join(feature.value for feature in schema.features or []) or "none"
    return f"get_model_schema: {mode} mode, context {context} tokens, features: {features}"


def chat_step(session: Session) -> Outcome:
    terminal, credentials = session.terminal, session.credentials
    model = choose_model(
        session,
        session.args.model,
        "chat",
        [("first model with thinking", can_think), ("first chat model", can_chat)],
    )
    if model is None:
        return Outcome.SKIPPED
    llm = OllamaLargeLanguageModel(model_schemas=[])
    llm.validate_credentials(model, credentials)
    terminal.mark("ok", "validate_credentials: Dify would accept this model")
    terminal.mark("ok", describe_llm_schema(llm.get_model_schema(model, credentials)))
    terminal.line(f"  you> {session.args.prompt}")
    messages: list[PromptMessage] = [UserPromptMessage(content=session.args.prompt)]
    reply = ReplyPrinter(terminal).print_stream(llm.invoke(model, credentials, messages, {}, stream=True))
    if not reply.answer.strip():
        terminal.mark("note", "the model sent no answer text")
    if reply.finish_reason == "length":
        terminal.mark("note", "the answer was cut off by the token limit (Max tokens / context size)")
    terminal.mark("ok", describe_finish(reply))
    return Outcome.PASSED


def run_local_tool(call: AssistantPromptMessage.ToolCall) -> str:
    """Execute one of TOOLS here, as a Dify agent would; problems go back to the model as text."""
    try:
        arguments = json.loads(call.function.arguments or "{}")
    except ValueError:
        return f"error: the arguments are not JSON: {call.function.arguments}"
    if not isinstance(arguments, dict):
        return "error: the arguments must be a JSON object"
    if call.function.name == "get_time":
        return datetime.now().astimezone().isoformat(timespec="seconds")
    if call.function.name == "add":
        try:
            total = float(arguments["a"]) + float(arguments["b"])
        except (KeyError, TypeError, ValueError):
            return 'error: add needs two numbers, e.g. {"a": 1, "b": 2}'
        return str(int(total)) if total.is_integer() else str(total)
    return f"error: there is no tool named '{call.function.name}'"


def no_tool_call_advice(model: str, known: ServerModel | None, *, thinking_off: bool) -> str:
    """Why answering without a tool call fails this step, and what to try."""
    advice = (
        f"'{model}' answered without calling the add tool, so in a Dify agent its tools would never run. Use a "
        "model with the 'tools' capability that calls tools reliably (--tool-model, e.g. qwen3:8b or llama3.1:8b); "
        "small models often answer directly."
    )
    if known is not None and known.has("thinking") and not thinking_off:
        advice += (
            " Small thinking models call tools more reliably with thinking off: rerun with --tool-no-think, and in "
            "Dify switch the model's Thinking parameter off."
        )
    return advice


def tool_step(session: Session) -> Outcome:
    terminal, credentials, args = session.terminal, session.credentials, session.args
    given = args.tool_model
    if given is None and args.model:
        known = session.known(args.model)
        if known is not None and known.has("tools") is not False:
            given = args.model
    model = choose_model(session, given, "tools", [("first chat model with tool calling", can_call_tools)])
    if model is None:
        return Outcome.SKIPPED
    llm = OllamaLargeLanguageModel(model_schemas=[])
    llm.validate_credentials(model, credentials)
    terminal.mark("ok", "validate_credentials: Dify would accept this model")
    schema = llm.get_model_schema(model, credentials)
    terminal.mark("ok", describe_llm_schema(schema))
    if schema is not None and ModelFeature.TOOL_CALL not in (schema.features or []):
        terminal.mark(
            "skip",
            f"Dify would not give tools to '{model}' (no tool-call feature): Ollama does not list 'tools' for it, "
            "or 'Tool calling support' is No. Pick a model with tools, e.g. qwen3 or llama3.2.",
        )
        return Outcome.SKIPPED
    terminal.line(f"  tools: {', '.join(tool.name for tool in TOOLS)}")
    terminal.line(f"  you> {args.tool_prompt}")
    messages: list[PromptMessage] = [UserPromptMessage(content=args.tool_prompt)]
    parameters = {"think": False} if args.tool_no_think else {}
    calls_made = 0
    for _ in range(MAX_TOOL_ROUNDS):
        reply = ReplyPrinter(terminal).print_stream(
            llm.invoke(model, credentials, messages, parameters, TOOLS, stream=True)
        )
        if not reply.tool_calls:
            break
        # Sent back as Dify's agent does: the assistant turn with its calls, then one tool message per call.
        messages.append(AssistantPromptMessage(content=reply.content, tool_calls=reply.tool_calls))
        for call in reply.tool_calls:
            result = run_local_tool(call)
            terminal.line(f"  tool call    {call.function.name}({call.function.arguments})  id {call.id}", "cyan")
            terminal.line(f"  tool result  {result}", "cyan")
            messages.append(ToolPromptMessage(content=result, tool_call_id=call.id, name=call.function.name))
        calls_made += len(reply.tool_calls)
    else:
        terminal.mark("note", f"the model still called tools after {MAX_TOOL_ROUNDS} rounds; stopped there")
    if calls_made == 0:
        terminal.mark("fail", no_tool_call_advice(model, session.known(model), thinking_off=args.tool_no_think))
        return Outcome.FAILED
    terminal.mark("ok", f"{calls_made} tool call(s) executed; {describe_finish(reply)}")
    return Outcome.PASSED


def embedding_model_choice(session: Session) -> tuple[str | None, str]:
    if session.args.embedding_model:
        return session.args.embedding_model, "from the command line"
    found = first(session.models, can_embed)
    return (found.name, "picked: first embedding model") if found else (None, "")


def embedding_step(session: Session) -> Outcome:
    terminal, credentials = session.terminal, session.credentials
    model = choose_model(session, session.args.embedding_model, "embedding", [("first embedding model", can_embed)])
    if model is None:
        return Outcome.SKIPPED
    embedder = OllamaTextEmbeddingModel(model_schemas=[])
    embedder.validate_credentials(model, credentials)
    terminal.mark("ok", "validate_credentials: Dify would accept this model")
    schema = embedder.get_model_schema(model, credentials)
    if schema is not None:
        properties = schema.model_properties
        terminal.mark(
            "ok",
            f"get_model_schema: context {properties.get(ModelPropertyKey.CONTEXT_SIZE)} tokens, "
            f"up to {properties.get(ModelPropertyKey.MAX_CHUNKS)} texts per call",
        )
    result = embedder.invoke(model, credentials, EMBED_TEXTS, input_type=EmbeddingInputType.DOCUMENT)
    for text, vector in zip(EMBED_TEXTS, result.embeddings, strict=False):
        head = ", ".join(f"{value:+.4f}" for value in vector[:3])
        terminal.line(f"  [{head}, …]  {text}")
    dimensions = sorted({len(vector) for vector in result.embeddings})
    shown = " or ".join(str(size) for size in dimensions) or "0"
    terminal.mark(
        "ok",
        f"{len(result.embeddings)} vectors of {shown} dimensions, {result.usage.total_tokens} tokens, "
        f"{result.usage.latency:.2f} s",
    )
    return Outcome.PASSED


def rerank_setup(session: Session) -> tuple[RerankMethod, str, dict[str, str]] | None:
    """(method, model, credentials) for the rerank step, or None after printing why it is skipped."""
    terminal, args = session.terminal, session.args
    embedding_model, embedding_reason = embedding_model_choice(session)
    method = RerankMethod(args.rerank_method) if args.rerank_method else RerankMethod.AUTO
    source = "from the command line" if args.rerank_method else "the default; choose another with --rerank-method"
    terminal.line(f"  method: {METHOD_LABELS[method]} ({source})")
    credentials = {**session.credentials, "rerank_method": method.value}
    if method is RerankMethod.LLM_JUDGE and args.judge_prompt:
        credentials[JUDGE_PROMPT] = args.judge_prompt
    if method is RerankMethod.COMPATIBLE_SERVICE or (method is RerankMethod.AUTO and args.rerank_url):
        if not args.rerank_url or not args.rerank_model:
            terminal.mark("skip", "a rerank service needs --rerank-url and --rerank-model")
            return None
        credentials.update(base_url=args.rerank_url, api_key=os.environ.get("RERANK_API_KEY", ""))
        terminal.line(f"  model: {args.rerank_model} (from the command line)")
        return method, args.rerank_model, credentials
    if args.rerank_model:
        terminal.line(f"  model: {args.rerank_model} (from the command line)")
        return method, args.rerank_model, credentials
    if method is not RerankMethod.LLM_JUDGE and embedding_model is not None:
        terminal.line(f"  model: {embedding_model} ({embedding_reason})")
        return method, embedding_model, credentials
    if method is RerankMethod.EMBEDDING_SIMILARITY:
        terminal.mark("skip", f"no embedding model on this server; pull one, e.g. {PULL_HINTS['embedding']}")
        return None
    if args.model:
        terminal.line(f"  model: {args.model} (--model)")
        return method, args.model, credentials
    judge = first(session.models, can_chat, lambda m: "rerank" in m.name.lower()) or first(session.models, can_chat)
    if judge is None:
        terminal.mark("skip", f"no chat model to judge with; pull one, e.g. {PULL_HINTS['chat']}")
        return None
    terminal.line(f"  model: {judge.name} (picked: first chat model, a '*rerank*' one preferred)")
    return method, judge.name, credentials


def rerank_step(session: Session) -> Outcome:
    terminal = session.terminal
    setup = rerank_setup(session)
    if setup is None:
        return Outcome.SKIPPED
    method, model, credentials = setup
    reranker = OllamaRerankModel(model_schemas=[])
    reranker.validate_credentials(model, credentials)
    terminal.mark("ok", "validate_credentials: Dify would accept this model")
    if method is RerankMethod.AUTO:  # validation has just resolved it; this reads the cached choice
        terminal.line(f"  Auto chose: {resolve_method(credentials, model).describe()}")
    result = reranker.invoke(model, credentials, RERANK_QUERY, RERANK_DOCUMENTS)
    terminal.line(f"  query: {RERANK_QUERY}")
    for rank, document in enumerate(result.docs, start=1):
        terminal.line(f"  {rank}. {document.score:.4f}  {document.text}  (document #{document.index})")
    terminal.mark("ok", f"{len(result.docs)} of {len(RERANK_DOCUMENTS)} documents ranked")
    return Outcome.PASSED


# --- audio: speech to text and audio in chat ---------------------------------------------------------------

AUDIO_SAMPLE = Path(dify_plugin.__file__).parent / "interfaces" / "model" / "audio.mp3"  # ships with the SDK
AUDIO_CHAT_PROMPT = "Listen to this recording. In one short sentence: what is said?"


def can_hear(model: ServerModel) -> bool:
    return model.has("audio") is True


def choose_audio_model(session: Session) -> str | None:
    return choose_model(session, session.args.audio_model, "audio", [("first model with audio input", can_hear)])


@contextmanager
def plugin_log_off_stdout() -> Iterator[None]:
    """The speech-to-text adapter logs to the daemon as JSON on stdout; here the step prints its own summary."""
    speech_logger = logging.getLogger(OllamaSpeech2TextModel.__module__)
    removed = [handler for handler in speech_logger.handlers if isinstance(handler, logging.StreamHandler)]
    for handler in removed:
        speech_logger.removeHandler(handler)
    try:
        yield
    finally:
        for handler in removed:
            speech_logger.addHandler(handler)


def speech_to_text_step(session: Session) -> Outcome:
    terminal, credentials = session.terminal, session.credentials
    model = choose_audio_model(session)
    if model is None:
        return Outcome.SKIPPED
    transcriber = OllamaSpeech2TextModel(model_schemas=[])
    transcriber.validate_credentials(model, credentials)
    terminal.mark("ok", "validate_credentials: Dify would accept this model as Speech2text")
    terminal.line(f"  audio: {AUDIO_SAMPLE.name} from dify_plugin (MP3, {AUDIO_SAMPLE.stat().st_size:,} bytes)")
    started = time.perf_counter()
    with plugin_log_off_stdout(), AUDIO_SAMPLE.open("rb") as audio:
        text = transcriber.invoke(model, credentials, audio)
    elapsed = time.perf_counter() - started
    terminal.line(f"  {SECTION_LABELS['transcript']}", "cyan")
    terminal.write((text or "(no words)") + "\n", indent="    ")
    if not text.strip():
        terminal.mark("note", "the model heard no words in the sample")
    terminal.mark("ok", f"transcribed in {elapsed:.2f} s")
    return Outcome.PASSED


def audio_chat_step(session: Session) -> Outcome:
    terminal, credentials = session.terminal, session.credentials
    model = choose_audio_model(session)
    if model is None:
        return Outcome.SKIPPED
    llm = OllamaLargeLanguageModel(model_schemas=[])
    llm.validate_credentials(model, credentials)
    terminal.mark("ok", "validate_credentials: Dify would accept this model as LLM")
    schema = llm.get_model_schema(model, credentials)
    terminal.mark("ok", describe_llm_schema(schema))
    if schema is None or ModelFeature.AUDIO not in (schema.features or []):
        terminal.mark(
            "skip",
            f"Dify would not give audio to '{model}' as an LLM: its schema has no audio feature (this plugin "
            "version, or the model's audio switch, does not declare it)",
        )
        return Outcome.SKIPPED
    audio = base64.b64encode(AUDIO_SAMPLE.read_bytes()).decode("ascii")
    terminal.line(f"  you> {AUDIO_CHAT_PROMPT}  [+ {AUDIO_SAMPLE.name}]")
    message = UserPromptMessage(
        content=[
            TextPromptMessageContent(data=AUDIO_CHAT_PROMPT),
            AudioPromptMessageContent(base64_data=audio, format="mp3", mime_type="audio/mpeg"),
        ]
    )
    reply = ReplyPrinter(terminal).print_stream(llm.invoke(model, credentials, [message], {}, stream=True))
    if not reply.answer.strip():
        terminal.mark("note", "the model sent no answer text")
    terminal.mark("ok", describe_finish(reply))
    return Outcome.PASSED


STEPS: list[tuple[str, Callable[[Session], Outcome]]] = [
    ("Chat (streaming, thinking)", chat_step),
    ("Tool call round trip", tool_step),
    ("Text embedding", embedding_step),
    ("Rerank", rerank_step),
    ("Speech to text", speech_to_text_step),
    ("Audio in chat", audio_chat_step),
]


# --- connecting ----------------------------------------------------------------------------------------


def first_sentence(text: str) -> str:
    """What failed, without the advice that follows it in the client's messages (given here instead)."""
    match = re.match(r"(.+?[.!?])(\s|$)", one_line(text))
    return match.group(1) if match else one_line(text)


def explain_unreachable(terminal: Terminal, error: OllamaError) -> None:
    terminal.mark("fail", f"Ollama is not reachable. {first_sentence(str(error))}")
    for label, text in (
        ("Start Ollama:", "ollama serve   (or open the Ollama app), then run this again"),
        ("Ollama in Docker:", "docker run -d -p 11434:11434 --name ollama ollama/ollama"),
        ("Other address:", "--base-url http://HOST:11434   (make try BASE_URL=http://HOST:11434)"),
        ("Remote Ollama:", "start it with OLLAMA_HOST=0.0.0.0 so it listens beyond localhost; open port 11434"),
        ("Dify in Docker:", "in Dify, 'localhost' is Dify's own container: enter http://host.docker.internal:11434"),
        ("", "or the LAN IP of the Ollama machine as the Base URL"),
    ):
        terminal.line(f"        {label:<18} {text}")


def connect(terminal: Terminal, credentials: dict[str, str]) -> list[ServerModel] | None:
    """The server's models, or None after explaining why the server cannot be used."""
    try:
        config = client_config(credentials)
    except OllamaError as error:
        terminal.mark("fail", str(error))
        return None
    terminal.line(f"Trying the Ollama plugin's model classes against {config.base_url}", "bold")
    # One attempt: a person is waiting, and a refused connection will not be accepted half a second later.
    client = OllamaClient(config, retry=RetryPolicy(attempts=1))
    try:
        version = client.version() or "(version not reported)"
    except (OllamaConnectionError, OllamaTimeoutError) as error:
        explain_unreachable(terminal, error)
        return None
    except OllamaError:
        version = "(version not reported)"  # e.g. a proxy without /api/version; /api/tags decides
    try:
        models = list_models(client)
    except (OllamaConnectionError, OllamaTimeoutError) as error:
        explain_unreachable(terminal, error)
        return None
    except OllamaError as error:
        terminal.mark("fail", f"listing the models failed: {type(error).__name__}: {error}")
        return None
    key_note = "API key set (not shown)" if config.api_key else "no API key"
    terminal.line(f"Ollama {version}, {key_note}")
    return models


# --- command line --------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="try_ollama.py",
        description="Run the plugin's model classes against a live Ollama: models, chat with thinking, a tool "
        "call, embeddings and rerank. Models are picked automatically unless named.",
        epilog="examples:\n"
        "  python tools/try_ollama.py --base-url http://192.168.1.20:11434 --model qwen3:8b\n"
        "  OLLAMA_API_KEY=... python tools/try_ollama.py --base-url https://ollama.com --model gpt-oss:120b\n"
        "  make try BASE_URL=http://localhost:11434 EMBEDDING_MODEL=bge-m3 RERANK_METHOD=llm_judge\n"
        "exit status: 0 every step passed or was skipped, 1 a step failed, 2 Ollama could not be used",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help=f"Ollama's address (default {DEFAULT_BASE_URL})")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("OLLAMA_API_KEY", ""),
        help="for https://ollama.com or an authenticating proxy (default: $OLLAMA_API_KEY); never printed",
    )
    parser.add_argument("--timeout", help="request timeout in seconds (default: the plugin's, 600)")
    parser.add_argument("--model", help="chat model (default: the first with thinking, else the first chat model)")
    parser.add_argument(
        "--tool-model", help="model for the tool call (default: --model if it has tools, else the first with tools)"
    )
    parser.add_argument("--embedding-model", help="embedding model (default: the first embedding model)")
    parser.add_argument("--audio-model", help="model for the audio steps (default: the first with audio input)")
    parser.add_argument(
        "--rerank-method",
        choices=[method.value for method in RerankMethod],
        help="default: auto (picks per Base URL and model, like the plugin's default)",
    )
    parser.add_argument("--rerank-model", help="default: the embedding model if there is one, else a chat model")
    parser.add_argument("--rerank-url", help="a rerank service, for auto or compatible_service (key: $RERANK_API_KEY)")
    parser.add_argument(
        "--judge-prompt",
        choices=[prompt.value for prompt in JudgePrompt],
        help="prompt format for llm_judge (default chat; qwen3_reranker for Qwen3-Reranker models)",
    )
    parser.add_argument("--prompt", default=CHAT_PROMPT, help="what to ask in the chat step")
    parser.add_argument("--tool-prompt", default=TOOL_PROMPT, help="what to ask in the tool-call step")
    parser.add_argument(
        "--tool-no-think",
        action="store_true",
        help="thinking off in the tool-call step (as Dify's Thinking parameter off); helps small thinking models",
    )
    parser.add_argument("--no-color", action="store_true", help="plain output even on a terminal")
    parser.add_argument("--debug", action="store_true", help="print tracebacks of unexpected errors")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    terminal = Terminal(sys.stdout, colour=not args.no_color and wants_colour(sys.stdout, os.environ))
    credentials = {"base_url": args.base_url}
    if args.api_key.strip():
        credentials["api_key"] = args.api_key.strip()
    if args.timeout:
        credentials["timeout"] = args.timeout
    log_handler = TerminalLogHandler(terminal)
    root_logger = logging.getLogger()
    root_logger.addHandler(log_handler)
    try:
        models = connect(terminal, credentials)
        if models is None:
            return EXIT_UNUSABLE
        terminal.heading("Models on the server (/api/tags + /api/show)")
        if models:
            print_models(terminal, models)
        else:
            terminal.mark("note", f"no models pulled yet; e.g. {PULL_HINTS['chat']}, {PULL_HINTS['embedding']}")
        session = Session(terminal, credentials, models, args)
        for title, step in STEPS:
            session.run(title, step)
        counts = {outcome: session.outcomes.count(outcome) for outcome in Outcome}
        terminal.line()
        summary = ", ".join(f"{count} {outcome.value}" for outcome, count in counts.items())
        failed = counts[Outcome.FAILED] > 0
        terminal.line(f"Summary: {summary}", "red" if failed else "green")
        return EXIT_STEP_FAILED if failed else EXIT_OK
    except KeyboardInterrupt:
        terminal.line("interrupted")
        return EXIT_INTERRUPTED
    finally:
        root_logger.removeHandler(log_handler)


if __name__ == "__main__":
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # a model may answer in characters the console cannot show
    sys.exit(main())
