"""``python -m fwcourse reproduce ba2016``: train every (model, R, seed) at the chosen scale and keep
the records in ``OUT/ba2016_results.json`` and the page in ``OUT/ba2016_results.md``, resumably
(:class:`fwcourse.experiments.runner.ResumableResults`). ``OUT`` is ``--out``, by default
:func:`fwcourse.util.paths.results_dir` (outside the checkout); ``--out data`` updates the
committed results."""
from __future__ import annotations

import argparse
import functools
import sys

import numpy as np

from fwcourse.course import config
from fwcourse.data import retrieval
from fwcourse.experiments.ba2016.models import MODELS
from fwcourse.experiments.ba2016.report import RESULTS_NAME, TABLE1, TABLE1_SEEDS, render_markdown
from fwcourse.experiments.ba2016.train import train_one
from fwcourse.experiments.runner import ResumableResults
from fwcourse.util.envinfo import machine
from fwcourse.util.cli import ArgumentParser, add_results_out, stop_hint
from fwcourse.util.outdir import OutputError

SIZES = (20, 50, 100)
TRAIN_KEYS = ("max_steps", "eval_every", "patience", "batch_size", "learning_rate")


def run_key(model: str, units: int, seed: int, settings: dict) -> tuple:
    """What makes a run: the model, R, the seed and the training budget (so longer runs are kept apart)."""
    return (model, int(units), int(seed), settings["max_steps"], settings["patience"],
            settings.get("max_minutes"), settings.get("lr_schedule", "constant"))


def record_key(record: dict) -> tuple:
    """:func:`run_key` of a written record."""
    return run_key(record["model"], record["R"], record["seed"], record["settings"])


def settings_for_scale(scale_name: str | None = None) -> dict:
    """The reproduction settings of the chosen scale (config block "03", keys ``repro_*``)."""
    s = vars(config.sizes("03", scale_name))
    out = {"scale": s["scale"]}
    out.update({k[len("repro_"):]: v for k, v in s.items() if k.startswith("repro_")})
    return out


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="python -m fwcourse reproduce",
        description="Reproduce Ba et al. (2016) Table 1 (associative retrieval) at the chosen scale.",
    )
    parser.add_argument("experiment", choices=["ba2016"])
    parser.add_argument("--seeds", type=int, default=None, help="seeds per (model, R); default from the scale")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds run are first-seed .. first-seed + seeds - 1 (to split seeds across machines)")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated R values")
    add_results_out(parser, "reproduce")
    parser.add_argument("--max-steps", type=int, default=None, help="override the scale's step budget per run")
    parser.add_argument("--patience", type=int, default=None,
                        help="override the scale's early-stopping patience (in evaluations)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="start no new run after this many minutes")
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                        help="learning rate: constant, or a cosine decay to 1%% over --max-steps")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop each run after this many minutes of training (scored like any other run)")
    parser.add_argument("--table1", action="store_true",
                        help="the protocol of the committed Table 1 (120,000 steps or 50 minutes a run, cosine "
                             "learning rate, 3 seeds); run it at FWCOURSE_SCALE=default")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        parser.error(f"--models must be a comma-separated subset of {','.join(MODELS)}; got {args.models!r}")
    try:
        sizes = [int(v) for v in args.sizes.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated positive integers; got {args.sizes!r}")
    if not sizes or min(sizes) < 1:
        parser.error(f"--sizes must be comma-separated positive integers; got {args.sizes!r}")
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be >= 1; got {args.seeds}")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be >= 0; got {args.first_seed}")
    for name in ("max_steps", "patience"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    for name in ("max_minutes", "budget_minutes"):
        if getattr(args, name) is not None and not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0; got {getattr(args, name)}")
    if args.table1:
        clash = [f"--{n.replace('_', '-')}" for n in ("max_steps", "patience", "max_minutes") if getattr(args, n) is not None]
        if args.lr_schedule != "constant":
            clash.append("--lr-schedule")
        if clash:
            parser.error(f"--table1 sets the budget itself; drop {', '.join(clash)}")
        if config.scale() != "default":
            parser.error(f"--table1 runs on the default scale's data; set FWCOURSE_SCALE=default (it is {config.scale()})")
        args.max_steps, args.patience = TABLE1["max_steps"], TABLE1["patience"]
        args.max_minutes, args.lr_schedule = TABLE1["max_minutes"], TABLE1["lr_schedule"]
        args.seeds = TABLE1_SEEDS if args.seeds is None else args.seeds
    args.models, args.sizes = models, sizes
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m fwcourse reproduce ba2016 ...``."""
    args = _parse([] if argv is None else list(argv))
    settings = settings_for_scale()
    if args.max_minutes is not None:
        settings["max_minutes"] = args.max_minutes
    if args.lr_schedule != "constant":
        settings["lr_schedule"] = args.lr_schedule
    if args.max_steps is not None:
        settings["max_steps"] = args.max_steps
    if args.patience is not None:
        settings["patience"] = args.patience
    n_seeds = args.seeds if args.seeds is not None else settings["seeds"]
    seeds = range(args.first_seed, args.first_seed + n_seeds)
    try:
        results = ResumableResults(args.out, RESULTS_NAME, record_key, render_markdown, overwrite=args.overwrite)
    except OutputError as err:  # before any training: one line
        print(f"reproduce: {err}", file=sys.stderr)
        return 2
    data = retrieval.make_splits(settings["n_train"], settings["n_valid"], settings["n_test"],
                                 num_pairs=settings["num_pairs"], rng=settings["data_seed"])
    machine_line = machine()
    model_kwargs = {"lr_decay_steps": settings["max_steps"]} if settings.get("lr_schedule") == "cosine" else {}

    def run(model: str, units: int, seed: int) -> dict:
        record = train_one(model, units, data, seed, max_seconds=60 * settings.get("max_minutes", np.inf),
                           **{k: settings[k] for k in TRAIN_KEYS}, **model_kwargs)
        return {**record, "settings": settings, "machine": machine_line}

    def report(r: dict) -> None:
        print(f"{r['model']:12s} R={r['R']:<4d} seed={r['seed']}  test error {100 * r['test_error']:6.2f}%  "
              f"({r['steps']} steps, {r['seconds']:.0f} s)", flush=True)

    # R outermost, then seeds, then models: a run cut short by the budget still has whole columns
    jobs = ((run_key(model, units, seed, settings), functools.partial(run, model, units, seed))
            for units in args.sizes for seed in seeds for model in args.models)
    budget_s = None if args.budget_minutes is None else 60 * args.budget_minutes
    with stop_hint(f"the finished runs are in {results.json_path}; run the same command again to continue"):
        finished = results.run(jobs, budget_s, report)
    if not finished:
        print("budget reached; run the same command again to continue.")
    print(f"results: {results.md_path}")
    return 0
