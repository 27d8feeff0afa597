"""Read the credential fields every model type shares and build the Ollama client for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.input_errors import UserInputError
from models.settings_fields import NumberField
from ollama_client import DEFAULT_TIMEOUT_SECONDS, ClientConfig, Deadline, OllamaClient

# Field names in provider/ollama.yaml (model_credential_schema).
BASE_URL = "base_url"
API_KEY = "api_key"
TIMEOUT = "timeout"

MIN_TIMEOUT_SECONDS = 1.0
MAX_TIMEOUT_SECONDS = 3600.0


# The form says 1–3600: less than a second cannot cover even a warm model's first token.
TIMEOUT_FIELD = NumberField(
    TIMEOUT, "Request timeout", MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS, "seconds", "600"
)


def parse_timeout(raw: Any) -> float:
    """Seconds from the 'Request timeout' field; empty means the default. Raises UserInputError."""
    return TIMEOUT_FIELD.parse(raw)


def client_config(credentials: Mapping[str, Any]) -> ClientConfig:
    return ClientConfig.create(
        base_url=credentials.get(BASE_URL),
        api_key=credentials.get(API_KEY),
        timeout=parse_timeout(credentials.get(TIMEOUT)),
    )


def ollama_client(credentials: Mapping[str, Any], deadline: Deadline | None = None) -> OllamaClient:
    """Client for the server these credentials name; raises OllamaConfigError (Base URL, API key) or
    UserInputError (Request timeout) for bad fields. With `deadline` every call it makes must be over by then
    (one invoke's shared deadline), else each gets Request timeout."""
    return OllamaClient(client_config(credentials), deadline=deadline)


def invoke_deadline(credentials: Mapping[str, Any]) -> Deadline | None:
    """Request timeout seconds from now: the deadline of an invoke starting now (None for unusable fields)."""
    try:
        return Deadline.after(parse_timeout(credentials.get(TIMEOUT)))
    except UserInputError:
        return None
