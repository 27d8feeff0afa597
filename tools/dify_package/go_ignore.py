"""Which files go into the package: .difyignore patterns matched with go-git semantics.

Confirmed in dify-plugin-daemon (read at bdb5642a) pkg/plugin_packager/decoder/fs.go (Walk): `.difyignore`
is read, `.gitignore` only when `.difyignore` cannot be read; the file is split on "\\n", each line
strings.TrimSpace'd, blank and "#" lines dropped, the rest given to go-git gitignore.ParsePattern(line, nil).
filepath.WalkDir visits every entry with its path split into components; the first pattern whose Match
returns Exclude drops it (a directory with SkipDir, so nothing below it is visited). Include results
(`!pattern`) are never consulted, so negation re-includes nothing. Nothing is ignored implicitly.

Confirmed in go-git v5.19.2 (the version the daemon's go.mod pins) plumbing/format/gitignore/pattern.go: a
leading "!" marks inclusion; trailing spaces are trimmed; a trailing "/" sets dirOnly and is removed; a
pattern still containing "/" is a glob split on "/" and matched from the root component by component (so a
leading "/" only anchors), "**" spans zero or more components, other segments containing "**" never match,
and a glob that matches a prefix of the path matches the whole path. A pattern without "/" matches when any
single path component matches it. dirOnly rejects a match whose last component is a file. Segments use Go's
path/filepath.Match (not fnmatch), ported below.
"""

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

OUTPUT_DIR_NAME = "dist"


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


def go_sort_key(path: str) -> bytes:
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
    return sorted(files, key=go_sort_key)
