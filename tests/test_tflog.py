"""fwcourse.util.tflog: TensorFlow's C++ start-up log is quiet unless the user asks for it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fwcourse.util import tflog

# what TensorFlow 2.21 printed on stderr while starting on a CPU machine with CUDA libraries
STARTUP = """\
a line of someone else's, before any log line
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796026386.396764    7369 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.
I0000 00:00:1796026386.397161    7369 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796026386.456759    7369 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.
W0000 00:00:1796026389.292783    7369 gpu_device.cc:2342] Cannot dlopen some GPU libraries.
E0000 00:00:1796026390.087511    7369 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: UNKNOWN ERROR (303)
E0000 00:00:1796026390.087511    7369 some_op.cc:7] a real error
"""


TAGS = {"someone else": "other", "absl::InitializeLog": "banner", "oneDNN": "onednn", "cuda drivers": "cudart", "optimized to use": "cpu",
        "To enable the following": "cpu, line 2", "Cannot dlopen": "warning", "failed call to cuInit": "cuinit",
        "a real error": "error"}


def _kept(level: int) -> list[str]:
    return [next(tag for key, tag in TAGS.items() if key in line) for line in tflog.keep(STARTUP, level).splitlines()]


def test_level_0_keeps_everything():
    assert tflog.keep(STARTUP, 0) == STARTUP
    assert _kept(0) == list(TAGS.values())


def test_level_1_drops_info_with_its_continuation_and_the_banner():
    assert _kept(1) == ["other", "warning", "cuinit", "error"]


def test_level_2_drops_warnings_and_the_no_driver_notice_but_keeps_errors():
    assert _kept(2) == ["other", "error"]


def test_level_3_drops_errors_too_and_lines_not_continuing_a_dropped_message_are_kept():
    assert _kept(3) == ["other"]
    assert tflog.keep("plain text\n", 3) == "plain text\n"


def _start(level: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != tflog.LEVEL_VAR}
    if level is not None:
        env[tflog.LEVEL_VAR] = level
    code = "import fwcourse, os, tensorflow as tf; print(os.environ['TF_CPP_MIN_LOG_LEVEL'], tf.__name__)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)


def test_importing_fwcourse_first_quiets_tensorflow_and_a_users_level_is_kept():
    quiet = _start(None)
    assert quiet.returncode == 0 and quiet.stdout == "2 tensorflow\n"
    assert quiet.stderr == ""
    loud = _start("0")
    assert loud.returncode == 0 and loud.stdout == "0 tensorflow\n"
    if not loud.stderr:
        pytest.skip("TensorFlow prints nothing while starting on this machine")
    assert tflog.keep(loud.stderr, 2) == ""  # what it printed is what level 2 hides


def test_install_does_nothing_once_tensorflow_is_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    monkeypatch.delenv(tflog.LEVEL_VAR, raising=False)
    finders = list(sys.meta_path)
    tflog.install()
    assert tflog.LEVEL_VAR not in os.environ and sys.meta_path == finders


def test_a_notebook_whose_first_cell_imports_fwcourse_shows_no_tensorflow_log(monkeypatch):
    """The learner's view: every notebook's first cell imports fwcourse.course.config before any
    cell imports TensorFlow, and the kernel shows what C++ code writes to stderr in the cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from fwcourse.course import config"),
                nbformat.v4.new_code_cell("import tensorflow as tf\nprint(tf.config.list_physical_devices('CPU')[0].device_type)")]
    monkeypatch.delenv(tflog.LEVEL_VAR, raising=False)  # the kernel inherits the environment, as a learner's
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    outputs = [o for cell in nb.cells for o in cell.outputs]
    assert [(o.get("name"), o.get("text")) for o in outputs] == [("stdout", "CPU\n")]
