"""Benchmark of the fast-weight RNN (Ba et al. 2016).

1. Training step time of a model with ``FastWeightRNN`` against the same model with ``LSTM`` at equal
   R (the associative-retrieval model: embedding 100, R units, dense 100, 10 digits; batch 128),
   measured and as the FLOP counts predict (``fwcourse.fwrnn_layer.step_flops`` and
   ``lstm_step_flops``), on each Keras backend asked for (each in its own process, since Keras
   fixes its backend on import).
2. The NumPy reference's explicit-A form against its attention form as the sequence grows: time and
   peak memory of one forward pass (tracemalloc).

Ratios are measured in one run on the same machine. Usage::

    python benchmarks/bench_fwrnn.py [--quick] [--backends jax tensorflow tensorflow-xla]

``tensorflow-xla`` is the TensorFlow backend with both models compiled with ``jit_compile=True``
(Keras leaves XLA off for TensorFlow on a CPU). Prints the tables and writes them to
``benchmarks/results/fwrnn.md``, their numbers to ``fwrnn.json`` (which the README's line reads).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

from fwcourse.util.envinfo import machine
from fwcourse.util.timing import best_time

RESULTS = Path(__file__).resolve().parent / "results" / "fwrnn.md"
BACKENDS = ("jax", "tensorflow", "tensorflow-xla")
MODELS = ("lstm", "fastweights")


def predicted_ratio(units: int, steps: int, embed_dim: int, hidden: int, classes: int) -> tuple[float, str]:
    """Training FLOPs of the fast-weight model over the LSTM model, per example, and the memory form.

    Both recurrent layers run ``steps`` steps on ``embed_dim`` inputs, then the same head (dense
    ``hidden`` + ReLU, dense ``classes``) reads the last state. The backward pass costs about twice
    the forward for every part, so the training ratio is the forward ratio.
    """
    from fwcourse.fwrnn_layer import lstm_step_flops, memory_form, step_flops

    form = memory_form(units, embed_dim, steps)
    head = 2 * units * hidden + 2 * hidden + 2 * hidden * classes + classes
    fast = steps * step_flops(units, embed_dim, steps, 1, form) + head
    return fast / (steps * lstm_step_flops(units, embed_dim) + head), form


def step_ms(nets: dict, x, y, rounds: int) -> dict:
    """Milliseconds a training step of each compiled model, the best of ``rounds`` interleaved
    rounds of 10 steps: the models see the same load from the machine."""
    ms = {key: float("inf") for key in nets}
    for _ in range(rounds):
        for key, net in nets.items():
            ms[key] = min(ms[key], 100 * best_time(lambda: [net.train_on_batch(x, y) for _ in range(10)], 1))
    return ms


def training_steps(sizes: list[int], rounds: int, xla: bool) -> tuple[list[str], list[dict]]:
    """The training-step table on the backend this process runs, and its rows as records; ``xla``
    compiles both models with XLA."""
    import keras

    from fwcourse.experiments import ba2016
    from fwcourse.data import retrieval

    data = retrieval.sample(128, rng=0)
    steps = data.x.shape[1]
    rows = ["| R | memory form | LSTM ms/step | fast weights ms/step | measured ratio | FLOP ratio | "
            "measured / FLOP ratio |", "|---|---|---|---|---|---|---|"]
    records = []
    for units in sizes:
        nets = {model: ba2016.build_model(model, units) for model in MODELS}
        for net in nets.values():
            if keras.backend.backend() == "tensorflow":  # build_model compiles with XLA; measure both
                net.jit_compile = xla
            for _ in range(3):  # compile and warm up
                net.train_on_batch(data.x, data.y)
        ms = step_ms(nets, data.x, data.y, rounds)
        measured = ms["fastweights"] / ms["lstm"]
        predicted, form = predicted_ratio(units, steps, 100, 100, retrieval.NUM_CLASSES)
        rows.append(f"| {units} | {form} | {ms['lstm']:.2f} | {ms['fastweights']:.2f} | {measured:.2f} | "
                    f"{predicted:.2f} | {measured / predicted:.1f} |")
        records.append({"R": units, "memory_form": form, "lstm_ms": ms["lstm"], "fastweights_ms": ms["fastweights"],
                        "ratio": measured, "flop_ratio": predicted})
    backend = keras.backend.backend() + (
        ", XLA" if xla else ", model without XLA (Keras's own default on a CPU-only machine), the layer "
        "compiling its own loop" if keras.backend.backend() == "tensorflow" else "")
    rows.insert(0, f"Training step, batch 128, T = {steps}, Keras {keras.__version__} ({backend}):\n")
    return rows, records


def table_on(backend: str, table: str, sizes: list[int], rounds: int) -> tuple[list[str], list[dict]]:
    """A table (``training`` or ``loop``) and its records, made in a fresh process on ``backend``
    (one of :data:`BACKENDS`)."""
    env = {**os.environ, "KERAS_BACKEND": backend.removesuffix("-xla")}
    command = [sys.executable, __file__, "--table", table, backend, "--rounds", str(rounds),
               "--sizes", *map(str, sizes)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    lines, records = json.loads(out.strip().splitlines()[-1])
    return lines, [{"backend": backend, "table": table, **r} for r in records]


def loop_compile(lengths: list[int], units: int, rounds: int) -> tuple[list[str], list[dict]]:
    """TensorFlow, model without XLA: the layer's loop run op by op (``jit_compile=False``) against
    compiled by XLA (``True``) over sequence lengths, training step and first call (compile); the
    table and its rows as records."""
    import time

    import keras

    from fwcourse.fwrnn_layer import XLA_MAX_STEPS, FastWeightRNN

    rng = np.random.default_rng(0)
    rows = [f"TensorFlow, model without XLA, R = {units}, batch 128, 32 inputs: the layer's loop op by op "
            "(`jit_compile=False`) or compiled by XLA (`True`):\n",
            "| T | op by op ms/step | XLA ms/step | XLA / op by op | op by op first call s | XLA first call s |",
            "|---|---|---|---|---|---|"]
    records = []
    for steps in lengths:
        x, y = rng.standard_normal((128, steps, 32)), rng.integers(0, 10, 128)
        nets, first = {}, {}
        for jit in (False, True):
            net = keras.Sequential([keras.Input((steps, 32)), FastWeightRNN(units, jit_compile=jit),
                                    keras.layers.Dense(10)])
            net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
            start = time.perf_counter()
            net.train_on_batch(x, y)
            first[jit] = time.perf_counter() - start
            nets[jit] = net
        ms = step_ms(nets, x, y, rounds)
        rows.append(f"| {steps} | {ms[False]:.2f} | {ms[True]:.2f} | {ms[True] / ms[False]:.2f} | "
                    f"{first[False]:.1f} | {first[True]:.1f} |")
        records.append({"T": steps, "R": units, "op_by_op_ms": ms[False], "xla_ms": ms[True],
                        "op_by_op_first_s": first[False], "xla_first_s": first[True]})
    rows += ["", f"With `jit_compile=\"auto\"` (the default) the layer compiles for T up to {XLA_MAX_STEPS} "
             "(`fwcourse.fwrnn_layer.XLA_MAX_STEPS`): beyond, the unrolled loop's compile (the first call) grows long, "
             "and so may its step; for the shortest sequences the two ways are close."]
    return rows, records


def forms(lengths: list[int], units: int, batch: int, repeats: int) -> list[str]:
    from fwcourse import fwrnn

    rng = np.random.default_rng(0)
    W, C = rng.standard_normal((units, units)) / np.sqrt(units), rng.standard_normal((8, units))
    rows = [f"NumPy forward pass, H = {units}, batch {batch}, float64:\n",
            "| T | explicit-A ms | attention ms | time ratio (attention / A) | explicit-A peak MiB | attention peak MiB |",
            "|---|---|---|---|---|---|"]
    for steps in lengths:
        x = rng.standard_normal((batch, steps, 8))
        out = {}
        for form in fwrnn.FORMS:
            run = lambda: fwrnn.fast_weight_rnn(x, W, C, form=form)
            seconds = best_time(run, repeats)
            tracemalloc.start()
            run()
            peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
            tracemalloc.stop()
            out[form] = (1000 * seconds, peak)
        a, b = out["matrix"], out["attention"]
        rows.append(f"| {steps} | {a[0]:.1f} | {b[0]:.1f} | {b[0] / a[0]:.2f} | {a[1]:.2f} | {b[1]:.2f} |")
    rows += ["", "The attention form costs O(T²H) time and O(TH) memory per example, the explicit-A form "
             "O(TH²) time and O(H²) memory: the attention form wins while T is below about H, and loses "
             "beyond (both columns of memory include the (B, T, H) output)."]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS),
                        help="Keras backends of the training-step table")
    # internal: one table on one backend, printed, for table_on
    parser.add_argument("--table", nargs=2, metavar=("TABLE", "BACKEND"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", nargs="+", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.table:  # the last line printed is the table and its records, as JSON
        table, backend = args.table
        print(json.dumps(training_steps(args.sizes, args.rounds, backend.endswith("-xla")) if table == "training"
                         else loop_compile(args.sizes, 100, args.rounds)))
        return 0
    sizes, rounds = ([20], 2) if args.quick else ([20, 50, 100], 5)
    tables = [table_on(backend, "training", sizes, rounds) for backend in args.backends]
    if "tensorflow" in args.backends:
        tables.append(table_on("tensorflow", "loop", [3, 4, 11] if args.quick else [3, 4, 8, 11, 32, 64, 128],
                               2 if args.quick else 3))
    records = [r for _, table_records in tables for r in table_records]
    tables = [lines for lines, _ in tables]
    tables.append(forms([8, 32], 32, 4, 2) if args.quick else forms([16, 64, 256, 1024], 128, 8, 3))
    text = "\n".join(["# Fast-weight RNN benchmark", "",
                      f"Machine: {machine(with_backend=False)}, shared with other work (times are the best of several "
                      f"interleaved repeats). Generated by `python benchmarks/bench_fwrnn.py"
                      f"{' --quick' if args.quick else ''}"
                      f"{' --backends ' + ' '.join(args.backends) if args.backends != list(BACKENDS) else ''}`.", "",
                      *FLOPS_NOTE, ""]
                     + [line for table in tables for line in table + [""]])
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    RESULTS.with_suffix(".json").write_text(json.dumps(
        {"machine": machine(with_backend=False), "quick": args.quick, "records": records}, indent=1) + "\n")
    return 0


FLOPS_NOTE = [
    "FLOPs per time step and example (multiply-add = 2; R units, D inputs, S = 1 inner step, T steps; "
    "`fwcourse.fwrnn_layer.step_flops`, `lstm_step_flops`):",
    "",
    "* LSTM: 8DR + 8R² + 13R (four gates, input and recurrent products);",
    "* fast weights, matrix form: 2DR (x C) + 2R² (h W) + 2R² (A h_s) + 3R² (λA + η h hᵀ) + 13R, "
    "about 9R² at D = R: 0.56 of the LSTM;",
    "* fast weights, attention form: 2DR + 2R² + 4TR (read over the last T states) + T + 12R, "
    "about 4R² + 4TR at D = R: at most 0.5 of the LSTM while T ≤ R. The layer takes whichever "
    "form has fewer FLOPs (`memory_form`).",
    "",
    "The FLOP ratio below is for the whole model (T steps of the recurrent layer and the shared "
    "dense head, D = 100); the backward pass costs about twice the forward for both, so it is "
    "also the training-step ratio the arithmetic predicts. Measured, the fast-weight step costs more "
    "than its share of the FLOPs (the last column): at these sizes (batch 128, R ≤ 100, T = 11) a "
    "training step is many small operations, and the fast-weight step has more of them than the LSTM's "
    "two products and elementwise gates (LayerNorm's reductions, the attention read's two batched "
    "products, the shift of the state register), each costing time beyond its arithmetic. We did not "
    "profile it further: on every backend the step is within the goal of 1.5 times the LSTM's.",
    "",
    "The course's models (`fwcourse.experiments.ba2016.build_model`) compile with XLA on every backend, "
    "so the JAX and TensorFlow-with-XLA tables are what `reproduce ba2016` and notebook 03 run. The "
    "TensorFlow table without XLA is Keras's default on a CPU-only machine, for a model built by hand: "
    "there the layer compiles its loop over time with XLA itself (`FastWeightRNN(jit_compile=\"auto\")`, "
    "`fwcourse.fwrnn_layer.compiles_own_loop`); the last TensorFlow table shows what that saves, and "
    "where it does not pay.",
]


if __name__ == "__main__":
    raise SystemExit(main())
