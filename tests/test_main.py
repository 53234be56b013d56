"""CLI dispatch (``python -m fwcourse COMMAND``): the help lists every command, an unknown command is
one line and exit 2, and every command's module has a ``main(argv)`` that gets the rest of the line.

The command modules are read with ``ast``, not imported: several import TensorFlow."""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import types

import pytest

from fwcourse import __main__ as cli


def test_help_lists_every_command_with_its_description(capsys):
    for argv in ([], ["--help"], ["-h"], ["help"]):
        assert cli.main(argv) == 0
        out = capsys.readouterr().out
        assert out == cli.usage() + "\n"
        for command, (_, description) in cli.COMMANDS.items():
            assert any(line.split()[:1] == [command] and description in line for line in out.splitlines()), command


def test_an_unknown_command_is_one_line_and_exit_2(capsys):
    assert cli.main(["nope", "--x"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "unknown command 'nope'" in captured.err and "--help" in captured.err


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_each_command_module_exists_and_defines_main_taking_argv(command):
    spec = importlib.util.find_spec(cli.COMMANDS[command][0])
    assert spec is not None and spec.origin, command
    tree = ast.parse(open(spec.origin, encoding="utf-8").read())
    [main] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    params = main.args.args
    assert len(params) == 1 and main.args.defaults, f"{command}: main(argv=None) expected"


def test_dispatch_passes_the_rest_of_the_line_and_returns_mains_status(monkeypatch):
    calls = []
    fake = types.ModuleType("fwcourse_fake_command")
    fake.main = lambda argv: calls.append(argv) or (3 if argv else None)
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    monkeypatch.setitem(cli.COMMANDS, "fake", (fake.__name__, "a fake command"))
    assert cli.main(["fake", "--a", "1"]) == 3
    assert cli.main(["fake"]) == 0
    assert calls == [["--a", "1"], []]


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    fake = types.ModuleType("fwcourse_fake_interrupted")

    def interrupted(argv):
        raise KeyboardInterrupt
    fake.main = interrupted
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    monkeypatch.setitem(cli.COMMANDS, "fake", (fake.__name__, "a fake command"))
    assert cli.main(["fake"]) == 130
    assert capsys.readouterr().err == "fwcourse fake: interrupted.\n"


def test_a_stop_inside_a_command_says_how_to_resume(monkeypatch, capsys):
    from fwcourse.util.cli import stop_hint

    fake = types.ModuleType("fwcourse_fake_resumable")

    def interrupted(argv):
        with stop_hint("run the same command again to resume"):
            raise KeyboardInterrupt
    fake.main = interrupted
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    monkeypatch.setitem(cli.COMMANDS, "fake", (fake.__name__, "a fake command"))
    assert cli.main(["fake"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "fwcourse fake: interrupted; run the same command again to resume\n"


def test_an_invalid_scale_is_one_line_before_any_command_is_imported(monkeypatch, capsys):
    monkeypatch.setenv("FWCOURSE_SCALE", "huge")
    monkeypatch.setitem(cli.COMMANDS, "fake", ("fwcourse_no_such_module", "never imported"))
    assert cli.main(["fake", "--help"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "fwcourse fake: FWCOURSE_SCALE='huge' is not a scale; valid values are quick, default, full.\n"


def test_python_dash_m_fwcourse_runs_the_dispatcher():
    """One real process: the module entry point (cheap: no command module is imported)."""
    ok = subprocess.run([sys.executable, "-m", "fwcourse", "--help"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "build-notebooks" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "fwcourse", "nope"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_help_shows_docstring_descriptions_without_rst_markup(capsys):
    from fwcourse.__main__ import main

    for command in ("grade", "train-lm"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "``" not in out and "python -m fwcourse" in out
