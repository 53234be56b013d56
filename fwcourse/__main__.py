"""Command line: ``python -m fwcourse COMMAND [...]``; ``python -m fwcourse --help`` lists them."""
from __future__ import annotations

import importlib
import sys

# command -> (module, one-line description); modules are imported only when their command runs,
# so that `grade` or `build-notebooks` never pays for TensorFlow.
COMMANDS = {
    "grade": ("fwcourse.course.grade", "execute submitted notebooks and score their exercises"),
    "build-notebooks": ("fwcourse.course.build_notebooks", "regenerate learner and solution notebooks"),
    "env": ("fwcourse.util.envinfo", "print the environment report (versions, CPU/GPU, backend)"),
    "reproduce": ("fwcourse.experiments.ba2016.cli", "reproduce a paper's table: ba2016 (fast-weight RNN, associative retrieval)"),
    "train-nextword": ("fwcourse.experiments.nextword.train_cli", "train a next-word model (lstm|conv1d|fastweights|attention) with held-out scores"),
    "predict": ("fwcourse.experiments.nextword.predict_cli", "type a phrase, get the top-5 next words from a train-nextword model"),
    "compare-lm": ("fwcourse.experiments.lm_compare", "base LM vs FWL vs dynamic evaluation on held-out documents (notebook 06), to data/"),
    "corpus": ("fwcourse.data.corpus_cli", "describe the corpora (sizes, leaks removed, repeats) or download WikiText-2"),
    "readme": ("fwcourse.course.readme", "render the README's results section from data/*.json [--check]"),
    "train-lm": ("fwcourse.experiments.train_lm", "train the causal transformer LM [--fwl] on a long-document corpus"),
}


def usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: python -m fwcourse COMMAND [options]", "", "commands:"]
    lines += [f"  {c:<{width}}  {d}" for c, (_, d) in COMMANDS.items()]
    lines += ["", "python -m fwcourse COMMAND --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"fwcourse: unknown command {command!r}; `python -m fwcourse --help` lists the commands.",
              file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[command][0])
        return int(module.main(rest) or 0)
    except KeyboardInterrupt:  # Ctrl-C is the user's choice, not an error: one line, no traceback
        print(f"fwcourse {command}: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
