"""The map of the course: its notebooks, in order, with what each one teaches."""
from __future__ import annotations

from pathlib import Path

NOTEBOOKS = [
    ("00", "00_start_here", "Start here: how the course works, the outer product, the widget"),
    ("01", "01_fast_weight_controller", "Schmidhuber 1992: a slow net that programs a fast net"),
    ("02", "02_linear_transformers_are_fast_weight_programmers",
     "Linear transformers are fast-weight programmers; capacity; the delta rule"),
    ("03", "03_fast_weight_rnn", "Ba et al. 2016: the fast-weight RNN and associative retrieval"),
    ("04", "04_next_word_prediction", "Next-word prediction, done right: held-out evaluation, baselines"),
    ("05", "05_transformer_lm", "A causal transformer language model in Keras"),
    ("06", "06_fast_weight_layers", "Fast Weight Layers (Clark et al. 2022) vs dynamic evaluation"),
]


def course_map(budget_path: Path | None = None) -> str:
    """A Markdown table of the notebooks with the learner's measured time budget per notebook:
    reading, exercises and compute at the scale it was timed at (``data/time_budget.json``, written
    by ``python -m fwcourse time-budget --out data``; "?" for a notebook not timed)."""
    from fwcourse.course.build_notebooks import repo_root
    from fwcourse.course.time_budget import RESULTS_NAME, TARGET_HOURS, summary
    from fwcourse.util.results_file import load_records

    path = budget_path or repo_root() / "data" / f"{RESULTS_NAME}.json"
    rows = {r["notebook"]: r for r in summary(load_records(path))}
    scale = next(iter(rows.values()))["scale"] if rows else "default"
    out = [f"| notebook | topic | reading (min) | exercises (min) | compute at `{scale}` (min) | total (min) |",
           "|---|---|---|---|---|---|"]
    for number, stem, topic in NOTEBOOKS:
        r = rows.get(number)
        cells = ([f"{r['reading']:.0f}", f"{r['exercises']:.0f}", f"{r['compute']:.1f}", f"{r['total']:.0f}"]
                 if r else ["?"] * 4)
        out.append(f"| `{stem}.ipynb` | {topic} | " + " | ".join(cells) + " |")
    if rows:
        hours = sum(r["total"] for r in rows.values()) / 60
        out.append(f"| all | | | | | **{hours:.1f} h** (target: about {TARGET_HOURS} h) |")
    return "\n".join(out)
