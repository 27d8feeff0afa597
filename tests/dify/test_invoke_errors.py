"""Every Ollama failure kind reaches Dify as the Invoke class Dify recognises, with our message."""

import pytest
from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

import ollama_client as oc
from models.invoke_errors import OLLAMA_TO_INVOKE, mapped_stream, to_invoke_error
from models.llm.llm import OllamaLargeLanguageModel
from models.rerank.rerank import OllamaRerankModel
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


def test_bad_input_value_errors_are_bad_requests_and_unknown_errors_stay_generic():
    assert type(to_invoke_error(ValueError("json_schema is not valid JSON"))) is InvokeBadRequestError
    generic = to_invoke_error(RuntimeError("bug"))
    assert type(generic) is InvokeError and "RuntimeError: bug" in str(generic)


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
