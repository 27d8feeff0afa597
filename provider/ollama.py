"""Provider class: Dify calls it to check provider-level credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dify_plugin import ModelProvider
from dify_plugin.errors.model import CredentialsValidateFailedError

from models.connection import ollama_client
from models.input_errors import UserInputError
from ollama_client import OllamaError


class OllamaProvider(ModelProvider):
    def validate_provider_credentials(self, credentials: Mapping[str, Any]) -> None:
        """Models are configured one by one (customizable-model), each with its own Base URL.

        When Dify sends a Base URL here, confirm that an Ollama server answers there, so a
        typo or a Docker networking problem is reported before any model is added.
        """
        if not credentials.get("base_url"):
            raise CredentialsValidateFailedError(
                "Base URL is required: enter the address of your Ollama server, e.g. http://host.docker.internal:11434."
            )
        try:
            version = ollama_client(credentials).version()
        except (OllamaError, UserInputError) as error:
            raise CredentialsValidateFailedError(str(error)) from error
        if not version:
            raise CredentialsValidateFailedError(
                f"{credentials.get('base_url')} answered /api/version without a version: is it an Ollama server?"
            )
