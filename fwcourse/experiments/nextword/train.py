"""Training a next-word model: the checkpoint best on the *validation* documents is kept (saved
atomically, so that a Ctrl-C never leaves half a model) and an interrupted run resumes
(``keras.callbacks.BackupAndRestore``); :func:`train_run` is the whole pipeline of
``python -m fwcourse train-nextword``."""
from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from fwcourse import ngram
from fwcourse.course import config
from fwcourse.data import corpus
from fwcourse.experiments.nextword.models import build_model, model_sizes
from fwcourse.experiments.nextword.run_dir import DEFAULT_RUN_DIR, RUN_FILES, save_run_files
from fwcourse.experiments.nextword.scoring import evaluate
from fwcourse.util import atomic, outdir, validate


@dataclass
class History:
    """Per-epoch curves of a run (read from its ``history.csv``, so resumed runs are whole)."""

    loss: list[float]
    val_loss: list[float]

    @property
    def best_epoch(self) -> int:
        """1-based epoch with the lowest validation loss: the checkpoint that was kept."""
        return int(np.argmin(self.val_loss)) + 1


class BestCheckpoint(keras.callbacks.Callback):
    """Save the model to ``path`` after each epoch whose validation loss is below every earlier one
    (and below ``best``, that of a run being resumed), like ``keras.callbacks.ModelCheckpoint(
    save_best_only=True)``, but atomically: an interruption leaves the previous best whole."""

    def __init__(self, path: str | os.PathLike, best: float | None = None) -> None:
        super().__init__()
        self.path, self.best = Path(path), np.inf if best is None else float(best)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("val_loss")
        if loss is not None and loss < self.best:
            self.best = float(loss)
            with atomic.replacing(self.path) as tmp:
                self.model.save(tmp)


def fit(
    model: keras.Model,
    train: tuple,
    valid: tuple,
    out_dir: str | os.PathLike | None = None,
    epochs: int = 5,
    batch_size: int = 128,
    verbose: int = 0,
    patience: int | None = None,
) -> History:
    """Train on ``train = (X, y)``, keep the weights best on ``valid``, resume an interrupted run.

    ``out_dir`` receives ``model.keras`` (best validation loss so far), ``history.csv`` and, while
    training, ``backup/`` (``keras.callbacks.BackupAndRestore``): calling :func:`fit` again with
    the same ``out_dir`` after an interruption continues from the last finished epoch. On return
    the model holds the best-on-validation weights. ``patience`` adds early stopping. The windows
    are shuffled every epoch from the global random state: for a repeatable order, seed it once
    at the entry point (``keras.utils.set_random_seed``), as the command and notebook 04 do.
    """
    epochs = validate.positive_int(epochs, "epochs")
    batch_size = validate.positive_int(batch_size, "batch_size")
    (Xt, yt), (Xv, yv) = _pair(train, "train"), _pair(valid, "valid")
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="nextword-"))
    out.mkdir(parents=True, exist_ok=True)
    best_path, log_path, backup = out / "model.keras", out / "history.csv", out / "backup"
    resuming = backup.is_dir() and log_path.is_file()
    previous = read_history(log_path) if resuming else None
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup)),
        BestCheckpoint(best_path, min(previous.val_loss) if previous and previous.val_loss else None),
        keras.callbacks.CSVLogger(str(log_path), append=resuming),
    ]
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(patience=validate.positive_int(patience, "patience")))
    model.fit(
        Xt, yt, validation_data=(Xv, yv), epochs=epochs, batch_size=batch_size,
        callbacks=callbacks, verbose=verbose, shuffle=True,
    )
    if best_path.is_file():
        model.load_weights(str(best_path))
    return read_history(log_path)


def read_history(path: str | os.PathLike) -> History:
    """The curves in a run's ``history.csv``."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return History([float(r["loss"]) for r in rows], [float(r["val_loss"]) for r in rows])


def _pair(data, name: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, y); got {type(data).__name__}.")
    X = validate.array(data[0], f"{name} X", ndim=2)
    y = validate.array(data[1], f"{name} y", shape=(X.shape[0],))
    if len(y) == 0:
        raise ValueError(f"{name} must hold at least one window.")
    return X.astype(np.int32), y.astype(np.int32)


def train_run(
    source=None,
    kind: str = "lstm",
    context: int = 3,
    out_dir: str | os.PathLike = DEFAULT_RUN_DIR,
    sizes=None,
    epochs: int | None = None,
    seed: int = 0,
    verbose: int = 1,
    overwrite: bool = False,
) -> dict:
    """Load and split the corpus, train ``kind`` into ``out_dir`` (resuming if interrupted), score.

    Sizes come from ``config.sizes("04")`` (the ``FWCOURSE_SCALE``) unless given. ``seed`` chooses
    the documents, the initial weights and the training windows kept; the shuffling follows the
    global random state (see :func:`fit`). Writes ``metrics.json`` with the validation and test
    scores of the best checkpoint and of the Kneser-Ney trigram baseline on the same windows;
    returns that dictionary.

    ``out_dir`` is claimed before training (:func:`fwcourse.util.outdir.claim`): a folder holding a
    run of another model, context, vocabulary, seed or sizes, or run files this command did not
    write, raises :class:`fwcourse.util.outdir.OutputError` unless ``overwrite``, which deletes
    those files (and only those) first.
    """
    sizes = sizes if sizes is not None else config.sizes("04")
    source = sizes.corpus if source is None else source
    tc = corpus.load_token_documents(source, max_tokens=sizes.max_tokens, seed=seed)
    data = corpus.nextword_arrays(tc, context)
    settings = dict(kind=kind, context=context, seed=seed, scale=sizes.scale, source=str(source),
                    **model_sizes(sizes))
    identity = {"model": kind, "context": context,
                "vocabulary": f"{tc.tokenizer.size} words, sha256 {tc.tokenizer.fingerprint[:12]}",
                "seed": seed, "source": str(source), "sizes": model_sizes(sizes)}
    outdir.claim(out_dir, "train-nextword", identity, RUN_FILES, overwrite=overwrite)
    save_run_files(out_dir, tc.tokenizer, settings)
    model = build_model(kind, tc.tokenizer.size, context, seed=seed, **model_sizes(sizes))
    history = fit(model, _cap(data["train"], sizes.max_train_windows, seed), data["valid"], out_dir,
                  epochs=epochs or sizes.epochs, batch_size=sizes.batch_size, verbose=verbose)
    baseline = ngram.KneserNeyTrigram(tc.tokenizer.size).fit(*data["train"])
    metrics = {
        "model": kind, "epochs_run": len(history.loss), "best_epoch": history.best_epoch,
        "train_loss": history.loss[history.best_epoch - 1], "params": model.count_params(),
        "valid": evaluate(model, *data["valid"]), "test": evaluate(model, *data["test"]),
        "kneser_ney_trigram": {"valid": baseline.evaluate(*data["valid"]),
                               "test": baseline.evaluate(*data["test"])},
        "windows": {p: int(len(data[p][1])) for p in data},
    }
    atomic.write_text(Path(out_dir) / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


def _cap(pair: tuple, limit: int, seed: int) -> tuple:
    """At most ``limit`` windows of ``pair`` (a random subset; 0 means all)."""
    X, y = pair
    if not limit or len(y) <= limit:
        return X, y
    keep = np.sort(np.random.default_rng(seed).choice(len(y), limit, replace=False))
    return X[keep], y[keep]
