"""The one place where Ollama failure kinds become dify_plugin Invoke errors.

Dify recognises errors by class name (InvokeConnectionError, …), so the class matters as
much as the text. Used by every model type, including inside stream generators, where the
SDK's own `_invoke_error_mapping` never runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import wraps

from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from models.input_errors import UserInputError
from ollama_client import (
    OllamaAuthError,
    OllamaBadRequestError,
    OllamaConfigError,
    OllamaConnectionError,
    OllamaError,
    OllamaRateLimitError,
    OllamaServerError,
    OllamaStreamError,
    OllamaTimeoutError,
)
from rerank_client import (
    RerankAuthError,
    RerankConfigError,
    RerankConnectionError,
    RerankRateLimitError,
    RerankRequestError,
    RerankResponseError,
    RerankServerError,
)

# Order matters only where classes inherit from each other; the first match wins. A rerank service's
# unusable 2xx answer (RerankResponseError) is the service's fault, not the user's input. Of all ValueErrors
# only UserInputError is a bad request: a JSONDecodeError or a pydantic ValidationError is the plugin's fault.
OLLAMA_TO_INVOKE: dict[type[InvokeError], list[type[Exception]]] = {
    InvokeConnectionError: [InvokeConnectionError, OllamaConnectionError, OllamaTimeoutError, RerankConnectionError],
    InvokeServerUnavailableError: [
        InvokeServerUnavailableError,
        OllamaServerError,
        OllamaStreamError,
        RerankServerError,
        RerankResponseError,
    ],
    InvokeRateLimitError: [InvokeRateLimitError, OllamaRateLimitError, RerankRateLimitError],
    InvokeAuthorizationError: [InvokeAuthorizationError, OllamaAuthError, RerankAuthError],
    InvokeBadRequestError: [
        InvokeBadRequestError,
        OllamaBadRequestError,
        OllamaConfigError,
        RerankRequestError,
        RerankConfigError,
        UserInputError,
    ],
}


def to_invoke_error(error: BaseException) -> InvokeError:
    """Translate an exception; Invoke errors pass through unchanged, keeping class and text."""
    if isinstance(error, InvokeError):
        return error
    for invoke_class, sources in OLLAMA_TO_INVOKE.items():
        if isinstance(error, tuple(sources)):
            return invoke_class(str(error))
    if isinstance(error, OllamaError):
        return InvokeServerUnavailableError(str(error))
    return InvokeError(f"Unexpected error in the Ollama plugin: {type(error).__name__}: {error}")


class OllamaInvokeErrors:
    """Mixin for model classes: the SDK's error hooks, answered from OLLAMA_TO_INVOKE."""

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return OLLAMA_TO_INVOKE

    def _transform_invoke_error(self, error: Exception) -> InvokeError:
        # The SDK's version prefixes "[models]" and replaces authorization messages with a
        # canned text; ours keep the message that says what to fix.
        return to_invoke_error(error)


def mapped_stream[**P, T](func: Callable[P, Iterator[T]]) -> Callable[P, Iterator[T]]:
    """Wrap a generator function so anything it raises while iterating arrives as an Invoke error."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        try:
            yield from func(*args, **kwargs)
        except Exception as error:
            raise to_invoke_error(error) from error

    return wrapper
