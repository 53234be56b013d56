"""fwcourse.util.peak_memory: the peak memory a phase of work adds (notebook 06's cost table)."""
import numpy as np
import pytest

from fwcourse.util.envinfo import visible_gpus
from fwcourse.util.peak_memory import PeakMemory, measurable, with_peak_memory

# On a GPU the figure is device memory, which NumPy arrays do not use.
pytestmark = pytest.mark.skipif(visible_gpus() or not measurable(),
                                reason="needs a CPU-only machine with a resettable /proc/self peak")

MIB = 2**20


def _touch(mib: int) -> float:
    """Allocate and write ``mib`` MiB (so the pages are resident), then free them."""
    return float(np.ones(mib * MIB // 8).sum())


def test_counts_what_the_function_allocates_and_returns_its_result():
    out, peak = with_peak_memory(lambda: _touch(64))
    assert out == 64 * MIB // 8
    assert 60 <= peak <= 64 + 24  # the array, plus a little interpreter and allocator slack


def test_memory_held_before_the_start_is_not_counted():
    held = np.ones(128 * MIB // 8)
    _, peak = with_peak_memory(lambda: _touch(8))
    assert held.sum() > 0 and 6 <= peak <= 8 + 24


def test_a_larger_allocation_gives_a_larger_peak():
    small = with_peak_memory(lambda: _touch(16))[1]
    large = with_peak_memory(lambda: _touch(96))[1]
    assert large - small == pytest.approx(80, abs=12)


def test_a_meter_never_started_has_no_figure():
    assert PeakMemory().stop() is None
