"""Readers for the fields of the model settings form, shared by every model type.

Dify sends each field as text (or leaves it out; an empty field means "use the default"). Every reader
raises UserInputError with one wording: the field's label, what was typed, what it must be and an example.

>>> batch_size = WholeNumberField("embedding_batch_size", "Batch size", minimum=1, maximum=256, default=32)
>>> batch_size.read({"embedding_batch_size": "12"}), batch_size.read({})
(12, 32)
>>> batch_size.parse("0")  # doctest: +ELLIPSIS
Traceback (most recent call last):
models.input_errors.UserInputError: Batch size '0' is not a whole number from 1 to 256. Enter e.g. 32, or ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.input_errors import UserInputError
from ollama_client.keep_alive import keep_alive_value

AUTO, YES, NO = "auto", "true", "false"
_ON = {"true", "1", "yes", "on"}
_OFF = {"false", "0", "no", "off"}


def is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def refusal(label: str, raw: Any, expected: str, fix: str, default: Any = None) -> UserInputError:
    """The one wording: "<label> '<typed>' is not <expected>. Enter <fix>, or leave it empty [for <default>]."."""
    empty = ", or leave it empty" + ("" if default is None else f" for {default}")
    return UserInputError(f"{label} '{raw}' is not {expected}. Enter {fix}{empty}.")


@dataclass(frozen=True)
class WholeNumberField[D: int | None]:
    """A field for a whole number from `minimum` to `maximum`."""

    name: str  # the variable in provider/ollama.yaml
    label: str  # what the form calls it
    minimum: int
    maximum: int
    default: D  # for an empty field
    example: int | None = None  # for the refusal; else the default, else the minimum

    def read(self, credentials: Mapping[str, Any]) -> int | D:
        return self.parse(credentials.get(self.name))

    def parse(self, raw: Any) -> int | D:
        if is_blank(raw):
            return self.default
        try:
            number = None if isinstance(raw, bool | float) else int(str(raw).strip())
        except ValueError:
            number = None
        if number is None or not self.minimum <= number <= self.maximum:
            shown = next(value for value in (self.example, self.default, self.minimum) if value is not None)
            expected = f"a whole number from {self.minimum} to {self.maximum}"
            raise refusal(self.label, raw, expected, f"e.g. {shown}", self.default)
        return number


@dataclass(frozen=True)
class NumberField:
    """A field for a finite number of `unit` (e.g. "seconds") from `minimum` to `maximum`."""

    name: str
    label: str
    minimum: float
    maximum: float
    default: float  # for an empty field
    unit: str
    example: str

    def read(self, credentials: Mapping[str, Any]) -> float:
        return self.parse(credentials.get(self.name))

    def parse(self, raw: Any) -> float:
        if is_blank(raw):
            return self.default
        try:
            number = float(str(raw).strip()) if not isinstance(raw, bool) else math.nan
        except ValueError:
            number = math.nan
        if not self.minimum <= number <= self.maximum:  # also false for NaN; infinity is out of any range
            expected = f"a number of {self.unit} from {self.minimum:g} to {self.maximum:g}"
            raise refusal(self.label, raw, expected, f"e.g. {self.example}", f"{self.default:g}")
        return number


def on_off(raw: Any, *, label: str, default: bool) -> bool:
    """An on/off switch: true/false (also yes/no, on/off, 1/0); empty gives `default`."""
    if isinstance(raw, bool):
        return raw
    if is_blank(raw):
        return default
    text = str(raw).strip().lower()
    if text in _ON or text in _OFF:
        return text in _ON
    raise refusal(label, raw, "true or false", "true or false", str(default).lower())


def auto_yes_no(raw: Any, *, label: str) -> str:
    """A capability switch: AUTO (empty too), YES or NO."""
    if isinstance(raw, bool):
        return YES if raw else NO
    text = "" if raw is None else str(raw).strip().lower()
    if text in ("", AUTO):
        return AUTO
    if text in _ON or text in _OFF:
        return YES if text in _ON else NO
    raise refusal(label, raw, "Auto, Yes or No", "Auto, Yes or No", "Auto")


def choice(raw: Any, *, label: str, options: Mapping[str, str], default: str) -> str:
    """One of `options` (value -> what the form calls it); empty gives `default`."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return default
    if text in options:
        return text
    names = ", ".join(f"'{name}'" for name in options.values())
    raise refusal(label, raw, f"one of {names}", "one of them", f"'{options[default]}'")


def optional_text(raw: Any, *, label: str, max_chars: int) -> str:
    """Text with its whitespace runs collapsed, at most `max_chars` characters; empty gives ""."""
    value = " ".join(str(raw or "").split())
    if len(value) > max_chars:
        raise UserInputError(
            f"{label} is {len(value)} characters long, more than the {max_chars} allowed. Shorten it, or leave it "
            "empty."
        )
    return value


def keep_alive(raw: Any, *, label: str) -> int | float | str | None:
    """Ollama's keep_alive (ollama_client.keep_alive) with its message as a UserInputError."""
    try:
        return keep_alive_value(raw, label=label)
    except ValueError as error:
        raise UserInputError(str(error)) from None
