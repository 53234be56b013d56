"""Reproduction of Ba et al. (2016), Table 1: associative retrieval with RNN, IRNN, LSTM, an
A-LSTM (Danihelka et al.'s associative LSTM, :mod:`fwcourse.alstm`), an RNN + LayerNorm control and
the fast-weight RNN, at R ∈ {20, 50, 100} hidden units.

``python -m fwcourse reproduce ba2016 [--seeds N] [--models ...] [--sizes 20,50,100]`` trains each
(model, R, seed) with early stopping on the validation error, and writes ``ba2016_results.json``
(a list of records, one per trained model, each with its validation learning curve) and
``ba2016_results.md`` (the test-error table, mean and spread over seeds, beside the paper's). The
sizes of the data and the step budget come from the scale (``FWCOURSE_SCALE``, config block
"03"). The command is resumable: records are written as each run finishes, and runs already in
the JSON file are skipped.

=========== =============================================================================
``models``  the six models (:func:`build_model`) and the NumPy view of a trained fast-weight net
``train``   one run with early stopping on the validation error (:func:`train_one`)
``report``  results by budget, against the paper, plotted and rendered as the results page
``cli``     the ``reproduce ba2016`` command
=========== =============================================================================

The names below are re-exported, so ``from fwcourse.experiments import ba2016;
ba2016.train_one(...)`` works.
"""
from fwcourse.experiments.ba2016.models import MODELS, build_model, fast_weight_parts, recurrent_layer
from fwcourse.experiments.ba2016.report import (
    LABELS, PAPER_TABLE, PLATEAU, RESULTS_NAME, TABLE1, TABLE1_BUDGET, TABLE1_SEEDS, TABLE1_SIZES, TABLE1_TARGETS, best_within, budget, budget_groups, budget_label,
    compare_with_paper, explain, is_table1, load_results, missing_runs, plateau_exit, plot_curves, plot_learning_curves, render_markdown, step_marks,
    rankings, summarise, targets,
)
from fwcourse.experiments.ba2016.train import error_rate, train_one
from fwcourse.experiments.ba2016.cli import SIZES, main, run_key, settings_for_scale

__all__ = [
    "MODELS", "SIZES", "LABELS", "PAPER_TABLE", "PLATEAU", "RESULTS_NAME", "TABLE1", "TABLE1_BUDGET", "TABLE1_SEEDS", "TABLE1_SIZES",
    "recurrent_layer", "build_model", "fast_weight_parts", "error_rate", "train_one",
    "load_results", "budget", "budget_label", "budget_groups", "step_marks", "summarise", "best_within", "missing_runs", "explain", "plateau_exit", "is_table1", "targets", "rankings", "TABLE1_TARGETS",
    "compare_with_paper", "plot_curves", "plot_learning_curves", "render_markdown", "run_key", "settings_for_scale", "main",
]
