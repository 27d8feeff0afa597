"""Parameter rules shown in Dify, and Dify's model_parameters -> the fields of an Ollama request.

The SDK drops every model parameter without a rule, so each field sent here has one. Only the
eight template names are used as `use_template` (the daemon rejects others). A parameter the user
did not enable is not sent, so the model's Modelfile defaults apply; the one exception is `num_ctx`,
which defaults to the credential's context size so that Dify's context budget and Ollama's window
agree (otherwise Ollama silently truncates long prompts at its own default).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import DefaultParameterName, ParameterRule, ParameterType

from ollama_client.keep_alive import keep_alive_value

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


def _text(en: str, zh: str) -> I18nObject:
    return I18nObject(en_US=en, zh_Hans=zh)


def _rule(name: str, en: str, zh: str, kind: ParameterType, help_en: str, help_zh: str, **extra: Any) -> ParameterRule:
    return ParameterRule(name=name, label=_text(en, zh), type=kind, help=_text(help_en, help_zh), **extra)


def parameter_rules(
    *, max_tokens: int, context_size: int, context_limit: int | None, thinking: bool | None
) -> list[ParameterRule]:
    """The rules for one model. `thinking` False hides think/think level (None: unknown, shown)."""
    rules = [
        _rule(
            "temperature",
            "Temperature",
            "温度",
            ParameterType.FLOAT,
            "Randomness of the answer: lower is more focused, higher more varied. Ollama's default is 0.8 "
            "unless the model's Modelfile sets another.",
            "回答的随机性：越低越确定，越高越多样。Ollama 默认 0.8（除非模型的 Modelfile 另有设置）。",
            use_template=DefaultParameterName.TEMPERATURE.value,
            default=0.8,
            min=0.0,
            max=2.0,
            precision=2,
        ),
        _rule(
            "top_p",
            "Top P",
            "Top P",
            ParameterType.FLOAT,
            "Nucleus sampling: only the most likely tokens whose probabilities add up to P are considered. "
            "Default 0.9.",
            "核采样：只考虑累计概率达到 P 的最可能的词元。默认 0.9。",
            use_template=DefaultParameterName.TOP_P.value,
            default=0.9,
            min=0.0,
            max=1.0,
            precision=2,
        ),
        _rule(
            "top_k",
            "Top K",
            "Top K",
            ParameterType.INT,
            "Only the K most likely tokens are considered at each step. Default 40.",
            "每一步只考虑概率最高的 K 个词元。默认 40。",
            use_template=DefaultParameterName.TOP_K.value,
            default=40,
            min=1,
            max=100,
            precision=0,
        ),
        _rule(
            "min_p",
            "Min P",
            "Min P",
            ParameterType.FLOAT,
            "Drops tokens less likely than P times the most likely one. Default 0 (off).",
            "丢弃概率低于最可能词元概率 P 倍的词元。默认 0（关闭）。",
            default=0.0,
            min=0.0,
            max=1.0,
            precision=2,
        ),
        _rule(
            "repeat_penalty",
            "Repeat penalty",
            "重复惩罚",
            ParameterType.FLOAT,
            "Penalises tokens that appeared recently; above 1 reduces repetition. Default 1.0.",
            "惩罚最近出现过的词元；大于 1 可减少重复。默认 1.0。",
            default=1.0,
            min=0.0,
            max=2.0,
            precision=2,
        ),
        _rule(
            "presence_penalty",
            "Presence penalty",
            "存在惩罚",
            ParameterType.FLOAT,
            "Penalises every token that already appeared, encouraging new topics. Default 0.",
            "惩罚所有已出现过的词元，鼓励引入新话题。默认 0。",
            use_template=DefaultParameterName.PRESENCE_PENALTY.value,
            default=0.0,
            min=0.0,
            max=2.0,
            precision=2,
        ),
        _rule(
            "frequency_penalty",
            "Frequency penalty",
            "频率惩罚",
            ParameterType.FLOAT,
            "Penalises tokens by how often they appeared. Default 0.",
            "按出现次数惩罚词元。默认 0。",
            use_template=DefaultParameterName.FREQUENCY_PENALTY.value,
            default=0.0,
            min=0.0,
            max=2.0,
            precision=2,
        ),
        _rule(
            "num_predict",
            "Max tokens",
            "最大生成长度",
            ParameterType.INT,
            f"Most tokens to generate (Ollama num_predict), thinking included; at most {max_tokens} (the "
            "model's 'Upper bound for max tokens'). Off: no limit besides the context.",
            f"最多生成的词元数（Ollama num_predict），包含思考内容；"
            f"上限 {max_tokens}（模型设置中的“最大 token 上限”）。"
            "关闭：仅受上下文长度限制。",
            use_template=DefaultParameterName.MAX_TOKENS.value,
            default=max_tokens,
            min=1,
            max=max_tokens,
            precision=0,
        ),
        _rule(
            "num_ctx",
            "Context window",
            "上下文窗口",
            ParameterType.INT,
            f"Tokens of context Ollama allocates (num_ctx). Off: the model's 'Context size' setting ({context_size}), "
            "which is always sent. Changing it reloads the model.",
            f"Ollama 分配的上下文词元数（num_ctx）。"
            f"关闭：使用模型设置中的“上下文长度”（{context_size}），该值总会发送。"
            "修改后模型会重新加载。",
            default=context_size,
            min=MIN_CONTEXT_SIZE,
            max=context_limit,
            precision=0,
        ),
        _rule(
            "seed",
            "Seed",
            "随机种子",
            ParameterType.INT,
            "Same seed + same prompt + temperature 0 gives the same answer. Off: random.",
            "相同的种子、提示词且温度为 0 时，回答可复现。关闭：随机。",
            default=0,
            precision=0,
        ),
        _rule(
            "keep_alive",
            "Keep alive",
            "保持加载时间",
            ParameterType.STRING,
            "How long Ollama keeps the model in memory after this request: 5m, 1h, 300 (seconds), -1 (forever), "
            "0 (unload at once). Off: the server's default (5m).",
            "本次请求后 Ollama 将模型保留在内存中的时长：5m、1h、300（秒）、-1（一直保留）、0（立即卸载）。"
            "关闭：服务器默认（5m）。",
            default="5m",
        ),
    ]
    if thinking is not False:
        rules += [
            _rule(
                "think",
                "Thinking",
                "思考",
                ParameterType.BOOLEAN,
                "On: the model thinks first; the thinking is shown in a <think> block. Off: no thinking (gpt-oss "
                "cannot turn it off; its thinking is then hidden). Not set: the model's default (on since "
                "Ollama 0.12.4).",
                "开启：模型先思考，思考内容显示在 <think> 块中。关闭：不思考（gpt-oss 无法关闭，此时隐藏其思考内容）。"
                "不设置：模型默认行为（Ollama 0.12.4 起默认开启）。",
                default=True,
            ),
            _rule(
                "think_level",
                "Thinking level",
                "思考强度",
                ParameterType.STRING,
                "How hard the model thinks (gpt-oss and other models with levels); overrides Thinking. 'max' needs "
                "Ollama 0.22.0 or newer.",
                "模型思考的强度（gpt-oss 等支持强度的模型）；优先于“思考”开关。'max' 需要 Ollama 0.22.0 及以上。",
                default="medium",
                options=list(THINK_LEVELS),
            ),
        ]
    rules += [
        _rule(
            "format",
            "JSON mode",
            "JSON 模式",
            ParameterType.STRING,
            "'json' makes the model answer with valid JSON (tell it the shape in the prompt). Ignored when a "
            "JSON Schema is set.",
            "'json' 让模型输出合法的 JSON（请在提示词中说明结构）。设置了 JSON Schema 时忽略。",
            default="json",
            options=["json"],
        ),
        _rule(
            "json_schema",
            "JSON Schema",
            "JSON Schema",
            ParameterType.TEXT,
            "The answer must match this JSON Schema (Ollama structured outputs, 0.5.0+). The answer is then only "
            "the JSON, without thinking.",
            "回答必须符合此 JSON Schema（Ollama 结构化输出，需 0.5.0+）。此时回答只包含 JSON，不含思考内容。",
            use_template=DefaultParameterName.JSON_SCHEMA.value,
        ),
    ]
    return rules


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
            raise ValueError(f"The JSON Schema parameter is not valid JSON ({exc}). Paste a JSON object.") from None
    if not isinstance(schema, dict):
        raise ValueError('The JSON Schema parameter must be a JSON object, e.g. {"type": "object", ...}.')
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
            raise ValueError(f"Thinking level '{level}' is not one of {', '.join(THINK_LEVELS)}.")
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
    """Map filtered model_parameters to top-level fields and options. Raises ValueError for bad values."""
    result = RequestParameters()
    options = result.options
    for name in _NUMERIC_OPTIONS:
        value = params.get(name)
        if value is not None and not isinstance(value, bool):
            options[name] = value
    num_predict = params.get("num_predict", params.get("max_tokens"))
    if isinstance(num_predict, int) and not isinstance(num_predict, bool) and num_predict > 0:
        options["num_predict"] = min(num_predict, max_tokens)
    num_ctx = params.get("num_ctx")
    options["num_ctx"] = num_ctx if isinstance(num_ctx, int) and num_ctx > 0 else context_size
    stops = clean_stop(stop)
    if stops:
        options["stop"] = stops

    keep_alive = keep_alive_value(params.get("keep_alive"))
    if keep_alive is not None:
        result.fields["keep_alive"] = keep_alive

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
