"""Run untrusted code (a learner's notebook, a learner's function) in a sandbox with limits.

:class:`Sandbox` starts a command the way ``python -m fwcourse grade`` runs a submission:

* **With bubblewrap** (``bwrap``, Debian's ``bubblewrap``): new mount, PID, network, IPC and UTS
  namespaces. The system is visible read-only. ``/root``, ``/home``, ``/tmp``, ``/var/tmp``,
  ``/run``, ``/mnt``, ``/media``, ``/srv`` and every folder the caller names (the submissions', the
  CSV's, the current folder) are replaced by empty folders, and every file it names (the
  submissions) that is still in sight reads as empty; Python, its packages and (unless
  ``hide_course``) the course checkout are put back, read-only. The only writable places are the
  run's own folder, seen at :data:`WORKDIR`, and a private ``/tmp`` in memory. There is no network
  (a loopback of its own only). Started by root, the code runs as ``nobody``, with no
  capabilities; started by anyone else, it runs as that user in a user namespace.
* **Limits**, per process: private memory (``RLIMIT_DATA``: the heap and private mappings, which is
  what NumPy and TensorFlow allocate; unlike ``RLIMIT_AS`` it does not count the address space
  TensorFlow reserves without using), the size of any file it writes and of the private ``/tmp``,
  no core dumps and, run as ``nobody``, a cap on the number of its processes.
* **One kill**: when the run ends, its process group is killed; with bubblewrap the PID namespace
  dies with its first process, which takes every process the code started (even one in a session of
  its own), and the sandbox dies with its parent.
* **Without bubblewrap** (``isolated=False``, the grader's ``--no-sandbox``): the same limits, a
  clean environment, its own folder and the group kill, nothing else: the code runs as the caller,
  sees the caller's files and network, and a process that leaves the group survives.
"""
from __future__ import annotations

import contextlib
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import fwcourse

WORKDIR = Path("/tmp/work")  # where the run's own folder appears inside the sandbox

_HIDDEN = ("/root", "/home", "/tmp", "/var/tmp", "/run", "/mnt", "/media", "/srv")
_NOBODY = 65534
_MAX_PROCESSES = 4096  # threads count: TensorFlow starts a few dozen per process
# Settings that shape how libraries run, never secrets: the only variables passed through.
_PASSED_ENV = ("LANG", "LC_ALL", "TZ", "KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "OMP_NUM_THREADS")


def _as_root() -> bool:
    return os.geteuid() == 0


def _namespace_args() -> list[str]:
    """bwrap's namespace options, and the command prefix that drops root (empty for other users)."""
    common = ["--die-with-parent", "--new-session"]
    if _as_root():
        # No user namespace: root inside one would still own root's files. Keep only the
        # capabilities setpriv needs to become nobody; it loses them when it does.
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", *common]
    return ["--unshare-all", *common]


def _drop_root() -> list[str]:
    if not _as_root():
        return []
    return [shutil.which("setpriv") or "setpriv", f"--reuid={_NOBODY}", f"--regid={_NOBODY}", "--clear-groups", "--"]


@functools.cache
def unavailable() -> str | None:
    """Why no bubblewrap sandbox can be made here, in a few words; None when one can."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    if _as_root() and shutil.which("setpriv") is None:
        return "setpriv (util-linux), needed to drop root inside the sandbox, is not installed"
    probe = [bwrap, *_namespace_args(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             *_drop_root(), "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap could not be run ({err})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"bwrap cannot create a sandbox here ({last})"
    return None


def _course_paths() -> set[Path]:
    """The installed package and the checkout beside it (an editable install's repository), with
    the folder by which the course finds its checkout, ``notebooks/src``: named on its own, it stays
    in sight when the submissions being graded are the checkout's own notebooks."""
    package = Path(fwcourse.__file__).resolve().parent
    paths = {package}
    if (package.parent / "notebooks" / "src").is_dir():
        paths |= {package.parent, package.parent / "notebooks" / "src"}
    return paths


def _python_paths() -> set[Path]:
    return {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}


def _depth(path: Path) -> int:
    return len(path.parts)


class Sandbox:
    """How untrusted commands are started: isolated with bubblewrap, or only limited.

    Args:
        memory_bytes: the most private memory one process may use, and the largest file it may write.
        hidden: folders and files the code must not see (the submissions, the CSV's folder, the
            current folder), besides the homes, ``/tmp`` and ``/run``.
        isolated: use bubblewrap (see :func:`unavailable`); False runs the code as the caller.
    """

    def __init__(self, memory_bytes: int, hidden: Sequence[Path] = (), isolated: bool = True) -> None:
        if memory_bytes < 2 ** 26:
            raise ValueError(f"memory_bytes must be at least 64 MiB; got {memory_bytes}.")
        if isolated and unavailable():
            raise RuntimeError(f"no sandbox: {unavailable()}")
        self.memory_bytes = int(memory_bytes)
        self.isolated = isolated
        resolved = [Path(p).resolve() for p in hidden]
        self._hidden_dirs = {p for p in resolved if p.is_dir()}
        self._hidden_files = sorted({p for p in resolved if p.is_file()})

    def make_workdir(self, path: Path) -> Path:
        """Create the folder ``path`` for the sandboxed code to write in; its parent, which holds the
        grader's own files, becomes traversable but not listable. Returns ``path``."""
        path = Path(path)
        path.mkdir()
        if self.isolated and _as_root():
            os.chmod(path.parent, 0o711)
            os.chown(path, _NOBODY, _NOBODY)
        return path

    def share(self, path: Path) -> None:
        """Let the sandboxed code read (and rewrite) ``path``, a file the grader put in a workdir."""
        if self.isolated and _as_root():
            os.chown(path, _NOBODY, _NOBODY)

    def _mounts(self, workdir: Path, hide_course: bool) -> list[str]:
        hide = {Path(p) for p in _HIDDEN if Path(p).is_dir() and not Path(p).is_symlink()}
        hide |= self._hidden_dirs
        expose = _python_paths()
        if hide_course:
            hide |= _course_paths()
        else:
            expose |= _course_paths()
        hide.discard(Path("/"))

        def covered(path: Path) -> bool:
            """Whether ``path`` lies in a hidden folder once every mount is in place."""
            marks = [(_depth(m), m in expose) for m in hide | expose if m == path or m in path.parents]
            return bool(marks) and not max(marks)[1]

        # A deeper mount covers a shallower one: hiding a submissions folder inside the checkout and
        # putting Python back inside a hidden home both come out right. At equal depth, exposing wins.
        operations = sorted([(p, True) for p in hide] + [(p, False) for p in expose],
                            key=lambda op: (_depth(op[0]), not op[1], str(op[0])))
        args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        made: set[Path] = set()
        for path, hidden in operations:
            if hidden:
                size = ["--perms", "1777", "--size", str(self.memory_bytes)] if path == Path("/tmp") else []
                args += [*size, "--tmpfs", str(path)]
                continue
            # bwrap would make the folders leading to it in a hidden one private to root: make them
            # traversable, or a sandbox run as nobody cannot reach Python.
            for folder in reversed(path.parents):
                if folder not in made and folder not in hide and covered(folder):
                    args += ["--perms", "0755", "--dir", str(folder)]
                    made.add(folder)
            args += ["--ro-bind", str(path), str(path)]
        for path in self._hidden_files:
            if not covered(path):
                args += ["--ro-bind", "/dev/null", str(path)]
        return args + ["--bind", str(workdir), str(WORKDIR), "--chdir", str(WORKDIR)]

    def _environment(self, workdir: Path, extra: Mapping[str, str]) -> dict[str, str]:
        """The whole environment of the code: a few passed-through settings, a home, ``extra``."""
        env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
        home = "/tmp" if self.isolated else str(workdir)
        env.update(PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin", HOME=home, TMPDIR=home)
        env.setdefault("LANG", "C.UTF-8")
        env.update(extra)
        return env

    def _command(self, argv: Sequence[str], workdir: Path, env: Mapping[str, str], hide_course: bool) -> list[str]:
        """The full command line that runs ``argv`` in this sandbox (``argv`` itself without one)."""
        if not self.isolated:
            return list(argv)
        env_args = ["--clearenv"] + [a for k, v in env.items() for a in ("--setenv", k, v)]
        return [shutil.which("bwrap") or "bwrap", *_namespace_args(), *self._mounts(workdir, hide_course),
                *env_args, *_drop_root(), *argv]

    def _set_limits(self) -> None:  # runs in the child between fork and exec
        limit = self.memory_bytes
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self.isolated and _as_root():  # counted for nobody only: the caller's own processes do not count
            resource.setrlimit(resource.RLIMIT_NPROC, (_MAX_PROCESSES, _MAX_PROCESSES))

    @contextlib.contextmanager
    def start(self, argv: Sequence[str], workdir: Path, env: Mapping[str, str] | None = None,
              hide_course: bool = False, **popen) -> Iterator[subprocess.Popen]:
        """Start ``argv`` in ``workdir`` (seen as :data:`WORKDIR` when isolated) with the variables
        ``env`` on top of a few passed-through settings (``LANG``, ``KERAS_BACKEND``, ...), a home and
        ``PATH``; nothing else of the caller's environment. ``hide_course`` also hides the fwcourse package and its
        checkout. On leaving the block, everything the command started is killed.

        ``popen`` goes to :class:`subprocess.Popen` (``stdin``, ``stdout``, ``stderr``).
        """
        full_env = self._environment(workdir, env or {})
        proc = subprocess.Popen(
            self._command(argv, workdir, full_env, hide_course),
            cwd=workdir, env=full_env if not self.isolated else {"PATH": "/usr/bin:/bin"},
            start_new_session=True, preexec_fn=self._set_limits, **popen)
        try:
            yield proc
        finally:
            _kill(proc)


def _kill(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s whole process group (it leads one) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
