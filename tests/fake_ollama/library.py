"""The fake's model library: what `/api/tags` lists and `/api/show` describes, as a real local install has it."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FakeModel:
    name: str  # always with a tag, e.g. "llama3.2:latest"
    capabilities: tuple[str, ...]
    context_length: int
    family: str
    architecture: str
    embedding_length: int | None
    parameter_size: str

    @property
    def is_embedding_only(self) -> bool:
        return "embedding" in self.capabilities and "completion" not in self.capabilities

    def tags_entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": "2025-05-04T17:37:44.706015396-07:00",
            "size": 2_019_393_189,
            "digest": hashlib.sha256(self.name.encode()).hexdigest(),
            "details": self.details(),
        }

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": "Q4_K_M",
        }

    def show_response(self) -> dict[str, Any]:
        model_info: dict[str, Any] = {
            "general.architecture": self.architecture,
            "general.file_type": 15,
            "general.parameter_count": 3_212_749_888,
            "general.quantization_version": 2,
            f"{self.architecture}.context_length": self.context_length,
        }
        if self.embedding_length is not None:
            model_info[f"{self.architecture}.embedding_length"] = self.embedding_length
        return {
            "license": "",
            "modelfile": f"FROM {self.name}\n",
            "parameters": 'stop                           "<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "details": self.details(),
            "model_info": model_info,
            "capabilities": list(self.capabilities),
            "modified_at": "2025-05-04T17:37:44.706015396-07:00",
        }


def full_model_name(name: str) -> str:
    """Ollama treats "llama3.2" and "llama3.2:latest" as the same model."""
    last_segment = name.rsplit("/", 1)[-1]
    return name if ":" in last_segment else f"{name}:latest"


class ModelLibrary:
    """The models a FakeOllama has pulled; mixed into FakeOllama, whose `_lock` guards `_models`."""

    _lock: threading.Lock
    _models: dict[str, FakeModel]

    def register_model(
        self,
        name: str,
        capabilities: Sequence[str] = ("completion",),
        context_length: int = 8192,
        family: str = "llama",
        embedding_length: int | None = None,
        architecture: str | None = None,
        parameter_size: str = "3.2B",
    ) -> FakeModel:
        model = FakeModel(
            name=full_model_name(name),
            capabilities=tuple(capabilities),
            context_length=context_length,
            family=family,
            architecture=architecture or family,
            embedding_length=embedding_length,
            parameter_size=parameter_size,
        )
        with self._lock:
            self._models[model.name] = model
        return model

    def unregister_model(self, name: str) -> None:
        with self._lock:
            self._models.pop(full_model_name(name), None)

    def clear_models(self) -> None:
        with self._lock:
            self._models.clear()

    def register_default_models(self) -> None:
        """A small library like a typical local install: chat, tools, thinking, vision and embedding models."""
        self.register_model("llama3.2", ["completion", "tools"], context_length=131072, family="llama")
        self.register_model(
            "qwen3", ["completion", "tools", "thinking"], context_length=40960, family="qwen3", parameter_size="8.2B"
        )
        self.register_model("llava", ["completion", "vision"], context_length=32768, parameter_size="7B")
        self.register_model(
            "nomic-embed-text",
            ["embedding"],
            context_length=2048,
            family="nomic-bert",
            embedding_length=768,
            parameter_size="137M",
        )

    def register_audio_model(self, name: str = "gemma4:e4b") -> FakeModel:
        """A gemma4-like model that hears WAV and MP3 in `images` (Ollama 0.20.0+) and transcribes it."""
        return self.register_model(
            name, ["completion", "vision", "audio", "tools", "thinking"], context_length=131072, family="gemma4"
        )

    def model(self, name: str) -> FakeModel | None:
        with self._lock:
            return self._models.get(full_model_name(name))

    @property
    def models(self) -> list[FakeModel]:
        with self._lock:
            return list(self._models.values())
