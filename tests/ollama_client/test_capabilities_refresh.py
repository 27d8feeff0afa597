"""Stale-while-revalidate: once the capability cache has expired, a known answer is served at once and
/api/show is asked again in the background."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import respx

from ollama_client import ClientConfig, OllamaClient, capabilities, get_model_info

pytestmark = pytest.mark.usefixtures("fresh_caches")

SHOW_URL = "http://ollama.test:11434/api/show"


def client() -> OllamaClient:
    return OllamaClient(ClientConfig.create("http://ollama.test:11434"))


def show_gains_tools_on_the_second_ask() -> respx.Route:
    """/api/show answers without the tools capability, then with it (the model was updated in between)."""
    return respx.post(SHOW_URL).mock(
        side_effect=[
            httpx.Response(200, json={"capabilities": ["completion"]}),
            httpx.Response(200, json={"capabilities": ["completion", "tools"]}),
        ]
    )


def wait_until(condition, seconds: float = 3.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


@respx.mock
def test_an_expired_answer_is_served_at_once_and_refreshed_in_the_background(monkeypatch):
    release = threading.Event()
    answers = iter([["completion"], ["completion", "tools"]])
    asked = []

    def show(request):
        asked.append(request)
        capabilities_now = next(answers)
        if "tools" in capabilities_now:
            release.wait(5)  # the refresh is slow; nobody may wait for it
        return httpx.Response(200, json={"capabilities": capabilities_now})

    route = respx.post(SHOW_URL).mock(side_effect=show)
    assert get_model_info(client(), "qwen3").has("tools") is False

    monkeypatch.setattr(capabilities, "CACHE_TTL_SECONDS", 1e-9)  # the cached answer has now expired
    started = time.monotonic()
    served = get_model_info(client(), "qwen3")
    assert time.monotonic() - started < 1.0
    assert served.has("tools") is False  # the known answer, not a wait for the slow refresh
    wait_until(lambda: len(asked) == 2)
    assert get_model_info(client(), "qwen3").has("tools") is False  # one refresh at a time, none started again
    assert len(asked) == 2

    release.set()
    monkeypatch.setattr(capabilities, "CACHE_TTL_SECONDS", 300.0)
    wait_until(lambda: get_model_info(client(), "qwen3").has("tools") is True)
    assert route.call_count == 2


@respx.mock
def test_validation_never_gets_a_stale_answer(monkeypatch):
    route = show_gains_tools_on_the_second_ask()
    get_model_info(client(), "qwen3")
    assert get_model_info(client(), "qwen3", max_age=0).has("tools") is True
    assert route.call_count == 2


@respx.mock
def test_a_failed_refresh_keeps_serving_the_last_answer_without_asking_on_every_call(monkeypatch):
    route = respx.post(SHOW_URL).mock(
        side_effect=[httpx.Response(200, json={"capabilities": ["completion", "tools"]})]
        + [httpx.Response(500, json={"error": "boom"})] * 5
    )
    get_model_info(client(), "qwen3")
    monkeypatch.setattr(capabilities, "CACHE_TTL_SECONDS", 1e-9)
    assert get_model_info(client(), "qwen3").has("tools") is True
    wait_until(lambda: not capabilities._refreshing)
    for _ in range(3):
        assert get_model_info(client(), "qwen3").has("tools") is True
    assert route.call_count == 2  # the failed refresh is not repeated at once


@respx.mock
def test_a_very_old_answer_is_not_served(monkeypatch):
    route = show_gains_tools_on_the_second_ask()
    get_model_info(client(), "qwen3")
    monkeypatch.setattr(capabilities, "CACHE_TTL_SECONDS", 1e-9)
    monkeypatch.setattr(capabilities, "MAX_STALE_SECONDS", 0.0)
    assert get_model_info(client(), "qwen3").has("tools") is True
    assert route.call_count == 2


@respx.mock
def test_a_model_name_with_spaces_is_looked_up_trimmed():
    route = respx.post(SHOW_URL).mock(return_value=httpx.Response(200, json={"capabilities": ["completion"]}))
    assert get_model_info(client(), " qwen3:8b \n").name == "qwen3:8b"
    assert route.calls.last.request.content == b'{"model":"qwen3:8b"}'


@respx.mock
def test_an_unexpected_exception_in_the_background_refresh_is_logged_and_backs_off(monkeypatch, caplog):
    answers = iter([httpx.Response(200, json={"capabilities": ["completion"]})])

    def show(request):
        answer = next(answers, None)
        if answer is None:
            raise RecursionError("a parser gave up")  # anything that is not an OllamaError
        return answer

    route = respx.post(SHOW_URL).mock(side_effect=show)
    assert get_model_info(client(), "qwen3").has("tools") is False
    monkeypatch.setattr(capabilities, "CACHE_TTL_SECONDS", 1e-9)
    unhandled = []
    monkeypatch.setattr(threading, "excepthook", unhandled.append)
    assert get_model_info(client(), "qwen3").has("tools") is False
    wait_until(lambda: "refreshing the capabilities of qwen3 failed" in caplog.text)
    assert "RecursionError" in caplog.text
    assert get_model_info(client(), "qwen3").has("tools") is False  # backing off: not asked again at once
    time.sleep(0.05)
    assert route.call_count == 2
    assert unhandled == []
