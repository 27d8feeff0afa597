"""tools/try_ollama.py's audio steps (speech to text, audio in chat), in-process against the fake Ollama."""

from __future__ import annotations

import pytest

from tests.fake_ollama import FakeOllama
from tests.tools.try_ollama_support import lines_after, only_line, run_main, script_every_step, section, try_ollama

pytestmark = pytest.mark.usefixtures("fresh_caches")


def test_without_an_audio_model_both_audio_steps_skip_with_what_to_pull(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    script_every_step(fake_ollama)

    code, out = run_main(capsys, "--base-url", fake_ollama.url)

    assert code == 0, out
    for title in ("Speech to text", "Audio in chat"):
        skipped = only_line(section(out, title), "  skip")
        assert "no audio model on this server" in skipped
        assert "`ollama pull gemma4:e4b` (audio input needs Ollama 0.20.0 or later)" in skipped
    assert fake_ollama.audio_clips == []


def run_with_an_audio_model(fake: FakeOllama, capsys: pytest.CaptureFixture[str], title: str) -> tuple[int, str, str]:
    """Every step against a server with an audio model: the exit code, all that was printed, and the section
    `title`, whose step picked that model by itself."""
    fake.version = "0.20.0"
    fake.register_audio_model("gemma4:e4b")
    script_every_step(fake)
    code, out = run_main(capsys, "--base-url", fake.url)
    step = section(out, title)
    assert "model: gemma4:e4b (picked: first model with audio input)" in step
    return code, out, step


def test_speech_to_text_transcribes_the_sdks_sample_with_the_audio_model(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, speech = run_with_an_audio_model(fake_ollama, capsys, "Speech to text")

    assert "ok    validate_credentials: Dify would accept this model as Speech2text" in speech
    assert "audio: audio.mp3 from dify_plugin (MP3, 218,880 bytes)" in speech
    assert "--- transcript ---\n    mp3 clip of 10.94 seconds\n" in speech
    assert "ok    transcribed in " in speech
    assert fake_ollama.audio_clips[0].data == try_ollama.AUDIO_SAMPLE.read_bytes()
    assert '{"event": "log"' not in out  # the adapter's log line for the daemon stays off the terminal
    assert code in (0, 1) and "FAIL" not in speech


def test_a_model_named_with_audio_model_that_cannot_hear_fails_the_step_in_one_line(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    script_every_step(fake_ollama)

    code, out = run_main(capsys, "--base-url", fake_ollama.url, "--audio-model", "llama3.2")

    assert code == 1
    failure = only_line(section(out, "Speech to text"), "  FAIL")
    assert "CredentialsValidateFailedError" in failure and "'audio' capability" in failure
    assert "gemma4:e4b" in failure


def test_audio_in_chat_sends_the_sample_to_the_audio_model(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, chat = run_with_an_audio_model(fake_ollama, capsys, "Audio in chat")

    if "its schema has no audio feature" in chat:
        pytest.skip("the LLM does not declare the audio feature yet (issue 12 part A)")
    assert "you> Listen to this recording." in chat and "[+ audio.mp3]" in chat
    assert lines_after(chat, "--- answer ---")[0].strip() == "mp3 clip of 10.94 seconds"
    assert "FAIL" not in chat
    assert fake_ollama.audio_clips[-1].data == try_ollama.AUDIO_SAMPLE.read_bytes()
