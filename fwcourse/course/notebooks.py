"""The map of the course: its notebooks, in order, with what each one teaches."""
from __future__ import annotations

from fwcourse.course import config

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


def course_map() -> str:
    """A Markdown table of the notebooks with their rough time in minutes at each scale."""
    rows = ["| notebook | topic | " + " | ".join(f"min ({s})" for s in config.SCALES) + " |",
            "|---|---|" + "---|" * len(config.SCALES)]
    for number, stem, topic in NOTEBOOKS:
        minutes = config.MINUTES.get(number, {})
        cells = " | ".join(minutes.get(s, "?") for s in config.SCALES)
        rows.append(f"| `{stem}.ipynb` | {topic} | {cells} |")
    return "\n".join(rows)
