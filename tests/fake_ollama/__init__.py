"""A real loopback HTTP server that plays Ollama for the plugin's tests.

server.py (FakeOllama: life cycle, scripting, request log) is built from scenario.py, chunks.py, library.py,
builtin_routes.py and handler.py; embed_handler.py and audio.py are scripted answers that follow Ollama closely.
"""

from .server import (
    FIXTURES_DIR,
    SHARED_EXAMPLES_DIR,
    FakeModel,
    FakeOllama,
    RecordedRequest,
    Scenario,
    chat_chunk,
    generate_chunk,
    load_ndjson_lines,
    load_ndjson_objects,
    logprob_entry,
    shared_example_path,
)

__all__ = [
    "FIXTURES_DIR",
    "SHARED_EXAMPLES_DIR",
    "FakeModel",
    "FakeOllama",
    "RecordedRequest",
    "Scenario",
    "chat_chunk",
    "generate_chunk",
    "load_ndjson_lines",
    "load_ndjson_objects",
    "logprob_entry",
    "shared_example_path",
]
