"""The stretch checkers: verdicts of the generic class, and each notebook's measure refusing answers
that break its task's rules (known-wrong answers) and ranking known-worse and known-better ones."""
from types import SimpleNamespace

import numpy as np
import pytest

from fwcourse import delta_rule as dr
from fwcourse import ngram
from fwcourse.course import stretch
from fwcourse.course.exercises import nb01, nb02, nb03, nb04, nb05, nb06
from fwcourse.course import config
from fwcourse.data import retrieval


def _toy(lower_is_better=True):
    def measure(answer, offset):
        if answer == "bad":
            raise stretch.InvalidAnswer("no bad answers")
        return float(answer) + offset
    return stretch.Stretch("toy", "a small number", measure, lambda: 2.0, "units", ["a", "b"],
                           lower_is_better=lower_is_better)


@pytest.mark.parametrize("answer, status", [(None, stretch.NOT_ATTEMPTED), ("bad", stretch.INVALID),
                                            ("x", stretch.ERROR), (1.0, stretch.BEATEN),
                                            (2.0, stretch.NOT_BEATEN), (3.0, stretch.NOT_BEATEN)])
def test_verdicts(answer, status):
    result = _toy().run(answer, offset=10)
    assert result.status == status
    if status in (stretch.BEATEN, stretch.NOT_BEATEN):
        assert (result.yours, result.reference) == (float(answer) + 10, 12.0)
        assert f"yours {float(answer) + 10:g}, the reference's 12 " in str(result)


def test_direction_margin_and_printing(capsys):
    assert _toy(lower_is_better=False).run(3.0, offset=0).beaten
    assert _toy().check(5.0, offset=0) is None  # printed once, not also shown as the cell's value
    out = capsys.readouterr().out
    assert out.count("does not beat the reference") == 1 and ".hint()" in out
    noisy = stretch.Stretch("toy", "goal", lambda a: float(a), lambda: 100.0, "u", "h", margin=0.02)
    assert not noisy.run(98.5).beaten and noisy.run(97.9).beaten  # within 2% of 100 is noise
    assert "more than 2%" in str(noisy.run(97.9))


def test_reference_is_measured_again_when_the_sizes_change():
    calls = []
    s = stretch.Stretch("toy", "goal", lambda a, sizes: calls.append(a) or float(a) * sizes.k, lambda: 5.0, "u", "h")
    sizes = SimpleNamespace(k=1)
    assert s.run(1.0, sizes=sizes).reference == 5.0
    sizes.k = 2  # the learner edits the notebook's sizes and runs the cell again
    assert s.run(1.0, sizes=sizes).reference == 10.0


def test_reference_measured_once_per_context():
    calls = []
    s = stretch.Stretch("toy", "goal", lambda a, ctx: calls.append(a) or float(a), lambda: 5.0, "u", "h")
    ctx = object()
    s.run(1.0, ctx=ctx), s.run(2.0, ctx=ctx)
    assert calls.count(5.0) == 1
    s.run(1.0, ctx=object())
    assert calls.count(5.0) == 2


def test_settings_refuses_unknown_keys_and_bad_values():
    rules = nb01._SETTING_RULES
    with pytest.raises(stretch.InvalidAnswer, match="Only these settings"):
        stretch.settings({"momentum": 0.9}, {}, rules)
    with pytest.raises(stretch.InvalidAnswer, match="lr must be in"):
        stretch.settings({"lr": 0}, {}, rules)
    with pytest.raises(stretch.InvalidAnswer, match="must be a dict"):
        stretch.settings([("lr", 0.1)], {}, rules)
    assert stretch.settings({"lr": 0.1}, {"lr": 1.0, "window": 5}, rules) == {"lr": 0.1, "window": 5}


def test_every_content_notebook_has_a_stretch():
    for module in (nb01, nb02, nb03, nb04, nb05, nb06):
        assert len(module.STRETCH) == 1 and module.STRETCH[0].notebook == module.__name__[-2:]


def test_nb01_binding_steps_follow_the_settings():
    # a vanishing step size never solves within a short stream: measured as never
    assert nb01.binding_steps({"lr": 1e-9}, n_steps=300, seeds=1) == np.inf
    assert nb01.faster_binding.run({"variant": "both"}, n_steps=300, seeds=1).status == stretch.INVALID


def test_nb02_recall_error():
    d = 8
    delta = nb02.recall_error(lambda W, k, v: dr.delta_update(W, k, v, 1.0), d, 2 * d)
    summed = nb02.recall_error(lambda W, k, v: W + np.outer(v, k), d, 2 * d)
    half = nb02.recall_error(lambda W, k, v: dr.delta_update(W, k, v, 0.5), d, 2 * d)
    assert summed > delta > half  # beyond capacity, a gentler delta rule forgets less on average
    assert nb02.better_memory_rule.run(lambda W, k, v: dr.delta_update(W, k, v, 0.5), d=d, n_pairs=2 * d).beaten
    memo = {}

    def looks_up_by_w(W, k, v):  # least squares over the pairs that led to this W, found by W's bytes
        now = memo.get(W.tobytes(), []) + [(k, v)]
        K, V = map(np.array, zip(*now))
        out = V.T @ np.linalg.pinv(K.T)
        memo[out.tobytes()] = now
        return out

    result = nb02.better_memory_rule.run(looks_up_by_w, d=d, n_pairs=2 * d)
    assert result.status == stretch.INVALID and "smooth function of W" in result.message
    store = []

    def keeps_its_own_record(W, k, v):  # least squares over every pair so far: not a rule on W alone
        store.append((k, v))
        K, V = map(np.array, zip(*store))
        return V.T @ np.linalg.pinv(K.T)

    result = nb02.better_memory_rule.run(keeps_its_own_record, d=d, n_pairs=2 * d)
    assert result.status == stretch.INVALID and "depend only on" in result.message
    assert nb02.better_memory_rule.run(lambda W, k, v: W[:1], d=d, n_pairs=2 * d).status == stretch.INVALID
    result = nb02.better_memory_rule.run(lambda W, k, v: W * np.nan, d=d, n_pairs=2 * d)
    assert result.status == stretch.INVALID and "NaN" in result.message


def test_nb03_plateau_error_refuses_out_of_range_settings():
    data = retrieval.make_splits(200, 50, 50, num_pairs=4, rng=1)
    for bad in ({"inner_steps": 4}, {"decay": 0}, {"learning_rate": 1.0}, {"units": 50}):
        assert nb03.leave_the_plateau.run(bad, data=data, units=4, steps=4, eval_every=2).status == stretch.INVALID
    assert 0 <= nb03.plateau_error({"fast_lr": 1.0}, data, units=4, steps=4, eval_every=2) <= 100


class _Uniform:
    def __init__(self, vocab_size):
        self.vocab_size = vocab_size

    def fit(self, X, y):
        return self

    def log_proba(self, X):
        return np.full((len(X), self.vocab_size), -np.log(self.vocab_size))


class _Unnormalised(_Uniform):
    def log_proba(self, X):  # every word probability 1: a perplexity of 1 that means nothing
        return np.zeros((len(X), self.vocab_size))


def test_nb04_test_perplexity():
    rng = np.random.default_rng(0)
    V = 13
    X, Xt = rng.integers(0, V, (2000, 3)), rng.integers(0, V, (300, 3))
    y, yt = (X[:, 1] + X[:, 2]) % V, (Xt[:, 1] + Xt[:, 2]) % V
    ctx = dict(train=(X, y), test=(Xt, yt), vocab_size=V)
    assert nb04.test_perplexity(_Uniform, **ctx) == pytest.approx(V)
    kn = ngram.KneserNeyTrigram(V).fit(X, y)
    assert nb04.test_perplexity(ngram.KneserNeyTrigram, **ctx) == pytest.approx(kn.evaluate(Xt, yt)["perplexity"])
    assert nb04.beat_the_trigram.run(_Uniform, **ctx).status == stretch.NOT_BEATEN
    result = nb04.beat_the_trigram.run(_Unnormalised, **ctx)
    assert result.status == stretch.INVALID and "sum to one" in result.message

    class Smaller(ngram.KneserNeyTrigram):  # a deterministic task: a smaller discount is better
        def __init__(self, vocab_size):
            super().__init__(vocab_size, discount=0.1)

    assert nb04.beat_the_trigram.run(Smaller, **ctx).beaten


def test_nb04_a_model_cannot_read_the_next_test_window():
    V = 11
    toks = [1, 2, 3]
    for _ in range(3000):  # a deterministic stream: w(t) = w(t-1) + w(t-2) mod V
        toks.append((toks[-1] + toks[-2]) % V)
    toks = np.array(toks)
    X, y = np.lib.stride_tricks.sliding_window_view(toks[:-1], 3), toks[3:]
    ctx = dict(train=(X[:2000], y[:2000]), test=(X[2000:], y[2000:]), vocab_size=V)

    class Peeks(_Uniform):  # the next window of a batch holds this window's target as its last word
        def log_proba(self, X):
            out = np.full((len(X), self.vocab_size), -50.0)
            for i in range(len(X) - 1):
                if (X[i + 1][:2] == X[i][1:]).all():
                    out[i, X[i + 1][2]] = 0.0
            return out - np.logaddexp.reduce(out, axis=1, keepdims=True)

    # fed in order, it would score a perplexity of about 1; the checker's batches give it nothing to read
    assert nb04.test_perplexity(Peeks, **ctx) > V / 2
    assert not nb04.beat_the_trigram.run(Peeks, **ctx).beaten


def test_nb05_nb06_budget_rules():
    S = config.sizes("06", "quick")
    for bad, match in (({"d_model": 4 * S.d_model}, "over the budget"), ({"n_heads": 3}, "divisible"),
                       ({"epochs": 100}, "Only these settings")):
        result = nb06.better_fwl.run(bad, corpus_name=S.corpora[0], sizes=S)
        assert result.status == stretch.INVALID and match in result.message
    assert "fwl_size" not in nb05.MODEL_RULES  # notebook 05's model has no FWL to size


def test_nb05_refuses_answers_outside_its_rules_before_training():
    from fwcourse.data import lm_data

    S = config.sizes("05", "quick")
    corpus = lm_data.load_lm_corpus("synthetic", n_docs=12, words_per_doc=120)
    for bad, match in (({"d_model": 8 * S.d_model}, "over the budget"), ({"fwl_size": 8}, "Only these settings"),
                       ({"n_layers": 0}, "n_layers"), ({"learning_rate": "fast"}, "learning_rate")):
        result = nb05.better_transformer.run(bad, corpus=corpus, sizes=S)
        assert result.status == stretch.INVALID and match in result.message, result
