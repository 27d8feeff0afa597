"""Dify prompt messages -> Ollama chat messages and generate fields."""

from __future__ import annotations

import base64
import json
import re

import pytest
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    AudioPromptMessageContent,
    DocumentPromptMessageContent,
    ImagePromptMessageContent,
    PromptMessageTool,
    SystemPromptMessage,
    TextPromptMessageContent,
    ToolPromptMessage,
    UserPromptMessage,
    VideoPromptMessageContent,
)

from models.input_errors import UserInputError
from models.llm.messages import (
    UnsupportedContentError,
    split_thinking,
    to_generate_fields,
    to_ollama_messages,
    to_ollama_tools,
)
from tests.fake_ollama import SHARED_EXAMPLES_DIR
from tests.speech2text.audio_files import SDK_MP3, wav_bytes

PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def call(call_id: str, name: str, arguments: str) -> AssistantPromptMessage.ToolCall:
    return AssistantPromptMessage.ToolCall(
        id=call_id,
        type="function",
        function=AssistantPromptMessage.ToolCall.ToolCallFunction(name=name, arguments=arguments),
    )


def image(data: str = PNG_1PX) -> ImagePromptMessageContent:
    return ImagePromptMessageContent(format="png", mime_type="image/png", base64_data=data)


def load_jsonc(name: str) -> dict:
    text = (SHARED_EXAMPLES_DIR / name).read_text(encoding="utf-8")
    return json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))


# --- roles and content ----------------------------------------------------------------------------


def test_plain_roles() -> None:
    converted = to_ollama_messages(
        [
            SystemPromptMessage(content="Be brief."),
            UserPromptMessage(content="Hi"),
            AssistantPromptMessage(content="Hello"),
        ]
    )

    assert converted == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ]


def test_multi_part_content_is_flattened_in_order_with_images_as_raw_base64() -> None:
    message = UserPromptMessage(
        content=[
            TextPromptMessageContent(data="What is in"),
            image(),
            TextPromptMessageContent(data="this picture?"),
            ImagePromptMessageContent(format="png", mime_type="image/png", url=f"data:image/png;base64,{PNG_1PX}"),
        ]
    )

    [converted] = to_ollama_messages([message])

    assert converted == {"role": "user", "content": "What is in\nthis picture?", "images": [PNG_1PX, PNG_1PX]}
    assert not converted["images"][0].startswith("data:")


def test_list_content_of_system_assistant_and_tool_messages_is_flattened_too() -> None:
    converted = to_ollama_messages(
        [
            SystemPromptMessage(
                content=[TextPromptMessageContent(data="Rule 1."), TextPromptMessageContent(data="Rule 2.")]
            ),
            AssistantPromptMessage(content=[TextPromptMessageContent(data="Sure.")]),
            ToolPromptMessage(content=[TextPromptMessageContent(data="22°C")], tool_call_id="call_1", name="get_temp"),
        ]
    )

    assert [m["content"] for m in converted] == ["Rule 1.\nRule 2.", "Sure.", "22°C"]
    json.dumps(converted)  # plain JSON all the way down, no pydantic objects


def test_none_content_becomes_an_empty_string() -> None:
    [converted] = to_ollama_messages([AssistantPromptMessage(content=None, tool_calls=[call("call_1", "f", "{}")])])
    assert converted["content"] == ""


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (
            AudioPromptMessageContent(format="mp3", mime_type="audio/mpeg", base64_data="AAAA", filename="a.mp3"),
            "audio",
        ),
        (VideoPromptMessageContent(format="mp4", mime_type="video/mp4", url="http://x/v.mp4"), "video"),
        (DocumentPromptMessageContent(format="pdf", mime_type="application/pdf", base64_data="AAAA"), "document"),
    ],
)
def test_content_ollama_cannot_take_is_refused_naming_the_type(content, kind: str) -> None:
    message = UserPromptMessage(content=[TextPromptMessageContent(data="Summarise"), content])

    with pytest.raises(UnsupportedContentError, match=f"Ollama cannot take {kind} input") as caught:
        to_ollama_messages([message])
    assert isinstance(caught.value, ValueError)  # -> InvokeBadRequestError
    with pytest.raises(UnsupportedContentError):
        to_generate_fields([message])


# --- thinking in history --------------------------------------------------------------------------


def test_assistant_think_block_goes_back_in_the_thinking_field() -> None:
    [converted] = to_ollama_messages(
        [AssistantPromptMessage(content="<think>\nAdd the numbers.\n</think>\n\n2 + 2 = 4.")]
    )

    assert converted == {"role": "assistant", "content": "2 + 2 = 4.", "thinking": "Add the numbers."}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Plain answer", (None, "Plain answer")),
        ("  <think>\nx\n</think>Answer", ("x", "Answer")),
        ("<think>\n\n</think>Answer", (None, "Answer")),
        ("<think>never closed", (None, "<think>never closed")),
        ("Answer mentioning <think>tags</think> later", (None, "Answer mentioning <think>tags</think> later")),
        ("<think>\na\n</think>B <think>c</think>", ("a", "B <think>c</think>")),
    ],
)
def test_split_thinking(content: str, expected: tuple[str | None, str]) -> None:
    assert split_thinking(content) == expected


# --- tools in history -----------------------------------------------------------------------------


def test_tool_loop_history_carries_ids_object_arguments_thinking_and_tool_names() -> None:
    history = [
        UserPromptMessage(content="Weather in Paris and London?"),
        AssistantPromptMessage(
            content="<think>\nTwo cities, two calls.\n</think>",
            tool_calls=[
                call("call_p1q2r3s4", "get_weather", '{"city": "Paris"}'),
                call("call_t5u6v7w8", "get_weather", '{"city": "London"}'),
            ],
        ),
        # Dify's agents set name to the function's name.
        ToolPromptMessage(content="18°C", tool_call_id="call_p1q2r3s4", name="get_weather"),
        # Without a name, it is found from the assistant call with the same id.
        ToolPromptMessage(content="12°C", tool_call_id="call_t5u6v7w8"),
    ]

    converted = to_ollama_messages(history)

    assert converted[1] == {
        "role": "assistant",
        "content": "",
        "thinking": "Two cities, two calls.",
        "tool_calls": [
            {
                "id": "call_p1q2r3s4",
                "type": "function",
                "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}},
            },
            {
                "id": "call_t5u6v7w8",
                "type": "function",
                "function": {"index": 1, "name": "get_weather", "arguments": {"city": "London"}},
            },
        ],
    }
    assert converted[2] == {
        "role": "tool",
        "content": "18°C",
        "tool_name": "get_weather",
        "tool_call_id": "call_p1q2r3s4",
    }
    assert converted[3] == {
        "role": "tool",
        "content": "12°C",
        "tool_name": "get_weather",
        "tool_call_id": "call_t5u6v7w8",
    }


def test_tool_name_is_never_the_call_id() -> None:
    [converted] = to_ollama_messages([ToolPromptMessage(content="ok", tool_call_id="call_unknown")])

    assert "tool_name" not in converted
    assert converted["tool_call_id"] == "call_unknown"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("", {}),
        ("{}", {}),
        ('{"a": {"b": [1, 2]}}', {"a": {"b": [1, 2]}}),
        (json.dumps('{"city": "Rome"}'), {"city": "Rome"}),  # double-encoded by some models
    ],
)
def test_tool_call_arguments_are_always_sent_as_an_object(arguments: str, expected: dict) -> None:
    [converted] = to_ollama_messages([AssistantPromptMessage(content="", tool_calls=[call("c", "f", arguments)])])
    assert converted["tool_calls"][0]["function"]["arguments"] == expected


def test_matches_the_upstream_parallel_tool_loop_example() -> None:
    example = json.loads((SHARED_EXAMPLES_DIR / "tool_calling_mdx.parallel.followup_request.json").read_text())[
        "messages"
    ]
    calls = [c["function"] for c in example[1]["tool_calls"]]
    history = [
        UserPromptMessage(content=example[0]["content"]),
        AssistantPromptMessage(
            content="",
            tool_calls=[call(f"call_{i}", c["name"], json.dumps(c["arguments"])) for i, c in enumerate(calls)],
        ),
        *[
            ToolPromptMessage(content=m["content"], tool_call_id=f"call_{i}", name=m["tool_name"])
            for i, m in enumerate(example[2:])
        ],
    ]

    converted = to_ollama_messages(history)

    assert converted[0] == example[0]
    assert [c["function"] for c in converted[1]["tool_calls"]] == calls
    assert [c["type"] for c in converted[1]["tool_calls"]] == ["function"] * 4
    assert [{k: m[k] for k in ("role", "tool_name", "content")} for m in converted[2:]] == example[2:]


def test_history_request_example_tool_definitions() -> None:
    example = load_jsonc("api_md.chat.history_tools.request.jsonc")
    definition = example["tools"][0]["function"]
    tools = [
        PromptMessageTool(
            name=definition["name"], description=definition["description"], parameters=definition["parameters"]
        )
    ]

    assert to_ollama_tools(tools) == example["tools"]


def test_tools_without_parameters_get_an_empty_object_schema() -> None:
    [tool] = to_ollama_tools([PromptMessageTool(name="now", description="", parameters={})])
    assert tool["function"]["parameters"] == {"type": "object", "properties": {}}


# --- completion mode ------------------------------------------------------------------------------


def test_generate_fields_take_system_prompt_and_images() -> None:
    fields = to_generate_fields(
        [
            SystemPromptMessage(content="You are a poet."),
            UserPromptMessage(content=[TextPromptMessageContent(data="A haiku about"), image()]),
            UserPromptMessage(content="autumn."),
        ]
    )

    assert fields == {"prompt": "A haiku about\n\nautumn.", "system": "You are a poet.", "images": [PNG_1PX]}


def test_generate_fields_with_only_a_user_message() -> None:
    assert to_generate_fields([UserPromptMessage(content="Once upon a time")]) == {"prompt": "Once upon a time"}


# --- audio (models with the `audio` capability, Ollama 0.20.0+) -----------------------------------------


def audio_part(data: bytes, fmt: str = "wav", **fields) -> AudioPromptMessageContent:
    return AudioPromptMessageContent(
        format=fmt, mime_type=f"audio/{fmt}", base64_data=base64.b64encode(data).decode(), **fields
    )


def test_wav_and_mp3_go_into_images_in_order_with_the_images() -> None:
    wav, mp3 = wav_bytes(0.1), SDK_MP3.read_bytes()
    message = UserPromptMessage(
        content=[
            TextPromptMessageContent(data="Describe the picture, then answer the recording."),
            image(),
            audio_part(wav),
            image(),
            audio_part(mp3, "mp3", filename="question.mp3"),
        ]
    )

    [converted] = to_ollama_messages([message], audio=True, model="gemma4:e4b")

    assert converted["images"] == [
        PNG_1PX,
        base64.b64encode(wav).decode(),
        PNG_1PX,
        base64.b64encode(mp3).decode(),
    ]
    fields = to_generate_fields([message], audio=True, model="gemma4:e4b")
    assert [base64.b64decode(item)[:4] for item in fields["images"]] == [b"\x89PNG", b"RIFF", b"\x89PNG", mp3[:4]]


def test_audio_as_a_data_url_and_an_id3_mp3() -> None:
    id3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + SDK_MP3.read_bytes()[:2000]
    data_url = "data:audio/wav;base64," + base64.b64encode(wav_bytes(0.1)).decode()
    message = UserPromptMessage(
        content=[
            AudioPromptMessageContent(format="wav", mime_type="audio/wav", url=data_url),
            audio_part(id3, "mp3"),
        ]
    )
    [converted] = to_ollama_messages([message], audio=True, model="m")
    assert [base64.b64decode(item)[:3] for item in converted["images"]] == [b"RIF", b"ID3"]


@pytest.mark.parametrize(
    ("data", "fmt", "named"),
    [
        (b"OggS\x00\x02" + b"\0" * 40, "ogg", "Ogg (Vorbis/Opus)"),
        (b"fLaC\x00\x00\x00\x22" + b"\0" * 40, "flac", "FLAC"),
        (b"\x1aE\xdf\xa3\x9fB\x86\x81" + b"\0" * 40, "webm", "WebM/Matroska"),
        (b"\x00\x00\x00\x20ftypM4A " + b"\0" * 40, "m4a", "M4A/MP4 (AAC)"),
        (b"#!AMR\n" + b"\0" * 40, "amr", "AMR"),
        (b"\xff\xf1\x50\x80" + b"\0" * 40, "aac", "AAC (ADTS)"),  # an MPEG-like sync, but not MP3
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "mp3", "a PNG image"),  # declared MP3: named by its bytes
        (b"\x00\x01\x02\x03" + b"\0" * 40, "opus", "OPUS"),  # unknown bytes: named by the declaration
    ],
)
def test_other_audio_formats_are_refused_naming_the_format_and_what_works(data: bytes, fmt: str, named: str) -> None:
    message = UserPromptMessage(content=[audio_part(data, fmt, filename=f"voice.{fmt}")])

    with pytest.raises(UserInputError) as caught:  # -> InvokeBadRequestError
        to_ollama_messages([message], audio=True, model="gemma4:e4b")

    text = str(caught.value)
    assert f"The audio 'voice.{fmt}' is {named}, which Ollama cannot take" in text
    assert "WAV or MP3" in text


def test_audio_for_a_model_without_the_capability_is_refused_naming_the_ollama_version() -> None:
    message = UserPromptMessage(
        content=[TextPromptMessageContent(data="Hi"), audio_part(wav_bytes(0.1), filename="a.wav")]
    )

    with pytest.raises(UnsupportedContentError) as without:
        to_ollama_messages([message], audio=False, model="llama3.2")
    assert "Ollama cannot take audio input (file 'a.wav') for model 'llama3.2'" in str(without.value)
    assert "Ollama 0.20.0 or newer" in str(without.value) and "'audio' capability" in str(without.value)

    with pytest.raises(UnsupportedContentError) as unknown:
        to_generate_fields([message], audio=None, model="llama3.2")
    assert "did not report the model's capabilities" in str(unknown.value)
    assert "Ollama 0.20.0 or newer" in str(unknown.value)


def test_audio_is_refused_before_any_image_is_downloaded() -> None:
    fetched = []

    def fetch(part, budget):
        fetched.append(part)
        return "x"

    message = UserPromptMessage(
        content=[
            ImagePromptMessageContent(format="png", mime_type="image/png", url="http://files.example/cat.png"),
            audio_part(wav_bytes(0.1)),
        ]
    )
    with pytest.raises(UnsupportedContentError):
        to_ollama_messages([message], fetch, audio=False, model="m")
    assert fetched == []
