"""Sequential vs parallel vs chunked causal linear attention (NumPy), as ratios measured in one run.

For T from 64 to 4096 at fixed d, times the three exact forms of ``fwcourse.linear_attention``
(the fast-weight programmer step by step, the masked T x T matrix form, and chunks of C steps) on
the same inputs, checks they agree, and reports each time relative to the sequential form.
Prints a Markdown table and writes it to ``benchmarks/results/linear_attention.md``.

BLAS runs single-threaded unless ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` say otherwise, so
that the ratios compare the algorithms rather than thread scheduling on a busy machine.

Usage: ``python benchmarks/bench_linear_attention.py [--d 64] [--chunk 64] [--repeats 3] [--max-t 4096]``
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # before NumPy loads its BLAS

import numpy as np  # noqa: E402

from fwcourse import linear_attention as la  # noqa: E402
from fwcourse.util.envinfo import machine  # noqa: E402
from fwcourse.util.timing import best_time  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "linear_attention.md"


def run(d: int, chunk: int, repeats: int, max_t: int) -> str:
    rng = np.random.default_rng(0)
    lengths = [t for t in (64, 128, 256, 512, 1024, 2048, 4096, 8192) if t <= max_t]
    rows = [
        f"Causal linear attention, d_k = d_v = {d}, chunk = {chunk}, float64, best of {repeats}; "
        f"{machine(with_keras=False)}, NumPy {np.__version__}, "
        f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}.",
        "",
        "| T | sequential (ms) | parallel (ms) | chunked (ms) | parallel / sequential | chunked / sequential "
        "| max abs diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for T in lengths:
        q, k, v = (rng.standard_normal((T, d)) for _ in range(3))
        forms = {
            "sequential": lambda: la.fast_weight_sequential(q, k, v),
            "parallel": lambda: la.linear_attention_parallel(q, k, v),
            "chunked": lambda: la.linear_attention_chunked(q, k, v, chunk),
        }
        outs = {name: fn() for name, fn in forms.items()}
        diff = max(np.abs(outs["sequential"] - outs[name]).max() for name in ("parallel", "chunked"))
        times = {name: best_time(fn, repeats) for name, fn in forms.items()}
        seq = times["sequential"]
        rows.append(
            f"| {T} | {1e3 * seq:.2f} | {1e3 * times['parallel']:.2f} | {1e3 * times['chunked']:.2f} "
            f"| {times['parallel'] / seq:.3f} | {times['chunked'] / seq:.3f} | {diff:.1e} |"
        )
        print(rows[-1], flush=True)
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--d", type=int, default=64, help="key and value size (default 64)")
    parser.add_argument("--chunk", type=int, default=64, help="chunk size of the chunked form (default 64)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per form, best kept (default 3)")
    parser.add_argument("--max-t", type=int, default=4096, help="longest sequence (default 4096)")
    args = parser.parse_args(argv)
    for name in ("d", "chunk", "repeats", "max_t"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    table = run(args.d, args.chunk, args.repeats, args.max_t)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("# Linear attention: sequential vs parallel vs chunked\n\n" + table, encoding="utf-8")
    print("\n" + table + f"\nWritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
