"""Peak memory of one phase of work (training, evaluation), for notebook 06's cost table.

``with_peak_memory(fn)`` returns fn's result and the most memory in use while fn ran beyond what
was in use when it began, in MiB (:class:`PeakMemory` does the same between two calls):

* on a GPU under TensorFlow, as counted by TensorFlow's device allocator (XLA's buffers included);
* otherwise, on Linux, as the kernel counts it: the peak resident set size of this process
  (``VmHWM``, reset through ``/proc/self/clear_refs``), which covers everything the process
  allocates: XLA's buffers, tf.data, NumPy. TensorFlow's CPU allocator statistics miss the
  buffers of XLA-compiled functions, so they are not used.

Where neither is available (a GPU under JAX, or another OS) the figure is None.
"""
from __future__ import annotations

import ctypes
import gc
import re
from pathlib import Path
from typing import Callable, TypeVar

import keras

from fwcourse.util.envinfo import visible_gpus

__all__ = ["PeakMemory", "measurable", "with_peak_memory"]

T = TypeVar("T")
_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _status_mib(field: str) -> float:
    return int(re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.M).group(1)) / 1024


def _reset_resident_peak() -> float | None:
    """Return freed memory to the OS, reset VmHWM to the current VmRSS; that RSS, or None."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed heap memory still counts as resident
    except (OSError, AttributeError):  # not glibc: the baseline is merely a little higher
        pass
    try:
        _CLEAR_REFS.write_text("5")
        rss = _status_mib("VmRSS")
        # A kernel or sandbox that accepts the write but ignores it would leave an old peak.
        return rss if _status_mib("VmHWM") - rss < 4 else None
    except (OSError, AttributeError):  # not Linux, or /proc not writable
        return None


class PeakMemory:
    """The peak memory added between :meth:`start` and :meth:`stop` (for spans that are not one
    function call)."""

    def __init__(self) -> None:
        self._before: float | None = None
        self._where: str | None = None

    def start(self) -> None:
        if visible_gpus():
            # JAX's device statistics have no resettable peak: no figure there.
            self._where = "gpu" if keras.backend.backend() == "tensorflow" else None
            if self._where:
                import tensorflow as tf

                tf.config.experimental.reset_memory_stats("GPU:0")
                self._before = tf.config.experimental.get_memory_info("GPU:0")["current"] / 2**20
            return
        self._before = _reset_resident_peak()
        self._where = None if self._before is None else "rss"

    def stop(self) -> float | None:
        """MiB above the level at :meth:`start`; None if not measurable (or never started)."""
        if self._where == "gpu":
            import tensorflow as tf

            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20 - self._before
        if self._where == "rss":
            return max(_status_mib("VmHWM") - self._before, 0.0)
        return None


def measurable() -> bool:
    """Whether :class:`PeakMemory` gives figures here (False under JAX on a GPU, or without a
    resettable /proc/self peak)."""
    meter = PeakMemory()
    meter.start()
    return meter.stop() is not None


def with_peak_memory(fn: Callable[[], T]) -> tuple[T, float | None]:
    """``(fn(), peak MiB added while fn ran)``; the MiB are None where they cannot be measured."""
    meter = PeakMemory()
    meter.start()
    out = fn()
    return out, meter.stop()
