"""`python -m fwcourse grade` on a batch of submissions, tried as a hostile student would.

One batch (a module fixture) holds an honest solved notebook and the attacks; each test reads its
verdicts. Needs bubblewrap for the sandbox, except the tests of what happens without one.
"""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from fwcourse import __main__ as cli
from fwcourse.course import sandbox
from fwcourse.course.build_notebooks import repo_root

ROOT = repo_root()
NO_SANDBOX = sandbox.unavailable()
needs_sandbox = pytest.mark.skipif(NO_SANDBOX is not None, reason=f"no bubblewrap sandbox here: {NO_SANDBOX}")
STUB = ('    # YOUR CODE HERE\n'
        '    raise NotImplementedError("Your code here: replace this line, then run the check below.")')
SOLVED = "return v[:, None] * k[None, :]"


def _grade(*args, env=None, **popen):
    return subprocess.run([sys.executable, "-m", "fwcourse", "grade", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=1800, **popen)


def _learner(solved=False):
    folder = ROOT / "notebooks" / ("solutions" if solved else "")
    return nbformat.read(folder / "00_start_here.ipynb", as_version=4)


def _exercise_only(body=None, extra=(), check=True):
    """The learner's notebook 00 cut down to its exercise cell, the stub replaced by ``body``, then
    the cells ``extra``: quick to run."""
    nb = _learner()
    [cell] = [c for c in nb.cells if "def outer_product" in c.source]
    assert STUB in cell.source
    if body is not None:
        cell.source = cell.source.replace(STUB, "\n".join("    " + line for line in body.splitlines()))
    if not check:  # a function that hangs would hang the notebook's own check too
        cell.source = cell.source.split("\nouter_product = ex.outer_product.check")[0]
    nb.cells = [cell] + [nbformat.v4.new_code_cell(code) for code in extra]
    return nb


def _processes_with(token):
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if token in cmdline.read_bytes().decode(errors="replace"):
                found.append(cmdline.parent.name)
        except OSError:
            continue
    return found


SNOOP = """
import os, socket, subprocess, sys
seen = []
for what, act in [("delete", lambda: os.remove(CLASSMATE)), ("secret", lambda: open(SECRET_FILE).read()),
                  ("net", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3))]:
    try:
        seen.append(f"{what}={act()}")
    except OSError as err:
        seen.append(f"{what}:{type(err).__name__}")
seen.append(f"env={os.environ.get('FWTEST_SECRET')}")
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", TOKEN], start_new_session=True)
raise RuntimeError("SAW " + " ".join(seen))
"""

STUBBORN = """import signal, threading, time
signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.setitimer(signal.ITIMER_REAL, 0)
threading.Thread(target=lambda: [0 for _ in iter(int, 1)]).start()
while True:
    try:
        time.sleep(0.01)
    except BaseException:
        pass"""

FORGERIES = [
    # the old grader counted verdicts the kernel appended to $FWCOURSE_GRADE_LOG
    "import json, os\nopen(os.environ.get('FWCOURSE_GRADE_LOG', 'log.jsonl'), 'a').write(json.dumps("
    "{'exercise': 'outer_product', 'status': 'passed', 'message': 5}) + '\\n' + 'garbage\\n')",
    "outer_product = ex.outer_product.check(outer_product)",  # a second check passes: it gets the reference
    "ex.outer_product.check(ex.outer_product.reference)",
    "from fwcourse.course import check\ncheck.Exercise._compare = lambda self, got, expected: None\n"
    "ex.outer_product.check(lambda v, k: 0)",
]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    if NO_SANDBOX:
        pytest.skip(f"no bubblewrap sandbox here: {NO_SANDBOX}")
    folder = tmp_path_factory.mktemp("submissions")
    teacher = tmp_path_factory.mktemp("teacher")
    (teacher / "secret.txt").write_text("TOPSECRET")
    token = f"fwtest-escapee-{time.time_ns()}"
    snoop = (f"CLASSMATE, SECRET_FILE, TOKEN = {str(folder / 'classmate.ipynb')!r}, "
             f"{str(teacher / 'secret.txt')!r}, {token!r}" + SNOOP)
    bad_metadata = _exercise_only(SOLVED)
    bad_metadata.metadata["fwcourse"] = "x"
    notebooks = {
        # its forgeries, then a snoop around, before its classmate is graded
        "hostile": _exercise_only(extra=[*FORGERIES, snoop]),
        "classmate": _learner(solved=True),
        "botched": _exercise_only("return v[:, None] * k[None, :] + 1e-3"),
        "reference": _exercise_only("return ex.outer_product.reference(v, k)"),
        "stubborn": _exercise_only(STUBBORN, check=False),
        "06_misnamed": _exercise_only(SOLVED),
        "bad_metadata": bad_metadata,
    }
    paths = []
    for name, nb in notebooks.items():
        paths.append(folder / f"{name}.ipynb")
        nbformat.write(nb, paths[-1])
    paths.append(folder / "corrupt.ipynb")
    paths[-1].write_text('{"cells": [ this is not json')
    out_csv = teacher / "grades.csv"
    proc = _grade(*paths, "--csv", out_csv, "--timeout", 120, env={"FWTEST_SECRET": "hunter2"})
    blocks = {name: next(b for b in proc.stdout.split("\n== ") if b.lstrip("= ").startswith(str(folder / name)))
              for name in [*notebooks, "corrupt"]}
    return dict(proc=proc, blocks=blocks, folder=folder, csv=out_csv, token=token)


def test_only_solving_scores(batch):
    blocks = batch["blocks"]
    assert "score: 1/1" in blocks["classmate"] and "run: completed" in blocks["classmate"]
    assert "score: 1/1" in blocks["06_misnamed"]
    assert "score: 0/1" in blocks["botched"] and "wrong_values" in blocks["botched"]
    for name in ("hostile", "reference", "stubborn"):
        assert "score: 0/1" in blocks[name], blocks[name]


def test_what_the_kernel_writes_or_checks_itself_does_not_count(batch):
    hostile = batch["blocks"]["hostile"]
    assert "not_attempted" in hostile and "Replace the `raise NotImplementedError`" in hostile
    assert "run: completed" in hostile and "RuntimeError: SAW" in hostile  # it ran all its forgeries, to no effect


def test_calling_the_reference_is_reported_as_such(batch):
    assert "uses_reference" in batch["blocks"]["reference"]
    assert "it uses ex, imported from fwcourse.course.exercises" in batch["blocks"]["reference"]


def test_a_submission_cannot_touch_a_classmate_the_teacher_or_the_network(batch):
    snoop = batch["blocks"]["hostile"]
    assert "SAW delete:FileNotFoundError secret:FileNotFoundError net:OSError env=None" in snoop
    assert (batch["folder"] / "classmate.ipynb").exists()
    assert "TOPSECRET" not in batch["proc"].stdout and "hunter2" not in batch["proc"].stdout


def test_no_process_outlives_its_submission(batch):
    assert _processes_with(batch["token"]) == []


def test_the_time_limit_holds_against_a_function_that_fights_it(batch):
    stubborn = batch["blocks"]["stubborn"]
    assert "timeout" in stubborn and "did not finish within 10 s" in stubborn


def test_identity_comes_from_the_metadata_and_a_bad_file_does_not_stop_the_batch(batch):
    blocks = batch["blocks"]
    assert "note: the file name says notebook 06, its metadata says 00: graded as notebook 00" in blocks["06_misnamed"]
    assert "not graded: unknown notebook: metadata fwcourse is 'x'" in blocks["bad_metadata"]
    assert "not graded: corrupt: not a valid notebook" in blocks["corrupt"]
    assert batch["proc"].returncode == 1, batch["proc"].stderr  # some files could not be graded


def test_the_record_is_complete_one_line_per_student_and_in_the_csv(batch):
    summary = batch["proc"].stdout.split("\nSummary (8 of 8 files):\n")[1].splitlines()
    assert [line.split(": ", 1)[1] for line in summary[:3]] == ["0/1 (notebook 00)", "1/1 (notebook 00)",
                                                                 "0/1 (notebook 00)"]
    assert summary[-1].startswith("Wrote ") and "not graded (corrupt" in summary[-2]
    rows = list(csv.DictReader(batch["csv"].open()))
    assert [Path(r["file"]).stem for r in rows] == [Path(b).stem for b in batch["blocks"]]
    by_name = {Path(r["file"]).stem: r for r in rows}
    assert by_name["classmate"]["status"] == "passed" and by_name["classmate"]["score"] == "1"
    assert by_name["reference"]["status"] == "uses_reference"
    assert by_name["corrupt"]["outcome"] == "corrupt" and by_name["06_misnamed"]["detail"].startswith("the file name")


def test_a_message_is_never_cut(batch):
    verdict = batch["blocks"]["botched"].split("wrong_values")[1].split("\n")[0]
    assert verdict.strip().startswith("Max abs error") and verdict.endswith("|error| <= 1e-08 + 1e-06*|expected|.")


@needs_sandbox
def test_a_notebook_that_runs_too_long_is_stopped_and_still_graded(tmp_path):
    looping = tmp_path / "looping.ipynb"
    nbformat.write(_exercise_only(SOLVED, extra=["while True:\n    pass", "print('never reached')"]), looping)
    proc = _grade(looping, "--timeout", 3)
    assert "run: timeout: stopped after 3 s" in proc.stdout and "score: 1/1" in proc.stdout
    assert proc.returncode == 0  # every file graded


@needs_sandbox
def test_an_interrupted_batch_keeps_what_was_graded(tmp_path):
    token = f"fwtest-interrupted-{time.time_ns()}"
    first, slow = tmp_path / "first.ipynb", tmp_path / "slow.ipynb"
    first.write_text("not a notebook")  # graded at once, as not gradable
    nbformat.write(_exercise_only(extra=[f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', "
                                         f"'import time; time.sleep(900)', {token!r}])"]), slow)
    out_csv = tmp_path / "grades.csv"
    proc = subprocess.Popen([sys.executable, "-m", "fwcourse", "grade", str(first), str(slow), "--csv", str(out_csv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 900
    while not _processes_with(token) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert _processes_with(token), "the slow notebook never started"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted; 1 of 2 files graded, in " in stderr
    assert "first.ipynb: not graded (corrupt" in stdout.split("Summary (1 of 2 files):")[1]
    assert [r["file"] for r in csv.DictReader(out_csv.open())] == [str(first)]
    time.sleep(0.5)
    assert _processes_with(token) == []


def test_command_line_mistakes_are_one_line_and_never_overwrite_a_submission(tmp_path, capsys):
    submission = tmp_path / "alice.ipynb"
    nbformat.write(_exercise_only(SOLVED), submission)
    before = submission.read_bytes()
    for args, message in [(["x.ipynb", "--timeout", "-1"], "--timeout must be a positive"),
                          (["x.ipynb", "--memory", "0.1"], "--memory must be at least"),
                          (["--csv", submission, tmp_path / "bob.ipynb"], "refusing to write a CSV over a notebook"),
                          ([submission, "--csv", submission.with_suffix(".IPYNB")], "over a notebook"),
                          ([tmp_path / "grades", "--csv", tmp_path / "grades"], "overwrite one of the submissions"),
                          (["x.ipynb", "--csv", tmp_path / "no" / "g.csv"], "does not exist")]:
        with pytest.raises(SystemExit) as stop:
            cli.main(["grade", *map(str, args)])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and message in err and err.count("\n") == 1, (args, err)
    assert submission.read_bytes() == before


def test_without_a_sandbox_the_grader_refuses_unless_told(tmp_path):
    corrupt = tmp_path / "corrupt.ipynb"
    corrupt.write_text("not a notebook")
    proc = _grade(corrupt, env={"PATH": str(tmp_path)})  # no bwrap on this PATH
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "no sandbox" in proc.stderr and "--no-sandbox" in proc.stderr

    disguised = tmp_path / "disguised.ipynb"
    body = "import importlib\nreturn importlib.import_module('fwc' + 'ourse.associative_memory').outer_product(v, k)"
    nbformat.write(_exercise_only(body, check=False), disguised)
    proc = _grade(disguised, corrupt, tmp_path / "missing.ipynb", "--no-sandbox", "--timeout", 120,
                  env={"PATH": str(tmp_path)})
    assert proc.stderr.splitlines()[0].startswith("python -m fwcourse grade: --no-sandbox: the submissions run as you")
    assert "uses_reference" in proc.stdout and "score: 0/1" in proc.stdout  # the reference is hidden anyway
    assert "not graded: not found" in proc.stdout and proc.returncode == 1
