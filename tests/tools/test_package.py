"""Tests for tools/package.py, the stand-in for `dify plugin package`.

Each test builds its own small plugin under tmp_path, so nothing here depends on the state of the repo,
except the last test, which checks the real plugin when it is complete.
"""

import copy
import hashlib
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL_PATH = REPO_ROOT / "tools" / "package.py"


def _load_tool() -> ModuleType:
    # tools/ is a plain folder, not a package: load the script by path.
    spec = importlib.util.spec_from_file_location("dify_package_tool", TOOL_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


package = _load_tool()

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16"/></svg>\n'
PNG = package.PNG_MAGIC + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
# Shape of a unique identifier as the daemon accepts it (plugin_entities/identity.go), with a sha256 checksum.
IDENTIFIER = re.compile(r"^[a-z0-9_-]{1,64}/[a-z0-9_-]{1,255}:\d{1,4}(\.\d{1,4}){2}@[a-f0-9]{64}$")
DELETE = object()

VALID_MANIFEST: dict[str, Any] = {
    "version": "0.1.0",
    "type": "plugin",
    "author": "someone",
    "name": "demo",
    "label": {"en_US": "Demo", "zh_Hans": "演示"},
    "description": {"en_US": "A demo model provider."},
    "icon": "icon.svg",
    "created_at": "2026-01-31T00:00:00Z",
    "resource": {"memory": 268435456, "permission": {"model": {"enabled": True, "llm": True}}},
    "plugins": {"models": ["provider/demo.yaml"]},
    "meta": {
        "version": "0.1.0",
        "arch": ["amd64", "arm64"],
        "runner": {"language": "python", "version": "3.12", "entrypoint": "main"},
    },
}

VALID_PROVIDER: dict[str, Any] = {
    "provider": "demo",
    "label": {"en_US": "Demo"},
    "icon_small": {"en_US": "icon.svg"},
    "icon_large": {"en_US": "icon.svg"},
    "supported_model_types": ["llm"],
    "configurate_methods": ["customizable-model"],
    "model_credential_schema": {
        "model": {"label": {"en_US": "Model name"}},
        "credential_form_schemas": [
            {"variable": "base_url", "label": {"en_US": "Base URL"}, "type": "text-input", "required": True},
        ],
    },
    "extra": {"python": {"provider_source": "provider/demo.py", "model_sources": ["models/llm/llm.py"]}},
}


def _with_field(document: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A deep copy of document with one dotted field replaced (or removed when value is DELETE)."""
    changed = copy.deepcopy(document)
    *parents, last = dotted.split(".")
    target = changed
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return changed


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def make_plugin(root: Path, manifest: dict[str, Any] | None = None, provider: dict[str, Any] | None = None) -> Path:
    _write(
        root,
        {
            "manifest.yaml": yaml.safe_dump(manifest or VALID_MANIFEST, allow_unicode=True, sort_keys=False),
            "provider/demo.yaml": yaml.safe_dump(provider or VALID_PROVIDER, allow_unicode=True, sort_keys=False),
            "provider/demo.py": "class DemoProvider:\n    pass\n",
            "models/llm/llm.py": "class DemoLLM:\n    pass\n",
            "_assets/icon.svg": SVG,
            "main.py": "print('plugin')\n",
            "requirements.txt": "dify_plugin>=0.10.2,<0.11\n",
        },
    )
    return root


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    return make_plugin(tmp_path / "plugin")


def _single_problem_containing(problems: list[str], expected: str) -> None:
    assert any(expected in problem for problem in problems), f"{expected!r} not in {problems}"


# ---------------------------------------------------------------------------------------------------------
# A valid plugin
# ---------------------------------------------------------------------------------------------------------


def test_valid_plugin_builds_a_sorted_flat_reproducible_zip(plugin_dir: Path) -> None:
    assert package.validate_plugin(plugin_dir) == []

    result = package.build_package(plugin_dir)

    assert result.path == plugin_dir / "dist" / "demo-0.1.0.difypkg"
    with zipfile.ZipFile(result.path) as archive:
        entries = archive.infolist()
        names = [entry.filename for entry in entries]
        assert names == sorted(names, key=lambda name: name.encode())
        assert names == package.collect_files(plugin_dir)
        assert not any(name.endswith("/") for name in names)
        assert archive.comment == b""
        assert {entry.compress_type for entry in entries} == {zipfile.ZIP_DEFLATED}
        assert {entry.date_time for entry in entries} == {package.ZIP_TIMESTAMP}
        assert archive.read("main.py") == b"print('plugin')\n"
    assert result.file_count == len(names) == 7
    assert IDENTIFIER.match(result.unique_identifier)
    assert result.unique_identifier.startswith("someone/demo:0.1.0@")


def test_cli_builds_and_prints_the_identifier(plugin_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = plugin_dir.parent / "out" / "demo.difypkg"

    assert package.main(["--plugin-dir", str(plugin_dir), "--output", str(output)]) == 0

    printed = capsys.readouterr().out
    assert output.is_file()
    assert "files: 7" in printed
    assert re.search(r"identifier: someone/demo:0\.1\.0@[0-9a-f]{64}", printed)


def test_check_validates_without_writing(plugin_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert package.main(["--plugin-dir", str(plugin_dir), "--check"]) == 0

    assert "identifier: someone/demo:0.1.0@" in capsys.readouterr().out
    assert not (plugin_dir / "dist").exists()


def test_output_inside_the_plugin_is_not_packaged_into_the_next_build(plugin_dir: Path) -> None:
    output = plugin_dir / "demo.difypkg"
    package.build_package(plugin_dir, output)

    package.build_package(plugin_dir, output)

    with zipfile.ZipFile(output) as archive:
        assert "demo.difypkg" not in archive.namelist()


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
    _write(
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
    _write(plugin_dir, {".gitignore": "secret.txt\n", "secret.txt": "x"})
    assert "secret.txt" not in package.collect_files(plugin_dir)

    _write(plugin_dir, {".difyignore": "other.txt\n"})
    files = package.collect_files(plugin_dir)

    assert "secret.txt" in files
    assert ".gitignore" in files


def test_nothing_is_ignored_implicitly(plugin_dir: Path) -> None:
    _write(plugin_dir, {".venv/x.py": "", "__pycache__/m.cpython-312.pyc": b"\x00", ".env": "A=1"})

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


# ---------------------------------------------------------------------------------------------------------
# Manifest validation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        (
            "author",
            "LangGenius",
            "manifest.yaml: field 'author' must match ^[a-z0-9_-]{1,64}$ (got 'LangGenius')",
        ),
        ("author", "123e4567-e89b-12d3-a456-426614174000", "field 'author' must not look like a UUID"),
        ("name", "Demo Plugin", "field 'name' must match ^[a-z0-9_-]{1,128}$"),
        ("version", "1.0", "field 'version' must match"),
        ("meta.version", "v1.0.0", "field 'meta.version' must match"),
        ("type", "tool", "field 'type' must be 'plugin'"),
        ("icon", "missing.svg", "field 'icon' names _assets/missing.svg, which does not exist"),
        ("icon", "../main.py", "field 'icon' must be a path inside _assets/"),
        ("label", {"en_US": "Demo", "fr_FR": "Démo"}, "field 'label.fr_FR' is not a supported language"),
        ("label", {"zh_Hans": "演示"}, "field 'label.en_US' is required and must not be empty"),
        ("description", {"en_US": "x" * 1024}, "field 'description.en_US' must be shorter than 1024"),
        ("meta.arch", ["x86_64"], "field 'meta.arch[0]' must be one of amd64, arm64 (got 'x86_64')"),
        ("meta.arch", [], "field 'meta.arch' must be a non-empty list"),
        ("meta.runner.language", "go", "field 'meta.runner.language' must be 'python'"),
        ("meta.runner.version", 3.12, "field 'meta.runner.version' must be a quoted string"),
        ("meta.runner.entrypoint", "app", "field 'meta.runner.entrypoint' names module 'app', but app.py"),
        ("created_at", DELETE, "field 'created_at' is required"),
        ("created_at", "31/01/2026", "field 'created_at' must be an RFC 3339 time"),
        ("resource.memory", 0, "field 'resource.memory' must be a positive integer"),
        ("plugins.models", [], "field 'plugins.models' must be a non-empty list"),
        ("plugins.models", ["provider/nope.yaml"], "field 'plugins.models[0]' names provider/nope.yaml"),
        ("plugins.tools", ["tools/t.yaml"], "field 'plugins.tools' must be empty"),
        ("tags", ["nonsense"], "field 'tags[0]' must be one of"),
        # Rules only the SDK's pydantic model knows are reported with its field path too.
        ("meta.minimum_dify_version", "not a version", "field 'meta.minimum_dify_version' Value error"),
    ],
)
def test_broken_manifest_field_is_named(tmp_path: Path, dotted: str, value: Any, expected: str) -> None:
    plugin = make_plugin(tmp_path / "plugin", manifest=_with_field(VALID_MANIFEST, dotted, value))

    problems = package.validate_plugin(plugin)

    _single_problem_containing(problems, expected)
    with pytest.raises(package.PackageError):
        package.build_package(plugin)
    assert not (plugin / "dist").exists()


def test_cli_refuses_a_broken_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin = make_plugin(tmp_path / "plugin", manifest=_with_field(VALID_MANIFEST, "author", "LangGenius"))

    assert package.main(["--plugin-dir", str(plugin)]) == 1

    assert "error: manifest.yaml: field 'author'" in capsys.readouterr().err
    assert not (plugin / "dist").exists()


def test_sdk_errors_are_not_repeated_for_fields_already_reported(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path / "plugin", manifest=_with_field(VALID_MANIFEST, "meta.arch", ["x86_64"]))

    problems = package.validate_plugin(plugin)

    assert problems == ["manifest.yaml: field 'meta.arch[0]' must be one of amd64, arm64 (got 'x86_64')"]


def test_missing_requirements_txt_is_refused(plugin_dir: Path) -> None:
    (plugin_dir / "requirements.txt").unlink()

    _single_problem_containing(package.validate_plugin(plugin_dir), "requirements.txt: does not exist")


def test_needed_file_excluded_by_difyignore_is_refused(plugin_dir: Path) -> None:
    _write(plugin_dir, {".difyignore": "_assets/\n"})

    problems = package.validate_plugin(plugin_dir)

    _single_problem_containing(problems, "field 'icon' needs _assets/icon.svg, which .difyignore excludes")


# ---------------------------------------------------------------------------------------------------------
# Provider YAML validation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        (
            "configurate_methods",
            ["magic-model"],
            "provider/demo.yaml: field 'configurate_methods[0]' Input should",
        ),
        ("label", DELETE, "provider/demo.yaml: field 'label' Field required"),
        ("extra", DELETE, "provider/demo.yaml: field 'extra' Field required"),
        ("supported_model_types", ["llm", "video"], "field 'supported_model_types[1]'"),
        (
            "model_credential_schema.credential_form_schemas",
            [{"variable": "key", "label": {"en_US": "Key"}, "type": "password"}],
            "field 'model_credential_schema.credential_form_schemas[0].type'",
        ),
        (
            "icon_small",
            {"en_US": "icon.svg", "zh_Hans": "nope.svg"},
            "field 'icon_small.zh_Hans' names _assets/nope",
        ),
        (
            "extra.python.provider_source",
            "provider/nope.py",
            "field 'extra.python.provider_source' names provider/",
        ),
        (
            "extra.python.model_sources",
            ["models/nope.py"],
            "field 'extra.python.model_sources[0]' names models/",
        ),
    ],
)
def test_broken_provider_field_is_named(tmp_path: Path, dotted: str, value: Any, expected: str) -> None:
    plugin = make_plugin(tmp_path / "plugin", provider=_with_field(VALID_PROVIDER, dotted, value))

    _single_problem_containing(package.validate_plugin(plugin), expected)


def test_broken_predefined_model_yaml_is_named(plugin_dir: Path) -> None:
    provider = _with_field(VALID_PROVIDER, "models", {"llm": {"predefined": ["models/llm/*.yaml"]}})
    make_plugin(plugin_dir, provider=provider)
    _write(plugin_dir, {"models/llm/broken.yaml": yaml.safe_dump({"model": "x", "label": {"en_US": "X"}})})

    problems = package.validate_plugin(plugin_dir)

    _single_problem_containing(problems, "models/llm/broken.yaml: field 'model_type' Field required")
    assert not any(problem.startswith("provider/demo.yaml") for problem in problems)


# ---------------------------------------------------------------------------------------------------------
# Icons
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>", "which is not a valid SVG (XML parse error"),
        ("<html><body/></html>", "which is not a valid SVG (root element is <html>)"),
        ("", "which is not a valid SVG"),
    ],
)
def test_invalid_svg_is_refused(plugin_dir: Path, content: str, expected: str) -> None:
    _write(plugin_dir, {"_assets/icon.svg": content})

    problems = package.validate_plugin(plugin_dir)

    _single_problem_containing(problems, f"manifest.yaml: field 'icon' names _assets/icon.svg, {expected}")
    _single_problem_containing(
        problems, f"provider/demo.yaml: field 'icon_small.en_US' names _assets/icon.svg, {expected}"
    )


def test_png_icons_are_checked_by_signature(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path / "plugin", manifest=_with_field(VALID_MANIFEST, "icon", "icon.png"))
    _write(plugin, {"_assets/icon.png": PNG})
    assert package.validate_plugin(plugin) == []

    _write(plugin, {"_assets/icon.png": SVG})

    _single_problem_containing(
        package.validate_plugin(plugin), "field 'icon' names _assets/icon.png, which is not a valid PNG"
    )


# ---------------------------------------------------------------------------------------------------------
# Checksum and identity
# ---------------------------------------------------------------------------------------------------------


def reference_checksum(files: dict[str, bytes]) -> str:
    """Written from the daemon's decoder/checksum.go: paths sorted bytewise, raw digests, hex result."""
    concatenated = b"".join(
        hashlib.sha256(path.encode()).digest() + hashlib.sha256(files[path]).digest()
        for path in sorted(files, key=lambda path: path.encode())
    )
    return hashlib.sha256(concatenated).hexdigest()


def test_checksum_matches_the_daemon_algorithm_for_a_known_file_set(tmp_path: Path) -> None:
    files = {
        "b.txt": b"world",
        "a.txt": b"hello",
        "Z.txt": b"upper sorts first",
        "dir/c.txt": b"",
        "dir.txt": b".",
    }
    _write(tmp_path, files)

    checksum = package.compute_checksum(tmp_path, list(files))

    assert checksum == reference_checksum(files)
    # Pinned so a change of ordering or encoding cannot slip through (order: Z, a, b, dir.txt, dir/c).
    assert checksum == "7877144056040ce86752a20d9c5fd626adb05479df0c0821199de97ca3b965dd"


def test_checksum_is_stable_and_matches_the_zip_contents(plugin_dir: Path, tmp_path: Path) -> None:
    first = package.build_package(plugin_dir, tmp_path / "first.difypkg")
    second = package.build_package(plugin_dir, tmp_path / "second.difypkg")

    assert first.unique_identifier == second.unique_identifier
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as archive:
        # What the daemon hashes after upload: every zip entry (decoder/zip.go Walk).
        assert first.checksum == reference_checksum({name: archive.read(name) for name in archive.namelist()})


def test_checksum_changes_with_content(plugin_dir: Path, tmp_path: Path) -> None:
    before = package.build_package(plugin_dir, tmp_path / "a.difypkg").checksum
    _write(plugin_dir, {"main.py": "print('changed')\n"})

    assert package.build_package(plugin_dir, tmp_path / "b.difypkg").checksum != before


# ---------------------------------------------------------------------------------------------------------
# Size limit
# ---------------------------------------------------------------------------------------------------------


def _sparse_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size)  # no data written: the test stays fast and uses no disk


def test_size_limit_lists_the_biggest_files(plugin_dir: Path) -> None:
    mib = 1024 * 1024
    _sparse_file(plugin_dir / "data" / "huge.bin", 40 * mib)
    _sparse_file(plugin_dir / "data" / "large.bin", 11 * mib)

    with pytest.raises(package.PackageError) as raised:
        package.build_package(plugin_dir)

    message = str(raised.value)
    assert f"the limit is {package.MAX_UNCOMPRESSED_BYTES} bytes" in message
    assert f"1. data/huge.bin: {40 * mib} bytes" in message
    assert f"2. data/large.bin: {11 * mib} bytes" in message
    assert len(re.findall(r"^\s+\d\. ", message, re.MULTILINE)) == 5
    assert not (plugin_dir / "dist").exists()


def test_size_limit_is_inclusive(plugin_dir: Path) -> None:
    files = package.collect_files(plugin_dir)
    current = sum((plugin_dir / name).stat().st_size for name in files)

    assert package.size_problem(plugin_dir, files, max_bytes=current) is None
    assert package.size_problem(plugin_dir, files, max_bytes=current - 1) is not None


# ---------------------------------------------------------------------------------------------------------
# The real plugin
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not (REPO_ROOT / "provider" / "ollama.yaml").is_file(), reason="provider YAML not written yet")
def test_repo_plugin_passes_check() -> None:
    completed = subprocess.run(
        [sys.executable, str(TOOL_PATH), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert re.search(r"identifier: [a-z0-9_-]+/ollama:\S+@[0-9a-f]{64}", completed.stdout)
