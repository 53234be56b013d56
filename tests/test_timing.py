"""The timing helpers the benchmarks and notebook 02 share."""
import pytest

from fwcourse.util import timing


def test_warmup_calls_are_made_but_not_timed():
    calls = []
    times = timing.wall_times(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and len(times) == 3 and all(t >= 0 for t in times)
    assert timing.best_time(lambda: None, repeats=4) == pytest.approx(0, abs=0.01)
    assert timing.median_time(lambda: None) >= 0


@pytest.mark.parametrize("kwargs, match", [(dict(repeats=0), "repeats"), (dict(repeats=2, warmup=-1), "warmup")])
def test_bad_counts_are_explained(kwargs, match):
    with pytest.raises(ValueError, match=match):
        timing.wall_times(lambda: None, **kwargs)
