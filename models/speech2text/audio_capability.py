"""Whether a model can hear, and what to tell a user whose model or Ollama cannot."""

from __future__ import annotations

from models.rerank.judge import version_at_least
from models.validation import listed_capabilities
from ollama_client import ModelInfo, OllamaClient, OllamaError

AUDIO = "audio"
AUDIO_MIN_VERSION = "0.20.0"  # first Ollama with audio input (gemma4)
AUDIO_MODEL_EXAMPLE = "gemma4:e4b"


def missing_audio_message(client: OllamaClient, info: ModelInfo) -> str:
    """Why `info.name` cannot transcribe, naming the capability, a model that has it and the Ollama needed."""
    url = client.config.base_url
    try:
        version = client.version()
    except OllamaError:
        version = ""  # only decorates the message
    fix = (
        f"Speech to text needs a model with audio input, such as {AUDIO_MODEL_EXAMPLE} (`ollama pull "
        f"{AUDIO_MODEL_EXAMPLE}`), on Ollama {AUDIO_MIN_VERSION} or later."
    )
    if version and version_at_least(version, AUDIO_MIN_VERSION) is False:
        fix += f" Ollama at {url} is version {version}: upgrade it first."
    if info.capabilities is None:
        return (
            f"Ollama at {url} does not report what model '{info.name}' can do (it is older than 0.6.4), so it "
            f"cannot take audio. {fix}"
        )
    have = listed_capabilities(info)
    return f"Model '{info.name}' on {url} does not have the '{AUDIO}' capability (it has: {have}). {fix}"
