"""The one error type for input a Dify user can fix: a setting, a parameter, a file, a prompt.

Only this type (and Ollama's own 4xx rejections) reaches Dify as InvokeBadRequestError. Any other
ValueError is a fault of the plugin or of a server, and must not tell the user to change their input.
"""

from __future__ import annotations


class UserInputError(ValueError):
    """The message says what to change; Dify shows it as a bad request."""
