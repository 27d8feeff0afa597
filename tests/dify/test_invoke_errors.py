"""Every Ollama failure kind reaches Dify as the Invoke class Dify recognises, with our message."""

import json

import pydantic
import pytest
from dify_plugin.entities.model.llm import LLMUsage
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

import ollama_client as oc
from models.input_errors import UserInputError
from models.invoke_errors import OLLAMA_TO_INVOKE, mapped_stream, to_invoke_error
from models.llm.llm import OllamaLargeLanguageModel
from models.llm.messages import InvalidToolArgumentsError
from models.llm.prompt_files import UnsupportedContentError
from models.llm.stream import ThinkingExhaustedError
from models.media.base64_data import FileInputError
from models.rerank.rerank import OllamaRerankModel
from models.speech2text.segments import AudioTooLargeError
from models.text_embedding.text_embedding import OllamaTextEmbeddingModel

CASES = [
    (oc.OllamaConnectionError, InvokeConnectionError),
    (oc.OllamaTimeoutError, InvokeConnectionError),
    (oc.OllamaServerError, InvokeServerUnavailableError),
    (oc.OllamaServerBusyError, InvokeServerUnavailableError),
    (oc.OllamaStreamError, InvokeServerUnavailableError),
    (oc.OllamaRateLimitError, InvokeRateLimitError),
    (oc.OllamaAuthError, InvokeAuthorizationError),
    (oc.OllamaBadRequestError, InvokeBadRequestError),
    (oc.OllamaUnsupportedFeatureError, InvokeBadRequestError),
    (oc.OllamaContextOverflowError, InvokeBadRequestError),
    (oc.OllamaModelNotFoundError, InvokeBadRequestError),
    (oc.OllamaEndpointNotFoundError, InvokeBadRequestError),
    (oc.OllamaRedirectError, InvokeBadRequestError),
    (oc.OllamaConfigError, InvokeBadRequestError),
]


@pytest.mark.parametrize(("ollama_class", "invoke_class"), CASES)
def test_each_failure_kind_maps_to_the_exact_invoke_class_and_keeps_the_message(ollama_class, invoke_class):
    error = to_invoke_error(ollama_class("Ollama at http://h:11434/api/chat said: boom. Do X."))
    assert type(error) is invoke_class
    assert str(error) == "Ollama at http://h:11434/api/chat said: boom. Do X."
    assert error.description == str(error)


@pytest.mark.parametrize(
    "invoke_class",
    [
        InvokeConnectionError,
        InvokeServerUnavailableError,
        InvokeRateLimitError,
        InvokeAuthorizationError,
        InvokeBadRequestError,
    ],
)
def test_invoke_errors_we_raise_keep_their_class_and_text(invoke_class):
    assert invoke_class in OLLAMA_TO_INVOKE[invoke_class], "identity entry for the SDK's own mapping"
    original = invoke_class("keep me")
    assert to_invoke_error(original) is original


@pytest.mark.parametrize("model_class", [OllamaLargeLanguageModel, OllamaTextEmbeddingModel, OllamaRerankModel])
def test_models_sdk_error_hook_uses_our_mapping_without_canned_text(model_class):
    model = model_class(model_schemas=[])
    assert model._invoke_error_mapping is OLLAMA_TO_INVOKE
    error = model._transform_invoke_error(
        oc.OllamaAuthError("Ollama at http://h answered HTTP 401. Check the API key.")
    )
    assert type(error) is InvokeAuthorizationError
    assert "Check the API key" in str(error)


def _json_decode_error() -> json.JSONDecodeError:
    try:
        json.loads("{not json")
    except json.JSONDecodeError as error:
        return error
    raise AssertionError("unreachable")


def _validation_error() -> pydantic.ValidationError:
    try:
        LLMUsage.model_validate({"prompt_tokens": "many"})
    except pydantic.ValidationError as error:
        return error
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "bug",
    [ValueError("vectors of different lengths"), _json_decode_error(), _validation_error(), RuntimeError("bug")],
    ids=["ValueError", "JSONDecodeError", "ValidationError", "RuntimeError"],
)
def test_a_fault_of_the_plugin_is_not_reported_as_the_users_bad_request(bug):
    error = to_invoke_error(bug)
    assert type(error) is InvokeError
    assert str(error).startswith(f"Unexpected error in the Ollama plugin: {type(bug).__name__}: ")


@pytest.mark.parametrize(
    "user_error",
    [
        UserInputError("Batch size '0' is not a whole number from 1 to 256."),
        FileInputError("The image data is not valid base64 data."),
        UnsupportedContentError("Ollama cannot take video input."),
        InvalidToolArgumentsError("The conversation history holds a call to the tool 'f' whose arguments …"),
        AudioTooLargeError("The audio file is 31.0 MB; the limit is 30 MB."),
        ThinkingExhaustedError("The model used its whole output budget on thinking."),
    ],
    ids=lambda error: type(error).__name__,
)
def test_input_the_user_can_fix_is_a_bad_request_with_its_message(user_error):
    error = to_invoke_error(user_error)
    assert type(error) is InvokeBadRequestError
    assert str(error) == str(user_error)


def test_a_json_error_inside_an_invoke_reaches_dify_as_the_plugins_fault(monkeypatch, closed_port_url):
    def broken_request(*args, **kwargs):
        return json.loads("{not json")

    monkeypatch.setattr("models.llm.llm.build_request", broken_request)
    llm = OllamaLargeLanguageModel(model_schemas=[])
    with pytest.raises(InvokeError) as caught:
        list(llm.invoke("qwen3", {"base_url": closed_port_url}, [UserPromptMessage(content="Hi")], {}, stream=False))
    assert type(caught.value) is InvokeError
    assert "Unexpected error in the Ollama plugin: JSONDecodeError" in str(caught.value)


def test_bad_settings_inside_an_invoke_stay_a_bad_request(closed_port_url):
    llm = OllamaLargeLanguageModel(model_schemas=[])
    with pytest.raises(InvokeBadRequestError, match="The JSON Schema parameter is not valid JSON"):
        list(
            llm.invoke(
                "qwen3",
                {"base_url": closed_port_url, "llm_structured_output": "true"},
                [UserPromptMessage(content="Hi")],
                {"json_schema": "{not json"},
                stream=False,
            )
        )


def test_mapped_stream_translates_errors_raised_while_iterating():
    @mapped_stream
    def stream():
        yield "first"
        raise oc.OllamaStreamError("stream broke")

    received = []
    with pytest.raises(InvokeServerUnavailableError, match="stream broke"):
        for item in stream():
            received.append(item)
    assert received == ["first"]
