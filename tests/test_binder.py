"""binder/ must describe the same environment as requirements.txt (with the CPU-only TensorFlow)."""
import os
import re
import subprocess
import sys
import time

import pytest

from fwcourse.course.build_notebooks import repo_root

ROOT = repo_root()


def _pins(path):
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert match, f"{path.name}: {line!r} is not an exact pin"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_binder_pins_agree_with_requirements():
    main = _pins(ROOT / "requirements.txt")
    binder = _pins(ROOT / "binder" / "requirements.txt")
    assert binder.pop("tensorflow-cpu") == main.pop("tensorflow")
    assert binder == main


def test_binder_uses_python_311_and_installs_fwcourse():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post = ROOT / "binder" / "postBuild"
    assert "pip install" in post.read_text() and post.stat().st_mode & 0o111


def _pypi_reachable() -> bool:
    import urllib.request

    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/")
    try:
        urllib.request.urlopen(index.rstrip("/") + "/pip/", timeout=10)
        return True
    except OSError:
        return False


def _peak_tree_rss(proc: subprocess.Popen, every: float = 0.1) -> int:
    """Peak of the summed resident memory of ``proc`` and all its descendants (the kernel), bytes."""
    import psutil

    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                total += p.memory_info().rss
        except psutil.Error:  # a process ended while we looked
            pass
        peak = max(peak, total)
        time.sleep(every)
    return peak


def test_binder_environment_alone_runs_notebook_00_in_under_2_gb(tmp_path):
    """Build the environment as Binder does, from binder/ alone, and run notebook 00 in it."""
    if not _pypi_reachable():
        pytest.skip("the package index is not reachable: cannot build the Binder environment")
    venv = tmp_path / "binder-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    env.pop("FWCOURSE_SCALE", None)  # binder/start chooses it
    for cmd in (["pip", "install", "-q", "-r", "binder/requirements.txt"], ["bash", "binder/postBuild"]):
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}"
    run = ("import nbformat, nbclient, fwcourse, os; "
           "nb = nbformat.read('notebooks/00_start_here.ipynb', as_version=4); "
           "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3').execute(); "
           "print('scale', os.environ['FWCOURSE_SCALE'], 'cells', len(nb.cells))")
    proc = subprocess.Popen(["bash", "binder/start", "python", "-c", run], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = _peak_tree_rss(proc)
    out, err = proc.communicate()
    assert proc.returncode == 0, f"notebook 00 failed in the Binder environment:\n{err[-3000:]}"
    assert "scale quick" in out
    print(f"Binder environment: notebook 00 ran at a peak of {peak / 2**20:.0f} MiB")
    assert peak < 2 * 2**30, f"notebook 00 peaked at {peak / 2**30:.2f} GiB, over Binder's 2 GB"
