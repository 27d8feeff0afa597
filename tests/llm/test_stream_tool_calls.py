"""The stream translator's tool calls: each emitted once, with Ollama's id or a unique generated one, in order
with the text around it."""

from __future__ import annotations

import json

from models.llm.stream import THINK_CLOSE

from .support import agent_tool_calls, final_chunks, fixture_chunks, shared_json, text, translate


def test_tool_calls_with_ids_are_emitted_once_each_with_ollamas_ids() -> None:
    out = translate(fixture_chunks("llm_tool_calls_with_ids.ndjson"))

    calls = agent_tool_calls(out)
    assert [c.id for c in calls] == ["call_p1q2r3s4", "call_t5u6v7w8"]
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"city": "Paris", "unit": "celsius"},
        {"city": "Tokyo", "unit": "celsius"},
    ]
    assert all(c.type == "function" and c.function.name == "get_weather" for c in calls)
    # Thinking is closed in a chunk of its own just before the chunk that carries the first call.
    assert (out[2].delta.message.content, out[2].delta.message.tool_calls) == (THINK_CLOSE, [])
    assert out[3].delta.message.tool_calls[0].id == "call_p1q2r3s4"
    [final] = final_chunks(out)
    assert final.delta.finish_reason == "tool_calls"
    assert final.delta.message.tool_calls == []


def test_tool_calls_on_the_done_chunk_are_emitted_in_the_final_chunk() -> None:
    out = translate(fixture_chunks("llm_tool_calls_on_done.ndjson"))

    [final] = final_chunks(out)
    assert final is out[-1]
    assert [c.id for c in final.delta.message.tool_calls] == ["call_b3r1in00"]
    assert json.loads(final.delta.message.tool_calls[0].function.arguments) == {"city": "Berlin"}
    assert final.delta.message.content == ""
    assert out[-2].delta.message.content == THINK_CLOSE
    assert final.delta.finish_reason == "tool_calls"
    assert final.delta.usage.prompt_tokens == 150
    assert len(agent_tool_calls(out)) == 1


def test_shared_fixture_with_two_calls_on_done() -> None:
    out = translate(fixture_chunks("chat_stream_tool_calls_on_done.ndjson"))

    assert text(out) == "Let me check both cities."
    assert [c.id for c in agent_tool_calls(out)] == ["call_p1q2r3s4", "call_t5u6v7w8"]


def test_text_before_between_and_after_tool_calls_is_kept_in_order() -> None:
    out = translate(fixture_chunks("llm_content_after_tool_calls.ndjson"))

    assert text(out) == "Let me check. Then I answer."
    assert [c.delta.message.content for c in out[:5]] == ["Let me", " check.", "", " Then", " I answer."]
    assert [c.function.name for c in out[2].delta.message.tool_calls] == ["get_time"]
    assert json.loads(out[2].delta.message.tool_calls[0].function.arguments) == {}
    assert out[-1].delta.finish_reason == "tool_calls"


def test_old_server_calls_without_ids_or_indexes_get_unique_generated_ids() -> None:
    out = translate(fixture_chunks("llm_old_server_no_ids.ndjson"))

    calls = agent_tool_calls(out)
    assert [c.function.name for c in calls] == ["get_weather", "get_weather", "get_time"]
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Paris"}, {"city": "London"}, {"zone": "UTC"}]
    ids = [c.id for c in calls]
    assert len(set(ids)) == 3
    assert all(i.startswith("call_") and i not in ("get_weather", "get_time") for i in ids)


def test_parallel_calls_to_the_same_function_never_share_an_id() -> None:
    out = translate(fixture_chunks("llm_parallel_same_function.ndjson"))

    calls = agent_tool_calls(out)
    assert [json.loads(c.function.arguments)["city"] for c in calls] == ["Paris", "London"]
    assert calls[0].id != calls[1].id


def test_ids_are_fresh_for_each_response() -> None:
    first = agent_tool_calls(translate(fixture_chunks("llm_parallel_same_function.ndjson")))
    second = agent_tool_calls(translate(fixture_chunks("llm_parallel_same_function.ndjson")))

    assert {c.id for c in first}.isdisjoint({c.id for c in second})


def test_a_repeated_ollama_id_is_replaced_so_ids_stay_unique() -> None:
    call = {"id": "call_0", "function": {"name": "f", "arguments": {"n": 1}}}
    out = translate(
        [
            {"message": {"content": "", "tool_calls": [call]}, "done": False},
            {"message": {"content": "", "tool_calls": [call]}, "done": True},
        ]
    )

    ids = [c.id for c in agent_tool_calls(out)]
    assert ids[0] == "call_0" and ids[1] != "call_0"


def test_upstream_streamed_tool_call_example() -> None:
    chunks = [
        shared_json("api_md.chat.stream_tools.tool_call_chunk.json"),
        shared_json("api_md.chat.stream_tools.final_chunk.json"),
    ]
    out = translate(chunks)

    [call] = agent_tool_calls(out)
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Tokyo"}
    assert call.id.startswith("call_")
    assert out[-1].delta.finish_reason == "tool_calls"
