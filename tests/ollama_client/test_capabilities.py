import json
from pathlib import Path

import httpx
import respx

from ollama_client import ClientConfig, OllamaClient, clear_cache, get_model_info, parse_show

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "ollama-examples"


def test_published_show_example_gives_capabilities_and_trained_context():
    show = json.loads((EXAMPLES / "openapi.show.response.converted.json").read_text())
    info = parse_show("gemma4", show)
    assert info.capabilities == frozenset({"completion", "vision"})
    assert info.context_length == 131072
    assert info.embedding_length == 2560
    assert info.has("vision") is True
    assert info.has("tools") is False


def test_old_server_without_capabilities_says_unknown_not_no():
    info = parse_show("llama2", {"model_info": {"general.architecture": "llama", "llama.context_length": 4096}})
    assert info.capabilities is None
    assert info.has("tools") is None
    assert info.context_length == 4096


def test_missing_or_odd_model_info_is_tolerated():
    info = parse_show("x", {"capabilities": ["embedding"], "model_info": None})
    assert info.context_length is None and info.has("embedding") is True
    info = parse_show("x", {"model_info": {"general.architecture": "bert", "bert.context_length": True}})
    assert info.context_length is None


@respx.mock
def test_show_is_cached_per_server_key_and_model_for_a_few_minutes():
    clear_cache()
    route = respx.post("http://ollama.test:11434/api/show").mock(
        return_value=httpx.Response(200, json={"capabilities": ["completion"]})
    )
    client = OllamaClient(ClientConfig.create("http://ollama.test:11434"))
    for _ in range(5):
        get_model_info(client, "llama3.2")
    assert route.call_count == 1
    get_model_info(client, "qwen3")
    get_model_info(OllamaClient(ClientConfig.create("http://ollama.test:11434", "other-key")), "llama3.2")
    assert route.call_count == 3
    get_model_info(client, "llama3.2", max_age=0)
    assert route.call_count == 4
    clear_cache()
