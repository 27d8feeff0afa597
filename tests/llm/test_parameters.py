"""Parameter rules and model_parameters -> Ollama request fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from dify_plugin.entities.model import DefaultParameterName

from models.input_errors import UserInputError
from models.llm.llm import OllamaLargeLanguageModel
from models.llm.parameters import (
    clean_stop,
    parameter_rules,
    parse_json_schema,
    request_parameters,
)
from ollama_client.keep_alive import keep_alive_value

TEMPLATES = {name.value for name in DefaultParameterName}


def rules(**overrides: Any):
    options = {"max_tokens": 4096, "context_size": 8192, "context_limit": 40960, "thinking": True} | overrides
    return {rule.name: rule for rule in parameter_rules(**options)}


def params(values: dict[str, Any], **overrides: Any):
    options = {"context_size": 8192, "max_tokens": 4096, "thinking": True} | overrides
    return request_parameters(values, **options)


# --- rules ----------------------------------------------------------------------------------------


def test_rules_use_only_the_eight_template_names_and_have_unique_names() -> None:
    declared = parameter_rules(max_tokens=4096, context_size=8192, context_limit=None, thinking=None)
    assert len({rule.name for rule in declared}) == len(declared)
    assert {rule.use_template for rule in declared if rule.use_template} <= TEMPLATES
    assert all(rule.label.en_us and rule.label.zh_hans and rule.help.en_us and rule.help.zh_hans for rule in declared)


def test_max_tokens_is_bounded_by_the_credential_and_num_ctx_defaults_to_the_context_size() -> None:
    declared = rules()
    assert declared["num_predict"].use_template == "max_tokens"
    assert declared["num_predict"].max == 4096
    assert declared["num_ctx"].default == 8192
    assert declared["num_ctx"].max == 40960


def test_stale_options_are_not_offered() -> None:
    assert not {"mirostat", "mirostat_eta", "mirostat_tau", "tfs_z", "num_gpu"} & set(rules())


@pytest.mark.parametrize(("thinking", "shown"), [(True, True), (None, True), (False, False)])
def test_think_rules_only_for_models_that_can_or_may_think(thinking: bool | None, shown: bool) -> None:
    declared = rules(thinking=thinking)
    assert ("think" in declared) is shown
    assert ("think_level" in declared) is shown
    if shown:
        assert declared["think_level"].options == ["low", "medium", "high", "max"]


# --- mapping --------------------------------------------------------------------------------------


def test_nothing_set_sends_only_the_context_size() -> None:
    mapped = params({})
    assert mapped.fields == {}
    assert mapped.options == {"num_ctx": 8192}
    assert mapped.show_thinking is True


def test_all_sampling_options_go_under_options_with_their_ollama_names() -> None:
    values = {
        "temperature": 0.2,
        "top_p": 0.5,
        "top_k": 20,
        "min_p": 0.05,
        "repeat_penalty": 1.1,
        "presence_penalty": 0.3,
        "frequency_penalty": 0.4,
        "seed": 7,
        "num_predict": 512,
        "num_ctx": 16384,
    }
    assert params(values).options == values


def test_max_tokens_template_key_and_the_credential_bound() -> None:
    assert params({"max_tokens": 100}).options["num_predict"] == 100
    assert params({"num_predict": 100000}).options["num_predict"] == 4096


def test_stop_is_always_a_json_array() -> None:
    assert params({}, stop=["\n\nUser:", "", "\n\nUser:", "END"]).options["stop"] == ["\n\nUser:", "END"]
    assert "stop" not in params({}, stop=None).options
    assert clean_stop(("a",)) == ["a"]


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("-1", -1),
        ("0", 0),
        ("300", 300),
        (" 1.5 ", 1.5),
        ("5m", "5m"),
        ("1h30m", "1h30m"),
        ("-1s", "-1s"),
        ("250ms", "250ms"),
        (3600, 3600),
        ("", None),
        (None, None),
    ],
)
def test_keep_alive_values_are_sent_with_the_types_ollama_accepts(typed: Any, sent: Any) -> None:
    assert keep_alive_value(typed) == sent
    assert type(keep_alive_value(typed)) is type(sent)
    mapped = params({"keep_alive": typed})
    assert mapped.fields.get("keep_alive") == sent
    if sent is not None:
        json.dumps(mapped.fields)  # what goes on the wire


@pytest.mark.parametrize("typed", ["forever", "5 minutes", "m5", "1d"])
def test_unparseable_keep_alive_is_a_clear_error(typed: str) -> None:
    with pytest.raises(UserInputError, match="not a duration: use e.g. 5m"):
        params({"keep_alive": typed})


def test_think_is_only_sent_when_the_user_set_it() -> None:
    assert "think" not in params({}).fields
    assert params({"think": True}).fields["think"] is True
    assert params({"think": False}).fields["think"] is False


def test_think_level_overrides_think() -> None:
    assert params({"think": False, "think_level": "high"}).fields["think"] == "high"
    assert params({"think_level": "max"}).fields["think"] == "max"
    with pytest.raises(UserInputError, match="Thinking level 'extreme'"):
        params({"think_level": "extreme"})


def test_think_off_for_a_model_that_cannot_think_is_not_sent() -> None:
    assert "think" not in params({"think": False}, thinking=False).fields


def test_thinking_turned_off_hides_thinking_the_model_still_produces() -> None:
    assert params({"think": False}).show_thinking is False
    assert params({"think": True}).show_thinking is True


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(SCHEMA),
        json.dumps({"name": "llm_response", "schema": SCHEMA, "strict": True}),  # Dify's wrapper for non-ollama
        SCHEMA,
    ],
)
def test_json_schema_raw_or_wrapped_becomes_the_top_level_format(raw: Any) -> None:
    mapped = params({"json_schema": raw, "format": "json"})
    assert mapped.fields["format"] == SCHEMA
    assert mapped.show_thinking is False


def test_a_schema_that_has_a_property_called_schema_is_not_unwrapped() -> None:
    schema = {"type": "object", "properties": {"schema": {"type": "string"}}}
    assert parse_json_schema(json.dumps(schema)) == schema


@pytest.mark.parametrize(("raw", "message"), [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")])
def test_invalid_json_schema_is_a_clear_error(raw: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        params({"json_schema": raw})


def test_json_mode_and_empty_schema() -> None:
    assert params({"format": "json"}).fields["format"] == "json"
    assert params({"format": "json"}).show_thinking is False
    assert "format" not in params({"json_schema": "  "}).fields


# --- together with the SDK's parameter filter -----------------------------------------------------


def test_every_declared_rule_survives_the_sdk_filter_and_reaches_the_request(closed_port_url: str) -> None:
    """The SDK drops parameters without a rule; every rule's value must also change the request."""
    model = OllamaLargeLanguageModel(model_schemas=[])
    credentials = {"base_url": closed_port_url, "llm_thinking": "true", "llm_max_tokens": "4096"}
    declared = model.get_model_schema("qwen3", credentials).parameter_rules
    values: dict[str, Any] = {
        rule.name: (rule.options[-1] if rule.options else rule.default)
        for rule in declared
        if rule.name != "think_level"
    }
    values["json_schema"] = json.dumps(SCHEMA)
    values["mirostat"] = 2  # undeclared: dropped by the SDK
    values["max_tokens"] = 99  # template key of num_predict

    filtered = model._validate_and_filter_model_parameters("qwen3", dict(values), credentials)

    assert "mirostat" not in filtered
    mapped = params(filtered)
    sent = set(mapped.options) | set(mapped.fields)
    renamed = {"json_schema": "format"}
    for rule in declared:
        if rule.name != "think_level":
            assert renamed.get(rule.name, rule.name) in sent, rule.name


def test_every_parameter_label_and_help_has_every_language_the_manifest_declares() -> None:
    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yaml").read_text(encoding="utf-8"))
    languages = set(manifest["label"])
    assert {"en_US", "zh_Hans", "ja_JP", "pt_BR"} <= languages
    for rule in parameter_rules(max_tokens=4096, context_size=8192, context_limit=None, thinking=True):
        for kind in ("label", "help"):
            texts = getattr(rule, kind).model_dump()
            missing = {language for language in languages if not texts.get(language)}
            assert not missing, f"{rule.name} {kind} lacks {sorted(missing)}"
            assert "{" not in texts["en_US"], f"{rule.name} {kind}: a placeholder was not filled"
