"""Tests of the end-to-end driver itself.

The validators are checked on plain dicts. The process handling is checked against a tiny stub plugin written to
a temporary directory, so it does not depend on the real plugin; one smoke test then runs the real source tree.
"""

from __future__ import annotations

import copy
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.driver import (
    PluginProcess,
    StartPlugin,
    validate_credentials_result,
    validate_llm_chunk,
    validate_llm_num_tokens,
    validate_model_schema_result,
    validate_rerank_result,
    validate_stream_payload,
    validate_text_embedding_num_tokens,
    validate_text_embedding_result,
)

# --- validators on dicts -------------------------------------------------------------------------------

USAGE = {
    "prompt_tokens": 26,
    "prompt_unit_price": "0",
    "prompt_price_unit": "0",
    "prompt_price": "0E-7",
    "completion_tokens": 9,
    "completion_unit_price": "0",
    "completion_price_unit": "0",
    "completion_price": "0E-7",
    "total_tokens": 35,
    "total_price": "0E-7",
    "currency": "USD",
    "latency": 0.42,
}
GOOD_CHUNK: dict[str, Any] = {
    "model": "llama3.2",
    "prompt_messages": [],
    "system_fingerprint": None,
    "delta": {
        "index": 0,
        "message": {"role": "assistant", "content": "Hello", "name": None, "tool_calls": []},
        "usage": None,
        "finish_reason": None,
    },
}


def chunk_with(**delta_changes: Any) -> dict[str, Any]:
    chunk = copy.deepcopy(GOOD_CHUNK)
    for key, value in delta_changes.items():
        if key.startswith("message_"):
            chunk["delta"]["message"][key.removeprefix("message_")] = value
        else:
            chunk["delta"][key] = value
    return chunk


def test_good_llm_chunks_pass() -> None:
    validate_llm_chunk(GOOD_CHUNK)
    validate_llm_chunk(chunk_with(message_content=""))
    validate_llm_chunk(chunk_with(message_content=[{"type": "text", "data": "hi"}]))
    validate_llm_chunk(chunk_with(usage=USAGE, finish_reason="stop"))
    tool_call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    validate_llm_chunk(chunk_with(message_tool_calls=[tool_call]))


@pytest.mark.parametrize(
    ("chunk", "rule"),
    [
        (chunk_with(message_content=None), "delta.message.content must be present and not null"),
        ({**GOOD_CHUNK, "model": ""}, "model must be a non-empty string"),
        (chunk_with(index="0"), "delta.index must be an integer"),
        (chunk_with(index=True), "delta.index must be an integer"),
        (chunk_with(message_role="model"), "delta.message.role must be one of"),
        (chunk_with(message_content=123), "delta.message.content must be a string or a list"),
        (chunk_with(message_content=[{"type": "thinking"}]), "content[].type"),
        (chunk_with(finish_reason=1), "delta.finish_reason must be a string or null"),
        (chunk_with(usage={k: v for k, v in USAGE.items() if k != "latency"}), "delta.usage.latency"),
        (chunk_with(usage={**USAGE, "total_price": "free"}), "delta.usage.total_price"),
        (chunk_with(usage={**USAGE, "prompt_tokens": None}), "delta.usage.prompt_tokens"),
        (
            chunk_with(message_tool_calls=[{"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]),
            "arguments must be a JSON string",
        ),
    ],
)
def test_bad_llm_chunks_are_rejected_naming_the_rule(chunk: dict[str, Any], rule: str) -> None:
    with pytest.raises(AssertionError, match="daemon would reject payload") as caught:
        validate_llm_chunk(chunk)
    assert rule in str(caught.value)


def test_missing_content_key_is_rejected() -> None:
    chunk = copy.deepcopy(GOOD_CHUNK)
    del chunk["delta"]["message"]["content"]
    with pytest.raises(AssertionError, match="content must be present"):
        validate_llm_chunk(chunk)


def test_other_action_validators() -> None:
    validate_credentials_result({"result": True, "credentials": {}})
    with pytest.raises(AssertionError, match="result must be a boolean"):
        validate_credentials_result({"result": "yes", "credentials": {}})

    schema = {
        "model": "llama3.2",
        "model_type": "llm",
        "parameter_rules": [{"name": "temperature", "use_template": "temperature"}, {"name": "num_ctx"}],
    }
    validate_model_schema_result({"model_schema": schema})
    validate_model_schema_result({"model_schema": None})
    bad_schema = {**schema, "parameter_rules": [{"name": "think", "use_template": "think"}]}
    with pytest.raises(AssertionError, match="use_template 'think' is not one of"):
        validate_model_schema_result({"model_schema": bad_schema})

    usage = {
        "tokens": 3,
        "total_tokens": 3,
        "unit_price": "0",
        "price_unit": "0",
        "total_price": "0",
        "currency": "USD",
        "latency": 0.1,
    }
    validate_text_embedding_result({"model": "m", "embeddings": [[0.1, 0.2]], "usage": usage})
    with pytest.raises(AssertionError, match="usage.currency"):
        validate_text_embedding_result({"model": "m", "embeddings": [[0.1]], "usage": {**usage, "currency": None}})
    with pytest.raises(AssertionError, match="list of float lists"):
        validate_text_embedding_result({"model": "m", "embeddings": [["x"]], "usage": usage})

    validate_llm_num_tokens({"num_tokens": 5})
    with pytest.raises(AssertionError, match="num_tokens must be an integer"):
        validate_llm_num_tokens({"num_tokens": 5.0})
    validate_text_embedding_num_tokens({"num_tokens": [1, 2]})
    with pytest.raises(AssertionError, match="list of integers"):
        validate_text_embedding_num_tokens({"num_tokens": 3})

    validate_rerank_result({"model": "m", "docs": []})
    validate_rerank_result({"model": "m", "docs": [{"index": 0, "text": "a", "score": 0.9}]})
    with pytest.raises(AssertionError, match=r"docs\[\].score"):
        validate_rerank_result({"model": "m", "docs": [{"index": 0, "text": "a"}]})

    with pytest.raises(AssertionError, match="must be an object"):
        validate_stream_payload("invoke_llm", "not a dict")
    validate_stream_payload("some_future_action", {"anything": 1})


# --- a stub plugin, to test the process handling on its own --------------------------------------------

STUB_FILES = {
    "main.py": """
        from dify_plugin import DifyPluginEnv, Plugin

        plugin = Plugin(DifyPluginEnv())

        if __name__ == "__main__":
            plugin.run()
    """,
    "manifest.yaml": """
        version: 0.0.1
        type: plugin
        author: tests
        name: stub
        label: {en_US: Stub}
        description: {en_US: Driver test stub}
        icon: icon.svg
        created_at: "2026-01-01T00:00:00Z"
        resource:
          memory: 268435456
          permission: {model: {enabled: true, llm: true}}
        plugins:
          models: [provider/stub.yaml]
        meta:
          version: 0.0.1
          arch: [amd64, arm64]
          runner: {language: python, version: "3.12", entrypoint: main}
    """,
    "_assets/icon.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
    "provider/stub.yaml": """
        provider: ollama
        label: {en_US: Stub}
        icon_small: {en_US: icon.svg}
        supported_model_types: [llm]
        configurate_methods: [customizable-model]
        provider_credential_schema:
          credential_form_schemas:
            - {variable: base_url, type: text-input, required: true, label: {en_US: Base URL}}
        model_credential_schema:
          model: {label: {en_US: Model}}
          credential_form_schemas:
            - {variable: base_url, type: text-input, required: true, label: {en_US: Base URL}}
        extra:
          python:
            provider_source: provider/stub.py
            model_sources: [models/llm/llm.py]
    """,
    "provider/stub.py": """
        import httpx
        from dify_plugin import ModelProvider
        from dify_plugin.errors.model import CredentialsValidateFailedError


        class StubProvider(ModelProvider):
            def validate_provider_credentials(self, credentials: dict) -> None:
                try:
                    httpx.get(credentials["base_url"] + "/api/version", timeout=5).raise_for_status()
                except Exception as exc:
                    raise CredentialsValidateFailedError(str(exc)) from exc
    """,
    "models/llm/llm.py": """
        import time

        from dify_plugin import LargeLanguageModel
        from dify_plugin.entities.model.llm import LLMResultChunk, LLMResultChunkDelta, LLMUsage
        from dify_plugin.entities.model.message import AssistantPromptMessage
        from dify_plugin.errors.model import InvokeServerUnavailableError


        class StubLLM(LargeLanguageModel):
            # model "slow-N": N chunks 0.1 s apart; "null-content": a chunk the daemon rejects; "boom": an error
            def _invoke(self, model, credentials, prompt_messages, model_parameters, tools, stop, stream, user):
                if model == "boom":
                    raise InvokeServerUnavailableError("stub is down")
                return self._chunks(model, str(prompt_messages[-1].content))

            def _chunks(self, model, text):
                words = text.split() if not model.startswith("slow-") else [f"w{i} " for i in range(int(model[5:]))]
                for index, word in enumerate(words):
                    if model.startswith("slow-"):
                        time.sleep(0.1)
                    content = None if model == "null-content" else word
                    yield LLMResultChunk(
                        model=model,
                        delta=LLMResultChunkDelta(index=index, message=AssistantPromptMessage(content=content)),
                    )
                yield LLMResultChunk(
                    model=model,
                    delta=LLMResultChunkDelta(
                        index=len(words),
                        message=AssistantPromptMessage(content=""),
                        usage=LLMUsage.empty_usage(),
                        finish_reason="stop",
                    ),
                )

            def get_num_tokens(self, model, credentials, prompt_messages, tools=None):
                return 1

            def validate_credentials(self, model, credentials):
                pass

            @property
            def _invoke_error_mapping(self):
                return {InvokeServerUnavailableError: [InvokeServerUnavailableError]}
    """,
}


def write_stub_plugin(directory: Path, files: dict[str, str] = STUB_FILES) -> Path:
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return directory


@pytest.fixture(scope="module")
def stub_plugin(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with PluginProcess(write_stub_plugin(tmp_path_factory.mktemp("stub-plugin"))) as process:
        yield process


USER_HELLO = [{"role": "user", "content": "Hello there, stub"}]


@pytest.mark.e2e
def test_stub_starts_like_under_the_daemon(stub_plugin: PluginProcess) -> None:
    assert stub_plugin.is_alive()
    assert stub_plugin.heartbeats >= 1
    assert stub_plugin.manifest is not None and stub_plugin.manifest["name"] == "stub"


@pytest.mark.e2e
def test_stub_validate_credentials_reaches_the_fake(stub_plugin: PluginProcess, fake_ollama: Any) -> None:
    result = stub_plugin.validate_provider_credentials({"base_url": fake_ollama.url})
    assert result.ok, result.error
    assert result.last_payload == {"result": True, "credentials": {"base_url": fake_ollama.url}}
    assert len(fake_ollama.requests_to("/api/version")) == 1


@pytest.mark.e2e
def test_stub_error_then_end(stub_plugin: PluginProcess, closed_port_url: str) -> None:
    result = stub_plugin.validate_provider_credentials({"base_url": closed_port_url})
    assert result.ended and not result.ok
    assert result.error_type == "CredentialsValidateFailedError"

    failed = stub_plugin.invoke_llm("boom", {}, USER_HELLO)
    assert failed.ended and failed.payloads == []
    assert failed.error_type == "InvokeServerUnavailableError"
    assert failed.error_description and "stub is down" in failed.error_description


@pytest.mark.e2e
def test_stub_llm_stream_is_collected_and_validated(stub_plugin: PluginProcess) -> None:
    result = stub_plugin.invoke_llm("echo", {}, USER_HELLO).raise_for_error()
    assert result.llm_text() == "Hellothere,stub"
    assert result.final_llm_chunk()["delta"]["finish_reason"] == "stop"


@pytest.mark.e2e
def test_daemon_violation_from_a_real_process_fails_the_request(stub_plugin: PluginProcess) -> None:
    with pytest.raises(AssertionError, match="content must be present and not null"):
        stub_plugin.invoke_llm("null-content", {}, USER_HELLO)
    raw = stub_plugin.invoke_llm("null-content", {}, USER_HELLO, validate=False)
    assert raw.payloads[0]["delta"]["message"]["content"] is None


@pytest.mark.e2e
def test_concurrent_requests_are_routed_by_session(stub_plugin: PluginProcess) -> None:
    base = {
        "provider": "ollama",
        "model_type": "llm",
        "credentials": {},
        "model_parameters": {},
        "prompt_messages": USER_HELLO,
        "tools": None,
        "stop": None,
        "stream": True,
    }
    started = time.monotonic()
    counts = (6, 7, 8)  # chunks 0.1 s apart: 2.1 s one after another, 0.8 s side by side
    pending = [stub_plugin.submit("invoke_llm", {**base, "model": f"slow-{n}"}) for n in counts]
    results = [request.result(timeout=30) for request in pending]
    assert [len(result.payloads) for result in results] == [n + 1 for n in counts]
    assert all(chunk["model"] == f"slow-{n}" for n, r in zip(counts, results, strict=True) for chunk in r.payloads)
    assert time.monotonic() - started < 1.8, "requests should run concurrently, not one after another"


@pytest.mark.e2e
def test_startup_failure_reports_stderr(start_plugin: StartPlugin, tmp_path: Path) -> None:
    broken = write_stub_plugin(tmp_path, {**STUB_FILES, "main.py": "raise SystemExit('stub refuses to start')\n"})
    with pytest.raises(AssertionError, match="stub refuses to start"):
        start_plugin(broken, startup_timeout=20)


@pytest.mark.e2e
def test_close_kills_the_process(start_plugin: StartPlugin, tmp_path: Path) -> None:
    process = start_plugin(write_stub_plugin(tmp_path))
    assert process.is_alive()
    process.close()
    assert not process.is_alive()
    assert process.returncode is not None


# --- the real plugin -----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_plugin_smoke_validate_provider_credentials(plugin: PluginProcess, fake_ollama: Any) -> None:
    result = plugin.validate_provider_credentials({"base_url": fake_ollama.url})
    assert result.ok, f"{result.error_type}: {result.error_message}"
    assert result.last_payload["result"] is True
    assert fake_ollama.requests_to("/api/version"), "the plugin should check GET /api/version"
