"""Tests for tools/package.py, the stand-in for `dify plugin package`: the archive it builds, its checksum and
identifier, the size limit, and the command line.

Each test builds its own small plugin under tmp_path (tests/tools/demo_plugin.py), so nothing here depends on the
state of the repo, except the last test, which checks the real plugin when it is complete.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.tools.demo_plugin import package, write_files
from tests.tools.support import REPO_ROOT, TOOLS_DIR

# Shape of a unique identifier as the daemon accepts it (plugin_entities/identity.go), with a sha256 checksum.
IDENTIFIER = re.compile(r"^[a-z0-9_-]{1,64}/[a-z0-9_-]{1,255}:\d{1,4}(\.\d{1,4}){2}@[a-f0-9]{64}$")


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
    write_files(tmp_path, files)

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
    write_files(plugin_dir, {"main.py": "print('changed')\n"})

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
        [sys.executable, str(TOOLS_DIR / "package.py"), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert re.search(r"identifier: [a-z0-9_-]+/ollama:\S+@[0-9a-f]{64}", completed.stdout)
