"""Fast Weight Layer costs, as ratios measured in one run (notebook 06, issue 6).

1. Training step time of the transformer LM with an FWL head over the same LM with a plain
   unembedding, at several T, for a small course-sized model and for one whose body dominates
   the output head. Written-down prediction: the ratio of forward FLOPs (matmuls and attention;
   a training step is about 3 forward passes for both models, the FWL's second-order backward
   included). The FWL head does three unembedding passes (slow forward, the inner backward
   p·Uᵀ, fast forward) where the base does one, the block twice plus part of its backward, and
   the chunked attention. Reported: measured ratio / predicted ratio (goal <= 1.2) and, for the
   body-dominated model at T = 1024, the measured ratio (goal <= 1.3).
2. Mixed-chunk vs quadratic causal linear attention as T grows (goal: T = 4096 costs <= 5x
   T = 1024 with chunks, where quadratic costs ~16x), for a fixed chunk length (64) and for the
   paper's fixed chunk count (16).

3. Dynamic evaluation's cost over static inference, on the same windows (TensorFlow backend).

    python benchmarks/bench_fwl.py                 # the issue's sizes (use a GPU)
    python benchmarks/bench_fwl.py --cpu-small     # model step times at T <= 1024: fits a laptop CPU

Writes the tables to benchmarks/results/fwl.md (``--out`` for another file), row by row.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from fwcourse.util.timing import median_time

RESULTS = Path(__file__).resolve().parent / "results" / "fwl.md"

# name -> (vocab, d_model, n_layers, n_heads, fwl_size)
MODELS = {
    "course (d=64, 2 layers, V=5k)": (5000, 64, 2, 4, 64),
    "body-dominated (d=512, 8 layers, V=8k)": (8192, 512, 8, 8, 256),
}
# Chunk length of the FWL's mixed-chunk attention: the paper's 16 chunks at T = 4096. A fixed
# length (attn_chunks = T / 256) keeps the cost linear in T; far shorter chunks are slower, as
# the per-chunk [d_k, d_v] memories then dominate (see the G = 16 row of the attention table).
CHUNK_LEN = 256
PARTS = ("models", "attention", "dynamic")


def chunks_for(T: int) -> int:
    return max(T // CHUNK_LEN, 1)


def forward_flops(T: int, vocab: int, d: int, layers: int, fwl_size: int | None, chunks: int) -> float:
    """Forward FLOPs (2 per multiply-add) of one sequence of T tokens; FWL head when fwl_size."""
    body = layers * (24 * T * d * d + 4 * T * T * d)  # qkv + out + MLP(4d); causal scores and AV
    if fwl_size is None:
        return body + 2 * T * d * vocab
    s, h = fwl_size, 4 * fwl_size
    C = -(-T // chunks)  # chunk length
    block = 2 * T * (d * h + h * s)  # slow pass (its z1 is reused by the fast pass)
    block += 2 * T * h * s  # fast pass, second dense layer
    block += 2 * T * s * h  # inner backward through the second dense layer
    unembed = 3 * 2 * T * s * vocab  # slow forward, inner backward, fast forward
    inter = 4 if chunks > 1 else 0  # write and read the per-chunk memories (none for one chunk)
    # layer 1: q = k = x [d], v = δ1 [h]; layer 2: q, k [h], v = δ2 [s]; then the four running
    # sums (bias 1, bias 2, LayerNorm scale and offset), computed as attention with d_k = 1
    pairs = ((d, h), (h, s), (1, h), (1, s), (1, s), (1, s))
    attention = sum(2 * T * C * (dk + dv) + inter * T * dk * dv for dk, dv in pairs)
    return body + block + unembed + attention


def fresh_session() -> None:
    """A clean Keras session with the course's precision policy (clear_session resets the policy:
    without setting it again a GPU run would silently measure float32)."""
    import keras

    from fwcourse import transformer

    keras.backend.clear_session()
    transformer.use_accelerator()


def step_time(spec, T: int, batch: int, fwl: bool, repeats: int) -> float:
    """Seconds per training step in ``model.fit``: (time of a fit over 1 + ``repeats`` batches -
    time of a fit over 1 batch) / ``repeats``, each the median of 3 fits after one that compiles.
    The difference cancels what every fit call costs once (building its data iterator, copying
    the variables back to the model at the end), so only the steps remain; timing
    ``train_on_batch`` calls would count that copy at every step."""
    from fwcourse import transformer

    vocab, d, layers, heads, fwl_size = spec
    fresh_session()
    model = transformer.build_lm(vocab, d, layers, heads, T, fwl_size=fwl_size if fwl else None,
                                 attn_chunks=chunks_for(T), seed=0)
    rng = np.random.default_rng(0)
    n = batch * (1 + repeats)
    tokens, targets = (rng.integers(1, vocab, (n, T)).astype("int32") for _ in range(2))
    weights = np.ones((n, T), "float32")

    def fit(batches: int):
        rows = slice(0, batch * batches)
        return lambda: model.fit(tokens[rows], targets[rows], sample_weight=weights[rows],
                                 batch_size=batch, epochs=1, shuffle=False, verbose=0)

    one = median_time(fit(1), 3, warmup=1)
    return (median_time(fit(1 + repeats), 3, warmup=0) - one) / repeats


def _compiled(fn, *args):
    """``fn(*args)`` compiled by the Keras backend in use (tf.function or jax.jit), blocking until
    done. The arrays are passed as arguments, not captured: jax.jit would fold captured arrays
    into constants and XLA would then compute the result at compile time."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        jitted = jax.jit(fn)
        return lambda: jax.block_until_ready(jitted(*args))
    import tensorflow as tf

    jitted = tf.function(fn)
    return lambda: jitted(*args).numpy()


def attention_time(T: int, chunks: int | None, repeats: int, batch: int = 2) -> float:
    from keras import ops

    from fwcourse.chunked_attention import mixed_chunk_attention, quadratic_attention

    rng = np.random.default_rng(0)
    q, k = (ops.convert_to_tensor(rng.standard_normal((batch, T, 64)), "float32") for _ in range(2))
    v = ops.convert_to_tensor(rng.standard_normal((batch, T, 256)), "float32")
    if chunks is None:
        fn = _compiled(lambda q, k, v: quadratic_attention(q, k, v, exclusive=True), q, k, v)
    else:
        fn = _compiled(lambda q, k, v: mixed_chunk_attention(q, k, v, chunks, exclusive=True), q, k, v)
    return median_time(fn, repeats)


def dynamic_eval_times(T: int, n_windows: int, chunk_len: int) -> tuple[float, float, float]:
    """Seconds to score ``n_windows`` windows of the course model: static inference batched (16),
    static inference one window at a time, and dynamic evaluation (one window at a time, by nature)."""
    from fwcourse import transformer
    from fwcourse.dynamic_eval import dynamic_eval

    vocab, d, layers, heads, _ = MODELS["course (d=64, 2 layers, V=5k)"]
    fresh_session()
    model = transformer.build_lm(vocab, d, layers, heads, T, seed=0)
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, vocab, (n_windows, T)).astype("int32")
    targets = rng.integers(1, vocab, (n_windows, T)).astype("int32")
    batched = median_time(lambda: transformer.token_losses(model, tokens, targets, batch_size=16), 3)
    single = median_time(lambda: transformer.token_losses(model, tokens, targets, batch_size=1), 3)
    dynamic = median_time(lambda: dynamic_eval(model, tokens, targets, chunk_len=chunk_len,
                                                   learning_rate=1e-3), 3)
    return batched, single, dynamic


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-small", action="store_true",
                        help="model step times at T in {256, 1024}, batch 1, 10 repeats (fits a laptop CPU)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=3,
                        help="interleaved base/FWL measurements per model and length (median ratio)")
    parser.add_argument("--models", nargs="+", default=None, metavar="NAME_PREFIX",
                        help="only the models whose name starts with one of these (e.g. body)")
    parser.add_argument("--attention-batch", type=int, default=2,
                        help="batch of the attention table (larger on a GPU, where 2 is launch-bound)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to measure")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"where the tables go (default {RESULTS.name})")
    args = parser.parse_args(argv)
    model_lengths = args.lengths
    if args.cpu_small:
        model_lengths, args.batch, args.repeats = [256, 1024], 1, 10

    import keras  # after argparse, so that --help is instant

    from fwcourse.util.envinfo import machine

    lines = ["# Fast Weight Layer benchmark\n", f"Machine: {machine()}; `python benchmarks/bench_fwl.py "
             f"{' '.join(argv if argv is not None else sys.argv[1:])}`.\n"]
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def emit(line: str) -> None:  # written as it comes, so a run cut short keeps its rows
        lines.append(line)
        print(line, flush=True)
        args.out.write_text("\n".join(lines) + "\n")

    if "models" in args.parts:
        emit(f"## FWL model step time over base\n\nBatch {args.batch}; per step of `model.fit`: (fit over "
             f"{1 + args.repeats} batches - fit over 1 batch) / {args.repeats}, medians of 3 fits after one "
             f"that compiles; float32 on CPU, the course's mixed-precision "
             f"policy on a GPU; FWL attn_chunks = T / {CHUNK_LEN}. Base and FWL are measured in "
             f"{args.pairs} interleaved pairs (base, FWL, base, FWL, ...) in one process, so that a change "
             f"of load on a shared machine falls on both; the ratio is the median of the pairs' "
             f"ratios, with their range.\n")
        emit("| model | T | base step (ms) | FWL step (ms) | measured ratio (range) | predicted (FLOPs) | measured / predicted |")
        emit("|---|---|---|---|---|---|---|")
        chosen = {n: s for n, s in MODELS.items()
                  if args.models is None or any(n.startswith(m) for m in args.models)}
        for name, spec in chosen.items():
            vocab, d, layers, heads, fwl_size = spec
            for T in model_lengths:
                chunks = chunks_for(T)
                pairs = [(step_time(spec, T, args.batch, False, args.repeats),
                          step_time(spec, T, args.batch, True, args.repeats)) for _ in range(args.pairs)]
                base, fast = (float(np.median([p[i] for p in pairs])) for i in (0, 1))
                ratios = [f / b for b, f in pairs]
                predicted = (forward_flops(T, vocab, d, layers, fwl_size, chunks)
                             / forward_flops(T, vocab, d, layers, None, chunks))
                ratio = float(np.median(ratios))
                emit(f"| {name} | {T} | {1e3 * base:.1f} | {1e3 * fast:.1f} | {ratio:.2f} "
                     f"({min(ratios):.2f}-{max(ratios):.2f}) | {predicted:.2f} | {ratio / predicted:.2f} |")

    if "attention" in args.parts:
        emit("\n## Causal linear attention: time(T) / time(first T)\n\n"
             f"q, k [{args.attention_batch}, T, 64], v [{args.attention_batch}, T, 256] (the shapes of the FWL's first layer at d = 64, size = 64); "
             f"median of {args.repeats} compiled calls.\n")
        emit("| method | " + " | ".join(f"T={T}" for T in args.lengths) + " |")
        emit("|---|" + "---|" * len(args.lengths))
        for label, chunks_of in (("quadratic", lambda T: None), ("mixed chunk, C = 64", lambda T: max(T // 64, 1)),
                                 ("mixed chunk, G = 16", lambda T: 16)):
            times = [attention_time(T, chunks_of(T), args.repeats, args.attention_batch) for T in args.lengths]
            emit(f"| {label} | " + " | ".join(f"{1e3 * t:.2f} ms ({t / times[0]:.1f}x)" for t in times) + " |")

    if "dynamic" in args.parts and keras.backend.backend() == "tensorflow":
        T, n, chunk = 256, 16, 32
        batched, single, dynamic = dynamic_eval_times(T, n, chunk)
        emit(f"\n## Dynamic evaluation over static inference\n\nThe course model, {n} windows of "
             f"T = {T}, SGD step every {chunk} tokens; median of 3 runs.\n")
        emit("| static, batch 16 (s) | static, one window at a time (s) | dynamic evaluation (s) | "
             "dynamic / static batched | dynamic / static one at a time |")
        emit("|---|---|---|---|---|")
        emit(f"| {batched:.3f} | {single:.3f} | {dynamic:.3f} | {dynamic / batched:.1f} | {dynamic / single:.1f} |")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
