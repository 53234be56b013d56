"""fwcourse.experiments.lm_compare: notebook 06's four-way comparison, its cost columns and its analyses."""
import json
import math

import numpy as np
import pytest

from fwcourse.course import config
from fwcourse.experiments import lm_compare
from fwcourse.util import peak_memory


@pytest.fixture(scope="module")
def comparison():
    return lm_compare.compare("synthetic", config.sizes("06", "quick"))


def test_table_has_every_method_with_measured_costs(comparison):
    rows = comparison.table()
    assert [r["method"] for r in rows] == [lm_compare.TRIGRAM, *lm_compare.METHODS]
    w = comparison.windows.weights.ravel()
    for r in rows:  # perplexity by its definition, from the per-token losses of the evaluation
        losses = comparison.evaluations[r["method"]].losses.ravel()
        assert r["perplexity"] == pytest.approx(_ppl(losses[w > 0], w[w > 0]), rel=1e-5)
        assert r["eval tokens/s"] > 0
        if r["method"] == lm_compare.TRIGRAM:  # counted, not trained: no step, no peak measured
            assert math.isnan(r["train step (ms)"]) and r["train peak (MiB)"] == "n/a"
            continue
        assert r["train step (ms)"] > 0
        for column in ("train peak (MiB)", "eval peak (MiB)"):  # "n/a" only where not measurable
            if peak_memory.measurable():
                assert isinstance(r[column], float) and r[column] >= 0
            else:
                assert r[column] == "n/a"
    by_method = {r["method"]: r for r in rows}
    for model in ("base", "FWL"):  # one training run serves both of its evaluations
        assert by_method[model]["train step (ms)"] == by_method[f"{model} + dynamic eval"]["train step (ms)"]


def _ppl(losses, weights):
    return math.exp(sum(l * w for l, w in zip(losses, weights)) / sum(weights))


def test_by_position_is_perplexity_over_each_position_bin(comparison):
    edges, ppl = lm_compare.by_position(comparison, n_bins=4)
    w, pos = comparison.windows.weights.ravel(), comparison.windows.positions.ravel()
    for method, e in comparison.evaluations.items():
        losses = e.losses.ravel()
        for b in range(len(edges) - 1):
            last = b == len(edges) - 2
            idx = [i for i in range(len(w)) if w[i] > 0 and edges[b] <= pos[i]
                   and (pos[i] < edges[b + 1] or (last and pos[i] >= edges[b + 1]))]
            assert ppl[method][b] == pytest.approx(_ppl(losses[idx], w[idx]), rel=1e-5)


def test_by_repetition_splits_the_tokens_into_repeated_and_first_occurrences(comparison):
    w, rep = comparison.windows.weights.ravel(), comparison.repeated.ravel()
    for row in lm_compare.by_repetition(comparison):
        losses = comparison.evaluations[row["method"]].losses.ravel()
        for label, keep in (("repeated", rep), ("first occurrence", ~rep)):
            idx = np.flatnonzero((w > 0) & keep)
            assert row[label] == pytest.approx(_ppl(losses[idx], w[idx]), rel=1e-5)
        assert row["share repeated"] == pytest.approx(w[rep].sum() / w.sum())


def test_unknown_corpus_is_named():
    with pytest.raises(ValueError, match="corpus must be one of docstrings, stdlib, synthetic or a .txt"):
        lm_compare.compare("wikipedia", config.sizes("06", "quick"))


def test_a_corpus_too_small_for_the_windows_is_refused_in_one_line(tmp_path, capsys):
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(f"only a few words here, document {i}")
    assert lm_compare.main(["--corpus", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("compare-lm: corpus") and "too small for windows of" in err and "\n" not in err


def test_command_writes_the_results_page_and_resumes_from_it(comparison, tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(lm_compare, "compare", lambda name, S, seed: calls.append(name) or comparison)
    assert lm_compare.main(["--corpus", "synthetic", "--out", str(tmp_path)]) == 0
    records = lm_compare.load_records(tmp_path / "fwl_results.json")
    assert calls == ["synthetic"] and len(records) == 1
    page = (tmp_path / "fwl_results.md").read_text()
    for row in comparison.table():  # every method's perplexity is on the page, as measured
        assert f"| {row['method']} | {row['perplexity']:.4g} |" in page
    assert "### synthetic corpus, quick scale, 1 epochs, seed 0" in page and "compare-lm --corpus synthetic" in page
    assert "### synthetic corpus, quick scale, 1 epochs: 1 seed(s) (0)" in page  # the summary over seeds
    # Run again: the finished comparison is kept, not recomputed; a new seed is added.
    assert lm_compare.main(["--corpus", "synthetic", "--out", str(tmp_path)]) == 0
    assert calls == ["synthetic"]
    assert lm_compare.main(["--corpus", "synthetic", "--first-seed", "1", "--out", str(tmp_path)]) == 0
    assert calls == ["synthetic", "synthetic"]
    assert [r["seed"] for r in lm_compare.load_records(tmp_path / "fwl_results.json")] == [0, 1]
    # A longer training budget is a run of its own, and the page says how to repeat it.
    assert lm_compare.main(["--corpus", "synthetic", "--epochs", "3", "--out", str(tmp_path)]) == 0
    assert len(calls) == 3 and "--first-seed 0 --epochs 3 --out data`" in (tmp_path / "fwl_results.md").read_text()


def test_summary_keeps_runs_of_other_sizes_apart():
    def rec(seed, epochs, base, fwl):
        rows = [{"method": "base", "perplexity": base, "eval tokens/s": 10.0},
                {"method": "FWL", "perplexity": fwl, "eval tokens/s": 5.0}]
        return {"corpus": "c", "scale": "default", "seed": seed, "rows": rows,
                "sizes": {"epochs": epochs, "corpora": ["c"], "scale": "default"}}
    rows = lm_compare.summary([rec(0, 6, 100.0, 80.0), rec(1, 6, 120.0, 90.0), rec(0, 2, 200.0, 190.0)])
    six = {r["method"]: r for r in rows if json.loads(r["sizes"])["epochs"] == 6}
    assert six["FWL"]["seeds"] == [0, 1] and six["FWL"]["perplexity"] == pytest.approx(85.0)
    assert six["FWL"]["vs base"] == pytest.approx((0.8 + 0.75) / 2)
    assert six["FWL"]["perplexity sd"] == pytest.approx(np.std([80.0, 90.0], ddof=1))
    page = "\n".join(lm_compare.render_summary(rows))
    assert "### c corpus, default scale, 6 epochs: 2 seed(s) (0, 1)" in page
    assert "### c corpus, default scale, 2 epochs: 1 seed(s) (0)" in page
