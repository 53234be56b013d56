"""Every command-line mistake a tester found is one line on stderr and a non-zero exit, never a
traceback, and never costs work: a finished run is not overwritten, a file the command did not write
is not touched, and a folder that cannot be written is refused before any training.

Most commands run in this process through ``python -m fwcourse``'s :func:`fwcourse.__main__.main`
(TensorFlow starts once); the closed pipe and the quiet start-up need processes of their own.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from fwcourse import __main__ as cli
from fwcourse.util import paths

QUICK = {"FWCOURSE_SCALE": "quick"}
TINY_LM = ["--corpus", "synthetic", "--n-docs", "10", "--words-per-doc", "120", "--seq-len", "16",
           "--d-model", "16", "--layers", "1", "--heads", "2", "--fwl-size", "8", "--attn-chunks", "3",
           "--epochs", "1", "--batch-size", "4"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """``python -m fwcourse ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        code = cli.main(list(argv))
    except SystemExit as stop:  # argparse's usage errors and --help
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str, *fragments: str) -> None:
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line on stderr:\n{err}"
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture(autouse=True)
def quick_scale(monkeypatch):
    monkeypatch.setenv("FWCOURSE_SCALE", "quick")


@pytest.fixture(scope="module")
def text_folder(tmp_path_factory) -> Path:
    """A folder of six small .txt documents: a corpus train-nextword reads in a second."""
    root = tmp_path_factory.mktemp("texts")
    rng = np.random.default_rng(0)
    words = "the cat dog sat ran on in a mat park and saw".split()
    for i in range(6):
        (root / f"doc{i}.txt").write_text(". ".join(" ".join(rng.choice(words, 6)) for _ in range(40)))
    return root


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, text_folder) -> Path:
    """A finished train-nextword run (lstm, context 3)."""
    out = tmp_path_factory.mktemp("nextword") / "run"
    os.environ["FWCOURSE_SCALE"] = "quick"  # module-scoped: the autouse fixture has not run yet
    assert cli.main(["train-nextword", "--corpus", str(text_folder), "--out", str(out), "--epochs", "1"]) == 0
    return out


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "a_file.txt"
    path.write_text("not a folder")
    return path


@pytest.fixture
def read_only_folder(tmp_path) -> Path:
    """A folder nobody may write to: chmod 500, or, as root (who ignores it), /sys/kernel on Linux."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    folder = Path("/sys/kernel")
    try:
        tempfile.NamedTemporaryFile(dir=folder).close()
    except OSError:
        yield folder
        return
    pytest.skip("no read-only folder for root here")


# -- FWCOURSE_SCALE ------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["train-lm"], ["train-lm", "--help"], ["reproduce", "ba2016"], ["compare-lm"],
                                  ["env"], ["train-nextword"]])
def test_an_invalid_scale_is_one_line_before_the_command_starts(argv, capsys, monkeypatch):
    monkeypatch.setenv("FWCOURSE_SCALE", "bogus")
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert_one_line(err, "FWCOURSE_SCALE='bogus' is not a scale", "quick, default, full")


# -- output folders ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["train-nextword"], ["train-lm", *TINY_LM], ["reproduce", "ba2016"],
                                     ["compare-lm"]])
def test_out_naming_a_file_is_refused_and_the_file_kept(command, a_file, capsys):
    code, _, err = run(capsys, *command, "--out", str(a_file))
    assert code == 2
    assert_one_line(err, "--out", str(a_file), "is a file")
    assert a_file.read_text() == "not a folder"


@pytest.mark.parametrize("command", [["train-nextword"], ["train-lm", *TINY_LM], ["reproduce", "ba2016"],
                                     ["compare-lm"]])
def test_an_out_folder_that_cannot_be_written_is_refused_before_training(command, read_only_folder, capsys):
    code, out, err = run(capsys, *command, "--out", str(read_only_folder / "results"))
    assert code == 2 and "Epoch" not in out
    assert_one_line(err, "cannot be written")


@pytest.mark.parametrize("command", [["reproduce", "ba2016"], ["compare-lm"]])
def test_results_go_outside_the_checkout_by_default(command, a_file, capsys, monkeypatch):
    """The default folder is $FWCOURSE_RESULTS/COMMAND (pointed below a file here, the command names
    it and stops before training), else ~/fwcourse-results/COMMAND: never the checkout's data/."""
    monkeypatch.setenv(paths.RESULTS_VAR, str(a_file))
    code, _, err = run(capsys, *command)
    assert code == 2
    assert_one_line(err, str(a_file / command[0]), "cannot be written")
    monkeypatch.delenv(paths.RESULTS_VAR)
    assert not paths.results_dir(command[0]).resolve().is_relative_to(paths.repo_root().resolve())


def test_a_results_page_the_command_did_not_write_is_kept(tmp_path, capsys):
    (tmp_path / "fwl_results.md").write_text("my notes")
    code, _, err = run(capsys, "compare-lm", "--out", str(tmp_path))
    assert code == 2
    assert_one_line(err, "fwl_results.md", "--overwrite")
    assert (tmp_path / "fwl_results.md").read_text() == "my notes"


# -- train-nextword ------------------------------------------------------------------------------
@pytest.mark.parametrize("change,differs", [(["--model", "conv1d"], "model: 'lstm' there, 'conv1d' here"),
                                            (["--context", "4"], "context: 3 there, 4 here")])
def test_a_finished_run_of_other_settings_is_refused(finished_run, text_folder, change, differs, capsys):
    model_before = (finished_run / "model.keras").read_bytes()
    code, out, err = run(capsys, "train-nextword", "--corpus", str(text_folder), "--out", str(finished_run),
                         "--epochs", "1", *change)
    assert code == 2 and "Epoch" not in out
    assert_one_line(err, "holds a train-nextword run of other settings", differs, "--overwrite")
    assert (finished_run / "model.keras").read_bytes() == model_before
    assert json.loads((finished_run / "settings.json").read_text())["context"] == 3


def test_an_unrelated_history_csv_is_never_overwritten(text_folder, tmp_path, capsys):
    (tmp_path / "history.csv").write_text("my,own\n1,2\n")
    code, _, err = run(capsys, "train-nextword", "--corpus", str(text_folder), "--out", str(tmp_path))
    assert code == 2
    assert_one_line(err, "history.csv, which train-nextword did not write", "--overwrite")
    assert (tmp_path / "history.csv").read_text() == "my,own\n1,2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]


def test_overwrite_replaces_the_run_and_its_context(finished_run, text_folder, tmp_path, capsys):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    (out / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "train-nextword", "--corpus", str(text_folder), "--out", str(out),
                       "--epochs", "1", "--context", "2", "--overwrite")
    assert code == 0, err
    assert json.loads((out / "settings.json").read_text())["context"] == 2
    assert (out / "notes.txt").read_text() == "mine"  # --overwrite replaces the run's files only
    from fwcourse.experiments.nextword import load_run

    model, _, settings = load_run(out)
    assert model.input_shape[-1] == settings["context"] == 2


def test_ctrl_c_keeps_the_finished_epochs_and_says_how_to_resume(text_folder, tmp_path, capsys, monkeypatch):
    import keras

    from fwcourse.experiments.nextword import train

    log = keras.callbacks.CSVLogger.on_epoch_end

    def interrupted(self, epoch, logs=None):
        log(self, epoch, logs)
        raise KeyboardInterrupt  # what Ctrl-C raises, here once the first epoch is all written

    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", interrupted)
    argv = ["train-nextword", "--corpus", str(text_folder), "--out", str(tmp_path), "--epochs", "2"]
    code, _, err = run(capsys, *argv)
    assert code == 130
    assert_one_line(err, "interrupted", str(tmp_path), "run the same command again to resume")
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "backup").is_dir()
    monkeypatch.undo()
    monkeypatch.setenv("FWCOURSE_SCALE", "quick")
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "Epoch 2/2" in out and "Epoch 1/2" not in out  # resumed after the finished epoch
    assert len(train.read_history(tmp_path / "history.csv").loss) == 2


# -- predict -------------------------------------------------------------------------------------
def test_predict_refuses_a_model_and_settings_out_of_step(finished_run, tmp_path, capsys):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    settings = json.loads((run_dir / "settings.json").read_text())
    (run_dir / "settings.json").write_text(json.dumps({**settings, "context": 5}))
    code, _, err = run(capsys, "predict", "--model", str(run_dir))
    assert code == 2
    assert_one_line(err, "reads 3 words but its settings.json says context 5")


def test_predict_on_a_file_is_one_line(a_file, capsys):
    code, _, err = run(capsys, "predict", "--model", str(a_file))
    assert code == 2
    assert_one_line(err, "is not a trained next-word model", "train-nextword")


def test_predict_reading_text_that_is_not_utf8_is_one_line(finished_run, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the cat\n\xff\xfe sat\n"), encoding="utf-8"))
    code, _, err = run(capsys, "predict", "--model", str(finished_run))
    assert code == 2
    assert_one_line(err, "not utf-8 text", "0xff")


# -- compare-lm, reproduce, train-lm arguments ---------------------------------------------------
@pytest.mark.parametrize("argv,fragment", [
    (["compare-lm", "--seeds", "0"], "--seeds must be >= 1; got 0"),
    (["compare-lm", "--epochs", "0"], "--epochs must be >= 1"),
    (["compare-lm", "--corpus", "no_such_corpus"], "'no_such_corpus'"),
    (["reproduce", "ba2016", "--max-steps", "0"], "--max-steps must be >= 1"),
    (["reproduce"], "the following arguments are required: experiment"),
    (["reproduce", "ba2016", "--table1", "--max-steps", "5"], "--table1 sets the budget itself; drop --max-steps"),
    (["reproduce", "ba2016", "--table1", "--lr-schedule", "cosine"], "drop --lr-schedule"),
    (["time-budget", "--notebooks", "07"], "--notebooks must be a comma-separated subset of 00,01"),
    (["train-lm", "--max-tokens", "1"], "--max-tokens must be >= 3"),
    (["train-lm", "--heads", "3"], "divisible by --heads"),
    (["train-nextword", "--context", "0"], "--context and --epochs must be at least 1"),
])
def test_argument_mistakes_are_one_line_and_exit_2(argv, fragment, capsys):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert_one_line(err, fragment, "see --help")


def test_a_sequence_that_does_not_fit_in_memory_is_one_line(tmp_path, capsys):
    # windows of 40,000 tokens: the attention scores of 64 heads are 410 GB, more than any machine running this
    argv = ["train-lm", "--corpus", "synthetic", "--n-docs", "12", "--words-per-doc", "4000",
            "--seq-len", "40000", "--d-model", "64", "--layers", "1", "--heads", "64", "--batch-size", "1",
            "--out", str(tmp_path / "lm")]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert_one_line(err, "out of memory", "--seq-len")
    assert not (tmp_path / "lm" / "model.keras").exists()


# -- processes of their own ----------------------------------------------------------------------
def _fwcourse(*argv: str, stdout=subprocess.PIPE, **env) -> subprocess.Popen:
    full_env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user starts it
    return subprocess.Popen([sys.executable, "-m", "fwcourse", *argv], stdout=stdout, stderr=subprocess.PIPE,
                            text=True, env={**full_env, **QUICK, **env})


def test_the_environment_report_starts_without_tensorflow_log_lines():
    proc = _fwcourse("env")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "keras backend" in out
    assert err == ""  # no oneDNN, CPU-instruction, CUDA-driver or cuInit notices


def test_a_closed_output_pipe_stops_training_in_one_line(text_folder, tmp_path):
    """``train-nextword ... | head -0``: the reader is gone before the first line."""
    proc = _fwcourse("train-nextword", "--corpus", str(text_folder), "--out", str(tmp_path / "run"), "--epochs", "1")
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=600)
    assert proc.returncode == cli.EXIT_BROKEN_PIPE
    assert_one_line(err, "its output was closed", "run the same command again to resume")
