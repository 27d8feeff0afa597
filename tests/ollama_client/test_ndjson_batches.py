"""The NDJSON reader's batch interface and its fast JSON parser: the same objects and errors as before."""

from __future__ import annotations

import json

import pytest

from ollama_client import NDJSONStreamReader, OllamaStreamError, iter_ndjson


def ndjson(*objects: dict) -> bytes:
    return b"".join(json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in objects)


def test_a_batch_holds_every_object_the_read_completed_in_order():
    raw = ndjson(*[{"response": f"t{i}", "done": False} for i in range(20)], {"response": "", "done": True})
    reader = NDJSONStreamReader("test")
    cut = len(raw) // 2 + 3  # mid-line: the partial line waits for the next read
    first, second = reader.feed_batch(raw[:cut]), reader.feed_batch(raw[cut:])
    assert first + second == list(iter_ndjson([raw], "test"))
    assert len(first) > 1 and len(second) > 1
    assert list(reader.finish()) == []


def test_a_bad_line_after_good_ones_waits_until_they_are_delivered():
    raw = ndjson({"response": "a", "done": False}, {"response": "b", "done": False}) + b"<html>oops</html>\n"
    reader = NDJSONStreamReader("test")
    assert [o["response"] for o in reader.feed_batch(raw)] == ["a", "b"]
    with pytest.raises(OllamaStreamError, match="not JSON: '<html>"):
        reader.raise_pending()

    reader = NDJSONStreamReader("test")
    reader.feed_batch(raw)
    with pytest.raises(OllamaStreamError, match="not JSON"):  # the next read does not swallow it either
        reader.feed_batch(ndjson({"response": "c", "done": True}))


def test_a_bad_line_before_any_object_raises_at_once():
    with pytest.raises(OllamaStreamError, match="reported an error while streaming"):
        NDJSONStreamReader("test").feed_batch(ndjson({"error": "boom"}, {"response": "a", "done": False}))


@pytest.mark.parametrize(
    "line",
    [
        b'{"a":123456789012345678901234567890,"b":1.1000000000000001,"c":-0.0,"d":1e400}',
        b'{"a":"\\ud83e\\udd99 caf\\u00e9 \\u003cb\\u003e","b":[1,{"c":null}],"d":true}',
        b'{"a":1,"a":2}',  # duplicate key: the last wins, as with json.loads
        b'{"a":"\\ud800"}',  # a lone surrogate escape: the fast parser refuses it, json.loads takes it
        b' {"a":Infinity} \r',
    ],
)
def test_parsed_values_are_exactly_what_json_loads_gives(line: bytes):
    reader = NDJSONStreamReader("test")
    [obj] = reader.feed_batch(line + b"\n")
    assert repr(obj) == repr(json.loads(line))


def test_lines_the_fast_parser_refuses_get_the_same_messages_as_before():
    with pytest.raises(OllamaStreamError, match="not valid UTF-8"):
        NDJSONStreamReader("test").feed_batch(b'{"response":"\xff\xfe","done":true}\n')
    with pytest.raises(OllamaStreamError, match="not JSON"):
        NDJSONStreamReader("test").feed_batch(b'{"response":"a",}\n')
    with pytest.raises(OllamaStreamError, match="not an object"):
        NDJSONStreamReader("test").feed_batch(b"[1,2]\n")
