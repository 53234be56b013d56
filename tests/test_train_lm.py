"""``python -m fwcourse train-lm``: a tiny run mirrored over two logical CPU devices."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fwcourse import __main__ as cli
from fwcourse.course import config
from fwcourse.experiments import train_lm

TINY = ["--corpus", "synthetic", "--n-docs", "10", "--words-per-doc", "120", "--seq-len", "16",
        "--d-model", "16", "--layers", "1", "--heads", "2", "--fwl-size", "8", "--attn-chunks", "3",
        "--epochs", "2", "--batch-size", "4"]


def test_command_is_listed():
    assert "train-lm" in cli.COMMANDS
    assert "train-lm" in cli.usage()


@pytest.mark.parametrize("flag,value,match", [
    ("--seq-len", "0", "--seq-len must be >= 1"),
    ("--heads", "3", "divisible by --heads"),
    ("--lr", "-1", "--lr must be a positive"),
    ("--corpus", "nope", "--corpus must be one of docstrings, stdlib, synthetic or an existing"),
])
def test_bad_arguments_name_the_option(flag, value, match, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_lm.parse_args(TINY + [flag, value])
    assert exit_info.value.code == 2
    assert match in capsys.readouterr().err


def test_mirrored_over_two_cpu_devices(tmp_path):
    """Distributed training runs, writes its outputs, and the saved model reproduces the metric."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fwcourse", "train-lm", *TINY, "--cpu-devices", "2", "--out", str(out)]
    proc = subprocess.run(cmd + ["--fwl"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 replica(s)" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["replicas"] == 2
    assert metrics["model"] == "fwl"
    assert len(metrics["loss"]) == 2 and np.all(np.isfinite(metrics["loss"]))
    assert metrics["valid_perplexity"] == pytest.approx(np.exp(metrics["valid_loss"]))

    import keras

    from fwcourse.data import lm_data
    from fwcourse import transformer

    model = keras.models.load_model(out / "model.keras")
    vocab = json.loads((out / "vocab.json").read_text())
    data = lm_data.load_lm_corpus("synthetic", n_docs=10, words_per_doc=120)
    assert data.tokenizer.vocabulary == vocab
    win = lm_data.lm_windows(data.valid, 16)
    losses = transformer.token_losses(model, win.tokens, win.targets)
    # evaluate() averages the losses of each replica's share of a batch, so it matches the
    # token-weighted mean only up to how the windows fall into batches
    assert np.log(transformer.perplexity(losses, win.weights)) == pytest.approx(
        metrics["valid_loss"], abs=0.02)


@pytest.mark.parametrize("scale", ["quick", "default"])
def test_defaults_follow_the_scale(scale, monkeypatch):
    monkeypatch.setenv("FWCOURSE_SCALE", scale)
    S, args = config.sizes("06", scale), train_lm.parse_args([])
    assert (args.seq_len, args.d_model, args.layers, args.epochs, args.lr) == (
        S.seq_len, S.d_model, S.n_layers, S.epochs, S.learning_rate)
