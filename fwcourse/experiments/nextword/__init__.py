"""Next-word prediction (notebook 04): the student project's models (an LSTM next-word predictor
with an "Enter a 3 word phrase" loop), done with a held-out evaluation.

================ ==========================================================================
``models``       the four Keras models (lstm, conv1d, fastweights, attention): :func:`build_model`
``scoring``      log-probabilities, perplexity and top-k accuracy; the results table
``train``        :func:`fit` (best-on-validation checkpoint, resumable) and :func:`train_run`
``run_dir``      run directories: vocabulary and settings files, :func:`load_run`
``predict``      :class:`Predictor`: the top-k next words of a phrase
``train_cli``    the ``train-nextword`` command
``predict_cli``  the ``predict`` command: the interactive loop
================ ==========================================================================

The public names of these modules are available here (``from fwcourse.experiments import
nextword; nextword.build_model(...)``). They are loaded on first use, so that
importing the package (e.g. for ``python -m fwcourse predict --help``) does not start TensorFlow.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "models": ("MODELS", "PROJECT_SIZES", "PositionEmbedding", "build_model", "model_sizes"),
    "scoring": ("log_probs", "evaluate", "results_table"),
    "train": ("History", "fit", "read_history", "train_run"),
    "run_dir": ("DEFAULT_RUN_DIR", "save_run_files", "check_vocabulary", "load_run"),
    "predict": ("Prediction", "Predictor"),
    "train_cli": ("main",),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
