"""What can be wrong with an answer Ollama streamed, by whose fault it is."""

from __future__ import annotations

from models.input_errors import UserInputError
from ollama_client import OllamaStreamError


class MalformedAnswerError(OllamaStreamError):
    """Ollama (or a proxy in front of it) sent a chunk Dify cannot use: not the user's input."""


class ToolArgumentsError(MalformedAnswerError):
    """A tool call whose arguments are not a JSON object: Dify's agents could not run the tool."""


class ThinkingExhaustedError(UserInputError):
    """The token budget ran out while the model was still thinking: no answer, only `length`."""


class AnswerTooLargeError(UserInputError):
    """A blocking answer larger than one message to Dify may be."""


def malformed(model: str, what: str) -> MalformedAnswerError:
    return MalformedAnswerError(
        f"Ollama's answer for model '{model}' is malformed ({what}); it cannot be shown in Dify. "
        "Check any proxy between Dify and Ollama, update Ollama, or retry."
    )
