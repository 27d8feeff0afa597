"""Ollama's transcription recipe, and turning what a model says into only the spoken words."""

from __future__ import annotations

import base64

import pytest

from models.speech2text.settings import Speech2TextSettings
from models.speech2text.transcribe import (
    SYSTEM_PROMPT,
    USER_PROMPT,
    chat_request,
    clean_transcript,
    join_transcripts,
    system_prompt,
)


def test_the_system_prompt_is_ollamas_with_language_and_context_appended_as_ollama_does():
    assert system_prompt(Speech2TextSettings()) == SYSTEM_PROMPT
    settings = Speech2TextSettings(language="German", context_prompt="A talk about Dify.")
    assert system_prompt(settings) == SYSTEM_PROMPT + " The audio is in German. Context: A talk about Dify."


def test_the_request_carries_the_audio_in_images_with_temperature_0_and_thinking_off():
    body = chat_request("gemma4:e4b", b"RIFFxxxxWAVE", Speech2TextSettings(), thinking_off=True)
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_PROMPT, "images": [base64.b64encode(b"RIFFxxxxWAVE").decode()]},
    ]
    assert body["think"] is False and body["options"]["temperature"] == 0


def test_think_is_not_sent_to_a_model_without_thinking():
    assert "think" not in chat_request("m", b"ID3", Speech2TextSettings(), thinking_off=False)


@pytest.mark.parametrize(
    ("said", "words"),
    [
        ("Hello there.", "Hello there."),
        ("  Hello there.\n", "Hello there."),
        ("<think>\nThe user wants a transcript.\n</think>\n\nHello there.", "Hello there."),
        ("<think>unfinished thoughts", ""),
        ("Transcript: Hello there.", "Hello there."),
        ("**Transcription:** Hello there.", "Hello there."),
        ("Here is the transcription of the audio:\n\nHello there.", "Hello there."),
        ("Here's the exact transcript: Hello there.", "Hello there."),
        ('"Hello there."', "Hello there."),
        ("“Hello there.”", "Hello there."),
        ("「こんにちは」", "こんにちは"),
        ('"Hi," she said. "Bye."', '"Hi," she said. "Bye."'),
        ("```\nHello there.\n```", "Hello there."),
        ("The transcript shows nothing unusual", "The transcript shows nothing unusual"),
    ],
)
def test_only_the_spoken_words_are_kept(said: str, words: str):
    assert clean_transcript(said) == words


def test_clips_are_joined_in_order_with_spaces_and_silent_clips_skipped():
    assert join_transcripts(["Hello there,", "", "  how are you?"]) == "Hello there, how are you?"


def test_chinese_and_japanese_clips_are_joined_without_a_space():
    assert join_transcripts(["今日は晴れです。", "明日は雨です。"]) == "今日は晴れです。明日は雨です。"
    assert join_transcripts(["我们开始吧", "Dify 很好"]) == "我们开始吧 Dify 很好"
