"""Load: 100 concurrent streaming invocations through ONE plugin process, each with its own scripted answer.

Every session must get exactly its own text, tool calls and usage (nothing mixed between sessions, nothing lost),
and the plugin's memory must stay bounded. The fake holds every stream until all 100 requests have arrived, so
all of them are open in the plugin at the same moment.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.driver import InvocationResult, PluginProcess
from tests.fake_ollama import FakeOllama, RecordedRequest, Scenario, chat_chunk
from tests.reliability.support import MODEL, creds, final_chunks

pytestmark = pytest.mark.e2e

SESSIONS = 100
PEAK_RSS_LIMIT_MIB = 256  # measured ~80 MiB; generous so a slower machine does not fail it
GROWTH_LIMIT_MIB = 128  # over the warmed-up process; measured ~10 MiB
TOOL = {
    "name": "lookup",
    "description": "Look a record up",
    "parameters": {"type": "object", "properties": {"session": {"type": "integer"}}},
}
SESSION_PROMPT = re.compile(r"^session (\d+)$")


@dataclass
class ScriptedAnswer:
    """One session's Ollama stream and what Dify must receive for it."""

    chunks: list[dict[str, Any]]
    text: str
    calls: list[tuple[str | None, str, dict[str, Any]]] = field(default_factory=list)  # (Ollama id, name, args)
    usage: tuple[int, int] = (0, 0)


def scripted_answer(session: int) -> ScriptedAnswer:
    """Varied per session: thinking or not, 0-2 tool calls with or without ids, some on the done chunk."""
    chunks: list[dict[str, Any]] = []
    text = ""
    if session % 3 == 0:
        chunks += [chat_chunk(MODEL, thinking=f"Session {session} "), chat_chunk(MODEL, thinking="thinks.")]
        text += f"<think>\nSession {session} thinks.\n</think>"
    for word in range(8 + session % 7):
        piece = f"[{session}:{word}·ü] "
        chunks.append(chat_chunk(MODEL, piece))
        text += piece
    calls: list[tuple[str | None, str, dict[str, Any]]] = []
    kind = session % 4
    if kind == 1:
        calls = [(f"call_{session}_a", "lookup", {"session": session})]
        chunks.append(chat_chunk(MODEL, tool_calls=[_raw_call(*calls[0])]))
    elif kind == 2:  # an old server: no ids
        calls = [(None, "lookup", {"session": session, "part": 1}), (None, "lookup", {"session": session, "part": 2})]
        chunks.append(chat_chunk(MODEL, tool_calls=[_raw_call(*call) for call in calls]))
    usage = (1000 + session, 2000 + session)
    done = chat_chunk(MODEL, done=True, prompt_eval_count=usage[0], eval_count=usage[1])
    if kind == 3:  # a tool call on the done chunk
        calls = [(f"call_{session}_done", "lookup", {"session": session, "late": True})]
        done["message"]["tool_calls"] = [_raw_call(*calls[0])]
    chunks.append(done)
    return ScriptedAnswer(chunks=chunks, text=text, calls=calls, usage=usage)


def _raw_call(call_id: str | None, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {"function": {"name": name, "arguments": arguments}}
    if call_id is not None:
        raw["id"] = call_id
    return raw


class AllAtOnce:
    """The /api/chat handler: answers each session with its script once all sessions are connected."""

    def __init__(self, sessions: int) -> None:
        self._everyone_connected = threading.Barrier(sessions)
        self.sessions_seen: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Scenario:
        match = SESSION_PROMPT.match(request.json["messages"][-1]["content"])
        assert match, request.json
        session = int(match.group(1))
        with self._lock:
            self.sessions_seen.append(session)
        self._everyone_connected.wait(timeout=60)
        return Scenario.ndjson(scripted_answer(session).chunks, part_delay=0.005)


def memory_mib(pid: int, field_name: str) -> float:
    """VmHWM (peak resident set) or VmRSS of a process, in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"{field_name} missing from /proc/{pid}/status")


def invoke_request(base_url: str, session: int) -> dict[str, Any]:
    return {
        "provider": "ollama",
        "model": MODEL,
        "model_type": "llm",
        "credentials": creds(base_url),
        "model_parameters": {},
        "prompt_messages": [{"role": "user", "content": f"session {session}"}],
        "tools": [TOOL],
        "stop": None,
        "json_schema": None,
        "stream": True,
    }


def check_session(result: InvocationResult, session: int, expected: ScriptedAnswer) -> list[str]:
    result.raise_for_error()
    assert result.llm_text() == expected.text, session
    calls = result.llm_tool_calls()
    assert [(call["function"]["name"], json.loads(call["function"]["arguments"])) for call in calls] == [
        (name, arguments) for _, name, arguments in expected.calls
    ], session
    for call, (ollama_id, _, _) in zip(calls, expected.calls, strict=True):
        if ollama_id is not None:
            assert call["id"] == ollama_id, session
    [final] = final_chunks(result)
    assert final is result.payloads[-1], session
    usage = final["delta"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == expected.usage, session
    assert final["delta"]["finish_reason"] == ("tool_calls" if expected.calls else "stop"), session
    return [call["id"] for call in calls]


def test_100_concurrent_streams_through_one_process(
    plugin: PluginProcess, fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
):
    assert plugin.pid is not None
    fake_ollama.set_route("POST", "/api/chat", lambda r: Scenario.ndjson(scripted_answer(0).chunks))
    check_session(
        plugin.invoke_llm(MODEL, creds(fake_ollama.url), [{"role": "user", "content": "session 0"}], tools=[TOOL]),
        0,
        scripted_answer(0),
    )  # warm-up: imports, schema cache, connection pool
    warmed_rss = memory_mib(plugin.pid, "VmRSS")
    handler = AllAtOnce(SESSIONS)
    fake_ollama.set_route("POST", "/api/chat", handler)
    fake_ollama.clear_requests()

    pending = [plugin.submit("invoke_llm", invoke_request(fake_ollama.url, session)) for session in range(SESSIONS)]
    results = [invocation.result(timeout=120) for invocation in pending]

    peak = memory_mib(plugin.pid, "VmHWM")
    all_ids: list[str] = []
    for session, result in enumerate(results):
        all_ids += check_session(result, session, scripted_answer(session))
    assert len(all_ids) == len(set(all_ids)), "a tool-call id was handed to two calls"
    assert sorted(handler.sessions_seen) == list(range(SESSIONS))  # each session asked Ollama exactly once
    assert len(fake_ollama.requests_to("/api/chat")) == SESSIONS

    report = (
        f"load: {SESSIONS} concurrent streams through one plugin process; peak RSS (VmHWM) {peak:.1f} MiB, "
        f"RSS after warm-up {warmed_rss:.1f} MiB"
    )
    with capsys.disabled():  # shown in every run, not only on failure
        print(f"\n{report}")
    assert peak <= PEAK_RSS_LIMIT_MIB, report
    assert peak - warmed_rss <= GROWTH_LIMIT_MIB, report
