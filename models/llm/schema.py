"""LLM credentials + what Ollama says about the model (/api/show) -> the model schema Dify sees.

Each capability switch is Auto (ask Ollama), Yes or No. Auto reads `capabilities` from /api/show,
cached per server, key and model for a few minutes (Dify asks for the schema on every call). When
/api/show cannot be reached the schema is still built, from the manual values, with the unknown
capabilities left off; a failed lookup is remembered briefly so a down server does not cost a
connection attempt on each of Dify's schema requests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelFeature, ModelPropertyKey, ModelType

from models.connection import client_config, invoke_deadline
from models.input_errors import UserInputError
from models.llm.parameters import MIN_CONTEXT_SIZE, parameter_rules
from models.settings_fields import AUTO, NO, YES, WholeNumberField, auto_yes_no, choice
from models.validation import listed_capabilities
from ollama_client import Deadline, ModelInfo, OllamaClient, OllamaError, RetryPolicy, get_model_info

logger = logging.getLogger(__name__)

# Credential field names (provider/ollama.yaml).
MODE = "llm_mode"
CONTEXT_SIZE = "llm_context_size"
MAX_TOKENS = "llm_max_tokens"
VISION = "llm_vision"
AUDIO = "llm_audio"
TOOL_CALL = "llm_tool_call"
THINKING = "llm_thinking"
STRUCTURED_OUTPUT = "llm_structured_output"

CHAT, COMPLETION = "chat", "completion"
_MODES = {CHAT: "chat", COMPLETION: "completion"}
# Larger than any model's context, small enough that a typo like 1e12 is caught.
MAX_TOKEN_SETTING = 10_000_000
DEFAULT_CONTEXT_SIZE = 8192
DEFAULT_MAX_TOKENS = 8192
FAILED_LOOKUP_TTL_SECONDS = 20.0

_CONTEXT_SIZE = WholeNumberField(
    CONTEXT_SIZE, "Model context size", MIN_CONTEXT_SIZE, MAX_TOKEN_SETTING, DEFAULT_CONTEXT_SIZE
)
_MAX_TOKENS = WholeNumberField(MAX_TOKENS, "Upper bound for max tokens", 1, MAX_TOKEN_SETTING, DEFAULT_MAX_TOKENS)
_SWITCH_LABELS = {
    VISION: "Vision support",
    AUDIO: "Audio input support",
    TOOL_CALL: "Tool calling support",
    THINKING: "Thinking support",
    STRUCTURED_OUTPUT: "Structured output support",
}
# Switch -> (LLMSettings field, the /api/show capability it follows on Auto).
_CAPABILITY_OF = {
    VISION: ("vision", "vision"),
    AUDIO: ("audio", "audio"),
    TOOL_CALL: ("tool_call", "tools"),
    THINKING: ("thinking", "thinking"),
}


@dataclass(frozen=True)
class LLMSettings:
    """The LLM credential fields, parsed."""

    mode: str = CHAT
    context_size: int = DEFAULT_CONTEXT_SIZE
    max_tokens: int = DEFAULT_MAX_TOKENS
    vision: str = AUTO
    tool_call: str = AUTO
    thinking: str = AUTO
    structured_output: str = AUTO
    audio: str = AUTO


def _lenient[T](read: Callable[[], T], default: T, name: str, credentials: Mapping[str, Any], strict: bool) -> T:
    """`read()`, or when the field is unusable and not `strict`, `default` (logged)."""
    try:
        return read()
    except UserInputError:
        if strict:
            raise
        logger.warning("ignoring unusable %s %r; using %r", name, credentials.get(name), default)
        return default


def read_settings(credentials: Mapping[str, Any], *, strict: bool = False) -> LLMSettings:
    """Parse the LLM fields; bad values raise UserInputError when `strict`, else fall back to defaults."""

    def switch(name: str) -> str:
        def read() -> str:
            return auto_yes_no(credentials.get(name), label=_SWITCH_LABELS[name])

        return _lenient(read, AUTO, name, credentials, strict)

    def tokens(field: WholeNumberField[int]) -> int:
        return _lenient(lambda: field.read(credentials), field.default, field.name, credentials, strict)

    def mode() -> str:
        return choice(str(credentials.get(MODE) or "").lower(), label="Mode", options=_MODES, default=CHAT)

    return LLMSettings(
        mode=_lenient(mode, CHAT, MODE, credentials, strict),
        context_size=tokens(_CONTEXT_SIZE),
        max_tokens=tokens(_MAX_TOKENS),
        vision=switch(VISION),
        tool_call=switch(TOOL_CALL),
        thinking=switch(THINKING),
        structured_output=switch(STRUCTURED_OUTPUT),
        audio=switch(AUDIO),
    )


@dataclass(frozen=True)
class Capabilities:
    """What the model can do after applying the switches. None: Auto, and Ollama did not say."""

    vision: bool | None
    tool_call: bool | None
    thinking: bool | None
    structured_output: bool
    context_limit: int | None  # the trained context length from /api/show
    audio: bool | None = None  # audio input (WAV/MP3 in `images`, Ollama 0.20.0+)


def _resolve(switch: str, info: ModelInfo | None, capability: str) -> bool | None:
    if switch == YES:
        return True
    if switch == NO:
        return False
    return info.has(capability) if info is not None else None


def resolve_capabilities(settings: LLMSettings, info: ModelInfo | None) -> Capabilities:
    if settings.structured_output == AUTO:
        # Any completion model takes a `format` schema (Ollama 0.5.0+); there is no capability for it.
        structured = info is None or info.has("completion") is not False
    else:
        structured = settings.structured_output == YES
    return Capabilities(
        vision=_resolve(settings.vision, info, "vision"),
        tool_call=_resolve(settings.tool_call, info, "tools"),
        thinking=_resolve(settings.thinking, info, "thinking"),
        structured_output=structured,
        context_limit=info.context_length if info is not None else None,
        audio=_resolve(settings.audio, info, "audio"),
    )


_failed_lookups: dict[tuple[Any, ...], float] = {}
_failed_lock = threading.Lock()


def lookup_model_info(credentials: Mapping[str, Any], model: str, deadline: Deadline | None = None) -> ModelInfo | None:
    """ModelInfo from the cached /api/show, or None when the server cannot tell us right now."""
    try:
        config = client_config(credentials)
    except (OllamaError, UserInputError):
        return None
    key = (config.credentials_key(), model)
    failed_at = _failed_lookups.get(key)
    if failed_at is not None and time.monotonic() - failed_at < FAILED_LOOKUP_TTL_SECONDS:
        return None
    try:
        # One attempt: the schema must not wait through the client's connection retries.
        # `deadline`: the invoke's, so the lookup and the chat after it share one Request timeout.
        return get_model_info(OllamaClient(config, retry=RetryPolicy(attempts=1), deadline=deadline), model)
    except OllamaError as error:
        logger.warning("capabilities of %s unknown (%s); building the schema from the manual settings", model, error)
        with _failed_lock:
            if len(_failed_lookups) > 256:
                _failed_lookups.clear()
            _failed_lookups[key] = time.monotonic()
        return None


def forget_failed_lookups() -> None:
    with _failed_lock:
        _failed_lookups.clear()


def effective_context_size(settings: LLMSettings, capabilities: Capabilities) -> int:
    """The context Ollama will actually run with: the setting, capped at the trained length."""
    limit = capabilities.context_limit
    return min(settings.context_size, limit) if limit else settings.context_size


def features(settings: LLMSettings, capabilities: Capabilities) -> list[ModelFeature]:
    found: list[ModelFeature] = []
    # /api/generate has no tools; completion mode never advertises them.
    if capabilities.tool_call and settings.mode == CHAT:
        found += [ModelFeature.TOOL_CALL, ModelFeature.MULTI_TOOL_CALL, ModelFeature.STREAM_TOOL_CALL]
    if capabilities.vision:
        found.append(ModelFeature.VISION)
    if capabilities.audio:
        found.append(ModelFeature.AUDIO)
    if capabilities.structured_output:
        found.append(ModelFeature.STRUCTURED_OUTPUT)
    return found


def build_schema(model: str, settings: LLMSettings, capabilities: Capabilities) -> AIModelEntity:
    context_size = effective_context_size(settings, capabilities)
    return AIModelEntity(
        model=model,
        label=I18nObject(en_US=model, zh_Hans=model),
        model_type=ModelType.LLM,
        fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
        features=features(settings, capabilities),
        model_properties={ModelPropertyKey.MODE: settings.mode, ModelPropertyKey.CONTEXT_SIZE: context_size},
        parameter_rules=parameter_rules(
            max_tokens=settings.max_tokens,
            context_size=context_size,
            context_limit=capabilities.context_limit,
            thinking=capabilities.thinking,
        ),
    )


@dataclass(frozen=True)
class ModelProfile:
    """Everything the adapter needs about one configured model."""

    settings: LLMSettings
    capabilities: Capabilities
    schema: AIModelEntity
    # When the invoke that asked for this profile must be over: Request timeout seconds after the first schema
    # request, which the SDK makes just before the call. Pass it to the chat's client (`ollama_client(…, deadline=…)`).
    deadline: Deadline | None = None


def model_profile(model: str, credentials: Mapping[str, Any]) -> ModelProfile:
    settings = read_settings(credentials)
    deadline = invoke_deadline(credentials)
    # Asked even when every switch is set by hand: the trained length caps `Model context size` (num_ctx).
    # The answer is cached and, once known, refreshed in the background, so this rarely waits.
    info = lookup_model_info(credentials, model, deadline)
    capabilities = resolve_capabilities(settings, info)
    return ModelProfile(settings, capabilities, build_schema(model, settings, capabilities), deadline)


def switched_on_but_missing(settings: LLMSettings, info: ModelInfo) -> list[str]:
    """Messages for settings the model contradicts: a switch set to Yes for a capability Ollama says it lacks,
    and a context size above its trained length (which would only be capped)."""
    problems = []
    if info.context_length and settings.context_size > info.context_length:
        problems.append(
            f"Model context size {settings.context_size} is more than '{info.name}' was trained for "
            f"({info.context_length} tokens). Enter at most {info.context_length}."
        )
    for name, (setting, capability) in _CAPABILITY_OF.items():
        if getattr(settings, setting) == YES and info.has(capability) is False:
            problems.append(
                f"{_SWITCH_LABELS[name]} is set to Yes, but Ollama reports that '{info.name}' has no "
                f"'{capability}' capability (it has: {listed_capabilities(info)}). "
                "Set it to Auto or No, or pick a model that has it."
            )
    return problems
