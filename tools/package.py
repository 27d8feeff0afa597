#!/usr/bin/env python3
"""Validate this Dify plugin and package it as dist/<name>-<version>.difypkg.

Stands in for `dify plugin package`, a Go binary we cannot install, and replicates what it and the
plugin daemon check (docs: /work/shared/docs/dify-plugin-runtime.md section 3). Rules are ported from the
daemon source (langgenius/dify-plugin-daemon, read at bdb5642a) and go-git v5.19.2, the version the
daemon's go.mod pins; the file names are cited next to each rule.

Usage: python tools/package.py [--plugin-dir DIR] [--output PATH] [--check]
"""

import argparse
import contextlib
import datetime
import functools
import hashlib
import os
import re
import sys
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR_NAME = "dist"
# CLI `--max-size` default (50 * 1024 * 1024, cmd/commandline/plugin.go) and the daemon's upload limit
# MAX_PLUGIN_PACKAGE_SIZE (52428800, internal/types/app/default.go): cumulative uncompressed bytes.
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
# Zip timestamps are fixed so two builds of the same tree are byte-identical (DOS dates start in 1980).
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
REGULAR_FILE_MODE = 0o100644

# Manifest rules: pkg/entities/plugin_entities/plugin_declaration.go (struct tags and ManifestValidate, which
# runs at install time), manifest_entities/version.go, basic_type.go (I18nObject). Go's regexp is RE2: \d and
# \w are ASCII-only, hence re.ASCII.
VERSION_PATTERN = r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$"
AUTHOR_PATTERN = r"^[a-z0-9_-]{1,64}$"
NAME_PATTERN = r"^[a-z0-9_-]{1,128}$"
# The upload endpoint rejects authors that google/uuid.Parse accepts ("cannot set author to an UUID",
# internal/service/plugin_decoder.go); of its accepted forms only these two can pass AUTHOR_PATTERN.
UUID_PATTERN = r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$"
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
ENTRYPOINT_PATTERN = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$"
I18N_KEYS = ("en_US", "zh_Hans", "ja_JP", "pt_BR")
I18N_MAX_CHARS = 1024  # go-playground `lt=1024` counts runes, like len() on str
ARCHES = ("amd64", "arm64")
OTHER_PLUGIN_KINDS = ("tools", "endpoints", "agent_strategies", "datasources", "triggers")
PLUGIN_TAGS = frozenset(
    [
        "search",
        "image",
        "videos",
        "weather",
        "finance",
        "design",
        "travel",
        "social",
        "news",
        "medical",
        "productivity",
        "education",
        "business",
        "entertainment",
        "utilities",
        "agent",
        "rag",
        "other",
        "trigger",
    ]
)
STORAGE_SIZE_RANGE = (1024, 1024**3)
# The daemon checks icon_small/icon_large (decoder/helper.go CheckAssetsValid); Dify also shows the dark ones.
PROVIDER_ICON_FIELDS = ("icon_small", "icon_large", "icon_small_dark", "icon_large_dark")
MODEL_TYPES = ("llm", "text_embedding", "rerank", "tts", "speech2text", "moderation")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PackageError(Exception):
    """The plugin cannot be packaged; `problems` holds one readable line per reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class PackagePlan:
    """Everything known about a valid plugin before the zip is written."""

    plugin_dir: Path
    files: list[str]
    uncompressed_size: int
    checksum: str
    unique_identifier: str
    default_output: Path


@dataclass(frozen=True)
class BuildResult:
    path: Path
    file_count: int
    uncompressed_size: int
    package_size: int
    checksum: str
    unique_identifier: str


# ----------------------------------------------------------------------------------------------------
# Ignore rules.
#
# Confirmed in dify-plugin-daemon pkg/plugin_packager/decoder/fs.go (Walk): `.difyignore` is read,
# `.gitignore` only when `.difyignore` cannot be read; the file is split on "\n", each line
# strings.TrimSpace'd, blank and "#" lines dropped, the rest given to go-git
# gitignore.ParsePattern(line, nil). filepath.WalkDir visits every entry with its path split into
# components; the first pattern whose Match returns Exclude drops it (a directory with SkipDir, so nothing
# below it is visited). Include results (`!pattern`) are never consulted, so negation re-includes nothing.
# Nothing is ignored implicitly.
#
# Confirmed in go-git v5.19.2 plumbing/format/gitignore/pattern.go: a leading "!" marks inclusion;
# trailing spaces are trimmed; a trailing "/" sets dirOnly and is removed; a pattern still containing "/"
# is a glob split on "/" and matched from the root component by component (so a leading "/" only
# anchors), "**" spans zero or more components, other segments containing "**" never match, and a glob
# that matches a prefix of the path matches the whole path. A pattern without "/" matches when any single
# path component matches it. dirOnly rejects a match whose last component is a file. Segments use Go's
# path/filepath.Match (not fnmatch), ported below.
# ----------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def compile_go_glob(pattern: str) -> re.Pattern[str] | None:
    """Translate Go filepath.Match syntax (Unix) to a regex; None if Go would report ErrBadPattern.

    Go differs from fnmatch: `[^...]` negates (`!` is literal), `\\` escapes, and a malformed pattern never
    matches anything. A range with lo > hi is legal in Go and matches nothing.
    """
    regex: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            regex.append(".*")
            index += 1
        elif char == "?":
            regex.append(".")
            index += 1
        elif char == "\\":
            if index + 1 >= len(pattern):
                return None
            regex.append(re.escape(pattern[index + 1]))
            index += 2
        elif char == "[":
            parsed = _parse_go_char_class(pattern, index + 1)
            if parsed is None:
                return None
            class_regex, index = parsed
            regex.append(class_regex)
        else:
            regex.append(re.escape(char))
            index += 1
    return re.compile("".join(regex), re.DOTALL)


def _parse_go_char_class(pattern: str, index: int) -> tuple[str, int] | None:
    """Parse a `[...]` class starting after its `[`; returns (regex, index after `]`) or None if malformed."""
    if index >= len(pattern):
        return None
    negated = pattern[index] == "^"
    if negated:
        index += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if index < len(pattern) and pattern[index] == "]" and ranges:
            index += 1
            break
        low = _read_go_class_char(pattern, index)
        if low is None:
            return None
        low_char, index = low
        high_char = low_char
        if pattern[index] == "-":
            high = _read_go_class_char(pattern, index + 1)
            if high is None:
                return None
            high_char, index = high
        ranges.append((low_char, high_char))
    members = "".join(f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in ranges if lo <= hi)
    if not members:
        return ("." if negated else "(?!)"), index
    return f"[{'^' if negated else ''}{members}]", index


def _read_go_class_char(pattern: str, index: int) -> tuple[str, int] | None:
    """Go's getEsc: one possibly escaped class character, which must not be the last pattern character."""
    if index >= len(pattern) or pattern[index] in "-]":
        return None
    if pattern[index] == "\\":
        index += 1
        if index >= len(pattern):
            return None
    if index + 1 >= len(pattern):
        return None
    return pattern[index], index + 1


def go_glob_match(pattern: str, name: str) -> bool:
    regex = compile_go_glob(pattern)
    return regex is not None and regex.fullmatch(name) is not None


@dataclass(frozen=True)
class IgnorePattern:
    """One line of .difyignore, matched exactly like go-git v5.19.2's gitignore pattern with no domain."""

    segments: tuple[str, ...]
    dir_only: bool
    is_glob: bool
    negated: bool

    @classmethod
    def parse(cls, line: str) -> "IgnorePattern":
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        if not line.endswith("\\ "):
            line = line.rstrip(" ")
        dir_only = line.endswith("/")
        if dir_only:
            line = line[:-1]
        return cls(tuple(line.split("/")), dir_only, "/" in line, negated)

    def excludes(self, parts: Sequence[str], is_dir: bool) -> bool:
        # A negated pattern yields Include, which the daemon's Walk ignores.
        if self.negated or not parts:
            return False
        return self._glob_match(parts, is_dir) if self.is_glob else self._name_match(parts, is_dir)

    def _name_match(self, parts: Sequence[str], is_dir: bool) -> bool:
        for position, name in enumerate(parts):
            if not go_glob_match(self.segments[0], name):
                continue
            return not (self.dir_only and not is_dir and position == len(parts) - 1)
        return False

    def _glob_match(self, parts: Sequence[str], is_dir: bool) -> bool:
        remaining = list(parts)
        matched = False
        can_traverse = False
        for position, segment in enumerate(self.segments):
            if segment == "":
                can_traverse = False
                continue
            if segment == "**":
                if position == len(self.segments) - 1:
                    break
                can_traverse = True
                continue
            if "**" in segment or not remaining:
                return False
            if can_traverse:
                can_traverse = False
                while remaining:
                    name = remaining.pop(0)
                    if go_glob_match(segment, name):
                        matched = True
                        break
                    if not remaining:
                        matched = False
            else:
                if not go_glob_match(segment, remaining[0]):
                    return False
                matched = True
                remaining.pop(0)
        if matched and self.dir_only and not is_dir and not remaining:
            return False
        return matched


def ignore_file_name(plugin_dir: Path) -> str | None:
    for candidate in (".difyignore", ".gitignore"):
        if (plugin_dir / candidate).is_file():
            return candidate
    return None


def load_ignore_patterns(plugin_dir: Path) -> list[IgnorePattern]:
    name = ignore_file_name(plugin_dir)
    if name is None:
        return []
    lines = (line.strip() for line in (plugin_dir / name).read_text(encoding="utf-8").split("\n"))
    return [IgnorePattern.parse(line) for line in lines if line and not line.startswith("#")]


def _go_sort_key(path: str) -> bytes:
    # Go sorts strings by their UTF-8 bytes (sort.Slice in packager.go, slices.Sort in checksum.go).
    return path.encode("utf-8", "surrogateescape")


def collect_files(plugin_dir: Path) -> list[str]:
    """Files the package will contain: '/'-separated paths relative to plugin_dir, in Go byte order.

    The top-level output directory `dist/` is never packaged, whatever the ignore file says: an old package
    inside a new one would only waste space.
    """
    patterns = load_ignore_patterns(plugin_dir)
    files: list[str] = []

    def walk(directory: Path, parents: tuple[str, ...]) -> None:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            parts = (*parents, entry.name)
            # Like filepath.WalkDir, symlinks are not followed as directories.
            is_dir = entry.is_dir(follow_symlinks=False)
            if parts == (OUTPUT_DIR_NAME,) and is_dir:
                continue
            if any(pattern.excludes(parts, is_dir) for pattern in patterns):
                continue
            if is_dir:
                walk(Path(entry.path), parts)
            else:
                files.append("/".join(parts))

    walk(plugin_dir, ())
    return sorted(files, key=_go_sort_key)


# ----------------------------------------------------------------------------------------------------
# Checksum and identity.
#
# Confirmed in dify-plugin-daemon pkg/plugin_packager/decoder/checksum.go (CalculateChecksum): it walks
# the files that get packaged (fs.go Walk honours the ignore file; zip.go Walk lists every zip entry),
# keys them by path.Join(dir, name), i.e. '/'-separated relative paths, sorts the keys with slices.Sort
# (byte order), and hashes the concatenation of raw 32-byte digests sha256(path) || sha256(content) per
# key; the checksum is hex(sha256(that)). decoder/helper.go UniqueIdentity builds
# "<author>/<name>:<version>@<checksum>" (parser.MarshalPluginID; plugin_entities/identity.go checks it).
# ----------------------------------------------------------------------------------------------------


def compute_checksum(plugin_dir: Path, files: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(set(files), key=_go_sort_key):
        digest.update(hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest())
        digest.update(hashlib.sha256((plugin_dir / path).read_bytes()).digest())
    return digest.hexdigest()


def unique_identifier(author: str, name: str, version: str, checksum: str) -> str:
    return f"{author}/{name}:{version}@{checksum}"


# ----------------------------------------------------------------------------------------------------
# Validation.
# ----------------------------------------------------------------------------------------------------


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
class _Report:
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


_MISSING = object()


def _lookup(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data


def _inside(base: Path, relative: str) -> Path | None:
    """The path `relative` names under base, or None if it is absolute or climbs out of base."""
    candidate = (base / relative).resolve()
    return candidate if candidate.is_relative_to(base.resolve()) else None


def _relative(plugin_dir: Path, path: Path) -> str:
    return path.resolve().relative_to(plugin_dir.resolve()).as_posix()


def _load_yaml(path: Path) -> tuple[Any, str | None]:
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


def _check_regex(report: _Report, file: str, data: dict[str, Any], dotted: str, pattern: str) -> str | None:
    value = _lookup(data, dotted)
    if value is _MISSING or value is None:
        report.add(file, dotted, "is required")
    elif not isinstance(value, str) or not re.fullmatch(pattern, value, re.ASCII):
        report.add(file, dotted, f"must match {pattern} (got {value!r})")
    else:
        return value
    return None


def _check_i18n(report: _Report, file: str, dotted: str, value: Any) -> None:
    if value is _MISSING or value is None:
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


def _check_asset(report: _Report, file: str, dotted: str, name: Any, max_length: int | None = None) -> None:
    """An icon named relative to _assets/ (decoder/helper.go Assets, CheckAssetsValid) and a valid image."""
    if not isinstance(name, str) or not name:
        report.add(file, dotted, f"must name a file in _assets/ (got {name!r})")
        return
    if max_length is not None and len(name) > max_length:
        report.add(file, dotted, f"must be at most {max_length} characters (got {len(name)})")
        return
    assets_dir = report.plugin_dir / "_assets"
    path = _inside(assets_dir, name)
    if path is None:
        report.add(file, dotted, f"must be a path inside _assets/ (got {name!r})")
    elif not path.is_file():
        report.add(file, dotted, f"names _assets/{name}, which does not exist")
    elif problem := icon_format_problem(path):
        report.add(file, dotted, f"names _assets/{name}, which {problem}")
    else:
        report.need(file, dotted, _relative(report.plugin_dir, path))


def _check_plugin_file(report: _Report, file: str, dotted: str, name: Any, what: str) -> Path | None:
    if not isinstance(name, str) or not name:
        report.add(file, dotted, f"must be the relative path of a {what} (got {name!r})")
        return None
    path = _inside(report.plugin_dir, name)
    if path is None:
        report.add(file, dotted, f"must be a path inside the plugin directory (got {name!r})")
        return None
    if not path.is_file():
        report.add(file, dotted, f"names {name}, which does not exist")
        return None
    report.need(file, dotted, _relative(report.plugin_dir, path))
    return path


def _check_rfc3339(report: _Report, file: str, value: Any) -> None:
    if isinstance(value, datetime.datetime):  # PyYAML turns an unquoted timestamp into a datetime
        if value.tzinfo is None:
            report.add(file, "created_at", f"must be an RFC 3339 time with a timezone (got {value.isoformat()})")
        return
    if value is _MISSING or value is None:
        report.add(file, "created_at", "is required (RFC 3339 time, e.g. 2026-01-31T00:00:00Z)")
        return
    valid = isinstance(value, str) and re.fullmatch(RFC3339_PATTERN, value, re.ASCII)
    if valid:
        try:
            datetime.datetime.fromisoformat(value.upper())
        except ValueError:
            valid = False
    if not valid:
        report.add(file, "created_at", f"must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z (got {value!r})")


def _check_identity_fields(report: _Report, file: str, data: dict[str, Any]) -> None:
    _check_regex(report, file, data, "version", VERSION_PATTERN)
    if data.get("type") != "plugin":
        report.add(file, "type", f"must be 'plugin' (got {data.get('type')!r})")
    author = _check_regex(report, file, data, "author", AUTHOR_PATTERN)
    if author and re.fullmatch(UUID_PATTERN, author):
        report.add(file, "author", f"must not look like a UUID; Dify rejects such packages (got {author!r})")
    _check_regex(report, file, data, "name", NAME_PATTERN)
    _check_i18n(report, file, "label", data.get("label", _MISSING))
    _check_i18n(report, file, "description", data.get("description", _MISSING))
    _check_asset(report, file, "icon", data.get("icon"), max_length=128)
    if data.get("icon_dark") is not None:
        _check_asset(report, file, "icon_dark", data["icon_dark"], max_length=128)
    _check_rfc3339(report, file, data.get("created_at", _MISSING))
    tags = data.get("tags") or []
    if not isinstance(tags, list):
        report.add(file, "tags", f"must be a list (got {tags!r})")
        tags = []
    for index, tag in enumerate(tags):
        if tag not in PLUGIN_TAGS:
            report.add(file, f"tags[{index}]", f"must be one of {', '.join(sorted(PLUGIN_TAGS))} (got {tag!r})")
    repo = data.get("repo")
    if repo is not None and not (isinstance(repo, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S", repo)):
        report.add(file, "repo", f"must be a URL (got {repo!r})")


def _check_resource(report: _Report, file: str, data: dict[str, Any]) -> None:
    memory = _lookup(data, "resource.memory")
    if isinstance(memory, bool) or not isinstance(memory, int) or memory <= 0:
        shown = "nothing" if memory is _MISSING else repr(memory)
        report.add(file, "resource.memory", f"must be a positive integer number of bytes (got {shown})")
    storage_size = _lookup(data, "resource.permission.storage.size")
    low, high = STORAGE_SIZE_RANGE
    if (
        storage_size is not _MISSING
        and storage_size is not None
        and not (isinstance(storage_size, int) and not isinstance(storage_size, bool) and low <= storage_size <= high)
    ):
        report.add(file, "resource.permission.storage.size", f"must be {low}..{high} bytes (got {storage_size!r})")


def _check_plugins(report: _Report, file: str, data: dict[str, Any]) -> list[str]:
    """Check `plugins`; returns the provider YAML paths that exist, for the provider checks."""
    models = _lookup(data, "plugins.models")
    if not isinstance(models, list) or not models:
        shown = "nothing" if models is _MISSING else repr(models)
        report.add(file, "plugins.models", f"must be a non-empty list of provider YAML paths (got {shown})")
        models = []
    for kind in OTHER_PLUGIN_KINDS:
        if _lookup(data, f"plugins.{kind}") not in (_MISSING, None, []):
            report.add(file, f"plugins.{kind}", "must be empty: a models plugin cannot provide other kinds")
    providers = []
    for index, entry in enumerate(models):
        dotted = f"plugins.models[{index}]"
        if isinstance(entry, str) and len(entry) > 128:
            report.add(file, dotted, f"must be at most 128 characters (got {len(entry)})")
        elif path := _check_plugin_file(report, file, dotted, entry, "provider YAML file"):
            providers.append(_relative(report.plugin_dir, path))
    return providers


def _check_meta(report: _Report, file: str, data: dict[str, Any]) -> None:
    _check_regex(report, file, data, "meta.version", VERSION_PATTERN)
    arch = _lookup(data, "meta.arch")
    if not isinstance(arch, list) or not arch:
        report.add(file, "meta.arch", f"must be a non-empty list of {' / '.join(ARCHES)} (got {arch!r})")
    else:
        for index, value in enumerate(arch):
            if value not in ARCHES:
                report.add(file, f"meta.arch[{index}]", f"must be one of {', '.join(ARCHES)} (got {value!r})")
    language = _lookup(data, "meta.runner.language")
    if language != "python":
        report.add(file, "meta.runner.language", f"must be 'python' (got {language!r})")
    version = _lookup(data, "meta.runner.version")
    if not isinstance(version, str) or not version or len(version) > 128:
        report.add(file, "meta.runner.version", f"must be a quoted string of 1..128 characters (got {version!r})")
    _check_entrypoint(report, file, _lookup(data, "meta.runner.entrypoint"))


def _check_entrypoint(report: _Report, file: str, entrypoint: Any) -> None:
    """The daemon runs `python -m <entrypoint>` (local_runtime/subprocess.go), so the module must exist."""
    dotted = "meta.runner.entrypoint"
    if not isinstance(entrypoint, str) or len(entrypoint) > 256 or not re.fullmatch(ENTRYPOINT_PATTERN, entrypoint):
        report.add(file, dotted, f"must be a Python module name such as 'main' (got {entrypoint!r})")
        return
    module_path = entrypoint.replace(".", "/")
    for candidate in (f"{module_path}.py", f"{module_path}/__main__.py"):
        if (report.plugin_dir / candidate).is_file():
            report.need(file, dotted, candidate)
            return
    report.add(file, dotted, f"names module {entrypoint!r}, but {module_path}.py does not exist")


def _field_path(location: Sequence[Any]) -> str:
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


def _check_with_sdk(report: _Report, file: str, model: Any, data: dict[str, Any], label: str) -> None:
    """Load data with the SDK's own pydantic model, the way the plugin process does at start-up.

    The SDK resolves some paths (model YAML globs, sources) against the cwd, so this runs in the plugin dir.
    """
    flagged = report.flagged_fields(file)
    try:
        with contextlib.chdir(report.plugin_dir):
            model(**data)
    except ValidationError as error:
        for item in error.errors():
            field_path = _field_path(item["loc"])
            if field_path and _is_covered(field_path, flagged):
                continue
            report.add(file, field_path or None, f"{item['msg']} (dify_plugin {label})")
    except Exception as error:  # SDK validators also raise TypeError and friends
        report.add(file, None, f"is rejected by dify_plugin {label}: {type(error).__name__}: {error}")


def _check_manifest(report: _Report) -> list[str]:
    """Validate manifest.yaml; returns the provider YAML paths it references that exist."""
    file = "manifest.yaml"
    path = report.plugin_dir / file
    if not path.is_file():
        report.add(file, None, "does not exist")
        return []
    report.need(file, None, file)
    data, error = _load_yaml(path)
    if error or not isinstance(data, dict):
        report.add(file, None, error or "must be a YAML mapping")
        return []
    _check_identity_fields(report, file, data)
    _check_resource(report, file, data)
    providers = _check_plugins(report, file, data)
    _check_meta(report, file, data)

    from dify_plugin.core.entities.plugin.setup import PluginConfiguration

    _check_with_sdk(report, file, PluginConfiguration, data, "PluginConfiguration")
    return providers


def _check_model_schemas(report: _Report, models: Any) -> bool:
    """Validate predefined model YAMLs one by one so errors name their file; returns True if all are valid.

    Mirrors the globbing of the SDK's ProviderEntity.validate_models (entities/model/provider.py).
    """
    from dify_plugin.entities.model import AIModelEntity

    all_valid = True
    if not isinstance(models, dict):
        return all_valid
    for model_type in MODEL_TYPES:
        settings = models.get(model_type)
        globs = settings.get("predefined", []) if isinstance(settings, dict) else []
        for pattern in globs if isinstance(globs, list) else []:
            try:
                matches = sorted(report.plugin_dir.glob(str(pattern)))
            except (NotImplementedError, ValueError):
                continue  # the SDK fails on such a glob too; its error is reported with the provider
            for path in matches:
                if path.name.endswith("_position.yaml"):
                    continue
                file = _relative(report.plugin_dir, path)
                report.need(file, None, file)
                data, error = _load_yaml(path)
                try:
                    if error:
                        raise ValueError(error)
                    AIModelEntity(**(data or {}))
                except ValidationError as invalid:
                    all_valid = False
                    for item in invalid.errors():
                        message = f"{item['msg']} (dify_plugin AIModelEntity)"
                        report.add(file, _field_path(item["loc"]) or None, message)
                except Exception as failure:
                    all_valid = False
                    report.add(file, None, f"is rejected by dify_plugin AIModelEntity: {failure}")
    return all_valid


def _check_provider(report: _Report, file: str) -> None:
    data, error = _load_yaml(report.plugin_dir / file)
    if error or not isinstance(data, dict):
        report.add(file, None, error or "must be a YAML mapping")
        return
    for icon_field in PROVIDER_ICON_FIELDS:
        icons = data.get(icon_field)
        if isinstance(icons, dict):
            for language, name in icons.items():
                if name:
                    _check_asset(report, file, f"{icon_field}.{language}", name)
    source = _lookup(data, "extra.python.provider_source")
    if source is not _MISSING:
        _check_plugin_file(report, file, "extra.python.provider_source", source, "Python source file")
    model_sources = _lookup(data, "extra.python.model_sources")
    if isinstance(model_sources, list):
        for index, model_source in enumerate(model_sources):
            dotted = f"extra.python.model_sources[{index}]"
            _check_plugin_file(report, file, dotted, model_source, "Python source file")
    models_valid = _check_model_schemas(report, data.get("models"))
    # Invalid model files were reported by name; keep the SDK from repeating them without the file name.
    sdk_data = data if models_valid else {key: value for key, value in data.items() if key != "models"}

    from dify_plugin.entities.model.provider import ModelProviderConfiguration

    _check_with_sdk(report, file, ModelProviderConfiguration, sdk_data, "ModelProviderConfiguration")


def _check_packaged(report: _Report) -> None:
    """Every file the plugin needs at runtime must survive the ignore file."""
    packaged = set(collect_files(report.plugin_dir))
    ignore_name = ignore_file_name(report.plugin_dir) or "the packager"
    for where, relative_path in report.needed_files:
        if relative_path not in packaged:
            message = f"needs {relative_path}, which {ignore_name} excludes from the package"
            report.add(where.file, where.field, message)


def find_problems(plugin_dir: Path) -> list[Problem]:
    report = _Report(plugin_dir.resolve())
    for provider in _check_manifest(report):
        _check_provider(report, provider)
    if (report.plugin_dir / "requirements.txt").is_file():
        report.need("requirements.txt", None, "requirements.txt")
    else:
        # The CLI could generate it with `uv export` (packager.go); we require it so what Dify installs
        # is the reviewed, committed list.
        report.add("requirements.txt", None, "does not exist; the daemon installs the plugin's dependencies from it")
    _check_packaged(report)
    return list(dict.fromkeys(report.problems))


def validate_plugin(plugin_dir: Path) -> list[str]:
    """Every reason the plugin cannot be packaged or installed, one line each; empty when it is valid."""
    return [str(problem) for problem in find_problems(Path(plugin_dir))]


# ----------------------------------------------------------------------------------------------------
# Packaging.
# ----------------------------------------------------------------------------------------------------


def size_problem(plugin_dir: Path, files: Sequence[str], max_bytes: int = MAX_UNCOMPRESSED_BYTES) -> str | None:
    """The packager.go error for packages over the limit: it lists the five biggest files."""
    sizes = {path: (plugin_dir / path).stat().st_size for path in files}
    total = sum(sizes.values())
    if total <= max_bytes:
        return None
    biggest = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:5]
    listing = "\n".join(f"  {rank}. {path}: {size} bytes" for rank, (path, size) in enumerate(biggest, 1))
    return (
        f"package too large: {total} bytes uncompressed, the limit is {max_bytes} bytes; "
        f"exclude files in .difyignore. Biggest files:\n{listing}"
    )


def plan_package(plugin_dir: Path, skip: Iterable[str] = ()) -> PackagePlan:
    """Validate, collect files, check the size limit and compute the identity; raises PackageError."""
    plugin_dir = Path(plugin_dir).resolve()
    problems = validate_plugin(plugin_dir)
    if problems:
        raise PackageError(problems)
    skipped = set(skip)
    files = [path for path in collect_files(plugin_dir) if path not in skipped]
    if too_large := size_problem(plugin_dir, files):
        raise PackageError([too_large])
    manifest = yaml.safe_load((plugin_dir / "manifest.yaml").read_text(encoding="utf-8"))
    author, name, version = manifest["author"], manifest["name"], manifest["version"]
    checksum = compute_checksum(plugin_dir, files)
    return PackagePlan(
        plugin_dir=plugin_dir,
        files=files,
        uncompressed_size=sum((plugin_dir / path).stat().st_size for path in files),
        checksum=checksum,
        unique_identifier=unique_identifier(author, name, version, checksum),
        default_output=plugin_dir / OUTPUT_DIR_NAME / f"{name}-{version}.difypkg",
    )


def write_zip(plugin_dir: Path, files: Sequence[str], output: Path) -> None:
    """Deflate, sorted '/' paths, no directory entries, no comment, fixed time and mode: reproducible bytes.

    Written to a temporary file first so a failed build never leaves a truncated package behind.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".partial")
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(files, key=_go_sort_key):
                info = zipfile.ZipInfo(path, date_time=ZIP_TIMESTAMP)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # Unix, so the mode below means the same on every build machine
                info.external_attr = REGULAR_FILE_MODE << 16
                archive.writestr(info, (plugin_dir / path).read_bytes())
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)


def _relative_inside(plugin_dir: Path, path: Path) -> str | None:
    resolved = path.resolve()
    return resolved.relative_to(plugin_dir).as_posix() if resolved.is_relative_to(plugin_dir) else None


def build_package(plugin_dir: Path, output: Path | None = None) -> BuildResult:
    """Validate and write the .difypkg (default dist/<name>-<version>.difypkg); raises PackageError."""
    plugin_dir = Path(plugin_dir).resolve()
    requested = Path(output).resolve() if output is not None else None
    # A package written inside the plugin dir must not package itself (or its temporary file).
    skip = []
    if requested is not None and (inside := _relative_inside(plugin_dir, requested)):
        skip = [inside, inside + ".partial"]
    plan = plan_package(plugin_dir, skip)
    target = requested or plan.default_output
    write_zip(plugin_dir, plan.files, target)
    return BuildResult(
        path=target,
        file_count=len(plan.files),
        uncompressed_size=plan.uncompressed_size,
        package_size=target.stat().st_size,
        checksum=plan.checksum,
        unique_identifier=plan.unique_identifier,
    )


def _display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate and package the Dify plugin as a .difypkg.")
    parser.add_argument("--plugin-dir", type=Path, default=REPO_ROOT, help="plugin root (default: repo root)")
    parser.add_argument(
        "--output", type=Path, help="package path (default: <plugin-dir>/dist/<name>-<version>.difypkg)"
    )
    parser.add_argument("--check", action="store_true", help="validate only, write nothing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            plan = plan_package(args.plugin_dir)
            size = f"{len(plan.files)} files, {plan.uncompressed_size} bytes"
            print(f"OK: {_display(plan.plugin_dir)} is valid ({size})")
            print(f"identifier: {plan.unique_identifier}")
            return 0
        result = build_package(args.plugin_dir, args.output)
    except PackageError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"refusing to package: {len(error.problems)} problem(s)", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"package: {_display(result.path)}")
    print(f"files: {result.file_count}")
    print(f"size: {result.package_size} bytes ({result.uncompressed_size} bytes uncompressed)")
    print(f"identifier: {result.unique_identifier}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
