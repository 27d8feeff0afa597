"""Parameter rules shown in Dify, and Dify's model_parameters -> the fields of an Ollama request.

The SDK drops every model parameter without a rule, so each field sent here has one. Only the
eight template names are used as `use_template` (the daemon rejects others). A parameter the user
did not enable is not sent, so the model's Modelfile defaults apply; the one exception is `num_ctx`,
which defaults to the credential's context size so that Dify's context budget and Ollama's window
agree (otherwise Ollama silently truncates long prompts at its own default).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import ParameterRule, ParameterType

from models.input_errors import UserInputError
from models.settings_fields import keep_alive
from ollama_client.wire import whole_number

THINK_LEVELS = ("low", "medium", "high", "max")
MIN_CONTEXT_SIZE = 256
# Ollama's Options that are plain numbers, sent under `options` when the user set them.
_NUMERIC_OPTIONS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
    "seed",
)


_RULES_FILE = Path(__file__).with_name("parameter_rules.yaml")
_RULE_FIELDS = ("use_template", "default", "min", "max", "precision", "options")
_PLACEHOLDERS = ("max_tokens", "context_size")


@functools.cache
def _rule_table() -> tuple[dict[str, Any], ...]:
    """The rules as data (label and help in every language the manifest declares), read once."""
    # libyaml's parser when the wheel has it: the pure-Python one costs ~30 ms on the first chat of a process.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with _RULES_FILE.open(encoding="utf-8") as file:
        return tuple(yaml.load(file, Loader=loader))


def _texts(texts: Mapping[str, str], values: Mapping[str, Any]) -> I18nObject:
    filled = {}
    for language, text in texts.items():
        for name in _PLACEHOLDERS:
            text = text.replace("{" + name + "}", str(values[name]))
        filled[language] = text
    return I18nObject(**filled)


def _rule(entry: Mapping[str, Any], values: Mapping[str, Any]) -> ParameterRule:
    fields = {key: entry[key] for key in _RULE_FIELDS if key in entry}
    for key in ("default", "min", "max"):  # per-model numbers are named in the table
        if isinstance(fields.get(key), str) and fields[key] in values:
            fields[key] = values[fields[key]]
    return ParameterRule(
        name=entry["name"],
        label=_texts(entry["label"], values),
        help=_texts(entry["help"], values),
        type=ParameterType(entry["type"]),
        **fields,
    )


def parameter_rules(
    *, max_tokens: int, context_size: int, context_limit: int | None, thinking: bool | None
) -> list[ParameterRule]:
    """The rules for one model. `thinking` False hides think/think level (None: unknown, shown)."""
    values = {
        "max_tokens": max_tokens,
        "context_size": context_size,
        "context_limit": context_limit,
        "min_context_size": MIN_CONTEXT_SIZE,
    }
    return [
        _rule(entry, values)
        for entry in _rule_table()
        if not (entry.get("only_for_thinking_models") and thinking is False)
    ]


# --- model_parameters -> request -------------------------------------------------------------------


@dataclass
class RequestParameters:
    """What model_parameters contribute to an Ollama request."""

    fields: dict[str, Any] = field(default_factory=dict)  # top-level: think, keep_alive, format
    options: dict[str, Any] = field(default_factory=dict)
    show_thinking: bool = True  # False for structured output and when the user turned thinking off


def parse_json_schema(raw: Any) -> dict[str, Any] | None:
    """The schema Ollama's `format` takes, from the json_schema parameter (raw, or wrapped as {"schema": …})."""
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        schema: Any = dict(raw)
    else:
        text = str(raw).strip()
        if not text:
            return None
        try:
            schema = json.loads(text)
        except ValueError as exc:
            raise UserInputError(f"The JSON Schema parameter is not valid JSON ({exc}). Paste a JSON object.") from None
    if not isinstance(schema, dict):
        raise UserInputError('The JSON Schema parameter must be a JSON object, e.g. {"type": "object", ...}.')
    inner = schema.get("schema")
    if isinstance(inner, dict) and "type" not in schema and "properties" not in schema:
        schema = inner  # OpenAI-style wrapper {"name": ..., "schema": {...}, "strict": ...}
    return schema


def clean_stop(stop: Sequence[str] | None) -> list[str]:
    """Distinct non-empty stop strings, in order (Ollama needs a JSON array)."""
    seen: dict[str, None] = {}
    for item in stop or ():
        if isinstance(item, str) and item:
            seen.setdefault(item, None)
    return list(seen)


def _think_value(params: Mapping[str, Any], thinking: bool | None) -> bool | str | None:
    level = params.get("think_level")
    if isinstance(level, str) and level.strip():
        level = level.strip().lower()
        if level not in THINK_LEVELS:
            raise UserInputError(f"Thinking level '{level}' is not one of {', '.join(THINK_LEVELS)}.")
        return level
    think = params.get("think")
    if not isinstance(think, bool):
        return None
    if think is False and thinking is False:
        # Turning off what the model does not have: Ollama 0.9-0.12.4 would answer 400 for any `think`.
        return None
    return think


def request_parameters(
    params: Mapping[str, Any],
    *,
    context_size: int,
    max_tokens: int,
    stop: Sequence[str] | None = None,
    thinking: bool | None = None,
) -> RequestParameters:
    """Map filtered model_parameters to top-level fields and options. Raises UserInputError for bad values."""
    result = RequestParameters()
    options = result.options
    for name in _NUMERIC_OPTIONS:
        value = params.get(name)
        if value is not None and not isinstance(value, bool):
            options[name] = value
    num_predict = whole_number(params.get("num_predict", params.get("max_tokens")))
    if num_predict is not None and num_predict > 0:
        options["num_predict"] = min(num_predict, max_tokens)
    num_ctx = whole_number(params.get("num_ctx"))
    options["num_ctx"] = num_ctx if num_ctx is not None and num_ctx > 0 else context_size
    stops = clean_stop(stop)
    if stops:
        options["stop"] = stops

    keep_alive_field = keep_alive(params.get("keep_alive"), label="keep_alive")
    if keep_alive_field is not None:
        result.fields["keep_alive"] = keep_alive_field

    think = _think_value(params, thinking)
    if think is not None:
        result.fields["think"] = think
    if think is False:
        result.show_thinking = False  # gpt-oss thinks anyway; the user asked not to see it

    schema = parse_json_schema(params.get("json_schema"))
    if schema is not None:
        result.fields["format"] = schema
    elif params.get("format") == "json":
        result.fields["format"] = "json"
    if "format" in result.fields:
        result.show_thinking = False  # Dify parses the whole content as JSON
    return result
