"""Validate a plugin, plan its package and write the .difypkg, as `dify plugin package` does.

The steps follow dify-plugin-daemon (read at bdb5642a) pkg/plugin_packager/packager/packager.go (Pack):
refuse an invalid plugin, collect the files the ignore file keeps, enforce the size limit, then write the
zip; the identity is decoder/helper.go UniqueIdentity over decoder/checksum.go's checksum.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from .archive import compute_checksum, size_problem, unique_identifier, write_zip
from .go_ignore import OUTPUT_DIR_NAME, collect_files
from .validation import validate_plugin


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
