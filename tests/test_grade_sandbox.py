"""The grader's sandbox and its isolated calls, attacked the way a hostile student would.

Needs bubblewrap (Debian's ``bubblewrap``); without it these tests skip (the answers' decoding,
which needs no sandbox, is tested anyway)."""
import base64
import importlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from fwcourse.course import check, sandbox
from fwcourse.course.call_runner import encode
from fwcourse.course.exercises import nb00, nb06
from fwcourse.course.extract import extract
from fwcourse.course.isolated_call import _Garbled, decode, failure, isolated_function
from fwcourse.course.sandbox import Sandbox

NO_SANDBOX = sandbox.unavailable()


def _pickled_array() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


PICKLED = _pickled_array()


@pytest.fixture
def jail(tmp_path):
    if NO_SANDBOX:
        pytest.skip(f"no bubblewrap sandbox here: {NO_SANDBOX}")
    return Sandbox(2 ** 30, hidden=[tmp_path / "teacher"])


def _processes_with(token: str) -> list[str]:
    """Processes (or threads, by name) anywhere on the machine whose command line or name holds ``token``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/task/[0-9]*"):
        try:
            text = (entry / "cmdline").read_bytes().decode(errors="replace") + (entry / "comm").read_text()
        except OSError:
            continue
        if token in text:
            found.append(entry.name)
    return found


PROBE = r"""
import json, os, socket
seen = {"uid": os.getuid(), "cwd": os.getcwd(), "env": os.environ.get("FWTEST_SECRET")}
for key, act in [("secret", lambda: open(SECRET).read()), ("delete", lambda: os.remove(CLASSMATE)),
                 ("net", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3)),
                 ("etc", lambda: open("/etc/fwtest", "w")), ("own", lambda: open("mine.txt", "w").write("x"))]:
    try:
        act()
        seen[key] = "done"
    except Exception as err:
        seen[key] = type(err).__name__
seen["root"] = sorted(os.listdir("/root"))
print(json.dumps(seen))
"""


def test_a_run_sees_its_own_folder_only(jail, tmp_path, monkeypatch):
    secret = tmp_path / "teacher" / "secret.txt"
    classmate = tmp_path / "teacher" / "classmate.ipynb"
    secret.parent.mkdir()
    secret.write_text("TOPSECRET")
    classmate.write_text("{}")
    monkeypatch.setenv("FWTEST_SECRET", "hunter2")
    work = jail.make_workdir(tmp_path / "work")
    code = f"SECRET, CLASSMATE = {str(secret)!r}, {str(classmate)!r}\n" + PROBE
    with jail.start([sys.executable, "-I", "-c", code], work, stdout=subprocess.PIPE) as proc:
        seen = json.loads(proc.communicate(timeout=120)[0])
    assert seen["secret"] == seen["delete"] == "FileNotFoundError"  # the teacher's folder is not there
    assert classmate.exists() and seen["env"] is None
    assert seen["net"] in ("OSError", "TimeoutError") and seen["etc"] in ("OSError", "PermissionError")
    assert seen["own"] == "done" and (work / "mine.txt").exists() and seen["cwd"] == str(sandbox.WORKDIR)
    assert seen["root"] in ([], [".pyenv"])  # the home is empty but for a Python installed there
    if sandbox._as_root():
        assert seen["uid"] == 65534


def test_every_process_a_run_starts_dies_with_it(jail, tmp_path):
    token = f"fwtest-escape-{time.time_ns()}"
    code = ("import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {token!r}],\n"
            "                 start_new_session=True)\n"
            "print('started', flush=True)\ntime.sleep(600)")
    with jail.start([sys.executable, "-c", code], jail.make_workdir(tmp_path / "w"), stdout=subprocess.PIPE) as proc:
        assert proc.stdout.readline() == b"started\n"
        assert _processes_with(token)
    time.sleep(0.5)
    assert _processes_with(token) == []


def _calls(jail, tmp_path, body, seconds=2.0, prelude=""):
    """The verdict on nb00's exercise for a learner's function with ``body``, called in isolation."""
    source = f"import numpy as np\n{prelude}\ndef outer_product(v, k):\n" + "\n".join(
        "    " + line for line in body.splitlines())
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    start = time.monotonic()
    with isolated_function(extract(nb, "outer_product").chunks, "outer_product", seconds, jail,
                           jail.make_workdir(tmp_path / f"w{time.time_ns()}")) as func:
        result = nb00.outer_product.run(func)
    return result, time.monotonic() - start


def test_an_honest_function_passes_and_a_wrong_one_does_not(jail, tmp_path):
    assert _calls(jail, tmp_path, "print('debugging')\nreturn v[:, None] * k[None, :]")[0].passed
    assert _calls(jail, tmp_path, "return np.outer(k, v)")[0].status == check.WRONG_SHAPE
    assert _calls(jail, tmp_path, "raise NotImplementedError")[0].status == check.NOT_ATTEMPTED
    result = _calls(jail, tmp_path, "return v[:, None] * k[None, :] * S.matrix_size")[0]
    assert result.status == check.ERROR and "NameError" in result.message and "imports, functions" in result.message


@pytest.mark.parametrize("body", [
    "import time\nwhile True:\n    try:\n        time.sleep(0.01)\n    except BaseException:\n        pass",
    "import signal\nsignal.setitimer(signal.ITIMER_REAL, 0)\nwhile True:\n    pass",
    "import signal\nfor s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):\n    signal.signal(s, signal.SIG_IGN)\n"
    "while True:\n    pass",
], ids=["swallowed", "timer cleared", "signals ignored"])
def test_the_time_limit_cannot_be_defeated(jail, tmp_path, body):
    result, seconds = _calls(jail, tmp_path, body, seconds=1.0)
    assert result.status == check.TIMEOUT and seconds < 30


def test_a_thread_the_function_leaves_behind_dies_with_the_check(jail, tmp_path):
    token = f"fwburn{time.time_ns() % 10 ** 9}"[:15]  # a thread's name holds 15 characters
    prelude = ("import ctypes, threading\n"
               "def burn():\n"
               f"    ctypes.CDLL(None).prctl(15, {token.encode()!r}, 0, 0, 0)\n"
               "    while True:\n        pass\n")
    body = "threading.Thread(target=burn, daemon=False).start()\nreturn v[:, None] * k[None, :]"
    assert _calls(jail, tmp_path, body, prelude=prelude)[0].passed
    time.sleep(0.5)
    assert _processes_with(token) == []


def test_memory_is_limited(jail, tmp_path):
    result = _calls(jail, tmp_path, "blob = bytearray(3 * 2**30)\nreturn v[:, None] * k[None, :]")[0]
    assert result.status == check.ERROR and "MemoryError" in result.message


def test_the_reference_is_not_there_to_call_even_in_disguise(jail, tmp_path):
    body = "import importlib\nreturn importlib.import_module('fwc' + 'ourse.associative_memory').outer_product(v, k)"
    result = _calls(jail, tmp_path, body)[0]
    assert result.status == check.USES_REFERENCE and "fwcourse" in result.message


QUADRATIC = """def chunked_attention(q, k, v, chunks):
    return np.tril(q @ k.T, k=-1) @ v"""


def test_a_check_that_measures_memory_measures_the_learners_process(jail, tmp_path):
    """Notebook 06 wants O(T·C) memory, not the T × T scores: its check's tracemalloc sees the
    allocations of the function's own process."""
    exercise = nb06.chunked_attention
    worked = importlib.import_module("fwcourse.course.exercises._solutions").SOLUTIONS["06"][exercise.name]
    for source, status in [(worked, check.PASSED), (QUADRATIC, check.WRONG_VALUES)]:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("import numpy as np\n" + source)]
        with isolated_function(extract(nb, exercise.name).chunks, exercise.name, exercise.timeout, jail,
                               jail.make_workdir(tmp_path / status)) as func:
            result = exercise.run(func)
        assert result.status == status, result
    assert "not the cost" in result.message


def test_forged_answers_and_failures_to_define_are_errors(jail, tmp_path):
    forged = "import os\nfor fd in range(3, 30):\n    try:\n        os.write(fd, b'{\"value\": 5}\\n')\n" \
             "    except OSError:\n        pass\nreturn v[:, None] * k[None, :]"
    assert _calls(jail, tmp_path, forged)[0].status == check.ERROR
    result = _calls(jail, tmp_path, "return no_such_module_here.f(v)", prelude="import no_such_module_here")[0]
    assert result.status == check.ERROR and "Defining the function failed" in result.message
    result = _calls(jail, tmp_path, "import os\nos._exit(3)")[0]
    assert result.status == check.ERROR and "exited (status 3)" in result.message
    result = _calls(jail, tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")[0]
    assert result.status == check.ERROR and "killed by signal 11" in result.message


@pytest.mark.parametrize("message", [
    5, "x", {}, {"npy": "!!!"}, {"npy": 5}, {"seq": "tuple", "items": 5}, {"seq": "set", "items": []},
    {"npy": base64.b64encode(PICKLED).decode()},  # an object array: loading it would unpickle
])
def test_garbled_answers_are_refused(message):
    """Nothing the checking process sends is trusted, least of all a pickle."""
    with pytest.raises(_Garbled):
        decode(message)


def test_answers_decode_to_what_the_comparison_expects():
    assert decode({"seq": "tuple", "items": [{"none": True}, {"ellipsis": True}]}) == (None, Ellipsis)
    weird = decode({"object": "not an identifier!"})
    assert type(weird).__name__ == "object_"
    assert type(decode({"object": "dict"})).__name__ == "dict" and not isinstance(decode({"object": "dict"}), dict)
    raised = failure({"type": "ValueError", "exception": "ValueError: x" + "y" * 10 ** 5,
                      "frames": [["<cell 3>", 2, "f", "return 1/0"]], "not_attempted": False, "package": False})
    assert raised.status == check.ERROR and "<cell 3>" in raised.detail and len(raised.detail) < 3000
    assert isinstance(failure({"not_attempted": True}), NotImplementedError)
    with pytest.raises(_Garbled):
        failure({"frames": "no", "exception": "x"})
    assert np.array_equal(decode(_encoded(np.arange(3))), np.arange(3))


def _encoded(value):
    return json.loads(json.dumps(encode(value)))
