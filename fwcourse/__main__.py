"""Command line: ``python -m fwcourse COMMAND [...]``; ``python -m fwcourse --help`` lists them.

Importing :mod:`fwcourse` first keeps TensorFlow's C++ start-up log quiet (:mod:`fwcourse.util.tflog`).
A stop is one line on stderr, never a traceback: an invalid ``FWCOURSE_SCALE`` (exit 2), Ctrl-C
(exit 130) and a closed output pipe, e.g. ``| head`` (exit 141), each with how to resume where the
command says (:func:`fwcourse.util.cli.stop_hint`).
"""
from __future__ import annotations

import importlib
import os
import sys

from fwcourse.course import config

# command -> (module, one-line description); modules are imported only when their command runs,
# so that `grade` or `build-notebooks` never pays for TensorFlow.
COMMANDS = {
    "grade": ("fwcourse.course.grade", "execute submitted notebooks and score their exercises"),
    "build-notebooks": ("fwcourse.course.build_notebooks", "regenerate learner and solution notebooks"),
    "env": ("fwcourse.util.envinfo", "print the environment report (versions, CPU/GPU, backend)"),
    "reproduce": ("fwcourse.experiments.ba2016.cli", "reproduce a paper's table: ba2016 (fast-weight RNN, associative retrieval)"),
    "train-nextword": ("fwcourse.experiments.nextword.train_cli", "train a next-word model (lstm|conv1d|fastweights|attention) with held-out scores"),
    "predict": ("fwcourse.experiments.nextword.predict_cli", "type a phrase, get the top-5 next words from a train-nextword model"),
    "compare-lm": ("fwcourse.experiments.lm_compare", "base LM vs FWL vs dynamic evaluation on held-out documents (notebook 06), to --out"),
    "corpus": ("fwcourse.data.corpus_cli", "describe the corpora (sizes, leaks removed, repeats) or download WikiText-2"),
    "readme": ("fwcourse.course.readme", "render the README's results section from data/*.json [--check]"),
    "time-budget": ("fwcourse.course.time_budget", "time each notebook at the default scale; reading and exercise minutes, to --out"),
    "train-lm": ("fwcourse.experiments.train_lm", "train the causal transformer LM [--fwl] on a long-document corpus"),
}

EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 2, 130, 141  # 128 + SIGINT, 128 + SIGPIPE, as a shell reports them


def usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: python -m fwcourse COMMAND [options]", "", "commands:"]
    lines += [f"  {c:<{width}}  {d}" for c, (_, d) in COMMANDS.items()]
    lines += ["", "python -m fwcourse COMMAND --help shows a command's options."]
    return "\n".join(lines)


def _stopped(command: str, what: str, err: BaseException) -> None:
    hint = getattr(err, "resume_hint", None)
    print(f"fwcourse {command}: {what}{'; ' + hint if hint else '.'}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"fwcourse: unknown command {command!r}; `python -m fwcourse --help` lists the commands.",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        config.scale()  # checked once here: commands read it deep inside, some already for --help
    except ValueError as err:
        print(f"fwcourse {command}: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        module = importlib.import_module(COMMANDS[command][0])
        status = int(module.main(rest) or 0)
        sys.stdout.flush()  # here, where a closed pipe is reported, not at exit
        return status
    except KeyboardInterrupt as err:  # Ctrl-C is the user's choice, not an error: one line, no traceback
        _stopped(command, "interrupted", err)
        return EXIT_INTERRUPTED
    except BrokenPipeError as err:  # the reader went away (e.g. `| head`)
        try:  # stdout is closed for good: point it at devnull so that the exit's flush cannot fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # a stdout without a file descriptor (captured): nothing to flush
            pass
        _stopped(command, "stopped: its output was closed", err)
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
