"""The course's one setting: the scale, and the sizes each notebook uses at that scale.

Choose the scale with the environment variable ``FWCOURSE_SCALE`` (``quick``, ``default`` or
``full``), or in a notebook's first cell with ``config.set_scale("quick")``. Nothing else changes
between scales: the same code runs, only the sizes below differ.

* ``quick``: CI and a first look, under a minute a notebook on 2 CPU cores.
* ``default``: a laptop CPU, minutes; shows the real effect.
* ``full``: paper scale; uses a GPU where one is present.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

from fwcourse.util import validate

SCALES = ("quick", "default", "full")
ENV_VAR = "FWCOURSE_SCALE"
DEFAULT_SCALE = "default"

# One block per notebook; every scale of a block has the same keys.
SIZES: dict[str, dict[str, dict]] = {
    "00": {
        "quick": dict(widget_frames=6, matrix_size=5),
        "default": dict(widget_frames=12, matrix_size=8),
        "full": dict(widget_frames=24, matrix_size=8),
    },
    "01": {  # notebook 01: the 1992 controller on the flip-flop and variable-binding streams
        "quick": dict(seeds=1, flip_flop_steps=1500, binding_steps=1500, widget_steps=24),
        "default": dict(seeds=5, flip_flop_steps=6000, binding_steps=12000, widget_steps=40),
        "full": dict(seeds=20, flip_flop_steps=10000, binding_steps=20000, widget_steps=60),
    },
    "02": {  # notebook 02: identity, capacity, softmax cost
        "quick": dict(seq_len=37, d_key=8, capacity_repeats=3, cost_lengths=[64, 128, 256, 512],
                      widget_max_pairs=16),
        "default": dict(seq_len=101, d_key=32, capacity_repeats=10,
                        cost_lengths=[64, 128, 256, 512, 1024, 2048, 4096], widget_max_pairs=64),
        "full": dict(seq_len=257, d_key=64, capacity_repeats=20,
                     cost_lengths=[64, 128, 256, 512, 1024, 2048, 4096], widget_max_pairs=128),
    },
    "03": {  # notebook 03 (nb_*) and `python -m fwcourse reproduce ba2016` (repro_*)
        "quick": dict(nb_train=3000, nb_steps=150, nb_eval_every=50, nb_units=20, nb_models=["fastweights"],
                      repro_n_train=2000, repro_n_valid=300, repro_n_test=300, repro_num_pairs=4,
                      repro_data_seed=0, repro_seeds=1, repro_max_steps=40, repro_eval_every=20,
                      repro_patience=2, repro_batch_size=32, repro_learning_rate=1e-3),
        # 16,000 steps: fast weights leave the plateau after about 12,000-17,000 (data/ba2016_results.json)
        "default": dict(nb_train=100_000, nb_steps=16_000, nb_eval_every=500, nb_units=20,
                        nb_models=["fastweights", "rnn_ln", "lstm"],
                        repro_n_train=100_000, repro_n_valid=10_000, repro_n_test=20_000,
                        repro_num_pairs=4, repro_data_seed=0, repro_seeds=1, repro_max_steps=8000,
                        repro_eval_every=250, repro_patience=12, repro_batch_size=128,
                        repro_learning_rate=1e-3),
        "full": dict(nb_train=100_000, nb_steps=20000, nb_eval_every=500, nb_units=20,
                     nb_models=["fastweights", "rnn_ln", "lstm"],
                     repro_n_train=100_000, repro_n_valid=10_000, repro_n_test=20_000,
                     repro_num_pairs=4, repro_data_seed=0, repro_seeds=3, repro_max_steps=100_000,
                     repro_eval_every=500, repro_patience=20, repro_batch_size=128,
                     repro_learning_rate=1e-3),
    },
    "04": {  # notebook 04 and `python -m fwcourse train-nextword`
        "quick": dict(corpus="stdlib", max_tokens=2000, max_train_windows=6000, epochs=2, batch_size=256,
                      embed_dim=16, units=32, hidden=32, filters=32, kernel_size=3, heads=2,
                      learning_rate=3e-3, overfit_units=64, overfit_epochs=3, jit_compile=False),
        "default": dict(corpus="docstrings", max_tokens=5000, max_train_windows=100_000, epochs=6,
                        batch_size=64,
                        embed_dim=64, units=128, hidden=128, filters=128, kernel_size=3, heads=4,
                        learning_rate=1e-3, overfit_units=256, overfit_epochs=12,
                        jit_compile="auto"),
        "full": dict(corpus="docstrings", max_tokens=10000, max_train_windows=0, epochs=40, batch_size=32,
                     embed_dim=100, units=1000, hidden=1000, filters=1000, kernel_size=3, heads=4,
                     learning_rate=1e-3, overfit_units=1000, overfit_epochs=70,
                     jit_compile="auto"),
    },
    "05": {  # notebook 05: the causal transformer LM on the docstring corpus
        "quick": dict(corpus="stdlib", max_train_tokens=0, max_tokens=2000, seq_len=64, d_model=32, n_layers=1, n_heads=2,
                      batch_size=16, epochs=3, learning_rate=5e-3, max_train_windows=500,
                      dropout=0.0, widget_len=16),
        "default": dict(corpus="docstrings", max_train_tokens=600_000, max_tokens=8000,
                        seq_len=128, d_model=128, n_layers=2, n_heads=4, batch_size=16, epochs=6, learning_rate=1e-3, max_train_windows=0,
                        dropout=0.1, widget_len=24),
        "full": dict(corpus="docstrings", max_train_tokens=0, max_tokens=16000, seq_len=512, d_model=256, n_layers=4, n_heads=8,
                     batch_size=16, epochs=30, learning_rate=5e-4, max_train_windows=0,
                     dropout=0.1, widget_len=32),
    },
    "06": {  # notebook 06 (Fast Weight Layers) and fwcourse.experiments.lm_compare
        "quick": dict(corpora=("synthetic",), n_docs=24, words_per_doc=150, max_tokens=2000,
                      max_train_tokens=0,
                      seq_len=64, d_model=32, n_layers=1, n_heads=2, fwl_size=32, attn_chunks=4,
                      batch_size=8, epochs=1, learning_rate=3e-3, dynamic_chunk=16,
                      dynamic_lrs=(0.01,), tune_windows=2, eval_windows=6, carries=(0.0, 1.0), demo_len=12,
                      scaling_lengths=(256, 1024)),
        # corpora: what notebook 06 runs live. The docstring comparison (600k training words of
        # the 1.6M, 240 test windows) takes most of an hour a seed on one core, so at this scale the
        # notebook shows the committed results of `compare-lm --corpus docstrings` instead.
        "default": dict(corpora=("synthetic",), n_docs=160, words_per_doc=500,
                        max_tokens=8000, max_train_tokens=600_000, seq_len=256, d_model=64,
                        n_layers=2, n_heads=4, fwl_size=64, attn_chunks=4, batch_size=16, epochs=6,
                        learning_rate=2e-3,
                        dynamic_chunk=32, dynamic_lrs=(0.001, 0.003, 0.01, 0.03, 0.1),
                        tune_windows=8,
                        eval_windows=240, carries=(0.0, 0.25, 0.5, 0.75, 1.0),
                        demo_len=24, scaling_lengths=(256, 1024, 4096)),
        "full": dict(corpora=("docstrings", "synthetic"), n_docs=2000, words_per_doc=2000,
                     max_tokens=16000, max_train_tokens=0, seq_len=1024, d_model=256, n_layers=4, n_heads=8,
                     fwl_size=256, attn_chunks=16, batch_size=16, epochs=20, learning_rate=1e-3,
                     dynamic_chunk=64, dynamic_lrs=(0.001, 0.003, 0.01, 0.03), tune_windows=32,
                     eval_windows=0, carries=(0.0, 0.25, 0.5, 0.75, 1.0),
                     demo_len=32, scaling_lengths=(1024, 4096, 16384)),
    },
}

def scale() -> str:
    """The chosen scale, read from ``FWCOURSE_SCALE`` every call (so a notebook may change it)."""
    value = os.environ.get(ENV_VAR, DEFAULT_SCALE).strip().lower() or DEFAULT_SCALE
    if value not in SCALES:
        raise ValueError(
            f"{ENV_VAR}={os.environ.get(ENV_VAR)!r} is not a scale; valid values are "
            f"{', '.join(SCALES)}."
        )
    return value


def set_scale(value: str) -> str:
    """Set the scale for this process (and the kernels or subprocesses it starts)."""
    validate.choice(value.strip().lower() if isinstance(value, str) else value, "scale", SCALES)
    os.environ[ENV_VAR] = value.strip().lower()
    return scale()


def sizes(notebook: str, scale_name: str | None = None) -> SimpleNamespace:
    """The sizes notebook ``notebook`` (e.g. ``"03"``) uses at the chosen (or given) scale."""
    validate.choice(notebook, "notebook", sorted(SIZES))
    chosen = scale() if scale_name is None else validate.choice(scale_name, "scale_name", SCALES)
    return SimpleNamespace(scale=chosen, **SIZES[notebook][chosen])


def describe(notebook: str) -> str:
    """One line for a notebook's first cell: the scale and how to change it."""
    s = sizes(notebook)
    others = ", ".join(x for x in SCALES if x != s.scale)
    return (
        f"Scale: {s.scale} (set FWCOURSE_SCALE or call config.set_scale() to use {others}). "
        f"Sizes: {', '.join(f'{k}={v}' for k, v in vars(s).items() if k != 'scale')}"
    )
