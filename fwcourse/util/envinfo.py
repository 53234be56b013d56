"""Where the code runs: the environment report of notebook 00, the GPU test, the machine line.

* :func:`report` (``python -m fwcourse env``): versions, CPU/GPU, Keras backend, scale; paste it
  into a question or a bug report.
* :func:`visible_gpus`: the one test for GPUs (mixed precision, peak memory, benchmarks use it).
* :func:`machine`: the one-line description written beside every result and benchmark table.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

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


def visible_gpus() -> list:
    """The GPUs the Keras backend in use (TensorFlow or JAX) can compute on; empty on a CPU.

    The one GPU test of the course: TensorFlow's physical ``"GPU"`` devices, or JAX devices whose
    platform is ``"gpu"`` (TPUs and the CPU are not GPUs). Imports the backend: a few seconds for
    TensorFlow the first time.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.config.list_physical_devices("GPU")
    if backend == "jax":
        import jax

        return [d for d in jax.devices() if d.platform == "gpu"]
    return []


def gpu_name(gpu) -> str:
    """A readable name of one device from :func:`visible_gpus` (its model where the backend says)."""
    kind = getattr(gpu, "device_kind", None)  # JAX devices
    if kind:
        return str(kind)
    try:
        import tensorflow as tf

        return tf.config.experimental.get_device_details(gpu).get("device_name") or gpu.name
    except Exception:  # not a TensorFlow device, or no details
        return str(getattr(gpu, "name", gpu))


def accelerators() -> list[str]:
    """Names of the GPUs :func:`visible_gpus` finds."""
    return [gpu_name(g) for g in visible_gpus()]


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo on Linux), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine(with_keras: bool = True, with_backend: bool = True) -> str:
    """One line saying where numbers were made: CPU, usable cores, GPUs, Python (and Keras).

    Written into every results file and benchmark table. ``with_keras=False`` leaves out Keras,
    its backend and the GPUs (which need the backend), for NumPy-only benchmarks;
    ``with_backend=False`` leaves out only the backend, for a page whose tables each name theirs.
    """
    parts = [f"{platform.machine()} {cpu_name()}", f"{usable_cores()} CPU core(s) usable"]
    if with_keras:
        gpus = accelerators()
        parts.append("GPU: " + ", ".join(gpus) if gpus else "no GPU")
    parts.append(f"Python {platform.python_version()}")
    if with_keras:
        import keras

        parts.append(f"Keras {keras.__version__}" + (f" ({keras.backend.backend()} backend)" if with_backend else ""))
    return ", ".join(parts)


def _keras_backend() -> str:
    """The backend Keras runs on (``KERAS_BACKEND`` or ~/.keras/keras.json), as Keras reports it."""
    try:
        import keras
    except ImportError:
        return "keras is not installed"
    return keras.backend.backend()


def report(with_devices: bool = True) -> dict[str, object]:
    """Everything the report shows, as a dict."""
    from fwcourse.course import config

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
    """``python -m fwcourse env``: print the report; it takes no options."""
    usage = "usage: python -m fwcourse env   (takes no options; prints the environment report)"
    if argv in (["-h"], ["--help"]):
        print(usage)
        return 0
    if argv:
        print(usage, file=sys.stderr)
        return 2
    print(format_report(report()))
    return 0
