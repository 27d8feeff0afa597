"""A fake Ollama that streams one long chat answer, in its own process so its CPU time is not counted.

    python -m bench.stream_server --chunks 20000

It prints one JSON line `{"url": ...}` when it listens and serves until its stdin closes. Every answer
to `POST /api/chat` is the same transcript (`transcript()`): a thinking phase, then the answer, then the
final `done` chunk, each NDJSON line in its own HTTP chunk as Ollama writes them (Go's `json.Marshal`
shape: compact, HTML characters escaped, non-ASCII as is). The model name picks how it is sent:

- `bench:flood`  the whole framed body in one `sendall`: the reader is always behind (bursts);
- `bench:paced`  one HTTP chunk at a time with a pause after each (`--pace-us`), so every chunk arrives
  alone, as when a model generates tokens (its own length, `--paced-chunks`, to keep the run short);
- `bench:first`  a pause (`--first-delay-ms`), the first chunk, a pause, then the rest: the moment the
  first chunk left (`time.monotonic()` right after its `sendall`; the same clock in every process on
  Linux) is kept for `GET /bench/stats`.

`POST /api/show` answers a thinking-capable chat model. The server is a small hand-written HTTP/1.1 loop
(keep-alive, Content-Length request bodies) so its own cost is low and its timing precise.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.server_process import ServerProcess

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"

STATS_PATH = "/bench/stats"
FLOOD, PACED, FIRST = "bench:flood", "bench:paced", "bench:first"
CREATED_AT = "2025-07-07T20:22:19.{:06d}Z"
FIRST_TOKEN_CHUNKS = 8
# Token-sized pieces, with the characters that make real answers harder to carry: multi-byte UTF-8,
# HTML characters Go escapes, quotes, backslashes, newlines.
_PIECES = (
    " the",
    " model",
    " answer",
    " is",
    " a",
    " stream",
    " of",
    " tokens",
    ",",
    ".",
    " and",
    "ing",
    " Ollama",
    " plugin",
    " café",
    " naïve",
    " 東京",
    " 🙂",
    " <b>",
    " & ",
    ' "quoted"',
    "\\n",
    "\n",
    " x²",
    " —",
)


@dataclass(frozen=True)
class Transcript:
    lines: list[bytes]  # NDJSON lines, each with its "\n"
    thinking: str  # the thinking text, concatenated
    answer: str  # the answer text, concatenated
    prompt_eval_count: int
    eval_count: int


def go_json(value: Any) -> bytes:
    """JSON as Go's json.Marshal writes it: compact, `<`, `>`, `&` escaped, other characters as they are."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


def transcript(chunks: int, model: str = FLOOD, thinking_share: float = 0.25, seed: int = 11) -> Transcript:
    """`chunks` streamed chunks of 1-4 token-sized pieces (a thinking phase first), then the done chunk."""
    rng = random.Random(seed)
    thinking_chunks = int(chunks * thinking_share)
    lines: list[bytes] = []
    thinking: list[str] = []
    answer: list[str] = []
    for index in range(chunks):
        piece = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 4)))
        if index == 0:
            piece = "Let me think" + piece  # a blank first thought would open no block: keep the check simple
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        if index < thinking_chunks:
            message["thinking"] = piece
            thinking.append(piece)
        else:
            message["content"] = piece
            answer.append(piece)
        chunk = {"model": model, "created_at": CREATED_AT.format(index % 1_000_000), "message": message, "done": False}
        lines.append(go_json(chunk) + b"\n")
    final = {
        "model": model,
        "created_at": CREATED_AT.format(chunks % 1_000_000),
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 4_123_456_789,
        "load_duration": 1_234_567,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 12_345_678,
        "eval_count": chunks,
        "eval_duration": 3_987_654_321,
    }
    lines.append(go_json(final) + b"\n")
    return Transcript(lines, "".join(thinking), "".join(answer), 26, chunks)


def expected_text(thinking: str, answer: str) -> str:
    """What a reader of the plugin's stream must reassemble: the thinking in the plugin's one think block
    (models/llm/stream.py THINK_OPEN / THINK_CLOSE, spelled out here so this module needs no SDK), then the
    answer."""
    return "<think>\n" + thinking + "\n</think>" + answer


def write_json(name: str, report: dict[str, Any]) -> Path:
    """bench/results/<name>.json"""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return path


def frame(line: bytes) -> bytes:
    """One HTTP/1.1 chunk carrying one NDJSON line, as Go's net/http writes a flushed line."""
    return b"%x\r\n%s\r\n" % (len(line), line)


def show_response(model: str) -> dict[str, Any]:
    return {
        "modelfile": f"FROM {model}\n",
        "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": "qwen3", "parameter_size": "8B", "quantization_level": "Q4_K_M"},
        "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
        "capabilities": ["completion", "thinking", "tools"],
    }


class _State:
    def __init__(self, chunks: int, paced_chunks: int, pace_seconds: float, first_delay_seconds: float) -> None:
        self.pace_seconds = pace_seconds
        self.first_delay_seconds = first_delay_seconds
        self.flood_body = b"".join(frame(line) for line in transcript(chunks, FLOOD).lines) + b"0\r\n\r\n"
        self.paced = [frame(line) for line in transcript(paced_chunks, PACED).lines]
        self.first = [frame(line) for line in transcript(FIRST_TOKEN_CHUNKS, FIRST).lines]
        self.lock = threading.Lock()
        self.first_flushes: list[float] = []
        self.chat_requests = 0


class _Handler(socketserver.StreamRequestHandler):
    state: _State
    rbufsize = 64 * 1024

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        while True:
            request_line = self.rfile.readline()
            if not request_line:
                return
            method, path, _ = request_line.decode("latin-1").split(" ", 2)
            length = 0
            while True:
                header = self.rfile.readline()
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = self.rfile.read(length) if length else b""
            self._route(method, path, body)

    def _route(self, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path == "/api/chat":
            self._chat(json.loads(body).get("model", FLOOD))
        elif method == "POST" and path == "/api/show":
            self._json(show_response(json.loads(body).get("model", "")))
        elif method == "GET" and path == "/api/version":
            self._json({"version": "0.13.0"})
        elif method == "GET" and path == STATS_PATH:
            with self.state.lock:
                self._json({"first_flushes": self.state.first_flushes, "chat_requests": self.state.chat_requests})
        elif method == "POST" and path == STATS_PATH + "/reset":
            with self.state.lock:
                self.state.first_flushes.clear()
                self.state.chat_requests = 0
            self._json({"ok": True})
        else:
            self._json({"error": f"no route {method} {path}"}, status="404 Not Found")

    def _json(self, value: Any, status: str = "200 OK") -> None:
        payload = json.dumps(value).encode()
        self.connection.sendall(
            b"HTTP/1.1 %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s"
            % (status.encode(), len(payload), payload)
        )

    def _chat(self, model: str) -> None:
        state = self.state
        with state.lock:
            state.chat_requests += 1
        send = self.connection.sendall
        send(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
        if model == PACED:
            pace = state.pace_seconds
            for framed in state.paced:
                send(framed)
                _pause(pace)
            send(b"0\r\n\r\n")
        elif model == FIRST:
            frames = state.first
            time.sleep(state.first_delay_seconds)
            send(frames[0])
            flushed = time.monotonic()
            with state.lock:
                state.first_flushes.append(flushed)
            time.sleep(state.first_delay_seconds)
            send(b"".join(frames[1:]) + b"0\r\n\r\n")
        else:
            send(state.flood_body)


def _pause(seconds: float) -> None:
    """Sleep for short pauses too: time.sleep below a millisecond still gives up the CPU."""
    if seconds > 0:
        time.sleep(seconds)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(chunks: int, paced_chunks: int, pace_seconds: float, first_delay_seconds: float) -> None:
    state = _State(chunks, paced_chunks, pace_seconds, first_delay_seconds)
    handler = type("Handler", (_Handler,), {"state": state})
    with _Server(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        host, port = server.server_address[:2]
        print(json.dumps({"url": f"http://{host}:{port}"}), flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin (or dies)
        server.shutdown()


class StreamServerProcess(ServerProcess):
    """Start `bench.stream_server` as a child process; `url` is where it listens."""

    def __init__(
        self, chunks: int, paced_chunks: int = 1000, pace_us: float = 400.0, first_delay_ms: float = 30.0
    ) -> None:
        super().__init__(
            "bench.stream_server",
            [
                "--chunks",
                str(chunks),
                "--paced-chunks",
                str(paced_chunks),
                "--pace-us",
                str(pace_us),
                "--first-delay-ms",
                str(first_delay_ms),
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=20_000, help="chunks of the flood answer")
    parser.add_argument("--paced-chunks", type=int, default=1000, help="chunks of the paced answer")
    parser.add_argument("--pace-us", type=float, default=400.0)
    parser.add_argument("--first-delay-ms", type=float, default=30.0)
    args = parser.parse_args()
    serve(args.chunks, args.paced_chunks, args.pace_us / 1e6, args.first_delay_ms / 1000)


if __name__ == "__main__":
    main()
