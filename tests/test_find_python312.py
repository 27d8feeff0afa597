"""Setup finds Python 3.12 by itself, and says what to do when it cannot."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "find-python312"


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, check=False)


def test_finds_a_312_interpreter_on_this_machine():
    found = run(dict(os.environ))
    assert found.returncode == 0, found.stderr
    version = subprocess.run([found.stdout.strip(), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("Python 3.12")


def test_missing_312_fails_with_instructions(tmp_path):
    system = [p for p in ("/usr/bin/python3.12", "/usr/local/bin/python3.12") if Path(p).exists()]
    if system:
        pytest.skip(f"this machine has a system-wide {system[0]}, so 3.12 cannot be missing here")
    wrong = tmp_path / "python3.12"
    wrong.write_text("#!/bin/sh\nexit 1\n")  # a python3.12 on PATH that is not a working 3.12
    wrong.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path)}
    missing = run(env)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert "Python 3.12 not found" in missing.stderr
    assert "PYTHON312=" in missing.stderr and "pyenv install 3.12" in missing.stderr


def test_an_explicit_non_312_interpreter_is_not_accepted(tmp_path):
    other = tmp_path / "python3.11"
    other.write_text("#!/bin/sh\nexit 1\n")  # answers the version probe like a 3.11 would: not 3.12
    other.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path), "PYTHON312": str(other)}
    assert run(env).returncode == 1
