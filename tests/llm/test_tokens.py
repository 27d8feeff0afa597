"""Offline token estimates: no downloads, sane for CJK, images not counted as text."""

from __future__ import annotations

import pytest
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    ImagePromptMessageContent,
    PromptMessageTool,
    SystemPromptMessage,
    TextPromptMessageContent,
    UserPromptMessage,
)

from models.llm.llm import OllamaLargeLanguageModel
from models.llm.tokens import TOKENS_PER_IMAGE, estimate_prompt_tokens, estimate_text_tokens


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("", 0, 0),
        ("The quick brown fox jumps over the lazy dog.", 9, 14),  # cl100k: 10
        ("你好，世界！今天天气很好。", 10, 16),  # 13 characters; Qwen/cl100k: 9-14
        ("今日はいい天気ですね。散歩に行きましょう。", 16, 24),  # 21 characters
        ("안녕하세요, 만나서 반갑습니다.", 10, 20),
        ("Привет, как дела? Всё хорошо.", 8, 16),
        ("Dify 是一个 LLM 应用开发平台。", 10, 18),
    ],
)
def test_estimates_are_in_the_range_of_real_tokenizers(text: str, low: int, high: int) -> None:
    assert low <= estimate_text_tokens(text) <= high


def test_cjk_is_not_counted_like_english() -> None:
    chinese = "模型上下文长度" * 100  # 700 characters
    english = "context" * 100  # 700 characters
    assert estimate_text_tokens(chinese) >= 3 * estimate_text_tokens(english)


def test_a_long_text_is_counted_in_full() -> None:
    # The SDK's GPT-2 helper returns the character count for texts of 100k characters or more.
    text = "word " * 50_000
    assert 50_000 <= estimate_text_tokens(text) <= 80_000


def test_every_message_counts_and_images_are_a_fixed_cost() -> None:
    big_image = ImagePromptMessageContent(format="png", mime_type="image/png", base64_data="A" * 2_000_000)
    messages = [
        SystemPromptMessage(content="Be brief."),
        UserPromptMessage(content=[TextPromptMessageContent(data="What is this?"), big_image]),
        AssistantPromptMessage(
            content="",
            tool_calls=[
                AssistantPromptMessage.ToolCall(
                    id="c1",
                    type="function",
                    function=AssistantPromptMessage.ToolCall.ToolCallFunction(name="lookup", arguments='{"q": "x"}'),
                )
            ],
        ),
    ]
    total = estimate_prompt_tokens(messages)
    assert TOKENS_PER_IMAGE < total < TOKENS_PER_IMAGE + 50
    assert estimate_prompt_tokens(messages[:1]) < estimate_prompt_tokens(messages[:2])


def test_tools_add_their_definitions() -> None:
    messages = [UserPromptMessage(content="hi")]
    tool = PromptMessageTool(
        name="get_weather",
        description="Get the weather for a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
    )
    assert estimate_prompt_tokens(messages, [tool]) > estimate_prompt_tokens(messages) + 10


def test_get_num_tokens_works_offline_without_a_server() -> None:
    model = OllamaLargeLanguageModel(model_schemas=[])
    count = model.get_num_tokens("qwen3", {"base_url": "http://192.0.2.1:11434"}, [UserPromptMessage(content="你好")])
    assert count == estimate_prompt_tokens([UserPromptMessage(content="你好")])
