"""The speech-to-text adapter in-process (as the SDK calls it) against a loopback fake Ollama."""

from __future__ import annotations

import base64
import io
import logging
import struct
import wave

import pytest
from dify_plugin.entities.model import ModelType
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from models.speech2text import segments, speech2text
from models.speech2text.speech2text import OllamaSpeech2TextModel
from models.speech2text.transcribe import SYSTEM_PROMPT, USER_PROMPT
from tests.fake_ollama import FakeOllama, Scenario, chat_chunk
from tests.fake_ollama.audio import media_kind
from tests.speech2text.audio_files import SDK_MP3_SECONDS, sdk_mp3, wav_bytes, wav_samples

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "gemma4:e4b"


@pytest.fixture
def server() -> FakeOllama:
    with FakeOllama(version="0.20.0") as fake:
        fake.register_audio_model(MODEL)
        yield fake


@pytest.fixture
def model() -> OllamaSpeech2TextModel:
    return OllamaSpeech2TextModel(model_schemas=[])


def creds(fake: FakeOllama | str, **fields: str) -> dict[str, str]:
    url = fake if isinstance(fake, str) else fake.url
    return {"base_url": url, **{f"speech2text_{name}": value for name, value in fields.items()}}


def transcribe(model: OllamaSpeech2TextModel, credentials: dict, audio: bytes) -> str:
    return model.invoke(MODEL, credentials, io.BytesIO(audio))


def sent_clips(fake: FakeOllama) -> list[bytes]:
    return [base64.b64decode(r.json["messages"][1]["images"][0]) for r in fake.requests_to("/api/chat")]


# --- invoke ------------------------------------------------------------------------------------------------


def test_the_sdk_mp3_is_transcribed_in_one_request_with_ollamas_recipe(server, model):
    text = transcribe(model, creds(server), sdk_mp3())
    assert text == f"mp3 clip of {SDK_MP3_SECONDS:.2f} seconds"
    body = server.last_request("/api/chat").json
    assert body["model"] == MODEL and body["stream"] is True
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert body["messages"][1]["content"] == USER_PROMPT
    assert sent_clips(server) == [sdk_mp3()]
    assert body["options"]["temperature"] == 0 and body["think"] is False


def test_language_and_context_prompt_reach_the_system_prompt(server, model):
    transcribe(model, creds(server, language="English", prompt="Names: Dify, Ollama."), wav_bytes(2))
    system = server.last_request("/api/chat").json["messages"][0]["content"]
    assert system == SYSTEM_PROMPT + " The audio is in English. Context: Names: Dify, Ollama."


def test_a_long_wav_is_transcribed_in_30_s_wav_clips_in_order_and_joined(server, model):
    original = wav_bytes(70)
    text = transcribe(model, creds(server), original)
    assert text == "wav clip of 30.00 seconds wav clip of 30.00 seconds wav clip of 10.00 seconds"
    clips = sent_clips(server)
    assert [media_kind(clip) for clip in clips] == ["wav"] * 3
    assert b"".join(wav_samples(clip) for clip in clips) == wav_samples(original)


def test_the_segment_length_setting_is_used(server, model):
    text = transcribe(model, creds(server, segment_seconds="5"), sdk_mp3())
    assert text.split(" mp3 ")[0] == "mp3 clip of 4.99 seconds"
    assert len(server.requests_to("/api/chat")) == 3
    assert b"".join(sent_clips(server)) == sdk_mp3()


def test_thinking_labels_and_quotes_the_model_adds_are_removed(server, model):
    server.enqueue(
        "POST",
        "/api/chat",
        Scenario.ndjson(
            [
                chat_chunk(MODEL, "<think>The user wants words.</think>"),
                chat_chunk(MODEL, 'Transcript: "Turn on the'),
                chat_chunk(MODEL, ' lights."'),
                chat_chunk(MODEL, done=True),
            ]
        ),
    )
    assert transcribe(model, creds(server), wav_bytes(1)) == "Turn on the lights."


def test_think_is_not_sent_to_an_audio_model_without_thinking(server, model):
    server.register_model("audio-only", ["completion", "audio"])
    model.invoke("audio-only", creds(server), io.BytesIO(wav_bytes(1)))
    assert "think" not in server.last_request("/api/chat").json


def test_how_much_was_transcribed_is_logged(server, model, caplog):
    with caplog.at_level(logging.INFO, logger="models.speech2text.speech2text"):
        transcribe(model, creds(server), wav_bytes(70))
    assert any("3 segment(s), 70.0 s of WAV audio" in message for message in caplog.messages)


# --- what is refused -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("audio", "words"),
    [
        (b"", "empty"),
        (b"fLaC\x00\x00\x00\x22" + b"\x00" * 100, "FLAC"),
        (b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 100, "M4A"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PNG image, not audio"),
        (b"\xff\xfb\x90\x64" + bytes(range(256)) * 10, "no MPEG audio frames"),
        (b"plain text, not audio at all", "WAV or MP3"),
    ],
)
def test_files_that_are_not_wav_or_mp3_audio_are_bad_requests_sent_nowhere(server, model, audio, words):
    with pytest.raises(InvokeBadRequestError) as refused:
        transcribe(model, creds(server), audio)
    assert words in str(refused.value)
    assert server.requests_to("/api/chat") == []


def test_a_recording_too_long_for_one_call_is_refused_before_anything_is_sent(server, model):
    with pytest.raises(InvokeBadRequestError, match="more than the 60"):
        transcribe(model, creds(server, segment_seconds="5"), sdk_mp3() * 30)  # 328 s: 66 clips of 5 s
    assert server.requests_to("/api/chat") == []


def test_a_model_without_audio_is_refused_with_what_to_use(server, model):
    with pytest.raises(InvokeBadRequestError) as refused:
        model.invoke("llama3.2", creds(server), io.BytesIO(wav_bytes(1)))
    assert "'audio' capability" in str(refused.value) and "gemma4:e4b" in str(refused.value)
    assert server.requests_to("/api/chat") == []


def test_a_bad_segment_length_is_a_bad_request(server, model):
    with pytest.raises(InvokeBadRequestError, match="Segment length 'long'"):
        transcribe(model, creds(server, segment_seconds="long"), wav_bytes(1))


# --- Ollama failing part-way -----------------------------------------------------------------------------


def test_an_ollama_error_in_the_second_clip_fails_the_call_and_says_where(server, model):
    server.enqueue("POST", "/api/chat", server._builtin, Scenario.error(500, "model runner has unexpectedly stopped"))
    with pytest.raises(InvokeServerUnavailableError) as failed:
        transcribe(model, creds(server), wav_bytes(70))
    message = str(failed.value)
    assert "unexpectedly stopped" in message and "segment 2 of 3, 30–60 s" in message
    assert "no transcript was returned" in message
    assert len(server.requests_to("/api/chat")) == 2  # the third clip is not sent


def test_an_error_line_in_the_middle_of_a_clips_stream_fails_the_call(server, model):
    server.enqueue(
        "POST",
        "/api/chat",
        Scenario.ndjson([chat_chunk(MODEL, "Hello"), {"error": "out of memory"}]),
    )
    with pytest.raises(InvokeServerUnavailableError, match="out of memory.*segment 1 of 1"):
        transcribe(model, creds(server), wav_bytes(3))


def test_a_clip_stream_without_its_done_chunk_is_not_taken_as_complete(server, model):
    server.enqueue("POST", "/api/chat", Scenario.ndjson([chat_chunk(MODEL, "Hello")]))
    with pytest.raises(InvokeServerUnavailableError, match="without its final 'done' chunk"):
        transcribe(model, creds(server), wav_bytes(3))


def test_a_connection_cut_mid_clip_is_a_connection_error(server, model):
    server.enqueue("POST", "/api/chat", Scenario.ndjson([chat_chunk(MODEL, "Hello")] * 3, reset_after_parts=1))
    with pytest.raises(InvokeConnectionError):
        transcribe(model, creds(server), wav_bytes(3))


def test_a_transcript_cut_off_by_the_token_limit_is_an_error_not_a_result(server, model):
    server.enqueue(
        "POST",
        "/api/chat",
        Scenario.ndjson([chat_chunk(MODEL, "la " * 50), chat_chunk(MODEL, done=True, done_reason="length")]),
    )
    with pytest.raises(InvokeServerUnavailableError, match="did not finish the transcript"):
        transcribe(model, creds(server), wav_bytes(3))


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(401, InvokeAuthorizationError), (429, InvokeRateLimitError), (400, InvokeBadRequestError)],
)
def test_ollama_http_errors_keep_their_dify_class(server, model, status, error_class):
    server.enqueue("POST", "/api/chat", Scenario.error(status, "refused"))
    with pytest.raises(error_class):
        transcribe(model, creds(server), wav_bytes(3))


def test_an_unreachable_server_is_a_connection_error(closed_port_url, model):
    with pytest.raises(InvokeConnectionError):
        transcribe(model, creds(closed_port_url), wav_bytes(1))


# --- validation and schema ----------------------------------------------------------------------------------


def test_an_audio_model_validates_without_transcribing_anything(server, model):
    model.validate_credentials(MODEL, creds(server, segment_seconds="20"))
    assert server.requests_to("/api/chat") == []


def test_a_model_without_audio_names_the_capability_a_model_that_has_it_and_the_version(model):
    with FakeOllama(version="0.13.0") as old, pytest.raises(CredentialsValidateFailedError) as refused:
        model.validate_credentials("llama3.2", creds(old))
    message = str(refused.value)
    assert "does not have the 'audio' capability (it has: completion, tools)" in message
    assert "gemma4:e4b" in message and "0.20.0" in message
    assert "is version 0.13.0: upgrade it first" in message


def test_an_ollama_that_reports_no_capabilities_is_told_to_upgrade(server, model):
    server.set_route("POST", "/api/show", Scenario.json({"details": {"family": "gemma"}, "model_info": {}}))
    with pytest.raises(CredentialsValidateFailedError, match="older than 0.6.4.*0.20.0"):
        model.validate_credentials(MODEL, creds(server))


def test_a_model_not_pulled_lists_what_is_there(server, model):
    with pytest.raises(CredentialsValidateFailedError, match="Models available on .*gemma4:e4b"):
        model.validate_credentials("whisper", creds(server))


@pytest.mark.parametrize("seconds", ["0", "2", "61", "abc", "nan"])
def test_a_segment_length_out_of_range_fails_validation(server, model, seconds):
    with pytest.raises(CredentialsValidateFailedError, match="from 5 to 60"):
        model.validate_credentials(MODEL, creds(server, segment_seconds=seconds))


def test_validation_of_an_unreachable_server_fails_clearly(closed_port_url, model):
    with pytest.raises(CredentialsValidateFailedError, match=closed_port_url.split("//")[1]):
        model.validate_credentials(MODEL, creds(closed_port_url))


def test_the_schema_is_a_customizable_speech2text_model_without_parameters(closed_port_url, model):
    schema = model.get_model_schema(MODEL, creds(closed_port_url))
    assert schema is not None
    assert schema.model_type == ModelType.SPEECH2TEXT
    assert schema.model_properties == {} and schema.parameter_rules == []


# --- one deadline for the whole call ---------------------------------------------------------------------


def slow_clip_answer(seconds: float) -> Scenario:
    return Scenario.ndjson([chat_chunk(MODEL, "words"), chat_chunk(MODEL, done=True)], headers_delay=seconds)


def test_the_whole_transcription_shares_one_request_timeout_not_one_per_clip(server, model):
    # 3 clips answering in 0.45 s each: every one within a 1 s Request timeout, all three not.
    server.set_route("POST", "/api/chat", slow_clip_answer(0.45))
    with pytest.raises(InvokeConnectionError) as failed:
        transcribe(model, {**creds(server), "timeout": "1"}, wav_bytes(70))
    message = str(failed.value)
    assert f"Model '{MODEL}' on {server.url}" in message and "within the Request timeout of 1 s" in message
    assert "stopped at segment 3 of 3 (60–70 s)" in message and "no transcript was returned" in message
    assert "Upload shorter audio, or raise 'Request timeout'" in message


def test_the_call_ends_before_difys_600_s_even_with_a_longer_request_timeout(server, model, monkeypatch):
    monkeypatch.setattr(speech2text, "MAX_CALL_SECONDS", 0.6)  # stands for 590 s
    server.set_route("POST", "/api/chat", slow_clip_answer(0.4))
    with pytest.raises(InvokeConnectionError) as failed:
        transcribe(model, {**creds(server), "timeout": "3600"}, wav_bytes(70))
    message = str(failed.value)
    assert "within 0.6 s, the most a call may take (Dify ends a speech-to-text call after 600 s)" in message
    assert "stopped at segment 2 of 3" in message and "Upload shorter audio (split the recording" in message
    assert len(server.requests_to("/api/chat")) == 2  # the third clip is never started


def test_a_wav_with_40_bit_samples_is_a_bad_request_sent_nowhere(server, model):
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 16000 * 5, 5, 40)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 80000) + bytes(80000)
    with pytest.raises(InvokeBadRequestError, match="40-bit samples.*ffmpeg"):
        transcribe(model, creds(server), b"RIFF" + struct.pack("<I", len(body)) + body)
    assert server.requests_to("/api/chat") == []


def test_a_clip_that_cannot_be_cut_is_a_bad_request_naming_the_segment(server, model, monkeypatch):
    def refuse(*_args):
        raise wave.Error("sample width not specified")

    monkeypatch.setattr(segments, "_wav_segment_bytes", refuse)
    with pytest.raises(InvokeBadRequestError, match="sample width not specified .while transcribing segment 1 of 1"):
        transcribe(model, creds(server), wav_bytes(3))
