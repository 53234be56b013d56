"""Training one Ba et al. (2016) model with early stopping on the validation error."""
from __future__ import annotations

import time

import numpy as np

from fwcourse.data import retrieval
from fwcourse.experiments.ba2016.models import build_model
from fwcourse.util import validate


def error_rate(net, split: retrieval.Split, batch_size: int = 2000) -> float:
    """Fraction of sequences whose most likely digit is not the query's value."""
    logits = net.predict(split.x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) != split.y))


def train_one(model: str, units: int, data: retrieval.Splits, seed: int = 0, *,
              max_steps: int = 10_000, eval_every: int = 250, patience: int = 8,
              batch_size: int = 128, max_seconds: float | None = None, keep_model: bool = False,
              **model_kwargs) -> dict:
    """Train one model with early stopping on validation error; return its record.

    ``seed`` seeds the initial weights (:func:`~fwcourse.experiments.ba2016.models.build_model`)
    and the order of the training batches. Every ``eval_every`` steps the validation error is
    recorded (the learning curve). Training stops after ``patience`` evaluations without
    improvement, at a validation error of 0, after ``max_steps`` steps or after ``max_seconds``;
    the best weights (by validation error) are restored and scored on the test split. With
    ``keep_model`` the record also holds the trained Keras model under ``"net"``.
    """
    max_steps = validate.positive_int(max_steps, "max_steps")
    eval_every = validate.positive_int(eval_every, "eval_every")
    patience = validate.positive_int(patience, "patience")
    batch_size = validate.positive_int(batch_size, "batch_size")
    net = build_model(model, units, seed=seed, **model_kwargs)
    rng = np.random.default_rng(seed)
    n = len(data.train)
    start = time.perf_counter()
    curve: list[list[float]] = []
    best = (np.inf, 0, net.get_weights())
    order, cursor, steps = rng.permutation(n), 0, 0
    while steps < max_steps:
        for _ in range(min(eval_every, max_steps - steps)):
            if cursor + batch_size > n:
                order, cursor = rng.permutation(n), 0
            idx = order[cursor:cursor + batch_size]
            cursor += batch_size
            net.train_on_batch(data.train.x[idx], data.train.y[idx])
            steps += 1
        err = error_rate(net, data.valid)
        curve.append([steps, err])
        if err < best[0]:
            best = (err, steps, net.get_weights())
        stalled = len(curve) - 1 - [c[0] for c in curve].index(best[1]) >= patience
        out_of_time = max_seconds is not None and time.perf_counter() - start > max_seconds
        if err == 0.0 or stalled or out_of_time:
            break
    net.set_weights(best[2])
    record = {
        "model": model, "R": int(units), "seed": int(seed),
        "test_error": error_rate(net, data.test),
        "valid_error": float(best[0]), "best_step": int(best[1]),
        "steps": int(steps), "seconds": round(time.perf_counter() - start, 2),
        "curve": curve,
    }
    if keep_model:
        record["net"] = net
    return record
