"""What the commands share: atomic writes (fwcourse.util.atomic), output folders checked and claimed
before any work (fwcourse.util.outdir), one-line usage errors and resume hints (fwcourse.util.cli)."""
from __future__ import annotations

import json
import os

import pytest

from fwcourse.util import atomic, cli, outdir


def test_an_atomic_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("old")
    atomic.write_text(path, "new, ünïcode")
    assert path.read_text(encoding="utf-8") == "new, ünïcode"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"the old model")
    with pytest.raises(KeyboardInterrupt):
        with atomic.replacing(path) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".keras" and tmp != path
            tmp.write_bytes(b"half a ne")
            raise KeyboardInterrupt
    assert path.read_bytes() == b"the old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_an_atomic_write_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    atomic.write_text(tmp_path / "page.md", "x")
    assert (tmp_path / "page.md").stat().st_mode & 0o777 == 0o666 & ~umask


def test_prepare_creates_the_folder_and_names_the_option_when_it_cannot(tmp_path):
    assert outdir.prepare(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []  # the write test leaves nothing
    (tmp_path / "f").write_text("x")
    with pytest.raises(outdir.OutputError, match=r"--out '.*f' is a file; expected a folder"):
        outdir.prepare(tmp_path / "f")
    with pytest.raises(outdir.OutputError, match=r"--model-dir '.*sub' cannot be written \(Not a directory\)"):
        outdir.prepare(tmp_path / "f" / "sub", option="--model-dir")


IDENTITY = {"model": "lstm", "context": 3, "sizes": {"units": 8}}
FILES = ("model.keras", "history.csv", "backup")


def test_a_claimed_folder_is_kept_for_the_same_run(tmp_path):
    outdir.claim(tmp_path, "train-x", IDENTITY, FILES)
    (tmp_path / "model.keras").write_text("trained")
    outdir.claim(tmp_path, "train-x", dict(IDENTITY), FILES)  # the same run: resumed, nothing removed
    assert (tmp_path / "model.keras").read_text() == "trained"
    assert json.loads((tmp_path / outdir.MANIFEST).read_text()) == {"command": "train-x", "identity": IDENTITY}


def test_a_run_of_other_settings_is_refused_naming_what_differs_unless_overwrite(tmp_path):
    outdir.claim(tmp_path, "train-x", IDENTITY, FILES)
    (tmp_path / "model.keras").write_text("trained")
    (tmp_path / "backup").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    other = {**IDENTITY, "model": "conv1d", "context": 4}
    with pytest.raises(outdir.OutputError) as refused:
        outdir.claim(tmp_path, "train-x", other, FILES)
    assert str(refused.value) == (
        f"--out {str(tmp_path)!r} holds a train-x run of other settings (model: 'lstm' there, 'conv1d' here; "
        "context: 3 there, 4 here); choose another --out, or add --overwrite to replace them.")
    assert (tmp_path / "model.keras").read_text() == "trained"
    outdir.claim(tmp_path, "train-x", other, FILES, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [outdir.MANIFEST, "notes.txt"]
    assert json.loads((tmp_path / outdir.MANIFEST).read_text())["identity"] == other


def test_files_the_command_did_not_write_are_refused(tmp_path):
    (tmp_path / "history.csv").write_text("mine")
    with pytest.raises(outdir.OutputError, match="already holds history.csv, which train-x did not write; "
                                                  "choose another --out, or add --overwrite to replace it"):
        outdir.claim(tmp_path, "train-x", IDENTITY, FILES)
    outdir.claim(tmp_path / "other", "train-y", IDENTITY, FILES)  # another command's run
    (tmp_path / "other" / "model.keras").write_text("y's")
    with pytest.raises(outdir.OutputError, match="which train-x did not write"):
        outdir.claim(tmp_path / "other", "train-x", IDENTITY, FILES)
    assert (tmp_path / "history.csv").read_text() == "mine"


def test_a_folder_without_the_commands_files_is_claimed_whatever_it_holds(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / outdir.MANIFEST).write_text("not json")
    outdir.claim(tmp_path, "train-x", IDENTITY, FILES)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert json.loads((tmp_path / outdir.MANIFEST).read_text())["command"] == "train-x"


def test_usage_errors_are_one_line(capsys):
    parser = cli.ArgumentParser(prog="python -m fwcourse demo")
    parser.add_argument("--seeds", type=int, required=True)
    for argv, message in ((["--seeds", "x"], "argument --seeds: invalid int value: 'x'"),
                          ([], "the following arguments are required: --seeds")):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(argv)
        assert stop.value.code == 2
        assert capsys.readouterr().err == f"python -m fwcourse demo: error: {message} (see --help).\n"


@pytest.mark.parametrize("stop", [KeyboardInterrupt, BrokenPipeError])
def test_a_stop_carries_how_to_resume(stop):
    with pytest.raises(stop) as stopped:
        with cli.stop_hint("run it again"):
            raise stop
    assert stopped.value.resume_hint == "run it again"
    with pytest.raises(ValueError) as failed:  # an error is not a stop: no hint
        with cli.stop_hint("run it again"):
            raise ValueError("bad")
    assert not hasattr(failed.value, "resume_hint")
