"""Audio in chat through the stdio protocol: a chat app's voice message (MP3, base64) and an LLM node's audio file
(WAV at Dify's signed file URL) reach an audio model in `images`; the refusals reach Dify as bad requests."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.e2e.driver import PluginProcess
from tests.fake_ollama import FakeOllama, Scenario
from tests.speech2text.audio_files import sdk_mp3, wav_bytes

pytestmark = pytest.mark.e2e

SDK_MP3 = sdk_mp3()
AUDIO_MODEL = "gemma4:e4b"
FILE = "/files/2b7c9d1e-3f4a-4b5c-8d6e-7f8091a2b3c4/file-preview"
SIGNED = "?timestamp=1700000000&nonce=n0nce&sign=s1gnature"


def audio_part(fmt: str, **source: str) -> dict[str, Any]:
    return {"type": "audio", "format": fmt, "mime_type": f"audio/{fmt}", "filename": f"voice.{fmt}", **source}


def user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "data": "Answer the recording."}, *parts]}]


@pytest.fixture
def audio_fake(fake_ollama: FakeOllama) -> FakeOllama:
    fake_ollama.register_audio_model(AUDIO_MODEL)
    return fake_ollama


def test_the_schema_declares_audio_for_a_model_that_has_it(plugin: PluginProcess, audio_fake: FakeOllama):
    credentials = {"base_url": audio_fake.url}
    features = plugin.get_model_schema(AUDIO_MODEL, "llm", credentials).raise_for_error().last_payload["model_schema"]
    assert "audio" in features["features"]
    llava = plugin.get_model_schema("llava", "llm", credentials).raise_for_error().last_payload["model_schema"]
    assert "audio" not in llava["features"]
    switched_off = {**credentials, "llm_audio": "false"}
    off = plugin.get_model_schema(AUDIO_MODEL, "llm", switched_off).raise_for_error().last_payload["model_schema"]
    assert "audio" not in off["features"]


def test_a_voice_message_and_an_audio_file_reach_the_model_in_order(plugin: PluginProcess, audio_fake: FakeOllama):
    wav = wav_bytes(1.0)
    audio_fake.set_route("GET", FILE, Scenario(parts=(wav,), content_type="audio/wav"))
    messages = user(
        audio_part("mp3", base64_data=base64.b64encode(SDK_MP3).decode()),
        audio_part("wav", url=audio_fake.url + FILE + SIGNED),
    )

    result = plugin.invoke_llm(AUDIO_MODEL, {"base_url": audio_fake.url}, messages).raise_for_error()

    assert result.llm_text()
    assert [clip.kind for clip in audio_fake.audio_clips] == ["mp3", "wav"]
    sent = audio_fake.last_request("/api/chat").json["messages"][0]["images"]
    assert [base64.b64decode(item) for item in sent] == [SDK_MP3, wav]


def test_other_formats_and_models_without_audio_are_bad_requests(plugin: PluginProcess, audio_fake: FakeOllama):
    ogg = audio_part("ogg", base64_data=base64.b64encode(b"OggS\x00\x02" + b"\x00" * 60).decode())
    refused = plugin.invoke_llm(AUDIO_MODEL, {"base_url": audio_fake.url}, user(ogg))
    assert refused.error_type == "InvokeBadRequestError"
    assert (
        "The audio 'voice.ogg' is Ogg (Vorbis/Opus), which Ollama cannot take: audio input works with WAV or MP3"
        in (refused.error_description)
    )

    mp3 = audio_part("mp3", base64_data=base64.b64encode(SDK_MP3).decode())
    no_audio = plugin.invoke_llm("llava", {"base_url": audio_fake.url}, user(mp3))
    assert no_audio.error_type == "InvokeBadRequestError"
    assert "for model 'llava'" in no_audio.error_description
    assert "Ollama 0.20.0 or newer" in no_audio.error_description
    assert audio_fake.requests_to("/api/chat") == []
