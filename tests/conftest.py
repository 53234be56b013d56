"""Shared test setup: tests and the notebooks nbval runs use the quick scale."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

os.environ.setdefault("FWCOURSE_SCALE", "quick")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


def run_python(code: str, env: dict | None = None, timeout: float = 600) -> str:
    """Run ``code`` in a fresh Python process (e.g. under another Keras backend); return stdout.

    Fails the test with the process's stderr when it exits non-zero.
    """
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=full_env, timeout=timeout,
    )
    if proc.returncode != 0:
        pytest.fail(f"subprocess failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


@pytest.fixture
def run_under_jax():
    """``run_under_jax(code) -> stdout``: run code with KERAS_BACKEND=jax; skipped without jax."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    return lambda code, timeout=600: run_python(code, {"KERAS_BACKEND": "jax"}, timeout)
