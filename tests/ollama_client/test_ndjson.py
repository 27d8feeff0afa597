import json
import time
from pathlib import Path

import pytest

from ollama_client import NDJSONStreamReader, OllamaStreamError, iter_ndjson

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "ollama-examples"


def lines(*objects: dict) -> bytes:
    return b"".join(json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in objects)


def test_published_generate_stream_parses_in_order_and_ends_on_done():
    raw = (EXAMPLES / "streaming_mdx.generate.stream.ndjson").read_bytes()
    objects = list(iter_ndjson([raw], "test"))
    assert "".join(o["response"] for o in objects) == "That's a fantastic question!"
    assert objects[-1]["done"] is True
    assert all(o["done"] is False for o in objects[:-1])


def test_every_split_point_gives_the_same_objects():
    raw = lines({"response": "héllo 世界 🦙", "done": False}, {"response": "", "done": True})
    expected = list(iter_ndjson([raw], "test"))
    for cut in range(1, len(raw)):
        assert list(iter_ndjson([raw[:cut], raw[cut:]], "test")) == expected


def test_multibyte_character_split_across_reads_survives():
    raw = lines({"response": "🦙", "done": True})
    llama = "🦙".encode()
    start = raw.index(llama)
    chunks = [raw[: start + 1], raw[start + 1 : start + 3], raw[start + 3 :]]
    assert [o["response"] for o in iter_ndjson(chunks, "test")] == ["🦙"]


def test_byte_at_a_time_feed():
    raw = lines({"response": "a", "done": False}, {"response": "b", "done": True})
    assert [o["response"] for o in iter_ndjson([raw[i : i + 1] for i in range(len(raw))], "test")] == ["a", "b"]


def test_blank_lines_and_crlf_are_skipped():
    raw = b"\n\r\n" + lines({"response": "a", "done": False}) + b"\n   \n" + lines({"done": True})
    assert len(list(iter_ndjson([raw], "test"))) == 2


def test_last_line_without_newline_is_parsed():
    raw = lines({"response": "a", "done": False}) + b'{"response":"b","done":true}'
    assert [o["response"] for o in iter_ndjson([raw], "test")] == ["a", "b"]


def test_error_line_after_output_raises_with_ollamas_text():
    raw = (EXAMPLES / "errors_mdx.midstream_error.ndjson").read_bytes()
    seen = []
    with pytest.raises(OllamaStreamError) as caught:
        for obj in iter_ndjson([raw], "Ollama at http://h/api/generate"):
            seen.append(obj)
    assert seen, "the chunks before the error line are still delivered"
    error_text = json.loads(raw.strip().splitlines()[-1])["error"]
    assert caught.value.ollama_message == error_text
    assert error_text in str(caught.value)
    assert "http://h/api/generate" in str(caught.value)


def test_stream_without_done_raises():
    with pytest.raises(OllamaStreamError, match="without its final 'done' chunk"):
        list(iter_ndjson([lines({"response": "partial", "done": False})], "test"))


def test_empty_body_raises():
    with pytest.raises(OllamaStreamError, match="before any data"):
        list(iter_ndjson([b""], "test"))


def test_non_json_line_raises_and_quotes_it():
    with pytest.raises(OllamaStreamError, match="not JSON: '<html>"):
        list(iter_ndjson([lines({"response": "a", "done": False}) + b"<html>oops</html>\n"], "test"))


def test_json_that_is_not_an_object_raises():
    with pytest.raises(OllamaStreamError, match="not an object"):
        list(iter_ndjson([b"[1,2]\n"], "test"))


def test_invalid_utf8_raises():
    with pytest.raises(OllamaStreamError, match="not valid UTF-8"):
        list(iter_ndjson([b'{"response":"\xff\xfe","done":true}\n'], "test"))


def test_line_over_the_limit_raises_but_limit_sized_line_passes():
    reader = NDJSONStreamReader("test", max_line_bytes=64)
    ok = b'{"response":"' + b"x" * 30 + b'","done":true}'
    assert len(ok) <= 64
    assert list(reader.feed(ok + b"\n"))[0]["done"] is True
    reader = NDJSONStreamReader("test", max_line_bytes=64)
    with pytest.raises(OllamaStreamError, match="longer than"):
        for _ in range(10):
            list(reader.feed(b"x" * 20))


def test_default_limit_is_8_mib_and_a_7_mib_line_passes():
    big = {"response": "y" * (7 * 1024 * 1024), "done": True}
    assert list(iter_ndjson([lines(big)], "test"))[0]["response"] == big["response"]
    reader = NDJSONStreamReader("test")
    with pytest.raises(OllamaStreamError, match="longer than 8 MiB"):
        list(reader.feed(b"z" * (9 * 1024 * 1024)))


def test_data_after_done_is_not_silently_dropped():
    with pytest.raises(OllamaStreamError, match="after its final chunk"):
        list(iter_ndjson([lines({"done": True}, {"response": "late", "done": False})], "test"))


def test_a_long_line_in_small_reads_costs_time_linear_in_its_length():
    reader = NDJSONStreamReader("Ollama at http://x/api/chat")
    value = "a" * 7_999_000
    line = b'{"done": true, "v": "' + value.encode() + b'"}\n'
    started = time.process_time()
    objects = [obj for start in range(0, len(line), 1000) for obj in reader.feed_batch(line[start : start + 1000])]
    assert time.process_time() - started < 0.5  # copying the held start on every read: over 1 s (now 0.04 s)
    assert objects == [{"done": True, "v": value}]
