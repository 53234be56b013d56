"""``python -m fwcourse train-nextword``: train a next-word model into a run directory
(:func:`fwcourse.experiments.nextword.train.train_run`)."""
from __future__ import annotations

import sys
from typing import Sequence

from fwcourse.experiments.nextword.run_dir import DEFAULT_RUN_DIR
from fwcourse.util.cli import ArgumentParser, stop_hint
from fwcourse.util.outdir import OutputError, prepare


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fwcourse train-nextword``: train a next-word model into a run directory."""
    from fwcourse.experiments.nextword.models import MODELS

    p = ArgumentParser(
        prog="python -m fwcourse train-nextword",
        description="Train a next-word model with a held-out evaluation. Sizes follow FWCOURSE_SCALE "
        "(quick|default|full). Re-running with the same --out resumes an interrupted run; a folder "
        "holding a run of another model, context or vocabulary is refused unless --overwrite.",
    )
    p.add_argument("--corpus", default=None,
                   help="a built-in corpus (docstrings, stdlib) or a .txt file or a folder of them "
                        "(default: the scale's corpus, the offline docstring corpus)")
    p.add_argument("--model", choices=MODELS, default="lstm")
    p.add_argument("--context", type=int, default=3,
                   help="words of context (default 3, as in the student project)")
    p.add_argument("--out", default=str(DEFAULT_RUN_DIR), help=f"run directory (default {DEFAULT_RUN_DIR})")
    p.add_argument("--epochs", type=int, default=None, help="override the scale's number of epochs")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a run of other settings, or files this command did not write, in --out")
    args = p.parse_args(argv)
    if args.context < 1 or (args.epochs is not None and args.epochs < 1):
        p.error("--context and --epochs must be at least 1")
    if args.seed < 0:
        p.error("--seed must be at least 0")
    try:
        prepare(args.out)  # before TensorFlow starts: a folder that cannot be written is one line, at once
    except OutputError as err:
        print(f"train-nextword: {err}", file=sys.stderr)
        return 2
    import keras

    from fwcourse.experiments.nextword.train import train_run

    keras.utils.set_random_seed(args.seed)  # the entry point seeds globally: the shuffling of the windows
    try:
        with stop_hint(f"the finished epochs are kept in {args.out}; run the same command again to resume"):
            m = train_run(args.corpus, args.model, args.context, args.out, epochs=args.epochs,
                          seed=args.seed, verbose=1 if sys.stdout.isatty() else 2, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"train-nextword: {err}", file=sys.stderr)
        return 2
    t, b = m["test"], m["kneser_ney_trigram"]["test"]
    print(f"\nBest epoch {m['best_epoch']} of {m['epochs_run']}; saved to {args.out}")
    print(f"test perplexity {t['perplexity']:.1f}, top-1 {t['top1']:.1%}, top-5 {t['top5']:.1%} "
          f"(Kneser-Ney trigram: {b['perplexity']:.1f}, {b['top1']:.1%}, {b['top5']:.1%})")
    print(f"Try it: python -m fwcourse predict --model {args.out}")
    return 0
