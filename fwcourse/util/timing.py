"""Wall-clock timing for the benchmarks and the notebooks' cost plots."""
from __future__ import annotations

import statistics
import time
from typing import Callable

from fwcourse.util import validate


def wall_times(fn: Callable[[], object], repeats: int, warmup: int = 0) -> list[float]:
    """Seconds taken by each of ``repeats`` calls of ``fn()``, after ``warmup`` untimed calls
    (compilation, caches). ``fn`` must block until its result is ready."""
    repeats = validate.positive_int(repeats, "repeats")
    for _ in range(int(validate.in_range(warmup, "warmup", 0))):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def best_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 0) -> float:
    """The fastest of ``repeats`` calls: the one least disturbed by other load on the machine."""
    return min(wall_times(fn, repeats, warmup))


def median_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 2) -> float:
    """The median of ``repeats`` calls after ``warmup`` untimed ones."""
    return statistics.median(wall_times(fn, repeats, warmup))
