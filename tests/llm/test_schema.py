"""Credentials + /api/show -> the LLM schema: Auto/Yes/No switches, features, context, fallbacks."""

from __future__ import annotations

import pytest
from dify_plugin.entities.model import ModelFeature, ModelPropertyKey
from dify_plugin.errors.model import CredentialsValidateFailedError

from models.input_errors import UserInputError
from models.llm.llm import OllamaLargeLanguageModel
from models.llm.schema import (
    LLMSettings,
    build_schema,
    read_settings,
    resolve_capabilities,
    switched_on_but_missing,
)
from ollama_client import ModelInfo
from tests.fake_ollama import FakeOllama, Scenario

pytestmark = pytest.mark.usefixtures("fresh_caches")

TOOL_FEATURES = {ModelFeature.TOOL_CALL, ModelFeature.MULTI_TOOL_CALL, ModelFeature.STREAM_TOOL_CALL}


def info(*capabilities: str, context: int | None = 40960) -> ModelInfo:
    return ModelInfo("m", frozenset(capabilities), context, None, "qwen3")


def schema_for(fake: FakeOllama | str, model: str, **fields: str):
    url = fake if isinstance(fake, str) else fake.url
    credentials = {"base_url": url, **{f"llm_{name}": value for name, value in fields.items()}}
    return OllamaLargeLanguageModel(model_schemas=[]).get_model_schema(model, credentials)


# --- settings -------------------------------------------------------------------------------------


def test_defaults_when_the_fields_are_missing() -> None:
    assert read_settings({}) == LLMSettings(mode="chat", context_size=8192, max_tokens=8192)


def test_switch_values() -> None:
    settings = read_settings({"llm_vision": "true", "llm_tool_call": "false", "llm_thinking": "auto"})
    assert (settings.vision, settings.tool_call, settings.thinking, settings.structured_output) == (
        "true",
        "false",
        "auto",
        "auto",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"llm_context_size": "lots"}, "Model context size 'lots' is not a whole number from 256 to"),
        ({"llm_context_size": "100"}, "from 256 to 10000000. Enter e.g. 8192, or leave it empty for 8192"),
        ({"llm_max_tokens": "-5"}, "Upper bound for max tokens"),
        ({"llm_mode": "embedding"}, "Mode 'embedding' is not one of 'chat', 'completion'"),
        ({"llm_vision": "maybe"}, "Vision support 'maybe' is not Auto, Yes or No"),
    ],
)
def test_bad_values_are_errors_when_validating_and_defaults_when_building_a_schema(fields, message) -> None:
    with pytest.raises(UserInputError, match=message):
        read_settings(fields, strict=True)
    read_settings(fields)  # never breaks the schema


# --- capabilities ---------------------------------------------------------------------------------


def test_auto_follows_ollama_and_yes_no_override_it() -> None:
    auto = resolve_capabilities(LLMSettings(), info("completion", "tools", "thinking"))
    assert (auto.vision, auto.tool_call, auto.thinking, auto.structured_output) == (False, True, True, True)

    forced = resolve_capabilities(
        LLMSettings(vision="true", tool_call="false", thinking="false", structured_output="false"),
        info("completion", "tools", "thinking"),
    )
    assert (forced.vision, forced.tool_call, forced.thinking, forced.structured_output) == (True, False, False, False)


def test_without_model_info_auto_is_unknown_and_only_safe_features_are_declared() -> None:
    capabilities = resolve_capabilities(LLMSettings(), None)
    assert (capabilities.vision, capabilities.tool_call, capabilities.thinking) == (None, None, None)
    schema = build_schema("m", LLMSettings(), capabilities)
    assert schema.features == [ModelFeature.STRUCTURED_OUTPUT]
    # Unknown thinking: the think parameters are offered (a user may set them), never sent by default.
    assert {"think", "think_level"} <= {rule.name for rule in schema.parameter_rules}


def test_embedding_only_model_gets_no_structured_output() -> None:
    assert resolve_capabilities(LLMSettings(), info("embedding")).structured_output is False


def test_completion_mode_never_advertises_tools() -> None:
    settings = LLMSettings(mode="completion")
    schema = build_schema("m", settings, resolve_capabilities(settings, info("completion", "tools", "vision")))
    assert not TOOL_FEATURES & set(schema.features)
    assert ModelFeature.VISION in schema.features
    assert schema.model_properties[ModelPropertyKey.MODE] == "completion"


def test_context_size_is_capped_at_the_trained_length() -> None:
    settings = LLMSettings(context_size=131072)
    schema = build_schema("m", settings, resolve_capabilities(settings, info("completion", context=32768)))
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 32768
    rules = {rule.name: rule for rule in schema.parameter_rules}
    assert rules["num_ctx"].default == 32768


def test_switched_on_but_missing() -> None:
    settings = LLMSettings(vision="true", tool_call="true", thinking="auto")
    problems = switched_on_but_missing(settings, info("completion", "tools"))
    assert len(problems) == 1
    assert "Vision support is set to Yes" in problems[0] and "'vision'" in problems[0]
    assert switched_on_but_missing(LLMSettings(vision="true"), info("completion", "vision")) == []


# --- against a real server (the fake) -------------------------------------------------------------


def test_auto_schema_from_api_show(fake_ollama: FakeOllama) -> None:
    qwen = schema_for(fake_ollama, "qwen3")
    assert set(qwen.features) == TOOL_FEATURES | {ModelFeature.STRUCTURED_OUTPUT}
    assert qwen.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 8192
    assert "think" in {rule.name for rule in qwen.parameter_rules}

    llama = schema_for(fake_ollama, "llama3.2")
    assert ModelFeature.TOOL_CALL in llama.features
    assert "think" not in {rule.name for rule in llama.parameter_rules}

    llava = schema_for(fake_ollama, "llava", context_size="65536")
    assert ModelFeature.VISION in llava.features and ModelFeature.TOOL_CALL not in llava.features
    assert llava.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 32768  # trained length


def test_show_is_cached_across_schema_requests(fake_ollama: FakeOllama) -> None:
    for _ in range(5):
        schema_for(fake_ollama, "qwen3")
    assert len(fake_ollama.requests_to("/api/show")) == 1


MANUAL_SWITCHES = {
    "vision": "true",
    "tool_call": "false",
    "thinking": "false",
    "structured_output": "false",
    "audio": "false",
}


def test_all_manual_switches_still_cap_the_context_at_the_trained_length(fake_ollama: FakeOllama) -> None:
    schema = schema_for(fake_ollama, "qwen3", context_size="10000000", **MANUAL_SWITCHES)
    assert schema.features == [ModelFeature.VISION]  # the switches decide, not /api/show
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 40960
    assert {rule.name: rule for rule in schema.parameter_rules}["num_ctx"].default == 40960


def test_all_manual_switches_work_when_api_show_cannot_be_read(closed_port_url: str) -> None:
    schema = schema_for(closed_port_url, "qwen3", context_size="16384", **MANUAL_SWITCHES)
    assert schema.features == [ModelFeature.VISION]
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 16384  # nothing known to cap it at


def test_validation_refuses_a_context_size_above_the_trained_length(fake_ollama: FakeOllama) -> None:
    credentials = {"base_url": fake_ollama.url, "llm_context_size": "10000000"}
    credentials |= {f"llm_{name}": value for name, value in MANUAL_SWITCHES.items()}
    credentials["llm_vision"] = "false"
    with pytest.raises(CredentialsValidateFailedError) as caught:
        OllamaLargeLanguageModel(model_schemas=[]).validate_credentials("qwen3", credentials)
    assert "Model context size 10000000 is more than 'qwen3' was trained for (40960 tokens)" in str(caught.value)
    credentials["llm_context_size"] = "40960"
    OllamaLargeLanguageModel(model_schemas=[]).validate_credentials("qwen3", credentials)


def test_unreachable_server_still_gives_a_schema_from_the_manual_values(closed_port_url: str) -> None:
    schema = schema_for(closed_port_url, "qwen3", tool_call="true", context_size="4096")
    assert set(schema.features) == TOOL_FEATURES | {ModelFeature.STRUCTURED_OUTPUT}
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 4096


def test_a_failing_api_show_is_not_asked_again_at_once(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_route("POST", "/api/show", Scenario.error(500, "boom"))
    first = schema_for(fake_ollama, "qwen3")
    second = schema_for(fake_ollama, "qwen3")
    assert first.features == second.features == [ModelFeature.STRUCTURED_OUTPUT]
    assert len(fake_ollama.requests_to("/api/show")) == 1  # one attempt, no retries, then remembered


def test_schema_is_built_once_per_request_instance(fake_ollama: FakeOllama) -> None:
    model = OllamaLargeLanguageModel(model_schemas=[])
    credentials = {"base_url": fake_ollama.url}
    first = model.get_model_schema("qwen3", credentials)
    assert model.get_model_schema("qwen3", credentials) is first


def test_audio_feature_follows_the_audio_capability_and_its_switch() -> None:
    def audio_declared(settings: LLMSettings, model_info: ModelInfo | None) -> bool:
        schema = build_schema("gemma4:e4b", settings, resolve_capabilities(settings, model_info))
        return ModelFeature.AUDIO in schema.features

    auto, yes, no = (read_settings({"llm_audio": value}) for value in ("auto", "true", "false"))
    assert audio_declared(auto, info("completion", "vision", "audio"))
    assert not audio_declared(auto, info("completion", "vision"))
    assert not audio_declared(auto, None)  # unknown: not declared, so Dify does not offer audio upload
    assert audio_declared(yes, None)
    assert not audio_declared(no, info("completion", "audio"))
    [problem] = switched_on_but_missing(yes, info("completion"))
    assert "Audio input support is set to Yes" in problem and "'audio'" in problem
    with pytest.raises(UserInputError, match="Audio input support 'sometimes' is not Auto, Yes or No"):
        read_settings({"llm_audio": "sometimes"}, strict=True)
