"""binder/ must describe the same environment as requirements.txt (with the CPU-only TensorFlow)."""
import re

from fwcourse.build_notebooks import repo_root

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
