"""Per-request bounds on the files in a prompt: how many, how many bytes in all, how long, and without extra copies.

Downloads are from Dify-style signed file URLs on the fake's 127.0.0.1 (allowed without any setting).
"""

from __future__ import annotations

import base64
import time

import pytest
from dify_plugin.entities.model.message import (
    AudioPromptMessageContent,
    ImagePromptMessageContent,
    TextPromptMessageContent,
    UserPromptMessage,
)

from models.llm.messages import to_ollama_messages
from models.media.base64_data import FileInputError
from models.media.limits import FETCH_SECONDS_ENV, MAX_FILES_ENV, MAX_TOTAL_MB_ENV, MediaLimitError
from tests.fake_ollama import FakeOllama, Scenario
from tests.speech2text.audio_files import wav_bytes

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SIGNED = "?timestamp=1700000000&nonce=n0nce&sign=s1gnature"


def file_path(index: int, kind: str = "file-preview") -> str:
    return f"/files/00000000-0000-4000-8000-{index:012d}/{kind}"


def url_image(url: str) -> ImagePromptMessageContent:
    return ImagePromptMessageContent(format="png", mime_type="image/png", url=url)


def data_image(raw: bytes) -> ImagePromptMessageContent:
    return ImagePromptMessageContent(format="png", mime_type="image/png", base64_data=base64.b64encode(raw).decode())


def prompt(*parts) -> list[UserPromptMessage]:
    return [UserPromptMessage(content=[TextPromptMessageContent(data="What is this?"), *parts])]


def test_too_many_files_are_refused_before_anything_is_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_FILES_ENV, "3")
    fetched = []

    with pytest.raises(MediaLimitError, match=f"holds 4 files .* at most 3 per request.*{MAX_FILES_ENV}"):
        to_ollama_messages(prompt(*[data_image(PNG)] * 4), lambda part, budget: fetched.append(part) or "x")
    assert fetched == []


def test_the_total_size_of_data_files_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_TOTAL_MB_ENV, "1")
    piece = PNG + b"\0" * 400_000

    to_ollama_messages(prompt(data_image(piece), data_image(piece)))  # 0.8 MB: fine
    with pytest.raises(MediaLimitError, match=f"add up to more than 1 MB.*{MAX_TOTAL_MB_ENV}"):
        to_ollama_messages(prompt(data_image(piece), data_image(piece), data_image(piece)))


def test_the_total_size_of_downloads_is_bounded_across_parallel_downloads(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_TOTAL_MB_ENV, "1")
    piece = PNG + b"\0" * 400_000
    for index in range(3):
        fake_ollama.set_route("GET", file_path(index), Scenario(parts=(piece,), content_type="image/png"))

    with pytest.raises(MediaLimitError, match="add up to more than 1 MB"):
        to_ollama_messages(prompt(*[url_image(fake_ollama.url + file_path(i) + SIGNED) for i in range(3)]))


def test_downloads_run_in_parallel_within_one_deadline(fake_ollama: FakeOllama) -> None:
    for index in range(4):
        slow = Scenario(parts=(PNG,), content_type="image/png", headers_delay=0.6)
        fake_ollama.set_route("GET", file_path(index), slow)

    started = time.monotonic()
    [message] = to_ollama_messages(prompt(*[url_image(fake_ollama.url + file_path(i) + SIGNED) for i in range(4)]))
    elapsed = time.monotonic() - started

    assert message["images"] == [base64.b64encode(PNG).decode()] * 4
    assert elapsed < 1.8, f"4 downloads of 0.6 s each took {elapsed:.2f} s: not in parallel"


def test_one_deadline_bounds_all_downloads_of_a_request(fake_ollama: FakeOllama, monkeypatch) -> None:
    """Each download alone would fit the time; together, one after another, they would not."""
    monkeypatch.setenv(FETCH_SECONDS_ENV, "1")
    # 9 pieces 0.08 s apart: about 0.7 s per download; 6 downloads, 4 at a time, need two rounds.
    trickle = Scenario(parts=[PNG[i : i + 8] for i in range(0, len(PNG), 8)], content_type="image/png", part_delay=0.08)
    for index in range(6):
        fake_ollama.set_route("GET", file_path(index), trickle)

    started = time.monotonic()
    with pytest.raises(FileInputError, match=r"took longer than 1 s \(the time allowed for all files of a request\)"):
        to_ollama_messages(prompt(*[url_image(fake_ollama.url + file_path(i) + SIGNED) for i in range(6)]))
    assert time.monotonic() - started < 2.5


def test_base64_from_dify_is_passed_on_without_a_copy() -> None:
    """Dify's base64 string goes into the request as the same object: no second copy of a large file."""
    payload = base64.b64encode(PNG + b"\0" * 300_000).decode()
    part = ImagePromptMessageContent(format="png", mime_type="image/png", base64_data=payload)

    [message] = to_ollama_messages(prompt(part))

    assert message["images"][0] is payload


def test_audio_urls_are_fetched_under_the_same_policy_and_checked(fake_ollama: FakeOllama) -> None:
    wav = wav_bytes(0.1)
    fake_ollama.set_route("GET", file_path(1), Scenario(parts=(wav,), content_type="audio/wav"))
    fake_ollama.set_route("GET", file_path(2), Scenario(parts=(b"OggS" + b"\0" * 60,), content_type="audio/ogg"))
    fake_ollama.set_route("GET", file_path(3), Scenario(parts=(b"<html>login</html>",), content_type="text/html"))

    def audio(index: int) -> AudioPromptMessageContent:
        return AudioPromptMessageContent(
            format="wav", mime_type="audio/wav", url=fake_ollama.url + file_path(index) + SIGNED
        )

    [message] = to_ollama_messages(prompt(audio(1)), audio=True, model="gemma4:e4b")
    assert message["images"] == [base64.b64encode(wav).decode()]
    with pytest.raises(FileInputError, match=r"is Ogg \(Vorbis/Opus\), which Ollama cannot take: .* WAV or MP3"):
        to_ollama_messages(prompt(audio(2)), audio=True, model="gemma4:e4b")
    with pytest.raises(FileInputError, match="'text/html', not audio"):
        to_ollama_messages(prompt(audio(3)), audio=True, model="gemma4:e4b")
    # An unsigned URL on the same private address is refused like an image URL would be.
    with pytest.raises(FileInputError, match="cannot be fetched"):
        to_ollama_messages(
            prompt(AudioPromptMessageContent(format="wav", mime_type="audio/wav", url=fake_ollama.url + "/a.wav")),
            audio=True,
            model="gemma4:e4b",
        )
