"""Downloaded file bytes are bounded for the whole process, not only per request: concurrent requests wait
briefly for room, then are told to try again, and the bytes count until the base64 text is freed."""

from __future__ import annotations

import base64
import gc
import threading
import time

import pytest
from dify_plugin.entities.model.message import ImagePromptMessageContent, TextPromptMessageContent, UserPromptMessage
from dify_plugin.errors.model import InvokeRateLimitError

from models.llm.images import download_image
from models.llm.llm import OllamaLargeLanguageModel
from models.llm.messages import to_ollama_messages
from models.media import limits
from models.media.base64_data import FileInputError
from models.media.limits import MAX_IN_MEMORY_MB_ENV, PROCESS_FILE_MEMORY
from tests.fake_ollama import FakeOllama, Scenario

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
BIG_PNG = PNG + b"\0" * 400_000
SIGNED = "?timestamp=1700000000&nonce=n0nce&sign=s1gnature"


def signed_url(fake_ollama: FakeOllama, index: int, delay: float = 0.0) -> str:
    path = f"/files/00000000-0000-4000-8000-{index:012d}/file-preview"
    fake_ollama.set_route("GET", path, Scenario(parts=(BIG_PNG,), content_type="image/png", headers_delay=delay))
    return fake_ollama.url + path + SIGNED


@pytest.fixture(autouse=True)
def small_process_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FILES_URL", "INTERNAL_FILES_URL", "SSRF_PROXY_HTTP_URL", "SSRF_PROXY_ALL_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(MAX_IN_MEMORY_MB_ENV, "0.5")  # room for one 400 KB file, not two
    monkeypatch.setattr(limits, "MEMORY_WAIT_SECONDS", 0.3)
    gc.collect()
    assert PROCESS_FILE_MEMORY.held == 0


def test_a_second_request_is_told_to_try_again_while_the_first_holds_the_room(fake_ollama: FakeOllama) -> None:
    first = download_image(signed_url(fake_ollama, 1))
    assert PROCESS_FILE_MEMORY.held == len(BIG_PNG)

    started = time.monotonic()
    with pytest.raises(InvokeRateLimitError, match=r"already holds 0\.5 MB of downloaded files .* try again"):
        download_image(signed_url(fake_ollama, 2))
    assert 0.25 < time.monotonic() - started < 5
    assert PROCESS_FILE_MEMORY.held == len(BIG_PNG)  # the refused download gave back what it had taken

    del first  # the first request is done with its files
    assert PROCESS_FILE_MEMORY.held == 0
    assert base64.b64decode(download_image(signed_url(fake_ollama, 2))) == BIG_PNG


def test_a_download_waits_briefly_for_room_instead_of_failing(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MEMORY_WAIT_SECONDS", 5.0)
    held = [download_image(signed_url(fake_ollama, 1))]
    threading.Timer(0.2, held.clear).start()

    assert base64.b64decode(download_image(signed_url(fake_ollama, 2))) == BIG_PNG


def test_concurrent_requests_with_several_files_take_turns_instead_of_starving_each_other(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room for one request's two files: taken piece by piece, four requests would each hold a part and all
    time out; claimed per request, they run one after the other."""
    monkeypatch.setenv(MAX_IN_MEMORY_MB_ENV, "0.9")
    monkeypatch.setattr(limits, "MEMORY_WAIT_SECONDS", 10.0)
    outcomes: list[str] = []

    def chat(request: int) -> None:
        parts = [
            ImagePromptMessageContent(
                format="png", mime_type="image/png", url=signed_url(fake_ollama, request * 10 + i, delay=0.3)
            )
            for i in range(2)
        ]
        try:
            [message] = to_ollama_messages([UserPromptMessage(content=parts)])
            outcomes.append("ok" if len(message["images"]) == 2 else "wrong")
        except Exception as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=chat, args=(request,)) for request in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes == ["ok"] * 4
    assert PROCESS_FILE_MEMORY.held == 0


def test_a_failed_download_releases_its_bytes(fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_PLUGIN_MAX_FILE_MB", "0.2")
    with pytest.raises(FileInputError, match="larger than 0.2 MB"):
        download_image(signed_url(fake_ollama, 1))
    assert PROCESS_FILE_MEMORY.held == 0


def test_the_bytes_are_given_back_when_the_chat_request_is_done(fake_ollama: FakeOllama) -> None:
    """End to end through the model class: a finished chat leaves no room taken, so the next chat with a
    file is not made to wait."""
    for index in (1, 2):
        image = ImagePromptMessageContent(format="png", mime_type="image/png", url=signed_url(fake_ollama, index))
        messages = [UserPromptMessage(content=[TextPromptMessageContent(data="What is this?"), image])]
        llm = OllamaLargeLanguageModel(model_schemas=[])
        chunks = list(llm.invoke("llava", {"base_url": fake_ollama.url}, messages, {}, None, None, True))
        assert chunks
        assert fake_ollama.last_request("/api/chat").json["messages"][0]["images"] == [
            base64.b64encode(BIG_PNG).decode()
        ]
        del chunks, messages, image
        assert PROCESS_FILE_MEMORY.held == 0
