"""The daemon's HTTP_PROXY/ALL_PROXY are not used for Ollama or rerank traffic unless
OLLAMA_PLUGIN_USE_PROXY_ENV=true: a proxy meant for internet downloads would otherwise receive every prompt
and the Bearer key, even for an Ollama on the LAN."""

from __future__ import annotations

import socket

import pytest

from ollama_client import ClientConfig, OllamaClient
from ollama_client.pool import USE_PROXY_ENV
from rerank_client import RerankServiceClient, resolve_service_endpoint
from tests.reliability.raw_server import RawRequest, RawServer, json_answer

pytestmark = pytest.mark.usefixtures("fresh_caches")

KEY = "sk-proxy-must-not-see-this"


def answering(obj: dict):
    def handler(connection: socket.socket, request: RawRequest) -> bool:
        connection.sendall(json_answer(obj))
        return False

    return handler


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch):
    with RawServer(answering({"version": "proxy"})) as proxy:
        for name in ("NO_PROXY", "no_proxy", USE_PROXY_ENV):
            monkeypatch.delenv(name, raising=False)
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        yield proxy


def test_ollama_and_rerank_requests_do_not_go_through_the_environment_proxy(proxy_env: RawServer):
    with RawServer(answering({"version": "0.9.0", "results": [{"index": 0, "relevance_score": 0.5}]})) as server:
        assert OllamaClient(ClientConfig.create(server.url, KEY, 5)).version() == "0.9.0"
        rerank = RerankServiceClient(resolve_service_endpoint(f"{server.url}/rerank"), KEY, 5.0)
        assert rerank.rerank("m", "q", ["a"])
    assert proxy_env.requests == []
    assert [request.headers["authorization"] for request in server.requests] == [f"Bearer {KEY}"] * 2


def test_the_opt_in_restores_the_environment_proxy(proxy_env: RawServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(USE_PROXY_ENV, "true")
    with RawServer(answering({"version": "0.9.0"})) as server:
        assert OllamaClient(ClientConfig.create(server.url, None, 5)).version() == "proxy"
    assert server.requests == []
    assert proxy_env.requests[0].path == f"{server.url}/api/version"
