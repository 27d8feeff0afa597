"""One Ollama request from Dify's invoke arguments: path, body, thinking visibility."""

from __future__ import annotations

import pytest
from dify_plugin.entities.model.message import (
    AudioPromptMessageContent,
    ImagePromptMessageContent,
    PromptMessageTool,
    SystemPromptMessage,
    TextPromptMessageContent,
    UserPromptMessage,
)

from models.input_errors import UserInputError
from models.llm.request import build_request
from models.llm.schema import Capabilities, LLMSettings

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
TOOL = PromptMessageTool(name="get_time", description="Current time", parameters={})


def caps(**overrides) -> Capabilities:
    values = {"vision": False, "tool_call": True, "thinking": True, "structured_output": True, "context_limit": 40960}
    return Capabilities(**(values | overrides))


def with_image() -> UserPromptMessage:
    return UserPromptMessage(
        content=[
            TextPromptMessageContent(data="What is it?"),
            ImagePromptMessageContent(format="png", mime_type="image/png", base64_data=PNG),
        ]
    )


def test_chat_request_sends_the_messages_and_the_context_size() -> None:
    request = build_request("qwen3", LLMSettings(context_size=16384), caps(), [UserPromptMessage(content="Hi")], {})

    assert request.chat
    assert request.body == {
        "model": "qwen3",
        "messages": [{"role": "user", "content": "Hi"}],
        "options": {"num_ctx": 16384},
    }
    assert request.show_thinking is True


def test_a_thinking_model_gets_no_think_field_unless_the_user_set_one() -> None:
    plain = build_request("qwen3", LLMSettings(), caps(), [UserPromptMessage(content="Hi")], {})
    assert "think" not in plain.body
    chosen = build_request("qwen3", LLMSettings(), caps(), [UserPromptMessage(content="Hi")], {"think_level": "low"})
    assert chosen.body["think"] == "low"


def test_tools_are_sent_only_when_the_model_may_call_them() -> None:
    messages = [UserPromptMessage(content="time?")]
    assert "tools" in build_request("m", LLMSettings(), caps(), messages, {}, tools=[TOOL]).body
    assert "tools" in build_request("m", LLMSettings(), caps(tool_call=None), messages, {}, tools=[TOOL]).body
    assert "tools" not in build_request("m", LLMSettings(), caps(tool_call=False), messages, {}, tools=[TOOL]).body
    assert "tools" not in build_request("m", LLMSettings(), caps(), messages, {}, tools=[]).body


def test_completion_mode_uses_generate_with_prompt_system_and_images() -> None:
    request = build_request(
        "llava",
        LLMSettings(mode="completion"),
        caps(vision=True),
        [SystemPromptMessage(content="Describe plainly."), with_image()],
        {"temperature": 0.1, "think": True},
        tools=[TOOL],
        stop=["\n\n"],
    )

    assert not request.chat
    assert request.body == {
        "model": "llava",
        "prompt": "What is it?",
        "system": "Describe plainly.",
        "images": [PNG],
        "think": True,
        "options": {"temperature": 0.1, "num_ctx": 8192, "stop": ["\n\n"]},
    }


def test_images_for_a_model_without_vision_are_refused_before_any_download() -> None:
    def must_not_fetch(_image: ImagePromptMessageContent) -> str:
        raise AssertionError("downloaded although the request is refused")

    with pytest.raises(UserInputError, match="cannot read images"):
        build_request("llama3.2", LLMSettings(), caps(vision=False), [with_image()], {}, fetch_image=must_not_fetch)
    # Unknown (old server, or /api/show unreachable): sent.
    request = build_request("m", LLMSettings(), caps(vision=None), [with_image()], {})
    assert request.body["messages"][0]["images"] == [PNG]


def test_structured_output_hides_thinking_and_sets_format() -> None:
    request = build_request(
        "qwen3", LLMSettings(), caps(), [UserPromptMessage(content="x")], {"json_schema": '{"type": "object"}'}
    )
    assert request.body["format"] == {"type": "object"}
    assert request.show_thinking is False


def test_audio_reaches_ollama_only_for_a_model_with_the_audio_capability() -> None:
    wav = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAgD4AAAB9AAACABAAZGF0YQAAAAA="  # a 44-byte empty WAV
    message = UserPromptMessage(
        content=[
            TextPromptMessageContent(data="What is said?"),
            AudioPromptMessageContent(format="wav", mime_type="audio/wav", base64_data=wav),
        ]
    )

    request = build_request("gemma4:e4b", LLMSettings(), caps(audio=True), [message], {})
    assert request.body["messages"] == [{"role": "user", "content": "What is said?", "images": [wav]}]
    for audio in (False, None):
        with pytest.raises(UserInputError, match="audio input.*Ollama 0.20.0 or newer"):
            build_request("llama3.2", LLMSettings(), caps(audio=audio), [message], {})
