"""fwcourse.util.envinfo: the environment report, the one GPU test, the machine line."""
from __future__ import annotations

import platform
import sys
import types

import pytest

from fwcourse.util import envinfo


def test_versions_name_every_package_and_say_when_one_is_missing(monkeypatch):
    monkeypatch.setattr(envinfo, "PACKAGES", ("numpy", "surely-not-a-package-fwcourse"))
    found = envinfo.versions()
    import numpy

    assert found == {"numpy": numpy.__version__, "surely-not-a-package-fwcourse": "not installed"}


def test_report_without_devices_has_the_scale_and_every_package(monkeypatch):
    monkeypatch.setenv("FWCOURSE_SCALE", "default")
    info = envinfo.report(with_devices=False)
    assert info["scale"] == "default" and info["python"] == platform.python_version()
    assert set(envinfo.PACKAGES) <= set(info) and "gpus" not in info
    text = envinfo.format_report(info)
    lines = text.splitlines()
    assert len(lines) == len(info)
    # one aligned column of values
    assert len({line.index(str(value), len(key)) for line, (key, value) in zip(lines, info.items())}) == 1


def test_report_with_devices_says_none_on_a_cpu(monkeypatch):
    monkeypatch.setattr(envinfo, "accelerators", lambda: [])
    assert envinfo.report()["gpus"] == "none (running on the CPU)"
    monkeypatch.setattr(envinfo, "accelerators", lambda: ["A", "B"])
    assert envinfo.report()["gpus"] == "A, B"


def test_main_takes_no_options_and_prints_the_report(monkeypatch, capsys):
    assert envinfo.main(["--verbose"]) == 2
    assert "takes no options" in capsys.readouterr().err
    monkeypatch.setattr(envinfo, "accelerators", lambda: [])
    assert envinfo.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("python") and "scale" in out and "none (running on the CPU)" in out


class _JaxDevice:
    def __init__(self, platform, kind):
        self.platform, self.device_kind = platform, kind


def test_visible_gpus_under_jax_keeps_gpus_only(monkeypatch):
    """The one GPU test: a JAX CPU or TPU device is not a GPU."""
    import keras

    devices = [_JaxDevice("cpu", "cpu"), _JaxDevice("gpu", "H100"), _JaxDevice("tpu", "v5e")]
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(devices=lambda: devices))
    assert envinfo.visible_gpus() == [devices[1]]
    assert envinfo.accelerators() == ["H100"]


def test_visible_gpus_on_another_backend_is_empty(monkeypatch):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "numpy")
    assert envinfo.visible_gpus() == []


def test_usable_cores_and_cpu_name():
    assert 1 <= envinfo.usable_cores() <= (__import__("os").cpu_count() or 1)
    assert envinfo.cpu_name().strip() and "\n" not in envinfo.cpu_name()


@pytest.mark.parametrize("with_keras", [False, True])
def test_machine_is_one_line_that_says_cores_python_and_keras_when_asked(with_keras, monkeypatch):
    monkeypatch.setattr(envinfo, "accelerators", lambda: [])
    line = envinfo.machine(with_keras=with_keras)
    assert "\n" not in line
    assert f"{envinfo.usable_cores()} CPU core(s) usable" in line
    assert f"Python {platform.python_version()}" in line
    if with_keras:
        import keras

        assert f"Keras {keras.__version__} ({keras.backend.backend()} backend)" in line and "no GPU" in line
    else:
        assert "Keras" not in line and "GPU" not in line


def test_machine_can_leave_out_only_the_backend(monkeypatch):
    import keras

    monkeypatch.setattr(envinfo, "accelerators", lambda: [])
    line = envinfo.machine(with_backend=False)
    assert line.endswith(f"Keras {keras.__version__}") and "backend" not in line and "no GPU" in line
