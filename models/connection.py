"""Read the credential fields every model type shares and build the Ollama client for them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ollama_client import DEFAULT_TIMEOUT_SECONDS, ClientConfig, OllamaClient, OllamaConfigError

# Field names in provider/ollama.yaml (model_credential_schema).
BASE_URL = "base_url"
API_KEY = "api_key"
TIMEOUT = "timeout"

MAX_TIMEOUT_SECONDS = 3600.0


def parse_timeout(raw: Any) -> float:
    """Seconds from the 'Request timeout' field; empty means the default."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(str(raw).strip())
    except ValueError:
        raise OllamaConfigError(
            f"Request timeout '{raw}' is not a number of seconds; enter e.g. 600, or leave it empty for "
            f"the default of {DEFAULT_TIMEOUT_SECONDS:g}."
        ) from None
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_TIMEOUT_SECONDS:
        raise OllamaConfigError(
            f"Request timeout {raw} is out of range; enter a number of seconds between 1 and {MAX_TIMEOUT_SECONDS:g}."
        )
    return seconds


def client_config(credentials: Mapping[str, Any]) -> ClientConfig:
    return ClientConfig.create(
        base_url=credentials.get(BASE_URL),
        api_key=credentials.get(API_KEY),
        timeout=parse_timeout(credentials.get(TIMEOUT)),
    )


def ollama_client(credentials: Mapping[str, Any]) -> OllamaClient:
    """Client for the server these credentials name; raises OllamaConfigError for bad fields."""
    return OllamaClient(client_config(credentials))
