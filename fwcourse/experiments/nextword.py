"""Next-word prediction (notebook 04): the seed project's models, done with a held-out evaluation.

Four Keras models map a window of ``context`` word ids (B, context) to next-word logits (B, V):

* ``lstm``: the seed's LSTM model: Embedding, 2 x LSTM, Dense + ReLU, Dense (Hochreiter &
  Schmidhuber 1997);
* ``conv1d``: the seed's "transformer", which has no attention: Embedding, Conv1D + ReLU,
  Conv1D, Dense + ReLU, Dense;
* ``fastweights``: Embedding, the fast-weight RNN of Ba et al. (2016, eqs. 1-2;
  :class:`fwcourse.fwrnn_layer.FastWeightRNN`), Dense + ReLU, Dense;
* ``attention``: a real (small) attention model: one pre-LayerNorm causal self-attention block
  (Vaswani et al. 2017) with learned positions, read out at the last position.

The seed put a softmax in the last layer and trained on one-hot labels; here the last layer gives
logits, the softmax lives inside a sparse cross-entropy loss (the same model, numerically safer,
and no (N, V) one-hot matrix). Training keeps the checkpoint that is best on the *validation*
documents (``keras.callbacks.ModelCheckpoint``) and can resume (``BackupAndRestore``); the scores
are perplexity and top-1/top-5 accuracy on held-out documents (:func:`fwcourse.ngram.scores`).

A run directory holds everything ``python -m fwcourse predict`` needs: ``model.keras`` (best on
validation), ``vocab.json``, ``settings.json``, ``history.csv`` and ``metrics.json``. Loading it
with a tokenizer of another vocabulary is refused: the ids would mean different words.

``python -m fwcourse train-nextword`` runs :func:`main` (this module); ``predict`` lives in
:mod:`fwcourse.experiments.nextword_cli`.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
from keras import ops

from fwcourse.course import config
from fwcourse.data import corpus
from fwcourse import ngram
from fwcourse.util import validate

MODELS = ("lstm", "conv1d", "fastweights", "attention")
DEFAULT_RUN_DIR = Path("runs") / "nextword"

# The seed report names its layers but not their sizes. These are the sizes of the widely copied
# tutorial model it follows (2 x LSTM(1000), Dense(1000)): an assumption, used for "seed-sized"
# timings in benchmarks/bench_nextword.py, never as a claim about the seed's exact model.
SEED_SIZES = dict(embed_dim=100, units=1000, hidden=1000, filters=1000, kernel_size=3, heads=4)


# -- models --------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="fwcourse")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position to a sequence (B, T, d): x[:, t] + P[t]."""

    def __init__(self, max_length: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_length = validate.positive_int(max_length, "max_length")

    def build(self, input_shape) -> None:
        self.positions = self.add_weight(
            shape=(self.max_length, int(input_shape[-1])), initializer="random_normal", name="positions"
        )

    def call(self, x):
        length = ops.shape(x)[1]
        return x + ops.expand_dims(self.positions[:length], 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "max_length": self.max_length}


def build_model(
    kind: str,
    vocab_size: int,
    context: int = 3,
    embed_dim: int = 64,
    units: int = 128,
    hidden: int = 128,
    filters: int = 128,
    kernel_size: int = 3,
    heads: int = 4,
    learning_rate: float = 1e-3,
    seed: int = 0,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """A compiled next-word model: (B, context) int ids -> (B, vocab_size) logits.

    ``units`` sizes the recurrent layers (lstm, fastweights), ``filters``/``kernel_size`` the
    convolutions, ``heads`` the attention (``embed_dim`` must divide by it), ``hidden`` the
    Dense + ReLU layer before the output. ``jit_compile=False`` skips XLA, whose compile time
    outweighs its speed-up on small, short runs (the quick scale).
    """
    if kind not in MODELS:
        raise ValueError(f"kind must be one of {', '.join(MODELS)}; got {kind!r}.")
    V = validate.positive_int(vocab_size, "vocab_size", minimum=3)
    n = validate.positive_int(context, "context")
    d, h = validate.positive_int(embed_dim, "embed_dim"), validate.positive_int(hidden, "hidden")
    validate.in_range(learning_rate, "learning_rate", 0, low_open=True)
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inp = keras.Input((n,), dtype="int32", name="words")
    x = L.Embedding(V, d, name="embedding")(inp)
    if kind == "lstm":
        u = validate.positive_int(units, "units")
        x = L.LSTM(u, return_sequences=True)(x)
        x = L.LSTM(u)(x)
    elif kind == "conv1d":
        f, k = validate.positive_int(filters, "filters"), validate.positive_int(kernel_size, "kernel_size")
        x = L.Conv1D(f, k, padding="causal", activation="relu")(x)
        x = L.Conv1D(f, k, padding="causal")(x)
        x = L.Flatten()(x)
    elif kind == "fastweights":
        from fwcourse.fwrnn_layer import FastWeightRNN  # written beside this module; loaded on use

        x = FastWeightRNN(validate.positive_int(units, "units"))(x)
    else:
        heads = validate.positive_int(heads, "heads")
        if d % heads:
            raise ValueError(f"embed_dim must be divisible by heads; got embed_dim={d}, heads={heads}.")
        x = PositionEmbedding(n)(x)
        a = L.MultiHeadAttention(heads, d // heads)
        y = L.LayerNormalization()(x)
        x = L.Add()([x, a(y, y, use_causal_mask=True)])
        y = L.LayerNormalization()(x)
        x = L.Add()([x, L.Dense(d)(L.Dense(h, activation="relu")(y))])
        x = L.Flatten()(L.Cropping1D((n - 1, 0))(x))  # the last position sees the whole window
        x = L.LayerNormalization()(x)
    x = L.Dense(h, activation="relu", name="hidden")(x)
    out = L.Dense(V, name="logits")(x)
    model = keras.Model(inp, out, name=f"nextword_{kind}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")],
        jit_compile=jit_compile,
    )
    return model


# -- evaluation ----------------------------------------------------------------------------------
def log_probs(model: keras.Model, X, batch_size: int = 1024) -> np.ndarray:
    """log-softmax of the model's logits in float64: (N, V)."""
    X = validate.array(X, "X", ndim=2)
    logits = np.asarray(model.predict(X.astype(np.int32), batch_size=batch_size, verbose=0), np.float64)
    top = logits.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


def evaluate(model: keras.Model, X, y, batch_size: int = 1024) -> dict[str, float]:
    """Perplexity, loss and top-1/top-5 accuracy on ``(X, y)`` (see :func:`fwcourse.ngram.scores`)."""
    return ngram.scores(log_probs(model, X, batch_size), y)


def results_table(rows: dict[str, dict]) -> str:
    """A markdown table: one row per model with the training loss beside the held-out scores.

    Each value of ``rows`` may hold ``train_loss``, ``valid_loss``, ``perplexity``, ``top1``,
    ``top5`` and ``params``; missing entries print as a dash.
    """
    head = "| model | params | train loss | best valid loss | test perplexity | test top-1 | test top-5 |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|"]

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    for name, r in rows.items():
        lines.append(
            f"| {name} | {fmt(r.get('params'), ',')} | {fmt(r.get('train_loss'), '.3f')} | "
            f"{fmt(r.get('valid_loss'), '.3f')} | {fmt(r.get('perplexity'), '.1f')} | "
            f"{fmt(r.get('top1'), '.1%')} | {fmt(r.get('top5'), '.1%')} |"
        )
    return "\n".join(lines)


# -- training ------------------------------------------------------------------------------------
@dataclass
class History:
    """Per-epoch curves of a run (read from its ``history.csv``, so resumed runs are whole)."""

    loss: list[float]
    val_loss: list[float]

    @property
    def best_epoch(self) -> int:
        """1-based epoch with the lowest validation loss: the checkpoint that was kept."""
        return int(np.argmin(self.val_loss)) + 1


def fit(
    model: keras.Model,
    train: tuple,
    valid: tuple,
    out_dir: str | os.PathLike | None = None,
    epochs: int = 5,
    batch_size: int = 128,
    verbose: int = 0,
    patience: int | None = None,
    seed: int = 0,
) -> History:
    """Train on ``train = (X, y)``, keep the weights best on ``valid``, resume an interrupted run.

    ``out_dir`` receives ``model.keras`` (best validation loss so far), ``history.csv`` and, while
    training, ``backup/`` (``keras.callbacks.BackupAndRestore``): calling :func:`fit` again with
    the same ``out_dir`` after an interruption continues from the last finished epoch. On return
    the model holds the best-on-validation weights. ``patience`` adds early stopping.
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
        keras.callbacks.ModelCheckpoint(
            str(best_path), monitor="val_loss", save_best_only=True,
            initial_value_threshold=min(previous.val_loss) if previous and previous.val_loss else None,
        ),
        keras.callbacks.CSVLogger(str(log_path), append=resuming),
    ]
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(patience=validate.positive_int(patience, "patience")))
    keras.utils.set_random_seed(seed)
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


# -- run directories -----------------------------------------------------------------------------
def save_run_files(out_dir: str | os.PathLike, tokenizer: corpus.Tokenizer, settings: dict) -> None:
    """Write ``vocab.json`` and ``settings.json``; refuse a directory trained with another vocabulary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "vocab.json").is_file():
        check_vocabulary(out, tokenizer)
    (out / "vocab.json").write_text(json.dumps(tokenizer.vocabulary), encoding="utf-8")
    settings = {**settings, "vocab_size": tokenizer.size, "vocab_sha256": tokenizer.fingerprint}
    (out / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")


def check_vocabulary(run_dir: str | os.PathLike, tokenizer: corpus.Tokenizer) -> None:
    """Raise ``ValueError`` unless ``run_dir`` was trained with exactly ``tokenizer``'s vocabulary."""
    saved = corpus.Tokenizer.from_vocabulary(json.loads((Path(run_dir) / "vocab.json").read_text("utf-8")))
    if saved.fingerprint != tokenizer.fingerprint:
        raise ValueError(
            f"the checkpoint in {str(run_dir)!r} was trained with another vocabulary "
            f"({saved.size} words, sha256 {saved.fingerprint[:12]}) than this one ({tokenizer.size} "
            f"words, sha256 {tokenizer.fingerprint[:12]}); its word ids would mean different words. "
            "Use that run's vocab.json, or train into a new --out directory."
        )


def load_run(run_dir: str | os.PathLike, tokenizer: corpus.Tokenizer | None = None):
    """``(model, tokenizer, settings)`` of a run directory written by :func:`train_run`.

    With ``tokenizer``, it must be the vocabulary the run was trained with (``ValueError`` if not).
    """
    run = Path(run_dir)
    missing = [f for f in ("model.keras", "vocab.json", "settings.json") if not (run / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{str(run)!r} is not a trained next-word model (missing {', '.join(missing)}); "
            "train one with: python -m fwcourse train-nextword --out DIR"
        )
    settings = json.loads((run / "settings.json").read_text("utf-8"))
    saved = corpus.Tokenizer.from_vocabulary(json.loads((run / "vocab.json").read_text("utf-8")))
    if tokenizer is not None:
        check_vocabulary(run, tokenizer)
    if settings.get("kind") == "fastweights":
        import fwcourse.fwrnn_layer  # noqa: F401  (registers the layer for deserialisation)
    model = keras.models.load_model(run / "model.keras")
    if model.output_shape[-1] != saved.size or settings.get("vocab_sha256") != saved.fingerprint:
        raise ValueError(
            f"the model in {str(run)!r} has {model.output_shape[-1]} outputs but its vocab.json has "
            f"{saved.size} words: the files come from different runs."
        )
    return model, saved, settings


# -- prediction ----------------------------------------------------------------------------------
@dataclass
class Prediction:
    """The top words after a phrase, and how the phrase was read."""

    words: list[str]            # suggested next words, most likely first
    probs: list[float]          # their probabilities
    used: list[str]             # the (cleaned) words the model saw, at most ``context``
    unknown: list[str]          # words of the phrase that are not in the vocabulary
    dropped: list[str]          # words before the last ``context`` ones, not used


class Predictor:
    """Top-k next words of a phrase of any length, from a trained model and its tokenizer."""

    def __init__(self, model: keras.Model, tokenizer: corpus.Tokenizer, context: int) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.context = validate.positive_int(context, "context")

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> "Predictor":
        model, tok, settings = load_run(run_dir)
        return cls(model, tok, settings["context"])

    def window(self, phrase: str) -> tuple[np.ndarray, list[str], list[str], list[str]]:
        """The ids the model sees for ``phrase``: its last ``context`` words, padded on the left
        with ``PAD_ID`` (as at the start of a training document) when there are fewer."""
        words = self.tokenizer.words(phrase)
        used, dropped = words[-self.context:], words[:-self.context]
        ids = [int(self.tokenizer.encode(w)[0]) for w in used]
        unknown = [w for w, i in zip(used, ids) if i == corpus.OOV_ID]
        window = np.array([corpus.PAD_ID] * (self.context - len(ids)) + ids, np.int32)
        return window, used, unknown, dropped

    def predict(self, phrase: str, k: int = 5) -> Prediction:
        """The ``k`` most likely next words (padding and ``[UNK]`` are never suggested)."""
        if not isinstance(phrase, str):
            raise TypeError(f"phrase must be a str; got {type(phrase).__name__}.")
        k = validate.positive_int(k, "k")
        window, used, unknown, dropped = self.window(phrase)
        lp = log_probs(self.model, window[None, :])[0]
        lp[[corpus.PAD_ID, corpus.OOV_ID]] = -np.inf
        best = ngram.top_k(lp[None, :], min(k, self.tokenizer.size - 2))[0]
        return Prediction(
            [self.tokenizer.vocabulary[i] for i in best], [float(np.exp(lp[i])) for i in best],
            used, unknown, dropped,
        )


# -- the whole pipeline (the train-nextword command) ---------------------------------------------
def model_sizes(sizes) -> dict:
    """The model-size arguments of :func:`build_model` from a ``config.sizes("04")`` namespace."""
    keys = ("embed_dim", "units", "hidden", "filters", "kernel_size", "heads", "learning_rate",
            "jit_compile")
    return {k: getattr(sizes, k) for k in keys}


def train_run(
    source=None,
    kind: str = "lstm",
    context: int = 3,
    out_dir: str | os.PathLike = DEFAULT_RUN_DIR,
    sizes=None,
    epochs: int | None = None,
    seed: int = 0,
    verbose: int = 1,
) -> dict:
    """Load and split the corpus, train ``kind`` into ``out_dir`` (resuming if interrupted), score.

    Sizes come from ``config.sizes("04")`` (the ``FWCOURSE_SCALE``) unless given. Writes
    ``metrics.json`` with the validation and test scores of the best checkpoint and of the
    Kneser-Ney trigram baseline on the same windows; returns that dictionary.
    """
    S = sizes if sizes is not None else config.sizes("04")
    source = S.corpus if source is None else source
    tc = corpus.load_token_documents(source, max_tokens=S.max_tokens, seed=seed)
    data = corpus.nextword_arrays(tc, context)
    settings = dict(kind=kind, context=context, seed=seed, scale=S.scale, source=str(source),
                    **model_sizes(S))
    save_run_files(out_dir, tc.tokenizer, settings)
    model = build_model(kind, tc.tokenizer.size, context, seed=seed, **model_sizes(S))
    history = fit(model, _cap(data["train"], S.max_train_windows, seed), data["valid"], out_dir,
                  epochs=epochs or S.epochs, batch_size=S.batch_size, verbose=verbose, seed=seed)
    baseline = ngram.KneserNeyTrigram(tc.tokenizer.size).fit(*data["train"])
    metrics = {
        "model": kind, "epochs_run": len(history.loss), "best_epoch": history.best_epoch,
        "train_loss": history.loss[history.best_epoch - 1], "params": model.count_params(),
        "valid": evaluate(model, *data["valid"]), "test": evaluate(model, *data["test"]),
        "kneser_ney_trigram": {"valid": baseline.evaluate(*data["valid"]),
                               "test": baseline.evaluate(*data["test"])},
        "windows": {p: int(len(data[p][1])) for p in data},
    }
    (Path(out_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return metrics


def _cap(pair: tuple, limit: int, seed: int) -> tuple:
    """At most ``limit`` windows of ``pair`` (a random subset; 0 means all)."""
    X, y = pair
    if not limit or len(y) <= limit:
        return X, y
    keep = np.sort(np.random.default_rng(seed).choice(len(y), limit, replace=False))
    return X[keep], y[keep]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fwcourse train-nextword``: train a next-word model into a run directory."""
    p = argparse.ArgumentParser(
        prog="python -m fwcourse train-nextword",
        description="Train a next-word model with a held-out evaluation. Sizes follow FWCOURSE_SCALE "
        "(quick|default|full). Re-running with the same --out resumes an interrupted run.",
    )
    p.add_argument("--corpus", default=None,
                   help="a built-in corpus (docstrings, stdlib) or a .txt file or a folder of them "
                        "(default: the scale's corpus, the offline docstring corpus)")
    p.add_argument("--model", choices=MODELS, default="lstm")
    p.add_argument("--context", type=int, default=3, help="words of context (default 3, as in the seed)")
    p.add_argument("--out", default=str(DEFAULT_RUN_DIR), help=f"run directory (default {DEFAULT_RUN_DIR})")
    p.add_argument("--epochs", type=int, default=None, help="override the scale's number of epochs")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.context < 1 or (args.epochs is not None and args.epochs < 1):
        p.error("--context and --epochs must be at least 1")
    try:
        m = train_run(args.corpus, args.model, args.context, args.out, epochs=args.epochs,
                      seed=args.seed, verbose=1 if sys.stdout.isatty() else 2)
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"train-nextword: {err}", file=sys.stderr)
        return 2
    t, b = m["test"], m["kneser_ney_trigram"]["test"]
    print(f"\nBest epoch {m['best_epoch']} of {m['epochs_run']}; saved to {args.out}")
    print(f"test perplexity {t['perplexity']:.1f}, top-1 {t['top1']:.1%}, top-5 {t['top5']:.1%} "
          f"(Kneser-Ney trigram: {b['perplexity']:.1f}, {b['top1']:.1%}, {b['top5']:.1%})")
    print(f"Try it: python -m fwcourse predict --model {args.out}")
    return 0
