"""Tests of the fake Ollama server itself, through a real httpx client."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.fake_ollama import FIXTURES_DIR, FakeOllama, RecordedRequest, Scenario, load_ndjson_objects


@pytest.fixture
def client(fake_ollama: FakeOllama) -> httpx.Client:
    with httpx.Client(base_url=fake_ollama.url, timeout=5) as http:
        yield http


# --- built-in routes -----------------------------------------------------------------------------------


def test_builtin_routes_model_a_real_server(fake_ollama: FakeOllama, client: httpx.Client) -> None:
    assert fake_ollama.url.startswith("http://127.0.0.1:")
    assert client.get("/").text == "Ollama is running"
    assert client.get("/api/version").json() == {"version": "0.13.0"}
    fake_ollama.version = "0.5.1"
    assert client.get("/api/version").json() == {"version": "0.5.1"}

    names = [model["name"] for model in client.get("/api/tags").json()["models"]]
    assert names == ["llama3.2:latest", "qwen3:latest", "llava:latest", "nomic-embed-text:latest"]

    not_found = client.get("/api/nope")
    assert (not_found.status_code, not_found.text) == (404, "404 page not found")
    assert not_found.headers["content-type"].startswith("text/plain")
    assert client.get("/api/chat").status_code == 405


def test_show_reports_capabilities_and_context(client: httpx.Client, fake_ollama: FakeOllama) -> None:
    show = client.post("/api/show", json={"model": "qwen3"}).json()
    assert show["capabilities"] == ["completion", "tools", "thinking"]
    assert show["model_info"]["general.architecture"] == "qwen3"
    assert show["model_info"]["qwen3.context_length"] == 40960

    embed = client.post("/api/show", json={"model": "nomic-embed-text:latest"}).json()
    assert embed["model_info"]["nomic-bert.embedding_length"] == 768

    missing = client.post("/api/show", json={"model": "ghost"})
    assert (missing.status_code, missing.json()) == (404, {"error": "model 'ghost' not found"})

    fake_ollama.register_model("ghost", ["completion", "vision"], context_length=4096, family="gemma3")
    assert client.post("/api/show", json={"model": "ghost"}).json()["model_info"]["gemma3.context_length"] == 4096


def test_unknown_models_and_missing_capabilities(client: httpx.Client) -> None:
    for path in ("/api/chat", "/api/generate", "/api/embed"):
        answer = client.post(path, json={"model": "ghost"})
        assert answer.status_code == 404
        assert answer.json() == {"error": 'model "ghost" not found, try pulling it first'}
    no_tools = client.post("/api/chat", json={"model": "llava", "tools": [{"type": "function"}]})
    assert no_tools.json() == {"error": "registry.ollama.ai/library/llava:latest does not support tools"}
    no_think = client.post("/api/chat", json={"model": "llama3.2", "think": True})
    assert no_think.json() == {"error": '"llama3.2" does not support thinking'}
    assert client.post("/api/chat", json={"model": "nomic-embed-text"}).status_code == 400


def test_default_chat_generate_and_embed(client: httpx.Client) -> None:
    with client.stream("POST", "/api/chat", json={"model": "llama3.2", "messages": []}) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        assert response.headers["transfer-encoding"] == "chunked"
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1].startswith('{"model":"llama3.2"') and '"done":true' in lines[-1]

    answer = client.post("/api/generate", json={"model": "llama3.2", "prompt": "hi", "stream": False}).json()
    assert answer["response"] == "Once upon a time." and answer["done"] is True

    vectors = client.post("/api/embed", json={"model": "nomic-embed-text", "input": ["a", "b", "a"]}).json()
    assert [len(vector) for vector in vectors["embeddings"]] == [768, 768, 768]
    assert vectors["embeddings"][0] == vectors["embeddings"][2] != vectors["embeddings"][1]


# --- recording -----------------------------------------------------------------------------------------


def test_requests_are_recorded(fake_ollama: FakeOllama, client: httpx.Client) -> None:
    client.post("/api/show?verbose=1", json={"model": "llama3.2"}, headers={"Authorization": "Bearer k"})
    client.get("/api/version")
    [show] = fake_ollama.requests_to("/api/show")
    assert isinstance(show, RecordedRequest)
    assert (show.method, show.path, show.query) == ("POST", "/api/show", {"verbose": ["1"]})
    assert show.header("Authorization") == "Bearer k" == show.headers["authorization"]
    assert show.json == {"model": "llama3.2"} and show.body == b'{"model":"llama3.2"}'
    assert fake_ollama.last_request().path == "/api/version"
    assert fake_ollama.requests_to("/api/version", method="POST") == []
    fake_ollama.clear_requests()
    assert fake_ollama.requests == []


def test_wait_for_requests_sees_background_clients(fake_ollama: FakeOllama) -> None:
    thread = threading.Thread(target=lambda: httpx.get(fake_ollama.url + "/api/tags"))
    thread.start()
    assert len(fake_ollama.wait_for_requests("/api/tags", timeout=5)) == 1
    thread.join()


# --- scripting -----------------------------------------------------------------------------------------


def test_queued_scenarios_play_in_order_then_fall_back(fake_ollama: FakeOllama, client: httpx.Client) -> None:
    fake_ollama.enqueue(
        "POST",
        "/api/chat",
        Scenario.error(503, "server busy, please try again.  maximum pending requests exceeded"),
        Scenario.from_fixture("chat_nostream_hello.json"),
    )
    assert fake_ollama.pending_scenarios("POST", "/api/chat") == 2
    first = client.post("/api/chat", json={"model": "anything"})
    second = client.post("/api/chat", json={"model": "anything"})
    third = client.post("/api/chat", json={"model": "anything"})
    assert first.status_code == 503 and "server busy" in first.json()["error"]
    assert second.status_code == 200 and second.json()["message"]["content"].startswith("Hello!")
    assert second.headers["content-length"] == str(len(second.content))
    assert third.status_code == 404  # queue empty: built-in behaviour again


def test_route_default_and_callable_handler(fake_ollama: FakeOllama, client: httpx.Client) -> None:
    fake_ollama.set_route("POST", "/api/embed", lambda request: {"echo": request.json["input"]})
    assert client.post("/api/embed", json={"input": "x"}).json() == {"echo": "x"}
    assert client.post("/api/embed", json={"input": "y"}).json() == {"echo": "y"}
    fake_ollama.set_route("POST", "/api/embed", Scenario.error(500, "boom"))
    assert client.post("/api/embed", json={}).status_code == 500
    fake_ollama.set_route("POST", "/api/embed", None)
    assert client.post("/api/embed", json={"model": "ghost"}).status_code == 404


def test_broken_handler_answers_500(fake_ollama: FakeOllama, client: httpx.Client) -> None:
    fake_ollama.set_route("GET", "/api/tags", lambda request: 1 / 0)
    answer = client.get("/api/tags")
    assert answer.status_code == 500 and "ZeroDivisionError" in answer.json()["error"]
    assert isinstance(fake_ollama.handler_errors[0], ZeroDivisionError)


def test_parts_arrive_as_separate_chunks_with_delays(fake_ollama: FakeOllama, client: httpx.Client) -> None:
    parts = [{"n": 1}, "second\n", b"third\n"]
    fake_ollama.enqueue("POST", "/api/chat", Scenario.ndjson(parts, part_delay=[0, 0.15, 0.15]))
    arrivals: list[tuple[float, bytes]] = []
    with client.stream("POST", "/api/chat", json={}) as response:
        for raw in response.iter_raw():
            arrivals.append((time.monotonic(), raw))
    assert [raw for _, raw in arrivals] == [b'{"n":1}\n', b"second\n", b"third\n"]
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(arrivals)]
    assert all(gap >= 0.1 for gap in gaps), gaps


def test_abrupt_close_is_an_error_for_httpx(fake_ollama: FakeOllama, client: httpx.Client) -> None:
    stream = Scenario.from_fixture("chat_stream_hello.ndjson", close_after_parts=2)
    fake_ollama.enqueue("POST", "/api/chat", stream)
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError), client.stream("POST", "/api/chat", json={}) as response:
        received.extend(line for line in response.iter_lines() if line)
    assert len(received) == 2

    # A Content-Length body cut short is an error too.
    fake_ollama.enqueue("GET", "/api/tags", Scenario(parts=(b"{}", b"{}"), close_after_parts=1))
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/tags")


def test_connection_reset_and_stalls(fake_ollama: FakeOllama, client: httpx.Client) -> None:
    fake_ollama.enqueue("GET", "/api/version", Scenario.connection_reset())
    with pytest.raises(httpx.ReadError):  # ECONNRESET, not a clean FIN
        client.get("/api/version")

    fake_ollama.enqueue("GET", "/api/version", Scenario.json({"version": "x"}, headers_delay=1.0))
    with pytest.raises(httpx.ReadTimeout):
        client.get("/api/version", timeout=0.2)
    assert client.get("/api/version").json() == {"version": "0.13.0"}


def test_bearer_token_requirement(fake_ollama: FakeOllama, client: httpx.Client) -> None:
    fake_ollama.bearer_token = "secret"
    denied = client.get("/api/tags")
    assert (denied.status_code, denied.json()) == (401, {"error": "unauthorized"})
    assert client.get("/api/tags", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/tags", headers={"Authorization": "Bearer secret"}).status_code == 200


def test_stop_does_not_hang_on_a_client_mid_stream() -> None:
    fake = FakeOllama().start()
    fake.enqueue("POST", "/api/chat", Scenario.ndjson([{"a": 1}, {"b": 2}], part_delay=[0, 30]))
    outcome: list[object] = []

    def read_stream() -> None:
        try:
            with httpx.stream("POST", fake.url + "/api/chat", json={}, timeout=60) as response:
                outcome.extend(response.iter_lines())
        except httpx.HTTPError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read_stream)
    reader.start()
    fake.wait_for_requests("/api/chat")
    time.sleep(0.1)
    started = time.monotonic()
    fake.stop()
    reader.join(timeout=5)
    assert time.monotonic() - started < 2
    assert not reader.is_alive()
    assert isinstance(outcome[-1], httpx.RemoteProtocolError)


def test_closed_port_refuses(closed_port_url: str) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(closed_port_url + "/api/version", timeout=2)


def test_head_has_no_body(client: httpx.Client) -> None:
    answer = client.head("/")
    assert answer.status_code == 200 and answer.content == b""


# --- transcripts ---------------------------------------------------------------------------------------


def test_shared_examples_stream_verbatim(shared_examples: Path, fake_ollama: FakeOllama, client: httpx.Client) -> None:
    fake_ollama.enqueue("POST", "/api/generate", Scenario.from_shared_example("streaming_mdx.generate.stream.ndjson"))
    fake_ollama.enqueue("POST", "/api/generate", Scenario.from_shared_example("errors_mdx.midstream_error.ndjson"))
    with client.stream("POST", "/api/generate", json={}) as response:
        body = b"".join(response.iter_raw())
    assert body == (shared_examples / "streaming_mdx.generate.stream.ndjson").read_bytes()
    assert b'"done":true, "done_reason": "stop"' in body  # upstream's odd spacing survives

    with client.stream("POST", "/api/generate", json={}) as response:
        lines = [line for line in response.iter_lines() if line]
    assert response.status_code == 200
    assert lines[-1] == '{"error":"an error was encountered while running the model"}'


def test_every_fixture_loads() -> None:
    fixtures = sorted(FIXTURES_DIR.glob("*.ndjson")) + sorted(FIXTURES_DIR.glob("*.json"))
    assert len(fixtures) >= 8
    for path in fixtures:
        scenario = Scenario.from_transcript(path)
        assert scenario.parts, path
        assert scenario.chunked == (path.suffix == ".ndjson")
    midstream = load_ndjson_objects(FIXTURES_DIR / "chat_stream_midstream_error.ndjson")
    assert "error" in midstream[-1] and not any(chunk.get("done") for chunk in midstream)


def test_broken_transcripts_fail_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ndjson"
    broken.write_text('{"ok": true}\nnot json\n')
    with pytest.raises(ValueError, match="broken.ndjson:2"):
        Scenario.from_transcript(broken)
    with pytest.raises(FileNotFoundError, match="shared Ollama example missing"):
        Scenario.from_shared_example("no_such_example.ndjson")
