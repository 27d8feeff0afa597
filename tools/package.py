#!/usr/bin/env python3
"""Validate this Dify plugin and package it as dist/<name>-<version>.difypkg.

Stands in for `dify plugin package`, a Go binary we cannot install, and replicates what it and the
plugin daemon check (docs: /work/shared/docs/dify-plugin-runtime.md section 3). Rules are ported from the
daemon source (langgenius/dify-plugin-daemon, read at bdb5642a) and go-git v5.19.2, the version the
daemon's go.mod pins; the work is done by the modules of tools/dify_package/, which cite the files each
rule comes from. This file is the command line, and exposes the names the tests use.

Usage: python tools/package.py [--plugin-dir DIR] [--output PATH] [--check]
"""

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLS_DIR.parent
# tools/ is not a package and this file is run (or loaded by tests) by path: make dify_package importable.
if str(TOOLS_DIR) not in sys.path:
    sys.path.insert(0, str(TOOLS_DIR))

from dify_package.archive import (  # noqa: E402
    MAX_UNCOMPRESSED_BYTES,
    ZIP_TIMESTAMP,
    compute_checksum,
    size_problem,
    unique_identifier,
    write_zip,
)
from dify_package.build import BuildResult, PackageError, PackagePlan, build_package, plan_package  # noqa: E402
from dify_package.declaration_checks import PNG_MAGIC, icon_format_problem  # noqa: E402
from dify_package.go_ignore import IgnorePattern, collect_files, compile_go_glob, go_glob_match  # noqa: E402
from dify_package.validation import find_problems, validate_plugin  # noqa: E402

__all__ = [
    "MAX_UNCOMPRESSED_BYTES",
    "PNG_MAGIC",
    "REPO_ROOT",
    "ZIP_TIMESTAMP",
    "BuildResult",
    "IgnorePattern",
    "PackageError",
    "PackagePlan",
    "build_package",
    "collect_files",
    "compile_go_glob",
    "compute_checksum",
    "find_problems",
    "go_glob_match",
    "icon_format_problem",
    "main",
    "plan_package",
    "size_problem",
    "unique_identifier",
    "validate_plugin",
    "write_zip",
]


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
