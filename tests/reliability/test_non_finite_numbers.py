"""Numbers typed into the form or sent by a server are finite, or refused with a clear message (issue 14,
point 9). Before: keep_alive "1e999" passed validation as infinity and every later embedding call failed."""

from __future__ import annotations

import socket

import pytest
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeBadRequestError

from models.connection import parse_timeout
from models.input_errors import UserInputError
from models.llm.llm import OllamaLargeLanguageModel
from models.text_embedding.text_embedding import OllamaTextEmbeddingModel
from ollama_client import ClientConfig, OllamaClient
from ollama_client.client import RetryPolicy
from ollama_client.keep_alive import keep_alive_value
from tests.fake_ollama import FakeOllama
from tests.reliability.raw_server import RawRequest, RawServer, json_answer

pytestmark = pytest.mark.usefixtures("fresh_caches")

NON_FINITE = ["1e999", "-1e999", "nan", "NaN", "inf", "-inf", "Infinity"]


@pytest.mark.parametrize("raw", NON_FINITE)
def test_keep_alive_refuses_non_finite_numbers(raw: str):
    with pytest.raises(ValueError, match=f"keep_alive '{raw}' is"):
        keep_alive_value(raw)
    with pytest.raises(ValueError):
        keep_alive_value(float(raw))


@pytest.mark.parametrize("raw", NON_FINITE)
def test_request_timeout_refuses_non_finite_numbers(raw: str):
    with pytest.raises(UserInputError, match=f"Request timeout '{raw}' is not a number of seconds from 1 to 3600"):
        parse_timeout(raw)


@pytest.mark.parametrize("raw", ["1e999", "nan", "inf"])
def test_an_embedding_keep_alive_of_infinity_fails_validation_not_every_later_call(fake_ollama: FakeOllama, raw: str):
    model = OllamaTextEmbeddingModel(model_schemas=[])
    credentials = {"base_url": fake_ollama.url, "embedding_keep_alive": raw}
    with pytest.raises(CredentialsValidateFailedError, match=f"Keep alive '{raw}'"):
        model.validate_credentials("nomic-embed-text", credentials)
    assert not fake_ollama.requests_to("/api/embed")


def test_an_llm_keep_alive_parameter_of_infinity_is_the_users_bad_request(fake_ollama: FakeOllama):
    llm = OllamaLargeLanguageModel(model_schemas=[])
    with pytest.raises(InvokeBadRequestError, match="keep_alive '1e999'"):
        list(
            llm.invoke(
                "qwen3", {"base_url": fake_ollama.url}, [UserPromptMessage(content="Hi")], {"keep_alive": "1e999"}
            )
        )
    assert not fake_ollama.requests_to("/api/chat")


@pytest.mark.parametrize("retry_after", ["nan", "-1", "inf", "1e999", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_a_retry_after_header_that_is_not_a_usable_number_falls_back_to_the_usual_back_off(retry_after: str):
    policy = RetryPolicy(backoff_seconds=0.01, max_retry_after_seconds=0.02)
    delay = policy.delay(0, retry_after)
    assert 0 <= delay <= 0.02
    busy_then_fine = iter([False, True])

    def handler(connection: socket.socket, request: RawRequest) -> bool:
        if next(busy_then_fine):
            connection.sendall(json_answer({"version": "0.12.6"}))
        else:
            body = b'{"error":"server busy"}'
            connection.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (retry_after.encode(), len(body), body)
            )
        return True

    with RawServer(handler) as server:  # before: time.sleep(nan) or sleep(-1) raised ValueError
        assert OllamaClient(ClientConfig.create(server.url), policy).version() == "0.12.6"


def test_non_finite_checks_do_not_refuse_ordinary_values():
    assert keep_alive_value("1e3") == 1000.0 and keep_alive_value("-1") == -1 and keep_alive_value("5m") == "5m"
    assert parse_timeout("600") == 600
