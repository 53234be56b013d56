"""``python -m fwcourse train-lm``: a tiny run mirrored over two logical CPU devices."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fwcourse import __main__ as cli
from fwcourse.course import config
from fwcourse.data.corpus import CorpusError
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


def test_mirrored_over_three_cpu_devices(tmp_path):
    """Distributed training runs with a batch (4) that 3 replicas cannot share evenly, which is
    rounded up to 6; it writes its outputs, and the saved model reproduces the metric."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fwcourse", "train-lm", *TINY, "--cpu-devices", "3", "--out", str(out)]
    proc = subprocess.run(cmd + ["--fwl"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "3 replica(s)" in proc.stdout and "--batch-size 4 rounded up to 6" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["replicas"] == 3 and metrics["args"]["batch_size"] == 6
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


def test_each_split_is_batched_so_that_its_first_batch_splits_evenly_over_the_replicas():
    assert train_lm.replica_batch(6, 3, 65, "training") == 6  # later batches may be uneven: that works
    assert train_lm.replica_batch(9, 3, 8, "validation") == 6  # one batch of 8 would not split
    assert train_lm.replica_batch(4, 1, 3, "validation") == 3
    with pytest.raises(CorpusError, match="the validation split holds 2 window.*fewer than the 3 replicas"):
        train_lm.replica_batch(6, 3, 2, "validation")


def test_a_run_of_other_settings_in_out_is_refused_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    train_lm.train(train_lm.parse_args(TINY + ["--epochs", "1", "--out", str(out)]))
    model = (out / "model.keras").read_bytes()
    assert train_lm.main(TINY + ["--fwl", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "train-lm run of other settings (fwl: False there, True here" in err
    assert (out / "model.keras").read_bytes() == model


@pytest.mark.parametrize("scale", ["quick", "default"])
def test_defaults_follow_the_scale(scale, monkeypatch):
    monkeypatch.setenv("FWCOURSE_SCALE", scale)
    S, args = config.sizes("06", scale), train_lm.parse_args([])
    assert (args.seq_len, args.d_model, args.layers, args.epochs, args.lr) == (
        S.seq_len, S.d_model, S.n_layers, S.epochs, S.learning_rate)
