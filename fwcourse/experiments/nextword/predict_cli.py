"""``python -m fwcourse predict``: the student project's interactive loop, robust to what is typed or piped.

    Enter a 3 word phrase: We all love
    Top 5 possible words: to (9.1%), the (4.0%), ...

"0" quits, as in the student project. A phrase of any length works (the last ``context`` words are used;
fewer are padded as at the start of a document), punctuation is stripped, unknown words are
reported, an empty line asks again, and end of input (Ctrl-D, a closed pipe) ends quietly.
Train a model first with ``python -m fwcourse train-nextword``.
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

from fwcourse.util.cli import ArgumentParser

QUIT = "0"


def _describe(pred, context: int) -> list[str]:
    """Notes on how the phrase was read (shown before the suggestions)."""
    notes = []
    if pred.dropped:
        notes.append(f"(using the last {context} words: {' '.join(pred.used)})")
    if len(pred.used) < context:
        notes.append(f"(only {len(pred.used)} of {context} words: predicting as if the text started here)")
    if pred.unknown:
        notes.append(f"(not in the vocabulary, read as [UNK]: {', '.join(pred.unknown)})")
    return notes


def loop(predictor, k: int = 5, stdin=None, stdout=None) -> int:
    """Read phrases until "0" or end of input; print the top ``k`` next words of each."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    n = predictor.context
    while True:
        stdout.write(f"Enter a {n} word phrase: ")
        stdout.flush()
        line = stdin.readline()
        if not line:  # end of input: Ctrl-D or the end of a pipe
            stdout.write("\nGood bye!\n")
            return 0
        if not stdin.isatty():  # piped input: echo it so that the transcript reads like a session
            stdout.write(line.rstrip("\n") + "\n")
        if line.strip() == QUIT:
            stdout.write("Good bye!\n")
            return 0
        if not line.strip():
            stdout.write(f"Please type a few words (or {QUIT} to quit).\n")
            continue
        pred = predictor.predict(line, k)
        if not pred.used:
            stdout.write(f"No words left after removing punctuation: please type some words (or {QUIT} to quit).\n")
            continue
        for note in _describe(pred, n):
            stdout.write(note + "\n")
        shown = ", ".join(f"{w} ({p:.1%})" for w, p in zip(pred.words, pred.probs))
        stdout.write(f"Top {len(pred.words)} possible words: {shown}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fwcourse predict [--model DIR] [--top K]``."""
    from fwcourse.experiments.nextword.run_dir import DEFAULT_RUN_DIR

    p = ArgumentParser(
        prog="python -m fwcourse predict",
        description="Type a phrase, get the most likely next words; 0 or Ctrl-D quits. Works with piped input.",
    )
    p.add_argument("--model", default=str(DEFAULT_RUN_DIR),
                   help=f"run directory written by train-nextword (default {DEFAULT_RUN_DIR})")
    p.add_argument("--top", type=int, default=5, help="how many words to suggest (default 5)")
    args = p.parse_args(argv)
    if args.top < 1:
        p.error("--top must be at least 1")
    try:
        from fwcourse.experiments.nextword.predict import Predictor

        predictor = Predictor.load(args.model)
    except (FileNotFoundError, ValueError) as err:
        print(f"predict: {err}", file=sys.stderr)
        return 2
    try:
        return loop(predictor, args.top)
    except KeyboardInterrupt:
        print("\nGood bye!")
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UnicodeDecodeError as err:
        print()  # ends the prompt's line
        print(f"predict: the input is not {err.encoding} text (byte {err.object[err.start]:#04x} cannot be "
              f"read); save it as {err.encoding}.", file=sys.stderr)
        return 2
