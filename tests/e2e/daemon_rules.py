"""The plugin daemon's rules for what a plugin writes on stdout, so a test fails exactly where Dify would.

The daemon unmarshals every `stream` payload into a Go struct and closes the stream when that fails; the
`validate_*` functions apply the same rules (D = langgenius/dify-plugin-daemon; runtime doc §1).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

# The daemon's default stdout scanner limit (PLUGIN_STDIO_MAX_BUFFER_SIZE); longer lines never reach Dify.
MAX_STDOUT_LINE_BYTES = 5 * 1024 * 1024

PROMPT_MESSAGE_ROLES = frozenset({"system", "user", "assistant", "tool"})
PROMPT_CONTENT_TYPES = frozenset({"text", "image", "audio", "video", "document"})
PARAMETER_TEMPLATES = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "presence_penalty",
        "frequency_penalty",
        "max_tokens",
        "response_format",
        "json_schema",
    }
)
LLM_USAGE_INT_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
LLM_USAGE_DECIMAL_FIELDS = (
    "prompt_unit_price",
    "prompt_price_unit",
    "prompt_price",
    "completion_unit_price",
    "completion_price_unit",
    "completion_price",
    "total_price",
)
EMBEDDING_USAGE_INT_FIELDS = ("tokens", "total_tokens")
EMBEDDING_USAGE_DECIMAL_FIELDS = ("unit_price", "price_unit", "total_price")


def _require(condition: bool, rule: str, payload: object) -> None:
    if not condition:
        shown = json.dumps(payload, default=str)
        raise AssertionError(f"daemon would reject payload: {rule}; payload={shown[:2000]}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_decimal(value: object) -> bool:
    """shopspring/decimal accepts JSON numbers and numeric strings (pydantic dumps Decimal as "0E-7")."""
    if _is_number(value):
        return True
    if not isinstance(value, str):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def _list_field(payload: Mapping[str, Any], name: str) -> list[Any]:
    value = payload.get(name)
    _require(isinstance(value, list), f"{name} must be a list", payload)
    assert isinstance(value, list)
    return value


def _validate_usage(usage: object, int_fields: Sequence[str], decimal_fields: Sequence[str], where: str) -> None:
    _require(isinstance(usage, dict), f"{where} must be an object", usage)
    assert isinstance(usage, dict)
    for name in int_fields:
        _require(_is_int(usage.get(name)), f"{where}.{name} must be an integer", usage)
    for name in decimal_fields:
        _require(_is_decimal(usage.get(name)), f"{where}.{name} must be a decimal number or string", usage)
    _require(isinstance(usage.get("currency"), str), f"{where}.currency must be a string", usage)
    _require(_is_number(usage.get("latency")), f"{where}.latency must be a number", usage)


def validate_llm_chunk(payload: Mapping[str, Any]) -> None:
    """LLMResultChunk as the daemon unmarshals it (D pkg/entities/model_entities/llm.go)."""
    model = payload.get("model")
    _require(isinstance(model, str) and model != "", "model must be a non-empty string", payload)
    _require(
        payload.get("system_fingerprint") is None or isinstance(payload["system_fingerprint"], str),
        "system_fingerprint must be a string or null",
        payload,
    )
    delta = payload.get("delta")
    _require(isinstance(delta, dict), "delta must be an object", payload)
    assert isinstance(delta, dict)
    _require(_is_int(delta.get("index")), "delta.index must be an integer", payload)
    message = delta.get("message")
    _require(isinstance(message, dict), "delta.message must be an object", payload)
    assert isinstance(message, dict)
    _require(
        message.get("role") in PROMPT_MESSAGE_ROLES,
        "delta.message.role must be one of system/user/assistant/tool",
        payload,
    )
    content = message.get("content")
    _require(content is not None, "delta.message.content must be present and not null", payload)
    _require(isinstance(content, str | list), "delta.message.content must be a string or a list", payload)
    if isinstance(content, list):
        for item in content:
            _require(
                isinstance(item, dict) and item.get("type") in PROMPT_CONTENT_TYPES,
                "delta.message.content[].type must be text/image/audio/video/document",
                payload,
            )
    for call in message.get("tool_calls") or []:
        _require(isinstance(call, dict), "delta.message.tool_calls[] must be objects", payload)
        function = call.get("function")
        _require(isinstance(function, dict), "delta.message.tool_calls[].function must be an object", payload)
        assert isinstance(function, dict)
        _require(
            isinstance(function.get("arguments"), str),
            "delta.message.tool_calls[].function.arguments must be a JSON string",
            payload,
        )
        for key in ("id", "type"):
            _require(
                call.get(key) is None or isinstance(call[key], str),
                f"delta.message.tool_calls[].{key} must be a string",
                payload,
            )
        _require(
            function.get("name") is None or isinstance(function["name"], str),
            "delta.message.tool_calls[].function.name must be a string",
            payload,
        )
    if delta.get("usage") is not None:
        _validate_usage(delta["usage"], LLM_USAGE_INT_FIELDS, LLM_USAGE_DECIMAL_FIELDS, "delta.usage")
    finish_reason = delta.get("finish_reason")
    _require(
        finish_reason is None or isinstance(finish_reason, str), "delta.finish_reason must be a string or null", payload
    )


def validate_credentials_result(payload: Mapping[str, Any]) -> None:
    _require(isinstance(payload.get("result"), bool), "result must be a boolean", payload)
    _require(isinstance(payload.get("credentials"), dict), "credentials must be an object", payload)


def validate_model_schema_result(payload: Mapping[str, Any]) -> None:
    """{"model_schema": ModelDeclaration | null}; an unknown use_template makes the Go unmarshal fail."""
    _require("model_schema" in payload, "model_schema key must be present", payload)
    schema = payload["model_schema"]
    if schema is None:
        return
    _require(isinstance(schema, dict), "model_schema must be an object or null", payload)
    _require(isinstance(schema.get("model"), str), "model_schema.model must be a string", payload)
    _require(isinstance(schema.get("model_type"), str), "model_schema.model_type must be a string", payload)
    rules = schema.get("parameter_rules")
    _require(rules is None or isinstance(rules, list), "model_schema.parameter_rules must be a list", payload)
    for rule in rules or []:
        _require(
            isinstance(rule, dict) and isinstance(rule.get("name"), str),
            "parameter_rules[].name must be a string",
            payload,
        )
        template = rule.get("use_template")
        _require(
            template in (None, "") or template in PARAMETER_TEMPLATES,
            f"parameter_rules[].use_template {template!r} is not one of {sorted(PARAMETER_TEMPLATES)}",
            payload,
        )
        for key in ("min", "max"):
            _require(
                rule.get(key) is None or _is_number(rule[key]),
                f"parameter_rules[].{key} must be a number or null",
                payload,
            )
        _require(
            rule.get("precision") is None or _is_int(rule["precision"]),
            "parameter_rules[].precision must be an integer or null",
            payload,
        )
        options = rule.get("options")
        _require(
            options is None or (isinstance(options, list) and all(isinstance(o, str) for o in options)),
            "parameter_rules[].options must be a list of strings",
            payload,
        )


def validate_text_embedding_result(payload: Mapping[str, Any]) -> None:
    _require(isinstance(payload.get("model"), str), "model must be a string", payload)
    for vector in _list_field(payload, "embeddings"):
        _require(
            isinstance(vector, list) and all(_is_number(value) for value in vector),
            "embeddings must be a list of float lists",
            payload,
        )
    _validate_usage(payload.get("usage"), EMBEDDING_USAGE_INT_FIELDS, EMBEDDING_USAGE_DECIMAL_FIELDS, "usage")


def validate_llm_num_tokens(payload: Mapping[str, Any]) -> None:
    _require(_is_int(payload.get("num_tokens")), "num_tokens must be an integer", payload)


def validate_text_embedding_num_tokens(payload: Mapping[str, Any]) -> None:
    counts = payload.get("num_tokens")
    _require(
        isinstance(counts, list) and all(_is_int(count) for count in counts),
        "num_tokens must be a list of integers",
        payload,
    )


def validate_rerank_result(payload: Mapping[str, Any]) -> None:
    _require(isinstance(payload.get("model"), str), "model must be a string", payload)
    for doc in _list_field(payload, "docs"):
        _require(isinstance(doc, dict), "docs[] must be objects", payload)
        _require(_is_int(doc.get("index")), "docs[].index must be an integer", payload)
        _require(isinstance(doc.get("text"), str), "docs[].text must be a string", payload)
        _require(_is_number(doc.get("score")), "docs[].score must be a number", payload)


def validate_speech2text_result(payload: Mapping[str, Any]) -> None:
    _require(isinstance(payload.get("result"), str), "result must be a string", payload)


PAYLOAD_VALIDATORS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "invoke_llm": validate_llm_chunk,
    "validate_provider_credentials": validate_credentials_result,
    "validate_model_credentials": validate_credentials_result,
    "get_ai_model_schemas": validate_model_schema_result,
    "invoke_text_embedding": validate_text_embedding_result,
    "get_llm_num_tokens": validate_llm_num_tokens,
    "get_text_embedding_num_tokens": validate_text_embedding_num_tokens,
    "invoke_rerank": validate_rerank_result,
    "invoke_speech2text": validate_speech2text_result,
}


def validate_stream_payload(action: str, payload: object) -> None:
    """Apply the daemon's rules for `action` to one `stream` payload; actions without rules pass."""
    _require(isinstance(payload, dict), f"{action} stream payload must be an object", payload)
    assert isinstance(payload, dict)
    validator = PAYLOAD_VALIDATORS.get(action)
    if validator is not None:
        validator(payload)
