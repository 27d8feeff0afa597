"""No part of an API key leaks through quoted server text (issue 14, point 6).

Error messages quote what a server answered, cut to 120-300 characters. A server (or proxy) that echoes the
Authorization header used to leak 25-47 characters of the key wherever the cut fell inside it, because only
the whole key was replaced. Now the text is redacted before it is cut, and any run of 8+ characters of the key
is masked wherever it stands, in the message, Ollama's quoted text and the exceptions it was raised from.
"""

from __future__ import annotations

import socket
import traceback

import pytest

from ollama_client import ClientConfig, OllamaClient, OllamaError
from ollama_client.redaction import redact
from tests.reliability.raw_server import CHUNKED_HEAD, RawRequest, RawServer, chunk

pytestmark = pytest.mark.usefixtures("fresh_caches")

KEY = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def leaked_fragments(text: str) -> list[str]:
    """Every 8-character run of KEY found in `text`."""
    return [KEY[i : i + 8] for i in range(len(KEY) - 7) if KEY[i : i + 8] in text]


def everything_shown(error: BaseException) -> str:
    ollama_message = getattr(error, "ollama_message", None) or ""
    return str(error) + ollama_message + "".join(traceback.format_exception(error))


def answering(head: bytes, body: bytes):
    def handler(connection: socket.socket, request: RawRequest) -> bool:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        connection.sendall(head + body)
        return False

    return handler


def plain(status: str, body: bytes, content_type: bytes = b"text/plain") -> bytes:
    head = b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
    return head % (status.encode(), content_type, len(body)) + body


# Where the cut falls inside the echoed key: the quote of a plain-text body stops at 300 characters, an HTML
# title at 120, a streamed line that is not JSON at 200.
CASES = {
    "plain-text 401 cut at 300": ("get", plain("401 Unauthorized", b"a" * 280 + f"Bearer {KEY} denied".encode()), b""),
    "html 502 title cut at 120": (
        "get",
        plain("502 Bad Gateway", f"<html><title>{'t' * 100}{KEY}</title></html>".encode(), b"text/html"),
        b"",
    ),
    "streamed line cut at 200": ("stream", CHUNKED_HEAD, chunk(b"b" * 170 + KEY.encode() + b"\n")),
    "chunk header quoted by the protocol error": ("stream", CHUNKED_HEAD, KEY.encode() + b"\r\n"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_no_run_of_the_key_survives_in_what_an_error_shows(case: str):
    kind, head, body = CASES[case]
    with RawServer(answering(head, body)) as server:
        client = OllamaClient(ClientConfig.create(server.url, KEY, 10))
        with pytest.raises(OllamaError) as caught:
            if kind == "get":
                client.version()
            else:
                list(client.stream("/api/chat", {"model": "m"}, model="m"))
    shown = everything_shown(caught.value)
    assert "***" in shown
    assert leaked_fragments(shown) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"x {KEY} y", "x *** y"),
        (f'cut: "{KEY[:20]}…"', 'cut: "***…"'),  # a prefix at the cut edge
        (f"{KEY[-12:]} at the start", "*** at the start"),  # a suffix where a quote began
        (f"middle {KEY[5:15]} run", "middle *** run"),
        (f"{KEY[:7]} is too short to tell from chance", f"{KEY[:7]} is too short to tell from chance"),
    ],
)
def test_redact_masks_the_key_and_any_run_of_8_or_more_of_its_characters(text: str, expected: str):
    assert redact(text, KEY) == expected
