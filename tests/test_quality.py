"""The checks of the README's test command besides the tests: lint, format, types and the documentation build.

Each runs the tool as a developer would, from the repository root, and fails with the tool's output.
Select them with ``python -m pytest -m quality`` (or leave them out with ``-m "not quality"``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.quality


def run_tool(module: str, *args: str, timeout: float = 600) -> None:
    """Run ``python -m MODULE ARGS`` from the repository root; skip if the tool is not installed."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[tests]')")
    command = [sys.executable, "-m", module, *args]
    env = {**os.environ, "NO_COLOR": "1", "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        pytest.fail(f"`{' '.join([module, *args])}` exited with {result.returncode}:\n{output}", pytrace=False)


def test_ruff_check():
    run_tool("ruff", "check", ".")


def test_ruff_format():
    run_tool("ruff", "format", "--check", ".")


def test_mypy():
    run_tool("mypy")


def test_mkdocs_build_strict(tmp_path):
    for module in ("material", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[docs]')")
    run_tool("mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site"))
