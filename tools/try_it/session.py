"""A try-it run: the server's models, the command line, and each step's outcome, one line per failure."""

from __future__ import annotations

import argparse
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeError
from dify_plugin.interfaces.model.ai_model import AIModel

from ollama_client import OllamaError

from .console import Terminal
from .server_models import PULL_HINTS, ServerModel, first

# Failures the plugin reports on purpose, with a message that says what to do: one line, no traceback.
EXPECTED_ERRORS = (InvokeError, CredentialsValidateFailedError, OllamaError)


class Outcome(Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class Session:
    terminal: Terminal
    credentials: dict[str, str]
    models: list[ServerModel]
    args: argparse.Namespace
    outcomes: list[Outcome] = field(default_factory=list)

    def known(self, name: str) -> ServerModel | None:
        wanted = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
        return next((model for model in self.models if model.name in (name, wanted)), None)

    def run(self, title: str, step: Callable[[Session], Outcome]) -> None:
        self.terminal.heading(title)
        try:
            outcome = step(self)
        except EXPECTED_ERRORS as error:
            self.terminal.mark("fail", f"{type(error).__name__}: {error}")
            outcome = Outcome.FAILED
        except Exception as error:  # a bug, not a server problem: still one line unless --debug
            self.terminal.mark(
                "fail",
                f"unexpected {type(error).__name__}: {error} (a bug in the plugin? rerun with --debug for the "
                "traceback and report it)",
            )
            if self.args.debug:
                self.terminal.end_line()
                traceback.print_exc(file=self.terminal.out)
            outcome = Outcome.FAILED
        self.outcomes.append(outcome)

    def accepted[M: AIModel](
        self, model_class: type[M], model: str, credentials: dict[str, str] | None = None, *, as_type: str = ""
    ) -> M:
        """The plugin's model class, once validate_credentials passed as it does when a model is added in Dify."""
        instance = model_class(model_schemas=[])
        instance.validate_credentials(model, self.credentials if credentials is None else credentials)
        self.terminal.mark("ok", f"validate_credentials: Dify would accept this model{as_type}")
        return instance


def choose_model(
    session: Session, given: str | None, purpose: str, picks: Sequence[tuple[str, Callable[[ServerModel], bool]]]
) -> str | None:
    """The model named on the command line, else the first listed one that passes a pick (in order)."""
    if given:
        session.terminal.line(f"  model: {given} (from the command line)")
        return given
    for reason, condition in picks:
        found = first(session.models, condition)
        if found is not None:
            session.terminal.line(f"  model: {found.name} (picked: {reason})")
            return found.name
    session.terminal.mark("skip", f"no {purpose} model on this server; pull one, e.g. {PULL_HINTS[purpose]}")
    return None
