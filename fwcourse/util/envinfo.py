"""The environment report of notebook 00: versions, CPU/GPU, Keras backend, scale.

``python -m fwcourse env`` prints it; paste it into a question or a bug report.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

from fwcourse.course import config

PACKAGES = ("fwcourse", "numpy", "tensorflow", "keras", "jax", "matplotlib", "ipywidgets",
            "jupyterlab", "nbval", "tqdm")


def versions() -> dict[str, str]:
    """Installed version of each package the course uses ("not installed" where absent)."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def accelerators() -> list[str]:
    """GPUs visible to the Keras backend in use (imports it: a few seconds for TensorFlow)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform != "cpu"]
    return []


def _keras_backend() -> str:
    """The backend Keras runs on (``KERAS_BACKEND`` or ~/.keras/keras.json), as Keras reports it."""
    try:
        import keras
    except ImportError:
        return "keras is not installed"
    return keras.backend.backend()


def report(with_devices: bool = True) -> dict[str, object]:
    """Everything the report shows, as a dict."""
    info: dict[str, object] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu cores": os.cpu_count(),
        "scale": config.scale(),
        "keras backend": _keras_backend(),
    }
    info.update(versions())
    if with_devices:
        gpus = accelerators()
        info["gpus"] = ", ".join(gpus) if gpus else "none (running on the CPU)"
    return info


def format_report(info: dict[str, object]) -> str:
    width = max(len(k) for k in info)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in info.items())


def main(argv: list[str] | None = None) -> int:
    if argv:
        print("usage: python -m fwcourse env   (takes no options)", file=sys.stderr)
        return 2
    print(format_report(report()))
    return 0
