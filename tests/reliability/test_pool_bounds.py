"""One plugin process serves every workspace: connection pools and caches must not grow with the number of API
keys, timeouts or servers it has seen (issue 14, point 1)."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from ollama_client import (
    ClientConfig,
    OllamaClient,
    capabilities,
    get_model_info,
    pool,
)
from tests.reliability.raw_server import CHUNKED_HEAD, RawRequest, RawServer, chunk, json_answer, ndjson_chunk

pytestmark = pytest.mark.usefixtures("fresh_caches")

SHOW = {"capabilities": ["completion"], "model_info": {"general.architecture": "llama", "llama.context_length": 8192}}


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def answer_show(connection: socket.socket, request: RawRequest) -> bool:
    connection.sendall(json_answer(SHOW if request.path == "/api/show" else {"version": "0.12.6"}))
    return True  # keep-alive, as Ollama does


def test_5000_distinct_api_keys_and_timeouts_keep_fds_memory_and_pools_flat():
    with RawServer(answer_show) as server:

        def look_up(i: int) -> None:
            # Every credential differs: a new key each time, and the timeout too for every other one.
            timeout = 600 if i % 2 else 5 + i / 10
            client = OllamaClient(ClientConfig.create(server.url, f"sk-tenant-{i:05d}-0123456789", timeout))
            assert get_model_info(client, "llama3.2").context_length == 8192

        for i in range(50):  # warm up: imports, the pool's first connection, allocator arenas
            look_up(100_000 + i)
        fds_before, rss_before = open_fds(), rss_mib()
        for i in range(5000):
            look_up(i)
            if i % 1000 == 999:
                assert open_fds() <= fds_before + 2, f"fds grew after {i + 1} credentials"
        assert len(server.requests) == 5050  # every lookup really went to the server (no cache hit)
        assert pool.pooled_server_count() == 1
        assert server.connections <= 2  # one kept-alive connection served them all
        assert open_fds() <= fds_before + 2
        assert capabilities.cache_size() <= capabilities.MAX_CACHE_ENTRIES
        # The old per-(key, timeout) clients cost about 1 MiB each: 5,000 would be gigabytes.
        assert rss_mib() - rss_before < 40


def test_the_least_recently_used_server_is_closed_but_not_under_a_stream_in_flight(monkeypatch):
    monkeypatch.setattr(pool, "MAX_POOLED_SERVERS", 3)
    go_on = threading.Event()

    def slow_stream(connection: socket.socket, request: RawRequest) -> bool:
        connection.sendall(CHUNKED_HEAD + ndjson_chunk({"message": {"content": "Hel"}, "done": False}))
        go_on.wait(10)
        connection.sendall(ndjson_chunk({"message": {"content": "lo"}, "done": True}) + chunk(b"")[:-2] + b"\r\n")
        return True

    servers = [RawServer(answer_show) for _ in range(8)]
    with RawServer(slow_stream) as streaming:
        for server in servers:
            server.__enter__()
        try:
            fds_before = open_fds()
            stream = OllamaClient(ClientConfig.create(streaming.url)).stream("/api/chat", {"model": "m"})
            first = next(stream)
            streaming_pool = pool.http_client_for(streaming.url)
            used = []
            for server in servers:  # 8 other servers: the streaming one is evicted long before the end
                OllamaClient(ClientConfig.create(server.url)).version()
                used.append(pool.http_client_for(server.url))
                assert pool.pooled_server_count() <= 3
            assert not streaming_pool.is_closed  # evicted, but its stream is still being read
            go_on.set()
            rest = list(stream)
            assert [first, *rest][-1]["done"] is True
            assert streaming_pool.is_closed  # closed once its last request ended
            assert [client.is_closed for client in used] == [True] * 5 + [False] * 3
            time.sleep(0.2)  # the in-process servers notice the closed connections
            # The 3 pooled servers' kept-alive connections, counted at both ends (the servers run in this process).
            assert open_fds() <= fds_before + 2 * 3
        finally:
            for server in servers:
                server.stop()
