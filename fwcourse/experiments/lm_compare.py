"""Notebook 06's experiment: base LM, + dynamic evaluation, + Fast Weight Layer, FWL + dynamic evaluation,
and (beyond the paper) the FWL with its fast-weight state carried through the document.

For one corpus (a built-in one of :data:`fwcourse.data.lm_data.CORPORA`, or a ``.txt`` file or folder)
:func:`compare` trains the base transformer LM and the same model with a FWL head
(:mod:`fwcourse.transformer`), then scores the held-out documents five ways (and with notebook
04's Kneser-Ney trigram, the count-based baseline any neural model must beat), recording per-token losses so that the paper's
analyses can be redone: perplexity by position in the document (:func:`by_position`) and on
repeated vs first-occurrence tokens (:func:`by_repetition`). Costs measured in the same run:
evaluation tokens per second, training step time, and the peak memory added while training and
while evaluating (:mod:`fwcourse.util.peak_memory`: GPU memory on a GPU, resident memory on a CPU).
"""
from __future__ import annotations

import datetime
import functools
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

import keras
import numpy as np

from fwcourse import dynamic_eval as dyn, fwl_carry
from fwcourse.course import config
from fwcourse.data import corpus as corpus_lib, lm_data
from fwcourse import transformer
from fwcourse.util import validate
from fwcourse.util.peak_memory import with_peak_memory
from fwcourse.util.envinfo import machine
from fwcourse.experiments.runner import ResumableResults
from fwcourse.util.cli import ArgumentParser, add_results_out, stop_hint
from fwcourse.util.outdir import OutputError
from fwcourse.util.results_file import load_records  # noqa: F401  (load_records: for readers of the file)
from fwcourse.util.tables import cell, markdown_table

METHODS = ("base", "base + dynamic eval", "FWL", "FWL + dynamic eval", "FWL + carried state")
CARRIED = METHODS[-1]  # beyond the paper: the FWL's state carried through the document (fwl_carry)
TRIGRAM = "Kneser-Ney trigram"


@dataclass
class Evaluation:
    """Per-token held-out losses (nats) of one method, and what it cost."""

    method: str
    losses: np.ndarray
    tokens_per_s: float
    train_step_s: float
    train_peak_mib: float | None
    eval_peak_mib: float | None

    def perplexity(self, weights: np.ndarray) -> float:
        return transformer.perplexity(self.losses, weights)


@dataclass
class Comparison:
    """The five evaluations of one corpus on the same held-out windows."""

    corpus: str
    windows: lm_data.LMWindows
    evaluations: dict[str, Evaluation]
    repeated: np.ndarray
    dynamic_lr: dict[str, float] = field(default_factory=dict)
    carry: float | None = None  # the FWL's carry λ, chosen on validation documents
    epochs: dict[str, tuple[int, int]] = field(default_factory=dict)  # model -> (best epoch, epochs run)
    models: dict[str, keras.Model] = field(default_factory=dict)
    tokenizer: object = None

    def table(self) -> list[dict]:
        """One row per method: perplexity, eval tokens/s, train step time, peak memory (MiB) of
        training and of evaluation (dynamic evaluation keeps a weight copy and its gradients)."""
        return [
            {
                "corpus": self.corpus,
                "method": e.method,
                "perplexity": e.perplexity(self.windows.weights),
                "eval tokens/s": e.tokens_per_s,
                "train step (ms)": 1e3 * e.train_step_s,
                "train peak (MiB)": "n/a" if e.train_peak_mib is None else e.train_peak_mib,
                "eval peak (MiB)": "n/a" if e.eval_peak_mib is None else e.eval_peak_mib,
            }
            for e in self.evaluations.values()
        ]


class _StepTimer(keras.callbacks.Callback):
    """Wall time of each training batch (the first ``skip`` include tracing/compilation)."""

    def __init__(self, skip: int = 2) -> None:
        super().__init__()
        self.skip, self.times, self._start = skip, [], 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)

    @property
    def step_s(self) -> float:
        kept = self.times[self.skip:] or self.times
        return float(np.median(kept)) if kept else float("nan")


def train(corpus: "lm_data.corpus.TokenCorpus", fwl: bool, sizes, seed: int = 0):
    """Train the base (``fwl=False``) or FWL model with ``sizes`` (``config.sizes("06")``)
    for ``sizes.epochs`` epochs, keeping the weights of the epoch with the lowest validation loss (so
    that neither model is compared in an overfitted state: the corpora are small). Training does
    not stop at the first rise of the validation loss: it sometimes falls again later.

    Returns ``(model, history, step_seconds, peak MiB or None)``: the most memory in use while
    the model was built, compiled and trained, beyond what was in use before (on a CPU, XLA and
    TensorFlow keep a step's buffers from one step to the next, so only the whole phase shows
    them). ``history.history["val_loss"]`` has one entry per epoch (absent without validation).
    """
    windows = lm_data.lm_windows(corpus.train, sizes.seq_len)
    valid = lm_data.lm_windows(corpus.valid, sizes.seq_len)
    timer = _StepTimer()
    callbacks, validation = [timer], None
    if len(valid):
        validation = lm_data.lm_dataset(valid, sizes.batch_size)
        # Patience = the whole budget: EarlyStopping only remembers and restores the best epoch.
        callbacks.append(keras.callbacks.EarlyStopping("val_loss", patience=sizes.epochs,
                                                       restore_best_weights=True))

    def build_and_fit():
        model = transformer.build_lm(
            corpus.tokenizer.size, sizes.d_model, sizes.n_layers, sizes.n_heads, sizes.seq_len,
            fwl_size=sizes.fwl_size if fwl else None, attn_chunks=sizes.attn_chunks,
            learning_rate=sizes.learning_rate, seed=seed,
        )
        history = model.fit(
            lm_data.lm_dataset(windows, sizes.batch_size, shuffle=True, seed=seed),
            validation_data=validation, epochs=sizes.epochs, verbose=0, callbacks=callbacks,
            shuffle=False,  # the dataset shuffles
        )
        return model, history

    (model, history), peak = with_peak_memory(build_and_fit)
    return model, history, timer.step_s, peak


def evaluate(model, windows: lm_data.LMWindows, dynamic_lr: float | None, sizes,
             carry: float | None = None) -> tuple[np.ndarray, float, float | None]:
    """Per-token losses on ``windows``, tokens/s (timed after a warm-up on the first batch, which
    compiles) and the peak MiB added while evaluating (warm-up and compilation included),
    statically, with dynamic evaluation (``dynamic_lr``) or with the FWL's state carried through
    each document (``carry``, :mod:`fwcourse.fwl_carry`)."""
    def fn(w: lm_data.LMWindows):
        if carry is not None:
            return fwl_carry.carried_losses(model, w, carry, sizes.batch_size)
        if dynamic_lr is None:
            return transformer.token_losses(model, w.tokens, w.targets, sizes.batch_size)
        return dyn.dynamic_eval(model, w.tokens, w.targets, w.weights, doc=w.doc,
                                chunk_len=sizes.dynamic_chunk, learning_rate=dynamic_lr)

    def warm_then_timed():
        fn(windows.take(slice(0, sizes.batch_size)))  # tracing and compilation are not evaluation speed
        start = time.perf_counter()
        out = fn(windows)
        return out, time.perf_counter() - start

    (losses, seconds), peak = with_peak_memory(warm_then_timed)
    return losses * (windows.weights > 0), float(windows.weights.sum() / seconds), peak


def tune_dynamic_lr(model, windows: lm_data.LMWindows, sizes) -> float:
    """The step size of ``sizes.dynamic_lrs`` with the lowest validation perplexity."""
    if len(sizes.dynamic_lrs) == 1:
        return float(sizes.dynamic_lrs[0])
    best, best_ppl = None, np.inf
    for lr in sizes.dynamic_lrs:
        losses = dyn.dynamic_eval(model, windows.tokens, windows.targets, windows.weights,
                                  doc=windows.doc, chunk_len=sizes.dynamic_chunk, learning_rate=lr)
        ppl = transformer.perplexity(losses, windows.weights)
        if ppl < best_ppl:
            best, best_ppl = lr, ppl
    return float(best)


def load_corpus(corpus_name: str | os.PathLike, sizes, seed: int = 0) -> "lm_data.corpus.TokenCorpus":
    """The corpus :func:`compare` trains and tests on, at ``sizes`` (``config.sizes("06")``)."""
    corpus = lm_data.load_lm_corpus(corpus_name, max_tokens=sizes.max_tokens, n_docs=sizes.n_docs,
                                    words_per_doc=sizes.words_per_doc, seed=seed,
                                    max_train_tokens=sizes.max_train_tokens or None)
    lm_data.require_tokens(corpus, sizes.seq_len, corpus_name)
    return corpus


def compare(corpus_name: str | os.PathLike, sizes, seed: int = 0) -> Comparison:
    """Train base and FWL models on a corpus (a name of :data:`fwcourse.data.lm_data.CORPORA` or a
    ``.txt`` file or folder) and evaluate the five methods and the trigram on its test split."""
    corpus = load_corpus(corpus_name, sizes, seed)
    test = lm_data.lm_windows(corpus.test, sizes.seq_len)
    test = test.take(slice(0, sizes.eval_windows or len(test)))
    valid = lm_data.lm_windows(corpus.valid, sizes.seq_len)
    evaluations, lrs, models, epochs = {}, {}, {}, {}
    for fwl, name in ((False, "base"), (True, "FWL")):
        model, history, step_s, train_peak = train(corpus, fwl, sizes, seed)
        models[name] = model
        val = history.history.get("val_loss", [])
        epochs[name] = (int(np.argmin(val)) + 1 if val else sizes.epochs, sizes.epochs)
        lrs[name] = tune_dynamic_lr(model, valid.take(slice(0, sizes.tune_windows)), sizes)
        for label, lr in ((name, None), (f"{name} + dynamic eval", lrs[name])):
            losses, speed, eval_peak = evaluate(model, test, lr, sizes)
            evaluations[label] = Evaluation(label, losses, speed, step_s, train_peak, eval_peak)
    # as many validation windows as test windows: a carry matters only past a document's first window
    carry = fwl_carry.tune_carry(models["FWL"], valid.take(slice(0, sizes.eval_windows or len(valid))),
                                 sizes.carries, sizes.batch_size)
    losses, speed, eval_peak = evaluate(models["FWL"], test, None, sizes, carry=carry)
    evaluations[CARRIED] = Evaluation(CARRIED, losses, speed, evaluations["FWL"].train_step_s,
                                      evaluations["FWL"].train_peak_mib, eval_peak)
    start = time.perf_counter()
    losses = lm_data.trigram_losses(corpus, test)
    speed = float(test.weights.sum() / (time.perf_counter() - start))
    evaluations[TRIGRAM] = Evaluation(TRIGRAM, losses, speed, float("nan"), None, None)
    repeated = lm_data.repeat_mask(test.tokens, test.targets)
    return Comparison(str(corpus_name), test, {m: evaluations[m] for m in (TRIGRAM, *METHODS)},
                      repeated, lrs, carry, epochs, models, corpus.tokenizer)


def fwl_update_sources(model, tokens) -> np.ndarray:
    """For a trained FWL model and one window ``tokens`` [T]: [T, T] total size of the fast update
    each earlier token s contributed at position t (both dense layers, see
    :meth:`fwcourse.fwl.FWLBlock.update_contributions`)."""
    from fwcourse import fwl

    if getattr(model, "fwl_size", None) is None:
        raise ValueError("model must be a TransformerLM built with fwl_size (an FWL head).")
    tokens = validate.array(tokens, "tokens", ndim=1).astype("int32")[None]
    x = model.body(tokens)
    mask = None if model.pad_id is None else tokens != model.pad_id
    labels, weights = fwl.make_labels(keras.ops.convert_to_tensor(tokens), mask=mask)
    parts = model.head.update_contributions(x, labels, weights)
    return sum(parts.values())[0]


def by_position(comparison: Comparison, n_bins: int = 8) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Perplexity by position in the document: bin edges [n_bins + 1] and {method: [n_bins]}."""
    n_bins = validate.positive_int(n_bins, "n_bins")
    w, pos = comparison.windows.weights, comparison.windows.positions
    edges = np.unique(np.quantile(pos[w > 0], np.linspace(0, 1, n_bins + 1)).astype(int))
    which = np.clip(np.searchsorted(edges, pos, side="right") - 1, 0, len(edges) - 2)
    out = {}
    for method, e in comparison.evaluations.items():
        ppl = []
        for b in range(len(edges) - 1):
            wb = w * (which == b)
            ppl.append(transformer.perplexity(e.losses, wb) if wb.sum() > 0 else np.nan)
        out[method] = np.array(ppl)
    return edges, out


def by_repetition(comparison: Comparison) -> list[dict]:
    """Perplexity on targets already seen in the window (repeated) vs seen for the first time."""
    w = comparison.windows.weights
    rows = []
    for method, e in comparison.evaluations.items():
        row = {"corpus": comparison.corpus, "method": method}
        for label, mask in (("repeated", comparison.repeated), ("first occurrence", ~comparison.repeated)):
            wm = w * mask
            row[label] = transformer.perplexity(e.losses, wm) if wm.sum() > 0 else np.nan
        row["share repeated"] = float((w * comparison.repeated).sum() / w.sum())
        rows.append(row)
    return rows


# -- the command: python -m fwcourse compare-lm ---------------------------------------------------
RESULTS_NAME = "fwl_results"
COLUMNS = ("perplexity", "eval tokens/s", "train step (ms)", "train peak (MiB)", "eval peak (MiB)")


def _jsonable(value):
    """Tuples as lists and NaN (an empty bin) as None, so that the record is plain JSON."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def record(comparison: Comparison, seed: int, scale: str, sizes, seconds: float) -> dict:
    """What ``compare-lm`` keeps of one comparison: the table, both analyses, how it was made."""
    edges, ppl = by_position(comparison)
    return _jsonable({
        "corpus": comparison.corpus, "seed": seed, "scale": scale,
        "sizes": vars(sizes),
        "rows": comparison.table(),
        "by_position": {"edges": edges.tolist(), "perplexity": {m: v.tolist() for m, v in ppl.items()}},
        "by_repetition": by_repetition(comparison),
        "dynamic_lr": comparison.dynamic_lr,
        "carry": comparison.carry,
        "epochs": comparison.epochs,
        "eval_tokens": int((comparison.windows.weights > 0).sum()),
        "seconds": seconds, "machine": machine(), "date": datetime.date.today().isoformat(),
    })


def render_markdown(records: list[dict]) -> str:
    """The results page: per corpus and seed, the five-way table and the paper's two analyses."""
    lines = [
        "# Fast Weight Layers against dynamic evaluation (notebook 06's comparison)", "",
        "Generated by `python -m fwcourse compare-lm` (fwcourse/experiments/lm_compare.py); do not edit by hand.", "",
        "The same transformer LM (notebook 05) trained twice on the same data, with a plain "
        "unembedding (base) and with a Fast Weight Layer head (FWL); both scored on the held-out "
        "documents statically and with dynamic evaluation (an SGD step on every chunk of tokens "
        "already seen, its step size chosen on validation documents). FWL + carried state, beyond "
        "the paper, is the same FWL model reading each document's windows in order with its "
        "fast-weight state (the inner-loss gradients of the earlier windows, weighted by a carry λ "
        "chosen on validation documents) carried from window to window (fwcourse/fwl_carry.py). "
        "Perplexity is over the held-"
        "out targets; eval tokens/s and the peak memory of training and of evaluation (the most "
        "memory in use beyond what was in use when the phase began, building and compiling "
        "included: resident memory on a CPU, allocator memory on a GPU) are measured in the same "
        "run. Both models are trained in one process, base first, and the FWL's phase reuses "
        "memory the base's left allocated, so on a CPU its train peak is understated: compare "
        "peaks across runs of the same model, not base against FWL. A train step is the median "
        "wall time of a training batch. Times are "
        "wall-clock on a machine that may be running other jobs: compare them within a table. "
        "The Kneser-Ney trigram (notebook 04's baseline) is fitted on the same training "
        "documents and scored on the same targets.",
        "", "## Summary over seeds (mean; sd is the sample standard deviation; vs base is the mean "
        "of each seed's ratio to its own base model)",
    ]
    lines += render_summary(summary(records))
    lines += ["", "## Each run"]
    for r in records:
        sizes = r["sizes"]
        default_epochs = config.sizes("06", r["scale"]).epochs
        epochs_flag = "" if sizes["epochs"] == default_epochs else f" --epochs {sizes['epochs']}"
        lines += [
            "", f"### {r['corpus']} corpus, {r['scale']} scale, {sizes['epochs']} epochs, seed {r['seed']}", "",
            f"Made by `FWCOURSE_SCALE={r['scale']} python -m fwcourse compare-lm --corpus {r['corpus']} "
            f"--first-seed {r['seed']}{epochs_flag} --out data` in {r['seconds'] / 60:.1f} min on {r['machine']}, {r['date']}. "
            f"Model: d_model {sizes['d_model']}, {sizes['n_layers']} layers, {sizes['n_heads']} heads, T = {sizes['seq_len']}, "
            f"FWL size {sizes['fwl_size']} with {sizes['attn_chunks']} chunks; {sizes['epochs']} epochs (weights of the "
            f"best validation epoch), batch "
            f"{sizes['batch_size']}; {r['eval_tokens']:,} held-out targets.", "",
        ]
        lines += markdown_table(["method", *COLUMNS], ([row["method"]] + [row[c] for c in COLUMNS]
                                                       for row in r["rows"]))
        edges = r["by_position"]["edges"]
        bins = [f"{a}-{b - 1}" for a, b in zip(edges[:-1], edges[1:])]
        if bins:
            bins[-1] = f"{edges[-2]}-{edges[-1]}"  # the last bin includes its upper edge
        lines += ["", "Perplexity by position of the target in its document:", ""]
        lines += markdown_table(["method", *bins], ([m, *vals] for m, vals in r["by_position"]["perplexity"].items()))
        share = r["by_repetition"][0]["share repeated"]
        lines += ["", f"Perplexity on targets already seen earlier in the window ({100 * share:.0f}% of "
                  "targets) and on first occurrences:", ""]
        lines += markdown_table(["method", "repeated", "first occurrence"],
                                ([row["method"], row["repeated"], row["first occurrence"]]
                                 for row in r["by_repetition"]))
        lrs = ", ".join(f"{m} {lr:g}" for m, lr in r["dynamic_lr"].items())
        lines += ["", f"Dynamic-evaluation step sizes chosen on validation: {lrs}."]
        if r.get("carry") is not None:
            lines[-1] += f" FWL carry λ chosen on validation: {r['carry']:g}."
        lines[-1] += " Best validation epoch: " + ", ".join(
            f"{m} {best} of {ran}" for m, (best, ran) in r["epochs"].items()) + "."
    return "\n".join(lines) + "\n"


def run_sizes(sizes) -> str:
    """The sizes that make a run what it is, as a key: all but ``corpora`` (which corpora a
    command runs by default is not a size of any one run) and ``scale``."""
    sizes = _jsonable(dict(vars(sizes) if not isinstance(sizes, dict) else sizes))
    return json.dumps({k: v for k, v in sizes.items() if k not in ("corpora", "scale")}, sort_keys=True)


def summary(records: list[dict]) -> list[dict]:
    """Per corpus, scale and sizes: each method's perplexity and eval tokens/s over the seeds, as
    mean, sample standard deviation, min and max, and the perplexity relative to the base model's
    (mean over seeds of each seed's ratio)."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["corpus"], r["scale"], run_sizes(r["sizes"])), []).append(r)
    out = []
    for (corpus_name, scale, sizes), runs in groups.items():
        for method in [row["method"] for row in runs[0]["rows"]]:
            ppl = np.array([_row(r, method)["perplexity"] for r in runs])
            base = np.array([_row(r, "base")["perplexity"] for r in runs])
            speed = np.array([_row(r, method)["eval tokens/s"] for r in runs])
            out.append({"corpus": corpus_name, "scale": scale, "sizes": sizes, "method": method,
                        "seeds": sorted(r["seed"] for r in runs), "perplexity": float(ppl.mean()),
                        "perplexity sd": float(ppl.std(ddof=1)) if len(ppl) > 1 else None,
                        "perplexity min": float(ppl.min()), "perplexity max": float(ppl.max()),
                        "vs base": float(np.mean(ppl / base)),
                        "eval tokens/s": float(speed.mean())})
    return out


def _row(record: dict, method: str) -> dict:
    return next(row for row in record["rows"] if row["method"] == method)


def render_summary(rows: list[dict]) -> list[str]:
    """Markdown lines of :func:`summary`: one table per corpus, scale and sizes."""
    lines = []
    for key in dict.fromkeys((r["corpus"], r["scale"], r["sizes"]) for r in rows):
        group = [r for r in rows if (r["corpus"], r["scale"], r["sizes"]) == key]
        epochs = json.loads(key[2])["epochs"]
        lines += ["", f"### {key[0]} corpus, {key[1]} scale, {epochs} epochs: {len(group[0]['seeds'])} "
                      f"seed(s) ({', '.join(map(str, group[0]['seeds']))})", ""]
        lines += markdown_table(
            ["method", "test perplexity, mean", "sd", "min-max", "vs base", "eval tokens/s"],
            ([r["method"], r["perplexity"], r["perplexity sd"],
              f"{cell(r['perplexity min'])}-{cell(r['perplexity max'])}", f"{100 * (r['vs base'] - 1):+.1f}%",
              r["eval tokens/s"]] for r in group))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m fwcourse compare-lm``."""
    parser = ArgumentParser(
        prog="python -m fwcourse compare-lm",
        description="Notebook 06's comparison (base, + dynamic evaluation, FWL, FWL + dynamic "
                    "evaluation) at the scale FWCOURSE_SCALE chooses, written to --out.",
    )
    parser.add_argument("--corpus", nargs="+", default=None, metavar="NAME_OR_PATH",
                        help=f"built-in corpora ({', '.join(lm_data.CORPORA)}) or your own .txt "
                             "file or folder of .txt files; default: the scale's corpora")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per corpus")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the scale's training epochs")
    add_results_out(parser, "compare-lm")
    args = parser.parse_args([] if argv is None else list(argv))
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1; got {args.seeds}.")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be >= 0; got {args.first_seed}.")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1; got {args.epochs}.")
    missing = [c for c in args.corpus or [] if c not in lm_data.CORPORA and not os.path.exists(c)]
    if missing:
        parser.error(f"--corpus must name built-in corpora ({', '.join(lm_data.CORPORA)}) or existing .txt "
                     f"files or folders; got {', '.join(map(repr, missing))}.")
    scale = config.scale()
    sizes = config.sizes("06")
    if args.epochs is not None:
        sizes.epochs = args.epochs
    def key(corpus, seed, sizes):  # a change to any size is a new run
        return corpus, seed, run_sizes(sizes)

    try:
        results = ResumableResults(args.out, RESULTS_NAME, lambda r: key(r["corpus"], r["seed"], r["sizes"]),
                                   render_markdown, overwrite=args.overwrite)
    except OutputError as err:  # before any training: one line
        print(f"compare-lm: {err}", file=sys.stderr)
        return 2
    transformer.use_accelerator()

    def run(corpus, seed) -> dict:
        start = time.perf_counter()
        keras.utils.set_random_seed(seed)  # the entry point seeds dropout and shuffling globally
        comparison = compare(corpus, sizes, seed)
        return record(comparison, seed, scale, sizes, time.perf_counter() - start)

    def report(r: dict) -> None:
        ppl = {row["method"]: row["perplexity"] for row in r["rows"]}
        print(f"{r['corpus']} seed {r['seed']}: " + ", ".join(f"{m} {p:.4g}" for m, p in ppl.items()), flush=True)

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = ((key(corpus, seed, vars(sizes)), functools.partial(run, corpus, seed))
            for seed in seeds for corpus in args.corpus or sizes.corpora)
    try:
        with stop_hint(f"the finished runs are in {results.json_path}; run the same command again to continue"):
            results.run(jobs, report=report)
    except corpus_lib.CorpusError as err:  # a learner's file: one line, no traceback
        print(f"compare-lm: {err}", file=sys.stderr)
        return 2
    print(f"results: {results.md_path}")
    return 0
