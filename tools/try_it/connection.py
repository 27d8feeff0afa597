"""Connecting to Ollama: its version and models, or why it cannot be used and what to do about it."""

from __future__ import annotations

import re

from models.connection import client_config
from models.input_errors import UserInputError
from ollama_client import OllamaClient, OllamaConnectionError, OllamaError, OllamaTimeoutError, RetryPolicy

from .console import Terminal, one_line
from .server_models import ServerModel, list_models


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
    except (OllamaError, UserInputError) as error:
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
