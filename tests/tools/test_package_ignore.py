"""The files tools/package.py packages: .difyignore / .gitignore rules with go-git's semantics, as the daemon's
decoder/fs.go applies them, and Go's filepath.Match globs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.demo_plugin import make_plugin, package, write_files

# ---------------------------------------------------------------------------------------------------------
# Ignore rules (go-git gitignore semantics, as the daemon's decoder/fs.go applies them)
# ---------------------------------------------------------------------------------------------------------


def test_difyignore_patterns_follow_go_git_semantics(plugin_dir: Path) -> None:
    ignore = "\n".join(
        [
            "# comment line, then a blank line",
            "",
            ".venv",  # no slash: any component, files or directories
            "tests/",  # trailing slash: directories only, at any depth
            "*.pyc",
            "/anchored",  # leading slash: only at the root
            "a/**/b",  # ** spans zero or more directories
            "!keep.pyc",  # negation re-includes nothing
            "  spaced.txt  ",  # lines are trimmed
        ]
    )
    write_files(
        plugin_dir,
        {
            ".difyignore": ignore,
            ".venv/lib/site.py": "",
            "sub/.venv": "a file named like an ignored directory",
            "tests/test_a.py": "",
            "src/tests/deep.py": "",
            "notes/tests": "a file, so the directory-only pattern keeps it",
            "pkg/mod.pyc": "",
            "pkg/mod.py": "",
            "keep.pyc": "",
            "anchored/file.txt": "",
            "sub/anchored/file.txt": "",
            "a/b/file.txt": "",
            "a/x/y/b/file.txt": "",
            "a/c/file.txt": "",
            "spaced.txt": "",
            "dist/old.difypkg": "the output directory is never packaged",
        },
    )

    files = package.collect_files(plugin_dir)

    extra = set(files) - set(package.collect_files(make_plugin(plugin_dir.parent / "bare")))
    assert extra == {
        ".difyignore",
        "notes/tests",
        "pkg/mod.py",
        "sub/anchored/file.txt",
        "a/c/file.txt",
    }
    assert files == sorted(files, key=lambda name: name.encode())


def test_gitignore_is_used_only_without_difyignore(plugin_dir: Path) -> None:
    write_files(plugin_dir, {".gitignore": "secret.txt\n", "secret.txt": "x"})
    assert "secret.txt" not in package.collect_files(plugin_dir)

    write_files(plugin_dir, {".difyignore": "other.txt\n"})
    files = package.collect_files(plugin_dir)

    assert "secret.txt" in files
    assert ".gitignore" in files


def test_nothing_is_ignored_implicitly(plugin_dir: Path) -> None:
    write_files(plugin_dir, {".venv/x.py": "", "__pycache__/m.cpython-312.pyc": b"\x00", ".env": "A=1"})

    files = package.collect_files(plugin_dir)

    assert {".venv/x.py", "__pycache__/m.cpython-312.pyc", ".env"} <= set(files)


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*.py", "x.py", True),
        ("*.py", "x.pyc", False),
        ("?", "é", True),  # one rune, not one byte
        ("[^a]bc", "xbc", True),  # Go negates with ^ ...
        ("[!a]bc", "!bc", True),  # ... and ! is a literal, unlike fnmatch
        ("[!a]bc", "xbc", False),
        ("[a-c]x", "bx", True),
        ("[z-a]", "m", False),  # legal in Go, matches nothing
        ("\\*", "*", True),
        ("\\*", "x", False),
        ("a[", "a[", False),  # malformed: never matches
        ("[]a]", "]", False),  # malformed in Go
    ],
)
def test_go_glob_matches_like_filepath_match(pattern: str, name: str, matches: bool) -> None:
    assert package.go_glob_match(pattern, name) is matches


@pytest.mark.parametrize(
    ("line", "parts", "is_dir", "excluded"),
    [
        ("build/", ("src", "build"), True, True),
        ("build/", ("src", "build"), False, False),
        ("docs/*.md", ("docs", "a.md"), False, True),
        ("docs/*.md", ("sub", "docs", "a.md"), False, False),  # a slash anchors the glob at the root
        ("**/cache", ("x", "y", "cache"), True, True),
        ("a/**", ("a",), True, True),
        ("a/b**", ("a", "bc"), False, False),  # ** inside a segment never matches in go-git v5
        ("!x", ("x",), False, False),
    ],
)
def test_ignore_pattern_edge_cases(line: str, parts: tuple[str, ...], is_dir: bool, excluded: bool) -> None:
    assert package.IgnorePattern.parse(line).excludes(parts, is_dir) is excluded
