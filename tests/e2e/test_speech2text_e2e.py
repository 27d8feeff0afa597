"""Speech to text through `python -m main` and the daemon's stdio protocol, against the fake Ollama.

What Dify does for voice input: the workspace's default Speech-to-Text model gets the recording (MP3 from the
browser) as `invoke_speech2text` with the bytes hex-encoded; the SDK writes them to a temp file for `_invoke`.
"""

from __future__ import annotations

import base64

import pytest

from tests.e2e.driver import PluginProcess
from tests.fake_ollama import FakeOllama, Scenario
from tests.fake_ollama.audio import mp3_seconds
from tests.speech2text.audio_files import SDK_MP3_SECONDS, sdk_mp3, wav_bytes, wav_samples

pytestmark = pytest.mark.e2e

MODEL = "gemma4:e4b"


@pytest.fixture
def server(fake_ollama: FakeOllama) -> FakeOllama:
    fake_ollama.version = "0.20.0"
    fake_ollama.register_audio_model(MODEL)
    return fake_ollama


def creds(fake: FakeOllama, **fields: str) -> dict[str, str]:
    return {"base_url": fake.url, **{f"speech2text_{name}": value for name, value in fields.items()}}


def sent_clips(fake: FakeOllama) -> list[bytes]:
    return [base64.b64decode(r.json["messages"][1]["images"][0]) for r in fake.requests_to("/api/chat")]


def test_voice_input_as_dify_sends_it_is_transcribed(plugin: PluginProcess, server: FakeOllama):
    credentials = creds(server, language="English")
    plugin.validate_model_credentials(MODEL, "speech2text", credentials).raise_for_error()
    schema = plugin.get_model_schema(MODEL, "speech2text", credentials).raise_for_error().last_payload
    assert schema["model_schema"]["model_type"] == "speech2text"
    assert schema["model_schema"]["parameter_rules"] == []

    result = plugin.invoke_speech2text(MODEL, credentials, sdk_mp3()).raise_for_error()
    assert result.payloads == [{"result": f"mp3 clip of {SDK_MP3_SECONDS:.2f} seconds"}]
    assert sent_clips(server) == [sdk_mp3()]
    assert server.last_request("/api/chat").json["messages"][0]["content"].endswith("The audio is in English.")
    assert any("1 segment(s), 10.9 s of MP3 audio" in message for message in plugin.log_messages())


def test_a_long_recording_is_cut_into_clips_and_joined(plugin: PluginProcess, server: FakeOllama):
    original = wav_bytes(65)
    result = plugin.invoke_speech2text(MODEL, creds(server), original).raise_for_error()
    assert result.last_payload["result"] == (
        "wav clip of 30.00 seconds wav clip of 30.00 seconds wav clip of 5.00 seconds"
    )
    assert b"".join(wav_samples(clip) for clip in sent_clips(server)) == wav_samples(original)


def test_a_long_mp3_is_cut_at_frames_with_nothing_lost(plugin: PluginProcess, server: FakeOllama):
    frames = sdk_mp3() * 6  # 66 s
    result = plugin.invoke_speech2text(MODEL, creds(server, segment_seconds="20"), frames).raise_for_error()
    clips = sent_clips(server)
    assert b"".join(clips) == frames and len(clips) == 4
    assert all(mp3_seconds(clip) <= 20 for clip in clips)
    assert result.last_payload["result"].count("mp3 clip of") == 4


def test_an_m4a_upload_is_a_bad_request_naming_what_works(plugin: PluginProcess, server: FakeOllama):
    m4a = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + b"\x00" * 2000
    result = plugin.invoke_speech2text(MODEL, creds(server), m4a)
    assert result.error_type == "InvokeBadRequestError"
    assert "M4A/MP4" in result.error_description and "WAV or MP3" in result.error_description
    assert result.payloads == [] and server.requests_to("/api/chat") == []


def test_ollama_failing_on_a_later_clip_returns_no_partial_transcript(plugin: PluginProcess, server: FakeOllama):
    server.enqueue("POST", "/api/chat", server._builtin, Scenario.error(500, "model runner has unexpectedly stopped"))
    result = plugin.invoke_speech2text(MODEL, creds(server), wav_bytes(65))
    assert result.error_type == "InvokeServerUnavailableError"
    assert "segment 2 of 3" in result.error_description
    assert result.payloads == []


def test_a_chat_model_is_refused_at_validation_with_the_audio_model_to_pull(plugin: PluginProcess, server: FakeOllama):
    result = plugin.validate_model_credentials("llama3.2", "speech2text", creds(server))
    assert result.error_type == "CredentialsValidateFailedError"
    assert "'audio' capability" in result.error_message and "ollama pull gemma4:e4b" in result.error_message
