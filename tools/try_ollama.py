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

TOOLS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLS_DIR.parent
# tools/ is not a package and this file is run (or loaded by tests) by path, from any directory: make the
# plugin's packages and this command's steps (tools/try_it/) importable.
for _path in (REPO_ROOT, TOOLS_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# The SDK first, as in main.py: importing it patches the process for gevent like the plugin runtime.
import dify_plugin  # noqa: E402, F401  (isort: skip)

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

from try_it.audio_steps import AUDIO_SAMPLE, audio_chat_step, speech_to_text_step  # noqa: E402
from try_it.chat_steps import CHAT_PROMPT, TOOL_PROMPT, TOOLS, chat_step, run_local_tool, tool_step  # noqa: E402
from try_it.connection import connect  # noqa: E402
from try_it.console import Terminal, TerminalLogHandler, wants_colour  # noqa: E402
from try_it.embedding_step import embedding_step  # noqa: E402
from try_it.replies import Reply, ReplyPrinter, ThinkingSplitter  # noqa: E402
from try_it.rerank_step import rerank_step  # noqa: E402
from try_it.server_models import PULL_HINTS, ServerModel, list_models, print_models  # noqa: E402
from try_it.session import Outcome, Session  # noqa: E402

from models.rerank.settings import JudgePrompt, RerankMethod  # noqa: E402

__all__ = [
    "AUDIO_SAMPLE",
    "STEPS",
    "TOOLS",
    "Outcome",
    "Reply",
    "ReplyPrinter",
    "ServerModel",
    "Session",
    "Terminal",
    "ThinkingSplitter",
    "audio_chat_step",
    "chat_step",
    "connect",
    "embedding_step",
    "list_models",
    "main",
    "parse_args",
    "rerank_step",
    "run_local_tool",
    "speech_to_text_step",
    "tool_step",
]

DEFAULT_BASE_URL = "http://localhost:11434"
EXIT_OK, EXIT_STEP_FAILED, EXIT_UNUSABLE, EXIT_INTERRUPTED = 0, 1, 2, 130

STEPS: list[tuple[str, Callable[[Session], Outcome]]] = [
    ("Chat (streaming, thinking)", chat_step),
    ("Tool call round trip", tool_step),
    ("Text embedding", embedding_step),
    ("Rerank", rerank_step),
    ("Speech to text", speech_to_text_step),
    ("Audio in chat", audio_chat_step),
]


# --- command line --------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="try_ollama.py",
        description="Run the plugin's model classes against a live Ollama: models, chat with thinking, a tool "
        "call, embeddings, rerank, speech to text and audio in chat. Models are picked automatically unless named.",
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
    # What each step uses: a model, the rerank method and service, the judge's prompt. Unset: picked per server.
    for flag, choices, text in (
        ("--model", None, "chat model (default: the first with thinking, else the first chat model)"),
        ("--tool-model", None, "model for the tool call (default: --model if it has tools, else the first with tools)"),
        ("--embedding-model", None, "embedding model (default: the first embedding model)"),
        ("--audio-model", None, "model for the audio steps (default: the first with audio input)"),
        ("--rerank-method", RerankMethod, "default: auto (picks per Base URL and model, like the plugin's default)"),
        ("--rerank-model", None, "default: the embedding model if there is one, else a chat model"),
        ("--rerank-url", None, "a rerank service, for auto or compatible_service (key: $RERANK_API_KEY)"),
        (
            "--judge-prompt",
            JudgePrompt,
            "prompt format for llm_judge (default chat; qwen3_reranker for Qwen3-Reranker models)",
        ),
    ):
        parser.add_argument(flag, choices=None if choices is None else [choice.value for choice in choices], help=text)
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
