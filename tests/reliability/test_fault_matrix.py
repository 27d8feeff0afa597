"""Fault matrix: every way an Ollama server (or what stands in front of it) fails, end to end through the
plugin process, with the Dify error class, the message the user sees, and the same process serving the next
request. docs/failure-modes.md is the table of these cases."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.e2e.driver import PluginProcess
from tests.fake_ollama import FakeOllama, Scenario, chat_chunk
from tests.reliability.support import (
    MODEL,
    USER_HI,
    assert_serves_normally,
    creds,
    final_chunks,
    normal_answer,
)

pytestmark = pytest.mark.e2e

INVOKE_ERROR_CLASSES = {
    "InvokeConnectionError",
    "InvokeServerUnavailableError",
    "InvokeRateLimitError",
    "InvokeAuthorizationError",
    "InvokeBadRequestError",
}
NO_WAIT = {"Retry-After": "0"}  # 503 is retried after Retry-After (capped); 0 keeps the suite fast
SHORT_TIMEOUT = "1"  # the 'Request timeout' credential in the stall cases (the smallest the form allows)
WHO = "Ollama at {url}/api/chat (model 'qwen3')"


def first_chunks() -> list[dict]:
    return [chat_chunk(MODEL, "Hel"), chat_chunk(MODEL, "lo")]


def done_chunk() -> dict:
    return chat_chunk(MODEL, done=True, prompt_eval_count=3, eval_count=2)


def broken_after_output(last_line: bytes) -> Scenario:
    return Scenario.ndjson([first_chunks()[0], last_line, done_chunk()])


@dataclass(frozen=True)
class Fault:
    name: str
    answers: tuple[Scenario, ...]  # what /api/chat answers, in order; a normal answer follows
    error_type: str
    message: str  # the start of what the user sees; {url} is the fake's address
    partial_text: str = ""  # what a streaming caller already received before the failure
    requests: int = 1  # /api/chat requests made: > 1 only where a retry is safe (nothing streamed yet)
    timeout: str | None = None


BEFORE_OUTPUT = [
    Fault(
        # The kept-alive connection of the model lookup is reset: resent once on a new connection, whose reset
        # is final (the server received the request there and may be working on it).
        "reset before the first byte, on the kept-alive and on a new connection",
        (Scenario.connection_reset(),) * 2,
        "InvokeConnectionError",
        "Ollama at {url}/api/chat closed the connection without answering (ReadError: ",
        requests=2,
    ),
    Fault(
        "stall longer than the read timeout before answering",
        (normal_answer().with_options(headers_delay=2.0),),
        "InvokeConnectionError",
        WHO + " did not start answering within 1 s (a large model may still be loading).",
        timeout=SHORT_TIMEOUT,
    ),
    Fault(
        "400 model lacks tools",
        (Scenario.error(400, "registry.ollama.ai/library/qwen3:latest does not support tools"),),
        "InvokeBadRequestError",
        WHO + ' answered HTTP 400: "registry.ollama.ai/library/qwen3:latest does not support tools". '
        "Turn that feature off in the model settings or pick a model that has it",
    ),
    Fault(
        "400 model lacks thinking",
        (Scenario.error(400, '"qwen3" does not support thinking'),),
        "InvokeBadRequestError",
        WHO + ' answered HTTP 400: ""qwen3" does not support thinking". Turn that feature off',
    ),
    Fault(
        "400 prompt longer than the context",
        (
            Scenario.error(
                400,
                "the prompt is longer than the context length currently available to the model; shorten the "
                "prompt, adjust the context length in settings, or use a model with a longer context length",
            ),
        ),
        "InvokeBadRequestError",
        WHO + ' answered HTTP 400: "the prompt is longer than the context length currently available to the model;',
    ),
    Fault(
        "400 llama-server exceed_context_size_error passed through",
        (
            Scenario.error(
                400,
                '{"error":{"code":400,"message":"the request exceeds the available context size, try increasing '
                'it","type":"exceed_context_size_error","n_prompt_tokens":9000,"n_ctx":8192}}',
            ),
        ),
        "InvokeBadRequestError",
        WHO + ' answered HTTP 400: "{"error":{"code":400,"message":"the request exceeds the available context size',
    ),
    Fault(
        "401 unauthorized",
        (Scenario.error(401, "unauthorized"),),
        "InvokeAuthorizationError",
        WHO + ' answered HTTP 401: "unauthorized". No API key was entered, but the server (or a proxy in front of '
        "it) asks for one",
    ),
    Fault(
        "403 cloud disabled",
        (Scenario.error(403, "ollama cloud is disabled: remote model is unavailable"),),
        "InvokeAuthorizationError",
        WHO + ' answered HTTP 403: "ollama cloud is disabled: remote model is unavailable". Cloud models are disabled',
    ),
    Fault(
        "403 host not allowed (empty body)",
        (Scenario(status=403),),
        "InvokeAuthorizationError",
        WHO + " answered HTTP 403: an empty body. Ollama refuses requests whose Host header it does not allow",
    ),
    Fault(
        "404 model not pulled",
        (Scenario.error(404, 'model "qwen3" not found, try pulling it first'),),
        "InvokeBadRequestError",
        WHO + ' answered HTTP 404: "model "qwen3" not found, try pulling it first". The model is not available on '
        "that server: run `ollama pull qwen3` there",
    ),
    Fault(
        "429 usage limit",
        (Scenario.error(429, "you've reached your hourly usage limit, please wait or upgrade to continue"),),
        "InvokeRateLimitError",
        WHO + ' answered HTTP 429: "you\'ve reached your hourly usage limit, please wait or upgrade to continue". '
        "Wait and retry",
    ),
    Fault(
        "499 request canceled",
        (Scenario.error(499, "request canceled"),),
        "InvokeServerUnavailableError",
        WHO + ' answered HTTP 499: "request canceled". Check the Ollama server log for details.',
    ),
    Fault(
        "500 model runner stopped",
        (Scenario.error(500, "model runner has unexpectedly stopped, this may be due to resource limitations"),),
        "InvokeServerUnavailableError",
        WHO + ' answered HTTP 500: "model runner has unexpectedly stopped',
    ),
    Fault(
        "502 cloud unreachable",
        (Scenario.error(502, "dial tcp: lookup ollama.com: no such host"),),
        "InvokeServerUnavailableError",
        WHO + ' answered HTTP 502: "dial tcp: lookup ollama.com: no such host". Check the Ollama server log',
    ),
    Fault(
        "503 queue full, every time",
        (Scenario.error(503, "server busy, please try again.  maximum pending requests exceeded", headers=NO_WAIT),)
        * 3,
        "InvokeServerUnavailableError",
        WHO + ' answered HTTP 503: "server busy, please try again.  maximum pending requests exceeded". '
        "The server is busy (its request queue is full)",
        requests=3,
    ),
    Fault(
        "502 HTML page from a reverse proxy",
        (Scenario.html(502, "502 Bad Gateway"),),
        "InvokeServerUnavailableError",
        WHO + " answered HTTP 502: an HTML page titled '502 Bad Gateway' (not Ollama's JSON: a reverse proxy or "
        "another web server answered).",
    ),
    Fault(
        "504 HTML page from a reverse proxy",
        (Scenario.html(504, "504 Gateway Time-out"),),
        "InvokeServerUnavailableError",
        WHO + " answered HTTP 504: an HTML page titled '504 Gateway Time-out'",
    ),
    Fault(
        "403 HTML page from a web application firewall",
        (Scenario.html(403, "Attention Required! | Cloudflare"),),
        "InvokeAuthorizationError",
        WHO + " answered HTTP 403: an HTML page titled 'Attention Required! | Cloudflare'",
    ),
    Fault(
        "redirect to https",
        (Scenario.redirect("https://ollama.example.com/api/chat", status=301),),
        "InvokeBadRequestError",
        WHO + " answered with a redirect (HTTP 301) to https://ollama.example.com/api/chat. Set the Base URL to the "
        "final address",
    ),
    Fault(
        "redirect to a login page",
        (Scenario.redirect("/login?next=/api/chat", status=302),),
        "InvokeBadRequestError",
        WHO + " answered with a redirect (HTTP 302) to /login?next=/api/chat.",
    ),
]

AFTER_OUTPUT = [
    Fault(
        "connection reset after the first chunk",
        (Scenario.ndjson([*first_chunks(), done_chunk()], reset_after_parts=1, part_delay=[0, 0.2]),),
        "InvokeConnectionError",
        "The connection to Ollama at {url}/api/chat (model 'qwen3') broke in the middle of the answer (ReadError: ",
        partial_text="Hel",
    ),
    Fault(
        "server closes the connection without done",
        (Scenario.ndjson([*first_chunks(), done_chunk()], close_after_parts=2, part_delay=[0, 0.1]),),
        "InvokeConnectionError",
        "The connection to Ollama at {url}/api/chat (model 'qwen3') broke in the middle of the answer "
        "(RemoteProtocolError: ",
        partial_text="Hello",
    ),
    Fault(
        "body ends cleanly without done",
        (Scenario.ndjson(first_chunks()),),
        "InvokeServerUnavailableError",
        WHO + " ended after 2 chunk(s) without its final 'done' chunk: the answer is incomplete",
        partial_text="Hello",
    ),
    Fault(
        "error line after output",
        (
            broken_after_output(
                b'{"error":"an error was encountered while running the model: CUDA error: out of memory"}\n'
            ),
        ),
        "InvokeServerUnavailableError",
        WHO + ' reported an error while streaming: "an error was encountered while running the model: CUDA error: '
        'out of memory"',
        partial_text="Hel",
    ),
    Fault(
        "non-JSON line",
        (broken_after_output(b"upstream connect error or disconnect/reset before headers\n"),),
        "InvokeServerUnavailableError",
        WHO + " sent a line that is not JSON: 'upstream connect error or disconnect/reset before headers'.",
        partial_text="Hel",
    ),
    Fault(
        "a 9 MiB line",
        (broken_after_output(b'{"message":{"role":"assistant","content":"' + b"a" * (9 * 1024 * 1024) + b'"}}\n'),),
        "InvokeServerUnavailableError",
        WHO + " sent a line longer than 8 MiB.",
        partial_text="Hel",
    ),
    Fault(
        "invalid UTF-8",
        (broken_after_output(b'{"message":{"role":"assistant","content":"caf\xe9 \xff"},"done":false}\n'),),
        "InvokeServerUnavailableError",
        WHO + " sent a line that is not valid UTF-8: ",
        partial_text="Hel",
    ),
    Fault(
        "stall longer than the read timeout in the middle of the answer",
        (Scenario.ndjson([*first_chunks(), done_chunk()], part_delay=[0, 2.0]),),
        "InvokeConnectionError",
        WHO + " did not finish within the Request timeout of 1 s, the longest one call may take (it went "
        "silent or sent too slowly; the answer is incomplete).",
        partial_text="Hel",
        timeout=SHORT_TIMEOUT,
    ),
    Fault(
        "HTML page with status 200",
        (Scenario.html(200, "Sign in"),),
        "InvokeConnectionError",
        "{url}/api/chat answered HTTP 200 with an HTML page titled 'Sign in' (not Ollama's JSON: a reverse proxy "
        "or another web server answered). Check that the Base URL points at the Ollama server.",
    ),
]


def check_fault(plugin: PluginProcess, fake: FakeOllama, fault: Fault, *, stream: bool) -> None:
    fake.set_route("POST", "/api/chat", normal_answer())  # what a wrongful retry would get
    fake.enqueue("POST", "/api/chat", *fault.answers)
    credentials = creds(fake.url) if fault.timeout is None else creds(fake.url, timeout=fault.timeout)

    result = plugin.invoke_llm(MODEL, credentials, USER_HI, stream=stream)

    assert result.ended and result.error_type == fault.error_type, result.error
    assert result.error_description.startswith(fault.message.replace("{url}", fake.url)), result.error_description
    assert result.error_message == result.error_description  # no "[models]" prefix, no canned text
    assert result.llm_text() == (fault.partial_text if stream else "")
    assert final_chunks(result) == []  # never a silent success
    assert len(fake.requests_to("/api/chat")) == fault.requests
    assert_serves_normally(plugin, fake, credentials)


@pytest.mark.parametrize("fault", BEFORE_OUTPUT, ids=lambda fault: fault.name)
def test_failures_before_any_output(plugin: PluginProcess, fake_ollama: FakeOllama, fault: Fault):
    check_fault(plugin, fake_ollama, fault, stream=True)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "blocking"])
@pytest.mark.parametrize("fault", AFTER_OUTPUT, ids=lambda fault: fault.name)
def test_failures_after_output_are_never_retried(
    plugin: PluginProcess, fake_ollama: FakeOllama, fault: Fault, stream: bool
):
    check_fault(plugin, fake_ollama, fault, stream=stream)


def test_connection_refused(plugin: PluginProcess, fake_ollama: FakeOllama, closed_port_url: str):
    result = plugin.invoke_llm(MODEL, creds(closed_port_url), USER_HI)

    assert result.error_type == "InvokeConnectionError"
    port = closed_port_url.rsplit(":", 1)[1]
    assert result.error_description.startswith(
        f"Cannot connect to Ollama at {closed_port_url}/api/chat (connection refused: nothing listens on that "
        f"address and port). Ollama listens on port 11434 by default, but this address uses port {port}: add "
        ":11434 to the Base URL unless Ollama or a proxy was set up on that port. Check that Ollama is running "
        "(`ollama serve`) and reachable from Dify. If Dify runs in Docker, 'localhost' is the Dify container "
        "itself: use http://host.docker.internal:11434"
    )
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


def test_dns_failure(plugin: PluginProcess, fake_ollama: FakeOllama):
    result = plugin.invoke_llm(MODEL, creds("http://ollama.invalid:11434"), USER_HI)

    assert result.error_type == "InvokeConnectionError"
    assert result.error_description.startswith(
        "Cannot connect to Ollama at http://ollama.invalid:11434/api/chat (the host name could not be resolved)."
    )
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


def test_a_single_reset_before_the_answer_is_retried_transparently(plugin: PluginProcess, fake_ollama: FakeOllama):
    """A restarted server resets the pooled keep-alive connection; nothing was streamed, so a retry is safe."""
    fake_ollama.set_route("POST", "/api/chat", normal_answer())
    fake_ollama.enqueue("POST", "/api/chat", Scenario.connection_reset())

    result = plugin.invoke_llm(MODEL, creds(fake_ollama.url), USER_HI).raise_for_error()

    assert result.llm_text() == "All systems normal."
    assert len(fake_ollama.requests_to("/api/chat")) == 2


def test_503_is_retried_after_retry_after_then_succeeds(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/api/chat", normal_answer())
    busy = Scenario.error(503, "server busy, please try again.  maximum pending requests exceeded", headers=NO_WAIT)
    fake_ollama.enqueue("POST", "/api/chat", busy, busy)

    result = plugin.invoke_llm(MODEL, creds(fake_ollama.url), USER_HI).raise_for_error()

    assert result.llm_text() == "All systems normal."
    assert len(fake_ollama.requests_to("/api/chat")) == 3


def test_utf8_characters_split_across_network_reads_survive(plugin: PluginProcess, fake_ollama: FakeOllama):
    line = '{"model":"qwen3","message":{"role":"assistant","content":"Grüße, 世界 🌍"},"done":false}\n'.encode()
    cut = line.index("世".encode()) + 1  # inside a three-byte character
    emoji = line.index("🌍".encode()) + 2  # inside a four-byte character
    fake_ollama.set_route(
        "POST",
        "/api/chat",
        Scenario.ndjson([line[:cut], line[cut:emoji], line[emoji:], done_chunk()], part_delay=0.02),
    )

    result = plugin.invoke_llm(MODEL, creds(fake_ollama.url), USER_HI).raise_for_error()

    assert result.llm_text() == "Grüße, 世界 🌍"


def test_every_fault_maps_to_a_class_dify_recognises():
    assert {fault.error_type for fault in BEFORE_OUTPUT + AFTER_OUTPUT} <= INVOKE_ERROR_CLASSES
