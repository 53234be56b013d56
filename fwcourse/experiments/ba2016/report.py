"""The results of the Ba et al. (2016) reproduction: grouped by training budget, summarised over
seeds, compared with the paper's Table 1, plotted, and rendered as ``data/ba2016_results.md``."""
from __future__ import annotations

import inspect
import math
import textwrap
from pathlib import Path

import numpy as np

from fwcourse.experiments.ba2016.models import LR_FLOOR, MODELS, build_model
from fwcourse.util import validate
from fwcourse.util.paths import data_dir
from fwcourse.util.results_file import load_records
from fwcourse.util.tables import markdown_table

RESULTS_NAME = "ba2016_results"

# The one protocol of our Table 1 (``reproduce ba2016 --table1`` at the default scale's data): the
# same budget and schedule for every model and R, no per-model tuning, the checkpoint of the best
# validation error scored on the test split. As :func:`budget` tuples it is TABLE1_BUDGET.
TABLE1 = {"max_steps": 120_000, "patience": 1000, "max_minutes": 50.0, "lr_schedule": "cosine"}
TABLE1_BUDGET = (TABLE1["max_steps"], TABLE1["patience"], TABLE1["max_minutes"], TABLE1["lr_schedule"])
TABLE1_SEEDS = 3
PLATEAU = 55.0  # error (%) above which a model has not left the plateau (~62% for K = 4)
TABLE1_SIZES = (20, 50, 100)
# What our Table 1 sets out to reach (test error in %, mean over seeds): the paper's 1.81% for fast
# weights at R=20, and under 0.5% at R=50 and 100, where the paper reports 0.00%.
TABLE1_TARGETS = {("fastweights", 20): (1.81, "at or below"), ("fastweights", 50): (0.5, "below"),
                  ("fastweights", 100): (0.5, "below")}

# Table 1 of the paper, test error in %, as reported (quoted, not reproduced here).
PAPER_TABLE = {
    "irnn": {20: 62.11, 50: 60.23, 100: 0.34},
    "lstm": {20: 60.81, 50: 1.85, 100: 0.0},
    "alstm": {20: 60.13, 50: 1.62, 100: 0.0},
    "fastweights": {20: 1.81, 50: 0.0, 100: 0.0},
}
LABELS = {
    "rnn": "RNN (tanh)", "irnn": "IRNN", "lstm": "LSTM", "alstm": "A-LSTM",
    "rnn_ln": "RNN + LayerNorm control", "fastweights": "Fast weights",
}


def load_results(path: Path | str | None = None) -> list[dict]:
    """The records of ``python -m fwcourse reproduce ba2016`` (an empty list when there are none)."""
    return load_records(Path(path) if path is not None else data_dir() / f"{RESULTS_NAME}.json")


def budget(record: dict) -> tuple:
    """A run's training budget: (max_steps, patience, max_minutes or None, learning-rate schedule)."""
    st = record["settings"]
    return st["max_steps"], st["patience"], st.get("max_minutes"), st.get("lr_schedule", "constant")


def is_table1(record: dict) -> bool:
    """Whether a run belongs to our Table 1: the :data:`TABLE1` budget on the default scale's data."""
    return budget(record) == TABLE1_BUDGET and record["settings"]["scale"] == "default"


def budget_label(record: dict) -> str:
    """The budget of a run in words, e.g. "up to 8,000 steps a run, patience 12"."""
    max_steps, patience, minutes, schedule = budget(record)
    return (f"up to {max_steps:,} steps" + (f" or {minutes:g} minutes" if minutes else "") +
            f" a run, patience {patience}" + ("" if schedule == "constant" else f", {schedule} learning rate"))


def budget_groups(records: list[dict]) -> list[list[dict]]:
    """The runs grouped by training budget: the Table 1 protocol (:data:`TABLE1`) first, then runs
    with a learning-rate schedule, then the largest step budget first."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault(budget(r), []).append(r)
    return [groups[k] for k in sorted(groups, key=lambda k: (k != TABLE1_BUDGET, k[3] == "constant", -k[0], -k[1]))]


def step_marks(max_steps: int) -> list[int]:
    """Steps at which to read the learning curves: 1, 3, 10, 30, ... between ``max_steps / 30``
    and ``max_steps``, then ``max_steps`` itself."""
    ladder = [m * 10**k for k in range(len(str(max_steps))) for m in (1, 3)]
    return [m for m in ladder if max_steps / 30 <= m < max_steps] + [max_steps]


def summarise(records: list[dict]) -> dict:
    """``{(model, R): (mean, sd, n)}`` of test error over seeds; sd is the sample standard deviation
    (n − 1 in the denominator), 0 for a single seed."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        groups.setdefault((r["model"], r["R"]), []).append(r["test_error"])
    return {k: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v))
            for k, v in groups.items()}


def best_within(record: dict, budget: int) -> float | None:
    """The best validation error a run had reached within ``budget`` steps (None if not evaluated)."""
    errs = [e for s, e in record["curve"] if s <= budget]
    return min(errs) if errs else None


def compare_with_paper(records: list[dict], tolerance: float = 1.0) -> list[str]:
    """One line per (model, R) in ``records`` that the paper reports: ours (mean over seeds), the
    paper's, how many percentage points ours is above or below it, and the verdict: reproduced when
    that is at most ``tolerance``, e.g. "-> reproduced: 0.20 points above the paper's; criterion ±1".

    Pass the runs of one training budget (an item of :func:`budget_groups`): a verdict is only
    meaningful at a stated budget.
    """
    lines = []
    for (model, units), (mean, std, n) in _paper_cells(records):
        paper = PAPER_TABLE[model][units]
        diff = round(100 * mean - paper, 2)  # as shown: a gap that prints as 0.00 is "off" by nothing
        side = ("above the paper's" if diff > 0 else "below the paper's") if diff else "off"
        lines.append(f"{LABELS[model]:14s} R={units:<3d} ours {100 * mean:6.2f}% (n={n})  paper {paper:6.2f}%  "
                     f"-> {'reproduced' if abs(diff) <= tolerance else 'not reproduced'}: {abs(diff):.2f} points "
                     f"{side}; criterion ±{tolerance:g}")
    return lines


def plateau_exit(record: dict, level: float = PLATEAU / 100) -> int | None:
    """The first evaluated step at which a run's validation error fell below ``level`` (a fraction;
    :data:`PLATEAU` by default, under the ~62% plateau of K = 4), or None if it never did."""
    return next((int(step) for step, err in record["curve"] if err < level), None)


def still_falling(record: dict, tail: float = 0.2, margin: float = 0.002) -> bool:
    """Whether a run's best validation error improved by more than ``margin`` over the last
    ``tail`` of its steps: if so, its budget ended before it did."""
    steps = record["steps"]
    before = best_within(record, int(steps * (1 - tail)))
    return before is not None and before - min(e for _, e in record["curve"]) > margin


def explain(records: list[dict], tolerance: float = 1.0) -> list[str]:
    """Per (model, R) the paper reports, among ``records`` (one budget): the verdict of
    :func:`compare_with_paper` and the likely reason for a difference, read from the runs.

    A number above :data:`PLATEAU` (%) is on the ~62% plateau of K = 4. Ours far below a paper number
    on the plateau: the step at which our runs left it, and a shorter budget in the paper as the
    likely reason (the paper gives none, so that is a guess). Ours above the paper's: a budget that
    ended while the error still fell
    (in most seeds) says budget; an error flat at the end says capacity or protocol (the learning
    rate and its schedule, the initialisation), which these runs cannot tell apart.
    """
    out = []
    for line, ((model, units), (mean, _, _)) in zip(compare_with_paper(records, tolerance), _paper_cells(records)):
        paper = PAPER_TABLE[model][units]
        runs = [r for r in records if r["model"] == model and r["R"] == units]
        ours_on, paper_on = 100 * mean > PLATEAU, paper > PLATEAU
        if abs(100 * mean - paper) <= tolerance:
            why = "within the criterion."
        elif ours_on and paper_on:
            why = "both are on the plateau."
        elif ours_on:
            falling = sum(still_falling(r) for r in runs)
            why = (f"budget: {falling} of {len(runs)} run(s) were still improving on the plateau when they stopped."
                   if 2 * falling > len(runs) else
                   "our runs stayed on the plateau to the end: capacity or protocol (or a budget far beyond ours).")
        elif paper_on:
            exits = [e for e in map(plateau_exit, runs) if e is not None]
            why = (f"the paper's number is the plateau; {len(exits)} of our {len(runs)} run(s) left it (validation "
                   f"error under {PLATEAU:g}%)" + (f", at step {np.mean(exits):,.0f} on average" if exits else "") +
                   ". The paper gives no training budget: one that ended before then is a likely reason, not a finding.")
        elif 100 * mean < paper:
            why = ("ours is lower than the paper's. The paper gives no training budget: a longer one on our side, "
                   "or settings of ours that differ from the paper's, are likely reasons, not findings.")
        else:
            falling = sum(still_falling(r) for r in runs)
            why = (f"budget: the error was still falling when {falling} of {len(runs)} run(s) stopped."
                   if 2 * falling > len(runs) else
                   f"not budget alone: the error had flattened in {len(runs) - falling} of {len(runs)} run(s); "
                   "capacity or protocol (learning rate, schedule, initialisation).")
        out.append(f"{line}\n    why: {why}")
    return out


def _paper_cells(records: list[dict]) -> list[tuple]:
    """The (model, R) -> summary items of ``records`` that the paper reports, in the order of
    :func:`compare_with_paper`."""
    return [kv for kv in sorted(summarise(records).items(), key=lambda kv: (kv[0][1], MODELS.index(kv[0][0])))
            if PAPER_TABLE.get(kv[0][0], {}).get(kv[0][1]) is not None]


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


def plot_learning_curves(records: list[dict], min_steps: int = 0, ncols: int = 3):
    """A figure of :func:`plot_curves`, one panel per training budget and R that has runs (budgets
    in the order of :func:`budget_groups`, only those of at least ``min_steps`` steps), laid out
    ``ncols`` panels a row: a budget run at one R only takes one panel, not a row of empty ones."""
    import matplotlib.pyplot as plt

    min_steps = validate.positive_int(min_steps, "min_steps", minimum=0)
    ncols = validate.positive_int(ncols, "ncols")
    panels = [(group, units) for group in budget_groups(records) if budget(group[0])[0] >= min_steps
              for units in sorted({r["R"] for r in group})]
    if not panels:
        raise ValueError(f"records must hold a run with a budget of at least min_steps={min_steps} steps; "
                         f"got {len(records)} record(s) with none.")
    cols = min(ncols, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = plt.figure(figsize=(4.6 * cols, 3.3 * rows))
    for i, (group, units) in enumerate(panels):
        ax = plot_curves(group, units, ax=fig.add_subplot(rows, cols, i + 1))
        # wrapped: a budget's label is wider than its panel and ran into the next panel's title
        ax.set_title(textwrap.fill(f"R = {units}: {budget_label(group[0])}", 60), fontsize=8)
    fig.suptitle("validation error during training")
    fig.tight_layout()
    return fig


def missing_runs(records: list[dict]) -> list[str]:
    """The (model, R) cells of the Table 1 protocol with fewer than :data:`TABLE1_SEEDS` seeds, e.g.
    "A-LSTM R=100 (1 of 3 seeds)"."""
    table = summarise([r for r in records if is_table1(r)])
    out = []
    for units in TABLE1_SIZES:
        for m in MODELS:
            n = table.get((m, units), (0, 0, 0))[2]
            if n < TABLE1_SEEDS:
                out.append(f"{LABELS[m]} R={units} ({n} of {TABLE1_SEEDS} seeds)")
    return out


def targets(records: list[dict]) -> list[str]:
    """Per entry of :data:`TABLE1_TARGETS`: the target, our mean test error over the Table 1 runs and
    whether it meets it, e.g. "Fast weights R=20: at or below 1.81%; ours 2.01% (n=3): not met";
    where not met, each seed's test error and in how many runs the error still fell at the end
    (:func:`still_falling`: a longer budget would likely have helped those)."""
    table1 = [r for r in records if is_table1(r)]
    table = summarise(table1)
    out = []
    for (model, units), (target, how) in TABLE1_TARGETS.items():
        ours = table.get((model, units))
        if ours is None:
            verdict = "not run"
        else:
            mean = 100 * ours[0]
            met = mean <= target if how == "at or below" else mean < target
            verdict = f"ours {mean:.2f}% (n={ours[2]}): {'met' if met else 'not met'}"
            if not met:
                runs = sorted((r for r in table1 if r["model"] == model and r["R"] == units), key=lambda r: r["seed"])
                verdict += (" (" + ", ".join(f"seed {r['seed']} {100 * r['test_error']:.2f}%" for r in runs)
                            + f"; the validation error still fell at the end in {sum(map(still_falling, runs))} "
                              f"of {len(runs)} run(s))")
        out.append(f"{LABELS[model]} R={units}: {how} {target:.2f}%; {verdict}")
    return out


def rankings(records: list[dict]) -> list[str]:
    """Per R of the Table 1 runs in ``records``: the models the paper reports, best first, by our
    mean test error (± sd) and by the paper's, then at which R fast weights come first in each,
    e.g. "R=50: ours A-LSTM 0.36% ± 0.09, Fast weights 0.54% ± 0.08, ...; paper Fast weights 0.00%, ..."
    (the paper's claim is an order, so the order is what a reproduction must show)."""
    table = summarise([r for r in records if is_table1(r)])
    out, first = [], {"ours": [], "paper": []}
    for units in sorted({u for _, u in table}):
        models = [m for m in MODELS if units in PAPER_TABLE.get(m, {}) and (m, units) in table]
        if "fastweights" not in models or len(models) < 2:
            continue
        ours = sorted(models, key=lambda m: table[m, units][0])
        paper = sorted(models, key=lambda m: PAPER_TABLE[m][units])
        out.append(f"R={units}: ours " + ", ".join(
            f"{LABELS[m]} {100 * table[m, units][0]:.2f}% ± {100 * table[m, units][1]:.2f}" for m in ours)
            + "; paper " + ", ".join(f"{LABELS[m]} {PAPER_TABLE[m][units]:.2f}%" for m in paper))
        # first, or tied for first (the paper reports 0.00% for three models at R=100)
        first["ours"] += [units] if ours[0] == "fastweights" else []
        first["paper"] += [units] if PAPER_TABLE["fastweights"][units] == PAPER_TABLE[paper[0]][units] else []
    if out:
        def where(sizes):
            return "at R = " + ", ".join(map(str, sizes)) if sizes else "at no R"
        out.append(f"Fast weights come first (or tied first) in the paper {where(first['paper'])}; "
                   f"in ours {where(first['ours'])}.")
    return out


def _model_defaults() -> dict:
    """``build_model``'s default arguments (clipping, λ, η, the A-LSTM's copies), by name."""
    return {k: p.default for k, p in inspect.signature(build_model).parameters.items()}


def _protocol(settings: dict) -> str:
    """The training protocol of a Table 1 section, read from its runs' settings and ``build_model``."""
    clipnorm = _model_defaults()["clipnorm"]
    return (f"The same protocol for every model and R: Adam from {settings['learning_rate']:g} with a cosine "
            f"decay to {LR_FLOOR:.0%} over {settings['max_steps']:,} steps (or {settings['max_minutes']:g} minutes "
            f"of training, whichever comes first), batch {settings['batch_size']}, gradient norm clipped at "
            f"{clipnorm:g}, validation error every {settings['eval_every']} steps, and the weights of the best "
            "validation error scored on the test split.")


def _protocol_notes(records: list[dict]) -> str:
    """How the Table 1 protocol was fixed, and what of its budget stopped the runs."""
    settings = records[0]["settings"]
    model_defaults = _model_defaults()
    reach = TABLE1["patience"] * settings["eval_every"]
    short = [f"{LABELS[r['model']]} R={r['R']} seed {r['seed']} ({r['steps']:,} steps)"
             for r in records if r["steps"] < TABLE1["max_steps"]]
    return (
        "The protocol was fixed after the pilot budgets further down this page, whose validation errors were "
        f"still falling when their budget ended. λ = {model_defaults['decay']:g} and η = {model_defaults['fast_lr']:g} "
        f"of the fast memory are the paper's, the A-LSTM's {model_defaults['copies']} memory copies are our choice "
        "(Ba et al. give none), and nothing was tuned per model. "
        + (f"Patience {TABLE1['patience']} evaluations is {reach:,} steps, more than the budget, so patience "
           "never stops a Table 1 run. " if reach >= TABLE1["max_steps"] else "")
        + f"Runs that ended before {TABLE1['max_steps']:,} steps (on the {TABLE1['max_minutes']:g}-minute cap "
        "or at a validation error of 0): " + ("; ".join(short) if short else "none") + ". "
        "Notebook 03 draws the learning curves of these runs from the JSON file "
        "(`ba2016.plot_learning_curves`).")


def _percent(value: float) -> str:
    return f"{value:.2f}%"


def _results_table(records: list[dict]) -> list[str]:
    """Markdown rows: our test error (mean ± std over seeds) beside the paper's, per model and R;
    every row of the paper's Table 1 is there, "not run" where we have no runs."""
    table = summarise(records)
    sizes = sorted({r["R"] for r in records})
    models = [m for m in MODELS if m in PAPER_TABLE or any(r["model"] == m for r in records)]
    header = ["model"] + [h for s in sizes for h in (f"R={s} ours", f"R={s} paper (quoted)")]
    rows = []
    for m in models:
        row = [LABELS[m]]
        for s in sizes:
            ours = table.get((m, s))
            if ours is None:
                row.append("not run")
            else:
                spread = f" ± {100 * ours[1]:.2f}" if ours[2] > 1 else ""
                row.append(f"{100 * ours[0]:.2f}%{spread} (n={ours[2]})")
            row.append(PAPER_TABLE.get(m, {}).get(s))
        rows.append(row)
    return markdown_table(header, rows, formats=[None] + [None, _percent] * len(sizes))


def _curve_table(records: list[dict], max_steps: int) -> list[str]:
    """Markdown rows: the best validation error reached within each step mark, mean over seeds."""
    marks = step_marks(max_steps)
    header = ["model", "R"] + [f"≤ {b:,} steps" for b in marks] + ["steps run (mean)", "seconds (mean)"]
    rows = []
    for m in MODELS:
        for s in sorted({r["R"] for r in records}):
            runs = [r for r in records if r["model"] == m and r["R"] == s]
            if not runs:
                continue
            best = [[v for v in (best_within(r, b) for r in runs) if v is not None] for b in marks]
            rows.append([LABELS[m], s] + [100 * np.mean(v) if v else None for v in best] +
                        [np.mean([r["steps"] for r in runs]), np.mean([r["seconds"] for r in runs])])
    return markdown_table(header, rows, formats=[None, None] + [_percent] * len(marks) + [",.0f", ",.0f"])


def render_markdown(all_records: list[dict]) -> str:
    """The results page: one section per training budget (largest first), each with our table
    beside the paper's, the verdicts, how the runs were made, and learning-curve read-outs."""
    lines = [
        "# Ba et al. (2016) associative retrieval: test error", "",
        "Generated by `python -m fwcourse reproduce ba2016 --out data` (fwcourse/experiments/ba2016/); do not edit by hand.", "",
        "Ours: mean ± sample standard deviation of the test error over seeds (n = number of seeds), best "
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
        if is_table1(records[0]):
            missing = missing_runs(records)
            lines += ["", f"## Table 1, one protocol: {budget_label(records[0])}", "",
                      _protocol(settings) + " No model has its "
                      "hyperparameters tuned: the tuning budget is the same, none, for all of them. Command: "
                      "`FWCOURSE_SCALE=default python -m fwcourse reproduce ba2016 --table1 --out data`.", "",
                      _protocol_notes(records), "",
                      (f"Still to run for {TABLE1_SEEDS} seeds a cell: " + "; ".join(missing) + "."
                       if missing else f"Every cell has {TABLE1_SEEDS} seeds.")]
        else:
            lines += ["", f"## Pilot budget: {budget_label(records[0])}"]
        lines += ["", f"{len(records)} run{'s' if len(records) != 1 else ''} in this section, {sum(r['seconds'] for r in records) / 60:.1f} min of training.",
                  "Machine: " + "; ".join(sorted({r["machine"] for r in records})) + ".",
                  f"Scale: {settings['scale']}. Settings: " +
                  ", ".join(f"{k}={v}" for k, v in settings.items() if k not in ("scale", "seeds")) + ".", ""]
        lines += _results_table(records)
        verdicts = explain(records) if is_table1(records[0]) else compare_with_paper(records)
        lines += ["", "Against the paper, at this budget:", "", "```"] + verdicts + ["```"]
        if is_table1(records[0]):
            lines += ["", "Against the targets of this reproduction (mean over seeds):", ""] + [f"- {t}" for t in targets(records)]
            lines += ["", "The models the paper reports, best first (mean test error over seeds ± sd):", ""] + [
                f"- {t}" for t in rankings(records)]
        lines += ["", "Best validation error reached within a number of steps (mean over seeds), "
                  "read from the learning curves in the JSON file:", ""]
        lines += _curve_table(records, max_steps)
    return "\n".join(lines) + "\n"
