"""The fake Ollama's audio model: it must accept only what a frame-aligned segmenter produces, or the segmenting
tests would prove nothing."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.fake_ollama import FakeOllama
from tests.speech2text.audio_files import SDK_MP3_SECONDS, id3v2_tag, sdk_mp3, wav_bytes


@pytest.fixture
def fake() -> FakeOllama:
    with FakeOllama(version="0.20.0") as server:
        server.register_audio_model()
        yield server


def chat(fake: FakeOllama, audio: bytes, model: str = "gemma4:e4b") -> httpx.Response:
    message = {"role": "user", "content": "What is said?", "images": [base64.b64encode(audio).decode()]}
    return httpx.post(f"{fake.url}/api/chat", json={"model": model, "messages": [message], "stream": False})


def test_a_wav_and_an_mp3_with_its_id3_tag_are_heard_and_transcribed(fake: FakeOllama):
    assert chat(fake, wav_bytes(2.5)).json()["message"]["content"] == "wav clip of 2.50 seconds"
    answer = chat(fake, id3v2_tag(300) + sdk_mp3()).json()["message"]["content"]
    assert answer == f"mp3 clip of {SDK_MP3_SECONDS:.2f} seconds"
    assert [clip.kind for clip in fake.audio_clips] == ["wav", "mp3"]


@pytest.mark.parametrize(
    "broken",
    [
        sdk_mp3()[:-100],  # the last frame cut off
        id3v2_tag(10) + sdk_mp3()[240:],  # starting inside a frame
        b"\xff\xfb\x90\x64" + bytes(100) + sdk_mp3(),  # a header whose frame runs into the next one
        wav_bytes(1)[:100],  # a WAV whose header promises more samples than it holds
    ],
)
def test_audio_that_is_not_whole_frames_is_a_runner_error(fake: FakeOllama, broken: bytes):
    response = chat(fake, broken)
    assert response.status_code == 500
    assert "failed to process inputs: failed to decode" in response.json()["error"]


def test_a_model_without_audio_gets_the_ordinary_answer(fake: FakeOllama):
    assert chat(fake, wav_bytes(1), model="llava").json()["message"]["content"] == "Hello! How can I help?"
    assert fake.audio_clips == []
