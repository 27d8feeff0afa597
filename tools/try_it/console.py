"""Console output of the try-it command: plain text for any terminal or log file, colour only where it shows."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

ANSI_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
# Status word and colour at the start of a result line.
MARKS = {"ok": ("ok", "green"), "fail": ("FAIL", "red"), "skip": ("skip", "yellow"), "note": ("note", "yellow")}
SECTION_LABELS = {"thinking": "--- thinking ---", "answer": "--- answer ---", "transcript": "--- transcript ---"}


class Terminal:
    """Plain text for any terminal or log file; ANSI colour only on a TTY without NO_COLOR."""

    def __init__(self, out: TextIO, colour: bool) -> None:
        self.out = out
        self.colour = colour
        self._at_line_start = True

    def paint(self, text: str, style: str | None) -> str:
        if not (self.colour and style and text):
            return text
        return f"\x1b[{ANSI_CODES[style]}m{text}\x1b[0m"

    def write(self, text: str, style: str | None = None, indent: str = "") -> None:
        """Write text that may come in pieces (a stream), indenting every line it starts."""
        for line in text.splitlines(keepends=True):
            if self._at_line_start and indent:
                self.out.write(indent)
            body = line.rstrip("\n")
            self.out.write(self.paint(body, style) + line[len(body) :])
            self._at_line_start = line.endswith("\n")
        self.out.flush()

    def end_line(self) -> None:
        if not self._at_line_start:
            self.write("\n")

    def line(self, text: str = "", style: str | None = None) -> None:
        self.end_line()
        self.write(text + "\n", style)

    def heading(self, text: str) -> None:
        self.line()
        self.line(f"== {text} ==", "bold")

    def mark(self, kind: str, text: str) -> None:
        label, style = MARKS[kind]
        self.line(f"  {self.paint(f'{label:<5}', style)} {one_line(text)}")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def wants_colour(out: TextIO, environ: Mapping[str, str]) -> bool:
    """https://no-color.org: any non-empty NO_COLOR turns colour off; so does output that is not a terminal."""
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and not environ.get("NO_COLOR")


class TerminalLogHandler(logging.Handler):
    """The plugin's own warnings (e.g. a prompt that filled the context) shown in the flow of the output."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__(logging.WARNING)
        self.terminal = terminal

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.terminal.mark("note", f"plugin log: {record.getMessage()}")
        except Exception:  # a log line must never break the run
            self.handleError(record)


@contextmanager
def plugin_logs_off_stdout(*logger_names: str) -> Iterator[None]:
    """Some adapters log to Dify's daemon as JSON lines on stdout; in a terminal the step prints its own summary."""
    detached: list[tuple[logging.Logger, logging.Handler]] = []
    for name in logger_names:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]:
            logger.removeHandler(handler)
            detached.append((logger, handler))
    try:
        yield
    finally:
        for logger, handler in detached:
            logger.addHandler(handler)
