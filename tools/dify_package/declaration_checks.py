"""The problem report and the generic checks the manifest and provider rules are built from.

A Problem names the file, the field and what is wrong; the Report also keeps the files the plugin needs at
runtime, which must survive the ignore file into the package. Icons follow dify-plugin-daemon (read at
bdb5642a) pkg/plugin_packager/decoder/helper.go (Assets, CheckAssetsValid); I18nObject follows
pkg/entities/plugin_entities/manifest_entities/basic_type.go. check_with_sdk loads the data with the
dify_plugin SDK's own pydantic models, the way the plugin process does at start-up.
"""

import contextlib
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

I18N_KEYS = ("en_US", "zh_Hans", "ja_JP", "pt_BR")
I18N_MAX_CHARS = 1024  # go-playground `lt=1024` counts runes, like len() on str
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Problem:
    file: str
    message: str
    field: str | None = None

    def __str__(self) -> str:
        if self.field:
            return f"{self.file}: field '{self.field}' {self.message}"
        return f"{self.file}: {self.message}"


@dataclass
class Report:
    """Problems found so far, and the files that must survive the ignore file into the package."""

    plugin_dir: Path
    problems: list[Problem] = field(default_factory=list)
    needed_files: list[tuple[Problem, str]] = field(default_factory=list)

    def add(self, file: str, field_path: str | None, message: str) -> None:
        self.problems.append(Problem(file, message, field_path))

    def need(self, file: str, field_path: str | None, relative_path: str) -> None:
        self.needed_files.append((Problem(file, "", field_path), relative_path))

    def flagged_fields(self, file: str) -> set[str]:
        return {problem.field or "" for problem in self.problems if problem.file == file}


MISSING = object()


def lookup(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return MISSING
        data = data[key]
    return data


def path_inside(base: Path, relative: str) -> Path | None:
    """The path `relative` names under base, or None if it is absolute or climbs out of base."""
    candidate = (base / relative).resolve()
    return candidate if candidate.is_relative_to(base.resolve()) else None


def plugin_relative(plugin_dir: Path, path: Path) -> str:
    return path.resolve().relative_to(plugin_dir.resolve()).as_posix()


def load_yaml(path: Path) -> tuple[Any, str | None]:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return None, f"cannot be read as YAML: {error}"


def icon_format_problem(path: Path) -> str | None:
    """Why the icon file is not a usable SVG or PNG (its extension decides which), or None if it is fine."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".png":
        return None if data.startswith(PNG_MAGIC) else "is not a valid PNG (missing PNG signature)"
    if suffix == ".svg":
        try:
            root = ElementTree.fromstring(data)
        except ElementTree.ParseError as error:
            return f"is not a valid SVG (XML parse error: {error})"
        local_name = root.tag.rsplit("}", 1)[-1]
        return None if local_name == "svg" else f"is not a valid SVG (root element is <{local_name}>)"
    return "must be an .svg or .png file"


def check_regex(report: Report, file: str, data: dict[str, Any], dotted: str, pattern: str) -> str | None:
    value = lookup(data, dotted)
    if value is MISSING or value is None:
        report.add(file, dotted, "is required")
    elif not isinstance(value, str) or not re.fullmatch(pattern, value, re.ASCII):
        report.add(file, dotted, f"must match {pattern} (got {value!r})")
    else:
        return value
    return None


def check_i18n(report: Report, file: str, dotted: str, value: Any) -> None:
    if value is MISSING or value is None:
        report.add(file, dotted, "is required (a mapping with at least en_US)")
        return
    if not isinstance(value, dict):
        report.add(file, dotted, f"must be a mapping of language to text (got {value!r})")
        return
    for key, text in value.items():
        if key not in I18N_KEYS:
            report.add(file, f"{dotted}.{key}", f"is not a supported language; use {', '.join(I18N_KEYS)}")
        elif text is None:
            continue
        elif not isinstance(text, str):
            report.add(file, f"{dotted}.{key}", f"must be a string (got {text!r})")
        elif len(text) >= I18N_MAX_CHARS:
            report.add(file, f"{dotted}.{key}", f"must be shorter than {I18N_MAX_CHARS} characters (got {len(text)})")
    if not value.get("en_US"):
        report.add(file, f"{dotted}.en_US", "is required and must not be empty")


def check_asset(report: Report, file: str, dotted: str, name: Any, max_length: int | None = None) -> None:
    """An icon named relative to _assets/ (decoder/helper.go Assets, CheckAssetsValid) and a valid image."""
    if not isinstance(name, str) or not name:
        report.add(file, dotted, f"must name a file in _assets/ (got {name!r})")
        return
    if max_length is not None and len(name) > max_length:
        report.add(file, dotted, f"must be at most {max_length} characters (got {len(name)})")
        return
    assets_dir = report.plugin_dir / "_assets"
    path = path_inside(assets_dir, name)
    if path is None:
        report.add(file, dotted, f"must be a path inside _assets/ (got {name!r})")
    elif not path.is_file():
        report.add(file, dotted, f"names _assets/{name}, which does not exist")
    elif problem := icon_format_problem(path):
        report.add(file, dotted, f"names _assets/{name}, which {problem}")
    else:
        report.need(file, dotted, plugin_relative(report.plugin_dir, path))


def check_plugin_file(report: Report, file: str, dotted: str, name: Any, what: str) -> Path | None:
    if not isinstance(name, str) or not name:
        report.add(file, dotted, f"must be the relative path of a {what} (got {name!r})")
        return None
    path = path_inside(report.plugin_dir, name)
    if path is None:
        report.add(file, dotted, f"must be a path inside the plugin directory (got {name!r})")
        return None
    if not path.is_file():
        report.add(file, dotted, f"names {name}, which does not exist")
        return None
    report.need(file, dotted, plugin_relative(report.plugin_dir, path))
    return path


def error_field_path(location: Sequence[Any]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _is_covered(field_path: str, flagged: set[str]) -> bool:
    """True if one of our own rules already reported this field, a parent or a child of it."""
    for other in flagged:
        for parent, child in ((other, field_path), (field_path, other)):
            if child == parent or (parent and child.startswith((parent + ".", parent + "["))):
                return True
    return False


def check_with_sdk(report: Report, file: str, model: Any, data: dict[str, Any], label: str) -> None:
    """Load data with the SDK's own pydantic model, the way the plugin process does at start-up.

    The SDK resolves some paths (model YAML globs, sources) against the cwd, so this runs in the plugin dir.
    """
    flagged = report.flagged_fields(file)
    try:
        with contextlib.chdir(report.plugin_dir):
            model(**data)
    except ValidationError as error:
        for item in error.errors():
            field_path = error_field_path(item["loc"])
            if field_path and _is_covered(field_path, flagged):
                continue
            report.add(file, field_path or None, f"{item['msg']} (dify_plugin {label})")
    except Exception as error:  # SDK validators also raise TypeError and friends
        report.add(file, None, f"is rejected by dify_plugin {label}: {type(error).__name__}: {error}")
