"""Milliseconds per training step of each next-word model at the student project's sizes, here.

Beside the figures of the student project's report (quoted: 13 ms/step fast LSTM, 392 ms/step
"accurate" LSTM, 26 ms/step Conv1D "transformer"; their hardware, their sizes, which the report
does not state). Our project-sized models are an assumption (``nextword.PROJECT_SIZES``:
2 x LSTM(1000), Dense(1000)), so compare orders of magnitude and the ratios between our models,
measured in one run.

    python benchmarks/bench_nextword.py [--vocab 8000] [--batch 32] [--steps 20] [--small]

``--small`` uses the default-scale sizes of notebook 04 instead. Writes
``benchmarks/results/nextword.md``.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from fwcourse.course import config  # noqa: E402
from fwcourse.experiments import nextword  # noqa: E402
from fwcourse.util.envinfo import machine  # noqa: E402

PROJECT_MS = {"lstm": "13 (fast) / 392 (accurate)", "conv1d": "26", "fastweights": "-", "attention": "-"}


def ms_per_step(kind: str, vocab: int, batch: int, steps: int, sizes: dict) -> tuple[float, int]:
    """Median wall-clock ms of one training step (after warm-up), and the parameter count."""
    model = nextword.build_model(kind, vocab, 3, **sizes)
    rng = np.random.default_rng(0)
    X = rng.integers(0, vocab, (batch * steps, 3)).astype(np.int32)
    y = rng.integers(0, vocab, batch * steps).astype(np.int32)
    model.fit(X[: 2 * batch], y[: 2 * batch], batch_size=batch, epochs=1, verbose=0)  # compile
    times = []
    for i in range(steps):
        xb, yb = X[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
        t = time.perf_counter()
        model.train_on_batch(xb, yb)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times)), model.count_params()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--small", action="store_true", help="notebook 04's default-scale sizes")
    args = p.parse_args()
    if args.small:
        sizes = nextword.model_sizes(config.sizes("04", "default"))
    else:
        sizes = {**nextword.PROJECT_SIZES, "learning_rate": 1e-3, "jit_compile": "auto"}
    rows = []
    for kind in nextword.MODELS:
        ms, params = ms_per_step(kind, args.vocab, args.batch, args.steps, sizes)
        rows.append((kind, params, ms))
        print(f"{kind:12s} {params:>12,d} params  {ms:8.1f} ms/step", flush=True)
    base = rows[0][2]
    lines = [
        f"# Next-word models: ms per training step ({'notebook default' if args.small else 'project-sized'} sizes)",
        "",
        f"Machine: {machine()}; "
        f"vocabulary {args.vocab}, batch {args.batch}, context 3, median of {args.steps} steps after warm-up. "
        f"Sizes: {sizes}.",
        "",
        "| model | params | ms/step (here) | ratio to lstm | project's ms/step (quoted, their GPU/sizes) |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| {k} | {p:,d} | {ms:.1f} | {ms / base:.2f} | {PROJECT_MS[k]} |" for k, p, ms in rows]
    lines += ["", "Command: `python benchmarks/bench_nextword.py" + (" --small" if args.small else "")
              + f" --vocab {args.vocab} --batch {args.batch} --steps {args.steps}`"]
    out = Path(__file__).parent / "results" / "nextword.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
