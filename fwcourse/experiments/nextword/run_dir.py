"""Run directories: what ``python -m fwcourse predict`` needs to use a trained model.

A run directory holds ``model.keras`` (best on validation), ``vocab.json``, ``settings.json``,
``history.csv`` and ``metrics.json`` (and ``backup/`` while a run is unfinished), written atomically,
and ``fwcourse-run.json``, which says whose run it is (:func:`fwcourse.util.outdir.claim`). Loading
it with a tokenizer of another vocabulary is refused: the ids would mean different words.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from fwcourse.data import corpus
from fwcourse.util import atomic

DEFAULT_RUN_DIR = Path("runs") / "nextword"
RUN_FILES = ("model.keras", "vocab.json", "settings.json", "history.csv", "metrics.json", "backup")


def save_run_files(out_dir: str | os.PathLike, tokenizer: corpus.Tokenizer, settings: dict) -> None:
    """Write ``vocab.json`` and ``settings.json``; refuse a directory trained with another vocabulary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "vocab.json").is_file():
        check_vocabulary(out, tokenizer)
    atomic.write_text(out / "vocab.json", json.dumps(tokenizer.vocabulary))
    settings = {**settings, "vocab_size": tokenizer.size, "vocab_sha256": tokenizer.fingerprint}
    atomic.write_text(out / "settings.json", json.dumps(settings, indent=2))


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
    """``(model, tokenizer, settings)`` of a run directory written by
    :func:`fwcourse.experiments.nextword.train.train_run`.

    With ``tokenizer``, it must be the vocabulary the run was trained with (``ValueError`` if not).
    """
    import keras

    from fwcourse.experiments.nextword import models  # noqa: F401  (registers PositionEmbedding)

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
    if model.input_shape[-1] != settings.get("context"):
        raise ValueError(
            f"the model in {str(run)!r} reads {model.input_shape[-1]} words but its settings.json says "
            f"context {settings.get('context')}: the files come from different runs; train again into "
            "a new --out directory."
        )
    return model, saved, settings
