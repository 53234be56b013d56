"""Reproduction of Ba et al. (2016), Table 1: associative retrieval with RNN, IRNN, LSTM, an
RNN + LayerNorm control and the fast-weight RNN, at R ∈ {20, 50, 100} hidden units.

``python -m fwcourse reproduce ba2016 [--seeds N] [--models ...] [--sizes 20,50,100]`` trains each
(model, R, seed) with early stopping on the validation error, and writes ``ba2016_results.json``
(a list of records, one per trained model, each with its validation learning curve) and
``ba2016_results.md`` (the test-error table, mean and spread over seeds, beside the paper's). The
sizes of the data and the step budget come from the scale (``FWCOURSE_SCALE``, config block
"03"). The command is resumable: records are written as each run finishes, and runs already in
the JSON file are skipped.

Architecture (paper, section 4.1): 100-d character embedding → one recurrent layer of R units →
100 ReLU units → softmax over the 10 digits. Optimiser: Adam with gradient-norm clipping at 5.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fwcourse.course import config
from fwcourse.data import retrieval
from fwcourse.util import validate
from fwcourse.util.envinfo import machine
from fwcourse.util.results_file import DATA_DIR, load_records, write_records

MODELS = ("rnn", "irnn", "lstm", "rnn_ln", "fastweights")
SIZES = (20, 50, 100)
RESULTS_NAME = "ba2016_results"
DEFAULT_OUT = DATA_DIR

# Table 1 of the paper, test error in %, as reported (quoted, not reproduced here).
PAPER_TABLE = {
    "irnn": {20: 62.11, 50: 60.23, 100: 0.34},
    "lstm": {20: 60.81, 50: 1.85, 100: 0.0},
    "a-lstm": {20: 60.13, 50: 1.62, 100: 0.0},
    "fastweights": {20: 1.81, 50: 0.0, 100: 0.0},
}
LABELS = {
    "rnn": "RNN (tanh)", "irnn": "IRNN", "lstm": "LSTM", "a-lstm": "A-LSTM",
    "rnn_ln": "RNN + LayerNorm control", "fastweights": "Fast weights",
}


def recurrent_layer(model: str, units: int, inner_steps: int = 1, decay: float = 0.95,
                    fast_lr: float = 0.5):
    """The recurrent layer of one of :data:`MODELS`, with ``units`` hidden units.

    ``rnn_ln`` is the fast-weight layer with η = 0: the same extra depth (S inner LayerNorm-ReLU
    steps) but no fast memory, the control critics asked for.
    """
    import keras

    from fwcourse.fwrnn_layer import FastWeightRNN

    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}.")
    units = validate.positive_int(units, "units (R)")
    if model == "rnn":
        return keras.layers.SimpleRNN(units, activation="tanh")
    if model == "irnn":  # Le, Jaitly & Hinton (2015): ReLU, identity recurrence, tiny input weights
        return keras.layers.SimpleRNN(
            units, activation="relu", recurrent_initializer=keras.initializers.Identity(),
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
        )
    if model == "lstm":
        return keras.layers.LSTM(units)
    return FastWeightRNN(units, inner_steps=inner_steps, decay=decay,
                         fast_lr=0.0 if model == "rnn_ln" else fast_lr)


def build_model(model: str, units: int, *, embed_dim: int = 100, hidden: int = 100,
                learning_rate: float = 1e-3, decay_steps: int | None = None,
                clipnorm: float = 5.0, inner_steps: int = 1,
                decay: float = 0.95, fast_lr: float = 0.5):
    """Embedding(100) → recurrent layer(R) → Dense(100, ReLU) → 10 logits, compiled with Adam.

    With ``decay_steps`` the learning rate follows a cosine from ``learning_rate`` down to 1% of
    it over that many steps (Loshchilov & Hutter 2017); otherwise it is constant.
    """
    import keras

    if decay_steps is not None:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, validate.positive_int(decay_steps, "decay_steps"), alpha=0.01)
    net = keras.Sequential([
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(retrieval.VOCAB_SIZE, embed_dim),
        recurrent_layer(model, units, inner_steps, decay, fast_lr),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(retrieval.NUM_CLASSES),
    ], name=f"{model}_{units}")
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return net


def error_rate(net, split: retrieval.Split, batch_size: int = 2000) -> float:
    """Fraction of sequences whose most likely digit is not the query's value."""
    logits = net.predict(split.x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) != split.y))


def train_one(model: str, units: int, data: retrieval.Splits, seed: int = 0, *,
              max_steps: int = 10_000, eval_every: int = 250, patience: int = 8,
              batch_size: int = 128, max_seconds: float | None = None, keep_model: bool = False,
              **model_kwargs) -> dict:
    """Train one model with early stopping on validation error; return its record.

    Every ``eval_every`` steps the validation error is recorded (the learning curve). Training
    stops after ``patience`` evaluations without improvement, at a validation error of 0, after
    ``max_steps`` steps or after ``max_seconds``; the best weights (by validation error) are
    restored and scored on the test split. With ``keep_model`` the record also holds the trained
    Keras model under ``"net"``.
    """
    import keras

    max_steps = validate.positive_int(max_steps, "max_steps")
    eval_every = validate.positive_int(eval_every, "eval_every")
    patience = validate.positive_int(patience, "patience")
    batch_size = validate.positive_int(batch_size, "batch_size")
    keras.utils.set_random_seed(seed)
    net = build_model(model, units, **model_kwargs)
    rng = np.random.default_rng(seed)
    n = len(data.train)
    start = time.perf_counter()
    curve: list[list[float]] = []
    best = (np.inf, 0, net.get_weights())
    order, cursor, steps = rng.permutation(n), 0, 0
    while steps < max_steps:
        for _ in range(min(eval_every, max_steps - steps)):
            if cursor + batch_size > n:
                order, cursor = rng.permutation(n), 0
            idx = order[cursor:cursor + batch_size]
            cursor += batch_size
            net.train_on_batch(data.train.x[idx], data.train.y[idx])
            steps += 1
        err = error_rate(net, data.valid)
        curve.append([steps, err])
        if err < best[0]:
            best = (err, steps, net.get_weights())
        stalled = len(curve) - 1 - [c[0] for c in curve].index(best[1]) >= patience
        out_of_time = max_seconds is not None and time.perf_counter() - start > max_seconds
        if err == 0.0 or stalled or out_of_time:
            break
    net.set_weights(best[2])
    record = {
        "model": model, "R": int(units), "seed": int(seed),
        "test_error": error_rate(net, data.test),
        "valid_error": float(best[0]), "best_step": int(best[1]),
        "steps": int(steps), "seconds": round(time.perf_counter() - start, 2),
        "curve": curve,
    }
    if keep_model:
        record["net"] = net
    return record


def fast_weight_parts(net) -> dict:
    """The NumPy weights of a trained ``fastweights``/``rnn_ln`` model from :func:`build_model`.

    Keys: ``embedding`` (vocab, E), ``W``, ``C``, ``b``, ``gain``, ``ln_bias`` (for
    :func:`fwcourse.fwrnn.fast_weight_rnn`), ``decay``, ``fast_lr``, ``inner_steps``.
    """
    layer = net.layers[1]
    if not hasattr(layer, "fast_lr"):
        raise ValueError(f"net must be a fastweights or rnn_ln model; its recurrent layer is {type(layer).__name__}.")
    cell = layer.cell
    return dict(embedding=np.asarray(net.layers[0].embeddings), W=np.asarray(cell.recurrent_kernel),
                C=np.asarray(cell.kernel), b=np.asarray(cell.bias), gain=np.asarray(cell.ln_gain),
                ln_bias=np.asarray(cell.ln_bias), decay=layer.decay, fast_lr=layer.fast_lr,
                inner_steps=layer.inner_steps)


def compare_with_paper(records: list[dict], tolerance: float = 1.0) -> list[str]:
    """One line per (model, R) in ``records`` that the paper reports: ours (mean over seeds), the
    paper's, and whether they agree within ``tolerance`` percentage points.

    Pass the runs of one training budget (an item of :func:`budget_groups`): a verdict is only
    meaningful at a stated budget.
    """
    lines = []
    for (model, units), (mean, std, n) in sorted(summarise(records).items(),
                                                 key=lambda kv: (kv[0][1], MODELS.index(kv[0][0]))):
        paper = PAPER_TABLE.get(model, {}).get(units)
        if paper is None:
            continue
        same = abs(100 * mean - paper) <= tolerance
        lines.append(f"{LABELS[model]:14s} R={units:<3d} ours {100 * mean:6.2f}% (n={n})  paper {paper:6.2f}%  "
                     f"-> {'reproduced' if same else 'NOT reproduced'} (within {tolerance:g} point{'s' * (tolerance != 1)})")
    return lines


def load_results(path: Path | str = DEFAULT_OUT / f"{RESULTS_NAME}.json") -> list[dict]:
    """The records of ``python -m fwcourse reproduce ba2016`` (an empty list when there are none)."""
    return load_records(Path(path))


def plot_curves(records: list[dict], units: int, ax=None):
    """Validation error (%) against training steps for every run at R = ``units``, one colour per model."""
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    colours = dict(zip(MODELS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    seen = set()
    for r in records:
        if r["R"] != units:
            continue
        steps, errs = np.array(r["curve"], dtype=float).T
        label = None if r["model"] in seen else LABELS[r["model"]]
        seen.add(r["model"])
        ax.plot(steps, 100 * errs, color=colours[r["model"]], label=label, alpha=0.8)
    ax.set(xlabel="training steps", ylabel="validation error (%)", title=f"R = {units}", ylim=(0, 100))
    if seen:
        ax.legend(fontsize=8)
    return ax


# -- the command ---------------------------------------------------------------------------------
def run_key(model: str, units: int, seed: int, settings: dict) -> tuple:
    """What makes a run: the model, R, the seed and the training budget (so longer runs are kept apart)."""
    return (model, int(units), int(seed), settings["max_steps"], settings["patience"],
            settings.get("max_minutes"), settings.get("lr_schedule", "constant"))


def budget(record: dict) -> tuple:
    """A run's training budget: (max_steps, patience, max_minutes or None, learning-rate schedule)."""
    st = record["settings"]
    return st["max_steps"], st["patience"], st.get("max_minutes"), st.get("lr_schedule", "constant")


def budget_label(record: dict) -> str:
    """The budget of a run in words, e.g. "up to 8,000 steps a run, patience 12"."""
    max_steps, patience, minutes, schedule = budget(record)
    return (f"up to {max_steps:,} steps" + (f" or {minutes:g} minutes" if minutes else "") +
            f" a run, patience {patience}" + ("" if schedule == "constant" else f", {schedule} learning rate"))


def budget_groups(records: list[dict]) -> list[list[dict]]:
    """The runs grouped by training budget: runs with a learning-rate schedule first (the most
    complete protocol), then the largest step budget first."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault(budget(r), []).append(r)
    return [groups[k] for k in sorted(groups, key=lambda k: (k[3] == "constant", -k[0], -k[1]))]


def step_marks(max_steps: int) -> list[int]:
    """Steps at which to read the learning curves: 1, 3, 10, 30, ... between ``max_steps / 30``
    and ``max_steps``, then ``max_steps`` itself."""
    ladder = [m * 10**k for k in range(len(str(max_steps))) for m in (1, 3)]
    return [m for m in ladder if max_steps / 30 <= m < max_steps] + [max_steps]


def summarise(records: list[dict]) -> dict:
    """``{(model, R): (mean, std, n)}`` of test error over seeds."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        groups.setdefault((r["model"], r["R"]), []).append(r["test_error"])
    return {k: (float(np.mean(v)), float(np.std(v)), len(v)) for k, v in groups.items()}


def best_within(record: dict, budget: int) -> float | None:
    """The best validation error a run had reached within ``budget`` steps (None if not evaluated)."""
    errs = [e for s, e in record["curve"] if s <= budget]
    return min(errs) if errs else None


def _results_table(records: list[dict]) -> list[str]:
    """Markdown rows: our test error (mean ± std over seeds) beside the paper's, per model and R."""
    table = summarise(records)
    sizes = sorted({r["R"] for r in records})
    models = [m for m in MODELS if any(r["model"] == m for r in records)]
    lines = ["| model | " + " | ".join(f"R={s} ours | R={s} paper (quoted)" for s in sizes) + " |",
             "|---|" + "---|---|" * len(sizes)]
    for m in models + ["a-lstm"]:
        cells = []
        for s in sizes:
            ours = table.get((m, s))
            if ours is None:
                cells.append("not run")
            else:
                spread = f" ± {100 * ours[1]:.2f}" if ours[2] > 1 else ""
                cells.append(f"{100 * ours[0]:.2f}%{spread} (n={ours[2]})")
            paper = PAPER_TABLE.get(m, {}).get(s)
            cells.append("–" if paper is None else f"{paper:.2f}%")
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    return lines


def _curve_table(records: list[dict], max_steps: int) -> list[str]:
    """Markdown rows: the best validation error reached within each step mark, mean over seeds."""
    marks = step_marks(max_steps)
    lines = ["| model | R | " + " | ".join(f"≤ {b:,} steps" for b in marks) + " | steps run (mean) | seconds (mean) |",
             "|---|---|" + "---|" * (len(marks) + 2)]
    for m in MODELS:
        for s in sorted({r["R"] for r in records}):
            runs = [r for r in records if r["model"] == m and r["R"] == s]
            if not runs:
                continue
            cells = []
            for b in marks:
                vals = [v for v in (best_within(r, b) for r in runs) if v is not None]
                cells.append(f"{100 * np.mean(vals):.2f}%" if vals else "–")
            lines.append(f"| {LABELS[m]} | {s} | " + " | ".join(cells) +
                         f" | {np.mean([r['steps'] for r in runs]):,.0f} | {np.mean([r['seconds'] for r in runs]):,.0f} |")
    return lines


def render_markdown(all_records: list[dict]) -> str:
    """The results page: one section per training budget (largest first), each with our table
    beside the paper's, the verdicts, how the runs were made, and learning-curve read-outs."""
    lines = [
        "# Ba et al. (2016) associative retrieval: test error", "",
        "Generated by `python -m fwcourse reproduce ba2016` (fwcourse/experiments/ba2016.py); do not edit by hand.", "",
        "Ours: mean ± standard deviation of the test error over seeds (n = number of seeds), best "
        "weights by validation error. Paper: Table 1 of Ba et al. (2016), as reported, quoted "
        "(not reproduced here; \"–\" = not in the paper). Each run stops after `max_steps` steps, "
        "after `max_minutes` of training, at a validation error of 0, or after `patience` evaluations "
        "(every `eval_every` steps) without a new best; seconds are wall-clock time on a machine "
        "shared with other runs.",
        f"Total training time of all runs on this page: {sum(r['seconds'] for r in all_records) / 60:.1f} min.",
    ]
    for records in budget_groups(all_records):
        max_steps = budget(records[0])[0]
        settings = records[0]["settings"]
        lines += ["", f"## Budget: {budget_label(records[0])}", "",
                  "Machine: " + "; ".join(sorted({r["machine"] for r in records})) + ".",
                  f"Scale: {settings['scale']}. Settings: " +
                  ", ".join(f"{k}={v}" for k, v in settings.items() if k not in ("scale", "seeds")) + ".", ""]
        lines += _results_table(records)
        lines += ["", "Against the paper, at this budget:", "", "```"] + compare_with_paper(records) + ["```"]
        lines += ["", "Best validation error reached within a number of steps (mean over seeds), "
                  "read from the learning curves in the JSON file:", ""]
        lines += _curve_table(records, max_steps)
    return "\n".join(lines) + "\n"


def settings_for_scale(scale_name: str | None = None) -> dict:
    """The reproduction settings of the chosen scale (config block "03", keys ``repro_*``)."""
    s = vars(config.sizes("03", scale_name))
    out = {"scale": s["scale"]}
    out.update({k[len("repro_"):]: v for k, v in s.items() if k.startswith("repro_")})
    return out


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
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
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the results files")
    parser.add_argument("--max-steps", type=int, default=None, help="override the scale's step budget per run")
    parser.add_argument("--patience", type=int, default=None,
                        help="override the scale's early-stopping patience (in evaluations)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="start no new run after this many minutes")
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                        help="learning rate: constant, or a cosine decay to 1%% over --max-steps")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop each run after this many minutes of training (scored like any other run)")
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
    if args.max_minutes is not None and not args.max_minutes > 0:
        parser.error(f"--max-minutes must be > 0; got {args.max_minutes}")
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
        settings["max_steps"] = validate.positive_int(args.max_steps, "--max-steps")
    if args.patience is not None:
        settings["patience"] = validate.positive_int(args.patience, "--patience")
    n_seeds = args.seeds if args.seeds is not None else settings["seeds"]
    seeds = range(args.first_seed, args.first_seed + n_seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.out / f"{RESULTS_NAME}.json", args.out / f"{RESULTS_NAME}.md"
    records = load_records(json_path)
    done = {run_key(r["model"], r["R"], r["seed"], r["settings"]) for r in records}
    data = retrieval.make_splits(settings["n_train"], settings["n_valid"], settings["n_test"],
                                 num_pairs=settings["num_pairs"], rng=settings["data_seed"])
    machine_line = machine()
    start = time.perf_counter()
    train_keys = ("max_steps", "eval_every", "patience", "batch_size", "learning_rate")
    model_kwargs = {"decay_steps": settings["max_steps"]} if settings.get("lr_schedule") == "cosine" else {}
    # R outermost, then seeds, then models: a run cut short by the budget still has whole columns
    for units in args.sizes:
        for seed in seeds:
            for model in args.models:
                if run_key(model, units, seed, settings) in done:
                    continue
                if args.budget_minutes is not None and time.perf_counter() - start > 60 * args.budget_minutes:
                    print("budget reached; run the same command again to continue.")
                    return 0
                record = train_one(model, units, data, seed,
                                   max_seconds=60 * settings.get("max_minutes", np.inf),
                                   **{k: settings[k] for k in train_keys}, **model_kwargs)
                record["settings"] = settings
                record["machine"] = machine_line
                records.append(record)
                write_records(json_path, records)
                md_path.write_text(render_markdown(records))
                print(f"{model:12s} R={units:<4d} seed={seed}  test error {100 * record['test_error']:6.2f}%  "
                      f"({record['steps']} steps, {record['seconds']:.0f} s)", flush=True)
    if records:  # also refreshes the page when every run was already done
        md_path.write_text(render_markdown(records))
    return 0
